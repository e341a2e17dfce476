"""Docs in the code: every public method and property of the user-facing classes has a docstring,
and the encoder classes print something useful."""
from __future__ import annotations

from typing import List

import pytest

import subtok


def _undocumented(cls: type) -> List[str]:
    missing = []
    for name, value in vars(cls).items():
        if name.startswith("_") and name not in ("__init__", "__call__"):
            continue
        doc = value.__doc__ if isinstance(value, property) else getattr(value, "__doc__", None)
        if isinstance(value, (staticmethod, classmethod)):
            doc = value.__func__.__doc__
        if not (doc or "").strip():
            missing.append(name)
    return missing


@pytest.mark.parametrize("cls", [subtok.Tokenizer, subtok.Encoding, subtok.SentenceEncoder, subtok.BertModel],
                         ids=lambda c: c.__name__)
def test_public_members_have_docstrings(cls: type) -> None:
    assert _undocumented(cls) == []


def test_help_describes_each_tokenizer_method() -> None:
    import pydoc

    text = pydoc.render_doc(subtok.Tokenizer, renderer=pydoc.plaintext)
    for name in ("decode_batch", "get_vocab", "id_to_token", "token_to_id", "no_padding", "encode_batch_flat"):
        block = text.split(f" {name}(", 1)[1].split("\n |  \n", 1)[0]
        assert len(block.splitlines()) >= 2, f"help(subtok.Tokenizer) shows no description for {name}"


def test_model_reprs(minilm_dir) -> None:
    enc = subtok.SentenceEncoder.from_pretrained(minilm_dir)
    r = repr(enc)
    assert r.startswith("SentenceEncoder(") and "dim=384" in r and "layers=6" in r
    qa = subtok.BertForSequenceClassification
    assert "object at 0x" not in repr(enc.model)
    assert qa.__repr__ is not object.__repr__
