"""Fuzz the arguments of ``tok(...)`` (transformers-style ``__call__``) and of ``encode`` /
``encode_batch`` / ``encode_batch_flat`` / ``enable_truncation`` / ``enable_padding`` /
``decode``, for a WordPiece and a byte-level BPE tokenizer: texts, pairs, batches, words
(``is_pretokenized``), and every option with values of the right type, the wrong type and absurd
sizes. Contract: a result, or ``TypeError`` / ``ValueError`` (``UnicodeEncodeError`` included)
/ ``IndexError`` for an unknown id (BPE: subtok's ``UnknownTokenError``, also a ``KeyError``);
never another exception, a crash, a hang or a huge allocation. Results are checked for consistency (rectangular arrays, truncation kept).

    python fuzz/python/fuzz_tok_call.py -max_total_time=600
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness  # noqa: E402

import subtok  # noqa: E402
NAME = "tok_call"
ALLOWED = (TypeError, ValueError, IndexError)

_TEXTS = ["the cat sat on the mat, unaffable!", "Héllo wörld 東京 123 don't", "a b c d e f g h i j k l"] * 20
_TOKS: Dict[str, Any] = {}


def tokenizers() -> Dict[str, Any]:
    if not _TOKS:
        wp = subtok.train(_TEXTS, model="wordpiece", vocab_size=80, show_progress=False)
        wp.model_max_length = 24
        bpe = subtok.train(_TEXTS, model="bpe", vocab_size=300, show_progress=False,
                           special_tokens=["<|endoftext|>", "<pad>"])
        _TOKS.update(wordpiece=wp, bpe=bpe)
    return _TOKS


class Draw:
    """Decisions read from the fuzz input (zeros once it is used up)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.i = data, 0

    def byte(self) -> int:
        b = self.data[self.i] if self.i < len(self.data) else 0
        self.i += 1
        return b

    def pick(self, options: List[Any]) -> Any:
        return options[self.byte() % len(options)]

    def text(self) -> str:
        n = self.byte() % 48
        raw = self.data[self.i : self.i + n]
        self.i += n
        s = raw.decode("utf-8", "replace")
        if self.byte() % 16 == 0:  # a lone surrogate (not valid Unicode)
            s += "\ud800"
        return self.pick(["", " ", "[CLS]", "<|endoftext|>", "unaffable", "東京"]) + s


SMALL_INTS = [0, 1, 2, 3, 4, 5, 7, 8, 16, 33, 64]
HUGE_INTS = [-1, -(2**63), 2**31 - 1, 2**31, 2**32, 2**40, 2**62, 2**63 - 1, 2**63, 2**64, 10**30]


def value(d: Draw, kind: str) -> Any:
    """An argument value: mostly of the expected kind, sometimes anything."""
    k = d.byte() % 10
    if k == 0:
        return d.pick([None, True, False, 1.5, float("nan"), "5", b"x", [], {}, object(), np.int64(4), -3])
    if k == 1:
        return d.pick(HUGE_INTS)
    if kind == "int":
        return d.pick(SMALL_INTS)
    if kind == "bool":
        return d.pick([True, False, None, 0, 1])
    if kind == "truncation":
        return d.pick([True, False, None, "longest_first", "only_first", "only_second", "do_not_truncate", "x"])
    if kind == "padding":
        return d.pick([True, False, None, "longest", "max_length", "do_not_pad", "left"])
    if kind == "side":
        return d.pick(["left", "right", None, "up"])
    if kind == "tensors":
        return d.pick([None, "np", None, "np", "tf", "jax"])
    raise AssertionError(kind)


def text_arg(d: Draw) -> Any:
    k = d.byte() % 12
    if k < 5:
        return d.text()
    if k < 9:
        return [d.text() for _ in range(d.byte() % 4)]
    return d.pick([None, 5, b"bytes", ("a", "b"), [["a", "b"], ["c"]], [1, 2], np.array(["a", "b"]),
                   np.array([["a", "b"], ["c", "d"]]), [None]])


CALL_OPTIONS = {
    "add_special_tokens": "bool", "truncation": "truncation", "max_length": "int", "padding": "padding",
    "pad_to_multiple_of": "int", "padding_side": "side", "stride": "int", "return_overflowing_tokens": "bool",
    "return_offsets_mapping": "bool", "return_special_tokens_mask": "bool", "return_sequence_ids": "bool",
    "return_tensors": "tensors", "return_attention_mask": "bool", "return_token_type_ids": "bool",
    "return_length": "bool",
}


def check_call(out: Dict[str, Any], kwargs: Dict[str, Any]) -> None:
    ids = out["input_ids"]
    if isinstance(ids, np.ndarray):
        for k, v in out.items():
            assert isinstance(v, np.ndarray), k
            if k not in ("length", "overflow_to_sample_mapping"):
                assert v.shape[:2] == ids.shape, (k, v.shape, ids.shape)
        rows = ids.tolist()
    else:
        rows = ids if not ids or isinstance(ids[0], list) else [ids]
        for k, v in out.items():
            if k in ("length", "overflow_to_sample_mapping"):
                continue
            vr = v if not v or isinstance(v[0], list) else [v]
            assert [len(r) for r in vr] == [len(r) for r in rows], k
    max_length = kwargs.get("max_length")
    trunc = kwargs.get("truncation")
    if isinstance(max_length, int) and trunc in (True, "longest_first") and not kwargs.get("pad_to_multiple_of"):
        assert all(len(r) <= max_length for r in rows), "truncation not kept"


def one_input(data: bytes) -> None:
    d = Draw(data)
    tok = tokenizers()[d.pick(["wordpiece", "bpe"])]
    op = d.byte() % 8
    if op < 4:  # tok(...)
        kwargs = {name: value(d, kind) for name, kind in CALL_OPTIONS.items() if d.byte() % 3 == 0}
        text = text_arg(d)
        pair = text_arg(d) if d.byte() % 3 == 0 else None
        out = tok(text, pair, **kwargs)
        check_call(out, kwargs)
    elif op == 4:
        pre = bool(d.byte() % 2)
        seq = text_arg(d)
        pair = text_arg(d) if d.byte() % 2 else None
        enc = tok.encode(seq, pair, is_pretokenized=pre, add_special_tokens=value(d, "bool"))
        assert len(enc.ids) == len(enc.offsets) == len(enc.attention_mask)
    elif op == 5:
        items = [text_arg(d) if d.byte() % 4 else (d.text(), d.text()) for _ in range(d.byte() % 4)]
        if d.byte() % 2:
            encs = tok.encode_batch(items, is_pretokenized=bool(d.byte() % 2))
            assert len(encs) == len(items)
        else:
            ids, lengths = tok.encode_batch_flat(items)
            assert len(ids) == int(np.sum(lengths))
    elif op == 6:  # stored settings, then an encode under them
        if d.byte() % 2:
            tok.enable_truncation(value(d, "int"), stride=value(d, "int"),
                                  strategy=d.pick(["longest_first", "only_first", "only_second", "x", 3]),
                                  direction=value(d, "side"))
        else:
            tok.enable_padding(direction=value(d, "side"), pad_id=value(d, "int"), length=value(d, "int"),
                               pad_to_multiple_of=value(d, "int"))
        try:
            enc = tok.encode(d.text(), d.text() if d.byte() % 2 else None)
            assert len(enc.ids) == len(enc.type_ids)
        finally:
            tok.no_truncation()
            tok.no_padding()
    else:
        ids = [value(d, "int") for _ in range(d.byte() % 6)]
        tok.decode(ids, skip_special_tokens=value(d, "bool"))


def seeds() -> List[bytes]:
    return [bytes([m, op]) + bytes(range(i, i + 40)) for m in (0, 1) for op in range(8) for i in (0, 3, 7)]


if __name__ == "__main__":
    _harness.main(NAME, one_input, ALLOWED, seeds)
