"""Corpora on disk: blocks of text files, token shards (``*.ids.npy`` + ``*.offsets.npy`` +
``manifest.json``) and :class:`TokenDataset`, a memory-mapped reader of them.

The functions here never need Dask; :mod:`subtok.dask` runs the same per-block functions on
Dask workers. Blocks are byte ranges of one file: a block holds the lines (``doc_sep="line"``) or
the documents (``doc_sep="blank"``: blank-line separated) that *start* inside it, so blocks that
tile a file cover each line or document exactly once, whoever reads them.
"""
from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = ["TokenDataset", "encode_corpus", "read_block", "MANIFEST"]

PathLike = Union[str, "os.PathLike[str]"]
Block = Tuple[str, int, int]

#: Name of the manifest file in an output directory.
MANIFEST = "manifest.json"
FORMAT = "subtok-token-shards"
DEFAULT_BLOCKSIZE = 64 << 20


# ---------------------------------------------------------------------------------- reading blocks
def _previous_line_is_blank(f: Any, line_start: int) -> bool:
    """Whether the line that ends just before ``line_start`` (a line start > 0) is blank."""
    end = line_start - 1  # the '\n' ending the previous line
    pos = end
    chunks: List[bytes] = []
    while pos > 0:
        step = min(pos, 1 << 16)
        f.seek(pos - step)
        chunk = f.read(step)
        nl = chunk.rfind(b"\n")
        if nl >= 0:
            chunks.append(chunk[nl + 1 :])
            break
        chunks.append(chunk)
        pos -= step
    line = b"".join(reversed(chunks))
    f.seek(line_start)
    return not line.decode("utf-8", errors="replace").strip()


def _decode(raw: bytes, path: str, offset: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        from subtok import TokenizerFileError

        raise TokenizerFileError(f"{path}: not valid UTF-8 (byte offset {offset + e.start})") from None


def read_block(path: PathLike, start: int, end: int, doc_sep: str = "line") -> List[List[str]]:
    """The documents that start in bytes ``[start, end)`` of a UTF-8 file, each a list of lines
    (without line endings).

    ``doc_sep="line"``: every non-blank line is a document of one line. ``"blank"``: documents
    are runs of non-blank lines separated by blank (whitespace-only) lines; a document that
    starts in the block is read to its end even past ``end``.
    """
    if doc_sep not in ("line", "blank"):
        raise ValueError(f"doc_sep must be 'line' or 'blank', got {doc_sep!r}")
    path = os.fspath(path)
    docs: List[List[str]] = []
    with open(path, "rb") as f:
        pos = 0
        if start > 0:
            f.seek(start - 1)
            f.readline()  # the byte before `start` is '\n' iff a line starts at `start`
            pos = f.tell()
        if pos >= end:
            return docs
        if doc_sep == "line":
            raw = f.read(end - pos)
            if raw and not raw.endswith(b"\n"):
                raw += f.readline()
            for line in _decode(raw, path, pos).split("\n"):
                line = line.rstrip("\r")
                if line.strip():
                    docs.append([line])
            return docs
        if pos > 0 and not _previous_line_is_blank(f, pos):
            while True:  # the rest of a document that started in an earlier block
                raw = f.readline()
                pos += len(raw)
                if not raw or not _decode(raw, path, pos - len(raw)).strip():
                    break
        current: List[str] = []
        while True:
            if pos >= end and not current:
                break
            raw = f.readline()
            if not raw:
                break
            line = _decode(raw, path, pos).rstrip("\r\n")
            pos += len(raw)
            if line.strip():
                current.append(line)
            elif current:
                docs.append(current)
                current = []
    if current:
        docs.append(current)
    return docs


# ---------------------------------------------------------------------------------- atomic writes
def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temp_path_beside(path: str, prefix: str = ".tmp-", suffix: Optional[str] = None) -> str:
    """A fresh hidden file name in the folder of ``path`` (ends with its name unless ``suffix``)."""
    import secrets

    tail = os.path.basename(path) if suffix is None else suffix
    return os.path.join(os.path.dirname(path) or ".", f"{prefix}{secrets.token_hex(6)}-{tail}")


def open_new(tmp: str) -> int:
    """Create ``tmp`` (which must not exist) for writing, mode 0600, and return its descriptor.
    Callers name the file first and open it inside their cleanup ``try``, so a
    ``KeyboardInterrupt`` at any point leaves no stray temporary file."""
    return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)


def write_atomic(path: PathLike, write: Callable[[Any], None]) -> None:
    """Write a file through ``write(fileobj)`` into a temp file beside it, then rename it into
    place, with normal permissions (0666 minus the umask); a failure (Ctrl-C included) leaves
    no partial file."""
    path = os.fspath(path)
    tmp = temp_path_beside(path)
    try:
        with os.fdopen(open_new(tmp), "wb") as f:
            write(f)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def save_npy_atomic(path: PathLike, array: np.ndarray) -> None:
    write_atomic(path, lambda f: np.save(f, array, allow_pickle=False))


def write_json_atomic(path: PathLike, obj: Any) -> None:
    data = (json.dumps(obj, indent=1, sort_keys=False) + "\n").encode("utf-8")
    write_atomic(path, lambda f: f.write(data))


# ---------------------------------------------------------------------------------- encoding
def tokenizer_hash(tokenizer: Any) -> str:
    """SHA-256 of the tokenizer's ``tokenizer.json`` text (compact form)."""
    return hashlib.sha256(tokenizer.to_str(False).encode("utf-8")).hexdigest()


def ids_dtype(vocab_size: int) -> np.dtype:
    """``uint16`` when every id fits (vocabulary of at most 65,536), else ``uint32``."""
    return np.dtype(np.uint16) if vocab_size <= 1 << 16 else np.dtype(np.uint32)


def _eos_id(tokenizer: Any, append_eos: Union[None, str, int]) -> Optional[int]:
    if append_eos is None:
        return None
    if isinstance(append_eos, bool):
        raise TypeError("append_eos must be a token (str), an id (int) or None")
    if isinstance(append_eos, int):
        if not 0 <= append_eos < tokenizer.vocab_size:
            raise ValueError(f"append_eos id {append_eos} is outside the vocabulary")
        return append_eos
    if isinstance(append_eos, str):
        i = tokenizer.token_to_id(append_eos)
        if i is None:
            raise ValueError(f"append_eos token {append_eos!r} is not in the vocabulary")
        return int(i)
    raise TypeError(f"append_eos must be a token (str), an id (int) or None, got {type(append_eos).__name__}")


def _shard_stem(index: int) -> str:
    return f"shard-{index:06d}"


def encode_block(tokenizer: Any, block: Block, index: int, out_dir: str, settings: Dict[str, Any]) -> Dict[str, Any]:
    """Encode one block into ``shard-NNNNNN.ids.npy`` + ``.offsets.npy`` (each written atomically)
    and return its manifest entry. Runs on a worker under :mod:`subtok.dask`."""
    path, start, end = block
    texts = ["\n".join(d) for d in read_block(path, start, end, settings["doc_sep"])]
    dtype = np.dtype(settings["dtype"])
    kwargs: Dict[str, Any] = {"add_special_tokens": settings["add_special_tokens"], "truncate": False}
    if hasattr(tokenizer, "_impl") and type(tokenizer._impl).__name__ == "BpeTokenizer":
        kwargs["disallowed_special"] = ()  # corpus text is plain text, as tiktoken's encode_ordinary
    if texts:
        ids, lengths = tokenizer.encode_batch_flat(texts, **kwargs)
        lengths = np.asarray(lengths, dtype=np.int64)
    else:
        ids, lengths = np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.int64)
    eos = settings.get("eos_id")
    if eos is not None and len(lengths):
        ends = np.cumsum(lengths)
        ids = np.insert(np.asarray(ids), ends, eos)  # one eos after each document
        lengths = lengths + 1
    ids = np.asarray(ids)
    if ids.size and int(ids.max()) > np.iinfo(dtype).max:
        raise ValueError(f"token id {int(ids.max())} does not fit {dtype.name}")
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    stem = _shard_stem(index)
    save_npy_atomic(os.path.join(out_dir, stem + ".ids.npy"), ids.astype(dtype, copy=False))
    save_npy_atomic(os.path.join(out_dir, stem + ".offsets.npy"), offsets)
    return {
        "index": index, "source": path, "start": start, "end": end,
        "ids": stem + ".ids.npy", "offsets": stem + ".offsets.npy",
        "tokens": int(offsets[-1]), "documents": int(len(lengths)),
    }


def _entry_verifies(out_dir: str, entry: Optional[Dict[str, Any]], want: Dict[str, Any], dtype: np.dtype) -> bool:
    """A previous run's shard is reused when its block is the same and both files are there
    with the recorded shape and dtype (their headers are read, not their data)."""
    if not entry or any(entry.get(k) != want[k] for k in ("index", "source", "start", "end")):
        return False
    try:
        ids = np.load(os.path.join(out_dir, entry["ids"]), mmap_mode="r")
        offs = np.load(os.path.join(out_dir, entry["offsets"]), mmap_mode="r")
    except (OSError, ValueError, KeyError):
        return False
    return (
        ids.dtype == dtype and ids.shape == (entry["tokens"],) and offs.shape == (entry["documents"] + 1,)
        and int(offs[-1]) == entry["tokens"]
    )


def _read_manifest(out_dir: str) -> Optional[Dict[str, Any]]:
    try:
        with open(os.path.join(out_dir, MANIFEST), encoding="utf-8") as f:
            m = json.load(f)
    except (OSError, ValueError, RecursionError):  # RecursionError: absurdly nested JSON
        return None
    return m if isinstance(m, dict) and m.get("format") == FORMAT else None


class _ManifestWriter:
    """Keeps ``manifest.json`` up to date while shards finish (rewritten atomically, at most
    about once a second, and at the end), so an interrupted run can be resumed."""

    def __init__(self, out_dir: str, header: Dict[str, Any], n: int, totals: Sequence[str] = ("tokens", "documents")) -> None:
        import time

        self._time = time.monotonic
        self.totals = tuple(totals)
        self.path = os.path.join(out_dir, MANIFEST)
        self.header = header
        self.entries: List[Optional[Dict[str, Any]]] = [None] * n
        self._last = 0.0

    def add(self, entry: Dict[str, Any]) -> None:
        self.entries[entry["index"]] = entry
        if self._time() - self._last >= 1.0:
            self.write(complete=False)

    def write(self, complete: bool) -> Dict[str, Any]:
        self._last = self._time()
        shards = [e for e in self.entries if e is not None]
        m = dict(self.header)
        m["complete"] = complete
        m.update({k: sum(e[k] for e in shards) for k in self.totals})
        m["shards"] = shards
        write_json_atomic(self.path, m)
        return m


def _check_paths(paths: Any) -> List[str]:
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if isinstance(paths, bytes) or not isinstance(paths, Sequence):
        raise TypeError("paths must be a path or a list of paths")
    return [os.fspath(p) for p in paths]


def encode_corpus(
    paths: Any,
    tokenizer: Any,
    out_dir: PathLike,
    *,
    doc_sep: str = "line",
    add_special_tokens: bool = False,
    append_eos: Union[None, str, int] = None,
    blocksize: int = DEFAULT_BLOCKSIZE,
    show_progress: bool = True,
    _map: Optional[Callable[..., Iterator[Dict[str, Any]]]] = None,
) -> Dict[str, Any]:
    """Encode text files into token shards in ``out_dir``, one shard per block, in order.

    Each shard is ``shard-NNNNNN.ids.npy`` (all its documents' ids, ``uint16`` when the vocabulary
    has at most 65,536 ids, else ``uint32``) and ``shard-NNNNNN.offsets.npy`` (``int64`` document
    boundaries, ``len = documents + 1``). ``manifest.json`` records the tokenizer's SHA-256, the
    settings, the dtype, every shard (source file, byte range, token and document counts) and
    the totals. Files are written atomically; a rerun with the same inputs and settings keeps
    the shards whose manifest entry verifies and redoes the rest (a deleted or half-written
    shard, a killed worker). Settings or tokenizer changes start over.

    ``doc_sep``: ``"line"`` (each non-blank line is a document) or ``"blank"`` (blank-line
    separated documents, lines joined with ``\\n``). ``append_eos``: a token or id appended to
    every document (e.g. ``"<|endoftext|>"``). BPE special-token text is encoded as plain
    text. Returns the manifest. :func:`subtok.dask.encode_corpus` runs the blocks on a cluster.
    """
    from subtok._progress import ProgressBar
    from subtok.wordcounts import file_blocks

    files = _check_paths(paths)
    if doc_sep not in ("line", "blank"):
        raise ValueError(f"doc_sep must be 'line' or 'blank', got {doc_sep!r}")
    if not hasattr(tokenizer, "encode_batch_flat") or not hasattr(tokenizer, "to_str"):
        raise TypeError(f"tokenizer must be a subtok.Tokenizer, got {type(tokenizer).__name__}")
    blocks = file_blocks(files, blocksize)
    out = os.fspath(out_dir)
    os.makedirs(out, exist_ok=True)
    dtype = ids_dtype(tokenizer.vocab_size)
    settings = {
        "doc_sep": doc_sep, "add_special_tokens": bool(add_special_tokens),
        "eos_id": _eos_id(tokenizer, append_eos), "dtype": dtype.name,
    }
    header = {
        "format": FORMAT, "version": 1, "tokenizer_sha256": tokenizer_hash(tokenizer),
        "vocab_size": int(tokenizer.vocab_size), "dtype": dtype.name, "blocksize": blocksize,
        "doc_sep": doc_sep, "add_special_tokens": bool(add_special_tokens), "append_eos": settings["eos_id"],
        "inputs": [{"path": p, "size": os.path.getsize(p)} for p in files],
    }
    old = _read_manifest(out)
    old_entries: Dict[int, Dict[str, Any]] = {}
    if old and all(old.get(k) == header[k] for k in header):
        old_entries = {e["index"]: e for e in old.get("shards", []) if isinstance(e, dict) and "index" in e}
    for name in os.listdir(out):  # leftovers of an interrupted run
        if name.startswith(".tmp-shard-"):
            try:
                os.unlink(os.path.join(out, name))
            except OSError:
                pass
    writer = _ManifestWriter(out, header, len(blocks))
    todo = []
    for i, b in enumerate(blocks):
        want = {"index": i, "source": b[0], "start": b[1], "end": b[2]}
        if _entry_verifies(out, old_entries.get(i), want, dtype):
            writer.entries[i] = old_entries[i]
        else:
            todo.append((i, b))
    bar = ProgressBar(len(blocks), "encode-corpus", enabled=None if show_progress else False)
    bar.set(len(blocks) - len(todo))
    try:
        if _map is None:
            results: Any = (encode_block(tokenizer, b, i, out, settings) for i, b in todo)
        else:
            results = _map(encode_block, tokenizer, todo, out, settings)
        for entry in results:
            writer.add(entry)
            bar.update(1)
    finally:
        bar.close()
        if any(e is not None for e in writer.entries):
            writer.write(complete=False)
    return writer.write(complete=True)


# ---------------------------------------------------------------------------------- reading shards
class FlatTokens:
    """All tokens of a :class:`TokenDataset` as one sequence (nanoGPT's ``train.bin``), over the
    memory-mapped shards: ``len()``, ``t[i]``, ``t[a:b]`` (a NumPy array, copied only when it
    spans shards) and ``np.asarray(t)`` (materializes everything)."""

    def __init__(self, parts: List[np.ndarray], dtype: np.dtype) -> None:
        self._parts = [p for p in parts if len(p)]
        self.dtype = dtype
        self._starts = np.zeros(len(self._parts) + 1, dtype=np.int64)
        np.cumsum([len(p) for p in self._parts], out=self._starts[1:])

    def __len__(self) -> int:
        return int(self._starts[-1])

    @property
    def shape(self) -> Tuple[int]:
        return (len(self),)

    def _slice(self, a: int, b: int) -> np.ndarray:
        if a >= b:
            return np.zeros(0, dtype=self.dtype)
        k = int(np.searchsorted(self._starts, a, side="right")) - 1
        lo = a - int(self._starts[k])
        if b <= self._starts[k + 1]:
            return self._parts[k][lo : b - int(self._starts[k])]
        out = [self._parts[k][lo:]]
        k += 1
        while b > self._starts[k + 1]:
            out.append(self._parts[k])
            k += 1
        out.append(self._parts[k][: b - int(self._starts[k])])
        return np.concatenate(out)

    def __getitem__(self, key: Union[int, slice]) -> Any:
        n = len(self)
        if isinstance(key, slice):
            a, b, step = key.indices(n)
            part = self._slice(a, max(a, b)) if step > 0 else self._slice(0, n)[key]
            return part[::step] if step > 1 else part
        i = int(key)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("token index out of range")
        return self._slice(i, i + 1)[0]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        a = self._slice(0, len(self))
        return a.astype(dtype) if dtype is not None else np.array(a)


def _count(x: Any) -> Optional[int]:
    return x if isinstance(x, int) and not isinstance(x, bool) and x >= 0 else None


def _manifest_dtype(path: str, name: Any) -> np.dtype:
    try:
        dtype = np.dtype(name) if isinstance(name, str) else None
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in "ui" or not dtype.isnative:
        raise ValueError(f"{path}: malformed {MANIFEST}: dtype {name!r:.40} is not an integer type")
    return dtype


def _open_shard(path: str, i: int, entry: Any, dtype: np.dtype) -> Tuple[np.ndarray, np.ndarray]:
    """Memory-map shard ``i`` of a manifest and check it: 1-D ids of the manifest's dtype, 1-D
    integer document offsets rising from 0 to the number of ids, the counts the entry records,
    file names inside the folder."""
    where = f"{path}: malformed {MANIFEST}: shard {i}"
    if not isinstance(entry, dict):
        raise ValueError(f"{where} is not an object")
    arrays = []
    for key in ("ids", "offsets"):
        name = entry.get(key)
        if not isinstance(name, str) or not name or os.path.basename(name) != name or name in (".", ".."):
            raise ValueError(f"{where}: {key} must name a file in the folder, not {name!r:.60}")
        full = os.path.join(path, name)
        try:
            a = np.load(full, mmap_mode="r", allow_pickle=False)
        except FileNotFoundError:
            raise
        except (OSError, ValueError, EOFError) as e:
            raise ValueError(f"{full}: not a readable .npy array: {e}") from None
        if not isinstance(a, np.ndarray) or a.ndim != 1 or a.dtype.kind not in "ui":
            raise ValueError(f"{full}: expected a 1-D integer array, found {getattr(a, 'dtype', None)} of shape "
                             f"{getattr(a, 'shape', None)}")
        arrays.append(a)
    ids, offsets = arrays
    if ids.dtype != dtype:
        raise ValueError(f"{where}: ids are {ids.dtype}, the manifest says {dtype}")
    if (len(offsets) == 0 or int(offsets[0]) != 0 or int(offsets[-1]) != len(ids)
            or (len(offsets) > 1 and bool(np.any(offsets[1:] < offsets[:-1])))):
        raise ValueError(f"{where}: document offsets must rise from 0 to the {len(ids)} ids")
    if _count(entry.get("tokens")) != len(ids) or _count(entry.get("documents")) != len(offsets) - 1:
        raise ValueError(f"{where}: records {entry.get('tokens')!r:.40} tokens in {entry.get('documents')!r:.40} "
                         f"documents, the files hold {len(ids)} in {len(offsets) - 1}")
    return ids, offsets


class TokenDataset:
    """Memory-mapped reader of the token shards written by :func:`encode_corpus`.

    ``len(ds)`` documents; ``ds[i]`` the ids of document ``i`` (a read-only NumPy view);
    ``ds.tokens`` every token as one flat sequence (a memory map when there is one shard);
    ``ds.sample(batch, block_size, seed)`` random LM training windows ``(x, y)`` (``y`` is ``x``
    shifted by one), as nanoGPT's ``get_batch``.
    """

    def __init__(self, out_dir: PathLike) -> None:
        """Open the shards in ``out_dir``. A manifest or shard that does not describe a complete,
        consistent dataset raises ``ValueError`` naming what is wrong (a missing file:
        ``FileNotFoundError``), before any document is read."""
        self.path = os.fspath(out_dir)
        m = _read_manifest(self.path)
        if m is None:
            raise FileNotFoundError(f"{self.path}: no {MANIFEST} of token shards")
        if m.get("complete") is not True:
            raise ValueError(f"{self.path}: the encoding run did not finish (rerun it to resume)")
        self.manifest = m
        self.dtype = _manifest_dtype(self.path, m.get("dtype"))
        self._ids: List[np.ndarray] = []
        self._offsets: List[np.ndarray] = []
        shards = m.get("shards")
        if not isinstance(shards, list):
            raise ValueError(f"{self.path}: malformed {MANIFEST}: 'shards' must be a list")
        for i, e in enumerate(shards):
            ids, offsets = _open_shard(self.path, i, e, self.dtype)
            self._ids.append(ids)
            self._offsets.append(offsets)
        for key, total in (("tokens", sum(len(a) for a in self._ids)), ("documents", sum(len(o) - 1 for o in self._offsets))):
            if _count(m.get(key)) != total:
                raise ValueError(f"{self.path}: malformed {MANIFEST}: {key} is {m.get(key)!r:.40}, the shards hold {total}")
        self._doc_starts = np.zeros(len(self._ids) + 1, dtype=np.int64)
        np.cumsum([len(o) - 1 for o in self._offsets], out=self._doc_starts[1:])
        self.tokens: Any = self._ids[0] if len(self._ids) == 1 else FlatTokens(self._ids, self.dtype)

    def __len__(self) -> int:
        return int(self._doc_starts[-1])

    @property
    def num_tokens(self) -> int:
        return int(self.manifest["tokens"])

    def __getitem__(self, i: int) -> np.ndarray:
        n = len(self)
        i = int(i)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"document index {i} out of range for {n} documents")
        k = int(np.searchsorted(self._doc_starts, i, side="right")) - 1
        j = i - int(self._doc_starts[k])
        off = self._offsets[k]
        return self._ids[k][int(off[j]) : int(off[j + 1])]

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self[i]

    def sample(self, batch: int, block_size: int, seed: Union[None, int, np.random.Generator] = None) -> Tuple[np.ndarray, np.ndarray]:
        """``batch`` random windows: ``x`` (batch, block_size) and ``y`` = the next tokens, int64."""
        if batch < 1 or block_size < 1:
            raise ValueError("batch and block_size must be >= 1")
        n = len(self.tokens)
        if n < block_size + 1:
            raise ValueError(f"the dataset has {n} tokens, fewer than block_size + 1 = {block_size + 1}")
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        starts = rng.integers(0, n - block_size, size=batch)
        x = np.stack([np.asarray(self.tokens[s : s + block_size], dtype=np.int64) for s in starts])
        y = np.stack([np.asarray(self.tokens[s + 1 : s + 1 + block_size], dtype=np.int64) for s in starts])
        return x, y

    def __repr__(self) -> str:
        return f"subtok.TokenDataset({self.path!r}: {len(self)} documents, {self.num_tokens} tokens, {self.dtype.name})"
