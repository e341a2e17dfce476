"""Read checkpoint tensors without PyTorch.

* ``model.safetensors``: the 8-byte little-endian header length, a JSON header mapping names to
  ``{dtype, shape, data_offsets}``, then the raw little-endian data. The file is memory-mapped and
  every tensor is a read-only view into the map (no copy) unless it must be upcast.
* ``pytorch_model.bin`` (``torch.save`` zip format): ``<prefix>/data.pkl`` is a pickle whose
  persistent ids name storages stored as ``<prefix>/data/<key>``. The pickle is read by a
  *restricted* unpickler that resolves only the handful of globals a state dict needs
  (tensor-rebuild functions, storage types, ``OrderedDict``) to local stand-ins; any other global
  (``os.system``, ``builtins.eval``...) raises :class:`UnsafeCheckpointError` before anything runs.

fp16 and bf16 tensors are upcast to float32; other float types are returned as stored.
"""
from __future__ import annotations

import collections
import json
import mmap
import os
import pickle
import struct
import zipfile
from typing import Any, Dict, Tuple, Union

import numpy as np

PathLike = Union[str, "os.PathLike[str]"]


class UnsafeCheckpointError(ValueError):
    """A ``pytorch_model.bin`` pickle referenced a global outside the tensor-rebuild allow-list."""


# ---------------------------------------------------------------------------------- dtypes
_SAFETENSORS_DTYPES: Dict[str, np.dtype] = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),  # reinterpreted, then upcast
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}


def bf16_to_float32(raw: np.ndarray) -> np.ndarray:
    """bfloat16 bit patterns (uint16) -> float32 (exact: bf16 is the top half of a float32)."""
    out = raw.astype(np.uint32)
    out <<= 16
    return out.view(np.float32)


def _upcast(arr: np.ndarray, is_bf16: bool) -> np.ndarray:
    if is_bf16:
        return bf16_to_float32(arr)
    if arr.dtype == np.float16:
        return arr.astype(np.float32)
    return arr


# ---------------------------------------------------------------------------------- safetensors
def load_safetensors(path: PathLike) -> Dict[str, np.ndarray]:
    """Map a ``.safetensors`` file; returns name -> array (read-only views for f32 data)."""
    path = os.fspath(path)
    size = os.path.getsize(path)
    if size < 8:
        raise ValueError(f"{path}: not a safetensors file (only {size} bytes)")
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        if n > size - 8 or n > 100_000_000:
            raise ValueError(f"{path}: malformed safetensors header length {n} (file is {size} bytes)")
        header_bytes = f.read(n)
    try:
        header = json.loads(header_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: malformed safetensors JSON header: {e}") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path}: malformed safetensors header (not an object)")
    header.pop("__metadata__", None)
    data_start = 8 + n
    data_len = size - data_start
    buf: Any = b""
    if data_len > 0:
        with open(path, "rb") as f:
            buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    out: Dict[str, np.ndarray] = {}
    for name, info in header.items():
        try:
            dtype_name = info["dtype"]
            shape = tuple(int(s) for s in info["shape"])
            begin, end = (int(x) for x in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{path}: malformed safetensors entry for {name!r}: {info!r}") from None
        if dtype_name not in _SAFETENSORS_DTYPES:
            raise ValueError(f"{path}: tensor {name!r} has unsupported dtype {dtype_name!r}")
        dt = _SAFETENSORS_DTYPES[dtype_name]
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if any(s < 0 for s in shape) or not (0 <= begin <= end <= data_len) or end - begin != count * dt.itemsize:
            raise ValueError(
                f"{path}: tensor {name!r} data_offsets {[begin, end]} do not match dtype {dtype_name} "
                f"shape {list(shape)} within {data_len} data bytes"
            )
        if count == 0:
            arr = np.zeros(shape, dtype=dt)
        else:
            arr = np.frombuffer(buf, dtype=dt, count=count, offset=data_start + begin).reshape(shape)
        out[name] = _upcast(arr, dtype_name == "BF16")
    return out


# ---------------------------------------------------------------------------------- torch zip/pickle
class _StorageType:
    """Stand-in for ``torch.FloatStorage`` & co.: only records the element dtype."""

    def __init__(self, name: str, dtype: np.dtype, bf16: bool = False) -> None:
        self.name = name
        self.dtype = dtype
        self.bf16 = bf16

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"torch.{self.name}"


_STORAGE_TYPES = {
    name: _StorageType(name, np.dtype(dt), name == "BFloat16Storage")
    for name, dt in [
        ("DoubleStorage", "<f8"),
        ("FloatStorage", "<f4"),
        ("HalfStorage", "<f2"),
        ("BFloat16Storage", "<u2"),
        ("LongStorage", "<i8"),
        ("IntStorage", "<i4"),
        ("ShortStorage", "<i2"),
        ("CharStorage", "i1"),
        ("ByteStorage", "u1"),
        ("BoolStorage", "?"),
    ]
}


class _Storage:
    __slots__ = ("array", "bf16")

    def __init__(self, array: np.ndarray, bf16: bool) -> None:
        self.array = array
        self.bf16 = bf16


def _rebuild_tensor(storage: _Storage, offset: int, size: Tuple[int, ...], stride: Tuple[int, ...]) -> np.ndarray:
    if not isinstance(storage, _Storage):
        raise ValueError("malformed checkpoint: tensor rebuilt from something that is not a storage")
    size = tuple(int(s) for s in size)
    stride = tuple(int(s) for s in stride)
    offset = int(offset)
    base = storage.array
    if len(size) != len(stride) or offset < 0 or any(s < 0 for s in size) or any(s < 0 for s in stride):
        raise ValueError(f"malformed checkpoint: bad tensor geometry size={size} stride={stride} offset={offset}")
    if any(s == 0 for s in size):
        arr = np.zeros(size, dtype=base.dtype)
    else:
        last = offset + sum((n - 1) * st for n, st in zip(size, stride))
        if last >= base.size:
            raise ValueError(
                f"malformed checkpoint: tensor of size {size} stride {stride} offset {offset} "
                f"overruns its storage of {base.size} elements"
            )
        contiguous = []
        acc = 1
        for n in reversed(size):
            contiguous.append(acc)
            acc *= n
        if tuple(reversed(contiguous)) == stride or len(size) == 0:
            arr = base[offset : offset + int(np.prod(size, dtype=np.int64))].reshape(size)
        else:
            item = base.itemsize
            arr = np.lib.stride_tricks.as_strided(
                base[offset:], shape=size, strides=tuple(s * item for s in stride), writeable=False
            ).copy()
    return _upcast(arr, storage.bf16)


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):  # noqa: ANN001
    return _rebuild_tensor(storage, offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):  # noqa: ANN001
    if not isinstance(data, np.ndarray):
        raise ValueError("malformed checkpoint: parameter wraps something that is not a tensor")
    return data


def _rebuild_parameter_with_state(data, requires_grad=False, backward_hooks=None, state=None):  # noqa: ANN001
    return _rebuild_parameter(data)


def _rebuild_from_type_v2(func, new_type, args, state):  # noqa: ANN001
    # torch uses this for Tensor subclasses: func rebuilds, new_type is the subclass (only
    # torch.Tensor / torch.nn.Parameter are allowed through find_class).
    if func not in (_rebuild_tensor_v2, _rebuild_parameter, _rebuild_parameter_with_state):
        raise UnsafeCheckpointError("malformed checkpoint: _rebuild_from_type_v2 with a non-tensor rebuild function")
    return func(*args)


class _TensorClass:
    """Stand-in for ``torch.Tensor`` / ``torch.nn.Parameter`` as a *type marker* only."""


_ALLOWED_GLOBALS: Dict[Tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter_with_state,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
    ("torch", "Tensor"): _TensorClass,
    ("torch.nn.parameter", "Parameter"): _TensorClass,
}
_ALLOWED_GLOBALS.update({("torch", name): st for name, st in _STORAGE_TYPES.items()})


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, load_storage: Any, source: str) -> None:
        super().__init__(file)
        self._load_storage = load_storage
        self._source = source
        self._storages: Dict[str, _Storage] = {}

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafeCheckpointError(
                f"{self._source}: refusing to load global '{module}.{name}': only PyTorch tensor-rebuild "
                "globals are allowed in a checkpoint (the file may be malicious; convert it to safetensors "
                "with a trusted tool if you know where it comes from)"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise ValueError(f"{self._source}: malformed checkpoint: unknown persistent id {pid!r:.80}")
        storage_type, key, numel = pid[1], str(pid[2]), pid[4]
        if not isinstance(storage_type, _StorageType):
            raise ValueError(f"{self._source}: malformed checkpoint: storage of unknown type {storage_type!r:.80}")
        if key not in self._storages:
            raw = self._load_storage(key)
            dt = storage_type.dtype
            if len(raw) % dt.itemsize:
                raise ValueError(f"{self._source}: storage {key} size {len(raw)} is not a multiple of {dt.itemsize}")
            arr = np.frombuffer(raw, dtype=dt)
            if isinstance(numel, int) and arr.size < numel:
                raise ValueError(f"{self._source}: storage {key} holds {arr.size} elements, expected {numel}")
            self._storages[key] = _Storage(arr, storage_type.bf16)
        return self._storages[key]


def _zip_member_view(path: str, zf: zipfile.ZipFile, info: zipfile.ZipInfo, mm: Any) -> Any:
    """Bytes of a zip member: a zero-copy memoryview into the mapped file when stored uncompressed."""
    if info.compress_type == zipfile.ZIP_STORED and mm is not None:
        off = info.header_offset
        if mm[off : off + 4] != b"PK\x03\x04":
            raise ValueError(f"{path}: malformed zip local header for {info.filename}")
        name_len, extra_len = struct.unpack("<HH", mm[off + 26 : off + 30])
        start = off + 30 + name_len + extra_len
        if start + info.file_size > len(mm):
            raise ValueError(f"{path}: zip member {info.filename} overruns the file")
        return memoryview(mm)[start : start + info.file_size]
    return zf.read(info)


def load_pytorch_bin(path: PathLike) -> Dict[str, np.ndarray]:
    """Read a ``torch.save`` zip checkpoint safely (no torch, no code execution)."""
    path = os.fspath(path)
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path}: not a zip-format PyTorch checkpoint (the legacy pre-1.6 format is not supported; "
            "re-save it or convert it to safetensors)"
        )
    with open(path, "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        pkl = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
        if len(pkl) != 1:
            raise ValueError(f"{path}: malformed PyTorch checkpoint (expected one <prefix>/data.pkl, found {pkl})")
        prefix = pkl[0][: -len("data.pkl")]
        infos = {i.filename: i for i in zf.infolist()}

        def load_storage(key: str) -> Any:
            member = f"{prefix}data/{key}"
            if member not in infos:
                raise ValueError(f"{path}: malformed checkpoint: missing storage {member}")
            return _zip_member_view(path, zf, infos[member], mm)

        import io

        unpickler = _RestrictedUnpickler(io.BytesIO(zf.read(pkl[0])), load_storage, path)
        try:
            obj = unpickler.load()
        except UnsafeCheckpointError:
            raise
        except (pickle.UnpicklingError, EOFError, TypeError, AttributeError, IndexError, KeyError) as e:
            raise ValueError(f"{path}: malformed PyTorch checkpoint pickle: {e}") from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: checkpoint does not hold a state dict (got {type(obj).__name__})")
    out: Dict[str, np.ndarray] = {}
    for k, v in obj.items():
        if isinstance(v, np.ndarray):
            out[str(k)] = v
        else:
            raise ValueError(f"{path}: state dict entry {k!r} is not a tensor ({type(v).__name__})")
    return out


def load_state_dict(path: PathLike) -> Dict[str, np.ndarray]:
    """Load ``model.safetensors`` or ``pytorch_model.bin`` from a folder (or a file path)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        for fname, loader in (("model.safetensors", load_safetensors), ("pytorch_model.bin", load_pytorch_bin)):
            p = os.path.join(path, fname)
            if os.path.isfile(p):
                return loader(p)
        raise FileNotFoundError(f"{path}: no model.safetensors or pytorch_model.bin in this folder")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such checkpoint")
    if path.endswith(".safetensors"):
        return load_safetensors(path)
    return load_pytorch_bin(path)
