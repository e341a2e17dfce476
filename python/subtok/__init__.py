"""subtok: exact, fast subword tokenizers with a Rust core.

* :class:`Tokenizer` - BERT WordPiece and byte-level BPE, loaded from HF ``tokenizer.json``,
  ``vocab.txt`` or ``.tiktoken`` files, with output identical to HF tokenizers / tiktoken.
* :func:`train` - train a byte-level BPE or WordPiece tokenizer.
* :class:`BertModel` and the task heads (``BertFor...``) - a PyTorch-free BERT in NumPy that loads
  Hugging Face checkpoints; :class:`SentenceEncoder` - sentence embeddings (all-MiniLM-L6-v2).
* :func:`get_encoding` / :func:`encoding_for_model` - tiktoken's entry points, from local files.

``import subtok`` loads only the tokenizer layer; the encoder (:mod:`subtok.bert`, which may use
SciPy), the tiktoken layer and the other heavy parts are imported on first use of their names.
"""
import importlib as _importlib
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any
from typing import Dict as _Dict
from typing import List as _List

from subtok._core import Encoding, TokenizerFileError, __version__
from subtok.tokenizer import AddedToken, Tokenizer, UnknownTokenError
from subtok.training import export_vocab_files, train

if _TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs; loaded lazily at run time
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

# Public names loaded on first access: name -> module that defines it.
_LAZY: _Dict[str, str] = {
    "BertConfig": "subtok.bert",
    "BertForMaskedLM": "subtok.bert",
    "BertForPreTraining": "subtok.bert",
    "BertForQuestionAnswering": "subtok.bert",
    "BertForSequenceClassification": "subtok.bert",
    "BertForTokenClassification": "subtok.bert",
    "BertModel": "subtok.bert",
    "SentenceEncoder": "subtok.embeddings",
    "TiktokenEncoding": "subtok.tiktoken_compat",
    "encoding_for_model": "subtok.tiktoken_compat",
    "encoding_name_for_model": "subtok.tiktoken_compat",
    "find_tiktoken_file": "subtok.tiktoken_compat",
    "get_encoding": "subtok.tiktoken_compat",
    "list_encoding_names": "subtok.tiktoken_compat",
}


def __getattr__(name: str) -> _Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'subtok' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> _List[str]:
    return sorted(set(__all__) | {n for n in globals() if n.startswith("__")})


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
