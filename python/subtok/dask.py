"""Scale subtok out with Dask (``pip install subtok[dask]``; never imported by ``import subtok``).

Every function takes ``client``: a ``distributed.Client`` (of a ``LocalCluster`` or of an
existing cluster: ``Client("tcp://scheduler:8786")``). With ``client=None`` the current default
client is used if there is one (Dask's convention), otherwise the work runs sequentially in this
process - the same per-block functions, so the results are identical, and Dask need not be
installed at all.

* :func:`train`: workers count blocks of the files (:func:`subtok.wordcounts.count_file_ranges`),
  the counts merge by tree reduction on the workers, and only the merge learning runs here.
  ``to_str()`` is byte-identical to ``subtok.train(paths, ...)``.
* :func:`encode_corpus`: token shards + ``manifest.json`` (see :func:`subtok.corpus.encode_corpus`).
* :func:`pretraining_data`: BERT pretraining instances, one shard per block, on workers.
* :func:`embed`: sentence embeddings, the encoder loaded once per worker process.
"""
from __future__ import annotations

import operator
import os
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from subtok import corpus as _corpus
from subtok._progress import ProgressBar
from subtok.wordcounts import WordCounts, count_file_ranges, file_blocks

__all__ = ["train", "count_words", "encode_corpus", "pretraining_data", "embed", "local_client"]

PathLike = Union[str, "os.PathLike[str]"]
DEFAULT_TRAIN_BLOCKSIZE = 32 << 20
_BLAS_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _resolve_client(client: Any) -> Any:
    """``client``, else the default Dask client if one exists, else ``None`` (run locally)."""
    if client is not None:
        return client
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()
    except ValueError:
        return None


def local_client(workers: Optional[int] = None, scheduler: Optional[str] = None, threads_per_worker: int = 1) -> Any:
    """A ``distributed.Client``: of an existing cluster at ``scheduler``, or of a new
    ``LocalCluster`` of ``workers`` processes (each Rust thread pool sized to its threads)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ImportError("Dask is not installed: pip install 'subtok[dask]'") from None
    if scheduler:
        return Client(scheduler)
    n = workers or os.cpu_count() or 1
    # The Rust pool gets the worker's threads. BLAS gets one thread per worker thread, as Dask's
    # nanny does by default, pinned here so that embed() computes what SentenceEncoder.encode
    # computes under one BLAS thread whatever the Dask configuration (OpenBLAS's SGEMM splits
    # the work, and so rounds, differently at other thread counts).
    env = {"RAYON_NUM_THREADS": str(threads_per_worker), **{v: "1" for v in _BLAS_THREAD_VARS}}
    cluster = LocalCluster(n_workers=n, threads_per_worker=threads_per_worker, processes=True,
                           dashboard_address=None, env=env)
    return Client(cluster)


def _dask_map(client: Any) -> Callable[..., Iterator[Any]]:
    """A mapper for the per-block functions: ``fn(shared, item, index, *args)`` on workers, the
    ``shared`` object (tokenizer, model spec) sent once to every worker; results as completed."""
    from distributed import as_completed

    def run(fn: Callable[..., Any], shared: Any, todo: Sequence[Tuple[int, Any]], *args: Any) -> Iterator[Any]:
        if not todo:
            return
        [shared_f] = client.scatter([shared], broadcast=True, hash=False)
        futs = [client.submit(fn, shared_f, item, i, *args, pure=False) for i, item in todo]
        for fut in as_completed(futs, loop=client.loop):
            yield fut.result()
            fut.release()

    return run


# ---------------------------------------------------------------------------------- training
_COUNT_OPTIONS = ("lowercase", "pre_tokenizer")


def count_words(
    paths: Any,
    model: str = "bpe",
    *,
    client: Any = None,
    blocksize: int = DEFAULT_TRAIN_BLOCKSIZE,
    show_progress: bool = True,
    lowercase: Optional[bool] = None,
    pre_tokenizer: Optional[str] = None,
) -> WordCounts:
    """:func:`subtok.count_words` of files, one task per block, merged by tree reduction."""
    blocks = file_blocks(paths if not isinstance(paths, (str, os.PathLike)) else [paths], blocksize)
    opts = {"model": model, "lowercase": lowercase, "pre_tokenizer": pre_tokenizer}
    c = _resolve_client(client)
    if c is None:
        return count_file_ranges(blocks, **opts)
    if not blocks:
        return count_file_ranges([], **opts)
    from distributed import as_completed

    bar = ProgressBar(len(blocks), "count words (blocks)", enabled=None if show_progress else False)
    futs = [c.submit(count_file_ranges, [b], pure=False, **opts) for b in blocks]
    leaves = set(f.key for f in futs)
    pending = None
    try:
        ac = as_completed(futs, loop=c.loop)
        for f in ac:  # pairwise merges as results arrive: a tree reduction on the workers
            if f.key in leaves:
                bar.update(1)
            if f.status == "error":
                f.result()  # raises the worker's exception here
            if pending is None:
                pending = f
            else:
                ac.add(c.submit(operator.add, pending, f, pure=False))
                pending = None
        assert pending is not None
        return pending.result()
    finally:
        bar.close()


def train(
    paths: Any,
    model: Optional[str] = None,
    vocab_size: int = 30000,
    client: Any = None,
    blocksize: int = DEFAULT_TRAIN_BLOCKSIZE,
    *,
    show_progress: bool = True,
    **options: Any,
) -> Any:
    """Train like ``subtok.train(paths, model=..., vocab_size=..., **options)`` with the counting
    spread over Dask workers: each counts blocks of ``blocksize`` bytes (memory: its block's chunks
    plus its counts), the :class:`~subtok.WordCounts` merge pairwise on the workers, and the
    merges are learned here. The result's ``to_str()`` is byte-identical to ``subtok.train`` on
    the same files with the same options."""
    from subtok.training import train as _train

    unknown = set(options) - {"min_frequency", "special_tokens", "limit_alphabet", "progress_callback",
                              "score", "unk_token", *_COUNT_OPTIONS}
    if unknown:
        raise TypeError(f"unexpected option(s): {', '.join(sorted(unknown))}")
    counts = count_words(
        paths, model or "bpe", client=client, blocksize=blocksize, show_progress=show_progress,
        **{k: options.get(k) for k in _COUNT_OPTIONS},
    )
    return _train(counts, model=model, vocab_size=vocab_size, show_progress=show_progress, **options)


# ---------------------------------------------------------------------------------- corpus encoding
def encode_corpus(
    paths: Any,
    tokenizer: Any,
    out_dir: PathLike,
    client: Any = None,
    doc_sep: str = "line",
    add_special_tokens: bool = False,
    append_eos: Union[None, str, int] = None,
    *,
    blocksize: int = _corpus.DEFAULT_BLOCKSIZE,
    show_progress: bool = True,
) -> Dict[str, Any]:
    """:func:`subtok.corpus.encode_corpus` with the blocks encoded on Dask workers (the tokenizer
    is sent to each worker once). Same shards, byte for byte, as the sequential run."""
    c = _resolve_client(client)
    return _corpus.encode_corpus(
        paths, tokenizer, out_dir, doc_sep=doc_sep, add_special_tokens=add_special_tokens,
        append_eos=append_eos, blocksize=blocksize, show_progress=show_progress,
        _map=None if c is None else _dask_map(c),
    )


# ---------------------------------------------------------------------------------- pretraining data
def pretraining_data(paths: Any, tokenizer: Any, out_dir: PathLike, client: Any = None, **options: Any) -> Dict[str, Any]:
    """:func:`subtok.pretraining.write_pretraining_shards` with the shards made on Dask workers."""
    from subtok.pretraining import write_pretraining_shards

    c = _resolve_client(client)
    return write_pretraining_shards(paths, tokenizer, out_dir, _map=None if c is None else _dask_map(c), **options)


# ---------------------------------------------------------------------------------- embeddings
_ENCODERS: Dict[Optional[str], Any] = {}
_LOADS = [0]


def _encoder(model: Any) -> Any:
    """The SentenceEncoder of ``model`` (a folder path or None = default), loaded once per process."""
    from subtok.embeddings import SentenceEncoder

    if isinstance(model, SentenceEncoder):
        return model
    key = None if model is None else os.fspath(model)
    enc = _ENCODERS.get(key)
    if enc is None:
        enc = SentenceEncoder.from_pretrained(key)
        _ENCODERS[key] = enc
        _LOADS[0] += 1
    return enc


def _encoder_loads() -> int:
    """How many times this process loaded an encoder (for tests and diagnostics)."""
    return _LOADS[0]


def embed_block(model: Any, block: Tuple[str, int, int], index: int, out_dir: str, settings: Dict[str, Any]) -> Dict[str, Any]:
    """Embed the documents of one block into ``emb-NNNNNN.npy`` (float32, written atomically)."""
    path, start, end = block
    texts = ["\n".join(d) for d in _corpus.read_block(path, start, end, settings["doc_sep"])]
    enc = _encoder(model)
    vecs = enc.encode(texts, batch_size=settings["batch_size"], normalize=settings["normalize"],
                      show_progress_bar=False) if texts else np.zeros((0, enc.dim), dtype=np.float32)
    name = f"emb-{index:06d}.npy"
    _corpus.save_npy_atomic(os.path.join(out_dir, name), np.ascontiguousarray(vecs, dtype=np.float32))
    return {"index": index, "source": path, "start": start, "end": end, "file": name, "rows": int(len(vecs))}


def embed(
    paths: Any,
    model: Any = None,
    out_dir: Optional[PathLike] = None,
    client: Any = None,
    batch_size: int = 32,
    *,
    doc_sep: str = "line",
    normalize: bool = True,
    blocksize: int = 4 << 20,
    show_progress: bool = True,
) -> Dict[str, Any]:
    """Sentence embeddings of every document (non-blank line by default) of ``paths``, written as
    float32 ``emb-NNNNNN.npy`` shards in input order plus ``manifest.json`` in ``out_dir``.

    ``model``: a model folder, ``None`` (all-MiniLM-L6-v2) or a loaded ``SentenceEncoder``. A
    folder is loaded once per worker process and reused by all its tasks. Returns the manifest.

    The vectors are those of ``SentenceEncoder.encode`` on each block's texts with
    ``batch_size``, bit for bit when both run with the same BLAS thread count on the same kind
    of CPU: workers of :func:`local_client` (and Dask's nanny by default) use one BLAS thread, so
    compare with ``OPENBLAS_NUM_THREADS=1`` (or ``threadpoolctl.threadpool_limits(1)``). At
    another thread count, or with other batches, OpenBLAS's SGEMM rounds differently: the
    vectors then differ by float32 rounding (measured at most 1.3e-7 per component on unit
    vectors, all-MiniLM-L6-v2; tested below 1e-6)."""
    if out_dir is None:
        raise TypeError("embed() needs out_dir")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if doc_sep not in ("line", "blank"):
        raise ValueError(f"doc_sep must be 'line' or 'blank', got {doc_sep!r}")
    files = _corpus._check_paths(paths)
    blocks = file_blocks(files, blocksize)
    out = os.fspath(out_dir)
    os.makedirs(out, exist_ok=True)
    c = _resolve_client(client)
    if c is None or not isinstance(model, (str, os.PathLike, type(None))):
        model = _encoder(model)  # load once here; a loaded encoder travels pickled
    settings = {"doc_sep": doc_sep, "batch_size": batch_size, "normalize": bool(normalize)}
    todo = list(enumerate(blocks))
    entries: List[Optional[Dict[str, Any]]] = [None] * len(blocks)
    bar = ProgressBar(len(blocks), "embed", enabled=None if show_progress else False)
    try:
        run = (embed_block(model, b, i, out, settings) for i, b in todo) if c is None else \
            _dask_map(c)(embed_block, None if model is None else (os.fspath(model) if isinstance(model, (str, os.PathLike)) else model), todo, out, settings)
        for e in run:
            entries[e["index"]] = e
            bar.update(1)
    finally:
        bar.close()
    manifest = {"format": "subtok-embeddings", "version": 1, "rows": sum(e["rows"] for e in entries if e),
                "dtype": "float32", "shards": entries, **settings}
    _corpus.write_json_atomic(os.path.join(out, _corpus.MANIFEST), manifest)
    return manifest


def load_embeddings(out_dir: PathLike) -> np.ndarray:
    """All vectors written by :func:`embed`, in input order, as one array."""
    import json

    with open(os.path.join(os.fspath(out_dir), _corpus.MANIFEST), encoding="utf-8") as f:
        m = json.load(f)
    parts = [np.load(os.path.join(os.fspath(out_dir), e["file"])) for e in m["shards"]]
    return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)
