"""Bad files give the right Python exception, naming the file."""
from __future__ import annotations

import json

import pytest

import subtok


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.json"):
        subtok.Tokenizer.from_file(tmp_path / "nope.json")
    with pytest.raises(FileNotFoundError, match="vocab.txt"):
        subtok.Tokenizer.from_vocab(tmp_path / "vocab.txt")


@pytest.mark.parametrize(
    "content,message",
    [
        ("{not json", "invalid JSON"),
        ("[]", "top level"),
        ("{}", "model"),
        ('{"model": {"type": "WordPiece", "vocab": {}, "unk_token": "[UNK]"}}', "empty"),
        ('{"model": {"type": "WordPiece", "vocab": {"a": 0}, "unk_token": "[UNK]"}}', "unk_token"),
        ('{"model": {"type": "WordPiece", "vocab": {"[UNK]": "x"}, "unk_token": "[UNK]"}}', "model.vocab"),
        ('{"model": {"type": "Unigram", "vocab": []}}', "Unigram"),
        ('{"normalizer": {"type": "NoSuchNormalizer"}, "model": {"type": "WordPiece", "vocab": {"[UNK]": 0}, "unk_token": "[UNK]"}}', "NoSuchNormalizer"),
        ('{"added_tokens": [{"id": 0}], "model": {"type": "WordPiece", "vocab": {"[UNK]": 0}, "unk_token": "[UNK]"}}', "added_tokens"),
        ('{"truncation": {"max_length": -1}, "model": {"type": "WordPiece", "vocab": {"[UNK]": 0}, "unk_token": "[UNK]"}}', "max_length"),
    ],
)
def test_malformed_tokenizer_json(tmp_path, content, message):
    path = tmp_path / "tokenizer.json"
    path.write_text(content)
    with pytest.raises(subtok.TokenizerFileError, match=message) as info:
        subtok.Tokenizer.from_file(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_malformed_vocab_txt(tmp_path):
    empty = tmp_path / "vocab.txt"
    empty.write_text("\n\n")
    with pytest.raises(subtok.TokenizerFileError, match="empty"):
        subtok.Tokenizer.from_vocab(empty)
    no_unk = tmp_path / "v2.txt"
    no_unk.write_text("[CLS]\n[SEP]\nhello\n")
    with pytest.raises(subtok.TokenizerFileError, match=r"v2.txt.*\[UNK\]"):
        subtok.Tokenizer.from_vocab(no_unk)
    binary = tmp_path / "v3.txt"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(subtok.TokenizerFileError, match="UTF-8"):
        subtok.Tokenizer.from_vocab(binary)


def test_save_to_unwritable_path_leaves_nothing(minilm_dir, tmp_path):
    tok = subtok.Tokenizer.from_file(minilm_dir / "tokenizer.json")
    with pytest.raises(OSError):
        tok.save(tmp_path / "no" / "such" / "dir" / "t.json")
    existing = tmp_path / "keep.json"
    existing.write_text("original")
    (tmp_path / "ro").mkdir()
    target = tmp_path / "ro" / "t.json"
    target.write_text("original")
    (tmp_path / "ro").chmod(0o500)
    try:
        import os

        if os.geteuid() != 0:  # root ignores directory permissions
            with pytest.raises(OSError):
                tok.save(target)
            assert target.read_text() == "original"
    finally:
        (tmp_path / "ro").chmod(0o700)
    assert json.loads(tok.to_str())["model"]["type"] == "WordPiece"
