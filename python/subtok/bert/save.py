"""Write checkpoints transformers can load: ``config.json`` + ``model.safetensors`` (float32).

The safetensors layout: 8-byte little-endian header length, a JSON header (padded with spaces to a
multiple of 8 bytes) mapping each name to ``{"dtype", "shape", "data_offsets"}`` plus
``__metadata__ = {"format": "pt"}``, then the raw little-endian data. Tied weights are stored once,
as transformers does (the MLM decoder is the word-embedding matrix). Files are written to a
temporary name and renamed, so a failure never leaves a half-written checkpoint.
"""
from __future__ import annotations

import json
import os
import struct
from dataclasses import fields
from typing import Any, Dict, Mapping, Optional, Union

import numpy as np

from subtok.corpus import write_atomic

PathLike = Union[str, "os.PathLike[str]"]

_DTYPES = {np.dtype("<f4"): "F32", np.dtype("<f8"): "F64", np.dtype("<f2"): "F16", np.dtype("<i8"): "I64"}


def save_safetensors(path: PathLike, tensors: Mapping[str, np.ndarray], metadata: Optional[Dict[str, str]] = None) -> None:
    """Write ``tensors`` (name -> array of float32/float64/float16/int64) as a safetensors file."""
    path = os.fspath(path)
    header: Dict[str, Any] = {"__metadata__": dict(metadata or {"format": "pt"})}
    arrays = []
    offset = 0
    for name, arr in tensors.items():
        a = np.ascontiguousarray(arr)
        dt = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
        if dt not in _DTYPES:
            raise TypeError(f"tensor {name!r}: unsupported dtype {a.dtype}")
        a = a.astype(dt, copy=False)
        header[name] = {"dtype": _DTYPES[dt], "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        arrays.append(a)
        offset += a.nbytes
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * (-len(hb) % 8)

    def write(f: Any) -> None:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for a in arrays:
            f.write(memoryview(a).cast("B"))

    write_atomic(path, write)


def config_dict(model: Any) -> Dict[str, Any]:
    """The ``config.json`` contents of ``model`` (its config, its class as ``architectures``)."""
    cfg = model.config
    d: Dict[str, Any] = dict(cfg.extra)
    for f in fields(cfg):
        if f.name == "extra":
            continue
        d[f.name] = getattr(cfg, f.name)
    d["architectures"] = [type(model).__name__]
    d["model_type"] = "bert"
    n = d.pop("num_labels", None)
    if hasattr(model, "num_labels"):
        n = model.num_labels
    if n and not d.get("id2label"):
        d["id2label"] = {i: f"LABEL_{i}" for i in range(int(n))}
    if d.get("id2label"):
        d["id2label"] = {str(k): v for k, v in d["id2label"].items()}
        if not d.get("label2id"):
            d["label2id"] = {v: int(k) for k, v in d["id2label"].items()}
    else:
        d.pop("id2label", None)
        d.pop("label2id", None)
    d.setdefault("hidden_dropout_prob", 0.1)
    d.setdefault("attention_probs_dropout_prob", 0.1)
    d.setdefault("tie_word_embeddings", True)
    d["dtype"] = "float32"
    return d


def save_pretrained(model: Any, path: PathLike) -> None:
    """Write ``config.json`` + ``model.safetensors`` of a subtok BERT model into the folder ``path``."""
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise FileExistsError(f"{path}: exists and is not a folder")
    os.makedirs(path, exist_ok=True)
    state = model.state_dict()
    save_safetensors(os.path.join(path, "model.safetensors"), state)
    text = json.dumps(config_dict(model), indent=2, sort_keys=True) + "\n"
    write_atomic(os.path.join(path, "config.json"), lambda f: f.write(text.encode("utf-8")))
