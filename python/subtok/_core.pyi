"""Type stubs for the Rust extension ``subtok._core`` (use the typed wrappers in ``subtok``)."""
from __future__ import annotations

from os import PathLike
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple, Union

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
        self, inputs: Sequence[str], add_special_tokens: bool = False, truncate: bool = True
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
    def __copy__(self) -> "BpeTokenizer": ...
    def __deepcopy__(self, memo: Any) -> "BpeTokenizer": ...
    def __copy__(self) -> "WordPieceTokenizer": ...
    def __deepcopy__(self, memo: Any) -> "WordPieceTokenizer": ...
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

_Special = Union[None, str, Sequence[str], Set[str]]

class BpeTokenizer:
    @staticmethod
    def from_tiktoken(path: _Path, pattern: str, special_tokens: Optional[Dict[str, int]] = None) -> BpeTokenizer: ...
    @staticmethod
    def from_gpt2_files(vocab_json: _Path, merges_txt: _Path) -> BpeTokenizer: ...
    @staticmethod
    def from_str(json: str) -> BpeTokenizer: ...
    @staticmethod
    def from_file(path: _Path) -> BpeTokenizer: ...
    def save(self, path: _Path, pretty: bool = True) -> None: ...
    def to_str(self, pretty: bool = False) -> str: ...
    def encode(
        self,
        sequence: str,
        pair: Optional[str] = None,
        add_special_tokens: bool = True,
        allowed_special: _Special = None,
        disallowed_special: _Special = None,
    ) -> Encoding: ...
    def encode_batch(
        self, inputs: _BatchInput, add_special_tokens: bool = True, allowed_special: _Special = None, disallowed_special: _Special = None
    ) -> List[Encoding]: ...
    def encode_batch_flat(
        self,
        inputs: Sequence[str],
        add_special_tokens: bool = False,
        allowed_special: _Special = None,
        disallowed_special: _Special = None,
        truncate: bool = True,
    ) -> Tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]: ...
    def count_tokens(self, text: str, allowed_special: _Special = None, disallowed_special: _Special = None) -> int: ...
    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str: ...
    def decode_bytes(self, ids: Sequence[int]) -> bytes: ...
    def get_vocab(self) -> Dict[str, int]: ...
    def token_to_id(self, token: str) -> Optional[int]: ...
    def id_to_token(self, id: int) -> Optional[str]: ...
    @property
    def vocab_size(self) -> int: ...
    @property
    def special_tokens(self) -> Dict[str, int]: ...
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
    def num_special_tokens_to_add(self, is_pair: bool) -> int: ...

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

class Trainer:
    def __init__(
        self,
        model: str,
        vocab_size: int,
        min_frequency: int,
        special_tokens: Optional[List[str]] = None,
        limit_alphabet: Optional[int] = None,
        score: Optional[str] = None,
        lowercase: Optional[bool] = None,
        pre_tokenizer: Optional[str] = None,
        unk_token: Optional[str] = None,
    ) -> None: ...
    def feed_files(self, paths: List[str], progress: Any = None, stderr_bar: bool = False) -> None: ...
    def feed_texts(self, texts: List[str]) -> None: ...
    def feed_counts(self, counts: Dict[str, int]) -> None: ...
    def num_keys(self) -> int: ...
    def train(self, progress: Any = None, stderr_bar: bool = False, pretty: bool = True) -> str: ...

def train_export_vocab_files(json_text: str, directory: str, prefix: Optional[str] = None) -> List[str]: ...
def train_write_atomic(path: str, text: str) -> None: ...
def _train_pretokenize(name: str, text: str) -> List[str]: ...
def _train_bert_normalize(text: str, lowercase: bool) -> str: ...

class _Kernels:
    """In-place float32 kernels of the NumPy encoder (``subtok._core.kernels``)."""

    @staticmethod
    def gelu_inplace(x: npt.NDArray[np.float32]) -> None: ...
    @staticmethod
    def bias_gelu_inplace(x: npt.NDArray[np.float32], bias: npt.NDArray[np.float32]) -> None: ...
    @staticmethod
    def softmax_masked_inplace(scores: npt.NDArray[np.float32], mask: Optional[npt.NDArray[np.float32]] = None) -> None: ...
    @staticmethod
    def add_layernorm_inplace(
        x: npt.NDArray[np.float32],
        residual: npt.NDArray[np.float32],
        bias: npt.NDArray[np.float32],
        gamma: npt.NDArray[np.float32],
        beta: npt.NDArray[np.float32],
        eps: float,
    ) -> None: ...
    @staticmethod
    def self_attention(
        qkv: npt.NDArray[np.float32],
        bias: Optional[npt.NDArray[np.float32]],
        heads: int,
        starts: Sequence[int],
        lens: Sequence[int],
        key_mask: Optional[npt.NDArray[np.float32]],
        ctx: npt.NDArray[np.float32],
    ) -> None: ...
    @staticmethod
    def attention_train_forward(
        qkv: npt.NDArray[np.float32],
        heads: int,
        starts: Sequence[int],
        lens: Sequence[int],
        key_mask: Optional[npt.NDArray[np.float32]],
        scale: float,
        dropout: float,
        seed: int,
        ctx: npt.NDArray[np.float32],
    ) -> None: ...
    @staticmethod
    def attention_train_backward(
        qkv: npt.NDArray[np.float32],
        heads: int,
        starts: Sequence[int],
        lens: Sequence[int],
        key_mask: Optional[npt.NDArray[np.float32]],
        scale: float,
        dropout: float,
        seed: int,
        dctx: npt.NDArray[np.float32],
        dqkv: npt.NDArray[np.float32],
    ) -> None: ...
    @staticmethod
    def gelu_backward(x: npt.NDArray[np.float32], dy: npt.NDArray[np.float32]) -> None: ...
    @staticmethod
    def layernorm_train_forward(
        x: npt.NDArray[np.float32],
        xhat: npt.NDArray[np.float32],
        rstd: npt.NDArray[np.float32],
        gamma: npt.NDArray[np.float32],
        beta: npt.NDArray[np.float32],
        eps: float,
    ) -> None: ...
    @staticmethod
    def layernorm_backward(
        dy: npt.NDArray[np.float32],
        xhat: npt.NDArray[np.float32],
        rstd: npt.NDArray[np.float32],
        gamma: npt.NDArray[np.float32],
        dgamma: npt.NDArray[np.float32],
        dbeta: npt.NDArray[np.float32],
    ) -> None: ...

kernels: _Kernels
