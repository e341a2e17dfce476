"""subtok.finetune and the `subtok finetune` / `subtok pretrain` commands, on small synthetic tasks
a tiny BERT must learn in seconds."""
from __future__ import annotations

import json

import numpy as np
import pytest

import subtok
import subtok.bert as sb
from subtok.cli import main
from subtok.finetune import _qa_features, evaluate, fit, macro_f1, pretrain, squad_scores

FRUIT = "apple banana cherry grape lemon mango melon peach pear plum".split()
TRAFFIC = "car bus train plane boat bike truck tram ship taxi".split()
WORDS = FRUIT + TRAFFIC


def _sentences(n, seed=0, k=6):
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, k)) for _ in range(n)]


@pytest.fixture(scope="module")
def tok():
    return subtok.train(_sentences(300) + ["the name is"], model="wordpiece", vocab_size=120, min_frequency=1,
                        show_progress=False)


def _config(tok, **kw):
    c = dict(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
             intermediate_size=64, max_position_embeddings=64)
    c.update(kw)
    return sb.BertConfig(**c)


def test_fit_sequence_classification_learns_and_saves_the_best_epoch(tok, tmp_path):
    texts = _sentences(240, seed=1)
    data = [(t, "fruit" if t.split()[0] in FRUIT else "traffic") for t in texts]
    model = sb.BertForSequenceClassification.from_config(_config(tok, num_labels=2), seed=0)
    res = fit(model, tok, data[:200], data[200:], epochs=6, batch_size=16, lr=3e-3, progress=False, log=None,
              output_dir=tmp_path / "best")
    assert res.metric_name == "accuracy" and len(res.history) == 6
    assert res.history[-1]["loss"] < res.history[0]["loss"]
    assert res.best_metric >= 0.9, res.history
    again = sb.BertForSequenceClassification.from_pretrained(tmp_path / "best")
    assert evaluate(again, tok, data[200:])["accuracy"] == res.best_metric
    # extra metrics see the labels by name, predicted and gold
    m = evaluate(again, tok, data[200:], extra_metrics=lambda p, g: {"gold_fruit": float(np.mean([y == "fruit" for y in g])),
                                                                      "agree": float(np.mean([a == b for a, b in zip(p, g)]))})
    assert m["gold_fruit"] == pytest.approx(np.mean([y == "fruit" for _, y in data[200:]]))
    assert m["agree"] == m["accuracy"]
    assert (tmp_path / "best" / "tokenizer.json").is_file()
    assert not model.training


def test_fit_token_classification_learns(tok):
    data = [(t.split(), ["F" if w in FRUIT else "T" for w in t.split()]) for t in _sentences(160, seed=2)]
    model = sb.BertForTokenClassification.from_config(_config(tok, num_labels=2), seed=0)
    res = fit(model, tok, data[:130], data[130:], epochs=3, batch_size=16, lr=2e-3, progress=False, log=None)
    assert res.best_metric >= 0.95, res.history


def _qa_data(n, seed):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        left, right = " ".join(rng.choice(WORDS, 3)), " ".join(rng.choice(WORDS, 3))
        ans = str(rng.choice(TRAFFIC))
        ctx = f"{left} the name is {ans} {right}"
        out.append({"question": "the name", "context": ctx, "answer_start": ctx.index(" is ") + 4, "answer_text": ans})
    return out


def test_qa_windows_point_at_the_answer(tok):
    data = _qa_data(20, 3)
    feats = _qa_features(tok, data, max_length=10, stride=3)
    assert len(feats) > len(data)  # short windows: several per example
    found = 0
    for row, s, e in feats:
        if s == 0:
            assert e == 0
            continue
        found += 1
        ids = row["input_ids"][s : e + 1].tolist()
        assert row["token_type_ids"][s] == 1
        text = tok.decode(ids)
        assert text in TRAFFIC
    assert found >= len(data)


def test_fit_question_answering_learns(tok):
    data = _qa_data(160, 4)
    model = sb.BertForQuestionAnswering.from_config(_config(tok), seed=0)
    res = fit(model, tok, data[:130], data[130:], epochs=4, batch_size=16, lr=3e-3, max_length=32, stride=8,
              progress=False, log=None)
    assert res.history[-1]["loss"] < 0.5 * res.history[0]["loss"]
    assert res.best_metric >= 0.8, res.history


def test_pretrain_learns_from_context(tok):
    """Dynamic-masking MLM + NSP from scratch: every sentence repeats one word, so a masked word is
    read off its neighbours. The 20 words are equally frequent, so no model that ignores the context
    gets a held-out cross-entropy below ln 20 = 3.0 nats or an accuracy above ~1/20."""
    from subtok.finetune import evaluate_pretraining
    from subtok.pretraining import create_pretraining_data

    def doc(seed):
        o = int(np.random.default_rng(seed).integers(0, len(WORDS)))
        return [" ".join([WORDS[(o + j) % len(WORDS)]] * 5) for j in range(6)]

    tr = create_pretraining_data([doc(i) for i in range(60)], tok, max_seq_length=24, dupe_factor=2, seed=1)
    ev = create_pretraining_data([doc(1000 + i) for i in range(40)], tok, max_seq_length=24, dupe_factor=1, seed=2)
    model = sb.BertForPreTraining.from_config(_config(tok), seed=0)
    before = evaluate_pretraining(model, tok, ev)
    res = pretrain(model, tok, tr, epochs=15, batch_size=16, lr=5e-3, eval_instances=ev, progress=False, log=None)
    h = res.history
    assert set(h[0]) >= {"loss", "mlm_accuracy", "mlm_loss", "mlm_nats_per_char", "nsp_accuracy"}
    assert res.metric_name == "mlm_accuracy"
    assert h[-1]["loss"] < 0.8 * h[0]["loss"]
    assert before["mlm_loss"] > 3.0 and before["mlm_accuracy"] < 0.1, before
    assert h[-1]["mlm_loss"] < 2.5 and h[-1]["mlm_accuracy"] > 0.12, h[-1]
    # the metric is a function of the model: the same masks every call
    again = evaluate_pretraining(model, tok, ev)
    assert again == pytest.approx({k: h[-1][k] for k in again}, abs=1e-6)


def _docs_file(path, n_docs=24):
    def sentence(r):
        o = int(r.integers(0, len(WORDS)))
        return " ".join(WORDS[(o + i) % len(WORDS)] for i in range(5))

    docs = ["\n".join(sentence(np.random.default_rng(i * 7 + j)) for j in range(6)) for i in range(n_docs)]
    path.write_text("\n\n".join(docs) + "\n", encoding="utf-8")
    return path


def test_pretraining_shards_stream_one_shard_at_a_time(tok, tmp_path):
    """The shard directory of `subtok pretraining-data -o DIR` is pretraining input: read lazily,
    one shard at a time, every instance once per epoch, and a one-shard directory trains exactly
    as the same instances given as arrays."""
    from subtok.finetune import _stream_batches
    from subtok.pretraining import PRETRAINING_KEYS, PretrainingShards, write_pretraining_shards

    src = _docs_file(tmp_path / "docs.txt")
    m = write_pretraining_shards([src], tok, tmp_path / "many", blocksize=600, max_seq_length=24, dupe_factor=2,
                                 seed=3, show_progress=False)
    shards = PretrainingShards(tmp_path / "many")
    assert shards.num_shards >= 4 and len(shards) == m["instances"] and shards.max_seq_length == 24
    tr, ev = shards.split(0.1)
    assert len(ev) == int(np.ceil(0.1 * len(shards))) and len(tr) + len(ev) == len(shards)
    assert ev.num_shards >= 2  # held-out rows come from several shards, not one
    first = shards.shard(0)
    with np.load(tmp_path / "many" / m["shards"][0]["file"]) as f:
        for k in PRETRAINING_KEYS:
            np.testing.assert_array_equal(first[k], f[k])
    assert first["input_ids"].dtype == np.uint16  # stored compact, widened only per batch

    # every instance exactly once per epoch, full batches across shard ends, lazy loading
    loads = []

    class Counting:
        num_shards = shards.num_shards

        def __len__(self):
            return len(shards)

        def shard(self, i):
            loads.append(i)
            d = shards.shard(i)
            d["row"] = np.arange(len(d["input_ids"])) + 100_000 * i
            return d

    it = _stream_batches(Counting(), 7, np.random.default_rng(0), lambda d: d)
    next(it)
    assert len(loads) == 1
    sizes, rows = [7], []
    for b in it:
        sizes.append(len(b["row"]))
        rows.extend(b["row"].tolist())
    assert sorted(loads) == list(range(shards.num_shards))
    assert sizes[:-1] == [7] * (len(sizes) - 1) and len(sizes) == -(-len(shards) // 7)

    one = write_pretraining_shards([src], tok, tmp_path / "one", blocksize=1 << 20, max_seq_length=24,
                                   dupe_factor=2, seed=3, show_progress=False)
    assert len(one["shards"]) == 1
    arrays = PretrainingShards(tmp_path / "one").shard(0)
    results = []
    for data in (tmp_path / "one", arrays):
        model = sb.BertForPreTraining.from_config(_config(tok), seed=0)
        r = pretrain(model, tok, data, epochs=1, batch_size=16, lr=3e-3, eval_instances=data, progress=False, log=None)
        results.append([{k: v for k, v in h.items() if k != "seconds"} for h in r.history])
    assert results[0] == results[1]

    model = sb.BertForPreTraining.from_config(_config(tok), seed=0)
    res = pretrain(model, tok, tr, epochs=2, batch_size=16, lr=3e-3, eval_instances=ev, progress=False, log=None)
    assert res.history[-1]["loss"] < res.history[0]["loss"]
    assert 0.0 <= res.best_metric <= 1.0
    small = sb.BertForPreTraining.from_config(_config(tok, vocab_size=10), seed=0)
    with pytest.raises(ValueError, match="vocabulary"):
        pretrain(small, tok, tr, epochs=1, progress=False, log=None)
    with pytest.raises(FileNotFoundError):
        PretrainingShards(tmp_path)
    with pytest.raises(TypeError):
        pretrain(model, tok, [1, 2, 3], progress=False, log=None)


def test_metrics():
    assert squad_scores("The Bus!", "bus") == (1.0, 1.0)
    em, f1 = squad_scores("red bus", "bus")
    assert em == 0.0 and f1 == pytest.approx(2 / 3)
    assert macro_f1(["a", "a", "b"], ["a", "b", "b"]) == pytest.approx((2 / 3 + 2 / 3) / 2)
    with pytest.raises(ValueError):
        macro_f1(["a"], [])


def test_fit_rejects_bad_arguments(tok):
    model = sb.BertForSequenceClassification.from_config(_config(tok, num_labels=2), seed=0)
    with pytest.raises(ValueError):
        fit(model, tok, [], log=None)
    with pytest.raises(ValueError):
        fit(model, tok, [("apple", 0)], epochs=0, log=None)
    with pytest.raises(ValueError):
        fit(model, tok, [("apple", 5)], log=None, progress=False)
    with pytest.raises(TypeError):
        fit(sb.BertModel.from_config(_config(tok)), tok, [("apple", 0)], log=None)


def test_cli_finetune_and_pretrain(tok, tmp_path, capsys):
    base = tmp_path / "base"
    sb.BertForPreTraining.from_config(_config(tok), seed=0).save_pretrained(base)
    tok.save(str(base / "tokenizer.json"))
    texts = _sentences(120, seed=5)
    (tmp_path / "train.tsv").write_text(
        "".join(f"{'fruit' if t.split()[0] in FRUIT else 'traffic'}\t{t}\n" for t in texts), encoding="utf-8")
    rc = main(["finetune", "--task", "classify", "-i", str(tmp_path / "train.tsv"), "-m", str(base),
               "-o", str(tmp_path / "cls"), "--epochs", "2", "--lr", "2e-3"])
    err = capsys.readouterr().err
    assert rc == 0 and "epoch 2" in err and "accuracy" in err
    assert "final held-out accuracy" in err and "best accuracy" in err
    cfg = json.loads((tmp_path / "cls" / "config.json").read_text())
    assert cfg["architectures"] == ["BertForSequenceClassification"]
    assert set(cfg["id2label"].values()) == {"fruit", "traffic"}
    tags = tmp_path / "tags.jsonl"
    tags.write_text("".join(json.dumps({"words": t.split(), "tags": ["F" if w in FRUIT else "T" for w in t.split()]}) + "\n"
                            for t in texts), encoding="utf-8")
    assert main(["finetune", "--task", "tag", "-i", str(tags), "-m", str(base), "-o", str(tmp_path / "tag"),
                 "--epochs", "1"]) == 0
    # pretraining from scratch on `subtok pretraining-data` output
    corpus = tmp_path / "docs.txt"
    corpus.write_text("\n\n".join("\n".join(_sentences(5, seed=i)) for i in range(20)) + "\n", encoding="utf-8")
    assert main(["pretraining-data", str(corpus), "--tokenizer", str(base / "tokenizer.json"), "-o",
                 str(tmp_path / "inst.npz"), "--max-seq-length", "24", "--dupe-factor", "2"]) == 0
    assert main(["pretrain", "-i", str(tmp_path / "inst.npz"), "-t", str(base / "tokenizer.json"), "-o",
                 str(tmp_path / "pre"), "--layers", "1", "--hidden", "16", "--heads", "2", "--epochs", "1"]) == 0
    assert "mlm_accuracy" in capsys.readouterr().err
    assert sb.BertForPreTraining.from_pretrained(tmp_path / "pre").config.num_hidden_layers == 1
    # ... and on its streamed shard directory
    assert main(["pretraining-data", str(corpus), "-t", str(base / "tokenizer.json"), "-o", str(tmp_path / "shards"),
                 "--max-seq-length", "24", "--dupe-factor", "2", "--blocksize", "1k"]) == 0
    assert len(list((tmp_path / "shards").glob("pretrain-*.npz"))) >= 2
    assert main(["pretrain", "-i", str(tmp_path / "shards"), "-t", str(base / "tokenizer.json"), "-o",
                 str(tmp_path / "pre2"), "--layers", "1", "--hidden", "16", "--heads", "2", "--epochs", "1"]) == 0
    assert "mlm_accuracy" in capsys.readouterr().err
    assert sb.BertForPreTraining.from_pretrained(tmp_path / "pre2").config.max_position_embeddings == 128
    assert main(["pretrain", "-i", str(tmp_path / "cls"), "-t", str(base / "tokenizer.json"), "-o",
                 str(tmp_path / "z")]) == 2  # a directory without a pretraining manifest
    # errors: one line, exit code 2
    assert main(["finetune", "--task", "qa", "-i", str(tmp_path / "train.tsv"), "-m", str(base), "-o",
                 str(tmp_path / "x")]) == 2
    assert main(["pretrain", "-i", str(tmp_path / "missing.npz"), "-t", str(base / "tokenizer.json"), "-o",
                 str(tmp_path / "y")]) == 2
    assert "error" in capsys.readouterr().err
