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
import errno
import json
import mmap
import os
import pickle
import struct
import zipfile
import zlib
from typing import Any, Dict, Optional, Tuple, Union

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
_SAFETENSORS_MAX_HEADER = 100_000_000  # the safetensors library's limit


def _strict_uint(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def parse_safetensors(data: Any, source: str = "<safetensors>") -> Dict[str, np.ndarray]:
    """Tensors of a safetensors buffer (``bytes``, ``mmap``...), validated like the ``safetensors``
    library: the header is a JSON object of ``{dtype, shape, data_offsets}`` entries (plus an
    optional ``__metadata__`` of strings), and the entries' byte ranges, sorted, tile the data
    buffer exactly: no gap, no overlap, nothing left over, each range the size its dtype and shape
    give. Returns read-only views into ``data`` (f16/bf16 are upcast to float32 copies).
    """
    size = len(data)
    if size < 8:
        raise ValueError(f"{source}: not a safetensors file (only {size} bytes)")
    (n,) = struct.unpack("<Q", bytes(data[:8]))
    if n > size - 8 or n > _SAFETENSORS_MAX_HEADER:
        raise ValueError(f"{source}: malformed safetensors header length {n} (file is {size} bytes)")
    header_bytes = bytes(data[8 : 8 + n])
    if not header_bytes.startswith(b"{"):
        raise ValueError(f"{source}: malformed safetensors JSON header: it must start with '{{'")
    try:
        header = json.loads(header_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise ValueError(f"{source}: malformed safetensors JSON header: {e}") from None
    if not isinstance(header, dict):
        raise ValueError(f"{source}: malformed safetensors header (not an object)")
    meta = header.pop("__metadata__", None)
    if meta is not None and not (isinstance(meta, dict) and all(isinstance(v, str) for v in meta.values())):
        raise ValueError(f"{source}: malformed safetensors __metadata__ (must map str to str)")
    data_start = 8 + n
    data_len = size - data_start
    entries = []
    for name, info in header.items():
        ok = isinstance(info, dict) and isinstance(info.get("dtype"), str)
        shape, offsets = (info.get("shape"), info.get("data_offsets")) if ok else (None, None)
        ok = ok and isinstance(shape, list) and all(_strict_uint(s) for s in shape)
        ok = ok and isinstance(offsets, list) and len(offsets) == 2 and all(_strict_uint(x) for x in offsets)
        if not ok:
            raise ValueError(f"{source}: malformed safetensors entry for {name!r}: {info!r:.200}")
        if info["dtype"] not in _SAFETENSORS_DTYPES:
            raise ValueError(f"{source}: tensor {name!r} has unsupported dtype {info['dtype']!r}")
        entries.append((offsets[0], offsets[1], name, info["dtype"], tuple(shape)))
    entries.sort(key=lambda e: (e[0], e[1]))
    pos = 0
    for begin, end, name, dtype_name, shape in entries:
        count = 1
        for s in shape:
            count *= s  # Python ints: no overflow
        nbytes = count * _SAFETENSORS_DTYPES[dtype_name].itemsize
        if begin != pos or end - begin != nbytes:
            raise ValueError(
                f"{source}: invalid offset: tensor {name!r} data_offsets {[begin, end]} (dtype {dtype_name}, "
                f"shape {list(shape)}: {nbytes} bytes) must start at byte {pos}, right after the previous "
                "tensor (the tensors must tile the data buffer exactly)"
            )
        pos = end
    if pos != data_len:
        raise ValueError(
            f"{source}: invalid offset: the tensors cover {pos} bytes but the data buffer holds {data_len} "
            "(the tensors must tile the data buffer exactly)"
        )
    out: Dict[str, np.ndarray] = {}
    for begin, end, name, dtype_name, shape in entries:
        dt = _SAFETENSORS_DTYPES[dtype_name]
        if end == begin:
            arr = _empty(shape, dt, source)
        else:
            arr = np.frombuffer(data, dtype=dt, count=(end - begin) // dt.itemsize, offset=data_start + begin)
            arr = arr.reshape(shape)
        out[name] = _upcast(arr, dtype_name == "BF16")
    return out


def _regular_file(path: PathLike) -> str:
    """``path`` as str if it is a regular file; devices (``/dev/zero``) and folders are refused."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        if not os.path.exists(path):
            raise FileNotFoundError(errno.ENOENT, "no such checkpoint", path)
        if os.path.isdir(path):
            raise IsADirectoryError(errno.EISDIR, "a checkpoint file is expected, not a directory", path)
        raise ValueError(f"{path}: not a regular file")
    return path


def load_safetensors(path: PathLike) -> Dict[str, np.ndarray]:
    """Map a ``.safetensors`` file; returns name -> array (read-only views for f32 data).
    Raises ``ValueError`` for a file the ``safetensors`` library would reject (see
    :func:`parse_safetensors`)."""
    path = _regular_file(path)
    size = os.path.getsize(path)
    if size < 8:
        raise ValueError(f"{path}: not a safetensors file (only {size} bytes)")
    with open(path, "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    return parse_safetensors(mm, path)


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
    __slots__ = ("array", "bf16", "budget")

    def __init__(self, array: np.ndarray, bf16: bool, budget: "_Budget") -> None:
        self.array = array
        self.bf16 = bf16
        self.budget = budget


class _Budget:
    """Bytes the loader may still allocate for copies (strided tensors, upcasts, byte swaps):
    a multiple of the stored bytes, so that tensors sharing one storage cannot multiply it."""

    __slots__ = ("left", "source")

    def __init__(self, source: str) -> None:
        self.left = 64 << 20
        self.source = source

    def grant(self, stored: int) -> None:
        self.left += 4 * stored

    def spend(self, nbytes: int) -> None:
        self.left -= nbytes
        if self.left < 0:
            raise ValueError(
                f"{self.source}: malformed checkpoint: its tensors would need far more memory than the "
                "storages it holds (tensors re-reading the same storage)"
            )


def _empty(shape: Tuple[int, ...], dtype: np.dtype, source: str) -> np.ndarray:
    try:
        return np.zeros(shape, dtype=dtype)
    except (ValueError, OverflowError, MemoryError) as e:
        raise ValueError(f"{source}: malformed tensor shape {list(shape)}: {e}") from None


def _ints(xs: Any, what: str) -> Tuple[int, ...]:
    if isinstance(xs, int) and what == "offset":
        xs = (xs,)
    if not isinstance(xs, (tuple, list)) or not all(isinstance(x, int) and not isinstance(x, bool) for x in xs):
        raise ValueError(f"malformed checkpoint: tensor {what} must be integers, got {xs!r:.80}")
    return tuple(xs)


def _rebuild_tensor(storage: _Storage, offset: int, size: Tuple[int, ...], stride: Tuple[int, ...]) -> np.ndarray:
    if not isinstance(storage, _Storage):
        raise ValueError("malformed checkpoint: tensor rebuilt from something that is not a storage")
    size = _ints(size, "size")
    stride = _ints(stride, "stride")
    (offset,) = _ints(offset, "offset")
    base = storage.array
    if len(size) != len(stride) or offset < 0 or any(s < 0 for s in size) or any(s < 0 for s in stride):
        raise ValueError(f"malformed checkpoint: bad tensor geometry size={size} stride={stride} offset={offset}")
    numel = 1
    for n in size:
        numel *= n
    if numel == 0:
        arr = _empty(size, base.dtype, "malformed checkpoint")
    else:
        last = offset + sum((n - 1) * st for n, st in zip(size, stride))
        if last >= base.size:
            raise ValueError(
                f"malformed checkpoint: tensor of size {size} stride {stride} offset {offset} "
                f"overruns its storage of {base.size} elements"
            )
        # Strides may address only stored elements, each at most once: a tensor never holds more
        # elements than the storage it views (a stride-0 `expand` would otherwise inflate).
        if numel > base.size - offset:
            raise ValueError(
                f"malformed checkpoint: tensor of size {size} stride {stride} has {numel} elements but "
                f"addresses a storage of only {base.size - offset} (overlapping or zero strides)"
            )
        contiguous = []
        acc = 1
        for n in reversed(size):
            contiguous.append(acc)
            acc *= n
        if tuple(reversed(contiguous)) == stride or len(size) == 0:
            arr = base[offset : offset + numel].reshape(size)
        else:
            storage.budget.spend(numel * base.itemsize)
            item = base.itemsize
            arr = np.lib.stride_tricks.as_strided(
                base[offset:], shape=size, strides=tuple(s * item for s in stride), writeable=False
            ).copy()
    if not arr.dtype.isnative:
        storage.budget.spend(arr.nbytes)
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if storage.bf16 or arr.dtype == np.float16:
        storage.budget.spend(arr.size * 4)
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
    def __init__(self, file: Any, load_storage: Any, source: str, big_endian: bool = False) -> None:
        super().__init__(file)
        self._load_storage = load_storage
        self._source = source
        self._big_endian = big_endian
        self._storages: Dict[str, _Storage] = {}
        self._budget = _Budget(source)

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
        if not _strict_uint(numel):
            raise ValueError(f"{self._source}: malformed checkpoint: storage {key} has element count {numel!r:.40}")
        if key not in self._storages:
            dt = storage_type.dtype
            # the member's size must be exactly what the pickle declares (checked before reading)
            raw = self._load_storage(key, numel * dt.itemsize)
            if self._big_endian:
                dt = dt.newbyteorder(">")
            self._budget.grant(len(raw))
            self._storages[key] = _Storage(np.frombuffer(raw, dtype=dt), storage_type.bf16, self._budget)
        st = self._storages[key]
        if st.array.size != numel:
            raise ValueError(
                f"{self._source}: malformed checkpoint: storage {key} is declared with {numel} and "
                f"{st.array.size} elements"
            )
        return st


#: Memo opcodes that store at an index the pickle names.
_MEMO_PUTS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})


def _scan_pickle(data: bytes, source: str) -> None:
    """Refuse what makes CPython's C unpickler allocate more than the pickle holds, before any
    of it runs (``pickletools`` only reads what is there, so a walk of the opcodes is safe):

    * an opcode whose length is allocated before it is read (BINBYTES, BINBYTES8, BYTEARRAY8)
      declaring more bytes than the pickle has left (``genops`` raises), and BYTEARRAY8 at all
      (a state dict never needs it);
    * a memo store (PUT, BINPUT, LONG_BINPUT) at an index beyond the number of stores so far:
      the unpickler grows its memo array to twice the index and zero-fills it, so ``r`` plus a
      4-byte index would cost gigabytes. Picklers number their memo entries 0, 1, 2...

    Every other length-prefixed opcode reads only what the pickle holds, and every global
    (also through INST, OBJ, EXT*) goes through the allow-list of ``find_class``."""
    import pickletools

    puts = 0
    try:
        for op, arg, pos in pickletools.genops(data):
            if op.name == "BYTEARRAY8":
                raise ValueError(f"opcode BYTEARRAY8 at byte {pos} is not allowed")
            if op.name in _MEMO_PUTS:
                if not isinstance(arg, int) or not 0 <= arg <= puts:
                    raise ValueError(f"memo index {arg} at byte {pos} skips ahead of the {puts} entries stored so far")
                puts += 1
            elif op.name == "MEMOIZE":
                puts += 1
    except ValueError as e:
        msg = str(e)
        raise ValueError(msg if msg.startswith(source) else f"{source}: malformed checkpoint pickle: {msg}") from None


#: What the ``zipfile`` module raises for a malformed archive (its own ``is_zipfile`` lets
#: ``BadZipFile`` through, and struct/zlib errors surface from corrupt headers and members).
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, ValueError, EOFError, OverflowError,
               struct.error, zlib.error, RuntimeError)

#: The largest ``data.pkl`` read (a state dict's pickle takes a few hundred bytes per tensor).
_MAX_PICKLE_BYTES = 64 << 20


class _ZipReader:
    """Members of a ``torch.save`` zip, with every decompressed size checked before reading:
    a member must be exactly as large as the pickle declares, and inflating compressed members
    may add at most about the file's own size (torch never compresses; a zip bomb cannot pass)."""

    def __init__(self, path: str, zf: zipfile.ZipFile, mm: Any, file_size: int) -> None:
        self.path, self.zf, self.mm = path, zf, mm
        self.infos = {i.filename: i for i in zf.infolist()}
        self.inflation_left = max(file_size, 16 << 20)

    def read(self, member: str, expected: Optional[int], what: str) -> Any:
        info = self.infos.get(member)
        if info is None:
            raise ValueError(f"{self.path}: malformed checkpoint: missing {what} {member}")
        if expected is not None and info.file_size != expected:
            raise ValueError(
                f"{self.path}: malformed checkpoint: {what} {member} holds {info.file_size} bytes, "
                f"but the pickle declares {expected}"
            )
        if info.file_size > info.compress_size:
            self.inflation_left -= info.file_size - info.compress_size
            if self.inflation_left < 0:
                raise ValueError(
                    f"{self.path}: malformed checkpoint: {what} {member} inflates from {info.compress_size} "
                    f"to {info.file_size} bytes (a zip bomb?)"
                )
        try:
            return _zip_member_view(self.path, self.zf, info, self.mm)
        except (*_ZIP_ERRORS, OSError) as e:
            raise ValueError(f"{self.path}: malformed checkpoint: cannot read {member}: {e}") from None


def _zip_member_view(path: str, zf: zipfile.ZipFile, info: zipfile.ZipInfo, mm: Any) -> Any:
    """Bytes of a zip member: a zero-copy memoryview into the mapped file when stored uncompressed."""
    if info.compress_type == zipfile.ZIP_STORED and mm is not None and not info.flag_bits & 0x1:
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
    """Read a ``torch.save`` zip checkpoint safely (no torch, no code execution, bounded memory).

    Raises :class:`UnsafeCheckpointError` for a global outside the tensor-rebuild allow-list and
    ``ValueError`` for a malformed file: a storage whose size differs from the pickle's
    declaration, a tensor whose strides reach outside its storage or would hold more elements
    than it (stride 0), a compressed member that inflates far beyond the file, a corrupt zip.
    """
    path = _regular_file(path)
    try:
        is_zip = zipfile.is_zipfile(path)
    except _ZIP_ERRORS as e:
        raise ValueError(f"{path}: malformed zip checkpoint: {e}") from None
    if not is_zip:
        raise ValueError(
            f"{path}: not a zip-format PyTorch checkpoint (the legacy pre-1.6 format is not supported; "
            "re-save it or convert it to safetensors)"
        )
    with open(path, "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        zf = zipfile.ZipFile(path)
    except _ZIP_ERRORS as e:
        raise ValueError(f"{path}: malformed zip checkpoint: {e}") from None
    with zf:
        zr = _ZipReader(path, zf, mm, len(mm))
        pkl = [n for n in zr.infos if n.endswith("data.pkl") and n.count("/") == 1]
        if len(pkl) != 1:
            raise ValueError(f"{path}: malformed PyTorch checkpoint (expected one <prefix>/data.pkl, found {pkl})")
        prefix = pkl[0][: -len("data.pkl")]
        if zr.infos[pkl[0]].file_size > _MAX_PICKLE_BYTES:
            raise ValueError(
                f"{path}: malformed checkpoint: {pkl[0]} is {zr.infos[pkl[0]].file_size} bytes "
                f"(a state dict's pickle is far below {_MAX_PICKLE_BYTES})"
            )
        big_endian = False
        if prefix + "byteorder" in zr.infos:
            order = bytes(zr.read(prefix + "byteorder", None, "byte order record")[:16]).strip()
            if order not in (b"little", b"big"):
                raise ValueError(f"{path}: malformed checkpoint: unknown byte order {order!r}")
            big_endian = order == b"big"

        def load_storage(key: str, nbytes: int) -> Any:
            return zr.read(f"{prefix}data/{key}", nbytes, "storage")

        import io

        data = bytes(zr.read(pkl[0], None, "pickle"))
        _scan_pickle(data, path)
        unpickler = _RestrictedUnpickler(io.BytesIO(data), load_storage, path, big_endian)
        try:
            obj = unpickler.load()
        except (UnsafeCheckpointError, MemoryError):
            raise
        except Exception as e:  # any other failure of a hostile pickle is a malformed file
            msg = str(e) if str(e).startswith(path) else f"{path}: malformed PyTorch checkpoint pickle: {e}"
            raise ValueError(msg) from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: checkpoint does not hold a state dict (got {type(obj).__name__})")
    out: Dict[str, np.ndarray] = {}
    for k, v in obj.items():
        if isinstance(v, np.ndarray):
            out[str(k)] = v
        else:
            raise ValueError(f"{path}: state dict entry {k!r:.80} is not a tensor ({type(v).__name__})")
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
