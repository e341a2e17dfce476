"""Dense layers of the encoder with weights packed once at load: dynamic int8, bfloat16, and float32.

:class:`Int8Linear` holds a ``(k, n)`` float32 weight (stored pre-transposed, ``y = x @ W``) quantized
once to int8 per output column (``scale = max |W[:, j]| / 127``). Each call quantizes the rows of ``x``
to uint8 asymmetrically (per row: ``s = (max - min) / 255`` over a range that includes 0, zero point
``z = round(-min / s)``, round half to even) and multiplies in int32, then rescales:
``y = (q_x - z) @ q_W * s_x * s_W``. The Rust kernels (``subtok._core.kernels.Int8Weight``) run the
product on AMX-INT8 tiles (Linux, weights whose ``k`` is a multiple of 64), AVX512-VNNI, AVX-VNNI or
AVX2 when the CPU has them, else on a portable loop, all with bit-identical results (``subtok._core.kernels.int8_kernel()`` names the one in use); without
the compiled extension the same arithmetic runs in NumPy (exact int32 sums; slow).

:class:`Bf16Linear` stores the weight as bfloat16 (float32 rounded to 8 significant bits, to nearest
even: half the memory). On CPUs with AVX512-BF16 (``subtok._core.kernels.bf16_kernel()`` says
``"amx"`` or ``"avx512-bf16"``) each call also rounds the rows of ``x`` to bfloat16 and multiplies in
Rust with bf16 products and float32 sums: AMX-BF16 tiles (``tdpbf16ps``) when Linux grants them,
else ``vdpbf16ps``. Elsewhere it widens the weight back to float32
(exact) and multiplies with the float32 GEMM, which saves memory, not time (``x`` is not rounded).

:class:`F32Linear` is the float32 product of unquantized models: the weight packed for the Rust
register-tile GEMM (``subtok._core.kernels.F32Weight``: AVX-512 or AVX2+FMA, see :func:`f32_linear` for
when it is used), which runs in the same thread pool as the attention, GELU and LayerNorm kernels
instead of NumPy's BLAS threads.

The layers take ``bias=`` and ``gelu=True`` to apply the bias and exact-erf GELU in the product's
epilogue (one pass over the output instead of two).
"""
from __future__ import annotations

import os
from typing import Any, Dict, Optional

import numpy as np

from subtok.bert import ops
from subtok.bert.weights import bf16_to_float32

#: ``quantize=`` values the encoder accepts.
QUANTIZE_KINDS = ("int8", "bf16")


def check_kind(kind: Optional[str]) -> Optional[str]:
    """Validate a ``quantize=`` argument (``None`` or one of :data:`QUANTIZE_KINDS`)."""
    if kind is not None and kind not in QUANTIZE_KINDS:
        raise ValueError(f"quantize must be None or one of {', '.join(QUANTIZE_KINDS)}, got {kind!r}")
    return kind


def linear(kind: str, w: np.ndarray) -> "Int8Linear | Bf16Linear":
    """The quantized layer of ``kind`` (one of :data:`QUANTIZE_KINDS`) for a ``(k, n)`` weight."""
    return {"int8": Int8Linear, "bf16": Bf16Linear}[kind](w)


def _quantize_weight(w: np.ndarray) -> "tuple[np.ndarray, np.ndarray]":
    """Per-column symmetric int8: (q (k, n) int32, scales (n,))."""
    m = np.abs(w).max(axis=0)
    inv = (np.float32(127.0) / np.where(m > 0, m, 1)).astype(np.float32) * (m > 0)
    q = np.clip(np.rint(w * inv[None, :]), -127, 127).astype(np.int32)
    return q, (m / np.float32(127.0)).astype(np.float32)


def _quantize_rows(x: np.ndarray) -> "tuple[np.ndarray, np.ndarray, np.ndarray]":
    """Per-row asymmetric uint8: (q (m, k) int32, scales (m,), zero points (m,))."""
    lo = np.minimum(x.min(axis=1), 0)
    hi = np.maximum(x.max(axis=1), 0)
    rng = (hi - lo).astype(np.float32)
    inv = (np.float32(255.0) / np.where(rng > 0, rng, 1)).astype(np.float32) * (rng > 0)
    zp = np.clip(np.rint(-lo * inv), 0, 255).astype(np.float32)
    q = np.clip(np.rint(x * inv[:, None] + zp[:, None]), 0, 255).astype(np.int32)
    return q, (rng / np.float32(255.0)).astype(np.float32), zp.astype(np.int32)


class Int8Linear:
    """``x @ W`` with W quantized per output column and x per row, both to int8 (see the module doc)."""

    def __init__(self, w: np.ndarray) -> None:
        w = np.ascontiguousarray(w, dtype=np.float32)
        if w.ndim != 2:
            raise ValueError(f"weight must be 2-D, got shape {w.shape}")
        self.shape = w.shape
        rk = ops.rust_kernels()
        self._packed: Any = rk.Int8Weight(w) if rk is not None and hasattr(rk, "Int8Weight") else None
        if self._packed is None:
            self._wq, self._ws = _quantize_weight(w)

    def __call__(
        self, x: np.ndarray, out: Optional[np.ndarray] = None, bias: Optional[np.ndarray] = None, gelu: bool = False
    ) -> np.ndarray:
        """``out (m, n) = x (m, k) @ W (+ bias)``, then exact GELU when ``gelu`` (a new array when ``out``
        is None)."""
        if self._packed is not None:
            return _packed_matmul(self._packed, self.shape[1], x, out, bias, gelu)
        if out is None:
            out = np.empty((x.shape[0], self.shape[1]), dtype=np.float32)
        q, s, z = _quantize_rows(np.asarray(x, dtype=np.float32))
        acc = q @ self._wq - z[:, None] * self._wq.sum(axis=0)[None, :]
        np.multiply(acc.astype(np.float32), s[:, None] * self._ws[None, :], out=out)
        return _epilogue(out, bias, gelu)

    def dequantized(self) -> np.ndarray:
        """The weights as the products use them (float32, ``(k, n)``)."""
        if self._packed is not None:
            return self._packed.dequantized()
        return (self._wq * self._ws[None, :]).astype(np.float32)

    def __getstate__(self) -> Dict[str, Any]:
        return {"w": self.dequantized()}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__init__(state["w"])  # type: ignore[misc]  # re-quantizing quantized weights is exact


def _packed_matmul(
    packed: Any, n: int, x: np.ndarray, out: Optional[np.ndarray], bias: Optional[np.ndarray], gelu: bool
) -> np.ndarray:
    """``packed.matmul`` (a Rust weight of ``n`` columns) into ``out``, or a new array when it is None."""
    if out is None:
        out = np.empty((x.shape[0], n), dtype=np.float32)
    packed.matmul(np.ascontiguousarray(x, dtype=np.float32), out, bias, gelu=gelu)
    return out


def _epilogue(out: np.ndarray, bias: Optional[np.ndarray], gelu: bool) -> np.ndarray:
    """The NumPy epilogue of the fallback products: ``out += bias``, then GELU, in place."""
    if bias is not None:
        out += bias
    if gelu:
        ops.gelu_(out)
    return out


def float32_to_bf16(w: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bit patterns (uint16), rounding to nearest even; NaN stays NaN."""
    bits = np.ascontiguousarray(w, dtype=np.float32).view(np.uint32)
    rounded = (bits + (np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1)))) >> np.uint32(16)
    out = rounded.astype(np.uint16)
    out[np.isnan(w)] = 0x7FC0
    return out


def _bf16_kernels() -> Any:
    """The Rust kernel module when its bf16 products run on AVX512-BF16 here, else ``None``."""
    rk = ops.rust_kernels()
    if rk is None or not hasattr(rk, "Bf16Weight") or rk.bf16_kernel() == "portable":
        return None
    return rk


class Bf16Linear:
    """``x @ W`` with W stored as bfloat16: AVX512-BF16 products when the CPU has them, else a float32
    product of the widened weights (see the module doc)."""

    def __init__(self, w: np.ndarray) -> None:
        w = np.asarray(w, dtype=np.float32)
        if w.ndim != 2:
            raise ValueError(f"weight must be 2-D, got shape {w.shape}")
        self.shape = w.shape
        self._bits = float32_to_bf16(w)
        self._pack()

    def _pack(self) -> None:
        rk = _bf16_kernels()
        self._packed: Any = rk.Bf16Weight(self._bits) if rk is not None else None

    def __call__(
        self, x: np.ndarray, out: Optional[np.ndarray] = None, bias: Optional[np.ndarray] = None, gelu: bool = False
    ) -> np.ndarray:
        """``out (m, n) = x (m, k) @ W (+ bias)``, then exact GELU when ``gelu`` (a new array when ``out``
        is None)."""
        if self._packed is not None:
            return _packed_matmul(self._packed, self.shape[1], x, out, bias, gelu)
        return _epilogue(np.matmul(x, self.dequantized(), out=out), bias, gelu)

    def dequantized(self) -> np.ndarray:
        """The weights as the products use them (float32, ``(k, n)``)."""
        return bf16_to_float32(self._bits)

    def __getstate__(self) -> Dict[str, Any]:
        return {"bits": self._bits}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self._bits = state["bits"]
        self.shape = self._bits.shape
        self._pack()


def _f32_kernels() -> Any:
    """The Rust kernel module when its float32 GEMM runs on SIMD here and is not switched off."""
    rk = ops.rust_kernels()
    if rk is None or not hasattr(rk, "F32Weight") or os.environ.get("SUBTOK_F32_GEMM", "").lower() == "numpy":
        return None
    return rk if rk.f32_kernels()[0] != "portable" else None


def f32_linear(w: np.ndarray) -> "Optional[F32Linear]":
    """``w`` (a ``(k, n)`` float32 weight) packed for the Rust GEMM, or ``None`` where NumPy's BLAS
    does the product: without the compiled kernels, on CPUs without AVX2+FMA (the portable Rust loop
    is slower than BLAS), or when the environment sets ``SUBTOK_F32_GEMM=numpy``."""
    rk = _f32_kernels()
    return None if rk is None else F32Linear(w, rk)


class F32Linear:
    """``x @ W`` on a float32 weight packed once for the Rust GEMM (see the module doc); build it with
    :func:`f32_linear`. ``source`` is the array it was packed from."""

    def __init__(self, w: np.ndarray, rk: Any) -> None:
        self.source = w
        self.shape = w.shape
        self._packed = rk.F32Weight(np.ascontiguousarray(w, dtype=np.float32))

    def __call__(
        self, x: np.ndarray, out: Optional[np.ndarray] = None, bias: Optional[np.ndarray] = None, gelu: bool = False
    ) -> np.ndarray:
        """``out (m, n) = x (m, k) @ W (+ bias)``, then exact GELU when ``gelu`` (a new array when ``out``
        is None)."""
        return _packed_matmul(self._packed, self.shape[1], x, out, bias, gelu)
