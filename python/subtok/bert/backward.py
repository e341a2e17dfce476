"""Training-mode forward pass with a tape, and its exact backward pass, for BERT and its heads.

Everything here works on a *parameter dict* with Hugging Face key names (``embeddings.*``,
``encoder.layer.N.*``, ``pooler.*``, optionally behind a prefix such as ``bert.``), in the dict's
dtype: float32 for training, float64 for finite-difference checks. The inference encoder
(:mod:`subtok.bert.model`) keeps its fused, pre-scaled layout; this module recomputes the forward
with the plain layout and records what the backward pass needs.

Layout: the computed tokens are the rows of one ``(n, H)`` matrix. A batch is either *padded*
(every position of the ``(B, T)`` batch is a row, attention takes an additive key mask, as
transformers computes it) or *packed* (only the unmasked tokens are rows; each sequence is a row
range). Both give the same values at unmasked positions; the packed layout is used when the loss
does not read masked positions.

Dropout (``hidden_dropout_prob`` on the embeddings and on both residual branches,
``attention_probs_dropout_prob`` on the attention weights) uses a seeded NumPy generator.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from subtok.bert import ops
from subtok.bert.config import BertConfig

try:  # optional: a true erf (float64-exact, used for the finite-difference checks)
    from scipy.special import erf as _scipy_erf  # type: ignore[import-not-found]
except Exception:  # pragma: no cover - depends on the environment
    _scipy_erf = None

Params = Dict[str, np.ndarray]

_NEG = float(np.finfo(np.float32).min)


# ---------------------------------------------------------------------------------- dropout
class Dropout:
    """Inverted dropout with probability ``p`` drawn from a seeded ``numpy.random.Generator``."""

    def __init__(self, rng: Optional[np.random.Generator], hidden: float, attention: float, classifier: float) -> None:
        self.rng = rng
        self.hidden = float(hidden)
        self.attention = float(attention)
        self.classifier = float(classifier)

    def mask(self, shape: Tuple[int, ...], p: float, dtype: np.dtype) -> Optional[np.ndarray]:
        """A scaled keep-mask (``0`` or ``1/(1-p)``), or ``None`` when nothing is dropped."""
        if self.rng is None or p <= 0.0:
            return None
        if p >= 1.0:
            return np.zeros(shape, dtype=dtype)
        keep = self.rng.random(shape, dtype=np.float32) >= p
        m = keep.astype(dtype)
        m *= dtype.type(1.0 / (1.0 - p))
        return m


def dropout_from_config(config: BertConfig, rng: Optional[np.random.Generator]) -> Dropout:
    """Dropout rates from ``config.json`` (transformers' defaults, 0.1, when absent)."""
    ex = config.extra
    hidden = ex.get("hidden_dropout_prob", 0.1)
    hidden = 0.1 if hidden is None else hidden
    attn = ex.get("attention_probs_dropout_prob", 0.1)
    attn = 0.1 if attn is None else attn
    cls = ex.get("classifier_dropout")
    return Dropout(rng, hidden, attn, hidden if cls is None else cls)


# ---------------------------------------------------------------------------------- elementwise
def _erf(x: np.ndarray) -> np.ndarray:
    if _scipy_erf is not None:
        return _scipy_erf(x).astype(x.dtype, copy=False)
    if x.dtype == np.float64:
        return np.vectorize(math.erf, otypes=[np.float64])(x)
    return ops.erf(x)


_TANH_K = math.sqrt(2.0 / math.pi)


def act_forward(x: np.ndarray, kind: str) -> np.ndarray:
    """The activation (new array)."""
    rk = _rust(x)
    if kind == "gelu" and rk is not None:
        y = np.array(x, order="C")
        rk.gelu_inplace(y)
        return y
    if kind == "gelu":
        return x * (0.5 * (1.0 + _erf(x * x.dtype.type(1.0 / math.sqrt(2.0)))))
    if kind == "relu":
        return np.maximum(x, 0)
    if kind in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
        return 0.5 * x * (1.0 + np.tanh(x.dtype.type(_TANH_K) * (x + x.dtype.type(0.044715) * x * x * x)))
    raise ValueError(f"unsupported hidden_act {kind!r}")


def act_backward(x: np.ndarray, dy: np.ndarray, kind: str) -> np.ndarray:
    """``dy * act'(x)`` (new array)."""
    rk = _rust(x, dy)
    if kind == "gelu" and rk is not None and x.shape == dy.shape:
        d = np.array(dy, order="C")
        rk.gelu_backward(np.ascontiguousarray(x), d)
        return d
    t = x.dtype.type
    if kind == "gelu":
        cdf = 0.5 * (1.0 + _erf(x * t(1.0 / math.sqrt(2.0))))
        pdf = np.exp(-0.5 * x * x) * t(1.0 / math.sqrt(2.0 * math.pi))
        return dy * (cdf + x * pdf)
    if kind == "relu":
        return dy * (x > 0)
    if kind in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
        inner = t(_TANH_K) * (x + t(0.044715) * x * x * x)
        th = np.tanh(inner)
        d_inner = t(_TANH_K) * (1.0 + t(3 * 0.044715) * x * x)
        return dy * (0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * d_inner)
    raise ValueError(f"unsupported hidden_act {kind!r}")


def _rust(*arrays: np.ndarray) -> Optional[Any]:
    """The Rust kernels when available (not disabled) and every array is float32."""
    rk = ops.rust_kernels()
    if rk is None or any(a.dtype != np.float32 for a in arrays):
        return None
    return rk


def layernorm_forward(x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float) -> Tuple[np.ndarray, Tuple[np.ndarray, np.ndarray]]:
    """LayerNorm over the last axis; returns ``(y, (xhat, rstd))``."""
    rk = _rust(x, g, b)
    if rk is not None and x.ndim == 2:
        y = np.array(x, order="C")
        xhat = np.empty_like(y)
        rstd = np.empty((y.shape[0], 1), dtype=np.float32)
        rk.layernorm_train_forward(y, xhat, rstd.reshape(-1), np.ascontiguousarray(g), np.ascontiguousarray(b), float(eps))
        return y, (xhat, rstd)
    mu = x.mean(axis=-1, keepdims=True)
    xc = x - mu
    var = np.einsum("ij,ij->i", xc, xc)[:, None] / x.dtype.type(x.shape[-1])
    rstd = 1.0 / np.sqrt(var + x.dtype.type(eps))
    xhat = xc * rstd
    return xhat * g + b, (xhat, rstd)


def layernorm_backward(dy: np.ndarray, g: np.ndarray, cache: Tuple[np.ndarray, np.ndarray]) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns ``(dx, dgamma, dbeta)``."""
    xhat, rstd = cache
    rk = _rust(dy, xhat, g)
    if rk is not None and dy.ndim == 2:
        dx = np.array(dy, order="C")
        dg = np.empty_like(g)
        db = np.empty_like(g)
        rk.layernorm_backward(dx, xhat, rstd.reshape(-1), np.ascontiguousarray(g), dg, db)
        return dx, dg, db
    dg = np.einsum("ij,ij->j", dy, xhat)
    db = dy.sum(axis=0)
    dxh = dy * g
    n = xhat.dtype.type(xhat.shape[-1])
    m1 = dxh.sum(axis=-1, keepdims=True) / n
    m2 = np.einsum("ij,ij->i", dxh, xhat)[:, None] / n
    dx = (dxh - m1 - xhat * m2) * rstd
    return dx, dg, db


def cross_entropy_grad(logits: np.ndarray, labels: np.ndarray, ignore_index: int = -100) -> Tuple[float, np.ndarray, int]:
    """Mean cross-entropy over rows whose label is not ``ignore_index`` (torch's default).

    ``logits`` (n, C), ``labels`` (n,). Returns ``(loss, dlogits, count)``; ``loss`` is NaN and
    ``dlogits`` zero when every label is ignored (torch returns NaN there too).
    """
    labels = labels.reshape(-1).astype(np.int64)
    keep = labels != ignore_index
    n = int(keep.sum())
    C = logits.shape[-1]
    d = np.zeros_like(logits)
    if n == 0:
        return float("nan"), d, 0
    sel = labels[keep]
    if sel.min() < 0 or sel.max() >= C:
        raise ValueError(f"labels must be in [0, {C}) or {ignore_index}")
    z = logits[keep]
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=-1, keepdims=True)
    lp = z - np.log(s)
    loss = -float(lp[np.arange(n), sel].astype(np.float64).mean())
    p = e / s
    p[np.arange(n), sel] -= 1.0
    p /= logits.dtype.type(n)
    d[keep] = p
    return loss, d, n


# ---------------------------------------------------------------------------------- layout
@dataclass
class Layout:
    """Which positions of the ``(B, T)`` batch are computed rows, and how rows form sequences."""

    B: int
    T: int
    rows: np.ndarray  # flat (B*T) indices of the computed rows, in row order
    groups: List[Tuple[np.ndarray, int, int]]  # (row indices of G sequences of length L, G, L)
    key_mask: Optional[np.ndarray]  # (n,) additive key mask, or None
    packed: bool
    starts: List[int] = field(default_factory=list)  # first row of each sequence
    lens: List[int] = field(default_factory=list)  # rows of each sequence

    @property
    def n(self) -> int:
        return int(self.rows.size)

    def scatter(self, x: np.ndarray) -> np.ndarray:
        """Rows ``(n, ...)`` to a ``(B, T, ...)`` array (zeros at positions that are not rows)."""
        if not self.packed:
            return x.reshape(self.B, self.T, *x.shape[1:])
        out = np.zeros((self.B * self.T,) + x.shape[1:], dtype=x.dtype)
        out[self.rows] = x
        return out.reshape(self.B, self.T, *x.shape[1:])

    def gather(self, x: np.ndarray) -> np.ndarray:
        """A ``(B, T, ...)`` array to rows ``(n, ...)``."""
        flat = x.reshape((self.B * self.T,) + x.shape[2:])
        return flat if not self.packed else flat[self.rows]


def make_layout(mask: np.ndarray, packed: bool, dtype: np.dtype) -> Layout:
    """Padded layout (every position, key mask) or packed layout (unmasked tokens only)."""
    B, T = mask.shape
    valid = mask.astype(bool)
    if not packed:
        rows = np.arange(B * T)
        km = None
        if not valid.all():
            km = np.where(valid.reshape(-1), 0.0, _NEG).astype(dtype)
        return Layout(B, T, rows, [(rows, B, T)], km, False, list(range(0, B * T, T)), [T] * B)
    rows = np.flatnonzero(valid.reshape(-1))
    lengths = valid.sum(axis=1)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    by_len: Dict[int, List[int]] = {}
    for s0, ln in zip(starts.tolist(), lengths.tolist()):
        if ln > 0:
            by_len.setdefault(int(ln), []).append(int(s0))
    groups = []
    for ln, firsts in sorted(by_len.items()):
        idx = (np.asarray(firsts)[:, None] + np.arange(ln)).reshape(-1)
        groups.append((idx, len(firsts), ln))
    return Layout(B, T, rows, groups, None, True, starts.tolist(), lengths.tolist())


# ---------------------------------------------------------------------------------- attention
@dataclass
class _AttnTape:
    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    p: np.ndarray
    drop: Optional[np.ndarray]


@dataclass
class _RustAttnTape:
    qkv: np.ndarray
    dropout: float
    seed: int


def attention_forward(qkv: np.ndarray, heads: int, layout: Layout, drop: Dropout) -> Tuple[np.ndarray, List[Any]]:
    """``softmax(Q Kᵀ / sqrt d + mask)`` (dropout) ``V`` per sequence and head; ``qkv`` (n, 3H).

    With the Rust kernels (float32), the tape holds only the seed of the attention dropout: the
    backward kernel recomputes the weights and regenerates the mask.
    """
    n, H3 = qkv.shape
    H = H3 // 3
    d = H // heads
    scale = qkv.dtype.type(1.0 / math.sqrt(d))
    ctx = np.empty((n, H), dtype=qkv.dtype)
    rk = _rust(qkv)
    if rk is not None and qkv.flags.c_contiguous:
        p = drop.attention if drop.rng is not None else 0.0
        seed = int(drop.rng.integers(0, 2**63)) if p > 0 else 0
        rk.attention_train_forward(qkv, heads, layout.starts, layout.lens, layout.key_mask, float(scale), float(p), seed, ctx)
        return ctx, [_RustAttnTape(qkv, float(p), seed)]
    tapes = []
    for idx, G, L in layout.groups:
        x = qkv[idx].reshape(G, L, 3, heads, d)
        q = x[:, :, 0].transpose(0, 2, 1, 3)
        k = x[:, :, 1].transpose(0, 2, 1, 3)
        v = x[:, :, 2].transpose(0, 2, 1, 3)
        s = np.matmul(q, k.transpose(0, 1, 3, 2))
        s *= scale
        if layout.key_mask is not None:
            s += layout.key_mask[idx].reshape(G, 1, 1, L)
        s -= s.max(axis=-1, keepdims=True)
        np.exp(s, out=s)
        s /= s.sum(axis=-1, keepdims=True)
        m = drop.mask(s.shape, drop.attention, s.dtype)
        pd = s if m is None else s * m
        c = np.matmul(pd, v)
        ctx[idx] = c.transpose(0, 2, 1, 3).reshape(G * L, H)
        tapes.append(_AttnTape(q, k, v, s, m))
    return ctx, tapes


def attention_backward(dctx: np.ndarray, heads: int, layout: Layout, tapes: List[Any]) -> np.ndarray:
    """Gradient w.r.t. ``qkv`` (n, 3H) given the gradient of the context (n, H)."""
    n, H = dctx.shape
    d = H // heads
    scale = dctx.dtype.type(1.0 / math.sqrt(d))
    dqkv = np.empty((n, 3 * H), dtype=dctx.dtype)
    if tapes and isinstance(tapes[0], _RustAttnTape):
        rt = tapes[0]
        rk = ops.rust_kernels()
        rk.attention_train_backward(rt.qkv, heads, layout.starts, layout.lens, layout.key_mask, float(scale),
                                    rt.dropout, rt.seed, np.ascontiguousarray(dctx), dqkv)
        return dqkv
    for (idx, G, L), t in zip(layout.groups, tapes):
        dc = dctx[idx].reshape(G, L, heads, d).transpose(0, 2, 1, 3)
        pd = t.p if t.drop is None else t.p * t.drop
        dv = np.matmul(pd.transpose(0, 1, 3, 2), dc)
        dp = np.matmul(dc, t.v.transpose(0, 1, 3, 2))
        if t.drop is not None:
            dp *= t.drop
        ds = dp
        ds -= np.einsum("ghij,ghij->ghi", dp, t.p)[..., None]
        ds *= t.p
        ds *= scale
        dq = np.matmul(ds, t.k)
        dk = np.matmul(ds.transpose(0, 1, 3, 2), t.q)
        out = np.stack([dq, dk, dv], axis=2)  # (G, heads, 3, L, d)
        dqkv[idx] = out.transpose(0, 3, 2, 1, 4).reshape(G * L, 3 * H)
    return dqkv


# ---------------------------------------------------------------------------------- encoder
def _add(grads: Params, name: str, g: np.ndarray) -> None:
    if name in grads:
        grads[name] += g
    else:
        grads[name] = g


def linear_backward(x: np.ndarray, w: np.ndarray, dy: np.ndarray, grads: Params, name: str, need_dx: bool = True) -> Optional[np.ndarray]:
    """For ``y = x @ w.T + b``: accumulate ``name.weight``/``name.bias`` grads, return ``dx``."""
    _add(grads, name + ".weight", dy.T @ x)
    _add(grads, name + ".bias", dy.sum(axis=0))
    return dy @ w if need_dx else None


@dataclass
class _LayerTape:
    x: np.ndarray
    attn: List[Any]
    ctx: np.ndarray
    drop1: Optional[np.ndarray]
    ln1: Tuple[np.ndarray, np.ndarray]
    h1: np.ndarray
    inter: np.ndarray
    act: np.ndarray
    drop2: Optional[np.ndarray]
    ln2: Tuple[np.ndarray, np.ndarray]


@dataclass
class EncoderTape:
    """What :func:`encoder_forward` recorded; :meth:`backward` turns output gradients into parameter gradients."""

    prefix: str
    config: BertConfig
    layout: Layout
    ids: np.ndarray
    tt: np.ndarray
    pos: np.ndarray
    emb_ln: Tuple[np.ndarray, np.ndarray]
    emb_drop: Optional[np.ndarray]
    layers: List[_LayerTape]
    hidden: List[np.ndarray]  # rows (n, H) after the embeddings and after each layer
    pooled: Optional[np.ndarray] = None
    pool_in: Optional[np.ndarray] = None
    extra: Dict[str, object] = field(default_factory=dict)

    @property
    def last(self) -> np.ndarray:
        return self.hidden[-1]


def encoder_forward(
    P: Params,
    prefix: str,
    config: BertConfig,
    ids: np.ndarray,
    tt: np.ndarray,
    pos: np.ndarray,
    layout: Layout,
    drop: Dropout,
    pooler: bool,
) -> EncoderTape:
    """Embeddings, the encoder layers and (optionally) the pooler, recording a tape."""
    c = config
    pre = prefix
    e = pre + "embeddings."
    r_ids = layout.gather(ids[..., None])[:, 0]
    r_tt = layout.gather(tt[..., None])[:, 0]
    r_pos = layout.gather(pos[..., None])[:, 0]
    x = P[e + "word_embeddings.weight"][r_ids]
    x = x + P[e + "position_embeddings.weight"][r_pos]
    x += P[e + "token_type_embeddings.weight"][r_tt]
    x, emb_ln = layernorm_forward(x, P[e + "LayerNorm.weight"], P[e + "LayerNorm.bias"], c.layer_norm_eps)
    m = drop.mask(x.shape, drop.hidden, x.dtype)
    if m is not None:
        x = x * m
    hidden = [x]
    layers = []
    for i in range(c.num_hidden_layers):
        p = f"{pre}encoder.layer.{i}."
        a = p + "attention.self."
        w_qkv = np.concatenate([P[a + "query.weight"], P[a + "key.weight"], P[a + "value.weight"]])
        b_qkv = np.concatenate([P[a + "query.bias"], P[a + "key.bias"], P[a + "value.bias"]])
        qkv = x @ w_qkv.T
        qkv += b_qkv
        ctx, attn = attention_forward(qkv, c.num_attention_heads, layout, drop)
        del qkv
        o = ctx @ P[p + "attention.output.dense.weight"].T
        o += P[p + "attention.output.dense.bias"]
        d1 = drop.mask(o.shape, drop.hidden, o.dtype)
        if d1 is not None:
            o *= d1
        o += x
        h1, ln1 = layernorm_forward(o, P[p + "attention.output.LayerNorm.weight"], P[p + "attention.output.LayerNorm.bias"], c.layer_norm_eps)
        inter = h1 @ P[p + "intermediate.dense.weight"].T
        inter += P[p + "intermediate.dense.bias"]
        act = act_forward(inter, c.hidden_act)
        o2 = act @ P[p + "output.dense.weight"].T
        o2 += P[p + "output.dense.bias"]
        d2 = drop.mask(o2.shape, drop.hidden, o2.dtype)
        if d2 is not None:
            o2 *= d2
        o2 += h1
        h2, ln2 = layernorm_forward(o2, P[p + "output.LayerNorm.weight"], P[p + "output.LayerNorm.bias"], c.layer_norm_eps)
        layers.append(_LayerTape(x, attn, ctx, d1, ln1, h1, inter, act, d2, ln2))
        x = h2
        hidden.append(x)
    tape = EncoderTape(prefix, c, layout, r_ids, r_tt, r_pos, emb_ln, m, layers, hidden)
    if pooler:
        first = first_rows(layout)
        tape.pool_in = x[first]
        y = tape.pool_in @ P[pre + "pooler.dense.weight"].T
        y += P[pre + "pooler.dense.bias"]
        tape.pooled = np.tanh(y)
    return tape


def first_rows(layout: Layout) -> np.ndarray:
    """Row index of position 0 of every sequence (the ``[CLS]`` token the pooler reads)."""
    if not layout.packed:
        return np.arange(layout.B) * layout.T
    # rows are sorted flat indices; position 0 of sequence b is flat index b*T
    return np.searchsorted(layout.rows, np.arange(layout.B) * layout.T)


def encoder_backward(
    P: Params,
    tape: EncoderTape,
    d_last: Optional[np.ndarray],
    d_pooled: Optional[np.ndarray] = None,
    d_hidden: Optional[Sequence[Optional[np.ndarray]]] = None,
    grads: Optional[Params] = None,
) -> Params:
    """Parameter gradients from the gradients of the outputs (rows ``(n, H)``; ``d_pooled`` (B, H)).

    ``d_hidden`` optionally gives a gradient for each entry of ``tape.hidden`` (the embeddings'
    output and every layer's output), as used by a scalar mix of layers.
    """
    c = tape.config
    pre = tape.prefix
    G: Params = {} if grads is None else grads
    n, H = tape.last.shape
    dx = np.zeros((n, H), dtype=tape.last.dtype) if d_last is None else np.array(d_last, dtype=tape.last.dtype)
    if d_hidden is not None and d_hidden[-1] is not None:
        dx += d_hidden[-1]
    if d_pooled is not None:
        if tape.pooled is None:
            raise ValueError("d_pooled given but the forward pass had no pooler")
        dy = d_pooled * (1.0 - tape.pooled * tape.pooled)
        dpin = linear_backward(tape.pool_in, P[pre + "pooler.dense.weight"], dy, G, pre + "pooler.dense")
        np.add.at(dx, first_rows(tape.layout), dpin)
    for i in range(c.num_hidden_layers - 1, -1, -1):
        t = tape.layers[i]
        p = f"{pre}encoder.layer.{i}."
        do2, dg, db = layernorm_backward(dx, P[p + "output.LayerNorm.weight"], t.ln2)
        _add(G, p + "output.LayerNorm.weight", dg)
        _add(G, p + "output.LayerNorm.bias", db)
        dh1 = do2.copy()  # residual
        if t.drop2 is not None:
            do2 *= t.drop2
        dact = linear_backward(t.act, P[p + "output.dense.weight"], do2, G, p + "output.dense")
        dinter = act_backward(t.inter, dact, c.hidden_act)
        dh1 += linear_backward(t.h1, P[p + "intermediate.dense.weight"], dinter, G, p + "intermediate.dense")
        do1, dg, db = layernorm_backward(dh1, P[p + "attention.output.LayerNorm.weight"], t.ln1)
        _add(G, p + "attention.output.LayerNorm.weight", dg)
        _add(G, p + "attention.output.LayerNorm.bias", db)
        dxi = do1.copy()  # residual
        if t.drop1 is not None:
            do1 *= t.drop1
        dctx = linear_backward(t.ctx, P[p + "attention.output.dense.weight"], do1, G, p + "attention.output.dense")
        dqkv = attention_backward(dctx, c.num_attention_heads, tape.layout, t.attn)
        a = p + "attention.self."
        dw = dqkv.T @ t.x
        db3 = dqkv.sum(axis=0)
        for j, nm in enumerate(("query", "key", "value")):
            _add(G, a + nm + ".weight", np.ascontiguousarray(dw[j * H : (j + 1) * H]))
            _add(G, a + nm + ".bias", db3[j * H : (j + 1) * H].copy())
        dxi += dqkv[:, :H] @ P[a + "query.weight"]
        dxi += dqkv[:, H : 2 * H] @ P[a + "key.weight"]
        dxi += dqkv[:, 2 * H :] @ P[a + "value.weight"]
        dx = dxi
        if d_hidden is not None and d_hidden[i] is not None:
            dx += d_hidden[i]
    if tape.emb_drop is not None:
        dx *= tape.emb_drop
    e = pre + "embeddings."
    de, dg, db = layernorm_backward(dx, P[e + "LayerNorm.weight"], tape.emb_ln)
    _add(G, e + "LayerNorm.weight", dg)
    _add(G, e + "LayerNorm.bias", db)
    for nm, idx in (("word_embeddings", tape.ids), ("position_embeddings", tape.pos), ("token_type_embeddings", tape.tt)):
        key = e + nm + ".weight"
        if key not in G:
            G[key] = np.zeros_like(P[key])
        d = de
        if nm == "word_embeddings" and c.pad_token_id is not None:
            # nn.Embedding(padding_idx=pad_token_id): lookups of the pad token give no gradient
            d = np.where((idx == c.pad_token_id)[:, None], 0, de).astype(de.dtype, copy=False)
        np.add.at(G[key], idx, d)
    return G
