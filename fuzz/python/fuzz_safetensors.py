"""Fuzz the safetensors reader (``subtok.bert.weights.parse_safetensors``) against the
``safetensors`` library: raw bytes as a file, or a header built from the input (dtypes, shapes,
offsets with gaps and overlaps, wrongly typed fields, odd JSON) over a data buffer. Contract:
``ValueError`` or the tensors; subtok accepts a file exactly when the library does, with the
same arrays (fp16/bf16 upcast to float32).

    python fuzz/python/fuzz_safetensors.py -max_total_time=600
"""
from __future__ import annotations

import json
import struct
import sys
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness  # noqa: E402

from subtok.bert.weights import parse_safetensors  # noqa: E402

NAME = "safetensors"
ALLOWED = (ValueError,)

SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}
ODD = [None, 1.5, "4", [1, 2, 3], True, {}, [-1], [2**64], [1e3], 2**70, -5]


def build(data: bytes) -> bytes:
    """A safetensors file steered by ``data``: mostly well formed, with one or two defects."""
    it = iter(data)

    def b() -> int:
        return next(it, 0)

    header: Dict[str, Any] = {}
    pos = 0
    for i in range(b() % 5):
        dtype = sorted(SIZES)[b() % len(SIZES)] if b() % 8 else ["F33", "", "f32", "BF16 "][b() % 4]
        shape = [b() % 6 for _ in range(b() % 4)]
        n = 1
        for s in shape:
            n *= s
        nbytes = n * SIZES.get(dtype, 1)
        begin = pos + [0, 0, 0, 0, 1, -1, 8, -pos][b() % 8]
        end = begin + nbytes + [0, 0, 0, 0, 1, -2, 2**40][b() % 7]
        info: Dict[str, Any] = {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}
        if b() % 10 == 0:
            info[["dtype", "shape", "data_offsets"][b() % 3]] = ODD[b() % len(ODD)]
        if b() % 20 == 0:
            info.pop(["dtype", "shape", "data_offsets"][b() % 3])
        header[f"t{i}" if b() % 10 else "__metadata__"] = info
        pos = max(pos, end)
    if b() % 4 == 0:
        header["__metadata__"] = [{"format": "pt"}, {"a": 1}, None, [], "x"][b() % 5]
    data_len = max(pos, 0) + [0, 0, 0, 1, -1, 4][b() % 6]
    text = json.dumps(header)
    if b() % 12 == 0:  # raw JSON damage
        k = b() % (len(text) + 1)
        text = text[:k] + chr(b()) + text[k + 1 :]
    h = text.encode("utf-8", "surrogatepass") + b" " * (b() % 8)
    n_decl = len(h) + [0, 0, 0, 0, 0, -1, 1, 2**40][b() % 8]
    data_len = max(min(data_len, 1 << 16), 0)  # a declared range may go far beyond the file
    body = bytes(range(256)) * (data_len // 256 + 1)
    return struct.pack("<Q", max(n_decl, 0) % 2**64) + h + body[:data_len]


def same_as_library(raw: bytes) -> None:
    try:
        from safetensors.numpy import load
    except ImportError:  # without the library, only the contract is checked
        parse_safetensors(raw)
        return
    try:
        ref = load(raw)
    except KeyError as e:  # bf16: the library's numpy loader has no such dtype; subtok upcasts it
        if e.args == ("BF16",):  # the library validated the file before converting it
            try:
                parse_safetensors(raw)
            except ValueError:
                raise AssertionError("subtok rejects a bf16 file the safetensors library validates") from None
            return
        ref = None
    except Exception:  # noqa: BLE001 - the library's own error types vary
        ref = None
    try:
        mine = parse_safetensors(raw)
    except ValueError:
        if ref is not None:
            raise AssertionError("subtok rejects a file the safetensors library loads") from None
        raise
    assert ref is not None, "subtok accepts a file the safetensors library rejects"
    assert set(mine) == set(ref), (sorted(mine), sorted(ref))
    for k, v in ref.items():
        want = v.astype(np.float32) if v.dtype == np.float16 else v
        got = mine[k]
        assert got.shape == want.shape and got.dtype == want.dtype, (k, got.dtype, want.dtype)
        np.testing.assert_array_equal(got, want)


def one_input(data: bytes) -> None:
    if not data:
        return
    raw = data[1:] if data[0] % 4 == 0 else build(data[1:])
    same_as_library(raw)


def seeds() -> List[bytes]:
    out = [bytes([1]) + bytes(range(i, 64 + i)) for i in range(0, 40, 3)]
    good = {"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}
    h = json.dumps(good).encode()
    out.append(b"\x00" + struct.pack("<Q", len(h)) + h + bytes(16))
    return out


if __name__ == "__main__":
    _harness.main(NAME, one_input, ALLOWED, seeds)
