"""subtok: exact, fast subword tokenizers with a Rust core.

* :class:`Tokenizer` - BERT WordPiece and byte-level BPE, loaded from HF ``tokenizer.json``,
  ``vocab.txt`` or ``.tiktoken`` files, with output identical to HF tokenizers / tiktoken.
* :class:`BertModel` and the task heads (``BertFor...``) - a PyTorch-free BERT in NumPy that loads
  Hugging Face checkpoints; :class:`SentenceEncoder` - sentence embeddings (all-MiniLM-L6-v2).
"""
from __future__ import annotations

from subtok._core import Encoding, TokenizerFileError, __version__

# Exceptions cross process boundaries (Dask, multiprocessing) pickled by reference: name a
# module that pickle can import (the extension registers it as plain "_core").
TokenizerFileError.__module__ = "subtok._core"
from subtok.corpus import TokenDataset
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
from subtok.tokenizer import Tokenizer
from subtok.training import export_vocab_files, train
from subtok.wordcounts import WordCounts, count_words

__all__ = [
    "BertConfig",
    "BertForMaskedLM",
    "BertForPreTraining",
    "BertForQuestionAnswering",
    "BertForSequenceClassification",
    "BertForTokenClassification",
    "BertModel",
    "Encoding",
    "SentenceEncoder",
    "TokenDataset",
    "Tokenizer",
    "TokenizerFileError",
    "WordCounts",
    "__version__",
    "count_words",
    "export_vocab_files",
    "train",
]
