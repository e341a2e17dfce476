"""sentence-transformers layouts (bge, e5, gte, multi-qa, RoBERTa) against sentence-transformers' own
outputs, stored by ``tests/make_embedding_fixtures.py``; NumPy search/quantization/similarity against
``sentence_transformers.util``; RoBERTa and DistilBERT checkpoints against transformers."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from subtok.bert import BertModel
from subtok.bert.config import BertConfig
from subtok.embeddings import (
    Pooling,
    SentenceEncoder,
    cos_sim,
    quantize_embeddings,
    read_sentence_transformers_config,
    semantic_search,
    similarity_function,
)

FIX = Path(__file__).resolve().parent / "fixtures" / "embeddings"
META = json.loads((FIX / "meta.json").read_text(encoding="utf-8"))
SENTENCES = META["sentences"]
FAMILIES = ["bge", "e5", "gte", "multiqa", "roberta"]


def _tokenizer(family: str):
    if family == "roberta":  # subtok's BPE has no RobertaProcessing yet: HF tokenizers is the oracle
        import tokenizers

        return tokenizers.Tokenizer.from_file(str(FIX / family / "tokenizer.json"))
    return None


@pytest.fixture(scope="module", params=FAMILIES)
def family(request):
    enc = SentenceEncoder.from_pretrained(FIX / request.param, tokenizer=_tokenizer(request.param))
    return request.param, enc, dict(np.load(FIX / request.param / "expected.npz"))


def test_layout_is_read(family):
    name, enc, _ = family
    want = {
        "bge": (("cls",), True, "cosine", 48, False),
        "e5": (("mean",), True, "cosine", 64, False),
        "gte": (("mean",), False, "euclidean", 24, True),
        "multiqa": (("cls",), False, "dot", 32, False),
        "roberta": (("mean",), True, "manhattan", 40, False),
    }[name]
    assert (enc.pooling.modes, enc.normalize, enc.similarity_fn_name, enc.max_seq_length, enc.do_lower_case) == want
    assert enc.model.config.family == {"multiqa": "distilbert", "roberta": "roberta"}.get(name, "bert")


def test_token_ids_match_sentence_transformers(family):
    _, enc, exp = family
    ids = enc.tokenize(SENTENCES)
    for i, seq in enumerate(ids):
        n = int(exp["attention_mask"][i].sum())
        assert seq == exp["input_ids"][i, :n].tolist(), SENTENCES[i]


def test_encoder_matches_transformers(family):
    """BertModel on BERT, RoBERTa (position ids after padding_idx) and DistilBERT checkpoints."""
    _, enc, exp = family
    valid = exp["attention_mask"].astype(bool)
    for skip in (True, False):
        enc.model.skip_padding = skip
        out = enc.model(exp["input_ids"], attention_mask=exp["attention_mask"]).last_hidden_state
        assert np.abs(out[valid] - exp["last_hidden_state"][valid]).max() < 2e-5
    enc.model.skip_padding = True


def test_encode_matches_sentence_transformers(family):
    name, enc, exp = family
    for label, kwargs in META[name]["prompts"].items():
        got = enc.encode(SENTENCES, batch_size=4, **kwargs)
        assert got.dtype == np.float32 and got.shape == exp[f"encode.{label}"].shape
        np.testing.assert_allclose(got, exp[f"encode.{label}"], atol=2e-5, rtol=1e-5, err_msg=f"{name}/{label}")
    one = enc.encode(SENTENCES[1])
    np.testing.assert_allclose(one, exp["encode.plain"][1], atol=2e-5, rtol=1e-5)


def test_similarity_honours_similarity_fn_name(family):
    _, enc, exp = family
    e = exp["encode.plain"]
    np.testing.assert_allclose(enc.similarity(e[:4], e), exp["similarity"], atol=1e-4, rtol=1e-5)
    s = enc.similarity(SENTENCES[0], SENTENCES[1])
    assert isinstance(s, float) and s == pytest.approx(float(exp["similarity"][0, 1]), abs=1e-4)
    np.testing.assert_allclose(enc.similarity_pairwise(e[:4], e[:4]), np.diag(exp["similarity"][:, :4]), atol=1e-4)


def test_prompts_and_defaults():
    e5 = SentenceEncoder.from_pretrained(FIX / "e5")
    exp = np.load(FIX / "e5" / "expected.npz")
    assert e5.default_prompt_name == "query"
    # the default prompt applies unless an explicit prompt (even "") overrides it
    np.testing.assert_allclose(e5.encode(SENTENCES), exp["encode.query"], atol=2e-5)
    np.testing.assert_allclose(e5.encode(SENTENCES, prompt=""), exp["encode.empty"], atol=2e-5)
    # sentence-transformers saves a "document": "" prompt, which encode_document picks first
    assert e5.prompts["document"] == ""
    np.testing.assert_allclose(e5.encode_document(SENTENCES), exp["encode.empty"], atol=2e-5)
    np.testing.assert_allclose(e5.encode(SENTENCES, prompt_name="passage"), exp["encode.passage"], atol=2e-5)
    with pytest.raises(ValueError, match="prompt name"):
        e5.encode(["x"], prompt_name="nope")
    bge = SentenceEncoder.from_pretrained(FIX / "bge")
    bexp = np.load(FIX / "bge" / "expected.npz")
    np.testing.assert_allclose(bge.encode_query(SENTENCES), bexp["encode.query"], atol=2e-5)
    np.testing.assert_allclose(bge.encode(SENTENCES), bexp["encode.plain"], atol=2e-5)


def test_normalize_options():
    gte = SentenceEncoder.from_pretrained(FIX / "gte")
    exp = np.load(FIX / "gte" / "expected.npz")
    np.testing.assert_allclose(gte.encode(SENTENCES, normalize_embeddings=True), exp["encode.normalized"], atol=2e-5)
    np.testing.assert_allclose(gte.encode(SENTENCES, normalize_embeddings=False), exp["encode.plain"], atol=2e-5)
    e5 = SentenceEncoder.from_pretrained(FIX / "e5")
    raw = e5.encode(SENTENCES, normalize=False)
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0)
    np.testing.assert_allclose(raw / np.linalg.norm(raw, axis=1, keepdims=True), e5.encode(SENTENCES), atol=1e-6)


# ------------------------------------------------------------------ every pooling configuration
POOL_META = json.loads((FIX / "pooling.json").read_text())


@pytest.mark.parametrize("name", sorted(POOL_META))
def test_pooling_modes_match_sentence_transformers(name):
    exp = np.load(FIX / "pooling.npz")
    enc = SentenceEncoder.from_pretrained(FIX / "e5")
    enc.pooling = Pooling.from_config(POOL_META[name])
    enc.normalize = False
    enc.default_prompt_name = None
    assert enc.get_sentence_embedding_dimension() == exp[f"{name}.plain"].shape[1]
    np.testing.assert_allclose(enc.encode(SENTENCES, batch_size=3), exp[f"{name}.plain"], atol=3e-5, rtol=1e-5)
    np.testing.assert_allclose(enc.encode(SENTENCES, prompt="query: "), exp[f"{name}.prompt"], atol=3e-5, rtol=1e-5)


def test_pooling_config_formats_and_errors():
    legacy = {"word_embedding_dimension": 8, "pooling_mode_cls_token": False, "pooling_mode_max_tokens": True,
              "pooling_mode_mean_tokens": True}
    assert Pooling.from_config(legacy).modes == ("max", "mean")
    assert Pooling.from_config({"word_embedding_dimension": 8}).modes == ("mean",)
    assert Pooling.from_config({"pooling_mode": ["cls"], "include_prompt": False}) == Pooling(("cls",), False)
    with pytest.raises(ValueError, match="invalid pooling mode"):
        Pooling("median")
    h = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    m = np.array([[1, 1, 0], [1, 0, 0]])
    np.testing.assert_array_equal(Pooling("lasttoken")(h, m), h[[0, 1], [1, 0]])
    np.testing.assert_array_equal(Pooling("max")(h, m), h[[0, 1], [1, 0]])


def test_layout_errors(tmp_path):
    shutil.copytree(FIX / "e5", tmp_path / "m")
    mods = json.loads((tmp_path / "m" / "modules.json").read_text())
    mods.append({"idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"})
    (tmp_path / "m" / "modules.json").write_text(json.dumps(mods))
    with pytest.raises(ValueError, match="Dense"):
        SentenceEncoder.from_pretrained(tmp_path / "m")
    (tmp_path / "m" / "modules.json").write_text("{not json")
    with pytest.raises(ValueError, match="modules.json"):
        SentenceEncoder.from_pretrained(tmp_path / "m")
    (tmp_path / "m" / "modules.json").unlink()
    layout = read_sentence_transformers_config(tmp_path / "m")  # plain folder: mean, no normalize
    assert layout["pooling"].modes == ("mean",) and layout["normalize"] is False
    enc = SentenceEncoder.from_pretrained(tmp_path / "m")
    with pytest.raises(ValueError, match="precision"):
        enc.encode(["a"], precision="int4")
    with pytest.raises(ValueError, match="default_prompt_name"):
        SentenceEncoder(enc.model, enc.tokenizer, prompts={"a": "x"}, default_prompt_name="b")
    with pytest.raises(ValueError, match="similarity"):
        SentenceEncoder(enc.model, enc.tokenizer, similarity_fn_name="jaccard")


def test_precision_as_quantize_embeddings():
    enc = SentenceEncoder.from_pretrained(FIX / "bge")
    f = enc.encode(SENTENCES)
    for prec, dtype, width in (("int8", np.int8, 32), ("uint8", np.uint8, 32), ("binary", np.int8, 4),
                               ("ubinary", np.uint8, 4)):
        q = enc.encode(SENTENCES, precision=prec)
        assert q.dtype == dtype and q.shape == (len(SENTENCES), width)
        np.testing.assert_array_equal(q, quantize_embeddings(f, prec))


# ------------------------------------------------------------------ util functions vs sentence-transformers
@pytest.fixture(scope="module")
def search():
    return dict(np.load(FIX / "search.npz"))


@pytest.mark.parametrize("fn", ["cos", "dot"])
@pytest.mark.parametrize("chunks", [(100, 50000), (5, 64), (1, 7)])
def test_semantic_search_matches(search, fn, chunks):
    res = semantic_search(search["query"], search["corpus"], top_k=7, query_chunk_size=chunks[0],
                          corpus_chunk_size=chunks[1], score_function="cosine" if fn == "cos" else "dot")
    ids = np.array([[h["corpus_id"] for h in r] for r in res])
    scores = np.array([[h["score"] for h in r] for r in res])
    np.testing.assert_array_equal(ids, search[f"search.{fn}.ids"])
    np.testing.assert_allclose(scores, search[f"search.{fn}.scores"], atol=1e-5)
    assert all(isinstance(h["corpus_id"], int) and isinstance(h["score"], float) for h in res[0])


def test_semantic_search_edges(search):
    q, c = search["query"], search["corpus"]
    one = semantic_search(q[0], c[:3], top_k=10)
    assert len(one) == 1 and len(one[0]) == 3
    custom = semantic_search(q[:2], c, top_k=3, score_function=cos_sim)
    assert [h["corpus_id"] for h in custom[0]] == search["search.cos.ids"][0, :3].tolist()
    with pytest.raises(ValueError):
        semantic_search(q, c, top_k=0)
    with pytest.raises(ValueError, match="dimension"):
        semantic_search(q[:, :4], c)


@pytest.mark.parametrize("name", ["cosine", "dot", "euclidean", "manhattan"])
def test_similarity_functions(search, name):
    got = similarity_function(name)(search["query"], search["corpus"][:50])
    np.testing.assert_allclose(got, search[f"similarity.{name}"], atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize("prec", ["int8", "uint8", "binary", "ubinary"])
def test_quantize_embeddings_matches(search, prec):
    got = quantize_embeddings(search["corpus"], prec)
    assert got.dtype == search[f"quantize.{prec}"].dtype
    np.testing.assert_array_equal(got, search[f"quantize.{prec}"])


def test_quantize_with_calibration(search):
    got = quantize_embeddings(search["query"], "int8", calibration_embeddings=search["corpus"])
    np.testing.assert_array_equal(got, search["quantize.int8_ranges"])
    with pytest.raises(ValueError, match="single embedding"):
        quantize_embeddings(search["query"][:1], "int8")
    with pytest.raises(ValueError):
        quantize_embeddings(search["query"].astype(np.int8), "binary")


# ------------------------------------------------------------------ architectures
def test_architecture_dispatch_and_errors(tmp_path):
    cfg = BertConfig.from_pretrained(FIX / "multiqa")
    assert (cfg.family, cfg.hidden_size, cfg.num_hidden_layers, cfg.intermediate_size) == ("distilbert", 32, 2, 64)
    rcfg = BertConfig.from_pretrained(FIX / "roberta")
    assert rcfg.family == "roberta" and rcfg.max_input_length == 64
    m = BertModel.from_pretrained(FIX / "roberta")
    with pytest.raises(ValueError, match="positions"):
        m(np.full((1, 65), 5))
    d = json.loads((FIX / "bge" / "config.json").read_text())
    d["model_type"] = "gpt2"
    with pytest.raises(ValueError, match="model_type"):
        BertConfig.from_dict(d)
    from subtok.bert import BertForSequenceClassification

    shutil.copytree(FIX / "multiqa", tmp_path / "d")
    with pytest.raises(ValueError, match="model_type"):
        BertForSequenceClassification.from_pretrained(tmp_path / "d")
