"""Fuzz the token-shard reader (``subtok.TokenDataset``, nanoGPT's ``train.bin`` as memory-mapped
``.npy`` shards + ``manifest.json``): a manifest built from the input (fields missing, wrongly
typed, inconsistent counts, paths leaving the folder) over shard files that are valid, of
another dtype or shape, inconsistent with their offsets, or raw bytes. Then ``len(ds)``,
``ds[i]``, ``ds.tokens[a:b]`` and ``ds.sample(...)``. Contract: ``ValueError`` (or
``FileNotFoundError`` for a missing file) when loading; afterwards every document is a 1-D
integer array inside its shard and the counts agree (``IndexError`` only for an index out of
range); never another exception or a wrong answer.

    python fuzz/python/fuzz_token_shards.py -max_total_time=600
"""
from __future__ import annotations

import io
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness  # noqa: E402

from subtok.corpus import FORMAT, MANIFEST, TokenDataset  # noqa: E402

NAME = "token_shards"
ALLOWED = (ValueError, FileNotFoundError)

_SCRATCH: List[str] = []
ODD = [None, -1, 1.5, "3", [], {}, True, 2**64, "../x", "/etc/passwd"]


def _dir() -> str:
    if not _SCRATCH:
        _SCRATCH.append(_harness.scratch_dir())
    d = os.path.join(_SCRATCH[0], "shards")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def build(data: bytes, d: str) -> None:
    it = iter(data)

    def b() -> int:
        return next(it, 0)

    dtype = ["uint16", "uint32", "uint16", "int64", "float32", "object", "uint8"][b() % 7] if b() % 4 == 0 else "uint16"
    shards: List[Dict[str, Any]] = []
    total_t = total_d = 0
    for i in range(b() % 4):
        lengths = [b() % 6 for _ in range(b() % 5)]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        ids = np.arange(int(offsets[-1]), dtype=np.int64) % 50
        kind = b() % 12
        if kind == 1 and len(offsets) > 1:
            offsets[b() % len(offsets)] += [1, -1, 100, -100][b() % 4]  # inconsistent boundaries
        elif kind == 2:
            offsets = offsets[::-1].copy()
        elif kind == 3:
            ids = ids.reshape(1, -1)  # 2-D
        elif kind == 4:
            offsets = offsets.astype(np.float64)
        ids_bytes = _npy(ids.astype(dtype if dtype != "object" else "uint16"))
        off_bytes = _npy(offsets)
        if kind == 5:  # raw bytes from the input
            n = b() % 64
            ids_bytes = bytes(next(it, 0) for _ in range(n))
        elif kind == 6:
            ids_bytes = ids_bytes[: b() % (len(ids_bytes) + 1)]  # truncated
        elif kind == 7:
            off_bytes = _npy(np.array(["a", "b"]))
        stem = f"shard-{i:06d}"
        with open(os.path.join(d, stem + ".ids.npy"), "wb") as f:
            f.write(ids_bytes)
        if kind != 8:  # 8: the offsets file is missing
            with open(os.path.join(d, stem + ".offsets.npy"), "wb") as f:
                f.write(off_bytes)
        entry: Dict[str, Any] = {"index": i, "ids": stem + ".ids.npy", "offsets": stem + ".offsets.npy",
                                 "tokens": int(ids.size), "documents": len(lengths)}
        if b() % 6 == 0:
            entry[["ids", "offsets", "tokens", "documents", "index"][b() % 5]] = ODD[b() % len(ODD)]
        if b() % 15 == 0:
            entry.pop(["ids", "offsets", "tokens", "documents"][b() % 4])
        shards.append(entry if b() % 20 else ODD[b() % len(ODD)])
        total_t += int(ids.size)
        total_d += len(lengths)
    m: Dict[str, Any] = {"format": FORMAT, "version": 1, "dtype": dtype, "complete": True, "tokens": total_t,
                         "documents": total_d, "shards": shards, "vocab_size": 50}
    if b() % 5 == 0:
        m[["dtype", "complete", "tokens", "documents", "shards", "vocab_size"][b() % 6]] = ODD[b() % len(ODD)]
    if b() % 10 == 0:
        m.pop(["dtype", "complete", "tokens", "shards"][b() % 4])
    with open(os.path.join(d, MANIFEST), "w") as f:
        json.dump(m, f)


def one_input(data: bytes) -> None:
    d = _dir()
    build(data, d)
    ds = TokenDataset(d)  # may raise ValueError / FileNotFoundError: the rest may not
    try:
        n = len(ds)
        total = 0
        for i in range(min(n, 50)):
            doc = ds[i]
            assert isinstance(doc, np.ndarray) and doc.ndim == 1 and doc.dtype.kind in "ui", (doc.dtype, doc.shape)
            total += len(doc)
        if n <= 50:
            assert total == ds.num_tokens == len(ds.tokens), (total, ds.num_tokens, len(ds.tokens))
        for i in (n, -n - 1):
            try:
                ds[i]
                raise AssertionError(f"ds[{i}] of {n} documents did not raise IndexError")
            except IndexError:
                pass
        flat = np.asarray(ds.tokens[0 : len(ds.tokens)])
        assert flat.ndim == 1 and len(flat) == len(ds.tokens)
        if len(ds.tokens) >= 3:
            x, y = ds.sample(2, 2, seed=0)
            assert x.shape == y.shape == (2, 2)
    except (ValueError, FileNotFoundError) as e:
        raise AssertionError(f"a TokenDataset that loaded raised on use: {e!r}") from None


def seeds() -> List[bytes]:
    return [bytes([1, 3]) + bytes(range(i, i + 30)) for i in range(0, 60, 5)] + [b"\x01\x02\x00\x04\x03\x02\x01"]


if __name__ == "__main__":
    _harness.main(NAME, one_input, ALLOWED, seeds)
