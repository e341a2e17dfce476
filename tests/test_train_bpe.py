"""Byte-level BPE training against HF's BpeTrainer, and the trainer's pre-tokenizers against
the reference regexes / HF components."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List

import pytest

from subtok import _core
from subtok.training import train_json

GPT2_PAT = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
CL100K_PAT = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""


def _corpus_lines(shared_dir: Path, limit_per_file: int = 4000) -> List[str]:
    out: List[str] = []
    for name in ("shakespeare.txt", "wikitext2-test.txt", "udhr-multilingual.txt"):
        text = (shared_dir / "corpora" / name).read_text(encoding="utf-8")
        out += text.splitlines(keepends=True)[:limit_per_file]
    return out


@pytest.fixture(scope="module")
def small_corpus(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("bpe") / "small.txt"
    p.write_text("".join(_corpus_lines(shared_dir, 1500)), encoding="utf-8")
    return p


def _hf_bpe(path: Path, vocab_size: int, pre: str, specials: List[str]) -> dict:
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers

    if pre == "gpt2":
        from tokenizers import ByteLevelBPETokenizer

        t = ByteLevelBPETokenizer()
        t.train([str(path)], vocab_size=vocab_size, min_frequency=2, show_progress=False, special_tokens=specials)
        return json.loads(t.to_str())
    first = {
        "cl100k": pre_tokenizers.Split(Regex(CL100K_PAT), behavior="isolated"),
        "whitespace": pre_tokenizers.Whitespace(),
        "bert": pre_tokenizers.BertPreTokenizer(),
    }[pre]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([first, pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tr = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, show_progress=False, special_tokens=specials,
                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train([str(path)], tr)
    return json.loads(tok.to_str())


def _ordered_vocab(j: dict) -> List[str]:
    v = j["model"]["vocab"]
    return sorted(v, key=v.__getitem__)


@pytest.mark.parametrize("pre", ["gpt2", "cl100k", "whitespace", "bert"])
def test_bpe_equals_hf_bpe_trainer(small_corpus: Path, pre: str) -> None:
    specials = ["<|endoftext|>"] if pre == "gpt2" else []
    hf = _hf_bpe(small_corpus, 2000, pre, specials)
    mine = json.loads(train_json([str(small_corpus)], model="bpe", vocab_size=2000, pre_tokenizer=pre,
                                 special_tokens=specials, show_progress=False))
    assert _ordered_vocab(mine) == _ordered_vocab(hf)
    assert [list(m) for m in mine["model"]["merges"]] == [list(m) for m in hf["model"]["merges"]]


def test_bpe_equals_hf_on_all_corpora(shared_dir: Path) -> None:
    from tokenizers import ByteLevelBPETokenizer

    files = [str(shared_dir / "corpora" / n) for n in ("shakespeare.txt", "wikitext2-test.txt", "udhr-multilingual.txt")]
    hf = ByteLevelBPETokenizer()
    hf.train(files, vocab_size=8000, min_frequency=2, show_progress=False)
    hj = json.loads(hf.to_str())
    mine = json.loads(train_json(files, model="bpe", vocab_size=8000, show_progress=False))
    assert _ordered_vocab(mine) == _ordered_vocab(hj)
    assert [list(m) for m in mine["model"]["merges"]] == [list(m) for m in hj["model"]["merges"]]
    for key in ("pre_tokenizer", "post_processor", "decoder", "normalizer", "added_tokens"):
        assert mine[key] == hj[key], key
    assert {k: v for k, v in mine["model"].items() if k not in ("vocab", "merges")} == \
           {k: v for k, v in hj["model"].items() if k not in ("vocab", "merges")}


@pytest.mark.parametrize("name,pat", [("gpt2", GPT2_PAT), ("cl100k", CL100K_PAT)])
def test_pretokenizer_matches_regex(shared_dir: Path, name: str, pat: str) -> None:
    regex = pytest.importorskip("regex")
    r = regex.compile(pat)
    lines = _corpus_lines(shared_dir, 3000)
    extra = ["don't  stop\n\n  now", "'S 'LL x'd", "a\t\tb \r\n\r\n c", "12345678 ٣٤٥٦", "  (x)!\n\n y", "  ", "\n \n"]
    for line in lines + extra:
        assert _core._train_pretokenize(name, line) == r.findall(line), repr(line)


def test_whitespace_and_bert_pretokenizers_match_hf(shared_dir: Path) -> None:
    from tokenizers.pre_tokenizers import BertPreTokenizer, Whitespace

    lines = _corpus_lines(shared_dir, 2000)
    for name, hf in (("whitespace", Whitespace()), ("bert", BertPreTokenizer())):
        for line in lines:
            assert _core._train_pretokenize(name, line) == [w for w, _ in hf.pre_tokenize_str(line)], (name, line)


def test_bert_normalizer_matches_hf(shared_dir: Path) -> None:
    from tokenizers.normalizers import BertNormalizer

    lines = _corpus_lines(shared_dir, 3000) + ["Héllo\u200b ΟΔΟΣ\t中文\x00x\ufffd İstanbul Ǆ ﬁ", "\ue000a\u0085b",
                                                  "a\u2028b\u2029c\u000bd\u000ce\u1680f\u3000g\u00a0h\u180ei"]
    for lower in (True, False):
        hf = BertNormalizer(lowercase=lower)
        for line in lines:
            assert _core._train_bert_normalize(line, lower) == hf.normalize_str(line), repr(line)


def test_lowercase_bpe_adds_normalizer() -> None:
    j = json.loads(train_json(["Hello HELLO hello"] * 3, model="bpe", vocab_size=270, lowercase=True, show_progress=False))
    assert j["normalizer"] == {"type": "Lowercase"}
    assert "h" in j["model"]["vocab"] and all(not t.startswith("H") for t in j["model"]["vocab"] if len(t) > 1)
