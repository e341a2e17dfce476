"""Issue 14 §2: mergeable, picklable word counts made by the trainer's own counting code."""
from __future__ import annotations

import pickle

import pytest

import subtok
from subtok.training import train_json
from subtok.wordcounts import count_file_ranges, file_blocks
from conftest import CORPORA, CORPUS_FILES, corpus_lines

FILES = [str(CORPORA / f) for f in CORPUS_FILES]


@pytest.mark.parametrize("model,opts", [("bpe", {}), ("wordpiece", {}), ("bpe", {"pre_tokenizer": "cl100k", "lowercase": True})])
def test_block_counts_add_up_and_train_identically(model, opts):
    whole = subtok.count_words(FILES, model=model, show_progress=False, **opts)
    blocks = file_blocks(FILES, 300_001)  # odd size: blocks start mid-line
    parts = [count_file_ranges([b], model=model, **opts) for b in blocks]
    merged = sum(parts)
    assert merged == whole and merged.total == whole.total and len(merged) == len(whole)
    assert merged.total == sum(p.total for p in parts)
    want = train_json(FILES, model=model, vocab_size=3000, show_progress=False, **opts)
    assert train_json(merged, vocab_size=3000, show_progress=False) == want


def test_texts_counts_match_train_on_texts():
    lines = corpus_lines("udhr-multilingual.txt")[:500]
    wc = subtok.count_words(lines, model="wordpiece")
    assert wc.model == "wordpiece" and wc.lowercase and wc.pre_tokenizer == "bert"
    a = subtok.train(lines, model="wordpiece", vocab_size=800, show_progress=False).to_str()
    assert subtok.train(wc, vocab_size=800, show_progress=False).to_str() == a
    words = wc.to_dict()
    assert sum(words.values()) == wc.total and len(words) == len(wc)
    top = wc.most_common(3)
    assert top == sorted(words.items(), key=lambda kv: (-kv[1], kv[0]))[:3]


def test_pickle_is_compact_and_exact():
    wc = subtok.count_words(FILES, model="bpe", show_progress=False)
    data = pickle.dumps(wc)
    assert pickle.loads(data) == wc
    assert len(data) < 1.6 * sum(len(w.encode()) for w in wc.to_dict())  # words + varints
    assert subtok.WordCounts.from_bytes(wc.to_bytes()).to_bytes() == wc.to_bytes()
    with pytest.raises(ValueError):
        subtok.WordCounts.from_bytes(b"STWC1\x00garbage")
    with pytest.raises(TypeError):
        subtok.WordCounts.from_bytes("text")


def test_mismatched_settings_are_refused():
    bpe = subtok.count_words(["a b c"], model="bpe")
    wp = subtok.count_words(["a b c"], model="wordpiece")
    with pytest.raises(ValueError, match="cannot be combined"):
        bpe + wp
    with pytest.raises(ValueError, match="cannot be combined"):
        subtok.train(wp, model="wordpiece", lowercase=False, show_progress=False)
    with pytest.raises(TypeError):
        bpe + 1
    with pytest.raises(ValueError, match="empty corpus"):
        subtok.train(subtok.count_words([""], model="bpe"), show_progress=False)


def test_bad_blocks():
    with pytest.raises(FileNotFoundError):
        file_blocks(["/nonexistent/x.txt"], 10)
    with pytest.raises(ValueError):
        file_blocks(FILES, 0)
    with pytest.raises(ValueError):
        count_file_ranges([(FILES[0], 5, 2)])
    with pytest.raises(FileNotFoundError):
        count_file_ranges([("/nonexistent/x.txt", 0, 5)])
