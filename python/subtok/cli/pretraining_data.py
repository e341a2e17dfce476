"""``subtok pretraining-data``: BERT masked-LM + NSP instances from text files to a ``.npz``.

Input format (Google's ``create_pretraining_data.py``): one sentence per line, a blank line
between documents; each file also ends a document.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from subtok._progress import ProgressBar
from subtok.cli._io import AtomicOutput
from subtok.cli._io import load_tokenizer as _load_tokenizer


def run(args: argparse.Namespace, *, load_tokenizer: Optional[Callable[[str], Any]] = None) -> int:
    from subtok.pretraining import create_pretraining_data, read_documents

    files = list(args.files) + list(getattr(args, "input", None) or [])
    if not files:
        raise ValueError("no input: give FILE arguments or -i FILE")
    out = Path(args.output)
    if out.is_dir():
        raise IsADirectoryError(f"{out}: is a directory")
    if not out.parent.is_dir() and str(out.parent):
        raise FileNotFoundError(f"{out.parent}: no such directory")
    tokenizer = (load_tokenizer or _load_tokenizer)(args.tokenizer)
    documents = read_documents(files)
    if not documents:
        raise ValueError("the input files contain no sentences")
    n_sentences = sum(len(d) for d in documents)
    bar = ProgressBar(0, "pretraining-data", sys.stderr)
    t0 = time.perf_counter()
    data = create_pretraining_data(
        documents,
        tokenizer,
        max_seq_length=args.max_seq_length,
        short_seq_prob=args.short_seq_prob,
        masked_lm_prob=args.masked_lm_prob,
        max_predictions_per_seq=args.max_predictions_per_seq,
        dupe_factor=args.dupe_factor,
        whole_word_mask=args.whole_word_mask,
        seed=args.seed,
        num_threads=args.threads,
        progress=bar if bar.enabled else None,
    )
    with AtomicOutput(str(out), "wb") as f:
        np.savez(f, **data)
    n = len(data["input_ids"])
    print(
        f"wrote {n} instances from {len(documents)} documents ({n_sentences} sentences) "
        f"to {out} in {time.perf_counter() - t0:.1f}s",
        file=sys.stderr,
    )
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "pretraining-data",
        help="BERT masked-LM + next-sentence pretraining instances (.npz) from text files",
        description=(
            "Generate BERT pretraining instances as in Google's create_pretraining_data.py. "
            "Input: one sentence per line, a blank line between documents. Output: an .npz with "
            "input_ids, token_type_ids, attention_mask, masked_lm_positions, masked_lm_ids, "
            "masked_lm_weights, next_sentence_labels."
        ),
    )
    p.add_argument("files", nargs="*", metavar="FILE", help="UTF-8 text files")
    p.add_argument("-i", "--input", action="append", default=[], metavar="FILE", help="an input file (repeatable; same as FILE)")
    p.add_argument("-t", "--tokenizer", required=True, metavar="FILE", help="tokenizer.json (or WordPiece vocab.txt)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.npz", help="output .npz file")
    p.add_argument("--max-seq-length", type=int, default=128)
    p.add_argument("--short-seq-prob", type=float, default=0.1)
    p.add_argument("--masked-lm-prob", type=float, default=0.15)
    p.add_argument("--max-predictions-per-seq", type=int, default=20)
    p.add_argument("--dupe-factor", type=int, default=10)
    p.add_argument("--whole-word-mask", action="store_true", help="mask whole words (## pieces together)")
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--threads", type=int, default=None, help="worker threads (default: all cores)")
    p.set_defaults(func=run)
