"""File helpers shared by the subcommands: tokenizer loading, input streams, atomic outputs.

Messages name the user's files only (never a temporary file)."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from types import TracebackType
from typing import IO, Any, BinaryIO, Optional, Type


def load_tokenizer(path: str) -> Any:
    """A ``subtok.Tokenizer`` from a ``tokenizer.json`` (or a WordPiece ``vocab.txt``)."""
    from subtok.tokenizer import Tokenizer

    p = Path(path)
    if p.is_dir():
        raise IsADirectoryError(f"{path}: is a directory (give the tokenizer.json inside it)")
    if not p.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if p.suffix == ".txt":
        return Tokenizer.from_vocab(str(p))
    return Tokenizer.from_file(str(p))


def open_input(path: str) -> BinaryIO:
    """The binary stream of ``path`` ('-' = stdin), with errors that name the file."""
    if path == "-":
        return sys.stdin.buffer
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path}: is a directory")
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    except PermissionError:
        raise PermissionError(f"{path}: permission denied") from None


def input_size(path: str) -> int:
    """Size in bytes of a regular input file, 0 when unknown (stdin, pipes)."""
    if path == "-":
        return 0
    try:
        st = os.stat(path)
    except OSError:
        return 0
    return st.st_size if os.path.isfile(path) else 0


def check_output_path(path: str) -> None:
    """Fail early, naming ``path``, when it cannot be written."""
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path}: is a directory")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{path}: directory {folder} does not exist")


class AtomicOutput:
    """``with AtomicOutput(path, "wb") as f:`` writes a hidden temporary file beside ``path`` and
    renames it over ``path`` on success; on any error the temporary file is removed and an
    ``OSError`` names ``path`` (not the temporary file)."""

    def __init__(self, path: str, mode: str = "wb") -> None:
        check_output_path(path)
        self.path, self.mode = path, mode
        self.tmp: Optional[str] = None
        self.f: Optional[IO[Any]] = None

    def __enter__(self) -> IO[Any]:
        from subtok.corpus import open_new, temp_path_beside

        self.tmp = tmp = temp_path_beside(os.path.abspath(self.path), ".subtok-", ".part")
        kwargs = {} if "b" in self.mode else {"encoding": "utf-8", "newline": "\n"}
        try:
            self.f = os.fdopen(open_new(tmp), self.mode, **kwargs)
        except BaseException as e:  # Ctrl-C included: no stray temporary file
            self.tmp = None
            _remove(tmp)
            if isinstance(e, OSError):
                raise type(e)(e.errno, f"{self.path}: cannot write ({e.strerror})") from None
            raise
        return self.f

    def __exit__(self, et: Optional[Type[BaseException]], ev: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        assert self.f is not None and self.tmp is not None
        tmp, self.tmp = self.tmp, None
        try:
            self.f.close()
            if et is None:
                from subtok.corpus import _umask

                # the temporary file is 0600; outputs get the permissions of any new file (0666 - umask)
                os.chmod(tmp, 0o666 & ~_umask())
                os.replace(tmp, self.path)
                return
        except OSError as e:
            raise OSError(e.errno, f"{self.path}: cannot write ({e.strerror})") from None
        finally:
            _remove(tmp)
        # An error while writing that mentions the temporary file is reported against the output.
        if isinstance(ev, OSError) and os.path.basename(tmp) in str(ev):
            raise OSError(ev.errno, f"{self.path}: cannot write ({ev.strerror})") from None


def _remove(path: str) -> None:
    """Delete ``path`` if it exists."""
    try:
        os.unlink(path)
    except OSError:
        pass
