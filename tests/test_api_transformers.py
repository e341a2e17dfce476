"""transformers' tokenizer API on subtok (issue 13): ``tok(...)`` options, tokenize/convert/decode
helpers, special-token attributes, save_pretrained -> AutoTokenizer, from_pretrained honouring
tokenizer_config.json; each checked against transformers itself on the corpora."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import transformers
from hypothesis import given, settings, strategies as st

import subtok
from conftest import corpus_lines


@pytest.fixture(scope="module")
def tf(minilm_dir):
    return transformers.AutoTokenizer.from_pretrained(str(minilm_dir))


@pytest.fixture()
def mine(minilm_dir):
    return subtok.Tokenizer.from_pretrained(minilm_dir)


@pytest.fixture(scope="module")
def lines():
    return corpus_lines("wikitext2-test.txt")[:150] + corpus_lines("udhr-multilingual.txt")[:100]


def same_batch(a, b, keys=None):
    keys = keys if keys is not None else [k for k in b.keys()]
    assert sorted(k for k in a.keys() if k != "position_ids") == sorted(keys)
    for k in keys:
        assert np.array_equal(np.asarray(a[k]), np.asarray(b[k])), k


def test_call_options(tf, mine, lines):
    a, b = lines[:40], lines[40:80]
    cases = [
        dict(padding=True, truncation=True, max_length=32),
        dict(padding="max_length", truncation=True, max_length=48, return_length=True),
        dict(padding=True, truncation=True, max_length=24, return_attention_mask=False),
        dict(padding=True, truncation=True, max_length=24, return_token_type_ids=False, return_length=True),
    ]
    for kw in cases:
        same_batch(mine(a, return_tensors="np", **kw), tf(a, return_tensors="np", **kw))
        same_batch(mine(a, b, return_tensors="np", **kw), tf(a, b, return_tensors="np", **kw))
    # a single text gives one row, as transformers with return_tensors="np"
    same_batch(mine(a[0], return_tensors="np"), tf(a[0], return_tensors="np"))
    with pytest.raises(ValueError, match="return_tensors"):
        mine(a, return_tensors="tf")


#: ``tok(...)`` arguments whose default (list) results must equal transformers' exactly.
LIST_CASES = [
    dict(), dict(return_length=True, return_special_tokens_mask=True, return_offsets_mapping=True),
    dict(truncation=True, max_length=12, stride=3, return_overflowing_tokens=True, return_offsets_mapping=True,
         return_length=True, return_special_tokens_mask=True),
    dict(max_length=7), dict(padding=True, return_length=True), dict(padding="max_length", max_length=48, truncation=True),
    dict(padding=True, padding_side="left", return_offsets_mapping=True), dict(padding="longest", pad_to_multiple_of=8),
    dict(return_token_type_ids=False, return_attention_mask=False, add_special_tokens=False),
    dict(padding="max_length", max_length=10),  # longer rows stay longer: ragged lists
]


def test_call_returns_lists_as_transformers(tf, mine, lines):
    """``return_tensors=None``: Python lists (a single text: one row without the batch level;
    offsets as tuples), for every key, exactly as transformers."""
    inputs = [(lines[0], None), (lines[:24], None), (lines[:12], lines[12:24]), (lines[3], lines[4]), ("", None),
              (["", "a"], None)]
    for a, b in inputs:
        for kw in LIST_CASES:
            assert mine(a, b, **kw) == dict(tf(a, b, **kw)), (a, b, kw)
    one = mine(lines[0], return_offsets_mapping=True)
    assert type(one["input_ids"]) is list and type(one["input_ids"][0]) is int
    assert type(one["offset_mapping"][0]) is tuple
    batch = mine(lines[:3], return_tensors="np", padding=True)
    assert batch["input_ids"].dtype == np.int64 and batch["input_ids"].shape[0] == 3
    with pytest.raises(ValueError, match="different lengths"):
        mine(lines[:3], return_tensors="np")


@settings(max_examples=30, deadline=None)
@given(texts=st.lists(st.text(max_size=30), min_size=1, max_size=4), pad=st.booleans(), cut=st.sampled_from([None, 6, 9]))
def test_call_lists_hypothesis(tf, minilm_dir, texts, pad, cut):
    mine = subtok.Tokenizer.from_pretrained(minilm_dir)
    kw = dict(padding=pad, max_length=cut, return_offsets_mapping=True, return_special_tokens_mask=True,
              return_length=True)
    assert mine(texts, **kw) == dict(tf(texts, **kw))
    assert mine(texts[0], **kw) == dict(tf(texts[0], **kw))


def test_config_model_input_names_and_padding_side(minilm_dir, tmp_path, lines):
    """``tokenizer_config.json``'s ``model_input_names`` and ``padding_side`` are honoured (and
    written by save_pretrained), as transformers does."""
    folder = tmp_path / "left"
    folder.mkdir()
    shutil.copy(minilm_dir / "tokenizer.json", folder / "tokenizer.json")
    config = json.loads((minilm_dir / "tokenizer_config.json").read_text())
    config.update(padding_side="left", model_input_names=["input_ids", "attention_mask"])
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    tf = transformers.AutoTokenizer.from_pretrained(str(folder))
    mine = subtok.Tokenizer.from_pretrained(folder)
    assert mine.padding_side == tf.padding_side == "left"
    assert mine.model_input_names == tf.model_input_names
    kw = dict(padding=True, truncation=True, max_length=20)
    assert mine(lines[:8], **kw) == dict(tf(lines[:8], **kw))
    mine.save_pretrained(tmp_path / "again")
    again = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "again"))
    assert again.padding_side == "left" and again.model_input_names == tf.model_input_names
    with pytest.raises(ValueError, match="padding_side"):
        mine(lines[:2], padding=True, padding_side="middle")


def test_return_tensors_pt(tf, mine, lines):
    try:
        import torch  # noqa: F401  (optional: CI has no torch)
    except ImportError:
        with pytest.raises(ImportError, match="PyTorch"):
            mine(lines[:3], return_tensors="pt", padding=True)
        return
    got = mine(lines[:5], return_tensors="pt", padding=True)
    want = tf(lines[:5], return_tensors="pt", padding=True)
    for k in want:
        assert got[k].dtype == want[k].dtype and bool((got[k] == want[k]).all()), k


def test_helpers(tf, mine, lines):
    assert len(mine) == len(tf)
    assert mine.model_max_length == tf.model_max_length
    assert mine.special_tokens_map == tf.special_tokens_map
    for name in ("bos", "eos", "unk", "sep", "pad", "cls", "mask"):
        assert getattr(mine, f"{name}_token") == getattr(tf, f"{name}_token"), name
        assert getattr(mine, f"{name}_token_id") == getattr(tf, f"{name}_token_id"), name
    assert sorted(mine.all_special_ids) == sorted(tf.all_special_ids)
    for text in lines[:60]:
        tokens = tf.tokenize(text)
        assert mine.tokenize(text) == tokens
        assert mine.convert_tokens_to_ids(tokens) == tf.convert_tokens_to_ids(tokens)
        ids = tf(text)["input_ids"]
        assert mine.convert_ids_to_tokens(ids) == tf.convert_ids_to_tokens(ids)
        assert mine.convert_ids_to_tokens(ids, skip_special_tokens=True) == tf.convert_ids_to_tokens(ids, skip_special_tokens=True)
    assert mine.tokenize(lines[0], lines[1], add_special_tokens=True) == tf.tokenize(lines[0], lines[1], add_special_tokens=True)
    assert mine.convert_tokens_to_ids("notavocabword") == tf.convert_tokens_to_ids("notavocabword")
    assert mine.convert_ids_to_tokens(2088) == tf.convert_ids_to_tokens(2088)
    seqs = tf(lines[:30], padding=True)["input_ids"]
    assert mine.batch_decode(seqs) == tf.batch_decode(seqs)
    assert mine.batch_decode(seqs, skip_special_tokens=True) == tf.batch_decode(seqs, skip_special_tokens=True)
    assert mine.batch_decode(np.array(seqs)) == tf.batch_decode(seqs)
    raw = [tf("Hello , world ! Isn't it ? I 'm here , you 're there .")["input_ids"]] + seqs[:10]
    assert mine.batch_decode(raw, clean_up_tokenization_spaces=True) == \
        tf.batch_decode(raw, clean_up_tokenization_spaces=True)
    with pytest.raises(TypeError):
        mine(lines[:2], max_lenght=5)
    with pytest.raises(TypeError, match="revison"):
        subtok.Tokenizer.from_pretrained("x", revison="main")


@settings(max_examples=40, deadline=None)
@given(text=st.text(max_size=40))
def test_tokenize_hypothesis(tf, minilm_dir, text):
    mine = subtok.Tokenizer.from_pretrained(minilm_dir)
    assert mine.tokenize(text) == tf.tokenize(text)
    assert mine.convert_ids_to_tokens(tf(text)["input_ids"]) == tf.convert_ids_to_tokens(tf(text)["input_ids"])


def test_save_pretrained_round_trip(tf, mine, tmp_path, lines):
    mine.add_special_tokens({"additional_special_tokens": ["<extra>"]})
    mine.add_tokens(["newword"])
    written = mine.save_pretrained(tmp_path / "out")
    assert sorted(p.rsplit("/", 1)[1] for p in written) == ["special_tokens_map.json", "tokenizer.json",
                                                            "tokenizer_config.json"]
    loaded = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "out"))
    texts = lines[:80] + ["a newword and <extra> here"]
    kw = dict(padding=True, truncation=True, max_length=64, return_tensors="np")
    same_batch(mine(texts, **kw), loaded(texts, **kw))
    same_batch(mine(texts[:20], texts[20:40], **kw), loaded(texts[:20], texts[20:40], **kw))
    assert loaded.model_max_length == mine.model_max_length == 512
    assert loaded.special_tokens_map["cls_token"] == "[CLS]"
    assert len(loaded) == len(mine)
    again = subtok.Tokenizer.from_pretrained(tmp_path / "out")
    assert again.encode(texts[-1]).ids == mine.encode(texts[-1]).ids
    with pytest.raises(NotADirectoryError):
        mine.save_pretrained(tmp_path / "out" / "tokenizer.json")


def test_from_pretrained_honours_config(minilm_dir, tmp_path, lines):
    folder = tmp_path / "cased"
    folder.mkdir()
    shutil.copy(minilm_dir / "tokenizer.json", folder / "tokenizer.json")
    config = json.loads((minilm_dir / "tokenizer_config.json").read_text())
    config.update(do_lower_case=False, model_max_length=40, tokenizer_class="BertTokenizerFast")
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    tf = transformers.AutoTokenizer.from_pretrained(str(folder))
    mine = subtok.Tokenizer.from_pretrained(folder)
    assert mine.model_max_length == tf.model_max_length == 40
    texts = ["Hello World, CamelCase Text"] + lines[:40]
    kw = dict(padding=True, truncation=True, return_tensors="np")
    same_batch(mine(texts, **kw), tf(texts, **kw))
    assert mine.tokenize(texts[0]) == tf.tokenize(texts[0])
    # a vocab.txt folder (no tokenizer.json): built as BertTokenizerFast builds it
    vocab_only = tmp_path / "vocab_only"
    vocab_only.mkdir()
    vocab = [tf.convert_ids_to_tokens(i) for i in range(tf.vocab_size)]
    (vocab_only / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    (vocab_only / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True, "model_max_length": 64,
                                                                   "tokenizer_class": "BertTokenizerFast"}))
    tf2 = transformers.AutoTokenizer.from_pretrained(str(vocab_only))
    mine2 = subtok.Tokenizer.from_pretrained(vocab_only)
    same_batch(mine2(texts, **kw), tf2(texts, **kw))
