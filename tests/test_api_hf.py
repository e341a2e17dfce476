"""HF tokenizers' API on subtok (issue 13): Encoding helpers, truncate/pad/merge, post_process,
pre-tokenized input, added tokens, get_vocab, from_pretrained (local folder and offline cache),
numpy batches; each checked against HF tokenizers on the corpora and hypothesis text."""
from __future__ import annotations

import os

import numpy as np
import pytest
import tokenizers
from hypothesis import given, settings, strategies as st

import subtok
from conftest import corpus_lines

FIELDS = ("ids", "offsets", "type_ids", "special_tokens_mask", "attention_mask", "word_ids")


def same(a, b, fields=FIELDS):
    for f in fields:
        assert getattr(a, f) == getattr(b, f), f


@pytest.fixture()
def both(minilm_dir):
    path = str(minilm_dir / "tokenizer.json")
    hf, mine = tokenizers.Tokenizer.from_file(path), subtok.Tokenizer.from_file(path)
    for t in (hf, mine):
        t.no_padding()
        t.no_truncation()
    return hf, mine


@pytest.fixture(scope="module")
def lines():
    return (corpus_lines("wikitext2-test.txt")[:120] + corpus_lines("udhr-multilingual.txt")[:80]
            + corpus_lines("shakespeare.txt")[:60])


def check_helpers(a, b):
    """Every alignment helper of two encodings of the same input, at every position."""
    assert a.n_sequences == b.n_sequences
    n = len(b.ids)
    for i in range(n + 1):
        assert a.token_to_sequence(i) == b.token_to_sequence(i), i
        assert a.token_to_chars(i) == b.token_to_chars(i), i
        assert a.token_to_word(i) == b.token_to_word(i), i
    words = max([w for w in b.word_ids if w is not None], default=-1) + 2
    chars = max([o[1] for o in b.offsets], default=0) + 1
    for seq in range(b.n_sequences):
        for w in range(words):
            assert a.word_to_tokens(w, seq) == b.word_to_tokens(w, seq), (w, seq)
            assert a.word_to_chars(w, seq) == b.word_to_chars(w, seq), (w, seq)
        for c in range(chars):
            assert a.char_to_token(c, seq) == b.char_to_token(c, seq), (c, seq)
            assert a.char_to_word(c, seq) == b.char_to_word(c, seq), (c, seq)
    assert a.sequence_ids == b.sequence_ids


def test_encoding_helpers_on_corpora(both, lines):
    hf, mine = both
    for i in range(0, len(lines) - 1, 4):
        check_helpers(mine.encode(lines[i]), hf.encode(lines[i]))
        check_helpers(mine.encode(lines[i], lines[i + 1]), hf.encode(lines[i], lines[i + 1]))


@settings(max_examples=60, deadline=None)
@given(a=st.text(max_size=40), b=st.one_of(st.none(), st.text(max_size=30)))
def test_encoding_helpers_hypothesis(minilm_dir, a, b):
    hf = tokenizers.Tokenizer.from_file(str(minilm_dir / "tokenizer.json"))
    mine = subtok.Tokenizer.from_file(str(minilm_dir / "tokenizer.json"))
    for t in (hf, mine):
        t.no_padding()
        t.no_truncation()
    check_helpers(mine.encode(a, b), hf.encode(a, b))


def test_truncate_pad_merge(both, lines):
    hf, mine = both
    for text in lines[:30]:
        for max_len, stride, direction in ((8, 2, "right"), (5, 0, "left"), (500, 0, "right")):
            x, y = mine.encode(text), hf.encode(text)
            x.truncate(max_len, stride=stride, direction=direction)
            y.truncate(max_len, stride=stride, direction=direction)
            same(x, y)
            assert [o.ids for o in x.overflowing] == [o.ids for o in y.overflowing]
        x, y = mine.encode(text), hf.encode(text)
        x.pad(len(y.ids) + 5, pad_id=0, pad_token="[PAD]")
        y.pad(len(y.ids) + 5, pad_id=0, pad_token="[PAD]")
        same(x, y, FIELDS + ("tokens",))
        x, y = mine.encode(text), hf.encode(text)
        x.pad(len(y.ids) + 3, direction="left", pad_id=7, pad_type_id=1, pad_token="[X]")
        y.pad(len(y.ids) + 3, direction="left", pad_id=7, pad_type_id=1, pad_token="[X]")
        same(x, y)
    for grow in (True, False):
        parts_m = [mine.encode(t, add_special_tokens=False) for t in lines[:4]]
        parts_h = [hf.encode(t, add_special_tokens=False) for t in lines[:4]]
        same(subtok.Encoding.merge(parts_m, growing_offsets=grow), tokenizers.Encoding.merge(parts_h, growing_offsets=grow))


def same_tree(a, b, depth=0):
    """Fields equal, and the overflow windows too, recursively (HF nests windows in windows)."""
    same(a, b)
    assert len(a.overflowing) == len(b.overflowing), depth
    for x, y in zip(a.overflowing, b.overflowing):
        same_tree(x, y, depth + 1)


def test_merge_keeps_overflow_windows_as_hf(both, lines):
    """``Encoding.merge`` of encodings with overflow windows (one, several, or none of the parts
    truncated; windows of windows) gives HF's windows in HF's order."""
    hf, mine = both
    for grow in (True, False):
        for cuts in ((6, None, None), (None, 7, None), (5, 9, None), (6, 6, 8), (None, None, 4)):
            pm, ph = [], []
            for text, cut in zip(lines[10:13], cuts):
                x, y = mine.encode(text, add_special_tokens=False), hf.encode(text, add_special_tokens=False)
                if cut is not None:
                    x.truncate(cut, stride=2)
                    y.truncate(cut, stride=2)
                pm.append(x)
                ph.append(y)
            got = subtok.Encoding.merge(pm, growing_offsets=grow)
            want = tokenizers.Encoding.merge(ph, growing_offsets=grow)
            same_tree(got, want)
            # merging merged encodings nests further
            same_tree(subtok.Encoding.merge([got, pm[0]], growing_offsets=grow),
                      tokenizers.Encoding.merge([want, ph[0]], growing_offsets=grow))
    # windows from the tokenizer's own truncation (with its special tokens)
    hf.enable_truncation(12, stride=3)
    mine.enable_truncation(12, stride=3)
    a_m, a_h = mine.encode(lines[20]), hf.encode(lines[20])
    b_m, b_h = mine.encode(lines[22]), hf.encode(lines[22])
    same_tree(a_m, a_h)
    same_tree(subtok.Encoding.merge([a_m, b_m]), tokenizers.Encoding.merge([a_h, b_h]))


def test_post_process(both, lines):
    hf, mine = both
    for i in range(0, 40, 2):
        a_m, b_m = (mine.encode(x, add_special_tokens=False) for x in lines[i:i + 2])
        a_h, b_h = (hf.encode(x, add_special_tokens=False) for x in lines[i:i + 2])
        same(mine.post_process(a_m), hf.post_process(a_h))
        same(mine.post_process(a_m, b_m), hf.post_process(a_h, b_h))
        same(mine.post_process(a_m, b_m, add_special_tokens=False), hf.post_process(a_h, b_h, add_special_tokens=False))
    for t in (hf, mine):
        t.enable_truncation(16)
        t.enable_padding(length=20)
    a_m, b_m = (mine.encode(x, add_special_tokens=False) for x in lines[:2])
    a_h, b_h = (hf.encode(x, add_special_tokens=False) for x in lines[:2])
    same(mine.post_process(a_m, b_m), hf.post_process(a_h, b_h))


def test_pretokenized(both, lines):
    hf, mine = both
    for i in range(0, 60, 3):
        words, pair = lines[i].split(), lines[i + 1].split()
        same(mine.encode(words, is_pretokenized=True), hf.encode(words, is_pretokenized=True), FIELDS + ("tokens",))
        same(mine.encode(words, pair, is_pretokenized=True), hf.encode(words, pair, is_pretokenized=True))
        same(mine.encode(words, is_pretokenized=True, add_special_tokens=False),
             hf.encode(words, is_pretokenized=True, add_special_tokens=False))
    batch = [lines[i].split() for i in range(10)] + [(lines[1].split(), lines[2].split())]
    for x, y in zip(mine.encode_batch(batch, is_pretokenized=True), hf.encode_batch(batch, is_pretokenized=True)):
        same(x, y)
    with pytest.raises(TypeError):
        mine.encode("not a list", is_pretokenized=True)


def test_numpy_pair_batch(both, lines):
    hf, mine = both
    pairs = np.array([[lines[i], lines[i + 1]] for i in range(20)])
    for x, y in zip(mine.encode_batch(pairs), hf.encode_batch(pairs)):
        same(x, y)
    singles = np.array(lines[:10])
    assert [e.ids for e in mine.encode_batch(singles)] == [e.ids for e in hf.encode_batch(singles)]


def test_added_tokens(both, lines):
    hf, mine = both
    calls = [
        ("add_tokens", [["hello", "newtok", tokenizers.AddedToken("Zq", single_word=True)]]),
        ("add_special_tokens", [["[CLS]", "<x>", tokenizers.AddedToken("<r>", rstrip=True, special=True)]]),
        ("add_tokens", [["newtok", tokenizers.AddedToken("<l>", lstrip=True, normalized=False)]]),
    ]
    for name, args in calls:
        conv = [[subtok.AddedToken(t.content, t.single_word, t.lstrip, t.rstrip, t.normalized, t.special)
                 if isinstance(t, tokenizers.AddedToken) else t for t in args[0]]]
        assert getattr(mine, name)(*conv) == getattr(hf, name)(*args)
    texts = ["hello newtok Zqx Zq <x> and <r>  after", "x <l> y Newtok NEWTOK", lines[0] + " <x>newtok"]
    for text in texts:
        same(mine.encode(text), hf.encode(text))
        ids = hf.encode(text).ids
        assert mine.decode(ids) == hf.decode(ids)
        assert mine.decode(ids, skip_special_tokens=False) == hf.decode(ids, skip_special_tokens=False)
    assert mine.get_vocab() == hf.get_vocab()
    assert mine.get_vocab(with_added_tokens=False) == hf.get_vocab(with_added_tokens=False)
    assert mine.get_vocab_size() == hf.get_vocab_size()
    assert mine.get_vocab_size(with_added_tokens=False) == hf.get_vocab_size(with_added_tokens=False)
    with pytest.raises(TypeError):
        mine.add_tokens([3])
    with pytest.raises(ValueError):
        subtok.AddedToken("")


def test_decode_batch(both, lines):
    hf, mine = both
    seqs = [hf.encode(x).ids for x in lines[:30]]
    assert mine.decode_batch(seqs) == hf.decode_batch(seqs)
    assert mine.decode_batch(seqs, skip_special_tokens=False) == hf.decode_batch(seqs, skip_special_tokens=False)


def _cache_layout(root, name, files, revision="abc123"):
    repo = root / ("models--" + name.replace("/", "--"))
    snap = repo / "snapshots" / revision
    snap.mkdir(parents=True)
    for f in files:
        (snap / f.name).symlink_to(f)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    return snap


def test_from_pretrained(minilm_dir, tmp_path, monkeypatch, lines):
    hf = tokenizers.Tokenizer.from_file(str(minilm_dir / "tokenizer.json"))
    local = subtok.Tokenizer.from_pretrained(minilm_dir)
    for text in lines[:20]:
        same(local.encode(text), hf.encode(text))
    assert local.model_max_length == 512
    # the offline HF cache layout, through HF_HUB_CACHE and through HF_HOME
    files = [minilm_dir / f for f in ("tokenizer.json", "tokenizer_config.json", "config.json", "model.safetensors")
             if (minilm_dir / f).exists()]
    hub = tmp_path / "hub"
    _cache_layout(hub, "sentence-transformers/all-MiniLM-L6-v2", files)
    for var, value in (("HF_HUB_CACHE", hub), ("HF_HOME", None)):
        monkeypatch.delenv("HF_HUB_CACHE", raising=False)
        if var == "HF_HOME":
            home = tmp_path / "home"
            (home / "hub").mkdir(parents=True)
            _cache_layout(home / "hub", "sentence-transformers/all-MiniLM-L6-v2", files, "def456")
            monkeypatch.setenv("HF_HOME", str(home))
        else:
            monkeypatch.setenv(var, str(value))
        cached = subtok.Tokenizer.from_pretrained("sentence-transformers/all-MiniLM-L6-v2")
        for text in lines[:10]:
            same(cached.encode(text), hf.encode(text))
    # nothing found: each loader names the places it looked, with the same error type
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    for load in (subtok.Tokenizer.from_pretrained, subtok.BertModel.from_pretrained,
                 subtok.SentenceEncoder.from_pretrained):
        with pytest.raises(FileNotFoundError) as err:
            load("nobody/nothing")
        assert str(hub / "models--nobody--nothing") in str(err.value) and "Looked in" in str(err.value)
    model = subtok.BertModel.from_pretrained("sentence-transformers/all-MiniLM-L6-v2")
    assert model.config.hidden_size == 384
    with pytest.raises(FileNotFoundError, match="lacks"):
        subtok.Tokenizer.from_pretrained(tmp_path)


def test_helpers_on_bpe():
    """Byte-level BPE encodings answer the same helpers (no HF peer file for cl100k here: the
    tiktoken-derived tokenizer is checked for consistency with its own offsets and word ids)."""
    enc = subtok.get_encoding("cl100k_base")
    e = enc.encode_hf("hello world, it's me", "and you")
    assert e.n_sequences == 2
    for i, (w, s) in enumerate(zip(e.word_ids, e.sequence_ids)):
        assert e.token_to_word(i) == w and e.token_to_sequence(i) == s
        assert e.char_to_token(e.offsets[i][0], s) == i
    assert e.word_to_tokens(0, 1) == (e.sequence_ids.index(1), e.sequence_ids.index(1) + 1)


def test_help_describes_every_public_name():
    for cls in (subtok.Tokenizer, subtok.Encoding, subtok.TiktokenEncoding, subtok.AddedToken):
        for name in dir(cls):
            if name.startswith("_") and name not in ("__call__", "__len__"):
                continue
            doc = getattr(getattr(cls, name), "__doc__", None)
            assert doc and doc.strip(), f"{cls.__name__}.{name} has no docstring"


@pytest.fixture(scope="module")
def bpe_path(tmp_path_factory, lines):
    """A byte-level BPE trained by HF tokenizers (the peer file for the BPE half of the API)."""
    bl = tokenizers.ByteLevelBPETokenizer()
    bl.train_from_iterator(corpus_lines("wikitext2-test.txt")[:3000], vocab_size=2000, min_frequency=2,
                           special_tokens=["<|endoftext|>"], show_progress=False)
    path = tmp_path_factory.mktemp("api_bpe") / "tokenizer.json"
    bl.save(str(path))
    return str(path)


def test_bpe_helpers_pretokenized_post_process(bpe_path, lines):
    hf, mine = tokenizers.Tokenizer.from_file(bpe_path), subtok.Tokenizer.from_file(bpe_path)
    for i in range(0, 60, 3):
        check_helpers(mine.encode(lines[i]), hf.encode(lines[i]))
        check_helpers(mine.encode(lines[i], lines[i + 1]), hf.encode(lines[i], lines[i + 1]))
        words, pair = lines[i].split(), lines[i + 1].split()
        same(mine.encode(words, is_pretokenized=True), hf.encode(words, is_pretokenized=True))
        same(mine.encode(words, pair, is_pretokenized=True), hf.encode(words, pair, is_pretokenized=True))
        a_m, b_m = (mine.encode(x, add_special_tokens=False) for x in lines[i:i + 2])
        a_h, b_h = (hf.encode(x, add_special_tokens=False) for x in lines[i:i + 2])
        same(mine.post_process(a_m, b_m), hf.post_process(a_h, b_h))
    seqs = [hf.encode(x).ids for x in lines[:20]]
    assert mine.decode_batch(seqs) == hf.decode_batch(seqs)


def test_bpe_added_tokens(bpe_path, lines):
    hf, mine = tokenizers.Tokenizer.from_file(bpe_path), subtok.Tokenizer.from_file(bpe_path)
    assert mine.add_tokens(["newword", subtok.AddedToken("<m>", lstrip=True)]) == \
        hf.add_tokens(["newword", tokenizers.AddedToken("<m>", lstrip=True)])
    assert mine.add_special_tokens(["<sep2>", "<|endoftext|>"]) == hf.add_special_tokens(["<sep2>", "<|endoftext|>"])
    for text in ["a newword and <m> then <sep2>x", lines[3] + " <m>", "newwordnewword <sep2>"]:
        same(mine.encode(text, allowed_special="all"), hf.encode(text))
        ids = hf.encode(text).ids
        assert mine.decode(ids) == hf.decode(ids)
    assert mine.get_vocab() == hf.get_vocab()
    assert mine.get_vocab(with_added_tokens=False) == hf.get_vocab(with_added_tokens=False)
