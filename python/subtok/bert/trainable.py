"""Training support mixed into :class:`~subtok.bert.BertModel` and the head classes.

* ``model.state_dict()``: the *live* parameters as float32 arrays under Hugging Face key names
  (``bert.`` prefix on heads, as transformers saves them). The optimizer updates these arrays in
  place; the inference layout (fused QKV, transposed weights) is re-derived from them by
  :meth:`parameters_updated`, which :class:`subtok.bert.optim.AdamW` calls after every step.
* ``model.loss_and_grads(input_ids, ..., labels=...)`` -> ``(loss, grads)``: an exact backward pass
  (``grads`` has the keys of ``state_dict()``), with dropout when the model is in training mode
  (``model.train(seed=...)``); ``model.eval()`` (the default after loading) turns it off.
* ``model.save_pretrained(folder)``: ``config.json`` + ``model.safetensors`` that transformers'
  ``from_pretrained`` loads.
"""
from __future__ import annotations

import math
import os
from typing import Any, Callable, Dict, Optional, Tuple, Union

import numpy as np

from subtok.bert import backward as bw
from subtok.bert.backward import Params

PathLike = Union[str, "os.PathLike[str]"]


def no_decay(name: str) -> bool:
    """True for parameters BERT trains without weight decay: biases and LayerNorm weights."""
    return name.endswith(".bias") or "LayerNorm." in name


def _labels(x: Any, name: str, shape: Tuple[int, ...]) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{name} must be an integer array, got dtype {arr.dtype}")
    if arr.size != int(np.prod(shape)):
        raise ValueError(f"{name} has shape {arr.shape}, expected {shape}")
    return arr.reshape(shape).astype(np.int64)


class Trainable:
    """Parameters, training mode, gradients and saving; shared by the encoder and the heads."""

    #: key prefix of the encoder's parameters in ``state_dict()``
    _prefix: str = "bert."
    training: bool = False
    _params: Optional[Params] = None
    _rng: Optional[np.random.Generator] = None

    # ------------------------------------------------------------------ modes
    def train(self, mode: bool = True, seed: Optional[int] = None) -> Any:
        """Training mode (dropout on, from a generator seeded with ``seed``); returns the model."""
        self.training = bool(mode)
        if mode and (seed is not None or self._rng is None):
            self._rng = np.random.default_rng(seed)
        return self

    def eval(self) -> Any:
        """Evaluation mode: no dropout (exact). Returns the model."""
        return self.train(False)

    def _dropout(self) -> bw.Dropout:
        return bw.dropout_from_config(self.config, self._rng if self.training else None)  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ parameters
    def _encoder(self) -> Any:
        return getattr(self, "bert", self)

    def _collect(self) -> Params:
        """Fresh writable float32 copies of every parameter, in transformers' order."""
        bert = self._encoder()
        pre = "" if bert is self else self._prefix
        P: Params = {}
        c = bert.config
        e = pre + "embeddings."
        P[e + "word_embeddings.weight"] = np.array(bert.word_embeddings, dtype=np.float32)
        P[e + "position_embeddings.weight"] = np.array(bert.position_embeddings, dtype=np.float32)
        P[e + "token_type_embeddings.weight"] = np.array(bert.token_type_embeddings, dtype=np.float32)
        P[e + "LayerNorm.weight"] = np.array(bert.emb_ln_g, dtype=np.float32)
        P[e + "LayerNorm.bias"] = np.array(bert.emb_ln_b, dtype=np.float32)
        H = c.hidden_size
        inv = np.float32(math.sqrt(c.head_dim))
        for i, L in enumerate(bert.layers):
            p = f"{pre}encoder.layer.{i}."
            w = np.asarray(L.w_qkv, dtype=np.float32)
            b = np.asarray(L.b_qkv, dtype=np.float32)
            P[p + "attention.self.query.weight"] = np.ascontiguousarray((w[:, :H] * inv).T)
            P[p + "attention.self.query.bias"] = b[:H] * inv
            P[p + "attention.self.key.weight"] = np.ascontiguousarray(w[:, H : 2 * H].T)
            P[p + "attention.self.key.bias"] = b[H : 2 * H].copy()
            P[p + "attention.self.value.weight"] = np.ascontiguousarray(w[:, 2 * H :].T)
            P[p + "attention.self.value.bias"] = b[2 * H :].copy()
            P[p + "attention.output.dense.weight"] = np.ascontiguousarray(L.w_o.T)
            P[p + "attention.output.dense.bias"] = np.array(L.b_o)
            P[p + "attention.output.LayerNorm.weight"] = np.array(L.ln1_g)
            P[p + "attention.output.LayerNorm.bias"] = np.array(L.ln1_b)
            P[p + "intermediate.dense.weight"] = np.ascontiguousarray(L.w_i.T)
            P[p + "intermediate.dense.bias"] = np.array(L.b_i)
            P[p + "output.dense.weight"] = np.ascontiguousarray(L.w_out.T)
            P[p + "output.dense.bias"] = np.array(L.b_out)
            P[p + "output.LayerNorm.weight"] = np.array(L.ln2_g)
            P[p + "output.LayerNorm.bias"] = np.array(L.ln2_b)
        if bert.has_pooler:
            P[pre + "pooler.dense.weight"] = np.ascontiguousarray(bert.pooler_w.T)
            P[pre + "pooler.dense.bias"] = np.array(bert.pooler_b)
        if bert is not self:
            P.update(self._head_params())
        return P

    def _head_params(self) -> Params:
        return {}

    def _bind_head(self, P: Params) -> None:
        pass

    def state_dict(self) -> Params:
        """The live parameters (float32, Hugging Face key names). Update them in place, then call
        :meth:`parameters_updated` (the optimizer does) so that inference sees the new values."""
        if self._params is None:
            self._params = self._collect()
            self.parameters_updated()
        return self._params

    def parameters_updated(self) -> None:
        """Re-derive the inference layout (fused QKV, transposed weights) from ``state_dict()``."""
        P = self.state_dict()
        bert = self._encoder()
        pre = "" if bert is self else self._prefix
        c = bert.config
        e = pre + "embeddings."
        bert.word_embeddings = P[e + "word_embeddings.weight"]
        bert.position_embeddings = P[e + "position_embeddings.weight"]
        bert.token_type_embeddings = P[e + "token_type_embeddings.weight"]
        bert.emb_ln_g = P[e + "LayerNorm.weight"]
        bert.emb_ln_b = P[e + "LayerNorm.bias"]
        H = c.hidden_size
        scale = np.float32(1.0 / math.sqrt(c.head_dim))
        for i, L in enumerate(bert.layers):
            p = f"{pre}encoder.layer.{i}."
            a = p + "attention.self."
            w = np.empty((H, 3 * H), dtype=np.float32)
            np.multiply(P[a + "query.weight"].T, scale, out=w[:, :H])
            w[:, H : 2 * H] = P[a + "key.weight"].T
            w[:, 2 * H :] = P[a + "value.weight"].T
            L.w_qkv = w
            L.b_qkv = np.concatenate([P[a + "query.bias"] * scale, P[a + "key.bias"], P[a + "value.bias"]])
            L.w_o = P[p + "attention.output.dense.weight"].T
            L.b_o = P[p + "attention.output.dense.bias"]
            L.ln1_g = P[p + "attention.output.LayerNorm.weight"]
            L.ln1_b = P[p + "attention.output.LayerNorm.bias"]
            L.w_i = P[p + "intermediate.dense.weight"].T
            L.b_i = P[p + "intermediate.dense.bias"]
            L.w_out = P[p + "output.dense.weight"].T
            L.b_out = P[p + "output.dense.bias"]
            L.ln2_g = P[p + "output.LayerNorm.weight"]
            L.ln2_b = P[p + "output.LayerNorm.bias"]
        if bert.has_pooler:
            bert.pooler_w = P[pre + "pooler.dense.weight"].T
            bert.pooler_b = P[pre + "pooler.dense.bias"]
        if bert is not self:
            self._bind_head(P)

    def load_state_dict(self, state: Dict[str, np.ndarray], strict: bool = True) -> None:
        """Copy ``state`` (Hugging Face names, ``bert.`` prefix optional on heads) into the parameters.

        With ``strict`` (default), missing or unexpected keys and shape mismatches raise ``ValueError``.
        """
        P = self.state_dict()
        pre = self._prefix if self._encoder() is not self else ""
        given: Dict[str, np.ndarray] = {}
        for k, v in state.items():
            if k not in P and pre and (pre + k) in P:
                k = pre + k
            given[k] = v
        unexpected = sorted(k for k in given if k not in P)
        missing = sorted(k for k in P if k not in given)
        if strict and (unexpected or missing):
            raise ValueError(f"load_state_dict: missing keys {missing}; unexpected keys {unexpected}")
        for k, v in given.items():
            if k not in P:
                continue
            v = np.asarray(v)
            if v.shape != P[k].shape:
                raise ValueError(f"load_state_dict: {k} has shape {v.shape}, the model has {P[k].shape}")
            P[k][...] = v
        self.parameters_updated()

    @property
    def num_trainable_parameters(self) -> int:
        """Number of trainable scalars (tied weights counted once)."""
        return int(sum(v.size for v in self.state_dict().values()))

    # ------------------------------------------------------------------ fresh models
    @staticmethod
    def _head_shapes(config: Any) -> Dict[str, Tuple[int, ...]]:
        return {}

    @classmethod
    def _init_tensors(cls, config: Any, seed: Optional[int]) -> Dict[str, np.ndarray]:
        """Fresh weights under canonical names (no ``bert.`` prefix), initialized as transformers
        initializes BERT: ``N(0, initializer_range)`` (0.02 by default), biases 0, LayerNorm
        weights 1, the pad token's embedding 0."""
        rng = np.random.default_rng(seed)
        std = float(config.extra.get("initializer_range", 0.02) or 0.02)
        c = config
        H, I = c.hidden_size, c.intermediate_size
        shapes: Dict[str, Tuple[int, ...]] = {
            "embeddings.word_embeddings.weight": (c.vocab_size, H),
            "embeddings.position_embeddings.weight": (c.max_position_embeddings, H),
            "embeddings.token_type_embeddings.weight": (c.type_vocab_size, H),
            "embeddings.LayerNorm.weight": (H,),
            "embeddings.LayerNorm.bias": (H,),
        }
        for i in range(c.num_hidden_layers):
            p = f"encoder.layer.{i}."
            for nm, out, inp in (("attention.self.query", H, H), ("attention.self.key", H, H),
                                 ("attention.self.value", H, H), ("attention.output.dense", H, H),
                                 ("intermediate.dense", I, H), ("output.dense", H, I)):
                shapes[p + nm + ".weight"] = (out, inp)
                shapes[p + nm + ".bias"] = (out,)
            for nm in ("attention.output.LayerNorm", "output.LayerNorm"):
                shapes[p + nm + ".weight"] = (H,)
                shapes[p + nm + ".bias"] = (H,)
        pooler = getattr(cls, "_pooler", True)
        if pooler is None or pooler:
            shapes["pooler.dense.weight"] = (H, H)
            shapes["pooler.dense.bias"] = (H,)
        shapes.update(cls._head_shapes(c))
        tensors: Dict[str, np.ndarray] = {}
        for k, shp in shapes.items():
            if "LayerNorm.weight" in k:
                tensors[k] = np.ones(shp, np.float32)
            elif k.endswith("bias"):
                tensors[k] = np.zeros(shp, np.float32)
            else:
                tensors[k] = (rng.standard_normal(shp) * std).astype(np.float32)
        if c.pad_token_id is not None and 0 <= c.pad_token_id < c.vocab_size:
            tensors["embeddings.word_embeddings.weight"][c.pad_token_id] = 0
        return tensors

    @classmethod
    def _build(cls, config: Any, state: Any) -> Any:
        if getattr(cls, "_prefix", "bert.") == "":
            return cls(config, state, add_pooling_layer=True)  # type: ignore[call-arg]
        return cls(config, state)  # type: ignore[call-arg]

    @classmethod
    def from_config(cls, config: Any, seed: Optional[int] = 0) -> Any:
        """A freshly initialized model (as transformers initializes BERT; ``seed`` seeds it)."""
        from subtok.bert.model import StateDict

        state = StateDict(cls._init_tensors(config, seed), source="from_config")
        model = cls._build(config, state)
        state.finish()
        return model

    @classmethod
    def from_pretrained_base(cls, path: PathLike, num_labels: Optional[int] = None,
                             id2label: Optional[Dict[int, str]] = None, seed: Optional[int] = 0) -> Any:
        """Load a checkpoint and initialize the weights it lacks (a new task head, a missing
        pooler), as transformers' ``from_pretrained`` does for a fine-tuning start. ``num_labels``
        / ``id2label`` set the head size; weights of other heads in the checkpoint are ignored."""
        from subtok.bert.config import BertConfig
        from subtok.bert.model import KNOWN_HEAD_PREFIXES, StateDict

        config = BertConfig.from_pretrained(path)
        if id2label is not None:
            config.id2label = {int(k): str(v) for k, v in id2label.items()}
            config.label2id = {v: k for k, v in config.id2label.items()}
            config.num_labels = len(config.id2label)
        elif num_labels is not None:
            if num_labels < 1:
                raise ValueError("num_labels must be >= 1")
            config.num_labels = int(num_labels)
            config.id2label = {i: f"LABEL_{i}" for i in range(int(num_labels))}
            config.label2id = {v: k for k, v in config.id2label.items()}
        state = StateDict.from_pretrained(path)
        fresh = cls._init_tensors(config, seed)
        head_keys = {k for k in cls._head_shapes(config)}
        for k, v in fresh.items():
            if not state.has(k) or (k in head_keys and state.tensors[k].shape != v.shape):
                state.tensors[k] = v  # a missing (or re-sized) head starts fresh
        model = cls._build(config, state)
        uses = tuple(getattr(cls, "_uses_prefixes", ()))
        ignore = tuple(p for p in KNOWN_HEAD_PREFIXES if p not in uses)
        if getattr(cls, "_pooler", None) is False:
            ignore += ("pooler.",)
        state.finish(ignore_prefixes=ignore)
        return model

    # ------------------------------------------------------------------ saving
    def save_pretrained(self, path: PathLike) -> None:
        """Write ``config.json`` and ``model.safetensors`` (float32) into the folder ``path``."""
        from subtok.bert.save import save_pretrained

        save_pretrained(self, path)

    # ------------------------------------------------------------------ backward plumbing
    def _tape(self, input_ids: Any, attention_mask: Any, token_type_ids: Any, position_ids: Any,
              params: Optional[Params], pooler: bool, packed_ok: Callable[[np.ndarray], bool]) -> Tuple[Params, bw.EncoderTape, np.ndarray]:
        bert = self._encoder()
        ids, mask, tt, pos = bert._check_inputs(input_ids, attention_mask, token_type_ids, position_ids)
        P = self.state_dict() if params is None else params
        pre = "" if bert is self else self._prefix
        dtype = P[pre + "embeddings.word_embeddings.weight"].dtype
        valid = mask.astype(bool)
        packed = (not valid.all()) and bool(valid[:, 0].all()) and packed_ok(valid)
        layout = bw.make_layout(mask, packed, dtype)
        tape = bw.encoder_forward(P, pre, bert.config, ids, tt, pos, layout, self._dropout(), pooler)
        return P, tape, mask

    @staticmethod
    def _start(grads: Optional[Params]) -> Params:
        return {} if grads is None else grads


def _finish(P: Params, tape: bw.EncoderTape, G: Params, d_last: Optional[np.ndarray], d_pooled: Optional[np.ndarray]) -> Params:
    bw.encoder_backward(P, tape, d_last, d_pooled, grads=G)
    for k, v in P.items():  # parameters the batch did not reach get zero gradients
        if k not in G:
            G[k] = np.zeros_like(v)
    return G


class TrainableEncoder(Trainable):
    """Training support for :class:`~subtok.bert.BertModel` (no prefix on its keys)."""

    _prefix = ""

    def forward_with_tape(self, input_ids: Any, attention_mask: Any = None, token_type_ids: Any = None,
                          position_ids: Any = None, params: Optional[Params] = None) -> bw.EncoderTape:
        """Training-mode forward (padded layout) recording a tape; ``tape.hidden`` holds every
        layer's rows, ``tape.layout.scatter`` turns rows into ``(B, T, H)``."""
        return self._tape(input_ids, attention_mask, token_type_ids, position_ids, params,
                          self.has_pooler, lambda v: False)[1]  # type: ignore[attr-defined]

    def forward_all_layers(self, input_ids: Any, attention_mask: Any = None, token_type_ids: Any = None,
                           position_ids: Any = None) -> Any:
        """``BaseModelOutputWithPooling`` with ``hidden_states`` (embeddings + every layer, (B, T, H)
        each), computed at every position as transformers does (dropout only in training mode)."""
        from subtok.bert.model import BaseModelOutputWithPooling

        tape = self.forward_with_tape(input_ids, attention_mask, token_type_ids, position_ids)
        hs = tuple(tape.layout.scatter(h) for h in tape.hidden)
        return BaseModelOutputWithPooling(last_hidden_state=hs[-1], pooler_output=tape.pooled, hidden_states=hs)

    def backward(self, tape: bw.EncoderTape, d_last_hidden_state: Optional[np.ndarray] = None,
                 d_pooler_output: Optional[np.ndarray] = None, params: Optional[Params] = None,
                 grads: Optional[Params] = None) -> Params:
        """Parameter gradients from gradients of ``last_hidden_state`` (B, T, H) / ``pooler_output``."""
        P = self.state_dict() if params is None else params
        d_last = None if d_last_hidden_state is None else tape.layout.gather(np.asarray(d_last_hidden_state))
        dp = None if d_pooler_output is None else np.asarray(d_pooler_output)
        return _finish(P, tape, self._start(grads), d_last, dp)


# ---------------------------------------------------------------------------------- heads
class _LinearHead:
    """Helpers for a ``name.{weight,bias}`` linear layer of a head."""

    @staticmethod
    def params(lin: Any, name: str) -> Params:
        return {name + ".weight": np.ascontiguousarray(lin.w.T), name + ".bias": np.array(lin.b)}

    @staticmethod
    def bind(lin: Any, P: Params, name: str) -> None:
        lin.w = P[name + ".weight"].T
        lin.b = P[name + ".bias"]


def _linear(P: Params, name: str, x: np.ndarray) -> np.ndarray:
    y = x @ P[name + ".weight"].T
    y += P[name + ".bias"]
    return y


def _scaled(d: np.ndarray, scale: float) -> np.ndarray:
    if scale != 1.0:
        d *= d.dtype.type(scale)
    return d


class TrainableSequenceClassification(Trainable):
    """``loss_and_grads`` for ``BertForSequenceClassification`` (cross-entropy; MSE when
    ``num_labels == 1``; BCE-with-logits for float multi-label targets), as transformers."""

    @staticmethod
    def _head_shapes(config: Any) -> Dict[str, Tuple[int, ...]]:
        n = config.labels_count()
        return {"classifier.weight": (n, config.hidden_size), "classifier.bias": (n,)}

    def _head_params(self) -> Params:
        return _LinearHead.params(self.classifier, "classifier")  # type: ignore[attr-defined]

    def _bind_head(self, P: Params) -> None:
        _LinearHead.bind(self.classifier, P, "classifier")  # type: ignore[attr-defined]

    def loss_and_grads(self, input_ids: Any, attention_mask: Any = None, token_type_ids: Any = None,
                       position_ids: Any = None, labels: Any = None, *, grads: Optional[Params] = None,
                       loss_scale: float = 1.0, params: Optional[Params] = None) -> Tuple[float, Params]:
        """Loss and gradients (added into ``grads`` when given; ``loss_scale`` scales the gradients)."""
        if labels is None:
            raise ValueError("labels are required")
        P, tape, mask = self._tape(input_ids, attention_mask, token_type_ids, position_ids, params, True, lambda v: True)
        B = mask.shape[0]
        drop = self._dropout()
        x = tape.pooled
        m = drop.mask(x.shape, drop.classifier, x.dtype)
        xd = x if m is None else x * m
        logits = _linear(P, "classifier", xd)
        C = logits.shape[1]
        lab = np.asarray(labels)
        if C == 1:
            y = lab.reshape(-1).astype(logits.dtype)
            if y.size != B:
                raise ValueError(f"labels has {y.size} values for a batch of {B}")
            diff = logits[:, 0] - y
            loss = float(np.mean(diff.astype(np.float64) ** 2))
            dlog = (2.0 * diff / logits.dtype.type(B))[:, None]
        elif np.issubdtype(lab.dtype, np.floating):
            y = lab.reshape(B, C).astype(logits.dtype)
            z = logits
            loss = float(np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))))
            dlog = (1.0 / (1.0 + np.exp(-z)) - y) / z.dtype.type(z.size)
        else:
            loss, dlog, _ = bw.cross_entropy_grad(logits, _labels(lab, "labels", (B,)))
        G = self._start(grads)
        dlog = _scaled(dlog, loss_scale)
        dx = bw.linear_backward(xd, P["classifier.weight"], dlog, G, "classifier")
        if m is not None:
            dx *= m
        return loss, _finish(P, tape, G, None, dx)


class TrainableTokenClassification(Trainable):
    """``loss_and_grads`` for ``BertForTokenClassification`` (labels (B, T), -100 = ignored)."""

    @staticmethod
    def _head_shapes(config: Any) -> Dict[str, Tuple[int, ...]]:
        n = config.labels_count()
        return {"classifier.weight": (n, config.hidden_size), "classifier.bias": (n,)}

    def _head_params(self) -> Params:
        return _LinearHead.params(self.classifier, "classifier")  # type: ignore[attr-defined]

    def _bind_head(self, P: Params) -> None:
        _LinearHead.bind(self.classifier, P, "classifier")  # type: ignore[attr-defined]

    def loss_and_grads(self, input_ids: Any, attention_mask: Any = None, token_type_ids: Any = None,
                       position_ids: Any = None, labels: Any = None, *, grads: Optional[Params] = None,
                       loss_scale: float = 1.0, params: Optional[Params] = None) -> Tuple[float, Params]:
        """Loss and gradients (added into ``grads`` when given; ``loss_scale`` scales the gradients)."""
        if labels is None:
            raise ValueError("labels are required")
        shape = np.asarray(input_ids).shape if np.asarray(input_ids).ndim == 2 else (1, np.asarray(input_ids).size)
        lab = _labels(labels, "labels", shape)
        P, tape, mask = self._tape(input_ids, attention_mask, token_type_ids, position_ids, params, False,
                                   lambda v: bool((lab[~v] == -100).all()))
        drop = self._dropout()
        x = tape.last
        m = drop.mask(x.shape, drop.classifier, x.dtype)
        xd = x if m is None else x * m
        logits = _linear(P, "classifier", xd)
        rl = tape.layout.gather(lab[..., None])[:, 0]
        loss, dlog, _ = bw.cross_entropy_grad(logits, rl)
        G = self._start(grads)
        dx = bw.linear_backward(xd, P["classifier.weight"], _scaled(dlog, loss_scale), G, "classifier")
        if m is not None:
            dx *= m
        return loss, _finish(P, tape, G, dx, None)


class TrainableQuestionAnswering(Trainable):
    """``loss_and_grads`` for ``BertForQuestionAnswering``: mean of the start and end
    cross-entropies over all T positions; positions outside ``[0, T)`` are ignored, as transformers."""

    @staticmethod
    def _head_shapes(config: Any) -> Dict[str, Tuple[int, ...]]:
        return {"qa_outputs.weight": (2, config.hidden_size), "qa_outputs.bias": (2,)}

    def _head_params(self) -> Params:
        return _LinearHead.params(self.qa_outputs, "qa_outputs")  # type: ignore[attr-defined]

    def _bind_head(self, P: Params) -> None:
        _LinearHead.bind(self.qa_outputs, P, "qa_outputs")  # type: ignore[attr-defined]

    def loss_and_grads(self, input_ids: Any, attention_mask: Any = None, token_type_ids: Any = None,
                       position_ids: Any = None, start_positions: Any = None, end_positions: Any = None, *,
                       grads: Optional[Params] = None, loss_scale: float = 1.0,
                       params: Optional[Params] = None) -> Tuple[float, Params]:
        """Loss and gradients (added into ``grads`` when given; ``loss_scale`` scales the gradients)."""
        if start_positions is None or end_positions is None:
            raise ValueError("start_positions and end_positions are required")
        P, tape, mask = self._tape(input_ids, attention_mask, token_type_ids, position_ids, params, False, lambda v: False)
        B, T = mask.shape
        logits = _linear(P, "qa_outputs", tape.last)  # rows = every position (padded layout)
        lg = logits.reshape(B, T, 2)
        total = 0.0
        dl = np.zeros_like(lg)
        for j, pos in enumerate((start_positions, end_positions)):
            sp = np.clip(_labels(pos, "start_positions" if j == 0 else "end_positions", (B,)), 0, T)
            loss, d, _ = bw.cross_entropy_grad(np.ascontiguousarray(lg[:, :, j]), sp, ignore_index=T)
            total += loss / 2.0
            dl[:, :, j] = d * d.dtype.type(0.5)
        G = self._start(grads)
        dx = bw.linear_backward(tape.last, P["qa_outputs.weight"], _scaled(dl.reshape(B * T, 2), loss_scale), G, "qa_outputs")
        return total, _finish(P, tape, G, dx, None)


class _TrainableLM(Trainable):
    """The MLM prediction head (``cls.predictions``), decoder tied to the word embeddings."""

    @staticmethod
    def _head_shapes(config: Any) -> Dict[str, Tuple[int, ...]]:
        H = config.hidden_size
        return {"cls.predictions.transform.dense.weight": (H, H), "cls.predictions.transform.dense.bias": (H,),
                "cls.predictions.transform.LayerNorm.weight": (H,), "cls.predictions.transform.LayerNorm.bias": (H,),
                "cls.predictions.bias": (config.vocab_size,)}

    def _head_params(self) -> Params:
        pr = self.predictions  # type: ignore[attr-defined]
        P = _LinearHead.params(pr.dense, "cls.predictions.transform.dense")
        P["cls.predictions.transform.LayerNorm.weight"] = np.array(pr.ln_g)
        P["cls.predictions.transform.LayerNorm.bias"] = np.array(pr.ln_b)
        P["cls.predictions.bias"] = np.array(pr.bias)
        if pr.decoder_w is not self.bert.word_embeddings:  # type: ignore[attr-defined]
            P["cls.predictions.decoder.weight"] = np.array(pr.decoder_w)
        return P

    def _bind_head(self, P: Params) -> None:
        pr = self.predictions  # type: ignore[attr-defined]
        _LinearHead.bind(pr.dense, P, "cls.predictions.transform.dense")
        pr.ln_g = P["cls.predictions.transform.LayerNorm.weight"]
        pr.ln_b = P["cls.predictions.transform.LayerNorm.bias"]
        pr.bias = P["cls.predictions.bias"]
        pr.decoder_w = P.get("cls.predictions.decoder.weight", P[self._prefix + "embeddings.word_embeddings.weight"])

    def _mlm(self, P: Params, tape: bw.EncoderTape, labels: np.ndarray, G: Params, scale: float) -> Tuple[float, Optional[np.ndarray]]:
        rl = tape.layout.gather(labels[..., None])[:, 0]
        sel = np.flatnonzero(rl != -100)
        if sel.size == 0:
            return float("nan"), None
        c = self.config  # type: ignore[attr-defined]
        dec_key = "cls.predictions.decoder.weight"
        if dec_key not in P:
            dec_key = self._prefix + "embeddings.word_embeddings.weight"
        s = tape.last[sel]
        t = _linear(P, "cls.predictions.transform.dense", s)
        a = bw.act_forward(t, c.hidden_act)
        y, ln = bw.layernorm_forward(a, P["cls.predictions.transform.LayerNorm.weight"],
                                     P["cls.predictions.transform.LayerNorm.bias"], c.layer_norm_eps)
        logits = y @ P[dec_key].T
        logits += P["cls.predictions.bias"]
        loss, dlog, _ = bw.cross_entropy_grad(logits, rl[sel])
        dlog = _scaled(dlog, scale)
        bw._add(G, dec_key, dlog.T @ y)
        bw._add(G, "cls.predictions.bias", dlog.sum(axis=0))
        dy = dlog @ P[dec_key]
        da, dg, db = bw.layernorm_backward(dy, P["cls.predictions.transform.LayerNorm.weight"], ln)
        bw._add(G, "cls.predictions.transform.LayerNorm.weight", dg)
        bw._add(G, "cls.predictions.transform.LayerNorm.bias", db)
        dt = bw.act_backward(t, da, c.hidden_act)
        ds = bw.linear_backward(s, P["cls.predictions.transform.dense.weight"], dt, G, "cls.predictions.transform.dense")
        d_last = np.zeros_like(tape.last)
        d_last[sel] = ds
        return loss, d_last


class TrainableMaskedLM(_TrainableLM):
    """``loss_and_grads`` for ``BertForMaskedLM`` (labels (B, T), -100 where not predicted)."""

    def loss_and_grads(self, input_ids: Any, attention_mask: Any = None, token_type_ids: Any = None,
                       position_ids: Any = None, labels: Any = None, *, grads: Optional[Params] = None,
                       loss_scale: float = 1.0, params: Optional[Params] = None) -> Tuple[float, Params]:
        """Loss and gradients (added into ``grads`` when given; ``loss_scale`` scales the gradients)."""
        if labels is None:
            raise ValueError("labels are required")
        ids = np.asarray(input_ids)
        lab = _labels(labels, "labels", ids.shape if ids.ndim == 2 else (1, ids.size))
        P, tape, _ = self._tape(input_ids, attention_mask, token_type_ids, position_ids, params, False,
                                lambda v: bool((lab[~v] == -100).all()))
        G = self._start(grads)
        loss, d_last = self._mlm(P, tape, lab, G, loss_scale)
        return loss, _finish(P, tape, G, d_last, None)


class TrainablePreTraining(_TrainableLM):
    """``loss_and_grads`` for ``BertForPreTraining``: MLM loss + NSP loss (either may be omitted)."""

    @staticmethod
    def _head_shapes(config: Any) -> Dict[str, Tuple[int, ...]]:
        d = _TrainableLM._head_shapes(config)
        d.update({"cls.seq_relationship.weight": (2, config.hidden_size), "cls.seq_relationship.bias": (2,)})
        return d

    def _head_params(self) -> Params:
        P = super()._head_params()
        P.update(_LinearHead.params(self.seq_relationship, "cls.seq_relationship"))  # type: ignore[attr-defined]
        return P

    def _bind_head(self, P: Params) -> None:
        super()._bind_head(P)
        _LinearHead.bind(self.seq_relationship, P, "cls.seq_relationship")  # type: ignore[attr-defined]

    def loss_and_grads(self, input_ids: Any, attention_mask: Any = None, token_type_ids: Any = None,
                       position_ids: Any = None, labels: Any = None, next_sentence_label: Any = None, *,
                       grads: Optional[Params] = None, loss_scale: float = 1.0,
                       params: Optional[Params] = None) -> Tuple[float, Params]:
        """``(mlm_loss + nsp_loss, grads)``; gradients added into ``grads`` when given."""
        if labels is None and next_sentence_label is None:
            raise ValueError("labels and/or next_sentence_label are required")
        ids = np.asarray(input_ids)
        shape = ids.shape if ids.ndim == 2 else (1, ids.size)
        lab = None if labels is None else _labels(labels, "labels", shape)
        P, tape, mask = self._tape(input_ids, attention_mask, token_type_ids, position_ids, params, True,
                                   lambda v: lab is None or bool((lab[~v] == -100).all()))
        G = self._start(grads)
        total = 0.0
        d_last = None
        if lab is not None:
            loss, d_last = self._mlm(P, tape, lab, G, loss_scale)
            total += loss
        d_pooled = None
        if next_sentence_label is not None:
            nsl = _labels(next_sentence_label, "next_sentence_label", (mask.shape[0],))
            logits = _linear(P, "cls.seq_relationship", tape.pooled)
            loss, dlog, _ = bw.cross_entropy_grad(logits, nsl)
            total += loss
            d_pooled = bw.linear_backward(tape.pooled, P["cls.seq_relationship.weight"], _scaled(dlog, loss_scale), G,
                                          "cls.seq_relationship")
        return total, _finish(P, tape, G, d_last, d_pooled)
