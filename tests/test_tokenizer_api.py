"""Tokenizer API behaviour vs HF tokenizers: stored truncation/padding, save/load, flat batches,
decode, vocabulary access, threads and fork safety."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tokenizers

import subtok
from conftest import corpus_lines

FIELDS = ("ids", "offsets", "type_ids", "special_tokens_mask", "attention_mask", "word_ids", "tokens")


def same(a, b, top=True):
    for f in FIELDS:
        assert getattr(a, f) == getattr(b, f), f
    # HF also nests copies of the pair's windows inside each window's own `overflowing`
    # (an artifact of its merge); only the top-level windows are part of the contract.
    if top:
        assert len(a.overflowing) == len(b.overflowing)
        for x, y in zip(a.overflowing, b.overflowing):
            same(x, y, top=False)


@pytest.fixture()
def both(minilm_dir):
    path = str(minilm_dir / "tokenizer.json")
    return tokenizers.Tokenizer.from_file(path), subtok.Tokenizer.from_file(path)


@pytest.fixture(scope="module")
def lines():
    return corpus_lines("wikitext2-test.txt")[:300] + corpus_lines("udhr-multilingual.txt")[:200]


def test_stored_padding_and_truncation_are_honoured(both, lines):
    hf, st = both
    assert st.padding == {"length": 128, "pad_to_multiple_of": None, "pad_id": 0, "pad_token": "[PAD]",
                          "pad_type_id": 0, "direction": "right"}
    assert st.truncation == {"max_length": 128, "stride": 0, "strategy": "longest_first", "direction": "right"}
    long_text = " ".join(lines[:20])
    for a, b in zip(hf.encode_batch(lines + [long_text]), st.encode_batch(lines + [long_text])):
        same(a, b)
        assert len(b.ids) == 128
    same(hf.encode(long_text, lines[3]), st.encode(long_text, lines[3]))
    # encode_batch_flat truncates but never pads
    ids, lens = st.encode_batch_flat([long_text, "hi"], add_special_tokens=True)
    assert lens.tolist() == [128, 3]
    # ... unless asked not to: full lengths, as without stored truncation
    ids, lens = st.encode_batch_flat([long_text, "hi"], add_special_tokens=True, truncate=False)
    plain = subtok.Tokenizer.from_str(st.to_str())
    plain.no_truncation()
    want_ids, want_lens = plain.encode_batch_flat([long_text, "hi"], add_special_tokens=True)
    assert lens.tolist() == want_lens.tolist() and lens[0] > 128
    assert ids.tolist() == want_ids.tolist()
    assert st.truncation is not None  # the stored setting is untouched


@pytest.mark.parametrize("strategy", ["longest_first", "only_first", "only_second"])
@pytest.mark.parametrize("max_length,stride", [(16, 0), (17, 3), (30, 8)])
@pytest.mark.parametrize("direction", ["right", "left"])
def test_truncation_with_overflow_matches_hf(both, lines, strategy, max_length, stride, direction):
    hf, st = both
    for t in (hf, st):
        t.no_padding()
        t.enable_truncation(max_length, stride=stride, strategy=strategy, direction=direction)
    pairs = list(zip(lines[0:80:2], lines[1:80:2]))
    for a, b in pairs:
        try:
            expected = hf.encode(a, b)
        except BaseException:  # HF raises, or panics (PanicException) when stride >= the window
            with pytest.raises(ValueError):
                st.encode(a, b)
            continue
        same(expected, st.encode(a, b))
    if strategy != "only_second":
        for a in lines[:60]:
            same(hf.encode(a), st.encode(a))


@pytest.mark.parametrize(
    "kwargs",
    [dict(), dict(length=40), dict(pad_to_multiple_of=8), dict(direction="left", pad_to_multiple_of=16),
     dict(length=10, pad_id=7, pad_type_id=1, pad_token="[X]")],
)
def test_padding_matches_hf(both, lines, kwargs):
    hf, st = both
    for t in (hf, st):
        t.enable_truncation(32, stride=4)
        t.enable_padding(**kwargs)
    batch = lines[:50] + list(zip(lines[50:60], lines[60:70]))
    for a, b in zip(hf.encode_batch(batch), st.encode_batch(batch)):
        same(a, b)
    same(hf.encode(lines[0]), st.encode(lines[0]))
    assert st.padding["pad_id"] == kwargs.get("pad_id", 0)


def test_flat_equals_batch(both, lines):
    _, st = both
    st.no_padding()
    st.no_truncation()
    for special in (False, True):
        ids, lens = st.encode_batch_flat(lines, add_special_tokens=special)
        assert ids.dtype == np.uint32 and lens.dtype == np.int64
        expected = [e.ids for e in st.encode_batch(lines, add_special_tokens=special)]
        assert lens.tolist() == [len(e) for e in expected]
        assert ids.tolist() == [i for e in expected for i in e]
    ids, lens = st.encode_batch_flat([])
    assert ids.shape == (0,) and lens.shape == (0,)


def test_save_round_trip_and_hf_loads_it(both, lines, tmp_path):
    hf, st = both
    st.enable_truncation(20, stride=2, strategy="only_first")
    st.enable_padding(pad_to_multiple_of=8)
    out = tmp_path / "tok.json"
    st.save(out)
    again = subtok.Tokenizer.from_file(out)
    theirs = tokenizers.Tokenizer.from_file(str(out))
    assert again.truncation == st.truncation and again.padding == st.padding
    assert json.loads(out.read_text())["model"]["type"] == "WordPiece"
    for a, b, c in zip(st.encode_batch(lines), again.encode_batch(lines), theirs.encode_batch(lines)):
        same(a, b)
        same(c, b)
    assert subtok.Tokenizer.from_str(st.to_str()).encode("Hello there!").ids == st.encode("Hello there!").ids


def test_from_vocab_save_loads_in_hf(minilm_dir, lines, tmp_path):
    st = subtok.Tokenizer.from_vocab(minilm_dir / "vocab.txt", lowercase=False)
    st.save(tmp_path / "t.json")
    hf = tokenizers.Tokenizer.from_file(str(tmp_path / "t.json"))
    for a, b in zip(hf.encode_batch(lines), st.encode_batch(lines)):
        same(a, b)


def test_decode_matches_hf(both, lines):
    hf, st = both
    hf.no_padding()
    st.no_padding()
    for line in lines[:200] + ["Don't stop , he said . [SEP] ok ?", "un ##believ ##able"]:
        ids = hf.encode(line).ids
        for skip in (True, False):
            assert st.decode(ids, skip_special_tokens=skip) == hf.decode(ids, skip_special_tokens=skip)
    with pytest.raises(IndexError):
        st.decode([1, 10**7])
    with pytest.raises(IndexError):
        st.decode([-1])
    with pytest.raises(TypeError):
        st.decode("abc")


def test_vocab_access(both):
    hf, st = both
    assert st.vocab_size == hf.get_vocab_size() == 30522
    assert st.get_vocab() == hf.get_vocab()
    assert st.token_to_id("[CLS]") == 101 and st.token_to_id("##ing") == hf.token_to_id("##ing")
    assert st.id_to_token(101) == "[CLS]" and st.id_to_token(10**9) is None and st.id_to_token(-5) is None
    assert st.token_to_id("no-such-token") is None


def test_wrong_types_raise_type_error(both):
    _, st = both
    for bad in (None, 3, b"bytes", ["a"]):
        with pytest.raises(TypeError):
            st.encode(bad)
    with pytest.raises(TypeError):
        st.encode_batch("just a string")
    with pytest.raises(TypeError):
        st.encode_batch(["ok", 5])
    with pytest.raises(TypeError):
        st.encode_batch([("a", "b", "c")])
    with pytest.raises(TypeError):
        st.encode_batch_flat([b"x"])


def test_bad_settings_raise_value_error(both):
    _, st = both
    with pytest.raises(ValueError, match="strategy"):
        st.enable_truncation(10, strategy="nope")
    with pytest.raises(ValueError, match="stride"):
        st.enable_truncation(10, stride=10)
    with pytest.raises(ValueError, match="direction"):
        st.enable_padding(direction="up")
    st.no_padding()
    st.enable_truncation(2)
    with pytest.raises(ValueError, match="max_length"):
        st.encode("hello", "there")
    st.enable_truncation(5, strategy="only_second")
    with pytest.raises(ValueError, match="only_second"):
        st.encode("hello there my friend how are you")


def test_lone_surrogates_are_a_clear_error(both):
    _, st = both
    with pytest.raises(UnicodeEncodeError):
        st.encode("bad \ud800 text")


def test_encode_batch_is_safe_after_fork(both, lines):
    _, st = both
    st.encode_batch(lines)  # start the pool in the parent
    pid = os.fork()
    if pid == 0:  # child
        try:
            ok = len(st.encode_batch(lines)) == len(lines)
            os._exit(0 if ok else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


@pytest.mark.parametrize("n", ["1", "2"])
def test_rayon_num_threads_is_honoured(n):
    code = "import subtok._core as c; print(c.num_threads())"
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "RAYON_NUM_THREADS": n},
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == n
