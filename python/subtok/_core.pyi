"""Type stubs for the Rust extension ``subtok._core`` (use the typed wrappers in ``subtok``)."""
from __future__ import annotations

from os import PathLike
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

class TokenizerFileError(ValueError):
    """A tokenizer.json, vocab.txt, merges or .tiktoken file is malformed; the message names the file."""

class Encoding:
    @property
    def ids(self) -> List[int]: ...
    @property
    def tokens(self) -> List[str]: ...
    @property
    def offsets(self) -> List[Tuple[int, int]]: ...
    @property
    def type_ids(self) -> List[int]: ...
    @property
    def attention_mask(self) -> List[int]: ...
    @property
    def special_tokens_mask(self) -> List[int]: ...
    @property
    def word_ids(self) -> List[Optional[int]]: ...
    @property
    def sequence_ids(self) -> List[Optional[int]]: ...
    @property
    def overflowing(self) -> List[Encoding]: ...
    def __len__(self) -> int: ...

_Path = Union[str, PathLike[str]]
_BatchInput = Sequence[Union[str, Tuple[str, str], List[str]]]

class WordPieceTokenizer:
    @staticmethod
    def from_vocab(
        path: _Path,
        lowercase: bool = True,
        strip_accents: Optional[bool] = None,
        handle_chinese_chars: bool = True,
        unk_token: str = "[UNK]",
        max_input_chars_per_word: int = 100,
    ) -> WordPieceTokenizer: ...
    def save(self, path: _Path, pretty: bool = True) -> None: ...
    def to_str(self, pretty: bool = False) -> str: ...
    def encode(self, sequence: str, pair: Optional[str] = None, add_special_tokens: bool = True) -> Encoding: ...
    def encode_batch(self, inputs: _BatchInput, add_special_tokens: bool = True) -> List[Encoding]: ...
    def encode_batch_flat(
        self, inputs: Sequence[str], add_special_tokens: bool = False
    ) -> Tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]: ...
    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str: ...
    def get_vocab(self) -> Dict[str, int]: ...
    def token_to_id(self, token: str) -> Optional[int]: ...
    def id_to_token(self, id: int) -> Optional[str]: ...
    @property
    def vocab_size(self) -> int: ...
    def special_token_ids(self) -> List[int]: ...
    def num_special_tokens_to_add(self, is_pair: bool) -> int: ...
    def enable_truncation(self, max_length: int, stride: int = 0, strategy: str = "longest_first", direction: str = "right") -> None: ...
    def no_truncation(self) -> None: ...
    @property
    def truncation(self) -> Optional[Dict[str, Any]]: ...
    def enable_padding(
        self,
        direction: str = "right",
        pad_id: int = 0,
        pad_type_id: int = 0,
        pad_token: str = "[PAD]",
        length: Optional[int] = None,
        pad_to_multiple_of: Optional[int] = None,
    ) -> None: ...
    def no_padding(self) -> None: ...
    @property
    def padding(self) -> Optional[Dict[str, Any]]: ...
    def build_inputs(
        self,
        inputs: _BatchInput,
        add_special_tokens: bool,
        truncation: Optional[Tuple[int, int, str, str]],
        padding: Optional[Tuple[Optional[int], Optional[int], int, str, str]],
        return_overflowing_tokens: bool,
        return_offsets_mapping: bool,
        return_special_tokens_mask: bool,
        return_sequence_ids: bool,
    ) -> Dict[str, npt.NDArray[np.int64]]: ...

def load_tokenizer_file(path: _Path) -> Any: ...
def load_tokenizer_str(json: str) -> Any: ...
def num_threads() -> int: ...

class PretrainingCorpus:
    def __init__(
        self,
        ids: np.ndarray,
        sentence_lengths: np.ndarray,
        doc_sentence_counts: np.ndarray,
        is_subword: np.ndarray,
    ) -> None: ...
    @property
    def num_documents(self) -> int: ...
    def document_order(self, seed: int) -> List[int]: ...
    def create_instances(
        self,
        order: List[int],
        task_start: int,
        task_end: int,
        *,
        max_seq_length: int,
        short_seq_prob: float,
        masked_lm_prob: float,
        max_predictions_per_seq: int,
        whole_word_mask: bool,
        seed: int,
        cls_id: int,
        sep_id: int,
        mask_id: int,
        vocab_size: int,
        shuffle: bool = False,
        num_threads: Optional[int] = None,
    ) -> Dict[str, Any]: ...

def pretraining_permutation(seed: int, n: int) -> np.ndarray: ...
