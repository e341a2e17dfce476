"""The float32 Rust GEMM of the encoder's dense layers: every SIMD level against the portable kernel
and NumPy (with the fused bias and GELU), argument errors, and the model on it against the NumPy BLAS
fallback (padded and packed batches, pickling, weights replaced after training steps)."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from _bert_helpers import TINY
from subtok.bert import BertModel, ops, quant

rk = ops.rust_kernels()
needs_rust = pytest.mark.skipif(rk is None or not hasattr(rk, "F32Weight"), reason="Rust kernels not built")


@needs_rust
@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (13, 37, 40), (70, 384, 48), (9, 300, 3), (100, 96, 130), (7, 1536, 64)])
@pytest.mark.parametrize("gelu", [False, True])
def test_every_kernel_matches_portable_and_numpy(m, k, n, gelu):
    rng = np.random.default_rng(m * 7 + k)
    x = rng.standard_normal((m, k)).astype(np.float32)
    w = rng.standard_normal((k, n)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    packed = rk.F32Weight(w)
    assert packed.shape == (k, n)
    np.testing.assert_array_equal(packed.unpacked(), w)
    kernels = rk.f32_kernels()
    assert kernels[-1] == "portable"
    want = np.full((m, n), np.nan, np.float32)
    packed.matmul(x, want, bias, gelu=gelu, kernel="portable")
    ref = x.astype(np.float64) @ w + bias
    if gelu:
        ref = ref.astype(np.float32)
        ops.gelu_(ref)
    tol = 1e-5 * np.sqrt(k) * (1 + np.abs(ref))
    assert (np.abs(want - ref) <= tol).all()
    for name in kernels:
        got = np.full((m, n), np.nan, np.float32)
        packed.matmul(x, got, bias, gelu=gelu, kernel=name)
        assert (np.abs(got - want) <= tol).all(), name
    fast = [name for name in kernels if name != "portable"]
    outs = []
    for name in fast:  # the SIMD levels sum in the same order: bit-identical
        outs.append(np.empty((m, n), np.float32))
        packed.matmul(x, outs[-1], bias, gelu=gelu, kernel=name)
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])


@needs_rust
def test_argument_errors():
    packed = rk.F32Weight(np.ones((8, 16), np.float32))
    x = np.ones((2, 8), np.float32)
    with pytest.raises(ValueError, match="unknown float32 kernel"):
        packed.matmul(x, np.empty((2, 16), np.float32), kernel="sse9")
    with pytest.raises(ValueError):
        packed.matmul(x, np.empty((3, 16), np.float32))
    with pytest.raises(ValueError):
        packed.matmul(x, np.empty((2, 16), np.float32), np.ones(3, np.float32))
    with pytest.raises(ValueError):
        rk.F32Weight(np.ones((0, 4), np.float32))
    out = np.empty((2, 16), np.float32)
    packed.matmul(x, out)
    assert (out == 8).all()


@needs_rust
def test_switched_off_by_the_environment(monkeypatch):
    w = np.ones((4, 4), np.float32)
    expect_rust = rk.f32_kernels()[0] != "portable"
    assert (quant.f32_linear(w) is not None) == expect_rust
    monkeypatch.setenv("SUBTOK_F32_GEMM", "numpy")
    assert quant.f32_linear(w) is None


def _batch(seed, B=3, T=20):
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, 1000, (B, T))
    mask = np.ones((B, T), np.int64)
    for b in range(1, B):
        mask[b, T - 3 * b :] = 0
    return ids, mask


@needs_rust
@pytest.mark.parametrize("skip_padding", [True, False])
def test_model_matches_the_numpy_blas_path(skip_padding):
    model = BertModel.from_pretrained(TINY / "pretraining")
    model.skip_padding = skip_padding
    ids, mask = _batch(1)
    fast = model(ids, mask).last_hidden_state
    if rk.f32_kernels()[0] != "portable":
        assert model.__dict__.get("_f32_packed")
    model.rust_gemm = False
    slow = model(ids, mask).last_hidden_state
    valid = mask.astype(bool)
    np.testing.assert_allclose(fast[valid], slow[valid], atol=2e-5, rtol=0)


@needs_rust
def test_pickle_and_replaced_weights():
    model = BertModel.from_pretrained(TINY / "pretraining")
    ids, mask = _batch(2)
    before = model(ids, mask).last_hidden_state
    clone = pickle.loads(pickle.dumps(model))
    assert "_f32_packed" not in clone.__dict__
    np.testing.assert_array_equal(clone(ids, mask).last_hidden_state, before)
    # replace a weight as parameters_updated() does: the packed copy follows
    L = model.layers[0]
    L.w_i = np.ascontiguousarray(L.w_i * np.float32(0.5))
    after = model(ids, mask).last_hidden_state
    model.rust_gemm = False
    np.testing.assert_allclose(after, model(ids, mask).last_hidden_state, atol=2e-5, rtol=0)
    assert np.abs(after - before).max() > 1e-3
