"""Tokenizer families for the pipeline tests and benchmarks, built offline from ../shared/corpora
with HF tokenizers' own trainers and implementations (and, for the Llama-style files, the
`sentencepiece` trainer plus transformers' slow->fast converter, with SentencePiece's `nmt_nfkc`
charsmaps for the `Precompiled` normalizer)."""
from __future__ import annotations

import types
from pathlib import Path
from typing import Callable, Dict, List

from tokenizers import (
    AddedToken,
    ByteLevelBPETokenizer,
    CharBPETokenizer,
    Regex,
    SentencePieceBPETokenizer,
    BertWordPieceTokenizer,
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)

SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPORA = sorted((SHARED / "corpora").glob("*.txt"))

LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def corpus_lines(per_file: int = 0) -> List[str]:
    """Non-empty lines of every corpus (the first `per_file` of each when given)."""
    out: List[str] = []
    for p in CORPORA:
        lines = [l for l in p.read_text(encoding="utf-8").splitlines() if l.strip()]
        out += lines[:per_file] if per_file else lines
    return out


def _train_lines() -> List[str]:
    return corpus_lines(1500)


def bytelevel_lower() -> Tokenizer:
    t = ByteLevelBPETokenizer(lowercase=True, add_prefix_space=True, trim_offsets=True)
    t.train_from_iterator(_train_lines(), vocab_size=3000, special_tokens=["<|endoftext|>"], show_progress=False)
    return t._tokenizer


def bytelevel_prefix() -> Tokenizer:
    t = ByteLevelBPETokenizer(add_prefix_space=True, trim_offsets=True)
    t.train_from_iterator(_train_lines(), vocab_size=3000, special_tokens=["<|endoftext|>"], show_progress=False)
    return t._tokenizer


def char_bpe() -> Tokenizer:
    t = CharBPETokenizer()
    t.train_from_iterator(_train_lines(), vocab_size=3000, special_tokens=["<unk>"], show_progress=False)
    return t._tokenizer


def sentencepiece_bpe() -> Tokenizer:
    t = SentencePieceBPETokenizer()
    t.train_from_iterator(_train_lines(), vocab_size=3000, special_tokens=["<unk>"], show_progress=False)
    return t._tokenizer


def _bert(**kw) -> Tokenizer:
    t = BertWordPieceTokenizer(**kw)
    t.train_from_iterator(_train_lines(), vocab_size=3000, show_progress=False)
    return t._tokenizer


def bert_uncased() -> Tokenizer:
    return _bert(lowercase=True)


def bert_cased() -> Tokenizer:
    return _bert(lowercase=False)


def bert_keep_accents() -> Tokenizer:
    return _bert(lowercase=True, strip_accents=False)


def _spm_model(tmp: Path, rule: str = "identity") -> Path:
    """A SentencePiece BPE model with byte_fallback, trained with the normalization `rule`
    (`nmt_nfkc*` rules embed a precompiled charsmap, which the conversion emits as `Precompiled`)."""
    import sentencepiece as spm

    prefix = tmp / f"spm_{rule}"
    if not prefix.with_suffix(".model").exists():
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(_train_lines()), model_prefix=str(prefix), vocab_size=2000,
            model_type="bpe", byte_fallback=True, normalization_rule_name=rule,
            character_coverage=0.9995, minloglevel=2, num_threads=1,
        )
    return prefix.with_suffix(".model")


def _spm_converted(tmp: Path, legacy: bool, rule: str = "identity") -> Tokenizer:
    """transformers' SentencePiece -> tokenizer.json conversion of a locally trained BPE model."""
    from transformers.convert_slow_tokenizer import SpmConverter, import_protobuf

    model = _spm_model(tmp, rule)
    proto = import_protobuf().ModelProto()
    proto.ParseFromString(model.read_bytes())
    vocab = {p.piece: i for i, p in enumerate(proto.pieces)}
    tok = SpmConverter.build_tokenizer_from_spm_proto(proto, vocab, legacy=legacy)
    tok.add_special_tokens([AddedToken(proto.pieces[i].piece, normalized=False, special=True) for i in (0, 1, 2)])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s>:1 $B:1", special_tokens=[("<s>", vocab["<s>"])]
    )
    return tok


def llama_spm(tmp: Path) -> Tokenizer:
    """SentencePiece BPE with byte_fallback as transformers converts it (Replace normalizers,
    Metaspace, ByteFallback/Fuse/Strip decoders, a BOS template)."""
    return _spm_converted(tmp, legacy=True)


def llama_spm_first(tmp: Path) -> Tokenizer:
    """The non-legacy conversion: Metaspace(prepend_scheme='first')."""
    return _spm_converted(tmp, legacy=False)


def llama_spm_nfkc(tmp: Path) -> Tokenizer:
    """SentencePiece's `nmt_nfkc` rule: a `Precompiled` charsmap normalizer (legacy conversion)."""
    return _spm_converted(tmp, legacy=True, rule="nmt_nfkc")


def llama_spm_nfkc_cf(tmp: Path) -> Tokenizer:
    """`nmt_nfkc_cf` (NFKC + case folding) charsmap, non-legacy conversion."""
    return _spm_converted(tmp, legacy=False, rule="nmt_nfkc_cf")


def llama_prepend(tmp: Path) -> Tokenizer:
    """Llama-2 legacy layout (transformers' LlamaConverter): Prepend('▁') + Replace(' ', '▁')
    normalizers, no pre-tokenizer, byte_fallback + fuse_unk BPE, Replace/ByteFallback/Fuse/Strip."""
    import json

    base = json.loads(_spm_converted(tmp, legacy=True).to_str())
    m = base["model"]
    merges = [tuple(x) if isinstance(x, list) else tuple(x.split(" ", 1)) for x in m["merges"]]
    tok = Tokenizer(models.BPE(m["vocab"], merges, unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tok.add_special_tokens([AddedToken(t, normalized=False, special=True) for t in ("<unk>", "<s>", "</s>")])
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(content=" ", left=1)])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s>:1 $B:1", special_tokens=[("<s>", m["vocab"]["<s>"])]
    )
    return tok


def roberta() -> Tokenizer:
    t = ByteLevelBPETokenizer()
    t.train_from_iterator(_train_lines(), vocab_size=3000, special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
                          show_progress=False)
    tok = t._tokenizer
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True)])
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")),
                                                      trim_offsets=True, add_prefix_space=False)
    return tok


def _split_bytelevel(normalizer=None) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=3000, special_tokens=["<|begin_of_text|>", "<|end_of_text|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(_train_lines(), trainer)
    import json

    m = json.loads(tok.to_str())["model"]
    vocab = m["vocab"]
    merges = [tuple(x) if isinstance(x, list) else tuple(x.split(" ", 1)) for x in m["merges"]]
    tok.model = models.BPE(vocab, merges, ignore_merges=True)
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|>:1 $B:1",
                                      special_tokens=[("<|begin_of_text|>", bos)]),
    ])
    return tok


def llama3() -> Tokenizer:
    return _split_bytelevel()


def qwen() -> Tokenizer:
    return _split_bytelevel(normalizers.NFC())


def word_level() -> Tokenizer:
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(_train_lines(), trainers.WordLevelTrainer(vocab_size=5000, special_tokens=["[UNK]", "[CLS]", "[SEP]"],
                                                                       show_progress=False))
    tok.post_processor = processors.BertProcessing(("[SEP]", tok.token_to_id("[SEP]")), ("[CLS]", tok.token_to_id("[CLS]")))
    return tok


def wordpiece_mix() -> Tokenizer:
    """WordPiece behind a non-BERT pipeline: NFD/StripAccents/Lowercase/Strip, WhitespaceSplit +
    Punctuation + individual Digits, a template with type ids, no decoder prefix cleanup."""
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.StripAccents(), normalizers.Lowercase(),
                                           normalizers.Strip()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation(),
                                                 pre_tokenizers.Digits(individual_digits=True)])
    tok.train_from_iterator(_train_lines(), trainers.WordPieceTrainer(vocab_size=3000, special_tokens=["[UNK]", "[CLS]", "[SEP]"],
                                                                       show_progress=False))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))])
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    return tok


def metaspace_split() -> Tokenizer:
    """BPE with Replace(regex) + Prepend normalizers, Metaspace(split) + CharDelimiterSplit,
    an unk token without fuse_unk, and a Metaspace decoder."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(r"\d+"), "0")])
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.CharDelimiterSplit("|"),
                                                 pre_tokenizers.Metaspace(prepend_scheme="always", split=True)])
    tok.decoder = decoders.Metaspace(prepend_scheme="always")
    tok.train_from_iterator(_train_lines(), trainers.BpeTrainer(vocab_size=2000, special_tokens=["<unk>"], show_progress=False,
                                                                 limit_alphabet=150))
    return tok


def scripts_wordpiece() -> Tokenizer:
    """WordPiece behind UnicodeScripts + Whitespace (NFKC, Lowercase; BertProcessing)."""
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.UnicodeScripts(), pre_tokenizers.Whitespace()])
    tok.train_from_iterator(_train_lines(), trainers.WordPieceTrainer(vocab_size=3000, special_tokens=["[UNK]", "[CLS]", "[SEP]"],
                                                                       show_progress=False))
    tok.post_processor = processors.BertProcessing(("[SEP]", tok.token_to_id("[SEP]")), ("[CLS]", tok.token_to_id("[CLS]")))
    tok.decoder = decoders.WordPiece()
    return tok


def scripts_bytelevel() -> Tokenizer:
    """Byte-level BPE whose words are UnicodeScripts runs alone (spaces stay inside them)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.UnicodeScripts(),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(_train_lines(), trainers.BpeTrainer(vocab_size=3000, show_progress=False,
                                                                 initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return tok


#: name -> builder (builders taking a path get a temporary directory).
FAMILIES: Dict[str, Callable] = {
    "bytelevel_lower": bytelevel_lower,
    "bytelevel_prefix": bytelevel_prefix,
    "char_bpe": char_bpe,
    "sentencepiece_bpe": sentencepiece_bpe,
    "bert_uncased": bert_uncased,
    "bert_cased": bert_cased,
    "bert_keep_accents": bert_keep_accents,
    "llama_spm": llama_spm,
    "llama_spm_first": llama_spm_first,
    "llama_spm_nfkc": llama_spm_nfkc,
    "llama_spm_nfkc_cf": llama_spm_nfkc_cf,
    "llama_prepend": llama_prepend,
    "roberta": roberta,
    "llama3": llama3,
    "qwen": qwen,
    "word_level": word_level,
    "wordpiece_mix": wordpiece_mix,
    "metaspace_split": metaspace_split,
    "scripts_wordpiece": scripts_wordpiece,
    "scripts_bytelevel": scripts_bytelevel,
}


def build(name: str, tmp: Path) -> Tokenizer:
    f = FAMILIES[name]
    return f(tmp) if name.startswith("llama_") else f()
