"""subtok: exact, fast subword tokenizers with a Rust core.

* :class:`Tokenizer` - BERT WordPiece and byte-level BPE, loaded from HF ``tokenizer.json``,
  ``vocab.txt`` or ``.tiktoken`` files, with output identical to HF tokenizers / tiktoken.
"""
from __future__ import annotations

from subtok._core import Encoding, TokenizerFileError, __version__
from subtok.tokenizer import Tokenizer
from subtok.training import export_vocab_files, train

__all__ = ["Encoding", "Tokenizer", "TokenizerFileError", "__version__", "export_vocab_files", "train"]
