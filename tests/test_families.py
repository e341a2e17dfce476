"""Every BPE / WordPiece / WordLevel tokenizer.json family (see tests/_families.py) against HF
tokenizers: ids, tokens, offsets, type ids, special-token masks, word ids and decode, on the
corpora line by line, on pairs and on hypothesis text; truncation/padding; save() round trips."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from tokenizers import Tokenizer as HFTokenizer

import subtok
from subtok import _core
from subtok.tokenizer import Tokenizer
import _families as F

FIELDS = ("ids", "tokens", "offsets", "type_ids", "special_tokens_mask", "attention_mask", "word_ids")
#: which loader path each family must take (fused specializations vs the general pipeline)
FAST = {"bert_uncased": "WordPieceTokenizer", "bert_cased": "WordPieceTokenizer",
        "bert_keep_accents": "WordPieceTokenizer", "bytelevel_prefix": "BpeTokenizer"}
HARD = [
    "U", "Zebra", "€5", "中", " leading", "trailing  ", "a  b", "", "  ", "\n\n", "x|y 12 34 2024",
    "<s> hi </s>", "<|begin_of_text|>x<|end_of_text|>", "[CLS] a [SEP]", "中文字符 テスト 한국어",
    "e\u0301 ﬁ Ⅸ Ünïcödé ÀÉÎ straße", "😀 👍🏽 👨‍👩‍👧", "I'M YOU'LL we're", "tab\tand\r\nnewline",
    "\u3000ideographic\u00a0nbsp\u2003em", "x" * 300, "▁▁ ▁x", "<0x41> <unk>",
]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    cache = {}

    def get(name):
        if name not in cache:
            d = tmp_path_factory.mktemp(name)
            hf = F.build(name, d)
            path = d / "tokenizer.json"
            hf.save(str(path))
            cache[name] = (HFTokenizer.from_file(str(path)), Tokenizer.from_file(path), path)
        return cache[name]

    return get


@pytest.fixture(scope="module")
def lines():
    return F.corpus_lines(2000)


def _diff(hf_encs, st_encs, texts, fields=FIELDS):
    """The first differing (text, field, hf, subtok), or None."""
    assert len(hf_encs) == len(st_encs)
    for t, a, b in zip(texts, hf_encs, st_encs):
        for f in fields:
            x, y = getattr(a, f), getattr(b, f)
            if x != y:
                return t, f, x[:20], y[:20]
        if len(a.overflowing) != len(b.overflowing):
            return t, "overflowing", len(a.overflowing), len(b.overflowing)
        for oa, ob in zip(a.overflowing, b.overflowing):
            for f in fields:
                if getattr(oa, f) != getattr(ob, f):
                    return t, "overflowing." + f, getattr(oa, f)[:20], getattr(ob, f)[:20]
    return None


def _decode_diff(hf, tok, encs, texts):
    for t, e in zip(texts, encs):
        for skip in (True, False):
            a, b = hf.decode(e.ids, skip_special_tokens=skip), tok.decode(e.ids, skip_special_tokens=skip)
            if a != b:
                return t, skip, a[:80], b[:80]
    return None


@pytest.mark.parametrize("name", list(F.FAMILIES))
def test_loader_path(built, name):
    _, tok, _ = built(name)
    assert type(tok._impl).__name__ == FAST.get(name, "PipelineTokenizer")


@pytest.mark.parametrize("name", list(F.FAMILIES))
def test_corpora_line_by_line(built, lines, name):
    hf, tok, _ = built(name)
    texts = HARD + lines
    want = hf.encode_batch(texts)
    got = tok.encode_batch(texts)
    assert _diff(want, got, texts) is None
    assert _decode_diff(hf, tok, want, texts) is None
    # one at a time, without special tokens
    for t in HARD:
        assert _diff([hf.encode(t, add_special_tokens=False)], [tok.encode(t, add_special_tokens=False)], [t]) is None


@pytest.mark.parametrize("name", list(F.FAMILIES))
def test_pairs(built, lines, name):
    hf, tok, _ = built(name)
    pairs = list(zip(lines[:400], lines[400:800])) + [(a, b) for a in HARD[:6] for b in HARD[6:12]]
    assert _diff(hf.encode_batch(pairs), tok.encode_batch(pairs), pairs) is None
    for add in (True, False):
        a, b = hf.encode(*pairs[0], add_special_tokens=add), tok.encode(*pairs[0], add_special_tokens=add)
        assert _diff([a], [b], [pairs[0]]) is None
    assert tok.num_special_tokens_to_add(True) == hf.num_special_tokens_to_add(True)
    assert tok.num_special_tokens_to_add(False) == hf.num_special_tokens_to_add(False)


@pytest.mark.parametrize("name", list(F.FAMILIES))
def test_truncation_and_padding(built, lines, name):
    hf, tok, path = built(name)
    hf = HFTokenizer.from_file(str(path))
    tok = Tokenizer.from_file(path)
    for t in (hf, tok):
        t.enable_truncation(24, stride=5, strategy="longest_first")
        t.enable_padding(pad_id=0, pad_token="<pad>", length=None)
    texts = lines[:300]
    pairs = list(zip(lines[300:500], lines[500:700]))
    assert _diff(hf.encode_batch(texts), tok.encode_batch(texts), texts) is None
    assert _diff(hf.encode_batch(pairs), tok.encode_batch(pairs), pairs) is None
    # flat ids: the stored truncation applies (first window, no padding)
    ids, lens = tok.encode_batch_flat(texts)
    want = []
    for e in hf.encode_batch(texts, add_special_tokens=False):
        want.append([i for i, m in zip(e.ids, e.attention_mask) if m])
    assert [len(w) for w in want] == list(lens)
    assert [i for w in want for i in w] == ids.tolist()


#: ``tok(...)`` argument sets checked against transformers (lists and numpy).
CALLS = [
    dict(), dict(return_length=True, return_special_tokens_mask=True, return_offsets_mapping=True),
    dict(truncation=True, max_length=9, stride=2, return_overflowing_tokens=True, return_offsets_mapping=True),
    dict(max_length=6), dict(padding=True, return_length=True), dict(padding=True, padding_side="left"),
    dict(padding="max_length", max_length=40, truncation=True, pad_to_multiple_of=8),
    dict(truncation="only_second", max_length=20, padding=True, return_token_type_ids=True),
    dict(add_special_tokens=False, return_attention_mask=False, truncation="only_first", max_length=12),
]


def _outcome(call, *args, **kw):
    """``call``'s result as plain Python values, or "error" (transformers' Rust core may panic)."""
    try:
        out = dict(call(*args, **kw))
    except BaseException:  # noqa: BLE001 - a pyo3 PanicException is a BaseException
        return "error"
    return {k: v.tolist() if hasattr(v, "tolist") else v for k, v in out.items() if k != "position_ids"}


@pytest.mark.parametrize("name", list(F.FAMILIES))
def test_call_matches_transformers(built, lines, name):
    """``tok(...)`` on every family equals ``PreTrainedTokenizerFast(tokenizer_object=...)(...)``
    (with BERT's ``model_input_names`` for the fused BERT WordPiece, as ``BertTokenizerFast``):
    Python lists by default, numpy with ``return_tensors="np"``; padding needs a pad token."""
    transformers = pytest.importorskip("transformers")
    hf, tok, _ = built(name)
    tok = Tokenizer.from_str(tok.to_str())
    names = {}
    if FAST.get(name) == "WordPieceTokenizer":
        names = dict(model_input_names=["input_ids", "token_type_ids", "attention_mask"])
        tok.pad_token = None  # transformers knows no pad token here; subtok's BERT default is [PAD]
    tf = transformers.PreTrainedTokenizerFast(tokenizer_object=HFTokenizer.from_str(hf.to_str()), **names)
    assert tok.model_input_names == tf.model_input_names
    for t in (tf, tok):
        with pytest.raises(ValueError, match="Asking to pad"):
            t(lines[:2], padding=True)
    tf.pad_token = tok.pad_token = hf.id_to_token(0)
    inputs = [(lines[0], None), (lines[:12], None), (lines[12:20], lines[20:28]), (lines[3], lines[4]),
              (HARD, None)]
    for a, b in inputs:
        for kw in CALLS:
            assert _outcome(tok, a, b, **kw) == _outcome(tf, a, b, **kw), (a, b, kw)
            if kw.get("padding") or kw.get("return_overflowing_tokens"):
                got, want = _outcome(tok, a, b, return_tensors="np", **kw), _outcome(tf, a, b, return_tensors="np", **kw)
                assert got == want or (got == "error" and "overflow_to_sample_mapping" in want), (a, b, kw)


def test_call_matches_gpt2_tokenizer_fast(built, lines, tmp_path):
    """A GPT-2 style ``vocab.json`` + ``merges.txt`` (the fused byte-level BPE) against
    ``GPT2TokenizerFast`` on the same files, with ``pad_token = eos_token``."""
    transformers = pytest.importorskip("transformers")
    hf, _, _ = built("bytelevel_prefix")
    vocab, merges = hf.model.save(str(tmp_path))
    tok = Tokenizer.from_gpt2_files(vocab, merges)
    tf = transformers.GPT2TokenizerFast(vocab, merges, eos_token="<|endoftext|>", bos_token="<|endoftext|>",
                                        unk_token="<|endoftext|>")
    assert isinstance(tok._impl, _core.BpeTokenizer)
    tok.pad_token = tf.pad_token = "<|endoftext|>"
    for a, b in [(lines[:12], None), (lines[12:20], lines[20:28]), (lines[5], None)]:
        for kw in CALLS:
            assert _outcome(tok, a, b, **kw) == _outcome(tf, a, b, **kw), (a, b, kw)


@pytest.mark.parametrize("name", list(F.FAMILIES))
def test_flat_ids_match_encode(built, lines, name):
    hf, tok, _ = built(name)
    texts = lines[:500]
    ids, lens = tok.encode_batch_flat(texts, add_special_tokens=True)
    want = [e.ids for e in hf.encode_batch(texts)]
    assert [len(w) for w in want] == list(lens)
    assert [i for w in want for i in w] == ids.tolist()


@pytest.mark.parametrize("name", list(F.FAMILIES))
def test_save_round_trip(built, lines, name, tmp_path):
    hf, tok, _ = built(name)
    tok.enable_truncation(40)
    out = tmp_path / "saved.json"
    tok.save(out)
    tok.no_truncation()
    hf2 = HFTokenizer.from_file(str(out))
    tok2 = Tokenizer.from_file(out)
    assert hf2.truncation["max_length"] == 40 and tok2.truncation["max_length"] == 40
    hf2.no_truncation()
    tok2.no_truncation()
    texts = HARD + lines[:300]
    assert _diff(hf.encode_batch(texts), hf2.encode_batch(texts), texts) is None
    assert _diff(hf.encode_batch(texts), tok2.encode_batch(texts), texts) is None
    assert json.loads(Tokenizer.from_str(tok.to_str()).to_str()) == json.loads(tok.to_str())


@pytest.mark.parametrize("name", list(F.FAMILIES))
def test_hypothesis_text(built, name):
    hf, tok, _ = built(name)

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40),
           st.text(alphabet="ab c▁|<>/s01é中 \n\t", max_size=20))
    def check(a, b):
        for x, y in ((a, None), (b, None), (a, b)):
            args = (x,) if y is None else (x, y)
            e1, e2 = hf.encode(*args), tok.encode(*args)
            assert _diff([e1], [e2], [args]) is None
            assert hf.decode(e1.ids) == tok.decode(e1.ids)

    check()


@pytest.mark.parametrize("post", [None, {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False}])
def test_bytelevel_prefix_space_offsets(built, post):
    """A prefix space that is a token of its own covers the first character, as in HF (issue #11:
    'U' gave [(0, 0), (0, 1)])."""
    _, _, path = built("bytelevel_prefix")
    v = json.loads(path.read_text(encoding="utf-8"))
    v["post_processor"] = post
    hf, tok = HFTokenizer.from_str(json.dumps(v)), Tokenizer.from_str(json.dumps(v))
    assert type(tok._impl).__name__ == "BpeTokenizer"
    seen = 0
    for text in ("U", "Zebra", "€5", "中", "x", "Q!"):
        a, b = hf.encode(text), tok.encode(text)
        assert (a.tokens, a.offsets) == (b.tokens, b.offsets)
        if a.tokens[0] == "Ġ":
            seen += 1
            assert b.offsets[0] == (0, 1)
    assert seen


def test_unigram_is_refused_by_name():
    from tokenizers import models

    hf = HFTokenizer(models.Unigram([("<unk>", 0.0), ("a", -1.0)], unk_id=0))
    with pytest.raises(subtok.TokenizerFileError, match="Unigram"):
        Tokenizer.from_str(hf.to_str())


def test_bad_components_are_named():
    from tokenizers import models

    v = json.loads(HFTokenizer(models.WordLevel({"a": 0, "<unk>": 1}, unk_token="<unk>")).to_str())
    for charsmap in ("", "AAAA", "not base64!"):
        v["normalizer"] = {"type": "Precompiled", "precompiled_charsmap": charsmap}
        with pytest.raises(subtok.TokenizerFileError, match="Precompiled"):
            Tokenizer.from_str(json.dumps(v))
    v["normalizer"] = None
    v["pre_tokenizer"] = {"type": "Mystery"}
    with pytest.raises(subtok.TokenizerFileError, match="Mystery"):
        Tokenizer.from_str(json.dumps(v))


#: characters where SentencePiece's charsmap, grapheme clusters and offsets interact: combining
#: marks, ligatures, half-width kana and voiced marks, Hangul jamo, ZWJ emoji, format and
#: control characters, full-width forms, spaces of every kind
PRECOMPILED_PIECES = [
    "e", "\u0301", "\u0308", "\u20dd", "ﬁ", "ﬃ", "Ⅸ", "①", "ｶ", "ﾞ", "ﾟ", "ガ", "\u1100", "\u1161", "\u11a8", "한",
    "👨", "\u200d", "👩", "🏽", "\u200b", "\u200c", "\ufeff", "\x01", "\x7f", "Ａ", "ｂ", "㍿", "ß", "İ", "Σ", "ς",
    " ", "  ", "\u3000", "\u00a0", "\t", "\n", "x", "中", "\u0e33", "\u0d4c", "\U0001d400", "\ufb2a", "\u05bc",
]


@pytest.mark.parametrize("name", ["llama_spm_nfkc", "llama_spm_nfkc_cf"])
def test_precompiled_graphemes(built, name):
    """The Precompiled normalizer on clusters built from tricky pieces: ids, offsets, decode."""
    hf, tok, _ = built(name)

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.sampled_from(PRECOMPILED_PIECES), max_size=12).map("".join))
    def check(text):
        e1, e2 = hf.encode(text), tok.encode(text)
        assert _diff([e1], [e2], [text]) is None
        assert hf.decode(e1.ids) == tok.decode(e1.ids)

    check()


#: pipeline families for the API parity checks (every model, processor and decoder kind)
API_FAMILIES = ["llama_spm", "llama_spm_nfkc", "roberta", "llama3", "word_level", "wordpiece_mix", "scripts_wordpiece"]


@pytest.mark.parametrize("name", API_FAMILIES)
def test_api_pretokenized_and_post_process(built, lines, name):
    """`is_pretokenized` input and `post_process` behave as HF's, stored settings included."""
    _, _, path = built(name)
    hf, tok = HFTokenizer.from_file(str(path)), Tokenizer.from_file(path)
    assert type(tok._impl).__name__ == "PipelineTokenizer"
    words = [l.split() for l in lines[:40]] + [["U", "Zebra", "€5"], ["<s>", "hi", "[CLS]"], ["中文", "e\u0301"], []]
    for add in (True, False):
        for w in words:
            assert _diff([hf.encode(w, is_pretokenized=True, add_special_tokens=add)],
                         [tok.encode(w, is_pretokenized=True, add_special_tokens=add)], [w]) is None
        pairs = list(zip(words[:10], words[10:20]))
        assert _diff([hf.encode(a, b, is_pretokenized=True, add_special_tokens=add) for a, b in pairs],
                     tok.encode_batch(pairs, is_pretokenized=True, add_special_tokens=add), pairs) is None
    texts = lines[:60]
    raw = [(t.encode_batch(texts, add_special_tokens=False)) for t in (hf, tok)]
    for t in (hf, tok):
        t.enable_truncation(20, stride=3)
        t.enable_padding(pad_id=0, pad_token="<pad>", length=24)
    for i in range(30):
        for pair in (None, 30 + i):
            ha = hf.post_process(raw[0][i], None if pair is None else raw[0][pair])
            sa = tok.post_process(raw[1][i], None if pair is None else raw[1][pair])
            assert _diff([ha], [sa], [(texts[i], pair)]) is None


@pytest.mark.parametrize("name", API_FAMILIES)
def test_api_added_tokens_and_vocab(built, lines, name):
    """add_tokens / add_special_tokens with AddedToken options, vocabulary queries and decode."""
    from tokenizers import AddedToken as HFAddedToken

    _, _, path = built(name)
    hf, tok = HFTokenizer.from_file(str(path)), Tokenizer.from_file(path)
    assert tok.get_vocab(with_added_tokens=False) == hf.get_vocab(with_added_tokens=False)
    assert tok.get_vocab() == hf.get_vocab()
    assert tok.get_vocab_size() == hf.get_vocab_size()
    assert tok.get_vocab_size(with_added_tokens=False) == hf.get_vocab_size(with_added_tokens=False)
    # not with RobertaProcessing: it trims offsets by the token string, and HF's is the matched text
    # ("peo  "), subtok's the content (a known difference, see below)
    new = [("zebrafish", dict(single_word=True)), ("peo", dict(rstrip=name != "roberta", normalized=False)), ("xyzzy", {})]
    assert tok.add_tokens([subtok.AddedToken(c, **kw) for c, kw in new]) == hf.add_tokens(
        [HFAddedToken(c, **kw) for c, kw in new])
    assert tok.add_special_tokens(["<sep2>", "[NEW]"]) == hf.add_special_tokens(["<sep2>", "[NEW]"])
    texts = ["zebrafish people xyzzy<sep2>x", " peo  ple [NEW]zebrafishes", "Everyone has the xyzzy"] + lines[:200]
    # HF's token string of an added token is the text it matched ("peo " with rstrip); subtok's is
    # the token's content: every other field must agree
    assert _diff(hf.encode_batch(texts), tok.encode_batch(texts), texts, [f for f in FIELDS if f != "tokens"]) is None
    ids = [e.ids for e in hf.encode_batch(texts)]
    assert tok.decode_batch(ids) == hf.decode_batch(ids)
    assert tok.decode_batch(ids, skip_special_tokens=False) == hf.decode_batch(ids, skip_special_tokens=False)
    for t in ("zebrafish", "<sep2>", "[NEW]", "nope-not-a-token"):
        assert tok.token_to_id(t) == hf.token_to_id(t)
    for i in (0, 5, hf.get_vocab_size() - 1, hf.get_vocab_size() + 5):
        assert tok.id_to_token(i) == hf.id_to_token(i)
    assert tok.tokenize(lines[0]) == hf.encode(lines[0], add_special_tokens=False).tokens
    assert tok.tokenize(lines[0], add_special_tokens=True) == hf.encode(lines[0]).tokens


@pytest.mark.parametrize("name", API_FAMILIES)
def test_api_settings_call_copy_pickle(built, lines, name, tmp_path):
    """Stored settings as dicts, __call__ arrays, copies and pickles, save_pretrained."""
    import copy
    import pickle

    _, _, path = built(name)
    hf, tok = HFTokenizer.from_file(str(path)), Tokenizer.from_file(path)
    texts = lines[:64]
    for t in (hf, tok):
        t.enable_truncation(16, stride=2, strategy="only_first", direction="left")
        t.enable_padding(direction="left", pad_id=1, pad_token=hf.id_to_token(1), pad_to_multiple_of=8)
    assert tok.truncation == hf.truncation
    assert tok.padding == hf.padding
    assert _diff(hf.encode_batch(texts), tok.encode_batch(texts), texts) is None
    twin = copy.copy(tok)
    twin.no_truncation()
    twin.no_padding()
    assert tok.truncation is not None and twin.padding is None
    back = pickle.loads(pickle.dumps(tok))
    assert _diff(hf.encode_batch(texts), back.encode_batch(texts), texts) is None
    hf.no_truncation()
    hf.no_padding()
    out = tok(texts, padding="longest", truncation=True, max_length=12)
    hf.enable_truncation(12)
    hf.enable_padding(pad_id=tok.pad_token_id or 0, pad_token=tok.pad_token or "[PAD]")
    assert out["input_ids"] == [e.ids for e in hf.encode_batch(texts)]
    assert out["attention_mask"] == [e.attention_mask for e in hf.encode_batch(texts)]
    tok.no_truncation()
    tok.no_padding()
    transformers = pytest.importorskip("transformers")
    tok.save_pretrained(tmp_path / "saved")
    fast = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "saved"))
    hf.no_truncation()
    hf.no_padding()
    assert [fast(t)["input_ids"] for t in texts[:20]] == [e.ids for e in hf.encode_batch(texts[:20])]


def test_pipeline_class_is_exposed():
    assert hasattr(_core, "PipelineTokenizer")
