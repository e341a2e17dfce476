"""`Tokenizer.__call__` must give the same arrays as transformers' BertTokenizerFast(..., return_tensors="np")."""
from __future__ import annotations

import random

import numpy as np
import pytest

import subtok
from conftest import corpus_lines
from subtok.inputs import char_span

transformers = pytest.importorskip("transformers")  # test-only oracle; installed by .ci/run


@pytest.fixture(scope="module")
def toks(minilm_dir):
    return transformers.BertTokenizerFast.from_pretrained(str(minilm_dir)), subtok.Tokenizer.from_file(
        minilm_dir / "tokenizer.json"
    )


@pytest.fixture(scope="module")
def texts():
    rng = random.Random(7)
    lines = corpus_lines("wikitext2-test.txt")[:400] + corpus_lines("udhr-multilingual.txt")[:200] + corpus_lines(
        "shakespeare.txt"
    )[:200]
    rng.shuffle(lines)
    singles = lines[:48]
    pairs_a = lines[48:96]
    pairs_b = lines[96:144]
    long_ctx = [" ".join(lines[i : i + 12]) for i in range(144, 168)]
    questions = [" ".join(line.split()[:6]) + "?" for line in lines[168:192]]
    return singles, pairs_a, pairs_b, questions, long_ctx


def compare(hf_tok, st_tok, a, b=None, **kw):
    """Both raise, or both give identical arrays (plus our position_ids), and identical lists
    without ``return_tensors``."""
    try:
        expected = hf_tok(a, b, return_tensors="np", **kw)
    except BaseException as err:  # transformers raises (or its Rust core panics) on impossible settings
        for tensors in ("np", None):
            with pytest.raises(ValueError):
                st_tok(a, b, return_tensors=tensors, **kw)
        return type(err).__name__
    assert st_tok(a, b, **kw) == dict(hf_tok(a, b, **kw))
    if any(np.asarray(v).dtype == object for v in expected.values()):
        # transformers returns ragged object arrays here; subtok refuses to build non-rectangular arrays.
        with pytest.raises(ValueError, match="different lengths"):
            st_tok(a, b, return_tensors="np", **kw)
        return "ragged"
    got = st_tok(a, b, return_tensors="np", **kw)
    assert set(got) == set(expected) | {"position_ids"}, (set(got), set(expected))
    for key in expected:
        e = np.asarray(expected[key])
        assert got[key].dtype == np.int64, key
        assert got[key].shape == e.shape, (key, got[key].shape, e.shape)
        assert np.array_equal(got[key], e), key
    rows, length = got["input_ids"].shape
    assert np.array_equal(got["position_ids"], np.tile(np.arange(length), (rows, 1)))
    return "ok"


PADDINGS = [dict(padding=True), dict(padding="longest", pad_to_multiple_of=8), dict(padding="max_length"),
            dict(padding="max_length", pad_to_multiple_of=16)]


@pytest.mark.parametrize("truncation", [True, "longest_first", "only_first", "only_second"])
@pytest.mark.parametrize("max_length", [16, 17, 64])
@pytest.mark.parametrize("pad", PADDINGS)
def test_pairs_matrix(toks, texts, truncation, max_length, pad):
    hf, st = toks
    _, a, b, _, _ = texts
    extra = dict(return_offsets_mapping=True, return_special_tokens_mask=True)
    outcomes = {compare(hf, st, a[i : i + 8], b[i : i + 8], truncation=truncation, max_length=max_length, **pad, **extra)
                for i in range(0, 48, 8)}
    assert outcomes  # every batch either matched or raised on both sides


@pytest.mark.parametrize("truncation", [True, "only_first", False])
@pytest.mark.parametrize("max_length", [9, 10, 128])
@pytest.mark.parametrize("pad", PADDINGS + [dict()])
def test_singles_matrix(toks, texts, truncation, max_length, pad):
    hf, st = toks
    singles = texts[0]
    compare(hf, st, singles, truncation=truncation, max_length=max_length, return_special_tokens_mask=True,
            return_offsets_mapping=True, **pad)


@pytest.mark.parametrize("max_length,stride", [(64, 16), (48, 0), (33, 7), (128, 32)])
@pytest.mark.parametrize("padding", [True, "max_length"])
def test_qa_style_overflow(toks, texts, max_length, stride, padding):
    hf, st = toks
    _, _, _, questions, contexts = texts
    result = compare(hf, st, questions, contexts, truncation="only_second", max_length=max_length, stride=stride,
                     return_overflowing_tokens=True, return_offsets_mapping=True, return_special_tokens_mask=True,
                     padding=padding)
    assert result == "ok"


@pytest.mark.parametrize("stride", [0, 5])
def test_longest_first_overflow(toks, texts, stride):
    hf, st = toks
    _, a, _, _, contexts = texts
    compare(hf, st, contexts[:8], a[:8], truncation=True, max_length=40, stride=stride, return_overflowing_tokens=True,
            padding=True)


def test_single_string_and_no_specials(toks, texts):
    hf, st = toks
    compare(hf, st, texts[0][0])
    compare(hf, st, texts[0][0], texts[0][1])
    compare(hf, st, texts[0][:5], add_special_tokens=False, padding=True)
    compare(hf, st, texts[0][:5], texts[1][:5], add_special_tokens=False, truncation=True, max_length=20, padding=True)


def test_bad_arguments(toks):
    _, st = toks
    with pytest.raises(ValueError, match="special tokens"):
        st(["a b"], ["c d"], truncation=True, max_length=3)
    with pytest.raises(ValueError, match="stride"):
        st(["a b"], truncation=True, max_length=10, stride=8)
    with pytest.raises(ValueError, match="same length"):
        st(["a", "b"], ["c"])
    with pytest.raises(ValueError, match="only_second"):
        st(["a " * 20], truncation="only_second", max_length=10)
    with pytest.raises(ValueError, match="padding"):
        st(["a", "b c d"], return_tensors="np")
    with pytest.raises(ValueError, match="truncation="):
        st(["a"], truncation="sideways")
    with pytest.raises(ValueError, match="padding="):
        st(["a"], padding="everything")
    with pytest.raises(TypeError):
        st(5)
    with pytest.raises(TypeError):
        st(["a"], "b")


def test_char_span_maps_tokens_back_to_context(toks):
    _, st = toks
    question = "Where is the tower?"
    context = "The Eiffel Tower stands in Paris, the capital of France, since 1889."
    out = st(question, context, truncation="only_second", max_length=16, stride=4, return_overflowing_tokens=True,
             return_offsets_mapping=True, return_sequence_ids=True, padding=True, return_tensors="np")
    found = set()
    for row in range(out["input_ids"].shape[0]):
        seq = out["sequence_ids"][row]
        ctx_tokens = np.nonzero(seq == 1)[0]
        for i in ctx_tokens:
            s, e = char_span(out, row, int(i), int(i))
            token = st.id_to_token(int(out["input_ids"][row, i])).lstrip("#")
            assert context[s:e].lower() == token
            found.add((s, e))
        # a span across the whole window's context
        s, e = char_span(out, row, int(ctx_tokens[0]), int(ctx_tokens[-1]))
        assert context[s:e].strip() == context[s:e]
        # spans touching the question or a special token are rejected
        assert char_span(out, row, 0, int(ctx_tokens[0])) is None
    assert ("Paris" in context[min(s for s, _ in found):])
