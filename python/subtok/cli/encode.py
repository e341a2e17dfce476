"""``subtok encode``: tokenize text with a saved ``tokenizer.json``."""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Iterable, List, TextIO

_EPILOG = """examples:
  subtok encode --tokenizer tokenizer.json "Hello world"
  subtok encode --tokenizer tokenizer.json --input corpus.txt --format jsonl -o out.jsonl
  subtok encode --tokenizer tokenizer.json --input corpus.txt --format npy -o ids.npy

formats: ids (space-separated ids, one line per input line), tokens (space-separated tokens),
jsonl ({"ids": [...], "tokens": [...]} per line), npy (needs -o: a 1-D uint32 array of all ids,
plus OUT with .lengths.npy holding the int64 number of ids of each line)."""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "encode",
        help="tokenize text with a tokenizer.json",
        description="Encode TEXT, or each line of --input FILE ('-' for stdin), with a tokenizer.json.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("text", nargs="?", default=None, metavar="TEXT", help="text to encode")
    p.add_argument("--tokenizer", "-t", required=True, help="path to an HF tokenizer.json")
    p.add_argument("--input", "-i", default=None, metavar="FILE", help="encode each line of FILE ('-' = stdin)")
    p.add_argument("--format", "-f", choices=["ids", "tokens", "jsonl", "npy"], default="ids", help="output format (default: %(default)s)")
    p.add_argument("-o", "--output", default=None, metavar="OUT", help="output file (default: stdout; required for npy)")
    p.add_argument("--no-special-tokens", dest="add_special_tokens", action="store_false",
                   help="do not add [CLS]/[SEP] or other post-processor tokens")
    p.set_defaults(func=run)


def _lines(args: argparse.Namespace) -> List[str]:
    if args.text is not None and args.input is not None:
        raise ValueError("give TEXT or --input FILE, not both")
    if args.text is not None:
        return [args.text]
    if args.input is None:
        raise ValueError("nothing to encode: give TEXT or --input FILE")
    if args.input == "-":
        return [line.rstrip("\r\n") for line in sys.stdin]
    with open(args.input, encoding="utf-8") as f:
        return [line.rstrip("\r\n") for line in f]


def _write_text(rows: Iterable[str], out: TextIO) -> None:
    for r in rows:
        out.write(r)
        out.write("\n")


def run(args: argparse.Namespace) -> int:
    if args.format == "npy" and not args.output:
        raise ValueError("--format npy needs -o OUT.npy")
    import numpy as np

    from subtok.tokenizer import Tokenizer

    tok = Tokenizer.from_file(args.tokenizer)
    lines = _lines(args)
    if args.format == "npy":
        encs = tok.encode_batch(lines, add_special_tokens=args.add_special_tokens)
        ids = np.fromiter((i for e in encs for i in e.ids), dtype=np.uint32)
        lengths = np.array([len(e.ids) for e in encs], dtype=np.int64)
        out = args.output
        base = out[:-4] if out.endswith(".npy") else out
        np.save(out if out.endswith(".npy") else out + ".npy", ids)
        np.save(base + ".lengths.npy", lengths)
        return 0
    encs = tok.encode_batch(lines, add_special_tokens=args.add_special_tokens)
    if args.format == "ids":
        rows = (" ".join(map(str, e.ids)) for e in encs)
    elif args.format == "tokens":
        rows = (" ".join(e.tokens) for e in encs)
    else:
        rows = (json.dumps({"ids": list(e.ids), "tokens": list(e.tokens)}, ensure_ascii=False) for e in encs)
    if args.output:
        tmp = f"{args.output}.tmp-{os.getpid()}"
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                _write_text(rows, f)
            os.replace(tmp, args.output)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    else:
        _write_text(rows, sys.stdout)
    return 0
