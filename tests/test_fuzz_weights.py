"""Property fuzzing of the checkpoint readers (the Python half of ``fuzz/``), with hypothesis.

* the safetensors header parser against the ``safetensors`` library itself: for any header and
  data length, subtok accepts the file exactly when the library does, with the same arrays;
* the restricted unpickler and the zip reader: any mutation of a valid ``pytorch_model.bin``
  (bytes of the pickle, bytes of the zip) either loads or raises ``ValueError``, nothing else.

CI runs a few dozen examples per property and replays the saved inputs in
``fuzz/regressions/weights/``. A long run: ``SUBTOK_FUZZ_EXAMPLES=20000 pytest tests/test_fuzz_weights.py``.
"""
from __future__ import annotations

import io
import json
import os
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from subtok.bert.weights import load_pytorch_bin, parse_safetensors

EXAMPLES = int(os.environ.get("SUBTOK_FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
REGRESSIONS = Path(__file__).resolve().parent.parent / "fuzz" / "regressions" / "weights"

SIZES = {"F64": 8, "F32": 4, "F16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


# ------------------------------------------------------------------ safetensors vs the library
@st.composite
def safetensors_files(draw: st.DrawFn) -> bytes:
    n = draw(st.integers(0, 4))
    header: dict = {}
    pos = 0
    for i in range(n):
        dtype = draw(st.sampled_from(sorted(SIZES)))
        shape = draw(st.lists(st.integers(0, 5), max_size=3))
        nbytes = int(np.prod(shape, dtype=np.int64)) * SIZES[dtype] if shape else SIZES[dtype]
        begin = pos + draw(st.sampled_from([0, 0, 0, 1, -1, 8]))
        end = begin + nbytes + draw(st.sampled_from([0, 0, 0, 1, -2]))
        info: dict = {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}
        if draw(st.integers(0, 9)) == 0:  # a wrongly typed field
            key = draw(st.sampled_from(["dtype", "shape", "data_offsets"]))
            info[key] = draw(st.sampled_from([None, 1.5, "4", [1, 2, 3], True, {}, [-1]]))
        header[f"t{i}"] = info
        pos = max(pos, end)
    if draw(st.booleans()):
        header["__metadata__"] = draw(st.sampled_from([{"format": "pt"}, {"a": 1}, None, []]))
    data_len = max(pos, 0) + draw(st.sampled_from([0, 0, 0, 1, -1, 4]))
    h = json.dumps(header).encode() + b" " * draw(st.integers(0, 7))
    data = bytes(range(256)) * (max(data_len, 0) // 256 + 1)
    return struct.pack("<Q", len(h)) + h + data[: max(data_len, 0)]


def check_safetensors_matches_library(raw: bytes) -> None:
    from safetensors.numpy import load

    try:
        ref = load(raw)
    except Exception:
        ref = None
    try:
        mine = parse_safetensors(raw)
    except ValueError:
        mine = None
    assert (mine is None) == (ref is None), f"subtok {'rejects' if mine is None else 'accepts'} what safetensors does not"
    if mine is not None:
        assert set(mine) == set(ref)
        for k, v in ref.items():
            want = v.astype(np.float32) if v.dtype == np.float16 else v
            np.testing.assert_array_equal(mine[k], want)
            assert mine[k].dtype == want.dtype and mine[k].shape == want.shape


@FUZZ
@given(safetensors_files())
def test_safetensors_accepts_exactly_what_the_library_accepts(raw: bytes) -> None:
    pytest.importorskip("safetensors.numpy")
    check_safetensors_matches_library(raw)


@FUZZ
@given(st.binary(max_size=200), st.integers(0, 300))
def test_safetensors_random_bytes_only_raise_valueerror(tail: bytes, n: int) -> None:
    raw = struct.pack("<Q", n) + tail
    try:
        parse_safetensors(raw)
    except ValueError:
        pass


# ------------------------------------------------------------------ torch zip / restricted unpickler
def _valid_bin() -> bytes:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _bert_helpers import write_torch_bin

    buf = io.BytesIO()
    tensors = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.arange(4, dtype=np.int64),
               "c": np.ones((2, 2), np.float16)}
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"subtok-fuzz-{os.getpid()}.bin"
    write_torch_bin(path, tensors, transpose_2d=True)
    buf.write(path.read_bytes())
    path.unlink()
    return buf.getvalue()


VALID_BIN = _valid_bin()


def _pkl_of(raw: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        return zf.read("archive/data.pkl")


def _with_pkl(pkl: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(VALID_BIN)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, pkl if info.filename.endswith("data.pkl") else src.read(info))
    return out.getvalue()


def check_bin_loads_or_valueerror(raw: bytes, tmp: Path) -> None:
    p = tmp / "pytorch_model.bin"
    p.write_bytes(raw)
    try:
        state = load_pytorch_bin(p)
    except ValueError:
        return
    for v in state.values():
        assert isinstance(v, np.ndarray) and v.nbytes <= 4 * len(raw) + (64 << 20)


mutations = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255), st.sampled_from(["set", "ins", "del"])),
                     min_size=1, max_size=6)


def _mutate(data: bytes, muts: list) -> bytes:
    b = bytearray(data)
    for pos, val, kind in muts:
        i = pos % (len(b) + 1)
        if kind == "set" and i < len(b):
            b[i] = val
        elif kind == "ins":
            b[i:i] = bytes([val])
        elif kind == "del" and i < len(b):
            del b[i]
    return bytes(b)


@FUZZ
@given(mutations)
def test_mutated_pickle_loads_or_raises_valueerror(tmp_path_factory: pytest.TempPathFactory, muts: list) -> None:
    raw = _with_pkl(_mutate(_pkl_of(VALID_BIN), muts))
    check_bin_loads_or_valueerror(raw, tmp_path_factory.mktemp("pkl"))


@FUZZ
@given(mutations)
def test_mutated_zip_loads_or_raises_valueerror(tmp_path_factory: pytest.TempPathFactory, muts: list) -> None:
    check_bin_loads_or_valueerror(_mutate(VALID_BIN, muts), tmp_path_factory.mktemp("zip"))


# ------------------------------------------------------------------ saved crashers
def _saved(kind: str) -> list:
    d = REGRESSIONS / kind
    return sorted(d.iterdir()) if d.is_dir() else []


@pytest.mark.parametrize("path", _saved("safetensors"), ids=lambda p: p.name)
def test_saved_safetensors_inputs(path: Path) -> None:
    pytest.importorskip("safetensors.numpy")
    check_safetensors_matches_library(path.read_bytes())


@pytest.mark.parametrize("path", _saved("bin"), ids=lambda p: p.name)
def test_saved_bin_inputs(path: Path, tmp_path: Path) -> None:
    check_bin_loads_or_valueerror(path.read_bytes(), tmp_path)
