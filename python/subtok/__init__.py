"""subtok: exact, fast subword tokenizers with a Rust core.

* :class:`Tokenizer` - BERT WordPiece and byte-level BPE, loaded from HF ``tokenizer.json``,
  ``vocab.txt`` or ``.tiktoken`` files, with output identical to HF tokenizers / tiktoken.
* :class:`BertModel` and the task heads (``BertFor...``) - a PyTorch-free BERT in NumPy that loads
  Hugging Face checkpoints; :class:`SentenceEncoder` - sentence embeddings (all-MiniLM-L6-v2).
"""
from __future__ import annotations

from subtok._core import TokenizerFileError, __version__
from subtok.bert import (
    BertConfig,
    BertForMaskedLM,
    BertForPreTraining,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
)
from subtok.embeddings import SentenceEncoder

__all__ = [
    "BertConfig",
    "BertForMaskedLM",
    "BertForPreTraining",
    "BertForQuestionAnswering",
    "BertForSequenceClassification",
    "BertForTokenClassification",
    "BertModel",
    "SentenceEncoder",
    "TokenizerFileError",
    "__version__",
]
