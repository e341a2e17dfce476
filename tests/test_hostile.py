"""The hostile-input contract (issue #12): one row per bad input, with the exception it must raise.

Each row names its failure class (1 ids in loaded files, 2 checkpoints, 5 misuse; the runtime
classes 3, 4, 6 and 7 have their own rows or tests), builds its input under ``tmp_path`` and calls
subtok. The call must raise exactly the listed exception type (a subclass counts) with a message
matching ``match``; for a file, the message must also name the file. Nothing may crash, hang or
return a wrong answer instead. To add a row, append a ``Row`` to ``ROWS``.
"""
from __future__ import annotations

import base64
import collections
import io
import json
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import pytest

import subtok
from subtok.bert import UnsafeCheckpointError, load_pytorch_bin, load_safetensors

# ------------------------------------------------------------------ the table


@dataclass
class Row:
    id: str
    cls: int
    #: build the input in the folder and return (the call, the file it must name or None)
    make: Callable[[Path], "tuple[Callable[[], Any], Optional[Path]]"]
    raises: type
    match: str


ROWS: List[Row] = []


def row(id: str, cls: int, raises: type, match: str) -> Callable:
    def deco(make: Callable) -> Callable:
        ROWS.append(Row(id, cls, make, raises, match))
        return make

    return deco


# ------------------------------------------------------------------ inputs
TEXTS = ["the cat sat on the mat, unaffable!", "Héllo wörld 東京 123 don't"] * 20
_BASE: Dict[str, dict] = {}


def base_json(kind: str) -> dict:
    """A valid tokenizer.json (``wordpiece`` or ``bpe``), trained once, as a fresh dict."""
    if kind not in _BASE:
        tok = subtok.train(TEXTS, model=kind, vocab_size=60 if kind == "wordpiece" else 280, show_progress=False)
        j = json.loads(tok.to_str())
        if not j["added_tokens"]:
            j["added_tokens"] = [{"id": max(j["model"]["vocab"].values()) + 1, "content": "<|endoftext|>",
                                  "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
                                  "special": True}]
        _BASE[kind] = j
    return json.loads(json.dumps(_BASE[kind]))


def json_file(d: Path, kind: str, edit: Callable[[dict], Any]) -> "tuple[Callable[[], Any], Path]":
    j = base_json(kind)
    edit(j)
    p = d / "tokenizer.json"
    p.write_text(json.dumps(j))
    return (lambda: subtok.Tokenizer.from_file(p)), p


def tiktoken_text(extra: str = "") -> str:
    return "".join(f"{base64.b64encode(bytes([b])).decode()} {b}\n" for b in range(256)) + extra


def tiktoken_file(d: Path, extra: str, specials: Optional[dict] = None) -> "tuple[Callable[[], Any], Path]":
    p = d / "x.tiktoken"
    p.write_text(tiktoken_text(extra))
    return (lambda: subtok.Tokenizer.from_tiktoken(p, "cl100k_base", specials)), p


def gpt2_files(d: Path, vocab_edit: Callable[[dict], Any]) -> "tuple[Callable[[], Any], Path]":
    j = base_json("bpe")
    vocab = j["model"]["vocab"]
    vocab_edit(vocab)
    v, m = d / "vocab.json", d / "merges.txt"
    v.write_text(json.dumps(vocab))
    m.write_text("#version: 0.2\n" + "\n".join(" ".join(x) if isinstance(x, list) else x for x in j["model"]["merges"]))
    return (lambda: subtok.Tokenizer.from_gpt2_files(v, m)), v


def _set(path: str, value: Any) -> Callable[[dict], None]:
    """An edit that sets ``a.b.c`` (list indices as numbers) to ``value``."""

    def edit(j: dict) -> None:
        keys = [int(k) if k.isdigit() else k for k in path.split(".")]
        for k in keys[:-1]:
            j = j[k]
        j[keys[-1]] = value

    return edit


def _first_vocab(kind: str, value: Any) -> Callable[[dict], None]:
    def edit(j: dict) -> None:
        tok = next(iter(j["model"]["vocab"]))
        j["model"]["vocab"][tok] = value

    return edit


# ---------------------------------------------------------------- class 1: ids in loaded files
BAD_IDS = {"2**31": 2**31, "2**26": 2**26, "2**32+3": 2**32 + 3, "-1": -1, "1.5": 1.5, "str": "3"}
for _kind in ("wordpiece", "bpe"):
    for _name, _v in BAD_IDS.items():
        row(f"json-{_kind}-vocab-id-{_name}", 1, subtok.TokenizerFileError, r"model\.vocab\[")(
            lambda d, k=_kind, v=_v: json_file(d, k, _first_vocab(k, v))
        )
        row(f"json-{_kind}-added-id-{_name}", 1, subtok.TokenizerFileError, r"added_tokens\[0\]\.id")(
            lambda d, k=_kind, v=_v: json_file(d, k, _set("added_tokens.0.id", v))
        )
    row(f"json-{_kind}-pad-id-2**32", 1, subtok.TokenizerFileError, r"padding\.pad_id")(
        lambda d, k=_kind: json_file(d, k, _set("padding", {"strategy": "BatchLongest", "direction": "Right",
                                                            "pad_to_multiple_of": None, "pad_id": 2**32,
                                                            "pad_type_id": 0, "pad_token": "[PAD]"}))
    )
    row(f"json-{_kind}-pad-type-id-neg", 1, subtok.TokenizerFileError, r"padding\.pad_type_id")(
        lambda d, k=_kind: json_file(d, k, _set("padding", {"pad_type_id": -1}))
    )
row("json-wordpiece-bert-processing-id-2**32+1", 1, subtok.TokenizerFileError, r"post_processor\.sep\[1\]")(
    lambda d: json_file(d, "wordpiece", _set("post_processor", {"type": "BertProcessing", "sep": ["[SEP]", 2**32 + 1],
                                                               "cls": ["[CLS]", 2]}))
)
row("json-wordpiece-template-ids-2**31", 1, subtok.TokenizerFileError, r"special_tokens\[\"\[CLS\]\"\]\.ids\[0\]")(
    lambda d: json_file(d, "wordpiece", _set("post_processor.special_tokens.[CLS].ids", [2**31]))
)
row("json-wordpiece-template-type-id-2**32", 1, subtok.TokenizerFileError, r"post_processor\.single\[0\].*type_id")(
    lambda d: json_file(d, "wordpiece", _set("post_processor.single.0.SpecialToken.type_id", 2**32))
)
for _name, _v in [("2**31", 2**31), ("2**32+3", 2**32 + 3), ("-1", -1)]:
    row(f"tiktoken-rank-{_name}", 1, subtok.TokenizerFileError, "line 257")(
        lambda d, v=_v: tiktoken_file(d, f"YWI= {v}\n")
    )
    row(f"vocab.json-id-{_name}", 1, subtok.TokenizerFileError, "token")(
        lambda d, v=_v: gpt2_files(d, lambda vocab, v=v: vocab.__setitem__(next(iter(vocab)), v))
    )
row("tiktoken-special-id-2**31 (argument)", 1, ValueError, "special_tokens")(
    lambda d: (tiktoken_file(d, "", {"<|endoftext|>": 2**31})[0], None)
)
row("tiktoken-special-id-2**32+3 (argument)", 1, ValueError, "special_tokens")(
    lambda d: (tiktoken_file(d, "", {"<|endoftext|>": 2**32 + 3})[0], None)
)


# ---------------------------------------------------------------- class 5: misuse
def _wp() -> subtok.Tokenizer:
    return subtok.Tokenizer.from_str(json.dumps(base_json("wordpiece")))


def _bpe() -> subtok.Tokenizer:
    return subtok.Tokenizer.from_str(json.dumps(base_json("bpe")))


def _with_pad(tok: subtok.Tokenizer) -> subtok.Tokenizer:
    if tok.pad_token is None:
        tok.pad_token = "<|endoftext|>"
    return tok


for _kind, _mk in (("wordpiece", _wp), ("bpe", _bpe)):
    row(f"{_kind}-encode_batch-single-str", 5, TypeError, "single str")(
        lambda d, mk=_mk: ((lambda: mk().encode_batch("abc")), None)
    )
    row(f"{_kind}-encode_batch_flat-single-str", 5, TypeError, "single str")(
        lambda d, mk=_mk: ((lambda: mk().encode_batch_flat("abc")), None)
    )
    row(f"{_kind}-encode_batch-lone-surrogate", 5, UnicodeEncodeError, "batch item 1")(
        lambda d, mk=_mk: ((lambda: mk().encode_batch(["ok", "a\ud800b"])), None)
    )
    row(f"{_kind}-encode_batch-pair-lone-surrogate", 5, UnicodeEncodeError, r"batch item 0\[1\]")(
        lambda d, mk=_mk: ((lambda: mk().encode_batch([("ok", "a\udfffb")])), None)
    )
    row(f"{_kind}-encode_batch_flat-lone-surrogate", 5, UnicodeEncodeError, "batch item 2")(
        lambda d, mk=_mk: ((lambda: mk().encode_batch_flat(["ok", "fine", "\ud800"])), None)
    )
    row(f"{_kind}-encode-lone-surrogate", 5, UnicodeEncodeError, "surrogates")(
        lambda d, mk=_mk: ((lambda: mk().encode("a\ud800b")), None)
    )
    row(f"{_kind}-encode_batch-bytes-item", 5, TypeError, "bytes|str")(
        lambda d, mk=_mk: ((lambda: mk().encode_batch([b"abc"])), None)
    )
    row(f"{_kind}-enable_truncation-negative", 5, ValueError, "max_length")(
        lambda d, mk=_mk: ((lambda: mk().enable_truncation(-1)), None)
    )
    row(f"{_kind}-enable_padding-negative-length", 5, ValueError, "length")(
        lambda d, mk=_mk: ((lambda: mk().enable_padding(length=-5)), None)
    )
    row(f"{_kind}-enable_padding-pad_id-2**32", 5, ValueError, "pad_id")(
        lambda d, mk=_mk: ((lambda: mk().enable_padding(pad_id=2**32)), None)
    )
    row(f"{_kind}-enable_truncation-str", 5, TypeError, "max_length")(
        lambda d, mk=_mk: ((lambda: mk().enable_truncation("5")), None)
    )
    row(f"{_kind}-decode-negative-id", 5, IndexError, "-1")(
        lambda d, mk=_mk: ((lambda: mk().decode([-1])), None)
    )
    # found by fuzzing tok(...) and friends (fuzz/python/fuzz_tok_call.py): ints beyond 64 bits
    # were OverflowError, absurd padding lengths a capacity-overflow panic or an abort
    row(f"{_kind}-decode-id-2**64", 5, IndexError, "18446744073709551616")(
        lambda d, mk=_mk: ((lambda: mk().decode([5, 2**64])), None)
    )
    row(f"{_kind}-decode-id-minus-2**70", 5, IndexError, "not in the vocabulary")(
        lambda d, mk=_mk: ((lambda: mk().decode([-(2**70)])), None)
    )
    row(f"{_kind}-call-max_length-2**64", 5, ValueError, "max_length")(
        lambda d, mk=_mk: ((lambda: mk()("abc", max_length=2**64)), None)
    )
    row(f"{_kind}-call-pad_to_multiple_of-2**64", 5, ValueError, "pad_to_multiple_of")(
        lambda d, mk=_mk: ((lambda: mk()("abc", padding=True, pad_to_multiple_of=2**64)), None)
    )
    row(f"{_kind}-call-pad-to-max_length-2**40", 5, ValueError, "limit")(
        lambda d, mk=_mk: ((lambda: _with_pad(mk())("abc", padding="max_length", max_length=2**40)), None)
    )
    row(f"{_kind}-enable_padding-length-2**62", 5, ValueError, "limit")(
        lambda d, mk=_mk: ((lambda: mk().enable_padding(length=2**62)), None)
    )
    row(f"{_kind}-enable_padding-pad_to_multiple_of-2**40", 5, ValueError, "limit")(
        lambda d, mk=_mk: ((lambda: mk().enable_padding(pad_to_multiple_of=2**40)), None)
    )
    row(f"{_kind}-Encoding.pad-2**40", 5, ValueError, "limit")(
        lambda d, mk=_mk: ((lambda: mk().encode("abc").pad(2**40)), None)
    )
    row(f"{_kind}-save-into-directory-path", 5, IsADirectoryError, "Is a directory")(
        lambda d, mk=_mk: ((lambda: mk().save(d)), d)
    )
row("from_file-directory", 5, IsADirectoryError, "Is a directory")(
    lambda d: ((lambda: subtok.Tokenizer.from_file(d)), d)
)
row("wordpiece-call-lone-surrogate", 5, UnicodeEncodeError, "batch item 1")(
    lambda d: ((lambda: _wp()(["a", "\ud800"])), None)
)
row("from_vocab-directory", 5, IsADirectoryError, "Is a directory")(lambda d: ((lambda: subtok.Tokenizer.from_vocab(d)), d))
row("from_gpt2_files-directory", 5, IsADirectoryError, "Is a directory")(
    lambda d: ((lambda: subtok.Tokenizer.from_gpt2_files(d, d)), d)
)
row("from_file-device", 1, OSError, "not a regular file")(
    lambda d: ((lambda: subtok.Tokenizer.from_file("/dev/zero")), None)
)
row("from_vocab-device", 1, OSError, "not a regular file")(
    lambda d: ((lambda: subtok.Tokenizer.from_vocab("/dev/zero")), None)
)
row("train-list-with-directory", 5, IsADirectoryError, "directory")(
    lambda d: ((lambda: subtok.train([str(d)], show_progress=False)), d)
)
row("train-directory-str", 5, IsADirectoryError, "directory")(
    lambda d: ((lambda: subtok.train(str(d), show_progress=False)), d)
)
row("train-lone-surrogate", 5, UnicodeEncodeError, "batch item 1")(
    lambda d: ((lambda: subtok.train(["abc", "a\ud800"], show_progress=False)), None)
)
row("tiktoken-special-id-negative (argument)", 5, ValueError, "special_tokens")(
    lambda d: (tiktoken_file(d, "", {"<|endoftext|>": -1})[0], None)
)
row("tiktoken-special-tokens-not-a-dict", 5, TypeError, "special_tokens")(
    lambda d: (tiktoken_file(d, "", ["<|endoftext|>"])[0], None)
)

# wrong JSON field types (HF tokenizers rejects every one of these files too)
WRONG_TYPES = [
    ("wordpiece", "model.continuing_subword_prefix", 5),
    ("wordpiece", "model.continuing_subword_prefix", None),
    ("wordpiece", "model.unk_token", 0),
    ("wordpiece", "model.max_input_chars_per_word", 1.5),
    ("wordpiece", "model.max_input_chars_per_word", -1),
    ("wordpiece", "normalizer.lowercase", "yes"),
    ("wordpiece", "normalizer.strip_accents", 1),
    ("wordpiece", "decoder.prefix", 3),
    ("wordpiece", "decoder.cleanup", None),
    ("wordpiece", "added_tokens.0.special", "yes"),
    ("wordpiece", "added_tokens.0.content", 7),
    ("wordpiece", "version", "2.0"),
    ("wordpiece", "truncation", {"max_length": -1}),
    ("wordpiece", "truncation", {"max_length": 5, "stride": "2"}),
    ("wordpiece", "padding", {"pad_token": 5}),
    ("wordpiece", "padding", {"strategy": {"Fixed": -3}, "direction": "Right", "pad_id": 0, "pad_type_id": 0,
                              "pad_token": "[PAD]"}),
    ("wordpiece", "pre_tokenizer", 5),
    ("bpe", "model.dropout", "0.1"),
    ("bpe", "model.ignore_merges", "no"),
    ("bpe", "model.continuing_subword_prefix", 1),
    ("bpe", "model.merges", "a b"),
    ("bpe", "pre_tokenizer.add_prefix_space", "no"),
    ("bpe", "decoder.trim_offsets", 0),
    ("bpe", "post_processor.add_prefix_space", []),
    ("bpe", "added_tokens", {"id": 0}),
]
for _kind, _path, _v in WRONG_TYPES:
    _field = _path.split(".")[0] if _path.startswith(("truncation", "padding")) else _path
    _pattern = r"\.".join(x if not x.isdigit() else rf"\[{x}\]" for x in _field.split(".")).replace(r"\.\[", r"\[")
    row(f"json-{_kind}-{_path}={_v!r}", 5, subtok.TokenizerFileError, _pattern)(
        lambda d, k=_kind, p=_path, v=_v: json_file(d, k, _set(p, v))
    )


# fields HF tokenizers requires (no default): subtok refuses the file too
for _kind, _path, _drop in [("wordpiece", "added_tokens.0", "special"), ("bpe", "added_tokens.0", "normalized")]:
    row(f"json-{_kind}-{_path}-without-{_drop}", 5, subtok.TokenizerFileError, rf"added_tokens\[0\]\.{_drop} is missing")(
        lambda d, k=_kind, f=_drop: json_file(d, k, lambda j: j["added_tokens"][0].pop(f))
    )
row("json-truncation-without-stride", 5, subtok.TokenizerFileError, r"truncation\.stride is missing")(
    lambda d: json_file(d, "wordpiece", _set("truncation", {"max_length": 5, "strategy": "LongestFirst"}))
)
row("json-padding-fixed-2**40", 1, subtok.TokenizerFileError, "padding length")(
    lambda d: json_file(d, "wordpiece", _set("padding", {"strategy": {"Fixed": 2**40}, "direction": "Right",
                                                         "pad_to_multiple_of": None, "pad_id": 0, "pad_type_id": 0,
                                                         "pad_token": "[PAD]"}))
)
row("json-padding-pad_to_multiple_of-2**40", 1, subtok.TokenizerFileError, "pad_to_multiple_of")(
    lambda d: json_file(d, "bpe", _set("padding", {"strategy": "BatchLongest", "direction": "Right",
                                                   "pad_to_multiple_of": 2**40, "pad_id": 0, "pad_type_id": 0,
                                                   "pad_token": "[PAD]"}))
)
row("json-padding-without-pad_token", 5, subtok.TokenizerFileError, r"padding\.pad_token is missing")(
    lambda d: json_file(d, "bpe", _set("padding", {"strategy": "BatchLongest", "direction": "Right", "pad_id": 0,
                                                   "pad_type_id": 0}))
)


# ---------------------------------------------------------------- class 2: checkpoints
def safetensors_bytes(header: dict, data: bytes) -> bytes:
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


def st_file(d: Path, header: dict, data: bytes, raw: Optional[bytes] = None) -> "tuple[Callable[[], Any], Path]":
    p = d / "model.safetensors"
    p.write_bytes(raw if raw is not None else safetensors_bytes(header, data))
    return (lambda: load_safetensors(p)), p


F32_4 = {"dtype": "F32", "shape": [4]}
SAFETENSORS_BAD = {
    "overlap": ({"a": {**F32_4, "data_offsets": [0, 16]}, "b": {**F32_4, "data_offsets": [8, 24]}}, 24, "invalid offset"),
    "gap": ({"a": {**F32_4, "data_offsets": [0, 16]}, "b": {**F32_4, "data_offsets": [20, 36]}}, 36, "invalid offset"),
    "trailing-bytes": ({"a": {**F32_4, "data_offsets": [0, 16]}}, 32, "tile"),
    "not-from-zero": ({"a": {**F32_4, "data_offsets": [16, 32]}}, 32, "invalid offset"),
    "same-range-twice": ({"a": {**F32_4, "data_offsets": [0, 16]}, "b": {**F32_4, "data_offsets": [0, 16]}}, 16, "invalid offset"),
    "size-mismatch": ({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 16]}}, 16, "invalid offset"),
    "shape-overflow": ({"a": {"dtype": "F32", "shape": [2**32, 2**32], "data_offsets": [0, 0]}}, 0, "invalid offset"),
    "beyond-file": ({"a": {"dtype": "F32", "shape": [2**20], "data_offsets": [0, 2**22]}}, 16, "invalid offset"),
    "float-shape": ({"a": {"dtype": "F32", "shape": [4.0], "data_offsets": [0, 16]}}, 16, "malformed safetensors entry"),
    "str-offset": ({"a": {"dtype": "F32", "shape": [4], "data_offsets": ["0", 16]}}, 16, "malformed safetensors entry"),
    "bool-shape": ({"a": {"dtype": "F32", "shape": [True], "data_offsets": [0, 4]}}, 4, "malformed safetensors entry"),
    "negative-shape": ({"a": {"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]}}, 16, "malformed safetensors entry"),
    "three-offsets": ({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16, 16]}}, 16, "malformed safetensors entry"),
    "unknown-dtype": ({"a": {"dtype": "F33", "shape": [4], "data_offsets": [0, 16]}}, 16, "dtype"),
    "metadata-not-str": ({"__metadata__": {"a": 1}}, 0, "__metadata__"),
}
for _name, (_h, _n, _m) in SAFETENSORS_BAD.items():
    row(f"safetensors-{_name}", 2, ValueError, _m)(lambda d, h=_h, n=_n: st_file(d, h, b"\0" * n))
row("safetensors-header-not-an-object-start", 2, ValueError, "start with")(
    lambda d: st_file(d, {}, b"", raw=struct.pack("<Q", 4) + b" {} ")
)
row("safetensors-header-length-beyond-file", 2, ValueError, "header length")(
    lambda d: st_file(d, {}, b"", raw=struct.pack("<Q", 2**40) + b"{}")
)


class _StorageRef:
    def __init__(self, key: str, stype: str, numel: int) -> None:
        self.key, self.stype, self.numel = key, stype, numel


class _T:
    def __init__(self, ref: Any, offset: Any, size: Any, stride: Any) -> None:
        self.ref, self.offset, self.size, self.stride = ref, offset, size, stride


def torch_bin(d: Path, state: Dict[str, _T], storages: Dict[str, bytes], *, compress: bool = False,
              byteorder: str = "little", pkl: Optional[bytes] = None) -> Path:
    p = d / "pytorch_model.bin"
    payload = pkl if pkl is not None else _dump(state)
    with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/data.pkl", payload)
        zf.writestr("archive/byteorder", byteorder)
        for key, data in storages.items():
            zf.writestr("archive/data/" + key, data)
    return p


def _dump(state: Dict[str, _T]) -> bytes:
    """A protocol-2 pickle of ``state`` as torch writes it, spelled out opcode by opcode (so that
    rows can put anything in the tensor geometry)."""
    out = io.BytesIO()
    w = out.write
    w(b"\x80\x02")  # PROTO 2
    w(b"ccollections\nOrderedDict\nq\x00)R")  # GLOBAL OrderedDict, EMPTY_TUPLE, REDUCE
    for name, t in state.items():
        enc = name.encode()
        w(b"X" + struct.pack("<I", len(enc)) + enc)  # BINUNICODE key
        w(b"ctorch._utils\n_rebuild_tensor_v2\n(")  # GLOBAL, MARK
        ref = t.ref
        w(b"(X\x07\x00\x00\x00storagectorch\n" + ref.stype.encode() + b"\n")
        for s in (ref.key, "cpu"):
            w(b"X" + struct.pack("<I", len(s)) + s.encode())
        w(_int(ref.numel) + b"tQ")  # TUPLE, BINPERSID
        w(_obj(t.offset) + _obj(t.size) + _obj(t.stride))
        w(b"\x89ccollections\nOrderedDict\n)Rt")  # NEWFALSE, OrderedDict(), TUPLE
        w(b"R")  # REDUCE
        w(b"s")  # SETITEM
    w(b".")
    return out.getvalue()


def _int(v: Any) -> bytes:
    if isinstance(v, bool):
        return b"\x88" if v else b"\x89"
    if isinstance(v, str):
        return b"X" + struct.pack("<I", len(v)) + v.encode()
    if isinstance(v, float):
        return b"G" + struct.pack(">d", v)
    raw = v.to_bytes((v.bit_length() + 8) // 8 or 1, "little", signed=True)
    return b"\x8a" + bytes([len(raw)]) + raw  # LONG1


def _obj(v: Any) -> bytes:
    if isinstance(v, tuple):
        return b"(" + b"".join(_obj(x) for x in v) + b"t"
    return _int(v)


def f32(n: int) -> bytes:
    return np.arange(n, dtype="<f4").tobytes()


def ref(key: str, numel: int, stype: str = "FloatStorage") -> _StorageRef:
    return _StorageRef(key, stype, numel)


def bin_row(name: str, match: str, build: Callable[[Path], Path], raises: type = ValueError) -> None:
    def make(d: Path) -> "tuple[Callable[[], Any], Path]":
        p = build(d)
        return (lambda: load_pytorch_bin(p)), p

    row(f"bin-{name}", 2, raises, match)(make)


bin_row("member-larger-than-declared", "declares", lambda d: torch_bin(
    d, {"w": _T(ref("0", 4), 0, (4,), (1,))}, {"0": f32(1 << 16)}, compress=True))
bin_row("member-smaller-than-declared", "declares", lambda d: torch_bin(
    d, {"w": _T(ref("0", 64), 0, (64,), (1,))}, {"0": f32(4)}))
bin_row("consistent-zip-bomb", "inflates", lambda d: torch_bin(
    d, {"w": _T(ref("0", 1 << 23), 0, (1 << 23,), (1,))}, {"0": bytes(1 << 25)}, compress=True))
bin_row("pickle-zip-bomb", "data.pkl is", lambda d: torch_bin(
    d, {}, {}, compress=True, pkl=b"\x80\x02]" + b"N" * (65 << 20) + b"."))
bin_row("stride-0-expand", "overlapping or zero strides", lambda d: torch_bin(
    d, {"w": _T(ref("0", 1), 0, (32768, 32768), (0, 0))}, {"0": f32(1)}))
bin_row("overlapping-strides", "overlapping or zero strides", lambda d: torch_bin(
    d, {"w": _T(ref("0", 64), 0, (64, 64), (1, 0))}, {"0": f32(64)}))
bin_row("stride-overruns-storage", "overruns", lambda d: torch_bin(
    d, {"w": _T(ref("0", 16), 0, (4, 4), (1, 5))}, {"0": f32(16)}))
bin_row("offset-overruns-storage", "overruns", lambda d: torch_bin(
    d, {"w": _T(ref("0", 16), 15, (4,), (1,))}, {"0": f32(16)}))
bin_row("negative-offset", "geometry", lambda d: torch_bin(
    d, {"w": _T(ref("0", 16), -1, (4,), (1,))}, {"0": f32(16)}))
bin_row("str-size", "integers", lambda d: torch_bin(
    d, {"w": _T(ref("0", 16), 0, ("4",), (1,))}, {"0": f32(16)}))
bin_row("float-stride", "integers", lambda d: torch_bin(
    d, {"w": _T(ref("0", 16), 0, (4,), (1.0,))}, {"0": f32(16)}))
bin_row("bool-numel", "element count", lambda d: torch_bin(
    d, {"w": _T(ref("0", True), 0, (1,), (1,))}, {"0": f32(1)}))
bin_row("storage-declared-twice-differently", "declared", lambda d: torch_bin(
    d, {"a": _T(ref("0", 16), 0, (16,), (1,)), "b": _T(ref("0", 8), 0, (8,), (1,))}, {"0": f32(16)}))
bin_row("shared-storage-copied-many-times", "far more memory", lambda d: torch_bin(
    d, {f"w{i}": _T(ref("0", 1 << 20), 0, (1024, 1024), (1, 1024)) for i in range(64)}, {"0": f32(1 << 20)}))
bin_row("unknown-byteorder", "byte order", lambda d: torch_bin(
    d, {"w": _T(ref("0", 4), 0, (4,), (1,))}, {"0": f32(4)}, byteorder="middle"))
bin_row("missing-storage", "missing", lambda d: torch_bin(
    d, {"w": _T(ref("1", 4), 0, (4,), (1,))}, {"0": f32(4)}))
bin_row("global-os-system", "refusing", lambda d: torch_bin(
    d, {}, {}, pkl=b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00trueq\x00\x85R."), raises=UnsafeCheckpointError)
bin_row("bytearray8-claims-1-TiB", "(?i)bytearray8", lambda d: torch_bin(
    d, {}, {}, pkl=b"\x80\x05\x96" + struct.pack("<Q", 1 << 40) + b"."))
bin_row("truncated-pickle", "malformed", lambda d: torch_bin(d, {}, {}, pkl=b"\x80\x02}q\x00"))
bin_row("not-a-state-dict", "state dict", lambda d: torch_bin(d, {}, {}, pkl=b"\x80\x02K\x05."))


def _corrupt_crc(d: Path) -> Path:
    p = torch_bin(d, {"w": _T(ref("0", 1024), 0, (1024,), (1,))}, {"0": f32(1024)}, compress=True)
    raw = bytearray(p.read_bytes())
    i = raw.find(b"archive/data/0") + len("archive/data/0") + 40  # inside the deflated member
    raw[i] ^= 0xFF
    p.write_bytes(bytes(raw))
    return p


bin_row("corrupt-member", "malformed", _corrupt_crc)


def _spanning_disks(d: Path) -> Path:
    """A zip64 locator claiming two disks: ``zipfile.is_zipfile`` raises ``BadZipFile`` (atheris)."""
    p = torch_bin(d, {"w": _T(ref("0", 4), 0, (4,), (1,))}, {"0": f32(4)})
    raw = p.read_bytes()
    eocd = raw.rfind(b"PK\x05\x06")
    p.write_bytes(raw[:eocd] + b"PK\x06\x07" + struct.pack("<LQL", 0, 0, 2) + raw[eocd:])
    return p


bin_row("zip-spanning-disks", "malformed zip", _spanning_disks)
# Pickles that make CPython's C unpickler allocate before it reads (atheris): a memo store at a
# far index (the memo array grows to twice it, zero-filled: 1 GB for these 10 bytes), bytes
# whose declared length is allocated first.
bin_row("pickle-memo-index-2**26", "memo index", lambda d: torch_bin(
    d, {}, {}, pkl=b"\x80\x02Nr" + struct.pack("<I", 1 << 26) + b"."))
bin_row("pickle-memo-put-text-index", "memo index", lambda d: torch_bin(d, {}, {}, pkl=b"\x80\x02Np67108864\n."))
bin_row("pickle-binbytes8-claims-1-TiB", r"bytes8, but only", lambda d: torch_bin(
    d, {}, {}, pkl=b"\x80\x05\x8e" + struct.pack("<Q", 1 << 40) + b"."))
bin_row("pickle-binbytes-claims-4-GiB", r"bytes4, but only", lambda d: torch_bin(
    d, {}, {}, pkl=b"\x80\x03B" + struct.pack("<I", 2**32 - 1) + b"."))
row("bin-device", 2, ValueError, "not a regular file")(lambda d: ((lambda: load_pytorch_bin("/dev/zero")), None))
row("safetensors-device", 2, ValueError, "not a regular file")(lambda d: ((lambda: load_safetensors("/dev/zero")), None))
row("bin-directory", 2, IsADirectoryError, "directory")(lambda d: ((lambda: load_pytorch_bin(d)), d))


# ---------------------------------------------------------------- class 2: token shards
def shards_dir(d: Path, edit: Callable[[dict], Any], ids: Any = None, offsets: Any = None) -> "tuple[Callable[[], Any], Path]":
    """A one-shard ``TokenDataset`` folder (3 documents, 6 tokens), its manifest edited by ``edit``
    (found by fuzz/python/fuzz_token_shards.py: a shard entry without ``ids`` was a ``KeyError``)."""
    from subtok.corpus import FORMAT, MANIFEST, TokenDataset

    np.save(d / "s.ids.npy", np.arange(6, dtype=np.uint16) if ids is None else ids)
    np.save(d / "s.offsets.npy", np.array([0, 2, 2, 6], dtype=np.int64) if offsets is None else offsets)
    m = {"format": FORMAT, "version": 1, "dtype": "uint16", "complete": True, "tokens": 6, "documents": 3,
         "shards": [{"index": 0, "ids": "s.ids.npy", "offsets": "s.offsets.npy", "tokens": 6, "documents": 3}]}
    edit(m)
    (d / MANIFEST).write_text(json.dumps(m))
    return (lambda: TokenDataset(d)), None


SHARDS_BAD = {
    "entry-without-ids": (lambda m: m["shards"][0].pop("ids"), None, None, "ids must name a file"),
    "path-outside-the-folder": (_set("shards.0.ids", "../s.ids.npy"), None, None, "ids must name a file"),
    "absolute-path": (_set("shards.0.offsets", "/etc/passwd"), None, None, "offsets must name a file"),
    "dtype-float": (_set("dtype", "float32"), None, None, "not an integer type"),
    "dtype-not-a-str": (_set("dtype", 5), None, None, "not an integer type"),
    "shards-not-a-list": (_set("shards", {"a": 1}), None, None, "must be a list"),
    "entry-not-an-object": (_set("shards", [5]), None, None, "not an object"),
    "offsets-falling": (lambda m: None, None, np.array([0, 4, 2, 6]), "rise from 0"),
    "offsets-past-the-ids": (lambda m: None, None, np.array([0, 2, 2, 9]), "rise from 0"),
    "ids-2-d": (lambda m: None, np.zeros((2, 3), np.uint16), None, "1-D integer array"),
    "ids-of-another-dtype": (lambda m: None, np.arange(6, dtype=np.uint32), None, "the manifest says"),
    "entry-token-count-wrong": (_set("shards.0.tokens", 7), None, None, "the files hold"),
    "total-token-count-wrong": (_set("tokens", 60), None, None, "tokens is 60"),
    "complete-is-a-string": (_set("complete", "no"), None, None, "did not finish"),
}
for _name, (_edit, _ids, _offs, _m) in SHARDS_BAD.items():
    row(f"token-shards-{_name}", 2, ValueError, _m)(lambda d, e=_edit, i=_ids, o=_offs: shards_dir(d, e, i, o))
row("token-shards-empty-ids-file", 2, ValueError, "not a readable .npy")(
    lambda d: (shards_dir(d, lambda m: None), (d / "s.ids.npy").write_bytes(b""))[0]
)


# ------------------------------------------------------------------ the test
@pytest.mark.parametrize("r", ROWS, ids=[r.id for r in ROWS])
def test_hostile_input(r: Row, tmp_path: Path) -> None:
    call, named = r.make(tmp_path)
    with pytest.raises(r.raises, match=r.match) as info:
        call()
    if named is not None and r.raises is not IsADirectoryError:
        assert str(named) in str(info.value), f"the message must name the file: {info.value}"
    if r.raises is IsADirectoryError:
        assert str(named) in str(info.value) or info.value.filename == str(named)


def test_every_class_has_rows() -> None:
    assert {1, 2, 5} <= {r.cls for r in ROWS}


# ------------------------------------------------------------------ the good side of the same loaders
def test_the_base_inputs_load(tmp_path: Path) -> None:
    """The unmodified inputs of the rows above load, so each row fails for its own defect."""
    for kind in ("wordpiece", "bpe"):
        call, _ = json_file(tmp_path, kind, lambda j: None)
        call().encode("the cat")
    tiktoken_file(tmp_path, "YWI= 256\n", {"<|endoftext|>": 257})[0]().encode("ab")
    gpt2_files(tmp_path, lambda v: None)[0]().encode("the cat")
    good = {"a": {**F32_4, "data_offsets": [0, 16]}, "b": {"dtype": "F32", "shape": [0], "data_offsets": [16, 16]}}
    np.testing.assert_array_equal(st_file(tmp_path, good, f32(4))[0]()["a"], np.arange(4, dtype=np.float32))
    p = torch_bin(tmp_path, {"w": _T(ref("0", 6), 0, (2, 3), (1, 2)), "v": _T(ref("0", 6), 2, (4,), (1,))}, {"0": f32(6)},
                  compress=True)
    state = load_pytorch_bin(p)
    np.testing.assert_array_equal(state["w"], np.arange(6, dtype=np.float32).reshape(3, 2).T)
    np.testing.assert_array_equal(state["v"], np.arange(2, 6, dtype=np.float32))
    ds = shards_dir(tmp_path, lambda m: None)[0]()
    assert [ds[i].tolist() for i in range(len(ds))] == [[0, 1], [], [2, 3, 4, 5]]


def test_sparse_ids_within_the_bound_load_like_hf(tmp_path: Path) -> None:
    """Gaps in the ids (cl100k's specials sit past its ranks) are accepted, as HF accepts them."""
    tokenizers = pytest.importorskip("tokenizers")
    j = base_json("wordpiece")
    j["model"]["vocab"]["zzz"] = 3 * len(j["model"]["vocab"])
    text = json.dumps(j)
    mine = subtok.Tokenizer.from_str(text)
    hf = tokenizers.Tokenizer.from_str(text)
    assert mine.encode("the zzz cat").ids == hf.encode("the zzz cat").ids


def test_big_endian_checkpoint_is_read_correctly(tmp_path: Path) -> None:
    """torch.save on a big-endian machine writes byteorder "big": values are swapped, not misread."""
    p = torch_bin(tmp_path, {"w": _T(ref("0", 4), 0, (4,), (1,))}, {"0": np.arange(4, dtype=">f4").tobytes()},
                  byteorder="big")
    w = load_pytorch_bin(p)["w"]
    assert w.dtype == np.float32 and w.dtype.isnative
    np.testing.assert_array_equal(w, np.arange(4, dtype=np.float32))


def test_safetensors_acceptance_matches_the_safetensors_library(tmp_path: Path) -> None:
    """Every safetensors row above is also rejected by the safetensors library, and the good file loads in both."""
    st = pytest.importorskip("safetensors.numpy")
    for name, (h, n, _) in SAFETENSORS_BAD.items():
        if name == "unknown-dtype":
            continue
        with pytest.raises(Exception):
            st.load(safetensors_bytes(h, b"\0" * n))
    good = {"a": {**F32_4, "data_offsets": [0, 16]}}
    assert set(st.load(safetensors_bytes(good, f32(4)))) == {"a"}
