"""BERT pretraining data: masked-LM + next-sentence-prediction instances, and dynamic masking.

* :func:`create_pretraining_data` follows Google's ``create_pretraining_data.py``
  (``bert-spec.md`` section 6): ``dupe_factor`` passes over seeded-shuffled documents, target
  lengths (``short_seq_prob``), A/B split at a random sentence boundary, random-next segments
  from another document with the unused sentences put back, ``truncate_seq_pair`` and
  static masking (80% ``[MASK]`` / 10% kept / 10% random id, optional whole-word masking).
  The per-document loop runs in Rust (``subtok._core.PretrainingCorpus``), in parallel and
  deterministically: the output depends only on the inputs and ``seed``, not on the thread count.
* :func:`mask_tokens` is the dynamic masking of transformers' ``DataCollatorForLanguageModeling``,
  vectorized in NumPy.
* :func:`read_documents` reads the usual text format: one sentence per line, a blank line
  between documents.

Known, deliberate differences from Google's script (the RNG is not Python's ``random``, so the
exact instances differ; the distribution is the same):

* Whole-word groups never span ``[SEP]``: a ``##`` piece at the start of segment B (left there by
  front truncation) starts its own group instead of joining the last word of A.
* The 80/10/10 decision is drawn per chosen position in ascending position order.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Protocol, Sequence, Tuple, Union

import numpy as np

from subtok import _core
from subtok.tokenizer import Tokenizer

__all__ = ["create_pretraining_data", "write_pretraining_shards", "PretrainingShards", "shard_seed", "compact_dtypes",
           "mask_tokens", "read_documents", "PRETRAINING_KEYS", "SHARDS_FORMAT"]

#: Keys of the dict returned by :func:`create_pretraining_data`, in a stable order.
PRETRAINING_KEYS: Tuple[str, ...] = (
    "input_ids",
    "token_type_ids",
    "attention_mask",
    "masked_lm_positions",
    "masked_lm_ids",
    "masked_lm_weights",
    "next_sentence_labels",
)

_U64 = 1 << 64


class _TokenizerLike(Protocol):  # the part of subtok.Tokenizer used here
    cls_token_id: Optional[int]
    sep_token_id: Optional[int]
    mask_token_id: Optional[int]
    vocab_size: int

    def encode_batch_flat(self, texts: List[str], add_special_tokens: bool = ...) -> Tuple[Any, Any]: ...

    def id_to_token(self, i: int) -> Optional[str]: ...


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_prob(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a float, got {type(value).__name__}")
    v = float(value)
    if not (0.0 <= v <= 1.0):  # also rejects NaN
        raise ValueError(f"{name} must be in [0, 1], got {value}")
    return v


def _check_seed(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(value).__name__}")
    return int(value) % _U64


def _special_id(tokenizer: Any, attr: str) -> int:
    value = getattr(tokenizer, attr, None)
    if value is None:
        raise ValueError(f"the tokenizer has no {attr.replace('_id', '')} (needed for pretraining data)")
    return int(value)


def _subword_mask(tokenizer: Any, vocab_size: int) -> np.ndarray:
    """Boolean array over the vocabulary: ``True`` where the token is a ``##`` continuation piece."""
    out = np.zeros(vocab_size, dtype=bool)
    for i in range(vocab_size):
        tok = tokenizer.id_to_token(i)
        if tok is not None and tok.startswith("##") and len(tok) > 2:
            out[i] = True
    return out


def _encode_untruncated(tokenizer: Any, sentences: List[str]) -> Tuple[Any, Any]:
    """``encode_batch_flat(sentences, add_special_tokens=False)`` without the tokenizer's stored
    truncation (padding never applies to it). ``subtok.Tokenizer`` takes ``truncate=False``; other
    objects get truncation switched off and restored around the call."""
    if isinstance(tokenizer, Tokenizer):
        return tokenizer.encode_batch_flat(sentences, add_special_tokens=False, truncate=False)
    truncation = getattr(tokenizer, "truncation", None)
    if not truncation:
        return tokenizer.encode_batch_flat(sentences, add_special_tokens=False)
    tokenizer.no_truncation()
    try:
        return tokenizer.encode_batch_flat(sentences, add_special_tokens=False)
    finally:
        tokenizer.enable_truncation(**truncation)


def _flatten_documents(documents: Any) -> Tuple[List[str], np.ndarray]:
    if isinstance(documents, (str, bytes)) or not isinstance(documents, Sequence):
        raise TypeError("documents must be a list of documents, each a list of sentences (str)")
    if len(documents) == 0:
        raise ValueError("documents is empty")
    sentences: List[str] = []
    counts = np.empty(len(documents), dtype=np.int64)
    for d, doc in enumerate(documents):
        if isinstance(doc, (str, bytes)) or not isinstance(doc, Sequence):
            raise TypeError(f"document {d} must be a list of sentences (str), got {type(doc).__name__}")
        for s in doc:
            if not isinstance(s, str):
                raise TypeError(f"document {d} has a sentence of type {type(s).__name__}, expected str")
        sentences.extend(doc)
        counts[d] = len(doc)
    return sentences, counts


def create_pretraining_data(
    documents: Sequence[Sequence[str]],
    tokenizer: _TokenizerLike,
    *,
    max_seq_length: int = 128,
    short_seq_prob: float = 0.1,
    masked_lm_prob: float = 0.15,
    max_predictions_per_seq: int = 20,
    dupe_factor: int = 10,
    whole_word_mask: bool = False,
    seed: int = 12345,
    num_threads: Optional[int] = None,
    progress: Optional[Callable[[int, int], None]] = None,
    convert: Optional[Callable[[str, np.ndarray], np.ndarray]] = None,
) -> Dict[str, np.ndarray]:
    """Masked-LM + NSP training instances from ``documents`` (each a list of sentences).

    Sentences are tokenized in one ``tokenizer.encode_batch_flat(sentences,
    add_special_tokens=False)`` call with no special tokens, truncation or padding, whatever the
    tokenizer's stored settings (the tokenizer object is left unchanged); empty sentences and
    documents are skipped. Returns NumPy arrays with ``B`` instances:

    * ``input_ids``, ``token_type_ids``, ``attention_mask``: ``(B, max_seq_length)`` int64,
      ``[CLS] A [SEP] B [SEP]`` (type id 1 from B through its ``[SEP]``), zero-padded;
      ``input_ids`` already has the masked positions replaced.
    * ``masked_lm_positions``, ``masked_lm_ids`` (original ids) int64 and ``masked_lm_weights``
      float32 (1.0 for real predictions): ``(B, max_predictions_per_seq)``, zero-padded.
    * ``next_sentence_labels``: ``(B,)`` int64, 1 when B is a random segment from another
      document, 0 when B is the actual continuation of A.

    As in Google's script, a chunk of one sentence always gets a random next segment, and with a
    single document the "random" segment comes from that same document.

    The result is a deterministic function of the inputs and ``seed`` (independent of
    ``num_threads``, which defaults to all cores). ``progress(done, total)`` is called as the
    document passes complete, if given. ``convert(key, array)``, if given, is applied to each
    array as it is made (e.g. a cast to smaller dtypes, keeping the peak memory low).
    """
    max_seq_length = _check_int("max_seq_length", max_seq_length, 5)
    short_seq_prob = _check_prob("short_seq_prob", short_seq_prob)
    masked_lm_prob = _check_prob("masked_lm_prob", masked_lm_prob)
    max_predictions_per_seq = _check_int("max_predictions_per_seq", max_predictions_per_seq, 0)
    dupe_factor = _check_int("dupe_factor", dupe_factor, 1)
    seed64 = _check_seed(seed)
    if num_threads is not None:
        num_threads = _check_int("num_threads", num_threads, 1)
    cls_id = _special_id(tokenizer, "cls_token_id")
    sep_id = _special_id(tokenizer, "sep_token_id")
    mask_id = _special_id(tokenizer, "mask_token_id")
    vocab_size = _check_int("tokenizer.vocab_size", tokenizer.vocab_size, 1)
    for name, i in (("[CLS]", cls_id), ("[SEP]", sep_id), ("[MASK]", mask_id)):
        if not 0 <= i < vocab_size:
            raise ValueError(f"{name} id {i} is outside the vocabulary (size {vocab_size})")

    sentences, doc_counts = _flatten_documents(documents)
    if sentences:
        ids, lengths = _encode_untruncated(tokenizer, sentences)
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        lengths = np.ascontiguousarray(lengths, dtype=np.int64)
    else:
        ids = np.zeros(0, dtype=np.int64)
        lengths = np.zeros(0, dtype=np.int64)
    if lengths.shape != (len(sentences),) or ids.ndim != 1 or int(lengths.sum()) != ids.shape[0]:
        raise ValueError("tokenizer.encode_batch_flat returned inconsistent ids/lengths")
    if ids.size == 0:
        raise ValueError("the documents contain no tokens")
    if int(ids.min()) < 0 or int(ids.max()) >= vocab_size:
        raise ValueError(f"the tokenizer produced ids outside [0, vocab_size={vocab_size})")
    is_subword = _subword_mask(tokenizer, vocab_size) if whole_word_mask else np.zeros(0, dtype=bool)

    corpus = _core.PretrainingCorpus(ids.astype(np.uint32), lengths, doc_counts, is_subword)
    n_docs = corpus.num_documents
    order = corpus.document_order(seed64)
    total = dupe_factor * n_docs
    common = dict(
        max_seq_length=max_seq_length, short_seq_prob=short_seq_prob, masked_lm_prob=masked_lm_prob,
        max_predictions_per_seq=max_predictions_per_seq, whole_word_mask=bool(whole_word_mask),
        seed=seed64, cls_id=cls_id, sep_id=sep_id, mask_id=mask_id, vocab_size=vocab_size,
        num_threads=num_threads,
    )
    widths = {
        "input_ids": max_seq_length, "token_type_ids": max_seq_length, "attention_mask": max_seq_length,
        "masked_lm_positions": max_predictions_per_seq, "masked_lm_ids": max_predictions_per_seq,
        "masked_lm_weights": max_predictions_per_seq,
    }

    def shaped(flat: Dict[str, Any], n: int) -> Dict[str, np.ndarray]:
        return {k: flat[k].reshape(n, widths[k]) if k in widths else flat[k] for k in PRETRAINING_KEYS}

    if progress is None and convert is None:
        # One call; Rust applies the final shuffle of all instances (as Google's script does).
        res = corpus.create_instances(order, 0, total, shuffle=True, **common)
        return shaped(res, int(res["n"]))
    # In chunks (for progress, or to convert each chunk to compact dtypes as it comes), then the
    # permutation Rust's shuffle applies: the same instances in the same order.
    step = max(1, math.ceil(total / 200))
    bounds = list(range(0, total, step)) + [total]
    parts: Dict[str, List[np.ndarray]] = {k: [] for k in PRETRAINING_KEYS}
    n = 0
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        res = corpus.create_instances(order, lo, hi, shuffle=False, **common)
        m = int(res["n"])
        part = shaped(res, m)
        del res
        for k in PRETRAINING_KEYS:
            parts[k].append(convert(k, part[k]) if convert is not None else part[k])
        del part
        n += m
        if progress is not None:
            progress(hi, total)
    perm = _core.pretraining_permutation(seed64, n)  # the same order as shuffle=True
    out: Dict[str, np.ndarray] = {}
    for k in PRETRAINING_KEYS:  # one key at a time keeps the peak near the compact total
        joined = np.concatenate(parts.pop(k))
        out[k] = joined[perm]
        del joined
    return out


#: Golden-ratio increment that spreads per-shard seeds over 64 bits.
_SHARD_SEED_STEP = 0x9E3779B97F4A7C15


def shard_seed(seed: int, index: int) -> int:
    """The seed of pretraining shard ``index``: ``(seed + index * 0x9E3779B97F4A7C15) mod 2**64``.
    Shard 0 uses ``seed`` itself, so a single-shard run equals :func:`create_pretraining_data`."""
    return (_check_seed(seed) + int(index) * _SHARD_SEED_STEP) % _U64


def compact_dtypes(vocab_size: int, max_seq_length: int) -> Dict[str, np.dtype]:
    """Storage dtypes of pretraining shards: ids ``uint16`` when the vocabulary fits (else int32),
    positions ``uint16`` (else int32), 0/1 arrays ``uint8``, weights float32."""
    ids = np.dtype(np.uint16) if vocab_size <= 1 << 16 else np.dtype(np.int32)
    pos = np.dtype(np.uint16) if max_seq_length <= 1 << 16 else np.dtype(np.int32)
    u8 = np.dtype(np.uint8)
    return {
        "input_ids": ids, "token_type_ids": u8, "attention_mask": u8, "masked_lm_positions": pos,
        "masked_lm_ids": ids, "masked_lm_weights": np.dtype(np.float32), "next_sentence_labels": u8,
    }


def pretraining_block(tokenizer: Any, block: Tuple[str, int, int], index: int, out_dir: str, options: Dict[str, Any]) -> Dict[str, Any]:
    """Make the shard of one block (its blank-line separated documents) as ``pretrain-NNNNNN.npz``
    with compact dtypes, written atomically. Runs on a worker under :mod:`subtok.dask`."""
    from subtok.corpus import read_block, write_atomic

    path, start, end = block
    documents = [[line.strip() for line in d] for d in read_block(path, start, end, "blank")]
    entry: Dict[str, Any] = {"index": index, "source": path, "start": start, "end": end,
                             "documents": len(documents), "instances": 0, "file": None}
    if not documents:
        return entry
    opts = dict(options)
    dtypes = compact_dtypes(int(tokenizer.vocab_size), int(opts["max_seq_length"]))
    opts["seed"] = shard_seed(opts["seed"], index)
    try:
        data = create_pretraining_data(documents, tokenizer, convert=lambda k, a: a.astype(dtypes[k]), **opts)
    except ValueError as e:
        if "no tokens" in str(e):
            return entry
        raise
    name = f"pretrain-{index:06d}.npz"
    write_atomic(os.path.join(out_dir, name), lambda f: np.savez(f, **data))
    entry.update(file=name, instances=int(len(data["next_sentence_labels"])))
    return entry


def write_pretraining_shards(
    paths: Any,
    tokenizer: Any,
    out_dir: Union[str, "os.PathLike[str]"],
    *,
    blocksize: int = 4 << 20,
    show_progress: bool = True,
    _map: Optional[Callable[..., Any]] = None,
    **options: Any,
) -> Dict[str, Any]:
    """Stream pretraining instances of text files into ``out_dir``: one ``pretrain-NNNNNN.npz``
    per block of ``blocksize`` bytes (the documents starting in it), plus ``manifest.json``.
    ``options`` are those of :func:`create_pretraining_data` (``max_seq_length``, ``dupe_factor``,
    ``seed``, ...; same defaults).

    Memory is bounded by one block's instances, whatever the corpus size. Each shard holds the
    keys of :data:`PRETRAINING_KEYS` in :func:`compact_dtypes` (ids ``uint16`` when they fit)
    and is made by :func:`create_pretraining_data` on its own documents with seed
    :func:`shard_seed` ``(seed, index)`` (so random-next segments come from the same shard). A
    single-shard run (one file of at most ``blocksize`` bytes) gives exactly the instances of
    :func:`create_pretraining_data` with ``seed``. Files are written atomically with normal
    permissions. :func:`subtok.dask.pretraining_data` makes the shards on Dask workers."""
    from subtok._progress import ProgressBar
    from subtok.corpus import _ManifestWriter, _check_paths
    from subtok.wordcounts import file_blocks

    files = _check_paths(paths)
    blocks = file_blocks(files, blocksize)
    out = os.fspath(out_dir)
    os.makedirs(out, exist_ok=True)
    import inspect

    defaults = {k: p.default for k, p in inspect.signature(create_pretraining_data).parameters.items()
                if p.kind is p.KEYWORD_ONLY and k not in ("progress", "convert")}
    unknown = set(options) - set(defaults)
    if unknown:
        raise TypeError(f"unexpected option(s): {', '.join(sorted(unknown))}")
    options = {**defaults, **options}
    # validate the options once here rather than in every task
    max_seq_length = _check_int("max_seq_length", options["max_seq_length"], 5)
    _check_int("dupe_factor", options["dupe_factor"], 1)
    _check_int("max_predictions_per_seq", options["max_predictions_per_seq"], 0)
    for name in ("short_seq_prob", "masked_lm_prob"):
        _check_prob(name, options[name])
    options["seed"] = _check_seed(options["seed"])
    options["whole_word_mask"] = bool(options["whole_word_mask"])
    from subtok.corpus import tokenizer_hash

    header = {"format": SHARDS_FORMAT, "version": 1, "tokenizer_sha256": tokenizer_hash(tokenizer),
              "blocksize": blocksize, "seed_rule": "shard seed = (seed + index * 0x9E3779B97F4A7C15) mod 2**64",
              **{k: v for k, v in options.items() if k != "num_threads"},
              "dtypes": {k: v.name for k, v in compact_dtypes(int(tokenizer.vocab_size), max_seq_length).items()}}
    writer = _ManifestWriter(out, header, len(blocks), totals=("instances", "documents"))
    todo = list(enumerate(blocks))
    bar = ProgressBar(len(blocks), "pretraining-data", enabled=None if show_progress else False)
    try:
        results = (pretraining_block(tokenizer, b, i, out, options) for i, b in todo) if _map is None \
            else _map(pretraining_block, tokenizer, todo, out, options)
        for entry in results:
            writer.add(entry)
            bar.update(1)
    finally:
        bar.close()
    manifest = writer.write(complete=True)
    if manifest["instances"] == 0:
        raise ValueError("the input files contain no tokens")
    return manifest


#: ``format`` of the ``manifest.json`` written by :func:`write_pretraining_shards`.
SHARDS_FORMAT = "subtok-pretraining-shards"


class PretrainingShards:
    """Reader of a directory written by :func:`write_pretraining_shards` (``subtok
    pretraining-data -o DIR``, :func:`subtok.dask.pretraining_data`) that holds one shard in memory
    at a time, so pretraining on it needs memory for one shard, whatever the corpus size.

    ``len()`` is the number of instances, ``num_shards`` the number of non-empty shards,
    ``shard(i)`` the arrays of :data:`PRETRAINING_KEYS` of shard ``i`` (in their stored compact
    dtypes), ``split(fraction)`` two views of the same files (held-out rows first in every shard).
    :func:`subtok.finetune.pretrain` takes this object, or the directory, as its instances.
    """

    def __init__(self, path: Union[str, "os.PathLike[str]"]) -> None:
        import json

        from subtok.corpus import MANIFEST

        self.path = os.fspath(path)
        manifest_path = os.path.join(self.path, MANIFEST)
        if not os.path.isfile(manifest_path):
            raise FileNotFoundError(f"{self.path}: no {MANIFEST} of pretraining shards")
        try:
            with open(manifest_path, encoding="utf-8") as f:
                m = json.load(f)
        except ValueError as e:
            raise ValueError(f"{manifest_path}: not valid JSON ({e})") from None
        if not isinstance(m, dict) or m.get("format") != SHARDS_FORMAT:
            raise ValueError(f"{self.path}: not a directory of pretraining shards (manifest format "
                             f"{m.get('format') if isinstance(m, dict) else None!r})")
        if not m.get("complete"):
            raise ValueError(f"{self.path}: the pretraining-data run did not finish (rerun it)")
        self.manifest: Dict[str, Any] = m
        #: ``(file, first row, end row)`` of every shard in this view
        self._parts: List[Tuple[str, int, int]] = []
        for e in m["shards"]:
            if e.get("file") and int(e["instances"]) > 0:
                if not os.path.isfile(os.path.join(self.path, e["file"])):
                    raise FileNotFoundError(f"{self.path}: shard {e['file']} is missing")
                self._parts.append((e["file"], 0, int(e["instances"])))

    @property
    def max_seq_length(self) -> int:
        return int(self.manifest["max_seq_length"])

    @property
    def num_shards(self) -> int:
        return len(self._parts)

    def __len__(self) -> int:
        return sum(hi - lo for _, lo, hi in self._parts)

    def shard(self, i: int) -> Dict[str, np.ndarray]:
        """The rows of shard ``i`` of this view, as a dict of arrays (read from disk now)."""
        name, lo, hi = self._parts[i]
        full = os.path.join(self.path, name)
        with np.load(full, allow_pickle=False) as f:
            missing = [k for k in PRETRAINING_KEYS if k not in f.files]
            if missing:
                raise ValueError(f"{full}: not a pretraining shard (missing {', '.join(missing)})")
            out = {k: f[k] for k in PRETRAINING_KEYS}
        n = out["next_sentence_labels"].shape[0]
        if any(a.shape[0] != n for a in out.values()) or n < hi:
            raise ValueError(f"{full}: has {n} instances, the manifest says at least {hi}")
        return {k: a[lo:hi] for k, a in out.items()}

    def split(self, fraction: float) -> Tuple["PretrainingShards", "PretrainingShards"]:
        """``(train, held_out)``: ``ceil(len * fraction)`` instances held out, spread over the
        shards in proportion to their sizes (the first rows of each; the rows of a shard are
        already in random order)."""
        f = _check_prob("fraction", fraction)
        train, held = self._view([]), self._view([])
        done = 0
        for name, lo, hi in self._parts:
            k = math.ceil((done + hi - lo) * f) - math.ceil(done * f)
            done += hi - lo
            if k > 0:
                held._parts.append((name, lo, lo + k))
            if lo + k < hi:
                train._parts.append((name, lo + k, hi))
        return train, held

    def _view(self, parts: List[Tuple[str, int, int]]) -> "PretrainingShards":
        v = object.__new__(PretrainingShards)
        v.path, v.manifest, v._parts = self.path, self.manifest, list(parts)
        return v

    def __repr__(self) -> str:
        return f"subtok.pretraining.PretrainingShards({self.path!r}: {len(self)} instances in {self.num_shards} shard(s))"


def mask_tokens(
    input_ids: Any,
    *,
    special_tokens_mask: Any,
    vocab_size: int,
    mask_token_id: int,
    mlm_probability: float = 0.15,
    seed: Union[None, int, np.random.Generator] = None,
    attention_mask: Any = None,
) -> Tuple[np.ndarray, np.ndarray]:
    """Dynamic MLM masking, as transformers' ``DataCollatorForLanguageModeling``.

    Each token is selected independently with probability ``mlm_probability``, except where
    ``special_tokens_mask`` is nonzero (or ``attention_mask`` is 0, if given: padding). Selected
    tokens become ``mask_token_id`` (80%), a uniform random id in ``[0, vocab_size)`` (10%) or stay
    unchanged (10%). Returns ``(masked_ids, labels)``, both int64 of the input's shape; ``labels``
    holds the original id at selected positions and -100 elsewhere. The input is not modified.
    """
    ids = np.asarray(input_ids)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"input_ids must be an integer array, got dtype {ids.dtype}")
    special = np.asarray(special_tokens_mask)
    if special.shape != ids.shape:
        raise ValueError(f"special_tokens_mask has shape {special.shape}, input_ids has {ids.shape}")
    vocab_size = _check_int("vocab_size", vocab_size, 1)
    mask_token_id = _check_int("mask_token_id", mask_token_id, 0)
    if mask_token_id >= vocab_size:
        raise ValueError(f"mask_token_id {mask_token_id} is outside the vocabulary (size {vocab_size})")
    p = _check_prob("mlm_probability", mlm_probability)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(
        None if seed is None else _check_seed(seed)
    )
    eligible = special == 0
    if attention_mask is not None:
        att = np.asarray(attention_mask)
        if att.shape != ids.shape:
            raise ValueError(f"attention_mask has shape {att.shape}, input_ids has {ids.shape}")
        eligible &= att != 0
    selected = (rng.random(ids.shape) < p) & eligible
    labels = np.where(selected, ids, -100).astype(np.int64)
    replaced = selected & (rng.random(ids.shape) < 0.8)
    randomized = selected & ~replaced & (rng.random(ids.shape) < 0.5)
    masked = ids.astype(np.int64, copy=True)
    masked[replaced] = mask_token_id
    masked[randomized] = rng.integers(0, vocab_size, size=int(randomized.sum()), dtype=np.int64)
    return masked, labels


def _lines_to_documents(lines: Iterable[str], documents: List[List[str]]) -> None:
    current: List[str] = documents[-1] if documents else []
    if not documents:
        documents.append(current)
    for line in lines:
        line = line.strip()
        if not line:
            if current:
                current = []
                documents.append(current)
        else:
            current.append(line)


def read_documents(paths: Sequence[Union[str, "os.PathLike[str]"]]) -> List[List[str]]:
    """Reads text files with one sentence per line and a blank line between documents.

    Each file also ends the current document. Empty documents are dropped.
    """
    documents: List[List[str]] = []
    for path in paths:
        p = Path(path)
        with p.open("r", encoding="utf-8") as f:
            if documents and documents[-1]:
                documents.append([])
            _lines_to_documents(f, documents)
    return [d for d in documents if d]
