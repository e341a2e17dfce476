"""BERT model inputs (``[CLS] A [SEP] B [SEP]``, segments, positions, masks, truncation, padding,
overflow windows) with transformers' ``BertTokenizerFast.__call__`` semantics. The batch work
runs in Rust; this module checks arguments and wraps the arrays."""
from __future__ import annotations

from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from subtok.tokenizer import Tokenizer

_TRUNCATION = {True: "longest_first", "longest_first": "longest_first", "only_first": "only_first",
               "only_second": "only_second"}
_NO_TRUNCATION = (False, None, "do_not_truncate")
_PADDING = {True: "longest", "longest": "longest", "max_length": "max_length"}
_NO_PADDING = (False, None, "do_not_pad")


def _as_batch(text, text_pair) -> Tuple[List, bool]:
    """The batch items (str or (str, str)) and whether the input was a single example."""
    if isinstance(text, str):
        if text_pair is not None and not isinstance(text_pair, str):
            raise TypeError("text is a str, so text_pair must be a str or None")
        return [text if text_pair is None else (text, text_pair)], True
    if not isinstance(text, (list, tuple)):
        raise TypeError(f"text must be a str or a list of str, not {type(text).__name__}")
    if text_pair is None:
        return list(text), False
    if isinstance(text_pair, str) or not isinstance(text_pair, (list, tuple)):
        raise TypeError("text is a list, so text_pair must be a list of the same length")
    if len(text) != len(text_pair):
        raise ValueError(
            f"text has {len(text)} items but text_pair has {len(text_pair)}; pass lists of the same length"
        )
    return list(zip(text, text_pair)), False


def build_model_inputs(
    tok: "Tokenizer",
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
    """See :meth:`subtok.Tokenizer.__call__`."""
    items, _single = _as_batch(text, text_pair)
    is_pair = text_pair is not None

    if truncation in _NO_TRUNCATION:
        strategy = None
    elif truncation is True or (isinstance(truncation, str) and truncation in _TRUNCATION):
        strategy = _TRUNCATION[truncation]
    else:
        raise ValueError(
            f"truncation={truncation!r} is not understood; use True, 'longest_first', 'only_first', 'only_second' or False"
        )
    if padding in _NO_PADDING:
        pad_mode = None
    elif padding is True or (isinstance(padding, str) and padding in _PADDING):
        pad_mode = _PADDING[padding]
    else:
        raise ValueError(f"padding={padding!r} is not understood; use True, 'longest', 'max_length' or False")

    if max_length is None and (strategy is not None or pad_mode == "max_length"):
        max_length = tok.model_max_length
        if max_length is None:
            raise ValueError(
                "max_length is needed for truncation or padding='max_length' (this tokenizer has no model_max_length)"
            )
    if max_length is not None and (not isinstance(max_length, int) or max_length <= 0):
        raise ValueError(f"max_length must be a positive int, not {max_length!r}")
    if not isinstance(stride, int) or stride < 0:
        raise ValueError(f"stride must be a non-negative int, not {stride!r}")
    if pad_to_multiple_of is not None and (not isinstance(pad_to_multiple_of, int) or pad_to_multiple_of <= 0):
        raise ValueError(f"pad_to_multiple_of must be a positive int, not {pad_to_multiple_of!r}")

    if strategy is not None and pad_mode is not None and pad_to_multiple_of and max_length % pad_to_multiple_of:
        raise ValueError(
            f"truncation to max_length={max_length} and padding to a multiple of {pad_to_multiple_of} conflict; "
            "use a max_length that is a multiple of pad_to_multiple_of"
        )
    trunc_args = None
    if strategy is not None:
        assert max_length is not None
        n_special = tok.num_special_tokens_to_add(is_pair) if add_special_tokens else 0
        if max_length <= n_special:
            raise ValueError(
                f"max_length={max_length} leaves no room for text: {'a pair' if is_pair else 'a single sequence'} "
                f"needs {n_special} special tokens; use max_length > {n_special}"
            )
        if stride >= max_length - n_special:
            raise ValueError(
                f"stride={stride} must be smaller than the window of {max_length - n_special} tokens "
                f"(max_length minus {n_special} special tokens); lower stride or raise max_length"
            )
        if strategy == "only_second" and not is_pair:
            raise ValueError("truncation='only_second' needs text_pair; use 'longest_first' or 'only_first'")
        trunc_args = (max_length, stride, strategy, "right")

    pad_args = None
    if pad_mode is not None:
        pad_id = tok.pad_token_id
        if pad_id is None:
            raise ValueError(f"padding needs a pad token, and {tok.pad_token!r} is not in the vocabulary")
        length = max_length if pad_mode == "max_length" else None
        pad_args = (length, pad_to_multiple_of, pad_id, tok.pad_token, "right")

    if not hasattr(tok._impl, "build_inputs"):
        raise TypeError(
            f"model inputs (calling the tokenizer) are built for BERT WordPiece tokenizers, not for "
            f"{type(tok._impl).__name__}; use encode_batch() or encode_batch_flat()"
        )
    out = tok._impl.build_inputs(
        items, add_special_tokens, trunc_args, pad_args, return_overflowing_tokens, return_offsets_mapping,
        return_special_tokens_mask, return_sequence_ids,
    )
    rows, length = out["input_ids"].shape
    out["position_ids"] = np.tile(np.arange(length, dtype=np.int64), (rows, 1))
    return out


def char_span(
    batch: Dict[str, np.ndarray], row: int, start_token: int, end_token: int, sequence: int = 1
) -> Optional[Tuple[int, int]]:
    """Map the token span ``[start_token, end_token]`` (inclusive) of one row back to a character
    span ``(start, end)`` of the original text of ``sequence`` (1 = the pair, e.g. a QA context).

    Needs ``offset_mapping`` and ``sequence_ids`` in ``batch`` (call the tokenizer with
    ``return_offsets_mapping=True, return_sequence_ids=True``). Returns ``None`` when the span is
    empty or leaves that sequence (it touches a special token, padding or the other sequence).
    """
    if "offset_mapping" not in batch or "sequence_ids" not in batch:
        raise ValueError("batch lacks offset_mapping/sequence_ids; pass return_offsets_mapping=True, return_sequence_ids=True")
    seq = batch["sequence_ids"][row]
    if not (0 <= start_token <= end_token < seq.shape[0]):
        return None
    if not np.all(seq[start_token : end_token + 1] == sequence):
        return None
    offsets = batch["offset_mapping"][row]
    return int(offsets[start_token, 0]), int(offsets[end_token, 1])
