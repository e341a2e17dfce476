"""A small PyTorch-free BERT in NumPy: load Hugging Face checkpoints and run the encoder and heads."""
from __future__ import annotations

from subtok.bert.config import BertConfig
from subtok.bert.heads import (
    BertForMaskedLM,
    BertForPreTraining,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
)
from subtok.bert.model import BaseModelOutputWithPooling, BertModel
from subtok.bert.scalar_mix import ScalarMix
from subtok.bert.weights import UnsafeCheckpointError, load_pytorch_bin, load_safetensors, load_state_dict

__all__ = [
    "BaseModelOutputWithPooling",
    "BertConfig",
    "BertForMaskedLM",
    "BertForPreTraining",
    "BertForQuestionAnswering",
    "BertForSequenceClassification",
    "BertForTokenClassification",
    "BertModel",
    "ScalarMix",
    "UnsafeCheckpointError",
    "load_pytorch_bin",
    "load_safetensors",
    "load_state_dict",
]
