"""Worker functions for test_pickle.py (importable by spawned child processes)."""
from __future__ import annotations

import pickle
from typing import Any, List, Tuple


def encode_ids(args: Tuple[Any, List[str]]) -> List[List[int]]:
    tok, texts = args
    return [e.ids for e in tok.encode_batch(texts)]


def encode_all(tok: Any, text: str) -> Tuple[Any, ...]:
    """Everything one encode gives, for comparison across processes."""
    e = tok.encode(text)
    return (e.ids, e.tokens, e.offsets, e.attention_mask, tok.truncation, tok.padding)


def roundtrip(obj: Any) -> Any:
    """Unpickled in the child, pickled back to the parent."""
    return pickle.loads(pickle.dumps(obj))


def embed(args: Tuple[Any, List[str]]) -> Any:
    enc, texts = args
    return enc.encode(texts)
