"""WordPiece training: the likelihood criterion against a pure-Python reference, and
score="count" against HF's WordPieceTrainer."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List

import pytest

from _train_ref import hf_bert_word_counts, wordpiece_reference
from subtok.training import train_json

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _vocab(text: str) -> List[str]:
    v = json.loads(text)["model"]["vocab"]
    out = sorted(v, key=v.__getitem__)
    assert [v[t] for t in out] == list(range(len(out)))
    return out


def _lines(path: Path, n_chars: int) -> List[str]:
    text = path.read_text(encoding="utf-8")[:n_chars]
    return text.splitlines(keepends=True)


@pytest.fixture(scope="module")
def shakespeare(shared_dir: Path) -> List[str]:
    return _lines(shared_dir / "corpora" / "shakespeare.txt", 40_000)


@pytest.fixture(scope="module")
def udhr(shared_dir: Path) -> List[str]:
    return _lines(shared_dir / "corpora" / "udhr-multilingual.txt", 12_000)


def _alphabet_size(wc: Dict[str, int]) -> int:
    return len({c for w in wc for c in w}) + len({c for w in wc for c in w[1:]}) + len(SPECIALS)


@pytest.mark.parametrize("corpus", ["shakespeare", "udhr"])
def test_likelihood_merge_order_matches_reference(corpus: str, request: pytest.FixtureRequest) -> None:
    lines = request.getfixturevalue(corpus)
    wc = hf_bert_word_counts(lines)
    vocab_size = _alphabet_size(wc) + 120
    ref_like = wordpiece_reference(wc, SPECIALS, vocab_size, 2, "likelihood")
    ref_count = wordpiece_reference(wc, SPECIALS, vocab_size, 2, "count")
    # The corpus must discriminate the criteria, or the test would prove nothing.
    assert ref_like != ref_count
    kw = dict(model="wordpiece", score="likelihood", vocab_size=vocab_size, limit_alphabet=10_000, show_progress=False)
    mine = _vocab(train_json(lines, **kw))
    assert mine == ref_like
    # Same words given as counts give the same result.
    mine_wc = _vocab(train_json(wc, **kw))
    assert mine_wc == ref_like


@pytest.mark.parametrize("corpus", ["shakespeare", "udhr"])
def test_gain_merge_order_matches_reference(corpus: str, request: pytest.FixtureRequest) -> None:
    lines = request.getfixturevalue(corpus)
    wc = hf_bert_word_counts(lines)
    vocab_size = _alphabet_size(wc) + 120
    ref_gain = wordpiece_reference(wc, SPECIALS, vocab_size, 2, "gain")
    assert ref_gain != wordpiece_reference(wc, SPECIALS, vocab_size, 2, "count")
    assert ref_gain != wordpiece_reference(wc, SPECIALS, vocab_size, 2, "likelihood")
    mine = _vocab(train_json(lines, model="wordpiece", score="gain", vocab_size=vocab_size, limit_alphabet=10_000,
                             show_progress=False))
    assert mine == ref_gain


def test_default_wordpiece_score_is_count(shakespeare: List[str]) -> None:
    # The default is the learner with the best held-out compression (benches/bench_wordpiece_vocab.py).
    kw = dict(model="wordpiece", vocab_size=_alphabet_size(hf_bert_word_counts(shakespeare)) + 100, show_progress=False)
    assert train_json(shakespeare, **kw) == train_json(shakespeare, score="count", **kw)


def test_topdown_learner_gives_a_wordpiece_vocab_hf_reads(shakespeare: List[str], tmp_path: Path) -> None:
    from tokenizers import Tokenizer as HFTokenizer

    text = train_json(shakespeare, model="wordpiece", score="topdown", vocab_size=800, show_progress=False)
    vocab = _vocab(text)
    assert 0.5 * 800 <= len(vocab) <= 800
    assert vocab[: len(SPECIALS)] == SPECIALS
    wc = hf_bert_word_counts(shakespeare)
    # the most frequent words are whole tokens; every character and ##character is there
    top = sorted(wc, key=lambda w: -wc[w])[:50]
    assert all(w in vocab for w in top)
    chars = {c for w in wc for c in w}
    assert all(c in vocab and "##" + c in vocab for c in chars)
    # a real WordPiece vocabulary: HF's tokenizer loads the file and encodes as subtok does
    import subtok

    p = tmp_path / "topdown.json"
    p.write_text(text, encoding="utf-8")
    hf, mine = HFTokenizer.from_file(str(p)), subtok.Tokenizer.from_file(str(p))
    sample = [l.strip() for l in shakespeare[:300]]
    assert [e.ids for e in mine.encode_batch(sample)] == [e.ids for e in hf.encode_batch(sample)]


def test_likelihood_prefers_pairs_whose_parts_are_rare_apart() -> None:
    # "qu" is rare but q never occurs without u: likelihood merges it first; count merges "th".
    wc = {"the": 50, "this": 40, "that": 40, "with": 30, "quiz": 3, "quip": 3, "hat": 10, "hit": 10}
    kw = dict(model="wordpiece", vocab_size=30, min_frequency=2, show_progress=False, special_tokens=["[UNK]"])
    like = _vocab(train_json(wc, score="likelihood", **kw))
    count = _vocab(train_json(wc, score="count", **kw))
    first_merge = lambda v: next(t for t in v[1:] if len(t.replace("##", "")) > 1)
    assert first_merge(count) == "th"
    assert first_merge(like) == "qu"
    assert like == wordpiece_reference(wc, ["[UNK]"], 30, 2, "likelihood")


def test_count_score_matches_reference(shakespeare: List[str]) -> None:
    wc = hf_bert_word_counts(shakespeare)
    vocab_size = _alphabet_size(wc) + 150
    mine = _vocab(train_json(shakespeare, model="wordpiece", score="count", vocab_size=vocab_size, show_progress=False))
    assert mine == wordpiece_reference(wc, SPECIALS, vocab_size, 2, "count")


def test_count_score_reproduces_hf_wordpiece_trainer(shakespeare: List[str], tmp_path: Path) -> None:
    from tokenizers import BertWordPieceTokenizer

    corpus = tmp_path / "c.txt"
    corpus.write_text("".join(shakespeare), encoding="utf-8")
    vocab_size = 600
    hf = BertWordPieceTokenizer()
    hf.train([str(corpus)], vocab_size=vocab_size, min_frequency=2, show_progress=False)
    hf_vocab = _vocab(hf.to_str())
    mine = _vocab(train_json([str(corpus)], model="wordpiece", score="count", vocab_size=vocab_size, show_progress=False))
    assert len(mine) == len(hf_vocab) == vocab_size
    # HF appends the "##c" alphabet in hash-map order, which changes from run to run, and its
    # tie rule (smallest ids) then depends on that order; we sort that block by code point.
    # 1. With HF's "##c" order, the independent reference reproduces HF's vocabulary exactly,
    #    order included: HF's rule is the reference's rule (count, then smallest ids).
    wc = hf_bert_word_counts(shakespeare)
    is_cont = lambda t: t.startswith("##") and len(t) == 3
    hf_cont = [t[2:] for t in hf_vocab if is_cont(t)]
    assert wordpiece_reference(wc, SPECIALS, vocab_size, 2, "count", cont_order=hf_cont) == hf_vocab
    # 2. We reproduce the same reference with the sorted "##c" order, exactly.
    assert mine == wordpiece_reference(wc, SPECIALS, vocab_size, 2, "count")
    # 3. Directly: same specials and alphabet, and the learned tokens agree except where a
    #    tie was broken through the run-dependent "##c" ids.
    n_alpha = len(SPECIALS) + len({c for w in wc for c in w}) + len(hf_cont)
    assert mine[: len(SPECIALS)] == hf_vocab[: len(SPECIALS)]
    assert set(mine[:n_alpha]) == set(hf_vocab[:n_alpha])
    assert [t for t in mine[:n_alpha] if not is_cont(t)] == [t for t in hf_vocab[:n_alpha] if not is_cont(t)]
    same = len(set(mine[n_alpha:]) & set(hf_vocab[n_alpha:]))
    assert same >= 0.97 * (vocab_size - n_alpha)


def test_wordpiece_json_pipeline(shakespeare: List[str]) -> None:
    j = json.loads(train_json(shakespeare, model="wordpiece", vocab_size=300, show_progress=False))
    assert j["normalizer"] == {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                               "strip_accents": None, "lowercase": True}
    assert j["pre_tokenizer"] == {"type": "BertPreTokenizer"}
    assert j["model"]["type"] == "WordPiece"
    assert j["model"]["unk_token"] == "[UNK]"
    assert j["model"]["continuing_subword_prefix"] == "##"
    assert j["model"]["max_input_chars_per_word"] == 100
    assert j["decoder"] == {"type": "WordPiece", "prefix": "##", "cleanup": True}
    assert [t["content"] for t in j["added_tokens"]] == SPECIALS
    assert j["post_processor"]["type"] == "TemplateProcessing"
    assert j["post_processor"]["special_tokens"]["[CLS]"]["ids"] == [2]


def test_bert_word_counting_matches_hf_on_odd_whitespace() -> None:
    # Words must be cut exactly where HF's BERT normalizer + pre-tokenizer cut them.
    text = "x\u2028y\u000bz\u0085w \u00a0Ab\u3000cd\u180eef \u200bgh 中文ij"
    wc = hf_bert_word_counts([text] * 3)
    j = json.loads(train_json([text] * 3, model="wordpiece", vocab_size=10_000, min_frequency=1,
                              limit_alphabet=10_000, show_progress=False))
    merged = {t for t in j["model"]["vocab"] if not t.startswith("##") and not t.startswith("[")}
    assert {w for w in wc} <= merged


def test_cased_wordpiece_keeps_case() -> None:
    v = _vocab(train_json(["Hello Hello World World"], model="wordpiece", vocab_size=60, lowercase=False, show_progress=False))
    assert "H" in v and "h" not in v
