"""``subtok embed`` and ``subtok similarity``: sentence embeddings from the command line."""
from __future__ import annotations

import argparse
import sys
from typing import List

import numpy as np

from subtok.cli._io import AtomicOutput


def register(subparsers: "argparse._SubParsersAction") -> None:
    p = subparsers.add_parser(
        "embed",
        help="embed sentences with a BERT model (mean pooling) into a .npy file",
        description="Embed sentences (all-MiniLM-L6-v2 by default) and save a float32 (n, dim) array. "
        "Row i is TEXT i, or line i of --input.",
    )
    p.add_argument("texts", nargs="*", metavar="TEXT", help="sentences to embed")
    p.add_argument("-i", "--input", metavar="FILE", help="read one sentence per line ('-' = stdin)")
    p.add_argument("-m", "--model", metavar="PATH", help="HF BERT folder (default: all-MiniLM-L6-v2 if installed)")
    p.add_argument("-o", "--output", metavar="OUT.npy", required=True, help="where to write the embeddings")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--no-normalize", action="store_true", help="do not L2-normalize the embeddings")
    p.set_defaults(func=_embed)

    s = subparsers.add_parser(
        "similarity",
        help="cosine similarity of two sentences",
        description="Print the cosine similarity of the embeddings of two sentences.",
    )
    s.add_argument("a", metavar="A")
    s.add_argument("b", metavar="B")
    s.add_argument("-m", "--model", metavar="PATH", help="HF BERT folder (default: all-MiniLM-L6-v2 if installed)")
    s.set_defaults(func=_similarity)


def _read_lines(path: str) -> List[str]:
    if path == "-":
        data = sys.stdin.read()
    else:
        with open(path, encoding="utf-8") as f:
            data = f.read()
    lines = data.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def _embed(args: argparse.Namespace) -> int:
    from subtok.embeddings import SentenceEncoder

    if args.texts and args.input:
        raise ValueError("give sentences as arguments or with --input, not both")
    texts = _read_lines(args.input) if args.input else list(args.texts)
    if not texts:
        raise ValueError("nothing to embed: give sentences as arguments or with --input FILE")
    if args.batch_size < 1:
        raise ValueError("--batch-size must be >= 1")
    out = args.output
    if not out.endswith(".npy"):
        out += ".npy"  # np.save's convention, made explicit
    enc = SentenceEncoder.from_pretrained(args.model)
    emb = enc.encode(texts, batch_size=args.batch_size, normalize=not args.no_normalize)
    with AtomicOutput(out, "wb") as f:
        np.save(f, emb)
    print(f"wrote {emb.shape[0]} x {emb.shape[1]} embeddings to {out}", file=sys.stderr)
    return 0


def _similarity(args: argparse.Namespace) -> int:
    from subtok.embeddings import SentenceEncoder

    enc = SentenceEncoder.from_pretrained(args.model)
    print(f"{enc.similarity(args.a, args.b):.4f}")
    return 0
