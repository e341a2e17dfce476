"""Shared benchmark plumbing: corpus loading, single-core pinning, interleaved timing, tables."""
from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora"
CORPUS_FILES = ["shakespeare.txt", "wikitext2-test.txt", "udhr-multilingual.txt"]


def corpus_lines() -> List[str]:
    lines: List[str] = []
    for name in CORPUS_FILES:
        text = (CORPORA / name).read_text(encoding="utf-8")
        lines += [line for line in text.split("\n") if line.strip()]
    return lines


def megabytes(lines: Sequence[str]) -> float:
    return sum(len(s.encode("utf-8")) for s in lines) / 1e6


def pin_to_one_core() -> None:
    """Make this process (and every thread it starts later) run on one core, so that every peer,
    whatever its own thread pool does, gets exactly one core's worth of time."""
    os.environ["RAYON_NUM_THREADS"] = "1"
    os.environ["RAYON_RS_NUM_CPUS"] = "1"
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    cpu = sorted(os.sched_getaffinity(0))[0]
    os.sched_setaffinity(0, {cpu})


@contextlib.contextmanager
def busy_core(core: Optional[int]) -> Iterator[None]:
    """While the block runs, keep CPU ``core`` busy with a spinning process pinned to it (``taskset``):
    the controlled load of "another program is using one core" (``None``: no load)."""
    if core is None:
        yield
        return
    spin = subprocess.Popen(["taskset", "-c", str(core), sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)  # let it start
        yield
    finally:
        spin.kill()
        spin.wait()


def load_average() -> str:
    """The 1/5/15-minute load averages, for the header of a timing table."""
    try:
        return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "load average unknown"


def interleaved(fns: Dict[str, Callable[[], object]], repeats: int) -> Dict[str, float]:
    """Run each function once per round, rounds interleaved; return the median seconds of each."""
    times: Dict[str, List[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def run_modes(script: str, extra: Sequence[str] = ()) -> List[dict]:
    """Run `script --mode one|all` in child processes and collect their JSON results."""
    results = []
    for mode in ("one", "all"):
        out = subprocess.run([sys.executable, script, "--mode", mode, *extra], capture_output=True, text=True)
        if out.returncode != 0:
            sys.stderr.write(out.stderr)
            raise SystemExit(f"benchmark child ({mode}) failed")
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return results


def peak_rss_mb(code: str) -> float:
    """Peak resident memory (MB) of a fresh Python process running `code`."""
    probe = code + "\nimport resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=str(REPO))
    if out.returncode != 0:
        return float("nan")
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def save_results(obj: object) -> None:
    """Write a bench's results as JSON to $SUBTOK_BENCH_JSON (set by `python -m benches`)."""
    path = os.environ.get("SUBTOK_BENCH_JSON")
    if path:
        Path(path).write_text(json.dumps(obj, indent=1), encoding="utf-8")


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"
