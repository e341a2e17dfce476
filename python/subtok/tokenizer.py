"""The public :class:`Tokenizer`: one typed facade over the Rust tokenizers in ``subtok._core``.

WordPiece (BERT) and byte-level BPE share this API, so code written against HF tokenizers'
``Tokenizer`` (``encode``, ``encode_batch``, ``decode``, ``enable_truncation``...) works unchanged.
"""
from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, AbstractSet, Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

if TYPE_CHECKING:
    import numpy as np
else:

    class _LazyNumpy:
        """``np``, imported on first attribute use: ``import subtok`` does not load numpy."""

        def __getattr__(self, name: str) -> Any:
            import numpy

            return getattr(numpy, name)

    np = _LazyNumpy()

from subtok import _core
from subtok._core import Encoding

PathLike = Union[str, "os.PathLike[str]"]
InputSequence = Union[str, Tuple[str, str], List[str]]
SpecialArg = Union[None, str, AbstractSet[str], Sequence[str]]


def _is_bpe(impl: Any) -> bool:
    return isinstance(impl, _core.BpeTokenizer)


#: The presets of :meth:`Tokenizer.from_tiktoken` (tiktoken encoding names; each runs a
#: hand-written pre-tokenizer).
TIKTOKEN_PRESETS = ("gpt2", "r50k_base", "p50k_base", "p50k_edit", "cl100k_base", "o200k_base", "o200k_harmony")

#: transformers' special-token attributes, in ``special_tokens_map`` order.
SPECIAL_TOKEN_NAMES = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
_BERT_DEFAULTS = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
                  "mask_token": "[MASK]"}


class UnknownTokenError(KeyError, IndexError):
    """A token id that is not in the vocabulary: a ``KeyError`` as in tiktoken (and an
    ``IndexError``, what subtok raised before)."""

    def __str__(self) -> str:  # KeyError would show the repr of the message
        return str(self.args[0]) if self.args else ""


def _fix_surrogates(text: str) -> str:
    """tiktoken's handling of a ``str`` that is not valid Unicode: a surrogate pair is joined into
    its character and a lone surrogate becomes U+FFFD."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


class AddedToken:
    """A token to add with :meth:`Tokenizer.add_tokens` / :meth:`Tokenizer.add_special_tokens`,
    with HF tokenizers' matching options.

    ``single_word``: match only when not glued to a word character; ``lstrip`` / ``rstrip``:
    absorb the whitespace on that side; ``normalized``: match the normalized text (default:
    ``True`` unless ``special``); ``special``: skipped by ``decode(skip_special_tokens=True)``.
    """

    _FIELDS = ("content", "single_word", "lstrip", "rstrip", "normalized", "special")

    def __init__(
        self,
        content: str,
        single_word: bool = False,
        lstrip: bool = False,
        rstrip: bool = False,
        normalized: Optional[bool] = None,
        special: bool = False,
    ) -> None:
        if not isinstance(content, str):
            raise TypeError(f"AddedToken content must be a str, not {type(content).__name__}")
        if not content:
            raise ValueError("AddedToken content must not be empty")
        self.content = content
        self.single_word = bool(single_word)
        self.lstrip = bool(lstrip)
        self.rstrip = bool(rstrip)
        self.normalized = (not special) if normalized is None else bool(normalized)
        self.special = bool(special)

    def __getstate__(self) -> Dict[str, Any]:
        return {k: getattr(self, k) for k in self._FIELDS}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        for k in self._FIELDS:
            setattr(self, k, state[k])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AddedToken) and self.__getstate__() == other.__getstate__()

    def __hash__(self) -> int:
        return hash(self.content)

    def __str__(self) -> str:
        return self.content

    def __repr__(self) -> str:
        return (f"AddedToken({self.content!r}, single_word={self.single_word}, lstrip={self.lstrip}, "
                f"rstrip={self.rstrip}, normalized={self.normalized}, special={self.special})")


def _batch_items(inputs: Any) -> Any:
    """HF accepts a 2-D numpy array of ``(text, pair)`` rows (and 1-D arrays of texts)."""
    if isinstance(inputs, np.ndarray):
        if inputs.ndim == 1:
            return [str(x) for x in inputs]
        if inputs.ndim == 2 and inputs.shape[1] == 2:
            return [(str(a), str(b)) for a, b in inputs]
        raise ValueError(f"a numpy batch must be 1-D (texts) or 2-D with 2 columns (pairs), not shape {inputs.shape}")
    if isinstance(inputs, (list, tuple)) and inputs and isinstance(inputs[0], np.ndarray):
        return [tuple(str(x) for x in item) if isinstance(item, np.ndarray) else item for item in inputs]
    return inputs


class Tokenizer:
    """A trained subword tokenizer (BERT WordPiece or byte-level BPE).

    Build one with :meth:`from_file`, :meth:`from_str`, :meth:`from_vocab`, :meth:`from_tiktoken`
    or :func:`subtok.train`.
    """

    __slots__ = ("_config", "_impl", "_model_max_length", "_name", "_special", "_tiktoken_text")

    def __init__(self, impl: Any, model_max_length: Optional[int] = None) -> None:
        """Wrap a compiled tokenizer; use the ``from_*`` constructors (or :func:`subtok.train`)."""
        self._impl = impl
        self._model_max_length = model_max_length
        self._name: Optional[str] = None
        #: Loaded from tiktoken ranks: text that is not valid Unicode is fixed as tiktoken does.
        self._tiktoken_text = False
        #: transformers' special-token attributes set by a config or by the user.
        self._special: Dict[str, Optional[str]] = {}
        #: transformers' ``model_input_names`` / ``padding_side`` when a config or the user set them.
        self._config: Dict[str, Any] = {}

    @property
    def model_max_length(self) -> Optional[int]:
        """Default ``max_length`` of :meth:`__call__` (transformers' attribute; read from
        ``tokenizer_config.json`` beside the file or in the :meth:`from_pretrained` folder)."""
        return self._model_max_length

    @model_max_length.setter
    def model_max_length(self, value: Optional[int]) -> None:
        self._model_max_length = value

    # ------------------------------------------------------------------ loading / saving
    @classmethod
    def from_file(cls, path: PathLike) -> "Tokenizer":
        """Load an HF ``tokenizer.json``: any BPE, WordPiece or WordLevel pipeline (BERT WordPiece and
        plain byte-level BPE files run fused fast paths; every other file the general component
        pipeline). Unigram files are refused with an error naming the model.

        Raises ``FileNotFoundError`` if missing and :class:`subtok.TokenizerFileError` (a ``ValueError``)
        naming the file and the problem if malformed.
        """
        return cls(_core.load_tokenizer_file(os.fspath(path)), _model_max_length_beside(path))

    @classmethod
    def from_str(cls, json: str) -> "Tokenizer":
        """Load a tokenizer from the text of an HF ``tokenizer.json``."""
        return cls(_core.load_tokenizer_str(json))

    @classmethod
    def from_vocab(
        cls,
        path: PathLike,
        lowercase: bool = True,
        *,
        strip_accents: Optional[bool] = None,
        handle_chinese_chars: bool = True,
        unk_token: str = "[UNK]",
        max_input_chars_per_word: int = 100,
    ) -> "Tokenizer":
        """Build the BERT pipeline (BertNormalizer, BertPreTokenizer, WordPiece, BERT post-processor)
        from a ``vocab.txt`` (one token per line, id = line index), like ``BertWordPieceTokenizer``."""
        return cls(
            _core.WordPieceTokenizer.from_vocab(
                os.fspath(path), lowercase, strip_accents, handle_chinese_chars, unk_token, max_input_chars_per_word
            ),
            _model_max_length_beside(path),
        )

    @classmethod
    def from_tiktoken(
        cls,
        path: PathLike,
        preset: Optional[str] = None,
        special_tokens: Optional[Dict[str, int]] = None,
        *,
        pattern: Optional[str] = None,
        regex: Optional[str] = None,
    ) -> "Tokenizer":
        """Load a byte-level BPE from a ``.tiktoken`` file (``base64(token) rank`` per line).

        ``preset`` names tiktoken's pre-tokenizer: ``"gpt2"``, ``"r50k_base"``, ``"p50k_base"``,
        ``"p50k_edit"``, ``"cl100k_base"``, ``"o200k_base"`` or ``"o200k_harmony"`` (a hand-written splitter); any other
        name raises ``ValueError`` listing them. A regex must be asked for explicitly with
        ``pattern=`` (or its alias ``regex=``); tiktoken's own patterns still run the fast splitter,
        any other regex a general engine with lookarounds and possessive quantifiers.
        ``special_tokens`` maps e.g. ``"<|endoftext|>"`` to its id (see :func:`subtok.get_encoding`
        for the presets with their special tokens)."""
        if special_tokens is not None:
            if not isinstance(special_tokens, dict):
                raise TypeError(f"special_tokens must be a dict {{token: id}}, not {type(special_tokens).__name__}")
            for token, id_ in special_tokens.items():
                if not isinstance(token, str):
                    raise TypeError(f"special_tokens keys must be str, got {type(token).__name__}")
                _uint_arg(f"special_tokens[{token!r}]", id_, 2**32)
        tok = cls(_core.BpeTokenizer.from_tiktoken(os.fspath(path), _pattern_arg(preset, pattern, regex), special_tokens))
        tok._tiktoken_text = True
        return tok

    @classmethod
    def from_gpt2_files(cls, vocab: PathLike, merges: PathLike) -> "Tokenizer":
        """Load a GPT-2 style byte-level BPE from ``vocab.json`` + ``merges.txt``."""
        return cls(_core.BpeTokenizer.from_gpt2_files(os.fspath(vocab), os.fspath(merges)))

    @classmethod
    def from_pretrained(cls, identifier: PathLike, *, cache_dir: Optional[PathLike] = None, **hub_options: Any) -> "Tokenizer":
        """Load ``tokenizer.json`` (or a BERT ``vocab.txt``) from a local folder or from the offline
        Hugging Face cache (``HF_HUB_CACHE`` / ``HF_HOME`` / ``~/.cache/huggingface/hub``), as HF
        tokenizers and transformers do; never downloads (``FileNotFoundError`` lists where it
        looked). ``tokenizer_config.json`` is honoured: ``model_max_length``, ``do_lower_case`` /
        ``strip_accents`` / ``tokenize_chinese_chars`` for BERT, and the special tokens
        (``cls_token``...). Other keyword arguments of the peers (``revision``, ``token``...) are
        accepted and ignored."""
        from subtok.hub import resolve_pretrained

        unknown = set(hub_options) - _HUB_OPTIONS
        if unknown:
            raise TypeError(f"from_pretrained got unexpected keyword arguments: {', '.join(sorted(unknown))}")

        folder = resolve_pretrained(identifier, (), any_of=("tokenizer.json", "vocab.txt"), what="tokenizer",
                                    cache_dir=cache_dir)
        config = _read_json_object(os.path.join(folder, "tokenizer_config.json"))
        special_map = _read_json_object(os.path.join(folder, "special_tokens_map.json"))
        tok_json = os.path.join(folder, "tokenizer.json")
        if os.path.isfile(tok_json):
            with open(tok_json, encoding="utf-8") as f:
                text = f.read()
            text = _apply_bert_config(text, config)
            try:
                tok = cls(_core.load_tokenizer_str(text))
            except _core.TokenizerFileError as e:
                raise _core.TokenizerFileError(f"{tok_json}: {e}") from None
        else:
            lower = config.get("do_lower_case", True)
            tok = cls.from_vocab(os.path.join(folder, "vocab.txt"), lowercase=bool(lower),
                                 strip_accents=config.get("strip_accents"),
                                 handle_chinese_chars=bool(config.get("tokenize_chinese_chars", True)),
                                 unk_token=_token_str(config.get("unk_token")) or "[UNK]")
        tok.model_max_length = _valid_max_length(config.get("model_max_length"))
        names = config.get("model_input_names")
        if isinstance(names, list) and all(isinstance(n, str) for n in names):
            tok.model_input_names = names
        if config.get("padding_side") in ("left", "right"):
            tok.padding_side = config["padding_side"]
        for source in (special_map, config):
            for name in SPECIAL_TOKEN_NAMES:
                value = _token_str(source.get(name))
                if value is not None:
                    tok._special[name] = value
        return tok

    def save_pretrained(self, save_directory: PathLike) -> Tuple[str, ...]:
        """Write ``tokenizer.json``, ``tokenizer_config.json`` and ``special_tokens_map.json`` into
        ``save_directory`` (created if needed), which ``transformers.AutoTokenizer.from_pretrained``
        loads and encodes identically. Returns the paths written."""
        folder = os.fspath(save_directory)
        if os.path.isfile(folder):
            raise NotADirectoryError(f"{folder}: save_pretrained needs a folder, and this is a file")
        os.makedirs(folder, exist_ok=True)
        tok_path = os.path.join(folder, "tokenizer.json")
        self.save(tok_path)
        special = self.special_tokens_map
        config: Dict[str, Any] = {"tokenizer_class": "PreTrainedTokenizerFast", "clean_up_tokenization_spaces": False}
        if isinstance(self._impl, _core.WordPieceTokenizer):
            norm = json.loads(self.to_str()).get("normalizer") or {}
            config.update(tokenizer_class="BertTokenizerFast", do_lower_case=bool(norm.get("lowercase", True)),
                          strip_accents=norm.get("strip_accents"),
                          tokenize_chinese_chars=bool(norm.get("handle_chinese_chars", True)))
        config.update(special)
        config["padding_side"] = self.padding_side
        if "model_input_names" in self._config:
            config["model_input_names"] = self.model_input_names
        config["model_max_length"] = self.model_max_length if self.model_max_length is not None else int(1e30)
        written = [tok_path]
        for name, obj in (("tokenizer_config.json", config), ("special_tokens_map.json", special)):
            path = os.path.join(folder, name)
            _core.train_write_atomic(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
            written.append(path)
        return tuple(written)

    def save(self, path: PathLike, pretty: bool = True) -> None:
        """Write an HF ``tokenizer.json`` that HF tokenizers loads and encodes identically.
        The write is atomic: a failed save leaves any existing file untouched."""
        self._impl.save(os.fspath(path), pretty)

    def to_str(self, pretty: bool = False) -> str:
        """The HF ``tokenizer.json`` text of this tokenizer."""
        return self._impl.to_str(pretty)

    # ------------------------------------------------------------------ encoding
    def encode(
        self,
        sequence: Union[str, Sequence[str]],
        pair: Optional[Union[str, Sequence[str]]] = None,
        is_pretokenized: bool = False,
        add_special_tokens: bool = True,
        *,
        allowed_special: SpecialArg = None,
        disallowed_special: SpecialArg = "all",
    ) -> Encoding:
        """Encode one text (or a text pair). Stored truncation and padding settings apply, as in HF.

        ``is_pretokenized=True`` takes lists of words instead (HF semantics: each word is encoded
        on its own, word ids are the word indexes and offsets are relative to each word).

        BPE only: ``allowed_special`` / ``disallowed_special`` follow tiktoken. By default a special
        token (e.g. ``<|endoftext|>``) found in the text raises ``ValueError``; ``allowed_special="all"``
        (or a set of tokens) encodes it as the special id; ``disallowed_special=()`` encodes it as
        plain text. A ``str`` that is not valid Unicode (lone surrogates) raises
        ``UnicodeEncodeError``, a ``ValueError``, as in HF tokenizers; tokenizers built from tiktoken
        ranks (:meth:`from_tiktoken`, :func:`subtok.get_encoding`) fix it as tiktoken does instead (a
        surrogate pair becomes its character, a lone surrogate U+FFFD; offsets index the fixed text)."""
        impl = self._impl
        if is_pretokenized:
            if _is_bpe(impl):
                return impl.encode_pretokenized(sequence, pair, add_special_tokens, allowed_special, disallowed_special)
            return impl.encode_pretokenized(sequence, pair, add_special_tokens)
        if _is_bpe(impl):
            try:
                return impl.encode(sequence, pair, add_special_tokens, allowed_special, disallowed_special)
            except UnicodeEncodeError:
                if not self._tiktoken_text:
                    raise
                sequence = _fix_surrogates(sequence) if isinstance(sequence, str) else sequence
                pair = _fix_surrogates(pair) if isinstance(pair, str) else pair
                return impl.encode(sequence, pair, add_special_tokens, allowed_special, disallowed_special)
        return impl.encode(sequence, pair, add_special_tokens)

    def encode_batch(
        self,
        inputs: Any,
        is_pretokenized: bool = False,
        add_special_tokens: bool = True,
        *,
        allowed_special: SpecialArg = None,
        disallowed_special: SpecialArg = "all",
    ) -> List[Encoding]:
        """Encode many texts or ``(text, pair)`` tuples in parallel (rayon; honours ``RAYON_NUM_THREADS``).

        As in HF, ``inputs`` may be a 2-D numpy array of ``(text, pair)`` rows, and with
        ``is_pretokenized=True`` each item is a list of words (or a pair of such lists)."""
        items = _batch_items(inputs)
        if is_pretokenized:
            out = []
            for item in items:
                a, b = (item[0], item[1]) if isinstance(item, tuple) else (item, None)
                out.append(self.encode(a, b, True, add_special_tokens, allowed_special=allowed_special,
                                       disallowed_special=disallowed_special))
            return out
        if _is_bpe(self._impl):
            try:
                return self._impl.encode_batch(items, add_special_tokens, allowed_special, disallowed_special)
            except UnicodeEncodeError:
                if not self._tiktoken_text:
                    raise
                items = [tuple(map(_fix_surrogates, x)) if isinstance(x, tuple) else _fix_surrogates(x) for x in items]
                return self._impl.encode_batch(items, add_special_tokens, allowed_special, disallowed_special)
        return self._impl.encode_batch(items, add_special_tokens)

    def encode_batch_flat(
        self,
        inputs: Sequence[str],
        add_special_tokens: bool = False,
        *,
        allowed_special: SpecialArg = None,
        disallowed_special: SpecialArg = "all",
        truncate: bool = True,
    ) -> Tuple[np.ndarray, np.ndarray]:
        """Encode many texts into one flat ``uint32`` id array plus an ``int64`` array of per-text lengths.

        No per-token Python objects are made. Stored truncation applies unless ``truncate=False``
        (e.g. to see full lengths); padding never does."""
        if _is_bpe(self._impl):
            try:
                return self._impl.encode_batch_flat(inputs, add_special_tokens, allowed_special, disallowed_special, truncate)
            except UnicodeEncodeError:
                if not self._tiktoken_text:
                    raise
                inputs = [_fix_surrogates(t) if isinstance(t, str) else t for t in inputs]
                return self._impl.encode_batch_flat(inputs, add_special_tokens, allowed_special, disallowed_special, truncate)
        return self._impl.encode_batch_flat(inputs, add_special_tokens, truncate)

    def post_process(self, encoding: Encoding, pair: Optional[Encoding] = None, add_special_tokens: bool = True) -> Encoding:
        """HF ``post_process``: stored truncation, the special-token template (BERT's ``[CLS] A [SEP] B
        [SEP]``; BPE adds none) and stored padding, applied to encodings made with
        ``add_special_tokens=False``."""
        return self._impl.post_process(encoding, pair, add_special_tokens)

    def count_tokens(self, text: str, *, allowed_special: SpecialArg = None, disallowed_special: SpecialArg = "all") -> int:
        """Number of tokens ``encode(text)`` gives, without building the id list (BPE only)."""
        impl = self._bpe("count_tokens")
        try:
            return impl.count_tokens(text, allowed_special, disallowed_special)
        except UnicodeEncodeError:
            if not self._tiktoken_text:
                raise
            return impl.count_tokens(_fix_surrogates(text), allowed_special, disallowed_special)

    def decode_bytes(self, ids: Sequence[int]) -> bytes:
        """The raw bytes of ``ids`` (BPE only). Unlike :meth:`decode`, ids that end inside a UTF-8
        character are returned exactly instead of as U+FFFD. Unknown ids raise
        :class:`UnknownTokenError` (a ``KeyError``, as in tiktoken)."""
        impl = self._bpe("decode_bytes")
        with _unknown_ids():
            return impl.decode_bytes(ids)

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True, *, errors: str = "replace") -> str:
        """Turn ids back into text (WordPiece joins ``##`` pieces; BPE decodes bytes).

        BPE: bytes that are not valid UTF-8 (ids ending inside a character) follow ``errors`` as in
        tiktoken and ``bytes.decode``: ``"replace"`` (U+FFFD, the default), ``"strict"``
        (``UnicodeDecodeError``), ``"ignore"``...; an unknown id raises :class:`UnknownTokenError`
        (a ``KeyError``)."""
        if not _is_bpe(self._impl):
            return self._impl.decode(ids, skip_special_tokens)
        with _unknown_ids():
            if errors == "replace":
                return self._impl.decode(ids, skip_special_tokens)
            if skip_special_tokens:
                special = set(self._impl.special_tokens.values())
                ids = [i for i in ids if i not in special]
            return self._impl.decode_bytes(ids).decode("utf-8", errors=errors)

    def decode_batch(self, sequences: Sequence[Sequence[int]], skip_special_tokens: bool = True) -> List[str]:
        """:meth:`decode` for each id list (HF tokenizers' ``decode_batch``)."""
        return [self.decode(ids, skip_special_tokens) for ids in sequences]

    def batch_decode(
        self, sequences: Any, skip_special_tokens: bool = False, clean_up_tokenization_spaces: Optional[bool] = None
    ) -> List[str]:
        """transformers' ``batch_decode``: like :meth:`decode_batch`, but special tokens are kept
        unless ``skip_special_tokens=True``; rows of a 2-D array are accepted.
        ``clean_up_tokenization_spaces=True`` removes the spaces before punctuation and English
        contractions as transformers does (default: off, transformers' default for BERT)."""
        texts = [self.decode([int(i) for i in ids], skip_special_tokens) for ids in sequences]
        if clean_up_tokenization_spaces:
            texts = [_clean_up_tokenization(t) for t in texts]
        return texts

    def _bpe(self, what: str) -> Any:
        if not _is_bpe(self._impl):
            raise TypeError(f"{what} is available for byte-level BPE tokenizers only")
        return self._impl

    # ------------------------------------------------------------------ tiktoken's Encoding surface (BPE)
    @property
    def name(self) -> Optional[str]:
        """The encoding's name (``"cl100k_base"``) when it came from :func:`subtok.get_encoding`
        or was given one; else ``None``."""
        return self._name

    @property
    def max_token_value(self) -> int:
        """The largest token id (regular or special), as in tiktoken."""
        table = self._impl.get_vocab()
        return max(table.values()) if table else -1

    @property
    def n_vocab(self) -> int:
        """``max_token_value + 1``, as in tiktoken. It can exceed :attr:`vocab_size` (the number of
        tokens): cl100k_base has 100,261 tokens and ``n_vocab`` 100,277 (ids 100,261-100,275 are
        unused)."""
        return self.max_token_value + 1

    @property
    def special_tokens_set(self) -> set:
        """The texts of the special tokens (tiktoken)."""
        return set(self._special_token_map())

    @property
    def eot_token(self) -> int:
        """The id of ``<|endoftext|>`` (tiktoken); ``KeyError`` if there is none."""
        specials = self._special_token_map()
        if "<|endoftext|>" not in specials:
            raise KeyError("this tokenizer has no <|endoftext|> token")
        return specials["<|endoftext|>"]

    def _special_token_map(self) -> Dict[str, int]:
        if _is_bpe(self._impl):
            return dict(self._impl.special_tokens)
        ids = set(self._impl.special_token_ids())
        return {self._impl.id_to_token(i): i for i in ids}

    def encode_ordinary(self, text: str) -> List[int]:
        """Ids of ``text`` with special tokens treated as plain text (tiktoken; BPE only)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, not {type(text).__name__}")
        return self._ids_batch([text], (), None)[0]

    def encode_ordinary_batch(self, text: Sequence[str], *, num_threads: int = 8) -> List[List[int]]:
        """:meth:`encode_ordinary` of each text, in parallel (tiktoken; ``num_threads`` is accepted
        for compatibility, the pool honours ``RAYON_NUM_THREADS``)."""
        return self._ids_batch(text, (), None)

    def _ids_batch(self, texts: Sequence[str], disallowed: SpecialArg, allowed: SpecialArg) -> List[List[int]]:
        impl = self._bpe("batch encoding to id lists")
        texts = list(texts)
        try:
            ids, lens = impl.encode_batch_flat(texts, False, allowed, disallowed, False)
        except UnicodeEncodeError:
            if not self._tiktoken_text:
                raise
            ids, lens = impl.encode_batch_flat([_fix_surrogates(t) for t in texts], False, allowed, disallowed, False)
        bounds = np.concatenate(([0], np.cumsum(lens)))
        flat = ids.tolist()
        return [flat[bounds[i]:bounds[i + 1]] for i in range(len(texts))]

    def encode_to_numpy(
        self, text: str, *, allowed_special: SpecialArg = None, disallowed_special: SpecialArg = "all"
    ) -> np.ndarray:
        """Ids of ``text`` as a ``uint32`` numpy array (tiktoken; BPE only)."""
        impl = self._bpe("encode_to_numpy")
        try:
            ids, _ = impl.encode_batch_flat([text], False, allowed_special, disallowed_special, False)
        except UnicodeEncodeError:
            if not self._tiktoken_text:
                raise
            ids, _ = impl.encode_batch_flat([_fix_surrogates(text)], False, allowed_special, disallowed_special, False)
        return ids

    def encode_single_token(self, text_or_bytes: Union[str, bytes]) -> int:
        """The id of the one token whose text (or bytes) is exactly ``text_or_bytes``, special
        tokens included; ``KeyError`` if there is none (tiktoken; BPE only)."""
        impl = self._bpe("encode_single_token")
        b = text_or_bytes.encode("utf-8") if isinstance(text_or_bytes, str) else bytes(text_or_bytes)
        token = impl.single_token_id(b)
        if token is None:
            raise KeyError(text_or_bytes)
        return token

    def decode_single_token_bytes(self, token: int) -> bytes:
        """The bytes of one token id; :class:`UnknownTokenError` (a ``KeyError``) if unknown (tiktoken)."""
        impl = self._bpe("decode_single_token_bytes")
        with _unknown_ids():
            return impl.decode_tokens_bytes([token])[0]

    def decode_tokens_bytes(self, tokens: Sequence[int]) -> List[bytes]:
        """The bytes of each token id (tiktoken; BPE only)."""
        impl = self._bpe("decode_tokens_bytes")
        with _unknown_ids():
            return impl.decode_tokens_bytes(tokens)

    def decode_with_offsets(self, tokens: Sequence[int]) -> Tuple[str, List[int]]:
        """The text of ``tokens`` and, for each token, the index of the character where it starts
        (a token that starts inside a character gets that character's index), as in tiktoken.
        Raises ``UnicodeDecodeError`` if the bytes are not valid UTF-8."""
        pieces = self.decode_tokens_bytes(tokens)
        offsets: List[int] = []
        chars = 0
        for piece in pieces:
            starts_inside = 0x80 <= piece[0] < 0xC0 if piece else False
            offsets.append(max(0, chars - starts_inside))
            chars += sum(1 for byte in piece if not 0x80 <= byte < 0xC0)
        return b"".join(pieces).decode("utf-8", errors="strict"), offsets

    # ------------------------------------------------------------------ vocabulary
    def get_vocab(self, with_added_tokens: bool = True) -> Dict[str, int]:
        """``{token: id}``; with ``with_added_tokens=False`` only the model's own vocabulary (HF)."""
        if with_added_tokens:
            return self._impl.get_vocab()
        return dict(json.loads(self._impl.to_str())["model"]["vocab"])

    def get_vocab_size(self, with_added_tokens: bool = True) -> int:
        """Number of tokens (HF ``get_vocab_size``)."""
        if with_added_tokens:
            return self._impl.vocab_size
        return len(self.get_vocab(with_added_tokens=False))

    def token_to_id(self, token: str) -> Optional[int]:
        """The id of ``token`` (a vocabulary entry or an added token), or ``None``."""
        return self._impl.token_to_id(token)

    def id_to_token(self, id: int) -> Optional[str]:
        """The vocabulary entry of ``id``, or ``None``."""
        return self._impl.id_to_token(id)

    @property
    def vocab_size(self) -> int:
        """Number of tokens, added tokens included (for tiktoken files see also :attr:`n_vocab`)."""
        return self._impl.vocab_size

    def __len__(self) -> int:
        """Number of tokens, added tokens included (transformers' ``len(tokenizer)``)."""
        return self._impl.vocab_size

    def add_tokens(self, tokens: Union[str, AddedToken, Iterable[Union[str, AddedToken]]], special_tokens: bool = False) -> int:
        """Add tokens matched before the model runs (HF semantics). A ``str`` becomes
        ``AddedToken(content, normalized=True)``; one already in the vocabulary keeps its id, a new
        one gets the next id. Returns how many were not already added tokens."""
        if isinstance(tokens, (str, AddedToken)):
            tokens = [tokens]
        wanted = []
        for t in tokens:
            if isinstance(t, str):
                t = AddedToken(t, special=special_tokens)
            elif not isinstance(t, AddedToken):
                raise TypeError(f"tokens must be str or AddedToken, not {type(t).__name__}")
            elif special_tokens and not t.special:
                t = AddedToken(t.content, t.single_word, t.lstrip, t.rstrip, t.normalized, special=True)
            wanted.append(t)
        return self._add(wanted)

    def add_special_tokens(self, tokens: Any) -> int:
        """Add special tokens (HF tokenizers: a list of ``str`` / :class:`AddedToken`; a ``str``
        becomes ``AddedToken(content, special=True, normalized=False)``).

        transformers' form, a dict such as ``{"pad_token": "<pad>", "additional_special_tokens":
        [...]}``, also sets the named attributes. Returns how many tokens were new."""
        if isinstance(tokens, dict):
            flat: List[Any] = []
            for key, value in tokens.items():
                if key == "additional_special_tokens":
                    flat.extend(value)
                elif key in SPECIAL_TOKEN_NAMES:
                    flat.append(value)
                else:
                    raise ValueError(f"unknown special token key {key!r}; use one of {', '.join(SPECIAL_TOKEN_NAMES)} "
                                     "or additional_special_tokens")
            n = self.add_tokens(flat, special_tokens=True)
            for key, value in tokens.items():
                if key in SPECIAL_TOKEN_NAMES:
                    self._special[key] = str(value)
            return n
        return self.add_tokens(tokens, special_tokens=True)

    def _add(self, wanted: List[AddedToken]) -> int:
        data = json.loads(self._impl.to_str())
        model_vocab = data["model"]["vocab"]
        added = data.setdefault("added_tokens", [])
        present = {a["content"] for a in added}
        count = 0
        for t in wanted:
            if t.content in present:
                continue
            present.add(t.content)
            count += 1
            if t.content in model_vocab:
                new_id = model_vocab[t.content]
            else:
                high = max((a["id"] for a in added), default=-1)
                new_id = max(len(model_vocab), high + 1)
            added.append({"id": new_id, "content": t.content, "single_word": t.single_word, "lstrip": t.lstrip,
                          "rstrip": t.rstrip, "normalized": t.normalized, "special": t.special})
        if count:
            self._impl = _core.load_tokenizer_str(json.dumps(data))
        return count

    def convert_ids_to_tokens(self, ids: Union[int, Sequence[int]], skip_special_tokens: bool = False) -> Any:
        """transformers: the token string of an id (or a list of ids); ``IndexError`` for an unknown id."""
        if isinstance(ids, (int, np.integer)):
            token = self._impl.id_to_token(int(ids))
            if token is None:
                raise IndexError(f"token id {ids} is not in the vocabulary")
            return token
        special = set(self.all_special_ids) if skip_special_tokens else set()
        return [self.convert_ids_to_tokens(int(i)) for i in ids if int(i) not in special]

    def convert_tokens_to_ids(self, tokens: Union[str, Sequence[str]]) -> Any:
        """transformers: the id of a token (or of each token); unknown tokens give ``unk_token_id``."""
        if isinstance(tokens, str):
            token_id = self._impl.token_to_id(tokens)
            return self.unk_token_id if token_id is None else token_id
        return [self.convert_tokens_to_ids(t) for t in tokens]

    def tokenize(self, text: str, pair: Optional[str] = None, add_special_tokens: bool = False) -> List[str]:
        """transformers: the token strings of ``text`` (and ``pair``), without special tokens unless
        ``add_special_tokens=True``; stored truncation and padding do not apply."""
        if add_special_tokens and not _is_bpe(self._impl):
            item = text if pair is None else (text, pair)
            ids = self._impl.build_inputs([item], True, None, None, (False,) * 5)["input_ids"][0].tolist()
        else:
            ids = []
            for t in [text] if pair is None else [text, pair]:
                flat, _ = (self._impl.encode_batch_flat([t], False, "all", None, False) if _is_bpe(self._impl)
                           else self._impl.encode_batch_flat([t], False, False))
                ids.extend(flat.tolist())
        return [self._impl.id_to_token(i) for i in ids]

    # ------------------------------------------------------------------ truncation / padding
    def enable_truncation(
        self, max_length: int, stride: int = 0, strategy: str = "longest_first", direction: str = "right"
    ) -> None:
        """Truncate encodings to ``max_length`` tokens (HF semantics; ``stride`` is the overflow overlap)."""
        _uint_arg("max_length", max_length)
        _uint_arg("stride", stride)
        self._impl.enable_truncation(max_length, stride, strategy, direction)

    def no_truncation(self) -> None:
        """Turn stored truncation off."""
        self._impl.no_truncation()

    @property
    def truncation(self) -> Optional[Dict[str, Any]]:
        """The stored truncation settings as a dict, or ``None``."""
        return self._impl.truncation

    def enable_padding(
        self,
        direction: str = "right",
        pad_id: int = 0,
        pad_type_id: int = 0,
        pad_token: str = "[PAD]",
        length: Optional[int] = None,
        pad_to_multiple_of: Optional[int] = None,
    ) -> None:
        """Pad encodings: to ``length`` if given, else to the longest in the batch (HF semantics)."""
        _uint_arg("pad_id", pad_id, 2**32)
        _uint_arg("pad_type_id", pad_type_id, 2**32)
        for name, value in (("length", length), ("pad_to_multiple_of", pad_to_multiple_of)):
            if value is not None:
                _uint_arg(name, value)
        self._impl.enable_padding(direction, pad_id, pad_type_id, pad_token, length, pad_to_multiple_of)

    def no_padding(self) -> None:
        """Turn stored padding off."""
        self._impl.no_padding()

    @property
    def padding(self) -> Optional[Dict[str, Any]]:
        """The stored padding settings as a dict, or ``None``."""
        return self._impl.padding

    # ------------------------------------------------------------------ special tokens (transformers)
    def _special_token(self, name: str) -> Optional[str]:
        if name in self._special:
            return self._special[name]
        if name == "pad_token" and self._impl.padding:
            return self._impl.padding["pad_token"]
        if isinstance(self._impl, _core.WordPieceTokenizer):
            default = _BERT_DEFAULTS.get(name)
            if default is not None and self._impl.token_to_id(default) is not None:
                return default
        return None

    def _set_special(self, name: str, value: Optional[str]) -> None:
        if value is not None and not isinstance(value, str):
            value = str(value)
        self._special[name] = value

    bos_token = property(lambda self: self._special_token("bos_token"),
                         lambda self, v: self._set_special("bos_token", v),
                         doc="transformers' ``bos_token`` (from ``tokenizer_config.json`` or set by you), or ``None``.")
    eos_token = property(lambda self: self._special_token("eos_token"),
                         lambda self, v: self._set_special("eos_token", v),
                         doc="transformers' ``eos_token``, or ``None``.")
    unk_token = property(lambda self: self._special_token("unk_token"),
                         lambda self, v: self._set_special("unk_token", v),
                         doc="transformers' ``unk_token`` (BERT: ``[UNK]``), or ``None``.")
    sep_token = property(lambda self: self._special_token("sep_token"),
                         lambda self, v: self._set_special("sep_token", v),
                         doc="transformers' ``sep_token`` (BERT: ``[SEP]``), or ``None``.")
    pad_token = property(lambda self: self._special_token("pad_token"),
                         lambda self, v: self._set_special("pad_token", v),
                         doc="The padding token: the stored padding's, else the config's (BERT: ``[PAD]``), or ``None``.")
    cls_token = property(lambda self: self._special_token("cls_token"),
                         lambda self, v: self._set_special("cls_token", v),
                         doc="transformers' ``cls_token`` (BERT: ``[CLS]``), or ``None``.")
    mask_token = property(lambda self: self._special_token("mask_token"),
                          lambda self, v: self._set_special("mask_token", v),
                          doc="transformers' ``mask_token`` (BERT: ``[MASK]``), or ``None``.")

    def _special_id(self, name: str) -> Optional[int]:
        token = self._special_token(name)
        return None if token is None else self._impl.token_to_id(token)

    bos_token_id = property(lambda self: self._special_id("bos_token"), doc="The id of :attr:`bos_token`, or ``None``.")
    eos_token_id = property(lambda self: self._special_id("eos_token"), doc="The id of :attr:`eos_token`, or ``None``.")
    unk_token_id = property(lambda self: self._special_id("unk_token"), doc="The id of :attr:`unk_token`, or ``None``.")
    sep_token_id = property(lambda self: self._special_id("sep_token"), doc="The id of :attr:`sep_token`, or ``None``.")
    pad_token_id = property(lambda self: self._special_id("pad_token"), doc="The id of :attr:`pad_token`, or ``None``.")
    cls_token_id = property(lambda self: self._special_id("cls_token"), doc="The id of :attr:`cls_token`, or ``None``.")
    mask_token_id = property(lambda self: self._special_id("mask_token"), doc="The id of :attr:`mask_token`, or ``None``.")

    @property
    def special_tokens_map(self) -> Dict[str, str]:
        """transformers: ``{"cls_token": "[CLS]", ...}`` for each special-token attribute that is set."""
        out = {}
        for name in SPECIAL_TOKEN_NAMES:
            value = self._special_token(name)
            if value is not None:
                out[name] = value
        return out

    @property
    def all_special_tokens(self) -> List[str]:
        """transformers: the special-token attributes' tokens and every added special token."""
        tokens = list(dict.fromkeys(list(self.special_tokens_map.values()) + sorted(self._special_token_map(),
                                                                                    key=self._special_token_map().get)))
        return tokens

    @property
    def all_special_ids(self) -> List[int]:
        """The ids of :attr:`all_special_tokens` (those in the vocabulary)."""
        ids = [self._impl.token_to_id(t) for t in self.all_special_tokens]
        return [i for i in ids if i is not None]

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        """How many special tokens the post-processor adds to a single sequence or a pair."""
        return self._impl.num_special_tokens_to_add(pair)

    # ------------------------------------------------------------------ model inputs
    def __call__(
        self,
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
        verbose: bool = True,
    ) -> Dict[str, Any]:
        """Model inputs, as transformers' fast tokenizers' ``__call__`` makes them (WordPiece,
        byte-level BPE and every ``tokenizer.json`` pipeline).

        ``return_tensors=None`` (the default) gives Python lists, as transformers does: per key a
        list of rows (``offset_mapping``: rows of ``(start, end)`` tuples), or one row when
        ``text`` is a single ``str`` and no overflow is asked for; rows may differ in length
        without padding. ``"np"`` gives ``int64`` arrays of shape ``(rows, length)`` (a single
        ``str`` gives one row; rows of different lengths raise ``ValueError``: pad them) plus
        ``position_ids`` (a subtok extra); ``"pt"`` torch tensors (needs torch, which subtok
        never requires).

        Truncation and padding follow transformers: ``max_length`` alone turns truncation on;
        ``truncation`` / ``padding="max_length"`` without any length (no ``max_length``, no
        :attr:`model_max_length`) are dropped with a warning; padding needs :attr:`pad_token`
        (``ValueError`` otherwise, e.g. for GPT-2 style BPE: set ``tok.pad_token =
        tok.eos_token``); ``padding_side`` defaults to :attr:`padding_side`. Stored
        truncation/padding settings do not apply here: the arguments decide. Special tokens in
        the text are matched (BPE included).

        Keys: ``input_ids``, ``token_type_ids`` (when ``return_token_type_ids`` or, by default,
        when :attr:`model_input_names` lists it: BERT WordPiece yes, BPE and general pipelines
        no, as transformers' ``BertTokenizerFast`` / ``PreTrainedTokenizerFast``),
        ``attention_mask``; on request ``special_tokens_mask``, ``offset_mapping``, ``length``
        (each row's length, padding included), ``overflow_to_sample_mapping`` and
        ``sequence_ids`` (-1 for specials and padding; a subtok extra). ``verbose`` is accepted
        and ignored.
        """
        from subtok.inputs import build_model_inputs

        return build_model_inputs(
            self, text, text_pair, add_special_tokens=add_special_tokens, truncation=truncation,
            max_length=max_length, padding=padding, pad_to_multiple_of=pad_to_multiple_of, padding_side=padding_side,
            stride=stride, return_overflowing_tokens=return_overflowing_tokens,
            return_offsets_mapping=return_offsets_mapping, return_special_tokens_mask=return_special_tokens_mask,
            return_sequence_ids=return_sequence_ids, return_tensors=return_tensors,
            return_attention_mask=return_attention_mask, return_token_type_ids=return_token_type_ids,
            return_length=return_length,
        )

    @property
    def model_input_names(self) -> List[str]:
        """transformers' ``model_input_names``: the keys :meth:`__call__` returns by default.
        From ``tokenizer_config.json`` when it says; else ``["input_ids", "token_type_ids",
        "attention_mask"]`` for BERT WordPiece and ``["input_ids", "attention_mask"]`` otherwise."""
        names = self._config.get("model_input_names")
        if names is not None:
            return list(names)
        if isinstance(self._impl, _core.WordPieceTokenizer):
            return ["input_ids", "token_type_ids", "attention_mask"]
        return ["input_ids", "attention_mask"]

    @model_input_names.setter
    def model_input_names(self, value: Sequence[str]) -> None:
        self._config["model_input_names"] = [str(v) for v in value]

    @property
    def padding_side(self) -> str:
        """transformers' ``padding_side`` (``"right"`` unless ``tokenizer_config.json`` or you
        set ``"left"``): where :meth:`__call__` pads."""
        return self._config.get("padding_side", "right")

    @padding_side.setter
    def padding_side(self, value: str) -> None:
        if value not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', not {value!r}")
        self._config["padding_side"] = value

    def __repr__(self) -> str:
        return f"subtok.Tokenizer({self._impl!r})"

    # ------------------------------------------------------------------ pickling
    def __reduce__(self) -> Tuple[Any, Tuple[Any, ...]]:
        """Pickle by value: the ``tokenizer.json`` text (vocabulary, merges, added tokens, stored
        truncation and padding) plus ``model_max_length``, the name and the special-token
        attributes, so a tokenizer reaches spawn pools, Dask/Ray/Spark workers and
        ``datasets.map(num_proc=...)``."""
        return (_restore_tokenizer, (self._impl.to_str(False), self.model_max_length, self._name, dict(self._special),
                                     dict(self._config)))

    def __copy__(self) -> "Tokenizer":
        """An independent tokenizer: settings changed on the copy leave the original alone."""
        new = Tokenizer.__new__(type(self))
        Tokenizer.__init__(new, self._impl.__copy__(), self.model_max_length)
        new._name = self._name
        new._special = dict(self._special)
        new._config = dict(self._config)
        new._tiktoken_text = self._tiktoken_text
        return new

    def __deepcopy__(self, memo: Dict[int, Any]) -> "Tokenizer":
        """Same as :meth:`__copy__` (the vocabulary is immutable, the settings are copied)."""
        return self.__copy__()


def _restore_tokenizer(
    json: str, model_max_length: Optional[int], name: Optional[str] = None, special: Optional[Dict[str, Optional[str]]] = None,
    config: Optional[Dict[str, Any]] = None,
) -> "Tokenizer":
    """Unpickle a :class:`Tokenizer` (see :meth:`Tokenizer.__reduce__`)."""
    tok = Tokenizer(_core.load_tokenizer_str(json), model_max_length)
    tok._name = name
    tok._special = dict(special or {})
    tok._config = dict(config or {})
    return tok


def _uint_arg(name: str, value: Any, limit: int = 2**63) -> None:
    """``TypeError`` unless ``value`` is an int, ``ValueError`` naming ``name`` unless ``0 <= value < limit``."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not 0 <= value < limit:
        raise ValueError(f"{name} must be a non-negative int below {limit}, got {value}")


#: transformers / HF hub keyword arguments of ``from_pretrained`` that have no meaning offline.
_HUB_OPTIONS = frozenset({"revision", "token", "use_auth_token", "local_files_only", "force_download",
                          "trust_remote_code", "use_fast", "subfolder", "proxies", "resume_download"})


def _clean_up_tokenization(text: str) -> str:
    """transformers' ``clean_up_tokenization``: no space before ``. ? ! ,`` and contractions."""
    for before, after in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                          (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")):
        text = text.replace(before, after)
    return text


def _pattern_arg(preset: Optional[str], pattern: Optional[str], regex: Optional[str]) -> str:
    """The pre-tokenizer of :meth:`Tokenizer.from_tiktoken`: a preset name, or an explicit regex."""
    given = [x for x in (preset, pattern, regex) if x is not None]
    if len(given) != 1:
        raise TypeError("from_tiktoken needs exactly one of: a preset name, pattern=REGEX, regex=REGEX "
                        f"(presets: {', '.join(TIKTOKEN_PRESETS)})")
    if not isinstance(given[0], str):
        raise TypeError(f"the preset or pattern must be a str, not {type(given[0]).__name__}")
    if preset is not None and preset not in TIKTOKEN_PRESETS:
        raise ValueError(f"unknown tiktoken preset {preset!r}; the presets are {', '.join(TIKTOKEN_PRESETS)} "
                         "(pass a regex as pattern=...)")
    return given[0]


class _unknown_ids:
    """Turn the extension's ``IndexError`` for an id outside the vocabulary into
    :class:`UnknownTokenError` (a ``KeyError``, as tiktoken raises)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, err: Any, tb: Any) -> bool:
        if kind is not None and issubclass(kind, IndexError) and not isinstance(err, UnknownTokenError):
            raise UnknownTokenError(str(err)) from None
        return False


def _read_json_object(path: str) -> Dict[str, Any]:
    """A JSON object from ``path``; ``{}`` if the file is missing; ``ValueError`` if malformed."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: not a readable JSON file ({e})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return data


def _token_str(value: Any) -> Optional[str]:
    """A special token from a config: a str, or an AddedToken-like dict with ``content``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return value["content"]
    return None


def _valid_max_length(value: Any) -> Optional[int]:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 1_000_000 else None


def _apply_bert_config(text: str, config: Dict[str, Any]) -> str:
    """``tokenizer.json`` text with the BertNormalizer options of ``tokenizer_config.json``
    (``do_lower_case``, ``strip_accents``, ``tokenize_chinese_chars``) applied, as transformers'
    ``BertTokenizerFast`` does when they differ."""
    keys = {"do_lower_case": "lowercase", "strip_accents": "strip_accents", "tokenize_chinese_chars": "handle_chinese_chars"}
    if not any(k in config for k in keys):
        return text
    data = json.loads(text)
    norm = data.get("normalizer")
    if not isinstance(norm, dict) or norm.get("type") != "BertNormalizer":
        return text
    changed = False
    for ck, nk in keys.items():
        if ck in config and norm.get(nk) != config[ck]:
            norm[nk] = config[ck]
            changed = True
    return json.dumps(data) if changed else text


def _model_max_length_beside(path: PathLike) -> Optional[int]:
    """``model_max_length`` from a ``tokenizer_config.json`` next to the tokenizer file, if any."""
    import json

    config = os.path.join(os.path.dirname(os.fspath(path)), "tokenizer_config.json")
    try:
        with open(config, encoding="utf-8") as f:
            value = json.load(f).get("model_max_length")
    except (OSError, ValueError, AttributeError):
        return None
    return int(value) if isinstance(value, int) and 0 < value < 1_000_000 else None

