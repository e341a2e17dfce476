"""Run the whole benchmark suite and write a report: ``python -m benches [--quick] [-o DIR]``.

Every bench checks that subtok's output is identical to its peers' before it times anything; a
bench whose check fails (or that crashes) is reported as FAILED and the run exits with status 1.
Peers that are not installed (tokie, rs-bpe, SentencePiece, bpeasy, PyTorch...) are skipped by
the benches themselves. ``--quick`` (under ~2 minutes on a 2-core machine) runs fewer rounds, on
one thread count where a bench allows it, and skips the slowest parts; the full mode is what the
README's figures come from.

Output: ``DIR/report.md`` (default ``bench-report/``) with each bench's tables, and PNG plots
drawn with matplotlib (``pip install subtok[bench]``; without it the report has tables only).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import machine  # noqa: E402

# name -> (script, quick args, full args, what it measures)
BENCHES: Dict[str, Tuple[str, List[str], List[str], str]] = {
    "wordpiece": ("bench_wordpiece.py", ["--repeats", "2"], [], "WordPiece encoding throughput vs HF tokenizers, tokie"),
    "bpe": ("bench_bpe.py", ["--quick"], [], "cl100k BPE throughput and scaling vs tiktoken, tokie, rs-bpe"),
    "inputs": ("bench_inputs.py", ["--repeats", "2"], [], "BERT model inputs vs transformers BertTokenizerFast"),
    "train": ("bench_train.py", ["--skip-x10", "--threads", "2", "--tools", "subtok-bpe,subtok-wp-count,hf-bpe,hf-wordpiece"], [],
              "tokenizer training vs HF trainers, SentencePiece, bpeasy"),
    "wordpiece_vocab": ("bench_wordpiece_vocab.py", ["--vocab-size", "8000"], [],
                        "held-out compression of the WordPiece learners vs HF's WordPieceTrainer"),
    "encoder": ("bench_encoder.py", ["--threads", "1", "--rounds", "2", "--e2e-lines", "64"], [],
                "NumPy BERT encoder vs transformers on PyTorch"),
    "pretraining": ("bench_pretraining.py", ["--dupe-factor", "1", "--repeat", "1", "--reference-docs", "10"], [],
                    "BERT pretraining-data generation vs Google's loop in Python"),
}
JSON_FLAG = {"train", "wordpiece_vocab"}  # these take --json PATH; the others read $SUBTOK_BENCH_JSON


def run_bench(name: str, quick: bool, workdir: Path) -> Dict[str, Any]:
    script, qargs, fargs, what = BENCHES[name]
    data_path = workdir / f"{name}.json"
    cmd = [sys.executable, str(HERE / script), *(qargs if quick else fargs)]
    if name in JSON_FLAG:
        cmd += ["--json", str(data_path)]
    env = dict(os.environ, SUBTOK_BENCH_JSON=str(data_path))
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(HERE.parent))
    secs = time.perf_counter() - t0
    data = json.loads(data_path.read_text(encoding="utf-8")) if data_path.exists() else None
    status = "ok" if p.returncode == 0 else f"FAILED (exit {p.returncode})"
    print(f"  {name:16} {status:18} {secs:6.1f} s", file=sys.stderr)
    return {"name": name, "what": what, "status": status, "seconds": secs, "stdout": p.stdout,
            "stderr": p.stderr, "data": data, "cmd": " ".join(["python", f"benches/{script}", *cmd[2:]])}


# ------------------------------------------------------------------------------------------ plots
def _bars(ax: Any, groups: Dict[str, Dict[str, float]], ylabel: str) -> None:
    """Grouped bars: one group per outer key, one bar per inner key."""
    labels = list(groups)
    series = sorted({k for g in groups.values() for k in g})
    width = 0.8 / max(len(series), 1)
    for i, s in enumerate(series):
        xs = [j + i * width for j in range(len(labels))]
        ax.bar(xs, [groups[g].get(s, 0.0) for g in labels], width, label=s)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(labels))])
    ax.set_xticklabels(labels, fontsize=7, rotation=12, ha="right")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)


def _throughput(res: Dict[str, Dict[str, Any]]) -> Dict[str, Dict[str, Dict[str, float]]]:
    """{path: {peer: {threads: value}}} from the throughput benches."""
    out: Dict[str, Dict[str, Dict[str, float]]] = {}
    d = (res.get("wordpiece") or {}).get("data")
    if d:
        for r in d["results"]:
            for peer, v in r["mbps"].items():
                out.setdefault("WordPiece encode (MB/s)", {}).setdefault(peer, {})[str(r["threads"])] = v
    d = (res.get("bpe") or {}).get("data")
    if d:
        for r in d["results"]:
            for peer, v in r["lines_mbps"].items():
                out.setdefault("cl100k BPE encode, per line (MB/s)", {}).setdefault(peer, {})[str(r["threads"])] = v
    d = (res.get("inputs") or {}).get("data")
    if d:
        for r in d["results"]:
            for peer, v in r["pairs_per_s"].items():
                out.setdefault("BERT inputs (pairs/s)", {}).setdefault(peer, {})[str(r["threads"])] = v
    d = (res.get("encoder") or {}).get("data")
    if d:
        for r in d["rows"]:
            t = str(r["threads"])
            enc = out.setdefault("BERT encoder, B=32 T=128 (sentences/s)", {})
            enc.setdefault("subtok NumPy encoder", {})[t] = r["padded_sents_per_s"]
            if "padded_torch_sents_per_s" in r:
                enc.setdefault("transformers on PyTorch", {})[t] = r["padded_torch_sents_per_s"]
            e2e = out.setdefault("sentence embeddings end to end (sentences/s)", {})
            e2e.setdefault("subtok SentenceEncoder", {})[t] = r["e2e_sents_per_s"]
            for mode in ("max_length", "longest"):
                if f"torch_e2e_pad_{mode}_sents_per_s" in r:
                    e2e.setdefault(f"PyTorch, padded to {mode}", {})[t] = r[f"torch_e2e_pad_{mode}_sents_per_s"]
    return out


def draw_plots(res: Dict[str, Dict[str, Any]], outdir: Path) -> Tuple[List[Tuple[str, str]], List[str]]:
    """Return ([(title, png name)], [notes about plots that could not be drawn])."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return [], ["matplotlib is not installed (pip install subtok[bench]): no plots"]
    plots: List[Tuple[str, str]] = []
    notes: List[str] = []

    def save(fig: Any, title: str, fname: str) -> None:
        fig.suptitle(title, fontsize=10)
        fig.tight_layout()
        fig.savefig(outdir / fname, dpi=110)
        plt.close(fig)
        plots.append((title, fname))

    tp = _throughput(res)
    if tp:
        fig, axes = plt.subplots(len(tp), 1, figsize=(9, 3.2 * len(tp)), squeeze=False)
        for ax, (path, peers) in zip(axes[:, 0], tp.items()):
            threads = sorted({t for v in peers.values() for t in v}, key=int)
            _bars(ax, {p: {f"{t} thread(s)": v.get(t, 0.0) for t in threads} for p, v in peers.items()}, path)
        save(fig, "Throughput per peer for each path", "throughput.png")
        scal = {path: {p: v["2"] / v["1"] for p, v in peers.items() if "1" in v and "2" in v and v["1"]}
                for path, peers in tp.items()}
        scal = {k: v for k, v in scal.items() if v}
        if scal:
            fig, axes = plt.subplots(len(scal), 1, figsize=(9, 2.8 * len(scal)), squeeze=False)
            for ax, (path, ratios) in zip(axes[:, 0], scal.items()):
                ax.bar(range(len(ratios)), list(ratios.values()))
                ax.set_xticks(range(len(ratios)))
                ax.set_xticklabels(list(ratios), fontsize=7)
                ax.axhline(1.0, color="gray", lw=0.8)
                ax.set_ylabel("2 threads / 1 thread")
                ax.set_title(path, fontsize=8)
            save(fig, "1 -> 2 thread scaling", "scaling.png")
        else:
            notes.append("1 -> 2 thread scaling: no bench ran at both 1 and 2 threads (quick mode runs one count)")
    bpe = (res.get("bpe") or {}).get("data")
    if bpe:
        sc = next(r for r in bpe["results"] if r["threads"] == 1 or r is bpe["results"][-1])["scaling"]
        fig, ax = plt.subplots(figsize=(8, 4.5))
        for kind, row in sc["subtok_ns_per_byte"].items():
            xs = [s for s in sc["sizes"] if str(s) in row]
            ax.plot(xs, [row[str(s)] for s in xs], marker="o", label=f"subtok: {kind}")
        for kind, row in sc["tiktoken_ns_per_byte"].items():
            xs = [s for s in sc["sizes"] if str(s) in row]
            ax.plot(xs, [row[str(s)] for s in xs], ls="--", marker="x", alpha=0.6, label=f"tiktoken: {kind}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("input size (bytes)")
        ax.set_ylabel("ns per byte")
        ax.legend(fontsize=6, ncol=2)
        save(fig, "cl100k BPE: time per byte against input size (flat = linear)", "per_byte.png")
    else:
        notes.append("per-byte time against input size: the BPE bench did not run")
    train = (res.get("train") or {}).get("data")
    if train:
        pts: Dict[str, Dict[float, float]] = {}
        mb = 3.39  # the corpora concatenated; x10 is ten times that
        for key, v in train.items():
            if "@" not in key or not isinstance(v, dict) or "seconds" not in v:
                continue
            tool, th = key.split("@")
            size = mb * 10 if th == "x10" else mb
            pts.setdefault(tool, {})[size] = min(v["seconds"], pts.get(tool, {}).get(size, float("inf")))
        if any(len(p) > 1 for p in pts.values()):
            fig, ax = plt.subplots(figsize=(7, 4))
            for tool, p in pts.items():
                xs = sorted(p)
                ax.plot(xs, [p[x] for x in xs], marker="o", label=tool)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("corpus size (MB)")
            ax.set_ylabel("training time (s)")
            ax.legend(fontsize=7)
            save(fig, "Training time against corpus size (vocab 30,000)", "training.png")
        else:
            notes.append("training time against corpus size: one corpus size only (quick mode skips the x10 corpus)")
    enc = tp.get("BERT encoder, B=32 T=128 (sentences/s)")
    if not enc:
        notes.append("encoder sentences/s against peers: the encoder bench did not run")
    elif len(enc) < 2:
        notes.append("encoder plot has no peer column: PyTorch is not installed here")
    return plots, notes


# ------------------------------------------------------------------------------------------ report
def write_report(res: Dict[str, Dict[str, Any]], outdir: Path, quick: bool, total: float) -> Path:
    plots, notes = draw_plots(res, outdir)
    lines = [f"# subtok benchmark report ({'quick' if quick else 'full'} run)", "",
             f"Machine: {machine()}. Total time {total:.0f} s. Each bench checks that its outputs are identical "
             "to the peers' before timing; peers that are not installed are skipped.", "",
             "| bench | measures | status | time (s) |", "|---|---|---|---:|"]
    for r in res.values():
        lines.append(f"| {r['name']} | {r['what']} | {r['status']} | {r['seconds']:.1f} |")
    lines.append("")
    for title, fname in plots:
        lines += [f"## {title}", "", f"![{title}]({fname})", ""]
    if notes:
        lines += ["Plots not drawn:", ""] + [f"- {n}" for n in notes] + [""]
    for r in res.values():
        lines += [f"## {r['name']}: {r['what']}", "", f"`{r['cmd']}`", ""]
        lines += [r["stdout"].rstrip(), ""]
        if r["status"] != "ok":
            lines += ["```", r["stderr"].strip()[-3000:], "```", ""]
    path = outdir / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benches", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short run (CI): fewer rounds, smaller inputs")
    ap.add_argument("-o", "--output", default="bench-report", metavar="DIR", help="report folder (default: %(default)s)")
    ap.add_argument("--only", default=None, metavar="A,B", help=f"run these benches only ({', '.join(BENCHES)})")
    args = ap.parse_args(argv)
    names = list(BENCHES) if not args.only else [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        ap.error(f"unknown bench(es): {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
    outdir = Path(args.output)
    outdir.mkdir(parents=True, exist_ok=True)
    print(f"running {len(names)} benches ({'quick' if args.quick else 'full'}) -> {outdir}/report.md", file=sys.stderr)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="subtok-bench-") as tmp:
        res = {n: run_bench(n, args.quick, Path(tmp)) for n in names}
    path = write_report(res, outdir, args.quick, time.perf_counter() - t0)
    print(f"wrote {path}", file=sys.stderr)
    failed = [r["name"] for r in res.values() if r["status"] != "ok"]
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
