"""The ``subtok`` command line. Each subcommand lives in its own module in this package
and exposes ``register(subparsers)``; errors become one line on stderr and exit code 2."""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Optional, Sequence

# Subcommand modules, in the order `subtok --help` lists them.
_COMMANDS: list[str] = ["train", "encode", "embed", "pretraining_data", "finetune"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="subtok",
        description="subtok: train and run exact, fast subword tokenizers; embed text with a NumPy BERT.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        importlib.import_module(f"subtok.cli.{name}").register(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("subtok: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError, TypeError, LookupError) as e:
        print(f"subtok {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
