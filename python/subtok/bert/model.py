"""The NumPy BERT encoder (``BertModel``): embeddings, post-LN encoder layers, tanh pooler.

Layout choices for speed (all float32): Q, K and V projections fused into one ``(H, 3H)`` GEMM with
``1/sqrt(head_dim)`` folded into the Q columns; every weight pre-transposed once at load time so each
GEMM is a plain ``x @ W``; one workspace of preallocated buffers per call reused by every layer;
in-place bias/activation/LayerNorm kernels (``ops``), Rust-accelerated when compiled in; the float32
dense layers on the Rust GEMM with weights packed once (:class:`subtok.bert.quant.F32Linear`: one thread
pool for every kernel, bias and GELU in its epilogue; NumPy's BLAS with ``BertModel.rust_gemm = False``,
``SUBTOK_F32_GEMM=numpy`` or where it is not available); and one fused attention call per layer (scores, masked softmax and context per sequence and head, never materializing
the ``(B, heads, T, T)`` scores) that also serves packed batches of unequal lengths.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

import numpy as np

from subtok.bert import architectures as _arch
from subtok.bert import blas, ops
from subtok.bert.quant import f32_linear
from subtok.bert.config import BertConfig
from subtok.bert.trainable import TrainableEncoder
from subtok.bert.weights import load_state_dict
from subtok.hub import resolve_model

PathLike = Union[str, "os.PathLike[str]"]
ArrayLike = Union[np.ndarray, List[List[int]], List[int]]

#: Buffers some checkpoints store that carry no learned weight.
IGNORED_BUFFERS = ("embeddings.position_ids", "embeddings.token_type_ids")

#: Top-level prefixes of the standard BERT heads (ignored by a model that has no such head, as
#: transformers does when a base model is loaded from a head checkpoint).
KNOWN_HEAD_PREFIXES = ("cls.", "classifier.", "qa_outputs.")


# ---------------------------------------------------------------------------------- state dicts
def _canonical(name: str) -> str:
    if name.endswith(".gamma"):
        return name[: -len(".gamma")] + ".weight"
    if name.endswith(".beta"):
        return name[: -len(".beta")] + ".bias"
    return name


class StateDict:
    """Checkpoint tensors under canonical names, tracking which ones a model consumed.

    Encoder keys are stored without the ``bert.`` prefix (accepted with or without it; ``roberta.`` /
    ``distilbert.`` and DistilBERT's own layer names for those families, see
    :mod:`subtok.bert.architectures`); old TF-style ``gamma``/``beta`` LayerNorm names become
    ``weight``/``bias``.
    """

    def __init__(self, tensors: Dict[str, np.ndarray], source: str = "checkpoint", family: str = "bert") -> None:
        self.source = source
        self.family = family
        self.tensors: Dict[str, np.ndarray] = {}
        for k, v in tensors.items():
            k, _ = _arch.canonical_name(_canonical(k), family)
            if k in IGNORED_BUFFERS:
                continue
            if k in self.tensors:
                raise ValueError(
                    f"{source}: weight {k!r} appears twice (with and without the '{_arch.BASE_PREFIXES[family]}' prefix)"
                )
            self.tensors[k] = v
        self.used: set = set()
        self.missing: List[str] = []

    @classmethod
    def from_pretrained(cls, path: PathLike, family: str = "bert") -> "StateDict":
        return cls(load_state_dict(path), os.fspath(path), family)

    def has(self, name: str) -> bool:
        return name in self.tensors

    def has_prefix(self, prefix: str) -> bool:
        return any(k.startswith(prefix) for k in self.tensors)

    def take(self, name: str, shape: Tuple[int, ...]) -> np.ndarray:
        """The float32 tensor ``name`` of the given shape (records it as missing if absent)."""
        if name not in self.tensors:
            self.missing.append(name)
            return np.zeros(shape, dtype=np.float32)
        self.used.add(name)
        arr = self.tensors[name]
        if tuple(arr.shape) != tuple(shape):
            raise ValueError(
                f"{self.source}: weight {name!r} has shape {tuple(arr.shape)}, the config implies {tuple(shape)}"
            )
        if arr.dtype != np.float32:
            if not np.issubdtype(arr.dtype, np.floating):
                raise ValueError(f"{self.source}: weight {name!r} has non-float dtype {arr.dtype}")
            arr = arr.astype(np.float32)
        if not arr.flags.aligned or not arr.flags.c_contiguous:
            arr = np.array(arr)  # e.g. a zip member at an odd offset: copy once
        return arr

    def finish(self, ignore_prefixes: Iterable[str] = ()) -> None:
        """Raise ``ValueError`` listing missing weights and unexpected (unconsumed) ones."""
        ignore = tuple(ignore_prefixes)
        unexpected = sorted(k for k in self.tensors if k not in self.used and not k.startswith(ignore))
        problems = []
        if self.missing:
            problems.append(f"missing weights: {', '.join(sorted(self.missing))}")
        if unexpected:
            problems.append(f"unexpected weights: {', '.join(unexpected)}")
        if problems:
            raise ValueError(f"{self.source}: " + "; ".join(problems))


# ---------------------------------------------------------------------------------- outputs
@dataclass
class BaseModelOutputWithPooling:
    """``last_hidden_state`` (B, T, H) and ``pooler_output`` (B, H) (``None`` without a pooler)."""

    last_hidden_state: np.ndarray
    pooler_output: Optional[np.ndarray]
    #: with ``output_hidden_states=True``: the embeddings' output and every layer's, (B, T, H) each
    hidden_states: Optional[Tuple[np.ndarray, ...]] = None

    def __getitem__(self, key: str) -> Optional[np.ndarray]:
        return getattr(self, key)


class _Layer:
    __slots__ = ("w_qkv", "b_qkv", "w_o", "b_o", "ln1_g", "ln1_b", "w_i", "b_i", "w_out", "b_out", "ln2_g", "ln2_b")

    #: the dense weights that ``quantize`` replaces
    DENSE = ("w_qkv", "w_o", "w_i", "w_out")


def _dense(x: np.ndarray, w: Any, out: np.ndarray) -> None:
    """``out = x @ w`` for a float32 weight or a quantized one (:mod:`subtok.bert.quant`)."""
    if isinstance(w, np.ndarray):
        np.matmul(x, w, out=out)
    else:
        w(x, out)


def _dense_bias_act(x: np.ndarray, w: Any, bias: np.ndarray, act: str, out: np.ndarray) -> None:
    """``out = act(x @ w + bias)``: in the product's epilogue for a quantized weight and GELU."""
    if act == "gelu" and not isinstance(w, np.ndarray):
        w(x, out, bias=bias, gelu=True)
    else:
        _dense(x, w, out)
        ops.add_bias_gelu_(out, bias, act)


def _as_int_array(x: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
        if arr.size == 0 and arr.dtype == np.float64:
            arr = arr.astype(np.int64)
        else:
            raise TypeError(f"{name} must be an integer array, got dtype {arr.dtype}")
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape (batch, seq_len), got {arr.shape}")
    return arr.astype(np.int64, copy=False)


# ---------------------------------------------------------------------------------- the encoder
class BertModel(TrainableEncoder):
    """A BERT encoder in NumPy, loaded from a Hugging Face checkpoint.

    >>> model = BertModel.from_pretrained("path/to/folder")          # doctest: +SKIP
    >>> out = model(input_ids, attention_mask=mask)                   # doctest: +SKIP
    >>> out.last_hidden_state.shape, out.pooler_output.shape          # doctest: +SKIP
    """

    def __init__(self, config: BertConfig, state: StateDict, add_pooling_layer: Optional[bool] = None) -> None:
        """Build from a config and loaded weights; use :meth:`from_pretrained` to load a folder.
        ``add_pooling_layer=None`` keeps the pooler when the weights have one."""
        # Once per process, while loading (before any threads run GEMMs): see subtok.bert.blas.
        blas.apply_default()
        self.config = config
        c = config
        H, I, V = c.hidden_size, c.intermediate_size, c.vocab_size
        self.word_embeddings = state.take("embeddings.word_embeddings.weight", (V, H))
        self.position_embeddings = state.take("embeddings.position_embeddings.weight", (c.max_position_embeddings, H))
        if c.family == "distilbert":  # no token types: a zero row keeps one embedding path
            self.token_type_embeddings = np.zeros((1, H), dtype=np.float32)
        else:
            self.token_type_embeddings = state.take("embeddings.token_type_embeddings.weight", (c.type_vocab_size, H))
        self.emb_ln_g = state.take("embeddings.LayerNorm.weight", (H,))
        self.emb_ln_b = state.take("embeddings.LayerNorm.bias", (H,))
        scale = np.float32(1.0 / math.sqrt(c.head_dim))
        self.layers: List[_Layer] = []
        for i in range(c.num_hidden_layers):
            p = f"encoder.layer.{i}."
            L = _Layer()
            wq = state.take(p + "attention.self.query.weight", (H, H))
            wk = state.take(p + "attention.self.key.weight", (H, H))
            wv = state.take(p + "attention.self.value.weight", (H, H))
            bq = state.take(p + "attention.self.query.bias", (H,))
            bk = state.take(p + "attention.self.key.bias", (H,))
            bv = state.take(p + "attention.self.value.bias", (H,))
            w_qkv = np.empty((H, 3 * H), dtype=np.float32)
            np.multiply(wq.T, scale, out=w_qkv[:, :H])
            w_qkv[:, H : 2 * H] = wk.T
            w_qkv[:, 2 * H :] = wv.T
            L.w_qkv = w_qkv
            L.b_qkv = np.concatenate([bq * scale, bk, bv]).astype(np.float32)
            L.w_o = np.ascontiguousarray(state.take(p + "attention.output.dense.weight", (H, H)).T)
            L.b_o = np.array(state.take(p + "attention.output.dense.bias", (H,)))
            L.ln1_g = np.array(state.take(p + "attention.output.LayerNorm.weight", (H,)))
            L.ln1_b = np.array(state.take(p + "attention.output.LayerNorm.bias", (H,)))
            L.w_i = np.ascontiguousarray(state.take(p + "intermediate.dense.weight", (I, H)).T)
            L.b_i = np.array(state.take(p + "intermediate.dense.bias", (I,)))
            L.w_out = np.ascontiguousarray(state.take(p + "output.dense.weight", (H, I)).T)
            L.b_out = np.array(state.take(p + "output.dense.bias", (H,)))
            L.ln2_g = np.array(state.take(p + "output.LayerNorm.weight", (H,)))
            L.ln2_b = np.array(state.take(p + "output.LayerNorm.bias", (H,)))
            self.layers.append(L)
        if add_pooling_layer is None:
            add_pooling_layer = state.has_prefix("pooler.")
        self.has_pooler = bool(add_pooling_layer)
        if self.has_pooler:
            self.pooler_w = np.ascontiguousarray(state.take("pooler.dense.weight", (H, H)).T)
            self.pooler_b = np.array(state.take("pooler.dense.bias", (H,)))

    def __getstate__(self) -> dict:
        """Pickle config and weights; the packed float32 weights are rebuilt on first use."""
        state = self.__dict__.copy()
        state.pop("_f32_packed", None)
        return state

    def __setstate__(self, state: dict) -> None:
        """Unpickling (models pickle by value: config and weights) sets up BLAS as loading does."""
        blas.apply_default()
        self.__dict__.update(state)

    #: Run the float32 dense layers on the Rust GEMM when it is available (see :func:`subtok.bert.quant.f32_linear`);
    #: ``False`` uses NumPy's BLAS (the fallback, also for tests comparing both).
    rust_gemm: bool = True

    def _dense_weights(self, L: _Layer) -> Tuple[Any, ...]:
        """The layer's four dense weights as the products take them: float32 arrays packed for the Rust
        GEMM on first use (packed again when :meth:`parameters_updated` or the caller replaced an
        array; arrays changed in place are not noticed), else as stored (NumPy arrays or quantized)."""
        ws = tuple(getattr(L, name) for name in _Layer.DENSE)
        if not self.rust_gemm or not all(isinstance(w, np.ndarray) for w in ws):
            return ws
        cache: Dict[int, Tuple[Any, ...]] = self.__dict__.setdefault("_f32_packed", {})
        packed = cache.get(id(L))
        if packed is None or not all(p.source is w for p, w in zip(packed, ws)):
            first = f32_linear(ws[0])
            if first is None:
                return ws
            packed = (first,) + tuple(f32_linear(w) for w in ws[1:])
            cache[id(L)] = packed
        return packed

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(
        cls, path: PathLike, add_pooling_layer: Optional[bool] = None, quantize: Optional[str] = None
    ) -> "BertModel":
        """Load from a folder with ``config.json`` and ``model.safetensors`` or ``pytorch_model.bin``,
        or a model name in the offline Hugging Face cache (resolved like
        :meth:`subtok.Tokenizer.from_pretrained`; ``FileNotFoundError`` says where it looked).

        Dispatches on ``config.json``'s ``model_type`` like transformers' ``AutoModel``: BERT,
        RoBERTa (also XLM-R, CamemBERT) and DistilBERT checkpoints load (base models or any head
        checkpoint of theirs). The pooler is loaded when the checkpoint has one (or required with
        ``add_pooling_layer=True``). Weights of the family's standard heads are ignored; any other
        unknown or missing weight raises ``ValueError`` listing the names. ``quantize="int8"`` or
        ``"bf16"`` quantizes the dense layers once at load (see :meth:`quantize`).
        """
        from subtok.bert.quant import check_kind

        check_kind(quantize)
        path = resolve_model(path)
        config = BertConfig.from_pretrained(path)
        state = StateDict.from_pretrained(path, config.family)
        model = cls(config, state, add_pooling_layer=add_pooling_layer)
        state.finish(ignore_prefixes=_arch.HEAD_PREFIXES[config.family])
        if quantize is not None:
            model.quantize(quantize)
        return model

    _quantized: Optional[str] = None

    @property
    def quantized(self) -> Optional[str]:
        """``None`` (float32) or the ``quantize`` kind applied to the dense layers."""
        return self._quantized

    def quantize(self, kind: str = "int8") -> "BertModel":
        """Quantize the encoder layers' dense weights in place, once (returns ``self``).

        ``"int8"``: dynamic quantization (per-output-channel int8 weights, per-row int8 activations,
        exact int32 products on AVX512-VNNI or AVX2 when available); ``"bf16"``: weights stored as
        bfloat16 (half the memory), products in float32 (see :mod:`subtok.bert.quant`). Embeddings,
        LayerNorms, attention and the pooler stay float32.
        """
        from subtok.bert import quant

        quant.check_kind(kind)
        if self.quantized is not None:
            if self.quantized != kind:
                raise ValueError(f"model is already quantized to {self.quantized}")
            return self
        for L in self.layers:
            for name in _Layer.DENSE:
                setattr(L, name, quant.linear(kind, getattr(L, name)))
        self._quantized = kind
        return self

    @property
    def max_input_length(self) -> int:
        """Longest input sequence the position embeddings allow."""
        return self.config.max_input_length

    # ------------------------------------------------------------------ inputs
    def _check_inputs(
        self,
        input_ids: ArrayLike,
        attention_mask: Optional[ArrayLike],
        token_type_ids: Optional[ArrayLike],
        position_ids: Optional[ArrayLike],
    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        c = self.config
        ids = _as_int_array(input_ids, "input_ids")
        B, T = ids.shape
        if T == 0 or B == 0:
            raise ValueError(f"input_ids must be non-empty, got shape {ids.shape}")
        if ids.min() < 0 or ids.max() >= c.vocab_size:
            bad = int(ids.max()) if ids.max() >= c.vocab_size else int(ids.min())
            raise ValueError(f"input_ids contain {bad}, outside the vocabulary [0, {c.vocab_size})")

        def other(x: Optional[ArrayLike], name: str, default: np.ndarray) -> np.ndarray:
            if x is None:
                return default
            a = _as_int_array(x, name)
            if a.shape != ids.shape:
                if a.shape[0] == 1 and a.shape[1] == T and name == "position_ids":
                    return np.broadcast_to(a, ids.shape)
                raise ValueError(f"{name} has shape {a.shape}, input_ids has shape {ids.shape}")
            return a

        mask = other(attention_mask, "attention_mask", np.ones_like(ids))
        if mask.min() < 0 or mask.max() > 1:
            raise ValueError("attention_mask must contain only 0 and 1")
        tt = other(token_type_ids, "token_type_ids", np.zeros_like(ids))
        if tt.min() < 0 or tt.max() >= c.type_vocab_size:
            raise ValueError(f"token_type_ids must be in [0, {c.type_vocab_size}), got {int(tt.max())}")
        if position_ids is None:
            if T > c.max_input_length:
                raise ValueError(
                    f"sequence length {T} exceeds the model's {c.max_input_length} positions (max_position_embeddings); "
                    "truncate the input"
                )
            if c.family == "roberta":  # transformers' create_position_ids_from_input_ids
                pad = int(c.pad_token_id or 0)
                real = ids != pad
                pos = np.cumsum(real, axis=1) * real + pad
            else:
                pos = np.broadcast_to(np.arange(T, dtype=np.int64), ids.shape)
        else:
            pos = other(position_ids, "position_ids", ids)
            if pos.min() < 0 or pos.max() >= c.max_position_embeddings:
                raise ValueError(
                    f"position_ids must be in [0, {c.max_position_embeddings}), got {int(pos.max())}"
                )
        return ids, mask, tt, pos

    # ------------------------------------------------------------------ forward
    def __call__(
        self,
        input_ids: ArrayLike,
        attention_mask: Optional[ArrayLike] = None,
        token_type_ids: Optional[ArrayLike] = None,
        position_ids: Optional[ArrayLike] = None,
        output_hidden_states: bool = False,
    ) -> BaseModelOutputWithPooling:
        """Encode a batch. Inputs are (B, T) integer arrays (a 1-D array is one sequence).

        Values at unmasked positions match transformers' ``BertModel``. On batches with much
        padding only unmasked tokens are computed and masked positions of ``last_hidden_state``
        are zeros; set ``model.skip_padding = False`` to compute every position as transformers does.
        ``output_hidden_states=True`` also returns every layer's output, as transformers does
        (computed by the training-mode forward, every position, no dropout in eval mode).
        """
        if output_hidden_states:
            return self.forward_all_layers(input_ids, attention_mask, token_type_ids, position_ids)
        ids, mask, tt, pos = self._check_inputs(input_ids, attention_mask, token_type_ids, position_ids)
        seq = self.encode(ids, mask, tt, pos)
        pooled = self.pool(seq) if self.has_pooler else None
        return BaseModelOutputWithPooling(last_hidden_state=seq, pooler_output=pooled)

    forward = __call__

    def pool(self, seq: np.ndarray) -> np.ndarray:
        """The pooler: ``tanh(W h_[CLS] + b)``, (B, H)."""
        if not self.has_pooler:
            raise ValueError("this checkpoint has no pooler weights")
        out = seq[:, 0, :] @ self.pooler_w
        out += self.pooler_b
        np.tanh(out, out=out)
        return out

    def embed(self, ids: np.ndarray, tt: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """Embedding sum + LayerNorm, as a fresh (B*T, H) float32 array."""
        c = self.config
        H = c.hidden_size
        h = np.take(self.word_embeddings, ids.reshape(-1), axis=0)
        h += np.take(self.position_embeddings, pos.reshape(-1), axis=0)
        if c.type_vocab_size == 1:
            h += self.token_type_embeddings[0]
        else:
            h += np.take(self.token_type_embeddings, tt.reshape(-1), axis=0)
        ops.add_layernorm_(h.reshape(-1, H), None, None, self.emb_ln_g, self.emb_ln_b, c.layer_norm_eps)
        return h

    def encode(self, ids: np.ndarray, mask: np.ndarray, tt: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """The encoder stack on validated (B, T) int64 inputs; returns (B, T, H) float32.

        When a sizeable share of the batch is padding (and :attr:`skip_padding` is true), only the
        unmasked tokens are computed: they are packed into one (N_valid, H) matrix for the dense
        layers and attend within their own sequence. Their values equal the padded computation's
        (masked keys get exactly zero weight either way); the hidden states of masked positions are
        then returned as zeros instead of the meaningless values a padded run produces.
        """
        valid = mask.astype(bool)
        B, T = ids.shape
        n_valid = int(valid.sum())
        if (
            self.skip_padding
            and n_valid < self.pack_threshold * B * T
            and bool(valid[:, 0].all())  # the pooler reads position 0: keep it computed
        ):
            return self._encode_packed(ids, valid, tt, pos)
        return self._encode_padded(ids, mask, tt, pos)

    #: compute only unmasked tokens when padding is at least (1 - pack_threshold) of the batch
    skip_padding: bool = True
    pack_threshold: float = 0.9

    def _layer(
        self,
        L: _Layer,
        h: np.ndarray,
        qkv: np.ndarray,
        attention: Tuple[Any, ...],
        ctx: np.ndarray,
        attn: np.ndarray,
        inter: np.ndarray,
    ) -> None:
        """One encoder layer on ``h`` in place: QKV projection, self-attention (``attention``: heads,
        starts, lengths, key mask), output projection + LayerNorm, then the feed-forward block."""
        c = self.config
        w_qkv, w_o, w_i, w_out = self._dense_weights(L)
        _dense(h, w_qkv, qkv)
        ops.self_attention_(qkv, L.b_qkv, *attention, ctx)
        _dense(ctx, w_o, attn)
        ops.add_layernorm_(attn, h, L.b_o, L.ln1_g, L.ln1_b, c.layer_norm_eps)
        _dense_bias_act(attn, w_i, L.b_i, c.hidden_act, inter)
        _dense(inter, w_out, h)
        ops.add_layernorm_(h, attn, L.b_out, L.ln2_g, L.ln2_b, c.layer_norm_eps)

    def _encode_padded(self, ids: np.ndarray, mask: np.ndarray, tt: np.ndarray, pos: np.ndarray) -> np.ndarray:
        c = self.config
        B, T = ids.shape
        H, nh, I = c.hidden_size, c.num_attention_heads, c.intermediate_size
        N = B * T

        h = self.embed(ids, tt, pos)
        mask_bias: Optional[np.ndarray]
        if bool(mask.all()):
            mask_bias = None
        else:
            mask_bias = (1.0 - mask.astype(np.float32)) * np.finfo(np.float32).min

        # Workspace reused by every layer.
        qkv = np.empty((N, 3 * H), dtype=np.float32)
        ctx = np.empty((N, H), dtype=np.float32)
        attn = np.empty((N, H), dtype=np.float32)
        inter = np.empty((N, I), dtype=np.float32)
        starts = range(0, N, T)
        lens = [T] * B
        key_mask = None if mask_bias is None else mask_bias.reshape(-1)
        for L in self.layers:
            self._layer(L, h, qkv, (nh, starts, lens, key_mask), ctx, attn, inter)
        return h.reshape(B, T, H)

    def _encode_packed(self, ids: np.ndarray, valid: np.ndarray, tt: np.ndarray, pos: np.ndarray) -> np.ndarray:
        c = self.config
        B, T = ids.shape
        H, nh, I = c.hidden_size, c.num_attention_heads, c.intermediate_size
        flat = np.flatnonzero(valid.reshape(-1))
        Nv = flat.size
        lengths = valid.sum(axis=1).tolist()
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).tolist()
        h = self.embed(ids.reshape(-1)[flat][None], tt.reshape(-1)[flat][None], pos.reshape(-1)[flat][None])

        qkv = np.empty((Nv, 3 * H), dtype=np.float32)
        ctx = np.empty((Nv, H), dtype=np.float32)
        attn = np.empty((Nv, H), dtype=np.float32)
        inter = np.empty((Nv, I), dtype=np.float32)
        for L in self.layers:
            self._layer(L, h, qkv, (nh, starts, lengths, None), ctx, attn, inter)
        out = np.zeros((B * T, H), dtype=np.float32)
        out[flat] = h
        return out.reshape(B, T, H)

    # ------------------------------------------------------------------ misc
    @property
    def num_parameters(self) -> int:
        """Number of weights (embeddings, layers and pooler), as transformers' ``num_parameters()``."""
        n = self.word_embeddings.size + self.position_embeddings.size + self.token_type_embeddings.size
        n += 2 * self.config.hidden_size
        for L in self.layers:
            n += sum(int(np.prod(getattr(L, s).shape)) for s in _Layer.__slots__)
        if self.has_pooler:
            n += self.pooler_w.size + self.pooler_b.size
        return int(n)

    def __repr__(self) -> str:
        c = self.config
        return (
            f"BertModel(layers={c.num_hidden_layers}, hidden={c.hidden_size}, heads={c.num_attention_heads}, "
            f"vocab={c.vocab_size}, pooler={self.has_pooler})"
        )
