"""Fuzz the ``pytorch_model.bin`` reader (``subtok.bert.weights.load_pytorch_bin``): the zip
container and the restricted unpickler. An input is either the raw file (mutations of a valid
``torch.save`` zip) or a pickle put into an otherwise valid zip as ``archive/data.pkl`` (with
storages ``0`` and ``1`` present). Contract: ``ValueError`` (``UnsafeCheckpointError``
included) or a dict of NumPy arrays that together hold at most 4x the file plus 64 MiB; no other
exception, no code run, no hang, no memory blow-up.

    python fuzz/python/fuzz_torch_bin.py -max_total_time=600
"""
from __future__ import annotations

import io
import os
import struct
import sys
import zipfile
from pathlib import Path
from typing import List

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness  # noqa: E402

from subtok.bert.weights import load_pytorch_bin  # noqa: E402

NAME = "torch_bin"
ALLOWED = (ValueError,)

_SCRATCH: List[str] = []


def _path() -> str:
    if not _SCRATCH:
        _SCRATCH.append(_harness.scratch_dir())
    return os.path.join(_SCRATCH[0], "pytorch_model.bin")


def _str(s: str) -> bytes:
    return b"X" + struct.pack("<I", len(s)) + s.encode()


def state_pickle(n_tensors: int = 2) -> bytes:
    """A protocol-2 state dict pickle as ``torch.save`` writes it: tensors over storages 0, 1."""
    out = io.BytesIO()
    w = out.write
    w(b"\x80\x02ccollections\nOrderedDict\nq\x00)R")
    for i in range(n_tensors):
        key, stype, numel, size, stride = [("0", "FloatStorage", 6, (2, 3), (3, 1)),
                                           ("1", "LongStorage", 4, (4,), (1,))][i % 2]
        w(_str(f"w{i}") + b"ctorch._utils\n_rebuild_tensor_v2\n(")
        w(b"(" + _str("storage") + b"ctorch\n" + stype.encode() + b"\n" + _str(key) + _str("cpu"))
        w(b"K" + bytes([numel]) + b"tQ")
        w(b"K\x00(" + b"".join(b"K" + bytes([x]) for x in size) + b"t(" + b"".join(b"K" + bytes([x]) for x in stride) + b"t")
        w(b"\x89ccollections\nOrderedDict\n)RtRs")
    w(b".")
    return out.getvalue()


STORAGES = {"0": np.arange(6, dtype="<f4").tobytes(), "1": np.arange(4, dtype="<i8").tobytes()}


def torch_zip(pkl: bytes, compress: bool = False) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/data.pkl", pkl)
        zf.writestr("archive/byteorder", "little")
        for k, v in STORAGES.items():
            zf.writestr(f"archive/data/{k}", v)
    return out.getvalue()


def one_input(data: bytes) -> None:
    if not data:
        return
    mode = data[0] % 3
    raw = data[1:] if mode == 0 else torch_zip(data[1:], compress=mode == 2)
    p = _path()
    with open(p, "wb") as f:
        f.write(raw)
    state = load_pytorch_bin(p)
    total = 0
    for k, v in state.items():
        assert isinstance(k, str) and isinstance(v, np.ndarray), (type(k), type(v))
        total += v.nbytes
    assert total <= 4 * len(raw) + (64 << 20), f"{total} bytes of tensors from a {len(raw)}-byte file"


def seeds() -> List[bytes]:
    pkl = state_pickle()
    return [b"\x00" + torch_zip(pkl), b"\x01" + pkl, b"\x02" + pkl, b"\x01" + state_pickle(1),
            b"\x01\x80\x02}q\x00."]


if __name__ == "__main__":
    _harness.main(NAME, one_input, ALLOWED, seeds)
