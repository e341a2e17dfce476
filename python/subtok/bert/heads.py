"""Task heads over :class:`BertModel`, with transformers' class names and checkpoint keys.

================================  ==============================================class                             checkpoint keys (besides ``bert.*``)
================================  ==============================================BertForSequenceClassification     ``classifier.{weight,bias}`` on the pooled ``[CLS]``
BertForTokenClassification        ``classifier.{weight,bias}`` on every token (no pooler)
BertForQuestionAnswering          ``qa_outputs.{weight,bias}`` -> start/end logits (no pooler)
BertForMaskedLM                   ``cls.predictions.*``; decoder tied to word embeddings
BertForPreTraining                ``cls.predictions.*`` + ``cls.seq_relationship.*`` (NSP)
================================  ==============================================
Weights of the other standard heads in a checkpoint are ignored (so a pretraining checkpoint
loads into any head class that needs no new weights); any other unknown or missing weight raises
``ValueError`` listing the names.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Optional, Tuple, Union

import numpy as np

from subtok.bert import ops
from subtok.bert.config import BertConfig
from subtok.bert.model import KNOWN_HEAD_PREFIXES, ArrayLike, BertModel, StateDict, _as_int_array
from subtok.hub import resolve_model
from subtok.bert.trainable import (
    TrainableMaskedLM,
    TrainablePreTraining,
    TrainableQuestionAnswering,
    TrainableSequenceClassification,
    TrainableTokenClassification,
)

PathLike = Union[str, "os.PathLike[str]"]

IGNORE_INDEX = -100


def cross_entropy(logits: np.ndarray, labels: np.ndarray, ignore_index: int = IGNORE_INDEX) -> float:
    """Mean cross-entropy over positions whose label is not ``ignore_index`` (like torch's default).

    ``logits`` (..., C), ``labels`` (...). Returns NaN when every label is ignored, as torch does.
    """
    logits = np.asarray(logits, dtype=np.float32)
    labels = np.asarray(labels)
    if labels.shape != logits.shape[:-1]:
        raise ValueError(f"labels shape {labels.shape} does not match logits shape {logits.shape[:-1]}")
    flat_logits = logits.reshape(-1, logits.shape[-1])
    flat_labels = labels.reshape(-1).astype(np.int64)
    keep = flat_labels != ignore_index
    if not keep.any():
        return float("nan")
    sel = flat_labels[keep]
    C = logits.shape[-1]
    if sel.min() < 0 or sel.max() >= C:
        raise ValueError(f"labels must be in [0, {C}) or {ignore_index}")
    lp = ops.log_softmax(flat_logits[keep], axis=-1)
    nll = -lp[np.arange(sel.size), sel].astype(np.float64)
    return float(nll.mean())


class _Linear:
    """``y = x @ W.T + b`` with W stored pre-transposed."""

    def __init__(self, state: StateDict, prefix: str, out_dim: int, in_dim: int) -> None:
        self.w = np.ascontiguousarray(state.take(prefix + ".weight", (out_dim, in_dim)).T)
        self.b = np.array(state.take(prefix + ".bias", (out_dim,)))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        y = x @ self.w
        y += self.b
        return y


class _HeadModel:
    """Shared loading for the head classes."""

    #: head prefixes this class consumes (the rest of KNOWN_HEAD_PREFIXES are ignored)
    _uses_prefixes: tuple = ()
    _pooler: Optional[bool] = None

    config: BertConfig
    bert: BertModel

    def __init__(self, config: BertConfig, state: StateDict) -> None:
        if config.family != "bert":
            raise ValueError(
                f"{type(self).__name__} loads BERT checkpoints; model_type {config.model_type!r} loads "
                "through BertModel / SentenceEncoder only"
            )
        self.config = config
        self.bert = BertModel(config, state, add_pooling_layer=self._pooler)
        self._init_head(config, state)

    def _init_head(self, config: BertConfig, state: StateDict) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def from_pretrained(cls, path: PathLike, quantize: Optional[str] = None) -> Any:
        """Load from a folder with ``config.json`` + ``model.safetensors`` or ``pytorch_model.bin``.

        ``quantize="int8"`` or ``"bf16"`` quantizes the encoder's dense layers (see
        :meth:`BertModel.quantize`).
        """
        path = resolve_model(path)
        config = BertConfig.from_pretrained(path)
        state = StateDict.from_pretrained(path)
        model = cls(config, state)
        ignore = tuple(p for p in KNOWN_HEAD_PREFIXES if p not in cls._uses_prefixes)
        if cls._pooler is False:
            ignore += ("pooler.",)
        state.finish(ignore_prefixes=ignore)
        if quantize is not None:
            model.bert.quantize(quantize)
        return model

    def __repr__(self) -> str:
        c = self.config
        labels = f", labels={self.num_labels}" if hasattr(self, "num_labels") else ""
        return (f"{type(self).__name__}(layers={c.num_hidden_layers}, hidden={c.hidden_size}, "
                f"heads={c.num_attention_heads}, vocab={c.vocab_size}{labels})")

    def _encode(self, input_ids: ArrayLike, attention_mask: Any, token_type_ids: Any, position_ids: Any,
                output_hidden_states: bool = False) -> Any:
        return self.bert(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, position_ids=position_ids,
                         output_hidden_states=output_hidden_states)

    @property
    def id2label(self) -> dict:
        """``{class index: label name}`` from the config (empty for heads without labels)."""
        return {i: self.config.label_name(i) for i in range(self.num_labels)} if hasattr(self, "num_labels") else {}


# ---------------------------------------------------------------------------------- outputs
@dataclass
class SequenceClassifierOutput:
    logits: np.ndarray
    pooler_output: Optional[np.ndarray] = None
    last_hidden_state: Optional[np.ndarray] = None
    hidden_states: Optional[Tuple[np.ndarray, ...]] = None


@dataclass
class TokenClassifierOutput:
    logits: np.ndarray
    last_hidden_state: Optional[np.ndarray] = None
    hidden_states: Optional[Tuple[np.ndarray, ...]] = None


@dataclass
class QuestionAnsweringModelOutput:
    start_logits: np.ndarray
    end_logits: np.ndarray
    last_hidden_state: Optional[np.ndarray] = None
    hidden_states: Optional[Tuple[np.ndarray, ...]] = None


@dataclass
class MaskedLMOutput:
    logits: np.ndarray
    loss: Optional[float] = None
    last_hidden_state: Optional[np.ndarray] = None
    hidden_states: Optional[Tuple[np.ndarray, ...]] = None


@dataclass
class BertForPreTrainingOutput:
    prediction_logits: np.ndarray
    seq_relationship_logits: np.ndarray
    loss: Optional[float] = None
    mlm_loss: Optional[float] = None
    nsp_loss: Optional[float] = None
    last_hidden_state: Optional[np.ndarray] = None
    hidden_states: Optional[Tuple[np.ndarray, ...]] = None


# ---------------------------------------------------------------------------------- heads
class BertForSequenceClassification(TrainableSequenceClassification, _HeadModel):
    """``[CLS]`` classification: ``logits = classifier(pooler_output)``, (B, num_labels)."""

    _uses_prefixes = ("classifier.",)
    _pooler = True

    def _init_head(self, config: BertConfig, state: StateDict) -> None:
        self.num_labels = config.labels_count()
        self.classifier = _Linear(state, "classifier", self.num_labels, config.hidden_size)

    def __call__(self, input_ids: ArrayLike, attention_mask: Any = None, token_type_ids: Any = None,
                 position_ids: Any = None, output_hidden_states: bool = False) -> SequenceClassifierOutput:
        out = self._encode(input_ids, attention_mask, token_type_ids, position_ids, output_hidden_states)
        return SequenceClassifierOutput(self.classifier(out.pooler_output), out.pooler_output, out.last_hidden_state,
                                        out.hidden_states)


class BertForTokenClassification(TrainableTokenClassification, _HeadModel):
    """Per-token classification: ``logits = classifier(last_hidden_state)``, (B, T, num_labels)."""

    _uses_prefixes = ("classifier.",)
    _pooler = False

    def _init_head(self, config: BertConfig, state: StateDict) -> None:
        self.num_labels = config.labels_count()
        self.classifier = _Linear(state, "classifier", self.num_labels, config.hidden_size)

    def __call__(self, input_ids: ArrayLike, attention_mask: Any = None, token_type_ids: Any = None,
                 position_ids: Any = None, output_hidden_states: bool = False) -> TokenClassifierOutput:
        out = self._encode(input_ids, attention_mask, token_type_ids, position_ids, output_hidden_states)
        return TokenClassifierOutput(self.classifier(out.last_hidden_state), out.last_hidden_state, out.hidden_states)


class BertForQuestionAnswering(TrainableQuestionAnswering, _HeadModel):
    """Extractive QA: ``qa_outputs`` maps each token to (start, end) logits, each (B, T)."""

    _uses_prefixes = ("qa_outputs.",)
    _pooler = False

    def _init_head(self, config: BertConfig, state: StateDict) -> None:
        self.qa_outputs = _Linear(state, "qa_outputs", 2, config.hidden_size)

    def __call__(self, input_ids: ArrayLike, attention_mask: Any = None, token_type_ids: Any = None,
                 position_ids: Any = None, output_hidden_states: bool = False) -> QuestionAnsweringModelOutput:
        out = self._encode(input_ids, attention_mask, token_type_ids, position_ids, output_hidden_states)
        logits = self.qa_outputs(out.last_hidden_state)
        return QuestionAnsweringModelOutput(
            np.ascontiguousarray(logits[..., 0]), np.ascontiguousarray(logits[..., 1]), out.last_hidden_state,
            out.hidden_states,
        )


class _LMPredictionHead:
    """``cls.predictions``: dense + activation + LayerNorm, then the decoder tied to the word embeddings."""

    def __init__(self, config: BertConfig, state: StateDict, bert: BertModel) -> None:
        H, V = config.hidden_size, config.vocab_size
        self.act = config.hidden_act
        self.eps = config.layer_norm_eps
        self.dense = _Linear(state, "cls.predictions.transform.dense", H, H)
        self.ln_g = np.array(state.take("cls.predictions.transform.LayerNorm.weight", (H,)))
        self.ln_b = np.array(state.take("cls.predictions.transform.LayerNorm.bias", (H,)))
        if state.has("cls.predictions.decoder.weight"):  # an untied checkpoint stores its own decoder
            self.decoder_w = state.take("cls.predictions.decoder.weight", (V, H))
        else:
            self.decoder_w = bert.word_embeddings  # tied, as in HF checkpoints
        if state.has("cls.predictions.bias"):
            self.bias = np.array(state.take("cls.predictions.bias", (V,)))
            if state.has("cls.predictions.decoder.bias"):
                state.take("cls.predictions.decoder.bias", (V,))  # the same tensor saved twice
        else:
            self.bias = np.array(state.take("cls.predictions.decoder.bias", (V,)))

    def __call__(self, seq: np.ndarray) -> np.ndarray:
        shape = seq.shape
        h = self.dense(seq.reshape(-1, shape[-1]))
        ops.gelu_(h, self.act)
        ops.add_layernorm_(h, None, None, self.ln_g, self.ln_b, self.eps)
        logits = h @ self.decoder_w.T
        logits += self.bias
        return logits.reshape(*shape[:-1], -1)


class BertForMaskedLM(TrainableMaskedLM, _HeadModel):
    """Masked-LM head: ``logits`` (B, T, vocab); ``loss`` when ``labels`` (-100 = ignored) are given."""

    _uses_prefixes = ("cls.predictions.",)
    _pooler = False

    def _init_head(self, config: BertConfig, state: StateDict) -> None:
        self.predictions = _LMPredictionHead(config, state, self.bert)

    @classmethod
    def from_pretrained(cls, path: PathLike, quantize: Optional[str] = None) -> "BertForMaskedLM":
        """Load an MLM (or pretraining) checkpoint; ``quantize`` as :meth:`BertModel.quantize`."""
        path = resolve_model(path)
        config = BertConfig.from_pretrained(path)
        state = StateDict.from_pretrained(path)
        model = cls(config, state)
        # A pretraining checkpoint also holds the NSP head and the pooler: not used by MLM.
        state.finish(ignore_prefixes=("cls.seq_relationship.", "classifier.", "qa_outputs.", "pooler."))
        if quantize is not None:
            model.bert.quantize(quantize)
        return model

    def __call__(self, input_ids: ArrayLike, attention_mask: Any = None, token_type_ids: Any = None,
                 position_ids: Any = None, labels: Optional[ArrayLike] = None,
                 output_hidden_states: bool = False) -> MaskedLMOutput:
        out = self._encode(input_ids, attention_mask, token_type_ids, position_ids, output_hidden_states)
        logits = self.predictions(out.last_hidden_state)
        loss = None
        if labels is not None:
            loss = cross_entropy(logits, _as_int_array(labels, "labels").reshape(logits.shape[:-1]))
        return MaskedLMOutput(logits, loss, out.last_hidden_state, out.hidden_states)


class BertForPreTraining(TrainablePreTraining, _HeadModel):
    """MLM + NSP heads: ``prediction_logits`` (B, T, vocab), ``seq_relationship_logits`` (B, 2).

    With ``labels`` (B, T; -100 where not predicted) and/or ``next_sentence_label`` (B,), the mean
    cross-entropy losses are returned as ``mlm_loss``/``nsp_loss`` and their sum as ``loss``
    (transformers' ``total_loss``).
    """

    _uses_prefixes = ("cls.",)
    _pooler = True

    def _init_head(self, config: BertConfig, state: StateDict) -> None:
        self.predictions = _LMPredictionHead(config, state, self.bert)
        self.seq_relationship = _Linear(state, "cls.seq_relationship", 2, config.hidden_size)

    def __call__(self, input_ids: ArrayLike, attention_mask: Any = None, token_type_ids: Any = None,
                 position_ids: Any = None, labels: Optional[ArrayLike] = None,
                 next_sentence_label: Optional[ArrayLike] = None,
                 output_hidden_states: bool = False) -> BertForPreTrainingOutput:
        out = self._encode(input_ids, attention_mask, token_type_ids, position_ids, output_hidden_states)
        pred = self.predictions(out.last_hidden_state)
        nsp = self.seq_relationship(out.pooler_output)
        mlm_loss = nsp_loss = loss = None
        if labels is not None:
            lab = np.asarray(labels)
            if lab.shape != pred.shape[:-1]:
                raise ValueError(f"labels shape {lab.shape} must equal input_ids shape {pred.shape[:-1]}")
            mlm_loss = cross_entropy(pred, lab)
        if next_sentence_label is not None:
            nsl = np.asarray(next_sentence_label).reshape(-1)
            if nsl.shape[0] != nsp.shape[0]:
                raise ValueError(f"next_sentence_label has {nsl.shape[0]} entries for a batch of {nsp.shape[0]}")
            nsp_loss = cross_entropy(nsp, nsl)
        if mlm_loss is not None or nsp_loss is not None:
            loss = (mlm_loss or 0.0) + (nsp_loss or 0.0)
        return BertForPreTrainingOutput(pred, nsp, loss, mlm_loss, nsp_loss, out.last_hidden_state, out.hidden_states)
