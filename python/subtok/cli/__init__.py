"""The ``subtok`` command line. Each subcommand lives in its own module in this package
and exposes ``register(subparsers)``; errors become one line on stderr and exit code 2.

Conventions shared by every subcommand: ``-t/--tokenizer`` is a tokenizer file, ``-i/--input``
an input file ('-' = stdin), ``-o/--output`` the output file, ``-q/--quiet`` turns off progress
bars and summaries. Output goes through a temporary file and a rename, so a failed run leaves
no half-written file. A closed pipe (``subtok encode ... | head``) ends the command quietly.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Optional, Sequence

# Subcommand modules, in the order `subtok --help` lists them.
_COMMANDS: list[str] = ["train", "encode", "embed", "pretraining_data", "finetune"]


def build_parser() -> argparse.ArgumentParser:
    from subtok._core import __version__

    parser = argparse.ArgumentParser(
        prog="subtok",
        description="subtok: train and run exact, fast subword tokenizers; embed text with a NumPy BERT.",
    )
    parser.add_argument("--version", action="version", version=f"subtok {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        importlib.import_module(f"subtok.cli.{name}").register(sub)
    return parser


def _subparser(parser: argparse.ArgumentParser, command: Optional[str]) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            return action.choices[command]
    return parser


def _quiet_broken_pipe() -> int:
    """stdout's reader went away (``| head``): drop what is buffered and exit like Unix tools."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 141  # 128 + SIGPIPE, what a shell reports for a tool killed by a closed pipe


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # reported by the subcommand's own parser, with its usage line
        _subparser(parser, getattr(args, "command", None)).error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()
        return code
    except KeyboardInterrupt:
        print("subtok: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except (ValueError, OSError, TypeError, LookupError) as e:
        print(f"subtok {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
