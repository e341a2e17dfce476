"""``BertConfig``: the subset of a Hugging Face ``config.json`` the NumPy encoder needs.

Unknown keys are kept in :attr:`BertConfig.extra`; settings the encoder cannot honour (another
``model_type``, a non-absolute position embedding, a decoder, an unknown activation) raise
``ValueError`` naming the offending value instead of silently computing something else.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Union

from subtok.bert import architectures as _arch

PathLike = Union[str, "os.PathLike[str]"]

#: Activations the encoder implements (``hidden_act`` values as transformers spells them).
SUPPORTED_ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "relu")

#: ``architectures`` entries this package can load (the class of the checkpoint's head).
SUPPORTED_ARCHITECTURES = (
    "BertModel",
    "BertForPreTraining",
    "BertForMaskedLM",
    "BertForSequenceClassification",
    "BertForTokenClassification",
    "BertForQuestionAnswering",
    "BertForNextSentencePrediction",
    "BertForMultipleChoice",
)

_INT_FIELDS = (
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "max_position_embeddings",
    "type_vocab_size",
)


@dataclass
class BertConfig:
    """Hyper-parameters of a BERT encoder (defaults are bert-base-uncased's)."""

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    position_embedding_type: str = "absolute"
    architectures: Optional[List[str]] = None
    id2label: Dict[int, str] = field(default_factory=dict)
    label2id: Dict[str, int] = field(default_factory=dict)
    num_labels: Optional[int] = None
    model_type: str = "bert"
    extra: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "BertConfig":
        """Build from the parsed JSON of a ``config.json`` (unknown keys go to ``extra``)."""
        if not isinstance(d, dict):
            raise TypeError(f"config must be a JSON object, got {type(d).__name__}")
        d = _arch.bert_config_dict(d)
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        kwargs: Dict[str, Any] = {}
        extra: Dict[str, Any] = {}
        for k, v in d.items():
            (kwargs if k in known else extra)[k] = v
        if "id2label" in kwargs and kwargs["id2label"] is not None:
            try:
                kwargs["id2label"] = {int(k): str(v) for k, v in kwargs["id2label"].items()}
            except (AttributeError, ValueError) as e:
                raise ValueError(f"config id2label must map integer ids to names: {e}") from None
        if "label2id" in kwargs and kwargs["label2id"] is not None:
            kwargs["label2id"] = {str(k): int(v) for k, v in kwargs["label2id"].items()}
        for k in ("id2label", "label2id"):
            if kwargs.get(k) is None:
                kwargs.pop(k, None)
        return cls(**kwargs, extra=extra)

    @classmethod
    def from_json_file(cls, path: PathLike) -> "BertConfig":
        """Read a ``config.json`` (``FileNotFoundError`` if missing, ``ValueError`` if malformed)."""
        path = os.fspath(path)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not valid JSON: {e}") from None
        try:
            return cls.from_dict(d)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{path}: {e}") from None

    @classmethod
    def from_pretrained(cls, path: PathLike) -> "BertConfig":
        """Read ``<folder>/config.json`` (or the file itself when ``path`` is a file)."""
        path = os.fspath(path)
        if os.path.isdir(path):
            path = os.path.join(path, "config.json")
        return cls.from_json_file(path)

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        """Raise ``ValueError`` naming any setting the NumPy encoder does not support."""
        for name in _INT_FIELDS:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ValueError(f"config {name} must be a positive integer, got {v!r}")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"config hidden_size ({self.hidden_size}) is not a multiple of "
                f"num_attention_heads ({self.num_attention_heads})"
            )
        if self.hidden_act not in SUPPORTED_ACTIVATIONS:
            raise ValueError(
                f"unsupported hidden_act {self.hidden_act!r}; supported: {', '.join(SUPPORTED_ACTIVATIONS)}"
            )
        _arch.family(self.model_type)  # ValueError for an unsupported model_type
        if self.position_embedding_type not in ("absolute", None):
            raise ValueError(
                f"unsupported position_embedding_type {self.position_embedding_type!r}; only 'absolute'"
            )
        for arch in self.architectures or []:
            if arch not in SUPPORTED_ARCHITECTURES and not (
                self.family != "bert" and arch.startswith(_arch.ARCHITECTURE_PREFIXES)
            ):
                raise ValueError(
                    f"unsupported architecture {arch!r}; supported: {', '.join(SUPPORTED_ARCHITECTURES)}"
                )
        if self.extra.get("is_decoder") or self.extra.get("add_cross_attention"):
            raise ValueError("unsupported configuration: decoder / cross-attention BERT")
        eps = self.layer_norm_eps
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps > 0:
            raise ValueError(f"config layer_norm_eps must be a positive number, got {eps!r}")

    # ------------------------------------------------------------------ helpers
    @property
    def family(self) -> str:
        """Layout family of the checkpoint: ``bert``, ``roberta`` or ``distilbert``."""
        return _arch.family(self.model_type)

    @property
    def max_input_length(self) -> int:
        """Longest input the position embeddings allow (RoBERTa's start after ``pad_token_id``)."""
        if self.family == "roberta":
            return self.max_position_embeddings - int(self.pad_token_id or 0) - 1
        return self.max_position_embeddings

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def labels_count(self, default: int = 2) -> int:
        """Number of classifier outputs: ``num_labels``, else ``len(id2label)``, else ``default``."""
        if self.num_labels:
            return int(self.num_labels)
        if self.id2label:
            return len(self.id2label)
        return default

    def label_name(self, i: int) -> str:
        """``id2label[i]``, or ``LABEL_i`` as transformers names unlabeled classes."""
        return self.id2label.get(int(i), f"LABEL_{int(i)}")
