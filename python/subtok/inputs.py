"""Model inputs (``[CLS] A [SEP] B [SEP]``, segments, positions, masks, truncation, padding,
overflow windows) with the semantics of transformers' fast tokenizers' ``__call__``: Python lists
by default, numpy (or torch) arrays with ``return_tensors``. The batch work runs in Rust; this
module checks arguments and shapes the result."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from subtok.tokenizer import Tokenizer

_TRUNCATION = {True: "longest_first", "longest_first": "longest_first", "only_first": "only_first",
               "only_second": "only_second"}
_NO_TRUNCATION = (False, None, "do_not_truncate")
_PADDING = {True: "longest", "longest": "longest", "max_length": "max_length"}
#: Lengths must fit the core's 64-bit sizes (larger ones would be an ``OverflowError``).
_INT_LIMIT = 2**63
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


#: transformers' default key order of ``__call__`` results (extras follow).
_KEY_ORDER = ("input_ids", "token_type_ids", "attention_mask", "special_tokens_mask", "offset_mapping", "length",
              "overflow_to_sample_mapping")


def _strategies(
    tok: "Tokenizer",
    truncation: Union[bool, str, None],
    max_length: Optional[int],
    padding: Union[bool, str, None],
) -> Tuple[Optional[str], Optional[str], Optional[int]]:
    """transformers' ``_get_padding_truncation_strategies``: (truncation strategy or None,
    padding mode or None, max_length). ``max_length`` alone (no padding, ``truncation=None``)
    turns truncation on; without any length (no ``max_length``, no ``model_max_length``)
    truncation and ``padding="max_length"`` are dropped with a warning, as transformers does."""
    if max_length is not None and padding is False and truncation is None:
        truncation = "longest_first"
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
            import warnings

            warnings.warn("max_length is not given and this tokenizer has no model_max_length: no truncation and "
                          "no padding to a maximum length (as transformers does); pass max_length=", stacklevel=4)
            strategy = None
            pad_mode = None if pad_mode == "max_length" else pad_mode
    return strategy, pad_mode, max_length


def build_model_inputs(
    tok: "Tokenizer",
    text: Union[str, Sequence[str]],
    text_pair: Optional[Union[str, Sequence[str]]] = None,
    *,
    add_special_tokens: bool = True,
    truncation: Union[bool, str, None] = None,
    max_length: Optional[int] = None,
    padding: Union[bool, str, None] = False,
    pad_to_multiple_of: Optional[int] = None,
    padding_side: Optional[str] = None,
    stride: int = 0,
    return_overflowing_tokens: bool = False,
    return_offsets_mapping: bool = False,
    return_special_tokens_mask: bool = False,
    return_sequence_ids: bool = False,
    return_tensors: Optional[str] = None,
    return_attention_mask: Optional[bool] = None,
    return_token_type_ids: Optional[bool] = None,
    return_length: bool = False,
) -> Dict[str, Any]:
    """See :meth:`subtok.Tokenizer.__call__`."""
    if return_tensors not in (None, "np", "pt"):
        raise ValueError(f"return_tensors={return_tensors!r} is not supported; use None, 'np' or 'pt'")
    side = padding_side if padding_side is not None else tok.padding_side
    if side not in ("left", "right"):
        raise ValueError(f"padding_side={side!r} is not understood; use 'left' or 'right'")
    items, single = _as_batch(text, text_pair)
    is_pair = text_pair is not None
    strategy, pad_mode, max_length = _strategies(tok, truncation, max_length, padding)
    if max_length is not None and (not isinstance(max_length, int) or not 0 < max_length < _INT_LIMIT):
        raise ValueError(f"max_length must be a positive int below 2**63, not {max_length!r:.40}")
    if not isinstance(stride, int) or not 0 <= stride < _INT_LIMIT:
        raise ValueError(f"stride must be a non-negative int below 2**63, not {stride!r:.40}")
    if pad_to_multiple_of is not None and (not isinstance(pad_to_multiple_of, int)
                                           or not 0 < pad_to_multiple_of < _INT_LIMIT):
        raise ValueError(f"pad_to_multiple_of must be a positive int below 2**63, not {pad_to_multiple_of!r:.40}")

    pad_args = None
    if pad_mode is not None:
        pad_id = tok.pad_token_id
        if tok.pad_token is None:
            raise ValueError(
                "Asking to pad but the tokenizer does not have a padding token. Please select a token to use as "
                "`pad_token` `(tokenizer.pad_token = tokenizer.eos_token e.g.)` or add a new pad token via "
                "`tokenizer.add_special_tokens({'pad_token': '[PAD]'})`."
            )
        if pad_id is None:
            raise ValueError(f"padding needs a pad token, and {tok.pad_token!r} is not in the vocabulary")
        length = max_length if pad_mode == "max_length" else None
        pad_args = (length, pad_to_multiple_of, pad_id, tok.pad_token, side)
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
        trunc_args = (max_length, stride, strategy, "right")

    options = (return_overflowing_tokens, return_offsets_mapping, return_special_tokens_mask, return_sequence_ids,
               return_tensors is None)
    out = tok._impl.build_inputs(items, add_special_tokens, trunc_args, pad_args, options)
    names = tok.model_input_names
    if not (return_attention_mask if return_attention_mask is not None else "attention_mask" in names):
        del out["attention_mask"]
    if not (return_token_type_ids if return_token_type_ids is not None else "token_type_ids" in names):
        del out["token_type_ids"]
    if return_tensors is None:
        return _as_lists(out, return_length, unbatch=single and not return_overflowing_tokens)
    rows, length = out["input_ids"].shape
    if return_length:
        out["length"] = np.full(rows, length, dtype=np.int64)
    out = _ordered(out)
    out["position_ids"] = np.tile(np.arange(length, dtype=np.int64), (rows, 1))
    if return_tensors == "pt":
        try:
            import torch
        except ImportError:
            raise ImportError("return_tensors='pt' needs PyTorch, which is not installed; use 'np'") from None
        out = {k: torch.from_numpy(v) for k, v in out.items()}
    return out


def _ordered(out: Dict[str, Any]) -> Dict[str, Any]:
    """``out`` with transformers' key order, subtok's extras last."""
    return {**{k: out[k] for k in _KEY_ORDER if k in out}, **{k: v for k, v in out.items() if k not in _KEY_ORDER}}


def _as_lists(out: Dict[str, Any], return_length: bool, unbatch: bool) -> Dict[str, Any]:
    """The arrays of ``build_inputs`` as transformers' Python lists: a list of ints per row
    (``offset_mapping``: a list of ``(start, end)`` tuples), one list of rows per key; one row
    without the batch level when ``unbatch`` (a single text and no overflow)."""
    ragged = out.pop("row_lengths", None)
    if ragged is not None:
        lengths = ragged.tolist()
    else:
        rows, cols = out["input_ids"].shape
        lengths = [cols] * rows
    bounds = [0]
    for n in lengths:
        bounds.append(bounds[-1] + n)
    res: Dict[str, Any] = {}
    for key, arr in out.items():
        flat = arr.reshape(-1).tolist()
        if key == "overflow_to_sample_mapping":
            res[key] = flat
            continue
        if key == "offset_mapping":
            flat = list(zip(flat[0::2], flat[1::2]))
        res[key] = [flat[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    if return_length:
        res["length"] = lengths
    res = _ordered(res)
    if unbatch:  # transformers' rule: keys holding rows lose the batch level ("length" stays a list)
        res = {k: v[0] if v and isinstance(v[0], list) else v for k, v in res.items()}
    return res


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
