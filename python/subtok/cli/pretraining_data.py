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
from subtok.cli.train import add_cluster_arguments


def _options(args: argparse.Namespace) -> Dict[str, Any]:
    return dict(
        max_seq_length=args.max_seq_length, short_seq_prob=args.short_seq_prob, masked_lm_prob=args.masked_lm_prob,
        max_predictions_per_seq=args.max_predictions_per_seq, dupe_factor=args.dupe_factor,
        whole_word_mask=args.whole_word_mask, seed=args.seed, num_threads=args.threads,
    )


def _run_shards(args: argparse.Namespace, files: List[str], tokenizer: Any, out: Path) -> int:
    from subtok.cli.train import closing_client, cluster_client
    from subtok.dask import pretraining_data

    t0 = time.perf_counter()
    kwargs = dict(_options(args), show_progress=True)
    if args.blocksize:
        kwargs["blocksize"] = args.blocksize
    client = cluster_client(args)
    if client is None:
        m = pretraining_data(files, tokenizer, out, client=None, **kwargs)
    else:
        with closing_client(client):
            m = pretraining_data(files, tokenizer, out, client=client, **kwargs)
    print(
        f"wrote {m['instances']} instances from {m['documents']} documents to {len(m['shards'])} shard(s) "
        f"in {out} in {time.perf_counter() - t0:.1f}s",
        file=sys.stderr,
    )
    return 0


def run(args: argparse.Namespace, *, load_tokenizer: Optional[Callable[[str], Any]] = None) -> int:
    from subtok.pretraining import compact_dtypes, create_pretraining_data, read_documents

    files = list(args.files) + list(getattr(args, "input", None) or [])
    if not files:
        raise ValueError("no input: give FILE arguments or -i FILE")
    out = Path(args.output)
    tokenizer = (load_tokenizer or _load_tokenizer)(args.tokenizer)
    if out.suffix != ".npz":
        return _run_shards(args, files, tokenizer, out)
    if args.workers is not None or args.scheduler is not None:
        raise ValueError("--workers/--scheduler write shards: give a directory as -o, not an .npz")
    if out.is_dir():
        raise IsADirectoryError(f"{out}: is a directory")
    if not out.parent.is_dir() and str(out.parent):
        raise FileNotFoundError(f"{out.parent}: no such directory")
    documents = read_documents(files)
    if not documents:
        raise ValueError("the input files contain no sentences")
    n_sentences = sum(len(d) for d in documents)
    bar = ProgressBar(0, "pretraining-data", sys.stderr)
    t0 = time.perf_counter()
    dtypes = compact_dtypes(int(tokenizer.vocab_size), args.max_seq_length)
    data = create_pretraining_data(
        documents, tokenizer, progress=bar if bar.enabled else None,
        convert=lambda k, a: a.astype(dtypes[k]), **_options(args),
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
            "Input: one sentence per line, a blank line between documents. Output: with -o DIR, "
            "shards pretrain-NNNNNN.npz (one per --blocksize bytes of input, streamed: memory does not "
            "grow with the corpus; shard k uses seed (SEED + k * 0x9E3779B97F4A7C15) mod 2**64) and a "
            "manifest.json; with -o OUT.npz, one file. Arrays: input_ids, token_type_ids, attention_mask, "
            "masked_lm_positions, masked_lm_ids (uint16 when the vocabulary fits, else int32), "
            "masked_lm_weights (float32), next_sentence_labels (uint8)."
        ),
    )
    p.add_argument("files", nargs="*", metavar="FILE", help="UTF-8 text files")
    p.add_argument("-i", "--input", action="append", default=[], metavar="FILE", help="an input file (repeatable; same as FILE)")
    p.add_argument("-t", "--tokenizer", required=True, metavar="FILE", help="tokenizer.json (or WordPiece vocab.txt)")
    p.add_argument("-o", "--output", required=True, metavar="DIR|OUT.npz",
                   help="output directory of shards (streamed), or one .npz file")
    p.add_argument("--max-seq-length", type=int, default=128)
    p.add_argument("--short-seq-prob", type=float, default=0.1)
    p.add_argument("--masked-lm-prob", type=float, default=0.15)
    p.add_argument("--max-predictions-per-seq", type=int, default=20)
    p.add_argument("--dupe-factor", type=int, default=10)
    p.add_argument("--whole-word-mask", action="store_true", help="mask whole words (## pieces together)")
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--threads", type=int, default=None, help="worker threads (default: all cores)")
    add_cluster_arguments(p, "make shards on")
    p.set_defaults(func=run)
