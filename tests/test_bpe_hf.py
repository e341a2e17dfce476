"""subtok's byte-level BPE against HF tokenizers: HF-trained tokenizer.json, GPT-2 vocab/merges
files, and tokenizer.json files written by subtok."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from tokenizers import ByteLevelBPETokenizer
from tokenizers import Tokenizer as HFTokenizer

import subtok
from subtok.tokenizer import Tokenizer
from _bpe_common import CORPORA, HARD_CASES, cl100k, corpus_lines, tiktoken_file


def _train_lines():
    lines = []
    for p in CORPORA:
        lines += corpus_lines(p)[:3000]
    return lines


def _all_lines():
    return [l for p in CORPORA for l in corpus_lines(p)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("hfbpe")
    bl = ByteLevelBPETokenizer()
    bl.train_from_iterator(_train_lines(), vocab_size=4000, min_frequency=2, special_tokens=["<|endoftext|>"], show_progress=False)
    bl.save(str(d / "tokenizer.json"))
    bl.save_model(str(d))  # vocab.json + merges.txt
    return d


def hf_ids(hf: HFTokenizer, texts):
    return [e.ids for e in hf.encode_batch(texts, add_special_tokens=False)]


def test_hf_trained_json_identical_ids(trained):
    path = trained / "tokenizer.json"
    hf = HFTokenizer.from_file(str(path))
    tok = Tokenizer.from_file(path)
    lines = _all_lines()
    want = hf_ids(hf, lines)
    got = [e.ids for e in tok.encode_batch(lines)]
    bad = [i for i, (a, b) in enumerate(zip(got, want)) if a != b]
    assert not bad, f"{len(bad)} lines differ, first: {lines[bad[0]]!r}"
    for text in HARD_CASES:
        assert tok.encode(text).ids == hf.encode(text).ids, text[:40]
    assert tok.vocab_size == hf.get_vocab_size()
    assert tok.get_vocab() == hf.get_vocab()
    e = tok.encode("Hello world")
    assert e.tokens == hf.encode("Hello world").tokens
    # offsets (character based, a token inside a multi-byte character covers that character) and word ids
    sample = [l for p in CORPORA for l in corpus_lines(p)[:1500]] + HARD_CASES
    for text, h in zip(sample, hf.encode_batch(sample, add_special_tokens=False)):
        s = tok.encode(text)
        assert (s.offsets, s.word_ids, s.tokens) == (h.offsets, h.word_ids, h.tokens), text[:60]


def test_merges_as_strings_and_prefix_space(trained, tmp_path):
    data = json.loads((trained / "tokenizer.json").read_text())
    assert isinstance(data["model"]["merges"][0], list)
    data["model"]["merges"] = [" ".join(m) for m in data["model"]["merges"]]
    data["pre_tokenizer"]["add_prefix_space"] = True
    text = json.dumps(data)
    hf = HFTokenizer.from_str(text)
    tok = Tokenizer.from_str(text)
    lines = corpus_lines(CORPORA[0])[:3000] + HARD_CASES
    assert [e.ids for e in tok.encode_batch(lines)] == hf_ids(hf, lines)


def test_added_tokens(trained):
    path = trained / "tokenizer.json"
    hf = HFTokenizer.from_file(str(path))
    tok = Tokenizer.from_file(path)
    text = "first document<|endoftext|>second one <|endoftext|>"
    with pytest.raises(ValueError, match="disallowed special token"):
        tok.encode(text)
    assert tok.encode(text, allowed_special="all").ids == hf.encode(text).ids
    assert tok.token_to_id("<|endoftext|>") == hf.token_to_id("<|endoftext|>")
    plain = tok.encode(text, disallowed_special=()).ids
    assert hf.token_to_id("<|endoftext|>") not in plain
    assert tok.decode(plain) == text


def test_gpt2_vocab_and_merges_files(trained):
    vocab, merges = trained / "vocab.json", trained / "merges.txt"
    hf = ByteLevelBPETokenizer(str(vocab), str(merges))
    tok = Tokenizer.from_gpt2_files(vocab, merges)
    lines = corpus_lines(CORPORA[-1])[:5000] + HARD_CASES
    assert [e.ids for e in tok.encode_batch(lines)] == [e.ids for e in hf.encode_batch(lines)]


def test_save_then_hf_loads_identically(trained, tmp_path):
    tok = Tokenizer.from_file(trained / "tokenizer.json")
    out = tmp_path / "saved.json"
    tok.save(out)
    hf = HFTokenizer.from_file(str(out))
    lines = corpus_lines(CORPORA[1])[:5000] + HARD_CASES
    assert hf_ids(hf, lines) == [e.ids for e in tok.encode_batch(lines)]
    again = Tokenizer.from_str(tok.to_str())
    assert [e.ids for e in again.encode_batch(lines)] == [e.ids for e in tok.encode_batch(lines)]


def test_save_cl100k_then_hf_loads(tmp_path):
    enc = cl100k()
    tok = Tokenizer.from_tiktoken(tiktoken_file("cl100k_base"), "cl100k_base", enc._special_tokens)
    out = tmp_path / "cl100k.json"
    tok.save(out, pretty=False)
    hf = HFTokenizer.from_file(str(out))
    again = Tokenizer.from_file(out)
    lines = [l for p in CORPORA for l in corpus_lines(p)[:2000]]
    want = enc.encode_ordinary_batch(lines, num_threads=1)
    # subtok reading its own file back is exact
    assert [e.ids for e in again.encode_batch(lines, disallowed_special=())] == want
    # HF tokenizers (Oniguruma regex engine) on the same file
    got = hf_ids(hf, lines)
    same = sum(a == b for a, b in zip(got, want))
    print(f"HF vs tiktoken on the saved cl100k json: {same}/{len(lines)} lines identical")
    assert same / len(lines) > 0.97, f"HF agrees with tiktoken on only {same}/{len(lines)} lines"


def test_file_errors(tmp_path, trained):
    with pytest.raises(FileNotFoundError):
        Tokenizer.from_file(tmp_path / "nope.json")
    with pytest.raises(FileNotFoundError):
        Tokenizer.from_gpt2_files(tmp_path / "v.json", tmp_path / "m.txt")
    bad = tmp_path / "broken.json"
    bad.write_text("{not json")
    with pytest.raises(subtok.TokenizerFileError, match="broken.json"):
        Tokenizer.from_file(bad)
    data = json.loads((trained / "tokenizer.json").read_text())
    data["model"]["merges"].append(["zzzq", "qqqz"])
    bad.write_text(json.dumps(data))
    with pytest.raises(subtok.TokenizerFileError, match="broken.json.*not in the vocabulary"):
        Tokenizer.from_file(bad)
    data = json.loads((trained / "tokenizer.json").read_text())
    data["model"]["merges"][0] = 5
    bad.write_text(json.dumps(data))
    with pytest.raises(subtok.TokenizerFileError, match="merges"):
        Tokenizer.from_file(bad)
    data = json.loads((trained / "tokenizer.json").read_text())
    data["pre_tokenizer"] = {"type": "NoSuchPreTokenizer"}
    bad.write_text(json.dumps(data))
    with pytest.raises(subtok.TokenizerFileError, match="NoSuchPreTokenizer.*not supported"):
        Tokenizer.from_file(bad)
    v = tmp_path / "vocab.json"
    v.write_text("[1, 2]")
    m = tmp_path / "merges.txt"
    m.write_text("#version: 0.2\na b\n")
    with pytest.raises(subtok.TokenizerFileError, match="vocab.json"):
        Tokenizer.from_gpt2_files(v, m)
    v.write_text('{"a": 0, "b": 1, "ab": 2}')
    m.write_text("#version: 0.2\na b c\n")
    with pytest.raises(subtok.TokenizerFileError, match="merges.txt"):
        Tokenizer.from_gpt2_files(v, m)


def test_save_is_atomic_and_reports_unwritable(trained, tmp_path):
    tok = Tokenizer.from_file(trained / "tokenizer.json")
    with pytest.raises(OSError):
        tok.save(tmp_path / "no_such_dir" / "t.json")
    assert not (tmp_path / "no_such_dir").exists()


def test_transformers_converted_cl100k_json(tmp_path):
    """An HF tokenizer.json with Split(regex) + ByteLevel, made by transformers' TikTokenConverter,
    loads with the cl100k splitter and gives tiktoken's ids."""
    from transformers.convert_slow_tokenizer import TikTokenConverter

    enc = cl100k()
    conv = TikTokenConverter(
        vocab_file=str(tiktoken_file("cl100k_base")), pattern=enc._pat_str, extra_special_tokens=list(enc._special_tokens)
    )
    path = tmp_path / "tokenizer.json"
    conv.converted().save(str(path))
    tok = Tokenizer.from_file(path)
    assert "'(?i:[sdmt]" in repr(tok._impl)
    lines = [l for p in CORPORA for l in corpus_lines(p)[:3000]] + HARD_CASES
    want = enc.encode_ordinary_batch(lines, num_threads=1)
    assert [e.ids for e in tok.encode_batch(lines, disallowed_special=())] == want
    # the converter numbers added tokens after the vocabulary (not tiktoken's ids): compare with HF
    text = "a<|endoftext|>b"
    hf = HFTokenizer.from_file(str(path))
    assert tok.encode(text, allowed_special="all").ids == hf.encode(text).ids
    assert tok.token_to_id("<|endoftext|>") == hf.token_to_id("<|endoftext|>")


@pytest.mark.parametrize("prefix", [False, True])
def test_trim_offsets_like_hf(trained, prefix):
    data = json.loads((trained / "tokenizer.json").read_text())
    data["post_processor"] = {"type": "ByteLevel", "add_prefix_space": prefix, "trim_offsets": True, "use_regex": True}
    data["pre_tokenizer"]["add_prefix_space"] = prefix
    text = json.dumps(data)
    hf, tok = HFTokenizer.from_str(text), Tokenizer.from_str(text)
    sample = corpus_lines(CORPORA[1])[:2000] + HARD_CASES + ["  two leading", " one", "end  ", "a \n b"]
    for t, h in zip(sample, hf.encode_batch(sample, add_special_tokens=False)):
        s = tok.encode(t)
        assert (s.ids, s.offsets) == (h.ids, h.offsets), t[:60]


@pytest.mark.parametrize("strategy", ["longest_first", "only_first", "only_second"])
def test_stored_truncation_and_padding_match_hf(trained, tmp_path, strategy):
    """Truncation (with overflow windows) and padding stored in a BPE tokenizer.json, or set with
    enable_truncation/enable_padding, behave as in HF, and survive save()."""
    hf = HFTokenizer.from_file(str(trained / "tokenizer.json"))
    hf.enable_truncation(12, stride=3, strategy=strategy)
    hf.enable_padding(pad_id=0, pad_token="<|endoftext|>", pad_to_multiple_of=8)
    stored = tmp_path / "stored.json"
    hf.save(str(stored))
    tok = Tokenizer.from_file(stored)
    assert tok.truncation == {"max_length": 12, "stride": 3, "strategy": strategy, "direction": "right"}
    lines = _train_lines()[:120]
    pairs = list(zip(lines[::2], lines[1::2]))
    for a, b in pairs:
        try:
            want = hf.encode(a, b)
        except BaseException:  # HF errors (or panics) when the strategy cannot be met
            with pytest.raises(ValueError):
                tok.encode(a, b)
            continue
        got = tok.encode(a, b)
        assert (got.ids, got.type_ids, got.attention_mask, got.offsets) == (want.ids, want.type_ids, want.attention_mask, want.offsets)
        assert [o.ids for o in got.overflowing] == [o.ids for o in want.overflowing]
    if strategy != "only_second":
        for g, w in zip(tok.encode_batch(lines), hf.encode_batch(lines)):
            assert (g.ids, g.attention_mask, g.special_tokens_mask) == (w.ids, w.attention_mask, w.special_tokens_mask)
        ids, lens = tok.encode_batch_flat(lines)
        assert lens.max() <= 12
        full_ids, full_lens = tok.encode_batch_flat(lines, truncate=False)
        assert full_lens.tolist() == [len(x) for x in hf_ids(HFTokenizer.from_file(str(trained / "tokenizer.json")), lines)]
        assert full_lens.max() > 12
    tok.save(tmp_path / "again.json")
    again = HFTokenizer.from_file(str(tmp_path / "again.json"))
    assert again.truncation == hf.truncation and again.padding == hf.padding
    tok.no_truncation()
    tok.no_padding()
    assert tok.truncation is None and tok.padding is None
    assert tok.encode(lines[0]).ids == hf_ids(HFTokenizer.from_file(str(trained / "tokenizer.json")), [lines[0]])[0]


@pytest.mark.parametrize("trim", [False, True])
def test_added_token_flags_like_hf(trained, tmp_path, trim):
    """HF added-token flags: lstrip/rstrip absorb whitespace, single_word skips glued matches."""
    from tokenizers import AddedToken

    hf = HFTokenizer.from_file(str(trained / "tokenizer.json"))
    hf.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True)])
    hf.add_tokens([
        AddedToken("[NL]", rstrip=True, normalized=False),
        AddedToken("cat", single_word=True, normalized=False),
        AddedToken("<both>", lstrip=True, rstrip=True, normalized=False),
        AddedToken("dog", normalized=False),
    ])
    data = json.loads(hf.to_str())
    data["post_processor"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": trim, "use_regex": True}
    text = json.dumps(data)
    hf, tok = HFTokenizer.from_str(text), Tokenizer.from_str(text)
    marks = ["Hello   <mask> world", "x <mask>", "a[NL]   b", "cat concat cat, _cat cat_ dog hotdog", "é cat\u00e9",
             "  <both>  z", "<mask><mask>  <mask>", "[NL]", "\t<both>\n"]
    lines = corpus_lines(CORPORA[0])[:300]
    sample = marks + [f"{m} {l} {marks[i % len(marks)]}" for i, l in enumerate(lines) for m in marks[i % 4 :: 4]]
    for t, h in zip(sample, hf.encode_batch(sample, add_special_tokens=False)):
        s = tok.encode(t, allowed_special="all")
        assert (s.ids, s.offsets, s.word_ids, s.special_tokens_mask) == (
            h.ids, h.offsets, h.word_ids, h.special_tokens_mask), t[:80]
    again = Tokenizer.from_str(tok.to_str())  # the flags survive save()
    assert again.encode(sample[0], allowed_special="all").ids == hf.encode(sample[0]).ids
