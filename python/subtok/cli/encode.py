"""``subtok encode``: tokenize text with a saved ``tokenizer.json``, streaming large files.

The input is read in chunks of whole lines (about ``--chunk-mb`` MB each) and each chunk goes
through :meth:`subtok.Tokenizer.encode_batch_flat` (one flat id array, no per-token objects), so
memory stays bounded whatever the file size. Outputs are written to a temporary file beside the
target and renamed at the end: an interrupted run never leaves a half-written file.
"""
from __future__ import annotations

import argparse
import json
import os
import struct
import sys
from typing import IO, Any, BinaryIO, Iterator, List, Optional, Tuple

import numpy as np

from subtok.cli._io import AtomicOutput, check_output_path, input_size, load_tokenizer, open_input

_EPILOG = """examples:
  subtok encode -t tokenizer.json "Hello world"
  subtok encode -t tokenizer.json -i corpus.txt -f jsonl -o out.jsonl
  subtok encode -t tokenizer.json -i corpus.txt -f npy -o ids.npy      # ids.npy + ids.lengths.npy
  subtok encode -t tokenizer.json -i corpus.txt -f bin -o ids.bin      # ids.bin + ids.bin.offsets
  subtok encode -t bert/tokenizer.json -i q.txt --add-special-tokens --max-length 128 --padding

By default each line gives its plain ids: no [CLS]/[SEP], no truncation, no padding, whatever
truncation/padding settings the tokenizer.json stores. --truncation / --padding apply the stored
settings; --max-length N truncates (and with --padding pads) every line to N ids.

formats:
  ids     space-separated ids, one output line per input line (default)
  tokens  space-separated tokens
  jsonl   {"ids": [...], "tokens": [...]} per line
  npy     needs -o OUT.npy: a 1-D uint32 array of all ids, and OUT.lengths.npy (int64 per line)
  bin     needs -o OUT: the ids as raw little-endian uint16 (vocab <= 65536) or uint32, and
          OUT.offsets: n+1 little-endian uint64 offsets (line i = ids[offsets[i]:offsets[i+1]])"""

FORMATS = ["ids", "tokens", "jsonl", "npy", "bin"]


def register(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "encode",
        help="tokenize text with a tokenizer.json",
        description="Encode TEXT, or each line of -i FILE ('-' for stdin), with a tokenizer.json. "
        "Large files are streamed in chunks with bounded memory.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("text", nargs="?", default=None, metavar="TEXT", help="text to encode")
    p.add_argument("-t", "--tokenizer", required=True, metavar="FILE", help="tokenizer.json (or a WordPiece vocab.txt)")
    p.add_argument("-i", "--input", default=None, metavar="FILE", help="encode each line of FILE ('-' = stdin)")
    p.add_argument("-o", "--output", default=None, metavar="OUT", help="output file (default: stdout; required for npy and bin)")
    p.add_argument("-f", "--format", choices=FORMATS, default="ids", help="output format (default: %(default)s)")
    p.add_argument("--add-special-tokens", action=argparse.BooleanOptionalAction, default=False,
                   help="add [CLS]/[SEP] or the tokenizer's other post-processor tokens (default: no)")
    p.add_argument("--no-special-tokens", dest="add_special_tokens", action="store_false", help=argparse.SUPPRESS)
    p.add_argument("--max-length", type=int, default=None, metavar="N", help="truncate every line to N ids (specials included)")
    p.add_argument("--truncation", action=argparse.BooleanOptionalAction, default=False,
                   help="apply the truncation stored in the tokenizer.json (default: no truncation)")
    p.add_argument("--padding", action=argparse.BooleanOptionalAction, default=False,
                   help="pad every line to --max-length, or to the stored padding length (default: no padding)")
    p.add_argument("--chunk-mb", type=float, default=4.0, metavar="MB", help="input read per batch (default: %(default)s)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    p.set_defaults(func=run)
    return p


# ---------------------------------------------------------------------------------- input
def _chunks(stream: BinaryIO, name: str, chunk_bytes: int) -> Iterator[Tuple[List[str], int]]:
    """Yield ``(lines, n_bytes)`` for chunks of whole lines; a decoding error names the file."""
    offset = 0
    while True:
        raw = stream.readlines(chunk_bytes)
        if not raw:
            return
        data = b"".join(raw)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"{name}: not UTF-8 text (invalid byte at offset {offset + e.start}); "
                             "subtok encode reads UTF-8 text files") from None
        offset += len(data)
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        if "\r" in text:
            lines = [ln[:-1] if ln.endswith("\r") else ln for ln in lines]
        yield lines, len(data)


# ---------------------------------------------------------------------------------- settings
def _configure(tok: Any, args: argparse.Namespace) -> Tuple[Optional[int], int, str]:
    """Apply the CLI's truncation flags to ``tok``; return (pad length or None, pad id, pad side)."""
    stored_pad = tok.padding
    if args.max_length is not None:
        if args.max_length < 1:
            raise ValueError("--max-length must be >= 1")
        tok.enable_truncation(args.max_length)
    elif not args.truncation:
        tok.no_truncation()
    elif tok.truncation is None:
        raise ValueError(f"--truncation: {args.tokenizer} stores no truncation settings; use --max-length N")
    tok.no_padding()  # the flat path never pads; padding is done below on the arrays
    if not args.padding:
        return None, 0, "right"
    length = args.max_length or (stored_pad or {}).get("length")
    if not length:
        raise ValueError("--padding needs --max-length N (or a tokenizer.json whose padding has a fixed length)")
    pad_id = (stored_pad or {}).get("pad_id")
    if pad_id is None:
        pad_id = tok.pad_token_id if tok.pad_token_id is not None else 0
    side = (stored_pad or {}).get("direction", "right")
    return int(length), int(pad_id), side


def _pad(ids: np.ndarray, lengths: np.ndarray, length: int, pad_id: int, side: str) -> Tuple[np.ndarray, np.ndarray]:
    """Pad every row of the flat ``ids`` to ``length`` (rows are never longer: truncation is on)."""
    n = len(lengths)
    out = np.full((n, length), pad_id, dtype=ids.dtype)
    if n:
        starts = np.zeros(n, dtype=np.int64)
        np.cumsum(lengths[:-1], out=starts[1:])
        col = np.arange(len(ids), dtype=np.int64) - np.repeat(starts, lengths)
        if side == "left":
            col += np.repeat(length - lengths, lengths)
        out[np.repeat(np.arange(n), lengths), col] = ids
    return out.reshape(-1), np.full(n, length, dtype=np.int64)


# ---------------------------------------------------------------------------------- writers
class _TextWriter:
    """ids / tokens / jsonl lines, built from per-id string tables (no per-token Python ints)."""

    def __init__(self, out: IO[str], fmt: str, tok: Any) -> None:
        self.out, self.fmt = out, fmt
        self.id_str: Optional[np.ndarray] = None
        self.tok_str: Optional[np.ndarray] = None
        n = tok.vocab_size
        if fmt in ("ids", "jsonl"):
            self.id_str = np.array([str(i) for i in range(n)], dtype=object)
        if fmt in ("tokens", "jsonl"):
            names = [""] * n
            for t, i in tok.get_vocab().items():
                if 0 <= i < n:
                    names[i] = t
            if fmt == "jsonl":
                names = [json.dumps(t, ensure_ascii=False) for t in names]
            self.tok_str = np.array(names, dtype=object)

    def write(self, ids: np.ndarray, lengths: np.ndarray) -> None:
        bounds = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=bounds[1:])
        b = bounds.tolist()
        if self.fmt == "jsonl":
            assert self.id_str is not None and self.tok_str is not None
            a, t = self.id_str[ids].tolist(), self.tok_str[ids].tolist()
            rows = ['{"ids": [' + ", ".join(a[s:e]) + '], "tokens": [' + ", ".join(t[s:e]) + "]}"
                    for s, e in zip(b[:-1], b[1:])]
        else:
            table = self.id_str if self.fmt == "ids" else self.tok_str
            assert table is not None
            parts = table[ids].tolist()
            rows = [" ".join(parts[s:e]) for s, e in zip(b[:-1], b[1:])]
        if rows:
            self.out.write("\n".join(rows))
            self.out.write("\n")

    def finish(self) -> None:
        self.out.flush()


_NPY_HEADER = 128  # bytes reserved for the .npy header, rewritten with the final shape


def _npy_header(dtype: np.dtype, n: int) -> bytes:
    d = "{'descr': '%s', 'fortran_order': False, 'shape': (%d,), }" % (dtype.str, n)
    body = d.encode("latin1")
    pad = _NPY_HEADER - 10 - len(body) - 1
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", _NPY_HEADER - 10) + body + b" " * pad + b"\n"


class _NpyStream:
    """A 1-D ``.npy`` file written piece by piece: header reserved first, patched at the end."""

    def __init__(self, f: BinaryIO, dtype: Any) -> None:
        self.f, self.dtype, self.n = f, np.dtype(dtype).newbyteorder("<"), 0
        f.write(_npy_header(self.dtype, 0))

    def append(self, a: np.ndarray) -> None:
        self.f.write(np.ascontiguousarray(a, dtype=self.dtype).tobytes())
        self.n += len(a)

    def finish(self) -> None:
        self.f.seek(0)
        self.f.write(_npy_header(self.dtype, self.n))


class _ArrayWriter:
    """npy (ids + lengths) or bin (raw ids + uint64 offsets)."""

    def __init__(self, fmt: str, ids_f: BinaryIO, side_f: BinaryIO, vocab_size: int) -> None:
        self.fmt = fmt
        if fmt == "npy":
            self.ids: Any = _NpyStream(ids_f, np.uint32)
            self.side: Any = _NpyStream(side_f, np.int64)
        else:
            self.dtype = np.dtype("<u2") if vocab_size <= 1 << 16 else np.dtype("<u4")
            self.ids_f, self.side_f = ids_f, side_f
            self.total = 0
            side_f.write(np.zeros(1, dtype="<u8").tobytes())

    def write(self, ids: np.ndarray, lengths: np.ndarray) -> None:
        if self.fmt == "npy":
            self.ids.append(ids)
            self.side.append(lengths)
            return
        self.ids_f.write(ids.astype(self.dtype).tobytes())
        offsets = self.total + np.cumsum(lengths, dtype=np.int64)
        self.side_f.write(offsets.astype("<u8").tobytes())
        self.total += int(ids.size)

    def finish(self) -> None:
        if self.fmt == "npy":
            self.ids.finish()
            self.side.finish()


# ---------------------------------------------------------------------------------- run
def _side_path(fmt: str, out: str) -> Tuple[str, str]:
    if fmt == "npy":
        base = out[:-4] if out.endswith(".npy") else out
        return base + ".npy", base + ".lengths.npy"
    return out, out + ".offsets"


def _inputs(args: argparse.Namespace, chunk_bytes: int) -> Tuple[Iterator[Tuple[List[str], int]], int, Optional[IO[bytes]]]:
    if args.text is not None and args.input is not None:
        raise ValueError("give TEXT or -i FILE, not both")
    if args.text is not None:
        return iter([([args.text], len(args.text.encode("utf-8", "surrogatepass")))]), 0, None
    if args.input is None:
        raise ValueError("nothing to encode: give TEXT or -i FILE")
    stream = open_input(args.input)
    name = "stdin" if args.input == "-" else args.input
    return _chunks(stream, name, chunk_bytes), input_size(args.input), stream


def run(args: argparse.Namespace) -> int:
    from subtok._progress import ProgressBar

    if args.format in ("npy", "bin") and (not args.output or args.output == "-"):
        raise ValueError(f"--format {args.format} needs -o OUT")
    if args.chunk_mb <= 0:
        raise ValueError("--chunk-mb must be > 0")
    to_stdout = not args.output or args.output == "-"
    if not to_stdout:
        for path in _side_path(args.format, args.output) if args.format in ("npy", "bin") else [args.output]:
            check_output_path(path)
    tok = load_tokenizer(args.tokenizer)
    pad = _configure(tok, args)
    chunks, total, stream = _inputs(args, int(args.chunk_mb * (1 << 20)))
    bar = ProgressBar(total, "encode", sys.stderr, enabled=None if (total and not args.quiet) else False)
    n_lines = n_ids = 0

    def pump(writer: Any) -> None:
        nonlocal n_lines, n_ids
        for lines, nbytes in chunks:
            ids, lengths = tok.encode_batch_flat(lines, add_special_tokens=args.add_special_tokens)
            if pad[0] is not None:
                ids, lengths = _pad(ids, lengths, *pad)
            writer.write(ids, lengths)
            n_lines += len(lengths)
            n_ids += int(ids.size)
            bar.update(nbytes)
        writer.finish()

    try:
        if to_stdout:
            pump(_TextWriter(sys.stdout, args.format, tok))
        elif args.format in ("npy", "bin"):
            ids_path, side_path = _side_path(args.format, args.output)
            with AtomicOutput(ids_path, "wb") as f_ids, AtomicOutput(side_path, "wb") as f_side:
                pump(_ArrayWriter(args.format, f_ids, f_side, tok.vocab_size))
        else:
            with AtomicOutput(args.output, "w") as f:
                pump(_TextWriter(f, args.format, tok))
    finally:
        bar.close()
        if stream is not None and stream is not sys.stdin.buffer:
            stream.close()
    if not args.quiet and not to_stdout:
        print(f"encoded {n_lines} lines into {n_ids} ids -> {args.output}", file=sys.stderr)
    return 0

