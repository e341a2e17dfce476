"""Train tokenizers: byte-level BPE and WordPiece (HF's count score by default, or likelihood-based learners).

>>> import subtok
>>> tok = subtok.train(["corpus.txt"], model="wordpiece", vocab_size=30000)   # doctest: +SKIP
>>> tok.save("tokenizer.json")                                                # doctest: +SKIP

Counting and merging run in Rust on all cores, with the GIL released. The result is
deterministic: the same corpus and settings give the same ``tokenizer.json`` byte for byte,
whatever the thread count (ties are broken by a documented rule, never by hash order):
highest score, then highest pair count, then the smallest ``(left id, right id)``.

Vocabulary order: special tokens, the alphabet (by code point; WordPiece: plain characters,
then ``##`` continuations), then merged tokens in the order they were learned.

Choosing a WordPiece learner (``score=``). Held-out compression on the shared corpora (train on
90% of the lines, count tokens on the other 10%; ``benches/bench_wordpiece_vocab.py``, vocab
30,000 / 8,000, tokens against HF's ``WordPieceTrainer``):

* ``"count"`` (default): merge the most frequent pair (HF's ``WordPieceTrainer``): -0.0% / +0.0%,
  the best of the four, and the fastest (1.3 s vs HF's 5.2 s).
* ``"gain"``: the rise of the corpus log-likelihood, freq(ab)·ln(freq(ab)·N/(freq(a)·freq(b))):
  the WordPiece likelihood criterion weighted by frequency: +0.9% / +1.3%.
* ``"topdown"``: tensorflow-text's ``bert_vocab_from_dataset`` learner (whole words and word
  endings above a count threshold found by binary search). It stops short of the target size
  when too few pieces pass the threshold (21,797 of 30,000 here): +4.7% / +2.9%.
* ``"likelihood"``: freq(ab)/(freq(a)·freq(b)) alone favours pairs of mid-frequency parts and
  leaves short frequent words split: +131% / +182%.

All four give a real WordPiece vocabulary (``##`` continuations, every character kept) that HF
tokenizers and BERT models read.
"""
from __future__ import annotations

import errno
import os
import sys
from typing import TYPE_CHECKING, Any, Callable, Iterable, List, Mapping, Optional, Sequence, Union

from subtok import _core, _progress

if TYPE_CHECKING:
    from subtok.tokenizer import Tokenizer

__all__ = ["train", "train_json", "export_vocab_files", "default_corpus", "ProgressCallback"]

#: ``callback(stage, done, total)``; stages are "count words" (bytes), "count pairs" (words)
#: and "merge" (new tokens). Called at most ~5 times a second, plus at each stage's start and end.
ProgressCallback = Callable[[str, int, int], Any]

PathLike = Union[str, "os.PathLike[str]"]
Corpus = Union[PathLike, Sequence[PathLike], Iterable[Union[str, Sequence[str]]], Mapping[str, int]]

_BATCH_CHARS = 1 << 20
_FILE_SUFFIXES = (".txt", ".text", ".json", ".jsonl", ".csv", ".tsv", ".md", ".raw", ".tokens")


def default_corpus() -> List[str]:
    """A corpus every Python has: the topic texts of ``pydoc_data.topics`` (~0.5 MB of English)."""
    from pydoc_data.topics import topics

    return [topics[k] for k in sorted(topics)]


def _is_pathlike(x: Any) -> bool:
    return isinstance(x, os.PathLike)


def _classify(corpus: Any, files: Optional[bool]) -> str:
    if isinstance(corpus, Mapping):
        return "counts"
    if isinstance(corpus, (str, bytes)) or _is_pathlike(corpus):
        if isinstance(corpus, bytes):
            raise TypeError("corpus must be a path, a list of paths, an iterable of str or a {word: count} mapping, not bytes")
        return "files" if files is not False else "texts"
    if files is not None:
        return "files" if files else "texts"
    if isinstance(corpus, (list, tuple)):
        if corpus and all(_is_pathlike(x) for x in corpus):
            return "files"
        if corpus and all(isinstance(x, str) for x in corpus):
            # A list of str is a list of files if any entry names an existing path and none
            # holds a line break (HF's `train(files)` habit); otherwise it is a list of texts.
            if any("\n" not in x and os.path.exists(x) for x in corpus):
                return "files"
            # Names that look like text files (no whitespace, a text-file suffix) are files too,
            # so a mistyped path raises FileNotFoundError instead of being trained on as text.
            if all(not any(c.isspace() for c in x) and x.lower().endswith(_FILE_SUFFIXES) for x in corpus):
                return "files"
    return "texts"


def _feed(trainer: "_core.Trainer", corpus: Any, files: Optional[bool], progress: Optional[ProgressCallback], bar: bool) -> None:
    kind = _classify(corpus, files)
    if kind == "counts":
        trainer.feed_counts(dict(corpus))
        return
    if kind == "files":
        paths = [corpus] if isinstance(corpus, str) or _is_pathlike(corpus) else list(corpus)
        for p in paths:
            if not isinstance(p, str) and not _is_pathlike(p):
                raise TypeError(f"file paths must be str or os.PathLike, got {type(p).__name__}")
            if os.path.isdir(p):
                raise IsADirectoryError(errno.EISDIR, "training corpus paths must be files, not a directory", os.fspath(p))
        trainer.feed_files([os.fspath(p) for p in paths], progress, bar)
        return
    if isinstance(corpus, str):
        corpus = [corpus]
    batch: List[str] = []
    size = 0
    for item in corpus:
        if isinstance(item, str):
            items: Sequence[str] = (item,)
        elif isinstance(item, (list, tuple)):
            items = item
        else:
            raise TypeError(f"corpus items must be str (or lists of str), got {type(item).__name__}")
        for t in items:
            if not isinstance(t, str):
                raise TypeError(f"corpus items must be str, got {type(t).__name__}")
            batch.append(t)
            size += len(t)
        if size >= _BATCH_CHARS:
            trainer.feed_texts(batch)
            batch, size = [], 0
    if batch:
        trainer.feed_texts(batch)


def train_json(
    corpus: Corpus,
    *,
    model: str = "bpe",
    vocab_size: int = 30000,
    min_frequency: int = 2,
    special_tokens: Optional[Sequence[str]] = None,
    limit_alphabet: Optional[int] = None,
    show_progress: bool = True,
    progress_callback: Optional[ProgressCallback] = None,
    pre_tokenizer: Optional[str] = None,
    score: Optional[str] = None,
    lowercase: Optional[bool] = None,
    unk_token: Optional[str] = None,
    files: Optional[bool] = None,
    pretty: bool = True,
) -> str:
    """Like :func:`train` but return the HF ``tokenizer.json`` text instead of a Tokenizer."""
    for name, val in (("vocab_size", vocab_size), ("min_frequency", min_frequency)):
        if isinstance(val, bool) or not isinstance(val, int):
            raise TypeError(f"{name} must be an int, got {type(val).__name__}")
    if limit_alphabet is not None and (isinstance(limit_alphabet, bool) or not isinstance(limit_alphabet, int)):
        raise TypeError(f"limit_alphabet must be an int or None, got {type(limit_alphabet).__name__}")
    if special_tokens is not None:
        if isinstance(special_tokens, str) or not all(isinstance(s, str) for s in special_tokens):
            raise TypeError("special_tokens must be a list of str")
        special_tokens = list(special_tokens)
    if progress_callback is not None and not callable(progress_callback):
        raise TypeError("progress_callback must be callable")
    trainer = _core.Trainer(
        model, vocab_size, min_frequency, special_tokens, limit_alphabet, score, lowercase, pre_tokenizer, unk_token
    )
    # On a terminal the extension draws its own bar; in a notebook (where its stderr writes are
    # not shown) the progress callback draws one from Python.
    bar = bool(show_progress) and _progress.is_terminal(sys.stderr)
    stages = None
    if show_progress and not bar and _progress.interactive(sys.stderr):
        stages = _progress.StageBars(sys.stderr, then=progress_callback)
        progress_callback = stages
    try:
        _feed(trainer, corpus, files, progress_callback, bar)
        return trainer.train(progress_callback, bar, pretty)
    finally:
        if stages is not None:
            stages.close()


def train(
    corpus: Corpus,
    *,
    model: str = "bpe",
    vocab_size: int = 30000,
    min_frequency: int = 2,
    special_tokens: Optional[Sequence[str]] = None,
    limit_alphabet: Optional[int] = None,
    show_progress: bool = True,
    progress_callback: Optional[ProgressCallback] = None,
    pre_tokenizer: Optional[str] = None,
    score: Optional[str] = None,
    lowercase: Optional[bool] = None,
    unk_token: Optional[str] = None,
    files: Optional[bool] = None,
) -> "Tokenizer":
    """Train a tokenizer and return it as a ready :class:`subtok.Tokenizer`.

    Args:
        corpus: a file path, a list of file paths, any iterable of str (or of lists of str;
            each str is one sequence), or a mapping ``{word: count}`` whose words are used
            verbatim (no normalization or splitting). A list of str counts as file paths when
            one of them is an existing file, or when all look like text-file names (no
            whitespace, a suffix such as ``.txt``); pass ``files=True/False`` to decide explicitly.
            Files are streamed and counted in parallel, line by line; memory follows the
            number of unique words.
        model: ``"bpe"`` (byte-level BPE, GPT-2 split; saved as HF ``ByteLevelBPETokenizer``
            would save it) or ``"wordpiece"`` (BERT normalization and split).
        vocab_size: target size including special tokens and the alphabet.
        min_frequency: pairs seen fewer times are never merged.
        special_tokens: placed first in the vocabulary. Default: none for BPE,
            ``[PAD] [UNK] [CLS] [SEP] [MASK]`` for WordPiece.
        limit_alphabet: WordPiece: keep the most frequent characters only (default 1000, as HF);
            byte-level BPE always has its 256 byte symbols.
        show_progress: draw a progress bar (reading/counting, pairs, merging) on stderr when it
            is a terminal or a Jupyter kernel's stream; quiet otherwise (logs, pipes).
        progress_callback: optional ``callback(stage, done, total)``, called about twice a second.
        pre_tokenizer: BPE: ``"gpt2"`` (default), ``"cl100k"``, ``"whitespace"``, ``"bert"``;
            WordPiece: ``"bert"`` (default) or ``"whitespace"``.
        score: ``"count"`` (default; for WordPiece it reproduces HF's ``WordPieceTrainer``),
            ``"gain"`` (count·log-likelihood ratio), ``"likelihood"`` (freq(ab)/(freq(a)·freq(b)),
            bert-spec §4) or, WordPiece only, ``"topdown"`` (tensorflow-text's learner). See the
            module docstring for the compression each gives.
        lowercase: default True for WordPiece (uncased BERT: lowercase + strip accents),
            False for BPE (True adds a ``Lowercase`` normalizer).
        unk_token: WordPiece unknown token (default ``[UNK]``; must be a special token).

    Raises:
        ValueError: empty corpus, ``vocab_size`` below alphabet + specials, invalid option.
        FileNotFoundError / OSError: a missing or unreadable file (named in the message).
        subtok.TokenizerFileError: a file that is not UTF-8 (a ``ValueError``).
    """
    text = train_json(
        corpus,
        model=model,
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=special_tokens,
        limit_alphabet=limit_alphabet,
        show_progress=show_progress,
        progress_callback=progress_callback,
        pre_tokenizer=pre_tokenizer,
        score=score,
        lowercase=lowercase,
        unk_token=unk_token,
        files=files,
        pretty=False,
    )
    from subtok.tokenizer import Tokenizer

    return Tokenizer.from_str(text)


def export_vocab_files(tokenizer: Any, directory: PathLike, prefix: Optional[str] = None) -> List[str]:
    """Write the classic vocabulary files of a tokenizer into ``directory``.

    WordPiece gives ``vocab.txt``; BPE gives ``vocab.json`` + ``merges.txt`` (named
    ``{prefix}-vocab.json`` etc. with a prefix, as HF does). ``tokenizer`` is a
    :class:`subtok.Tokenizer`, a ``tokenizer.json`` text, or a path to one. Each file is
    written atomically; ``directory`` is created if missing. Returns the paths written.
    """
    if isinstance(tokenizer, str) and tokenizer.lstrip().startswith("{"):
        text = tokenizer
    elif isinstance(tokenizer, (str, os.PathLike)):
        with open(os.fspath(tokenizer), encoding="utf-8") as f:
            text = f.read()
    elif hasattr(tokenizer, "to_str"):
        text = tokenizer.to_str()
    else:
        raise TypeError(f"expected a Tokenizer, tokenizer.json text or path, got {type(tokenizer).__name__}")
    os.makedirs(os.fspath(directory), exist_ok=True)
    return list(_core.train_export_vocab_files(text, os.fspath(directory), prefix))


def save_json(text: str, path: PathLike) -> None:
    """Write a ``tokenizer.json`` text atomically (a failed write leaves any old file untouched)."""
    _core.train_write_atomic(os.fspath(path), text)
