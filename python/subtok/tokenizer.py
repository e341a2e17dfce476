"""The public :class:`Tokenizer`: one typed facade over the Rust tokenizers in ``subtok._core``.

WordPiece (BERT) and byte-level BPE share this API, so code written against HF tokenizers'
``Tokenizer`` (``encode``, ``encode_batch``, ``decode``, ``enable_truncation``...) works unchanged.
"""
from __future__ import annotations

import os
from typing import AbstractSet, Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from subtok import _core
from subtok._core import Encoding

PathLike = Union[str, "os.PathLike[str]"]
InputSequence = Union[str, Tuple[str, str], List[str]]
SpecialArg = Union[None, str, AbstractSet[str], Sequence[str]]


def _is_bpe(impl: Any) -> bool:
    return isinstance(impl, _core.BpeTokenizer)


class Tokenizer:
    """A trained subword tokenizer (BERT WordPiece or byte-level BPE).

    Build one with :meth:`from_file`, :meth:`from_str`, :meth:`from_vocab`, :meth:`from_tiktoken`
    or :func:`subtok.train`.
    """

    __slots__ = ("_impl", "model_max_length")

    def __init__(self, impl: Any, model_max_length: Optional[int] = None) -> None:
        self._impl = impl
        #: Default ``max_length`` of :meth:`__call__` (from a sibling ``tokenizer_config.json``).
        self.model_max_length = model_max_length

    # ------------------------------------------------------------------ loading / saving
    @classmethod
    def from_file(cls, path: PathLike) -> "Tokenizer":
        """Load an HF ``tokenizer.json``: any BPE, WordPiece or WordLevel pipeline (BERT WordPiece and
        plain byte-level BPE files run fused fast paths; every other file the general component
        pipeline). Unigram files are refused with an error naming the model.

        Raises ``FileNotFoundError`` if missing and :class:`subtok.TokenizerFileError` (a ``ValueError``)
        naming the file and the problem if malformed.
        """
        return cls(_core.load_tokenizer_file(os.fspath(path)), _model_max_length_beside(path))

    @classmethod
    def from_str(cls, json: str) -> "Tokenizer":
        """Load a tokenizer from the text of an HF ``tokenizer.json``."""
        return cls(_core.load_tokenizer_str(json))

    @classmethod
    def from_vocab(
        cls,
        path: PathLike,
        lowercase: bool = True,
        *,
        strip_accents: Optional[bool] = None,
        handle_chinese_chars: bool = True,
        unk_token: str = "[UNK]",
        max_input_chars_per_word: int = 100,
    ) -> "Tokenizer":
        """Build the BERT pipeline (BertNormalizer, BertPreTokenizer, WordPiece, BERT post-processor)
        from a ``vocab.txt`` (one token per line, id = line index), like ``BertWordPieceTokenizer``."""
        return cls(
            _core.WordPieceTokenizer.from_vocab(
                os.fspath(path), lowercase, strip_accents, handle_chinese_chars, unk_token, max_input_chars_per_word
            ),
            _model_max_length_beside(path),
        )

    @classmethod
    def from_tiktoken(
        cls, path: PathLike, pattern: str, special_tokens: Optional[Dict[str, int]] = None
    ) -> "Tokenizer":
        """Load a byte-level BPE from a ``.tiktoken`` file (``base64(token) rank`` per line).

        ``pattern`` is a preset name (``"gpt2"``, ``"r50k_base"``, ``"p50k_base"``, ``"cl100k_base"``,
        ``"o200k_base"``) or the pre-tokenizer regex itself; known patterns run a hand-written
        splitter, any other regex a general engine with lookarounds and possessive quantifiers.
        ``special_tokens`` maps e.g. ``"<|endoftext|>"`` to its id."""
        return cls(_core.BpeTokenizer.from_tiktoken(os.fspath(path), pattern, special_tokens))

    @classmethod
    def from_gpt2_files(cls, vocab: PathLike, merges: PathLike) -> "Tokenizer":
        """Load a GPT-2 style byte-level BPE from ``vocab.json`` + ``merges.txt``."""
        return cls(_core.BpeTokenizer.from_gpt2_files(os.fspath(vocab), os.fspath(merges)))

    def save(self, path: PathLike, pretty: bool = True) -> None:
        """Write an HF ``tokenizer.json`` that HF tokenizers loads and encodes identically.
        The write is atomic: a failed save leaves any existing file untouched."""
        self._impl.save(os.fspath(path), pretty)

    def to_str(self, pretty: bool = False) -> str:
        """The HF ``tokenizer.json`` text of this tokenizer."""
        return self._impl.to_str(pretty)

    # ------------------------------------------------------------------ encoding
    def encode(
        self,
        sequence: str,
        pair: Optional[str] = None,
        add_special_tokens: bool = True,
        *,
        allowed_special: SpecialArg = None,
        disallowed_special: SpecialArg = "all",
    ) -> Encoding:
        """Encode one text (or a text pair). Stored truncation and padding settings apply, as in HF.

        BPE only: ``allowed_special`` / ``disallowed_special`` follow tiktoken. By default a special
        token (e.g. ``<|endoftext|>``) found in the text raises ``ValueError``; ``allowed_special="all"``
        (or a set of tokens) encodes it as the special id; ``disallowed_special=()`` encodes it as
        plain text. A ``str`` holding lone surrogates (not valid Unicode text) raises
        ``UnicodeEncodeError``, a ``ValueError``."""
        if _is_bpe(self._impl):
            return self._impl.encode(sequence, pair, add_special_tokens, allowed_special, disallowed_special)
        return self._impl.encode(sequence, pair, add_special_tokens)

    def encode_batch(
        self,
        inputs: Sequence[Union[str, Tuple[str, str]]],
        add_special_tokens: bool = True,
        *,
        allowed_special: SpecialArg = None,
        disallowed_special: SpecialArg = "all",
    ) -> List[Encoding]:
        """Encode many texts or ``(text, pair)`` tuples in parallel (rayon; honours ``RAYON_NUM_THREADS``)."""
        if _is_bpe(self._impl):
            return self._impl.encode_batch(inputs, add_special_tokens, allowed_special, disallowed_special)
        return self._impl.encode_batch(inputs, add_special_tokens)

    def encode_batch_flat(
        self,
        inputs: Sequence[str],
        add_special_tokens: bool = False,
        *,
        allowed_special: SpecialArg = None,
        disallowed_special: SpecialArg = "all",
        truncate: bool = True,
    ) -> Tuple[np.ndarray, np.ndarray]:
        """Encode many texts into one flat ``uint32`` id array plus an ``int64`` array of per-text lengths.

        No per-token Python objects are made. Stored truncation applies unless ``truncate=False``
        (e.g. to see full lengths); padding never does."""
        if _is_bpe(self._impl):
            return self._impl.encode_batch_flat(inputs, add_special_tokens, allowed_special, disallowed_special, truncate)
        return self._impl.encode_batch_flat(inputs, add_special_tokens, truncate)

    def count_tokens(self, text: str, *, allowed_special: SpecialArg = None, disallowed_special: SpecialArg = "all") -> int:
        """Number of tokens ``encode(text)`` gives, without building the id list (BPE only)."""
        if not _is_bpe(self._impl):
            raise TypeError("count_tokens is available for byte-level BPE tokenizers only")
        return self._impl.count_tokens(text, allowed_special, disallowed_special)

    def decode_bytes(self, ids: Sequence[int]) -> bytes:
        """The raw bytes of ``ids`` (BPE only). Unlike :meth:`decode`, ids that end inside a UTF-8
        character are returned exactly instead of as U+FFFD."""
        if not _is_bpe(self._impl):
            raise TypeError("decode_bytes is available for byte-level BPE tokenizers only")
        return self._impl.decode_bytes(ids)

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        """Turn ids back into text (WordPiece joins ``##`` pieces; BPE decodes bytes)."""
        return self._impl.decode(ids, skip_special_tokens)

    def decode_batch(self, sequences: Sequence[Sequence[int]], skip_special_tokens: bool = True) -> List[str]:
        return [self._impl.decode(ids, skip_special_tokens) for ids in sequences]

    # ------------------------------------------------------------------ vocabulary
    def get_vocab(self) -> Dict[str, int]:
        return self._impl.get_vocab()

    def token_to_id(self, token: str) -> Optional[int]:
        return self._impl.token_to_id(token)

    def id_to_token(self, id: int) -> Optional[str]:
        return self._impl.id_to_token(id)

    @property
    def vocab_size(self) -> int:
        return self._impl.vocab_size

    def get_vocab_size(self) -> int:
        return self._impl.vocab_size

    # ------------------------------------------------------------------ truncation / padding
    def enable_truncation(
        self, max_length: int, stride: int = 0, strategy: str = "longest_first", direction: str = "right"
    ) -> None:
        """Truncate encodings to ``max_length`` tokens (HF semantics; ``stride`` is the overflow overlap)."""
        self._impl.enable_truncation(max_length, stride, strategy, direction)

    def no_truncation(self) -> None:
        self._impl.no_truncation()

    @property
    def truncation(self) -> Optional[Dict[str, Any]]:
        """The stored truncation settings as a dict, or ``None``."""
        return self._impl.truncation

    def enable_padding(
        self,
        direction: str = "right",
        pad_id: int = 0,
        pad_type_id: int = 0,
        pad_token: str = "[PAD]",
        length: Optional[int] = None,
        pad_to_multiple_of: Optional[int] = None,
    ) -> None:
        """Pad encodings: to ``length`` if given, else to the longest in the batch (HF semantics)."""
        self._impl.enable_padding(direction, pad_id, pad_type_id, pad_token, length, pad_to_multiple_of)

    def no_padding(self) -> None:
        self._impl.no_padding()

    @property
    def padding(self) -> Optional[Dict[str, Any]]:
        """The stored padding settings as a dict, or ``None``."""
        return self._impl.padding

    # ------------------------------------------------------------------ special tokens
    def _special_id(self, token: str) -> Optional[int]:
        return self._impl.token_to_id(token)

    @property
    def pad_token(self) -> str:
        padding = self._impl.padding
        return padding["pad_token"] if padding else "[PAD]"

    @property
    def pad_token_id(self) -> Optional[int]:
        return self._special_id(self.pad_token)

    @property
    def cls_token_id(self) -> Optional[int]:
        return self._special_id("[CLS]")

    @property
    def sep_token_id(self) -> Optional[int]:
        return self._special_id("[SEP]")

    @property
    def mask_token_id(self) -> Optional[int]:
        return self._special_id("[MASK]")

    @property
    def unk_token_id(self) -> Optional[int]:
        return self._special_id("[UNK]")

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        """How many special tokens the post-processor adds to a single sequence or a pair."""
        return self._impl.num_special_tokens_to_add(pair)

    # ------------------------------------------------------------------ model inputs
    def __call__(
        self,
        text: Union[str, Sequence[str]],
        text_pair: Optional[Union[str, Sequence[str]]] = None,
        *,
        add_special_tokens: bool = True,
        truncation: Union[bool, str, None] = False,
        max_length: Optional[int] = None,
        padding: Union[bool, str, None] = False,
        pad_to_multiple_of: Optional[int] = None,
        stride: int = 0,
        return_overflowing_tokens: bool = False,
        return_offsets_mapping: bool = False,
        return_special_tokens_mask: bool = False,
        return_sequence_ids: bool = False,
    ) -> Dict[str, np.ndarray]:
        """BERT model inputs as numpy ``int64`` arrays, like transformers'
        ``BertTokenizerFast(...)(..., return_tensors="np")``.

        Returns ``input_ids``, ``token_type_ids``, ``attention_mask`` and ``position_ids`` of shape
        ``(rows, length)``; on request ``offset_mapping`` ``(rows, length, 2)``,
        ``special_tokens_mask``, ``sequence_ids`` (-1 for specials and padding; a subtok extra) and
        ``overflow_to_sample_mapping``. A single ``str`` gives one row (more with overflow).
        Stored truncation/padding settings do not apply here; the arguments decide, as in transformers.
        """
        return build_model_inputs(
            self, text, text_pair, add_special_tokens=add_special_tokens, truncation=truncation,
            max_length=max_length, padding=padding, pad_to_multiple_of=pad_to_multiple_of, stride=stride,
            return_overflowing_tokens=return_overflowing_tokens, return_offsets_mapping=return_offsets_mapping,
            return_special_tokens_mask=return_special_tokens_mask, return_sequence_ids=return_sequence_ids,
        )

    def __repr__(self) -> str:
        return f"subtok.Tokenizer({self._impl!r})"


def _model_max_length_beside(path: PathLike) -> Optional[int]:
    """``model_max_length`` from a ``tokenizer_config.json`` next to the tokenizer file, if any."""
    import json

    config = os.path.join(os.path.dirname(os.fspath(path)), "tokenizer_config.json")
    try:
        with open(config, encoding="utf-8") as f:
            value = json.load(f).get("model_max_length")
    except (OSError, ValueError, AttributeError):
        return None
    return int(value) if isinstance(value, int) and 0 < value < 1_000_000 else None


from subtok.inputs import build_model_inputs  # noqa: E402  (inputs imports Tokenizer only for typing)
