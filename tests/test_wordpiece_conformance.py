"""WordPiece output must be identical to HF tokenizers: ids, offsets, type ids, masks, word ids."""
from __future__ import annotations

from typing import List

import pytest
import tokenizers
from hypothesis import given, settings
from hypothesis import strategies as st

import subtok
from conftest import CORPUS_FILES, corpus_lines

FIELDS = ("ids", "tokens", "offsets", "type_ids", "special_tokens_mask", "attention_mask", "word_ids")


def _plain(tok):
    tok.no_padding()
    tok.no_truncation()
    return tok


@pytest.fixture(scope="module")
def pair(minilm_dir):
    """(HF tokenizer, subtok tokenizer) from the same tokenizer.json, no stored padding/truncation."""
    path = str(minilm_dir / "tokenizer.json")
    return _plain(tokenizers.Tokenizer.from_file(path)), _plain(subtok.Tokenizer.from_file(path))


@pytest.fixture(scope="module")
def vocab_pair(minilm_dir):
    """The same through vocab.txt: HF's BertWordPieceTokenizer vs subtok.Tokenizer.from_vocab."""
    from tokenizers.implementations import BertWordPieceTokenizer

    vocab = str(minilm_dir / "vocab.txt")
    return BertWordPieceTokenizer(vocab, lowercase=True), subtok.Tokenizer.from_vocab(vocab, lowercase=True)


@pytest.fixture(scope="module")
def cased_pair(minilm_dir):
    from tokenizers.implementations import BertWordPieceTokenizer

    vocab = str(minilm_dir / "vocab.txt")
    return BertWordPieceTokenizer(vocab, lowercase=False), subtok.Tokenizer.from_vocab(vocab, lowercase=False)


def assert_same(hf_encs, st_encs, texts: List[str]) -> None:
    assert len(hf_encs) == len(st_encs)
    for text, a, b in zip(texts, hf_encs, st_encs):
        for f in FIELDS:
            if getattr(a, f) != getattr(b, f):
                raise AssertionError(f"{f} differs for {text!r}:\nHF     {getattr(a, f)}\nsubtok {getattr(b, f)}")


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_corpus_lines_identical_tokenizer_json(pair, name):
    hf, st_ = pair
    lines = corpus_lines(name)
    assert_same(hf.encode_batch(lines), st_.encode_batch(lines), lines)


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_corpus_lines_identical_vocab_txt(vocab_pair, name):
    hf, st_ = vocab_pair
    lines = corpus_lines(name)
    assert_same(hf.encode_batch(lines), st_.encode_batch(lines), lines)


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_corpus_lines_identical_cased(cased_pair, name):
    hf, st_ = cased_pair
    lines = corpus_lines(name)[:3000]
    assert_same(hf.encode_batch(lines), st_.encode_batch(lines), lines)


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_corpus_pairs_identical(pair, name):
    hf, st_ = pair
    lines = corpus_lines(name)[:4000]
    pairs = list(zip(lines[::2], lines[1::2]))
    assert_same(hf.encode_batch(pairs), st_.encode_batch(pairs), [f"{a} || {b}" for a, b in pairs])


HARD_CASES = [
    "",
    " ",
    "   \t\n  ",
    "\u3000\u00a0",
    "e\u0301 cafe\u0301 n\u0303o",  # combining marks
    "Ａｂｃ！ ｆｕｌｌ－ｗｉｄｔｈ １２３",  # full-width forms
    "\u4e00\u9fff \u3400\u4dbf \U00020000\U0002a6df \U0002a700 \U0002b740 \U0002b820 \U0002b920 \uf900 \U0002f800",  # CJK ranges
    "\U0001f468\u200d\U0001f469\u200d\U0001f467 \U0001f44d\U0001f3fd \U0001f1fa\U0001f1f8",  # emoji sequences
    "hello [SEP] world [CLS][MASK][PAD][UNK] [sep] [ SEP ]",  # literal specials
    "a" * 99,
    "a" * 100,
    "a" * 101,
    "b" * 99 + " " + "c" * 100 + " " + "d" * 101,
    "\u00e9" * 101,
    "ctrl\x00\x01\x07\x1b\x7f chars\u200b\u200c\u200d\ufeff\u2060 zero\u00adwidth",
    "\ue000private \U000f0000use",
    "unassigned \u0378\u0379 \U000e0080",
    "\ufffd replacement",
    "ΟΔΟΣ Σίσυφος ΣΑΣ",
    "İstanbul ǅungla ß ẞ ﬁ",
    "$+<=>^`|~ € © ¿¡ «» — …",
    "don't I'm they're we've it's 'quoted'",
    "x\r\ny\rz\n\n\nw\x0b\x0cv\x1c\x1d\x1e\x1f\x85u\u2028t\u2029s",
    "Ǆ Ǉ ǈ ǉ ᾈ ᾼ ﬀ",
    "한국어 텍스트와 ひらがな カタカナ",
    "العربية עברית हिन्दी தமிழ் русский",
    "12,345.67 3.14e-10 0x1F",
]


def test_hard_cases(pair, vocab_pair, cased_pair):
    for hf, st_ in (pair, vocab_pair, cased_pair):
        assert_same(hf.encode_batch(HARD_CASES), st_.encode_batch(HARD_CASES), HARD_CASES)
        for text in HARD_CASES:
            assert_same([hf.encode(text)], [st_.encode(text)], [text])


def test_hard_case_pairs(pair):
    hf, st_ = pair
    pairs = [(a, b) for a in HARD_CASES[:8] for b in HARD_CASES[8:16]]
    assert_same(hf.encode_batch(pairs), st_.encode_batch(pairs), [repr(p) for p in pairs])


def test_no_special_tokens(pair):
    hf, st_ = pair
    lines = corpus_lines("wikitext2-test.txt")[:500]
    assert_same(
        hf.encode_batch(lines, add_special_tokens=False), st_.encode_batch(lines, add_special_tokens=False), lines
    )


# Any code point except surrogates (Python str can hold them; they are tested as errors below).
_unicode_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)
_mixed_text = st.lists(
    st.one_of(_unicode_text, st.sampled_from(["[SEP]", "[CLS]", " ", "##", "the", "un", "able", "\u0301", "Σ"])),
    max_size=8,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(_mixed_text, st.one_of(st.none(), _mixed_text))
def test_random_unicode_matches_hf(pair, text, other):
    hf, st_ = pair
    a = hf.encode(text, other)
    b = st_.encode(text, other)
    assert_same([a], [b], [repr((text, other))])


@settings(max_examples=200, deadline=None)
@given(_mixed_text)
def test_random_unicode_matches_hf_cased(cased_pair, text):
    hf, st_ = cased_pair
    assert_same([hf.encode(text)], [st_.encode(text)], [repr(text)])


# ---------------------------------------------------------------- user-added tokens
ADDED_FIELDS = tuple(f for f in FIELDS if f != "tokens")


@pytest.fixture(scope="module")
def added_pair(minilm_dir, tmp_path_factory):
    """HF and subtok loading one tokenizer.json with user-added tokens of every kind.

    ``normalized=True`` tokens (what ``add_tokens`` gives by default) are matched by their
    normalized content in normalized text; the others in the raw text.
    """
    from tokenizers import AddedToken

    hf = _plain(tokenizers.Tokenizer.from_file(str(minilm_dir / "tokenizer.json")))
    hf.add_tokens(
        [
            AddedToken("COVID-19", normalized=True),
            AddedToken("Ünïcode", normalized=True),
            AddedToken("中文", normalized=True),
            AddedToken("the people", normalized=True, single_word=True),
            AddedToken(" sp", normalized=True, lstrip=True),
            AddedToken("RawTok", normalized=False),
            AddedToken("<tag>", normalized=False, lstrip=True, rstrip=True),
        ]
    )
    hf.add_special_tokens([AddedToken("[NEW]", normalized=False)])
    path = tmp_path_factory.mktemp("added") / "tokenizer.json"
    hf.save(str(path))
    return hf, _plain(subtok.Tokenizer.from_file(str(path)))


def _added_texts():
    base = corpus_lines("udhr-multilingual.txt")[:150] + corpus_lines("wikitext2-test.txt")[:150]
    marks = ["covid-19", "COVID-19", "xCoViD-19y", "ÜNÏCODE", "unicode", "我爱中文", "The People", "thepeople",
             "a  sp", "RawTok", "rawtok", "x <tag>  y", "[NEW]", "co\u200bvid-19", "İ"]
    return [f"{m} {line} {marks[(i * 7) % len(marks)]}" for i, line in enumerate(base) for m in marks[i % 3 :: 5]]


def test_user_added_tokens_match_hf(added_pair):
    """ids, offsets, word ids and masks are identical; ``tokens`` shows the vocabulary entry of an
    added token, where HF shows the text it matched (e.g. 'covid-19' for 'COVID-19')."""
    hf, st_ = added_pair
    texts = _added_texts() + HARD_CASES
    a, b = hf.encode_batch(texts), st_.encode_batch(texts)
    for text, x, y in zip(texts, a, b):
        for f in ADDED_FIELDS:
            assert getattr(x, f) == getattr(y, f), f"{f} differs for {text!r}"
    pairs = list(zip(texts[:100], texts[100:200]))
    for (p, q), x, y in zip(pairs, hf.encode_batch(pairs), st_.encode_batch(pairs)):
        for f in ADDED_FIELDS:
            assert getattr(x, f) == getattr(y, f), f"{f} differs for {(p, q)!r}"
    covid = hf.token_to_id("COVID-19")
    assert st_.encode("covid-19 COVID-19").ids[1:3] == [covid, covid]
    assert st_.encode("RawTok rawtok").ids[1] == hf.token_to_id("RawTok")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(_unicode_text, st.sampled_from(["COVID-19", "covid-19", "Ü", "ünïcode", "中文", " sp", "<tag>",
                                                          "RawTok", "the people", "\u0301", " "])), max_size=8).map("".join))
def test_user_added_tokens_random_text(added_pair, text):
    hf, st_ = added_pair
    x, y = hf.encode(text), st_.encode(text)
    for f in ADDED_FIELDS:
        assert getattr(x, f) == getattr(y, f), f"{f} differs for {text!r}"
