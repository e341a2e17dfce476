"""Benchmark tokenizer training: subtok vs HF BpeTrainer / WordPieceTrainer, SentencePiece BPE, bpeasy.

Every run is a fresh subprocess (so peak RSS is that run's own, read with os.wait4), runs are
interleaved across tools, and identity comes first: subtok's BPE must equal HF's BpeTrainer
(vocab and merges) before any ratio is printed.

    python benches/bench_train.py [--vocab-size 30000] [--reps 1] [--threads 1,2] [--skip-x10]

Corpus: ../shared/corpora/{shakespeare,wikitext2-test,udhr-multilingual}.txt concatenated;
"x10" repeats it ten times (same unique words, ten times the counting work). Compression:
train on 90% of the lines (every 10th line held out) and count tokens on the held-out 10%.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPORA = ("shakespeare.txt", "wikitext2-test.txt", "udhr-multilingual.txt")
GPT2_PAT = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

# ---------------------------------------------------------------------------------------- workers
def _peak_rss_mb() -> Optional[float]:
    """This process's own high-water RSS (VmHWM is per address space, so unlike ru_maxrss it
    does not inherit the parent's peak across fork+exec)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _report(seconds: float) -> None:
    print(json.dumps({"seconds": seconds, "peak_rss_mb": _peak_rss_mb()}))


# Each worker trains once on `train_file`, writes its artifact into `out_dir` and prints
# {"seconds": wall time of the training call}.


def _w_subtok(model: str, score: str, train_file: str, out_dir: str, vocab: int) -> None:
    from subtok.training import save_json, train_json

    t = time.perf_counter()
    text = train_json([train_file], model=model, score=score, vocab_size=vocab, show_progress=False)
    dt = time.perf_counter() - t
    save_json(text, os.path.join(out_dir, "tokenizer.json"))
    _report(dt)


def _w_hf_bpe(train_file: str, out_dir: str, vocab: int) -> None:
    from tokenizers import ByteLevelBPETokenizer

    tok = ByteLevelBPETokenizer()
    t = time.perf_counter()
    tok.train([train_file], vocab_size=vocab, min_frequency=2, show_progress=False)
    dt = time.perf_counter() - t
    tok._tokenizer.save(os.path.join(out_dir, "tokenizer.json"))
    _report(dt)


def _w_hf_wordpiece(train_file: str, out_dir: str, vocab: int) -> None:
    from tokenizers import BertWordPieceTokenizer

    tok = BertWordPieceTokenizer()
    t = time.perf_counter()
    tok.train([train_file], vocab_size=vocab, min_frequency=2, show_progress=False)
    dt = time.perf_counter() - t
    tok._tokenizer.save(os.path.join(out_dir, "tokenizer.json"))
    _report(dt)


def _w_spm(train_file: str, out_dir: str, vocab: int) -> None:
    import sentencepiece as spm

    threads = int(os.environ.get("RAYON_NUM_THREADS") or os.cpu_count() or 1)
    t = time.perf_counter()
    spm.SentencePieceTrainer.train(
        input=train_file, model_prefix=os.path.join(out_dir, "spm"), vocab_size=vocab, model_type="bpe",
        character_coverage=1.0, num_threads=threads, hard_vocab_limit=False, minloglevel=2,
        max_sentence_length=1 << 16, input_sentence_size=0, shuffle_input_sentence=False,
    )
    _report(time.perf_counter() - t)


def _w_bpeasy(train_file: str, out_dir: str, vocab: int) -> None:
    import base64

    import bpeasy

    def lines():
        with open(train_file, encoding="utf-8") as f:
            yield from f

    t = time.perf_counter()
    ranks = bpeasy.train_bpe(lines(), GPT2_PAT, 128, vocab)
    dt = time.perf_counter() - t
    with open(os.path.join(out_dir, "bpeasy.json"), "w") as f:
        json.dump({base64.b64encode(k).decode(): v for k, v in ranks.items()}, f)
    _report(dt)


def _w_noop(which: str) -> None:
    if which == "subtok":
        import subtok.training  # noqa: F401
    else:
        import tokenizers  # noqa: F401
    _report(0.0)


WORKERS = {
    "subtok-bpe": lambda f, o, v: _w_subtok("bpe", "count", f, o, v),
    "subtok-wp-likelihood": lambda f, o, v: _w_subtok("wordpiece", "likelihood", f, o, v),
    "subtok-wp-count": lambda f, o, v: _w_subtok("wordpiece", "count", f, o, v),
    "hf-bpe": _w_hf_bpe,
    "hf-wordpiece": _w_hf_wordpiece,
    "sentencepiece-bpe": _w_spm,
    "bpeasy": _w_bpeasy,
}


def _available(name: str) -> bool:
    mod = {"sentencepiece-bpe": "sentencepiece", "bpeasy": "bpeasy"}.get(name)
    if mod is None:
        return True
    try:
        __import__(mod)
        return True
    except ImportError:
        return False


# ---------------------------------------------------------------------------------------- driver
def run_worker(name: str, train_file: str, out_dir: str, vocab: int, threads: Optional[int]) -> Dict[str, float]:
    env = dict(os.environ)
    if threads:
        for k in ("RAYON_NUM_THREADS", "RAYON_RS_NUM_THREADS", "RAYON_RS_NUM_CPUS"):
            env[k] = str(threads)
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        p = subprocess.Popen([sys.executable, __file__, "--worker", name, train_file, out_dir, str(vocab)],
                             stdout=fo, stderr=fe, env=env)
        t0 = time.perf_counter()
        # wait4 gives this child's own rusage (peak RSS in KiB on Linux).
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read(), fe.read()
    if p.returncode != 0:
        raise RuntimeError(f"{name} failed: {err.decode()[-2000:]}")
    r = json.loads(out.decode().strip().splitlines()[-1])
    peak = r.pop("peak_rss_mb", None)
    r.update(process_s=wall, cpu_s=ru.ru_utime + ru.ru_stime, rss_mb=peak if peak is not None else ru.ru_maxrss / 1024)
    return r


def _vocab_list(path: str) -> List[str]:
    v = json.load(open(path, encoding="utf-8"))["model"]["vocab"]
    return sorted(v, key=v.__getitem__)


def _count_tokens(name: str, out_dir: str, held: List[str]) -> Optional[int]:
    if name.startswith("subtok") or name.startswith("hf"):
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(os.path.join(out_dir, "tokenizer.json"))
        return sum(len(e.ids) for e in tok.encode_batch(held, add_special_tokens=False))
    if name == "sentencepiece-bpe":
        import sentencepiece as spm

        sp = spm.SentencePieceProcessor(model_file=os.path.join(out_dir, "spm.model"))
        return sum(len(x) for x in sp.encode(held))
    if name == "bpeasy":
        import base64

        import tiktoken

        ranks = {base64.b64decode(k): v for k, v in json.load(open(os.path.join(out_dir, "bpeasy.json"))).items()}
        enc = tiktoken.Encoding("bpeasy", pat_str=GPT2_PAT, mergeable_ranks=ranks, special_tokens={})
        return sum(len(enc.encode_ordinary(l)) for l in held)
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vocab-size", type=int, default=30000)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts ('0' = library default)")
    ap.add_argument("--skip-x10", action="store_true")
    ap.add_argument("--tools", default=",".join(WORKERS))
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args()
    if not SHARED.is_dir():
        print(f"shared corpora not found at {SHARED}", file=sys.stderr)
        return 2
    tools = [t for t in args.tools.split(",") if t]
    for t in tools:
        if not _available(t):
            print(f"# {t}: not installed, skipped")
    tools = [t for t in tools if _available(t)]
    V = args.vocab_size
    tmp = Path(tempfile.mkdtemp(prefix="subtok-bench-train-"))
    text = "".join((SHARED / "corpora" / n).read_text(encoding="utf-8") for n in CORPORA)
    full = tmp / "corpus.txt"
    full.write_text(text, encoding="utf-8")
    x10 = tmp / "corpus_x10.txt"
    if not args.skip_x10:
        x10.write_text(text * 10, encoding="utf-8")
    lines = text.splitlines(keepends=True)
    train90 = tmp / "train90.txt"
    train90.write_text("".join(l for i, l in enumerate(lines) if i % 10 != 9), encoding="utf-8")
    held = [l.rstrip("\n") for i, l in enumerate(lines) if i % 10 == 9]
    mb = len(text.encode()) / 1e6
    print(f"# corpus {mb:.2f} MB, {len(lines)} lines; vocab {V}; python {sys.version.split()[0]}; cpus {os.cpu_count()}")
    results: Dict[str, Dict[str, object]] = {}

    # Baseline interpreter RSS (imports only).
    for which in ("subtok", "hf"):
        r = run_worker(f"noop-{which}", str(full), str(tmp / f"noop-{which}"), V, None)
        print(f"# baseline RSS after import ({which}): {r['rss_mb']:.0f} MB")

    # 1. Identity first: subtok BPE == HF BpeTrainer on the full corpus.
    thread_list = [int(t) for t in args.threads.split(",") if t != ""]
    runs: Dict[tuple, List[Dict[str, float]]] = {}
    for rep in range(args.reps):
        for th in thread_list:
            for name in tools:
                out = tmp / f"{name}-t{th}"
                runs.setdefault((name, th), []).append(run_worker(name, str(full), str(out), V, th or None))
    if "subtok-bpe" in tools and "hf-bpe" in tools:
        th = thread_list[0]
        a = json.load(open(tmp / f"subtok-bpe-t{th}" / "tokenizer.json", encoding="utf-8"))["model"]
        b = json.load(open(tmp / f"hf-bpe-t{th}" / "tokenizer.json", encoding="utf-8"))["model"]
        same_vocab = _vocab_list(str(tmp / f"subtok-bpe-t{th}" / "tokenizer.json")) == _vocab_list(str(tmp / f"hf-bpe-t{th}" / "tokenizer.json"))
        same_merges = a["merges"] == b["merges"]
        print(f"# identity: subtok BPE vs HF BpeTrainer: vocab {'identical' if same_vocab else 'DIFFERENT'}, "
              f"merges {'identical' if same_merges else 'DIFFERENT'}")
        results["identity_bpe"] = {"vocab": same_vocab, "merges": same_merges}
    if "subtok-wp-count" in tools and "hf-wordpiece" in tools:
        th = thread_list[0]
        a = _vocab_list(str(tmp / f"subtok-wp-count-t{th}" / "tokenizer.json"))
        b = _vocab_list(str(tmp / f"hf-wordpiece-t{th}" / "tokenizer.json"))
        common = len(set(a) & set(b))
        print(f"# subtok wordpiece score=count vs HF WordPieceTrainer: {common}/{len(b)} tokens in common "
              "(HF's alphabet cut at limit_alphabet and its '##c' order are hash-order dependent)")

    print(f"\n{'tool':24} {'threads':>7} {'train s':>9} {'MB/s':>7} {'cpu s':>8} {'peak RSS MB':>12}")
    for (name, th), rs in runs.items():
        s = statistics.median(r["seconds"] for r in rs)
        cpu = statistics.median(r["cpu_s"] for r in rs)
        rss = max(r["rss_mb"] for r in rs)
        results[f"{name}@{th}"] = {"seconds": s, "cpu_s": cpu, "rss_mb": rss}
        print(f"{name:24} {th or 'all':>7} {s:9.3f} {mb / s:7.2f} {cpu:8.2f} {rss:12.0f}")

    def ratio(a: str, b: str, th: int) -> Optional[float]:
        ka, kb = f"{a}@{th}", f"{b}@{th}"
        if ka in results and kb in results:
            return results[kb]["seconds"] / results[ka]["seconds"]  # type: ignore[index,operator]
        return None

    print()
    for th in thread_list:
        for a, b, goal in (("subtok-bpe", "hf-bpe", ">= 3x"), ("subtok-bpe", "sentencepiece-bpe", ">= 1x"),
                           ("subtok-bpe", "bpeasy", ""), ("subtok-wp-likelihood", "hf-wordpiece", ">= 1x"),
                           ("subtok-wp-count", "hf-wordpiece", "")):
            r = ratio(a, b, th)
            if r is not None:
                ra = results[f"{a}@{th}"]["rss_mb"]  # type: ignore[index]
                rb = results[f"{b}@{th}"]["rss_mb"]  # type: ignore[index]
                print(f"threads={th or 'all'}: {a} is {r:.2f}x faster than {b} (goal {goal or '-'}); "
                      f"peak RSS {ra:.0f} vs {rb:.0f} MB")

    # 2. x10 corpus: the counting phase scales, unique words do not.
    if not args.skip_x10:
        print(f"\n# x10 corpus ({mb * 10:.1f} MB)")
        th = max(thread_list) or None
        for name in [t for t in ("subtok-bpe", "hf-bpe", "subtok-wp-count", "subtok-wp-likelihood", "hf-wordpiece") if t in tools]:
            r = run_worker(name, str(x10), str(tmp / f"{name}-x10"), V, th)
            results[f"{name}@x10"] = r
            print(f"{name:24} {th or 'all':>7} {r['seconds']:9.3f} {mb * 10 / r['seconds']:7.2f} {r['cpu_s']:8.2f} {r['rss_mb']:12.0f}")

    # 3. Compression on the held-out 10%.
    print(f"\n# compression: train on 90% of lines, tokens on the held-out 10% ({len(held)} lines)")
    comp: Dict[str, int] = {}
    for name in tools:
        out = tmp / f"{name}-90"
        run_worker(name, str(train90), str(out), V, max(thread_list) or None)
        n = _count_tokens(name, str(out), held)
        if n is not None:
            comp[name] = n
    base = comp.get("hf-bpe")
    for name, n in comp.items():
        rel = f"{(n / base - 1) * 100:+.2f}% vs HF BPE" if base else ""
        print(f"{name:24} {n:10d} tokens  {rel}")
    results["compression_tokens"] = comp  # type: ignore[assignment]
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        name, f, o, v = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
        if name.startswith("noop-"):
            _w_noop(name[5:])
        else:
            WORKERS[name](f, o, v)
        sys.exit(0)
    sys.exit(main())
