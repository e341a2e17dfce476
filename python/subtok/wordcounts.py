"""Word counts that travel: count a corpus in pieces (processes, machines), add the pieces up, train.

>>> import subtok
>>> a = subtok.count_words(["part1.txt"], model="bpe")        # doctest: +SKIP
>>> b = subtok.count_words(["part2.txt"], model="bpe")        # doctest: +SKIP
>>> tok = subtok.train(a + b, vocab_size=30000)               # doctest: +SKIP

Counting runs in Rust with exactly the normalization and pre-tokenizer :func:`subtok.train` uses
(the same code), so training on the sum of the counts of disjoint parts of a corpus gives the
same ``tokenizer.json``, byte for byte, as training on the whole corpus at once.
"""
from __future__ import annotations

import os
import sys
from typing import Any, Iterable, List, Optional, Sequence, Tuple, Union

from subtok import _core, _progress

__all__ = ["WordCounts", "count_words"]

PathLike = Union[str, "os.PathLike[str]"]
#: A byte range ``(path, start, end)`` of a file: the lines that start in ``[start, end)``.
FileRange = Tuple[PathLike, int, int]


class WordCounts:
    """Counts of the normalized, pre-tokenized words of a corpus, plus the settings that made them.

    Compact (one Rust hash map; pickles to a deterministic varint byte string), immutable and
    mergeable: ``a + b`` and ``sum([a, b, c])`` add counts (the settings must match, else
    ``ValueError``). ``len()`` is the number of distinct words, :attr:`total` the number of words.
    Make one with :func:`count_words`; train with ``subtok.train(counts, vocab_size=...)``.
    """

    __slots__ = ("_impl",)

    def __init__(self, impl: Any) -> None:
        if not isinstance(impl, _core.WordCounts):
            raise TypeError("use subtok.count_words(...) to make WordCounts")
        self._impl = impl

    @property
    def total(self) -> int:
        """Sum of all counts (the number of words counted)."""
        return int(self._impl.total)

    @property
    def model(self) -> str:
        """``"wordpiece"`` (BERT normalizer) or ``"bpe"``: the model these counts can train."""
        return "wordpiece" if self._impl.config[0] == "bert" else "bpe"

    @property
    def lowercase(self) -> bool:
        return bool(self._impl.config[1])

    @property
    def pre_tokenizer(self) -> str:
        return str(self._impl.config[2])

    def most_common(self, n: Optional[int] = None) -> List[Tuple[str, int]]:
        """``(word, count)`` pairs, most frequent first (ties by word), like ``Counter.most_common``."""
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
            raise ValueError(f"n must be a non-negative int or None, got {n!r}")
        return self._impl.most_common(n)

    def to_dict(self) -> dict:
        """A plain ``{word: count}`` dict."""
        return dict(self._impl.most_common(None))

    def to_bytes(self) -> bytes:
        """The compact byte form (settings + words sorted by bytes, varint lengths and counts)."""
        return self._impl.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> "WordCounts":
        """Read :meth:`to_bytes` output (``ValueError`` if it is not word counts data)."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"expected bytes, got {type(data).__name__}")
        return cls(_core.WordCounts.from_bytes(bytes(data)))

    def __len__(self) -> int:
        return len(self._impl)

    def __add__(self, other: Any) -> "WordCounts":
        if isinstance(other, WordCounts):
            return WordCounts(self._impl.merged(other._impl))
        if isinstance(other, int) and not isinstance(other, bool) and other == 0:
            return self  # sum(...) starts from 0
        return NotImplemented

    __radd__ = __add__

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, WordCounts):
            return NotImplemented
        return bool(self._impl.equals(other._impl))

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> Tuple[Any, Tuple[bytes]]:
        return (WordCounts.from_bytes, (self.to_bytes(),))

    def __copy__(self) -> "WordCounts":
        return self  # immutable

    def __deepcopy__(self, memo: Any) -> "WordCounts":
        return self

    def __repr__(self) -> str:
        return (
            f"subtok.WordCounts({len(self)} words, total={self.total}, model={self.model!r}, "
            f"lowercase={self.lowercase}, pre_tokenizer={self.pre_tokenizer!r})"
        )


def _counting_trainer(model: str, lowercase: Optional[bool], pre_tokenizer: Optional[str]) -> Any:
    """A ``_core.Trainer`` used only to count (vocab_size and specials never matter for counting)."""
    if model not in ("bpe", "wordpiece"):
        raise ValueError(f"model must be 'bpe' or 'wordpiece', got {model!r}")
    return _core.Trainer(model, 1, 0, None, None, None, lowercase, pre_tokenizer, None)


def count_words(
    source: Any,
    model: str = "bpe",
    *,
    lowercase: Optional[bool] = None,
    pre_tokenizer: Optional[str] = None,
    files: Optional[bool] = None,
    show_progress: bool = True,
) -> WordCounts:
    """Count the words of ``source`` as :func:`subtok.train` would, without training.

    ``source`` is what :func:`subtok.train` accepts: a path, a list of paths, or an iterable of
    str (each str one sequence); ``files`` decides explicitly as there. ``model``,
    ``lowercase`` and ``pre_tokenizer`` are the pre-tokenization options of :func:`subtok.train`
    (same defaults). Files are streamed line by line on all cores.
    """
    from subtok.training import _feed

    trainer = _counting_trainer(model, lowercase, pre_tokenizer)
    _feed(trainer, source, files, None, bool(show_progress) and _progress.is_terminal(sys.stderr))
    return WordCounts(trainer.take_word_counts())


def count_file_ranges(
    ranges: Sequence[FileRange],
    model: str = "bpe",
    *,
    lowercase: Optional[bool] = None,
    pre_tokenizer: Optional[str] = None,
) -> WordCounts:
    """Count the lines that start in byte ranges ``(path, start, end)`` of files.

    Ranges that tile a file count each of its lines exactly once, so the counts of a file's
    blocks add up to ``count_words(file)``. This is what distributed training runs per block.
    """
    trainer = _counting_trainer(model, lowercase, pre_tokenizer)
    checked = []
    for r in ranges:
        if not isinstance(r, (tuple, list)) or len(r) != 3:
            raise TypeError("ranges must be (path, start, end) tuples")
        path, start, end = r
        if isinstance(start, bool) or isinstance(end, bool) or not isinstance(start, int) or not isinstance(end, int):
            raise TypeError("range start and end must be ints")
        if start < 0 or end < start:
            raise ValueError(f"invalid byte range [{start}, {end})")
        checked.append((os.fspath(path), start, end))
    trainer.feed_file_ranges(checked, None, False)
    return WordCounts(trainer.take_word_counts())


def file_blocks(paths: Iterable[PathLike], blocksize: int) -> List[Tuple[str, int, int]]:
    """Cut files into byte ranges of ``blocksize`` (the last one of a file shorter), in order.

    Raises ``FileNotFoundError`` / ``IsADirectoryError`` for a bad path. Empty files give no block.
    """
    if isinstance(blocksize, bool) or not isinstance(blocksize, int) or blocksize < 1:
        raise ValueError(f"blocksize must be a positive int, got {blocksize!r}")
    if isinstance(paths, (str, bytes)) or isinstance(paths, os.PathLike):
        paths = [paths]  # type: ignore[list-item]
    blocks: List[Tuple[str, int, int]] = []
    for p in paths:
        if not isinstance(p, (str, os.PathLike)):
            raise TypeError(f"file paths must be str or os.PathLike, got {type(p).__name__}")
        path = os.fspath(p)
        if os.path.isdir(path):
            raise IsADirectoryError(f"{path}: is a directory, not a file")
        size = os.stat(path).st_size  # FileNotFoundError names the path
        blocks.extend((path, s, min(s + blocksize, size)) for s in range(0, size, blocksize))
    return blocks
