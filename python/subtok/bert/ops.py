"""Float32 elementwise kernels of the encoder: erf/GELU, masked softmax, LayerNorm.

Each kernel works in place on C-contiguous float32 arrays. When the compiled extension provides
the multi-threaded Rust kernels (``subtok._core.kernels``) they are used; otherwise the NumPy
versions below run (same maths; NumPy's elementwise loops are single-threaded, so they are slower
on big batches).

NumPy has no ``erf``. :func:`erf` uses Abramowitz & Stegun 7.1.26 evaluated in float32
(|error| < 1.5e-7 for the formula, below 3e-7 after float32 rounding), or ``scipy.special.erf``
when SciPy is importable.
"""
from __future__ import annotations

import math
import os
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

try:  # optional accelerator: the Rust kernels of the compiled extension
    from subtok._core import kernels as _rk  # type: ignore[attr-defined]
except Exception:  # pragma: no cover - depends on the build
    _rk = None

try:  # optional: a true erf
    from scipy.special import erf as _scipy_erf  # type: ignore[import-not-found]
except Exception:
    _scipy_erf = None

#: Set ``SUBTOK_NUMPY_KERNELS=1`` to force the NumPy kernels (for tests/benchmarks).
_FORCE_NUMPY = os.environ.get("SUBTOK_NUMPY_KERNELS", "") not in ("", "0")


def rust_kernels() -> Optional[Any]:
    """The Rust kernel module when available and not disabled, else ``None``."""
    return None if _FORCE_NUMPY else _rk


_P = np.float32(0.3275911)
_A1 = np.float32(0.254829592)
_A2 = np.float32(-0.284496736)
_A3 = np.float32(1.421413741)
_A4 = np.float32(-1.453152027)
_A5 = np.float32(1.061405429)
_SQRT_HALF = np.float32(1.0 / math.sqrt(2.0))


def erf(x: np.ndarray) -> np.ndarray:
    """Float32 error function (new array); max abs error < 1e-6."""
    x = np.asarray(x, dtype=np.float32)
    if _scipy_erf is not None:
        return _scipy_erf(x).astype(np.float32, copy=False)
    a = np.abs(x)
    t = 1.0 / (1.0 + _P * a)
    poly = ((((_A5 * t + _A4) * t + _A3) * t + _A2) * t + _A1) * t
    e = np.exp(-(a * a))
    y = 1.0 - poly * e
    return np.copysign(y, x).astype(np.float32, copy=False)


def gelu_(x: np.ndarray, kind: str = "gelu") -> np.ndarray:
    """In-place activation on float32 ``x``; returns ``x``.

    ``gelu``: exact ``x * 0.5 * (1 + erf(x / sqrt 2))``; ``gelu_new``/``gelu_pytorch_tanh``/
    ``gelu_fast``: the tanh approximation; ``relu``.
    """
    if kind == "relu":
        np.maximum(x, 0, out=x)
        return x
    rk = rust_kernels()
    if kind == "gelu":
        if rk is not None and x.flags.c_contiguous:
            rk.gelu_inplace(x.reshape(-1))
            return x
        # Process in row chunks so temporaries stay in cache and memory stays bounded.
        flat = x.reshape(-1)
        step = 1 << 16
        for i in range(0, flat.size, step):
            c = flat[i : i + step]
            e = erf(c * _SQRT_HALF)
            e += 1.0
            e *= 0.5
            c *= e
        return x
    if kind in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
        k = np.float32(math.sqrt(2.0 / math.pi))
        flat = x.reshape(-1)
        step = 1 << 16
        for i in range(0, flat.size, step):
            c = flat[i : i + step]
            t = c * c
            t *= np.float32(0.044715)
            t += 1.0
            t *= c
            t *= k
            np.tanh(t, out=t)
            t += 1.0
            t *= 0.5
            c *= t
        return x
    raise ValueError(f"unsupported hidden_act {kind!r}")


def softmax_masked_(scores: np.ndarray, mask_bias: Optional[np.ndarray]) -> np.ndarray:
    """In place: ``scores`` (B, heads, Tq, Tk) += ``mask_bias`` (B, Tk) broadcast; softmax over Tk."""
    rk = rust_kernels()
    if rk is not None and scores.flags.c_contiguous and scores.ndim == 4:
        b, h, tq, tk = scores.shape
        mb = None if mask_bias is None else np.ascontiguousarray(mask_bias, dtype=np.float32)
        rk.softmax_masked_inplace(scores.reshape(b, h * tq, tk), mb)
        return scores
    if mask_bias is not None:
        scores += mask_bias[:, None, None, :]
    m = scores.max(axis=-1, keepdims=True)
    scores -= m
    np.exp(scores, out=scores)
    s = scores.sum(axis=-1, keepdims=True)
    scores /= s
    return scores


def self_attention_(
    qkv: np.ndarray,
    bias: np.ndarray,
    heads: int,
    starts: Sequence[int],
    lens: Sequence[int],
    key_mask: Optional[np.ndarray],
    ctx: np.ndarray,
) -> np.ndarray:
    """Multi-head self-attention over row ranges of a packed ``(n, 3H)`` ``[Q | K | V]`` matrix.

    For every sequence (rows ``starts[i]`` to ``starts[i] + lens[i]``) and head, writes
    ``softmax(Q Kᵀ + key_mask) V`` into that head's columns of ``ctx`` ``(n, H)``; ``bias`` (3H,)
    is added to ``qkv`` first (``qkv`` itself is left unchanged) and ``key_mask`` (n,) is an
    additive per-row key mask. The caller folds ``1/sqrt(head_dim)`` into Q. Returns ``ctx``.
    """
    rk = rust_kernels()
    if rk is not None and qkv.flags.c_contiguous and ctx.flags.c_contiguous:
        km = None if key_mask is None else np.ascontiguousarray(key_mask, dtype=np.float32)
        rk.self_attention(qkv, bias, heads, list(starts), list(lens), km, ctx)
        return ctx
    n, H = ctx.shape
    d = H // heads
    by_len: Dict[int, List[int]] = {}
    for s0, ln in zip(starts, lens):
        if ln > 0:
            by_len.setdefault(int(ln), []).append(int(s0))
    for ln, firsts in by_len.items():
        # sequences of equal length share one batched product
        rows = (np.asarray(firsts)[:, None] + np.arange(ln)).reshape(-1)
        x = (qkv[rows] + bias).reshape(len(firsts), ln, 3, heads, d)
        q = x[:, :, 0].transpose(0, 2, 1, 3)
        kT = x[:, :, 1].transpose(0, 2, 3, 1)
        v = x[:, :, 2].transpose(0, 2, 1, 3)
        scores = np.matmul(q, kT)
        km = None if key_mask is None else key_mask[rows].reshape(len(firsts), ln)
        softmax_masked_(scores, km)
        ctx[rows] = np.matmul(scores, v).transpose(0, 2, 1, 3).reshape(-1, H)
    return ctx


def add_layernorm_(
    x: np.ndarray,
    residual: Optional[np.ndarray],
    bias: Optional[np.ndarray],
    gamma: np.ndarray,
    beta: np.ndarray,
    eps: float,
) -> np.ndarray:
    """In place over 2-D ``x`` (N, H): ``x = LayerNorm(x + bias + residual)``; returns ``x``."""
    rk = rust_kernels()
    if rk is not None and x.flags.c_contiguous and x.ndim == 2 and (residual is None or residual.flags.c_contiguous):
        rk.add_layernorm_inplace(x, residual, bias, gamma, beta, float(eps))
        return x
    if bias is not None:
        x += bias
    if residual is not None:
        x += residual
    mean = x.mean(axis=-1, keepdims=True)
    x -= mean
    var = np.einsum("ij,ij->i", x, x)[:, None]
    var /= np.float32(x.shape[-1])
    var += np.float32(eps)
    np.sqrt(var, out=var)
    x /= var
    x *= gamma
    x += beta
    return x


def add_bias_gelu_(x: np.ndarray, bias: np.ndarray, kind: str) -> np.ndarray:
    """In place over 2-D ``x``: ``x = act(x + bias)``."""
    rk = rust_kernels()
    if kind == "gelu" and rk is not None and x.flags.c_contiguous and x.ndim == 2:
        rk.bias_gelu_inplace(x, bias)
        return x
    x += bias
    return gelu_(x, kind)


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable log-softmax (new float32 array)."""
    x = np.asarray(x, dtype=np.float32)
    m = x.max(axis=axis, keepdims=True)
    z = x - m
    z -= np.log(np.exp(z).sum(axis=axis, keepdims=True))
    return z


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax (new float32 array)."""
    x = np.asarray(x, dtype=np.float32)
    z = x - x.max(axis=axis, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=axis, keepdims=True)
    return z
