"""subtok: exact, fast subword tokenizers with a Rust core.

* :class:`Tokenizer` - BERT WordPiece and byte-level BPE, loaded from HF ``tokenizer.json``,
  ``vocab.txt`` or ``.tiktoken`` files, with output identical to HF tokenizers / tiktoken.
* :class:`BertModel` and the task heads (``BertFor...``) - a PyTorch-free BERT in NumPy that loads
  Hugging Face checkpoints; :class:`SentenceEncoder` - sentence embeddings (all-MiniLM-L6-v2).
* :func:`get_encoding` / :func:`encoding_for_model` - tiktoken's entry points, from local files.
"""
from __future__ import annotations

from subtok._core import Encoding, TokenizerFileError, __version__
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
from subtok.tiktoken_compat import (
    TiktokenEncoding,
    encoding_for_model,
    encoding_name_for_model,
    find_tiktoken_file,
    get_encoding,
    list_encoding_names,
)
from subtok.tokenizer import AddedToken, Tokenizer, UnknownTokenError
from subtok.training import export_vocab_files, train

__all__ = [
    "AddedToken",
    "BertConfig",
    "BertForMaskedLM",
    "BertForPreTraining",
    "BertForQuestionAnswering",
    "BertForSequenceClassification",
    "BertForTokenClassification",
    "BertModel",
    "Encoding",
    "SentenceEncoder",
    "TiktokenEncoding",
    "Tokenizer",
    "TokenizerFileError",
    "UnknownTokenError",
    "__version__",
    "encoding_for_model",
    "encoding_name_for_model",
    "export_vocab_files",
    "find_tiktoken_file",
    "get_encoding",
    "list_encoding_names",
    "train",
]
