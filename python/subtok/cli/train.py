"""``subtok train``: train a BPE or WordPiece tokenizer and write its ``tokenizer.json``."""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, List

_EPILOG = """examples:
  subtok train -o tok.json                                  # zero setup: Python's own docs as corpus
  subtok train --model wordpiece --vocab-size 30000 data/*.txt -o tokenizer.json
  subtok train --model bpe --vocab-size 50000 --special-tokens '<|endoftext|>' corpus.txt -o bpe.json

WordPiece's default --score count reproduces HF's WordPieceTrainer (best held-out compression);
--score gain / likelihood / topdown are the likelihood-based and tensorflow-text learners.
The same corpus and settings always give the same file, byte for byte."""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a BPE or WordPiece tokenizer from text files",
        description="Train a byte-level BPE or WordPiece tokenizer and save it as an HF tokenizer.json. "
        "Without FILES, trains on a built-in corpus (the topic texts of Python's pydoc_data).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("files", nargs="*", metavar="FILES", help="UTF-8 text files (default: built-in corpus)")
    p.add_argument("-i", "--input", action="append", default=[], metavar="FILE", help="an input file (repeatable; same as FILES)")
    p.add_argument("-o", "--output", default="tokenizer.json", help="where to write tokenizer.json (default: %(default)s)")
    p.add_argument("--model", choices=["bpe", "wordpiece"], default="bpe", help="model to train (default: %(default)s)")
    p.add_argument("--vocab-size", type=int, default=30000, metavar="N", help="vocabulary size (default: %(default)s)")
    p.add_argument("--min-frequency", type=int, default=2, metavar="N", help="never merge rarer pairs (default: %(default)s)")
    p.add_argument("--special-tokens", nargs="*", default=None, metavar="TOK",
                   help="special tokens, first in the vocab (default: none for bpe, [PAD] [UNK] [CLS] [SEP] [MASK] for wordpiece)")
    p.add_argument("--limit-alphabet", type=int, default=None, metavar="N", help="wordpiece: keep the N most frequent characters (default 1000)")
    p.add_argument("--pre-tokenizer", choices=["gpt2", "cl100k", "whitespace", "bert"], default=None,
                   help="how text is split into words (default: gpt2 for bpe, bert for wordpiece)")
    p.add_argument("--score", choices=["count", "gain", "likelihood", "topdown"], default=None,
                   help="pair score or learner (default: count; topdown is wordpiece only)")
    case = p.add_mutually_exclusive_group()
    case.add_argument("--lowercase", dest="lowercase", action="store_true", default=None, help="lowercase (wordpiece default)")
    case.add_argument("--cased", dest="lowercase", action="store_false", help="keep case (bpe default)")
    p.add_argument("--export-vocab", metavar="DIR", default=None,
                   help="also write vocab.txt (wordpiece) or vocab.json + merges.txt (bpe) into DIR")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from subtok.training import default_corpus, export_vocab_files, save_json, train_json

    inputs = list(args.files) + list(getattr(args, "input", None) or [])
    if inputs:
        corpus: Any = inputs
        files = True
        source = f"{len(corpus)} file(s)"
    else:
        corpus = default_corpus()
        files = False
        source = "built-in corpus (pydoc_data.topics)"
    out_dir = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(out_dir):
        raise FileNotFoundError(f"{args.output}: output directory {out_dir} does not exist")
    t0 = time.perf_counter()
    text = train_json(
        corpus,
        model=args.model,
        vocab_size=args.vocab_size,
        min_frequency=args.min_frequency,
        special_tokens=args.special_tokens,
        limit_alphabet=args.limit_alphabet,
        show_progress=not args.quiet,
        pre_tokenizer=args.pre_tokenizer,
        score=args.score,
        lowercase=args.lowercase,
        files=files,
    )
    save_json(text, args.output)
    written: List[str] = [args.output]
    if args.export_vocab:
        written += export_vocab_files(text, args.export_vocab)
    if not args.quiet:
        import json

        n = len(json.loads(text)["model"]["vocab"])
        print(
            f"trained {args.model} on {source}: vocab {n} in {time.perf_counter() - t0:.2f}s -> {', '.join(written)}",
            file=sys.stderr,
        )
    return 0
