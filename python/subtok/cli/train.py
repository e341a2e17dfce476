"""``subtok train``: train a BPE or WordPiece tokenizer and write its ``tokenizer.json``."""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from typing import Any, Iterator, List

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
    add_cluster_arguments(p, "count blocks of the files on")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    p.set_defaults(func=run)


def add_cluster_arguments(p: Any, what: str) -> None:
    """``--workers N | --scheduler ADDRESS`` (Dask; needs ``pip install 'subtok[dask]'``)."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--workers", type=int, default=None, metavar="N",
                   help=f"{what} a local Dask cluster of N worker processes")
    g.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help=f"{what} an existing Dask cluster, e.g. tcp://10.0.0.1:8786")
    p.add_argument("--blocksize", type=_size, default=None, metavar="BYTES",
                   help="bytes of input per task (e.g. 64M; default depends on the command)")


def _size(text: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    t = text.strip().lower().rstrip("ib").rstrip("b")
    mult = units.get(t[-1:], 1)
    try:
        n = int(float(t[:-1] if t[-1:] in units else t) * mult)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"size must be positive: {text!r}")
    return n


def cluster_client(args: argparse.Namespace) -> Any:
    """The Dask client ``--workers`` / ``--scheduler`` ask for, or None."""
    if args.workers is None and args.scheduler is None:
        return None
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    from subtok.dask import local_client

    return local_client(workers=args.workers, scheduler=args.scheduler)


@contextlib.contextmanager
def closing_client(client: Any) -> Iterator[Any]:
    """Close ``client`` afterwards, and its cluster when it is a local one this command made."""
    try:
        yield client
    finally:
        cluster = getattr(client, "cluster", None)
        client.close()
        if cluster is not None and type(cluster).__name__ == "LocalCluster":
            cluster.close()


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
    client = cluster_client(args)
    if client is not None:
        if not args.files:
            raise ValueError("--workers/--scheduler need input FILES")
        from subtok.dask import DEFAULT_TRAIN_BLOCKSIZE, count_words

        with closing_client(client):
            corpus = count_words(
                corpus, args.model, client=client, blocksize=args.blocksize or DEFAULT_TRAIN_BLOCKSIZE,
                show_progress=not args.quiet, lowercase=args.lowercase, pre_tokenizer=args.pre_tokenizer,
            )
        files = None
        source += f" on {'%d local workers' % args.workers if args.workers else args.scheduler}"
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
