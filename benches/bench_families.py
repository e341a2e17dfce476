"""Per-family benchmark: subtok vs HF tokenizers `encode_batch` on every tokenizer.json family of
tests/_families.py, 1 thread (the whole process pinned to one core).

Run: python benches/bench_families.py [--quick] [--families a,b,...]

* Each family is built offline from ../shared/corpora (HF trainers, sentencepiece + transformers'
  converter), saved, and loaded by both libraries.
* Identity first: ids, tokens, offsets, type ids, special-token masks and word ids of every line
  must match HF's, else the family is reported as differing and not timed.
* Then `encode_batch` (Encoding objects, special tokens added) of all lines, interleaved rounds,
  median kept; MB/s and the ratio to HF.

Prints a markdown table.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _common import corpus_lines, interleaved, megabytes, pin_to_one_core  # noqa: E402

FIELDS = ("ids", "tokens", "offsets", "type_ids", "special_tokens_mask", "word_ids")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer lines and rounds")
    ap.add_argument("--families", default="", help="comma-separated subset")
    args = ap.parse_args()
    pin_to_one_core()
    from tokenizers import Tokenizer as HFTokenizer

    import _families as F
    from subtok.tokenizer import Tokenizer

    lines = corpus_lines()
    if args.quick:
        lines = lines[::8]
    mb = megabytes(lines)
    repeats = 3 if args.quick else 5
    names = [n for n in args.families.split(",") if n] or list(F.FAMILIES)
    print(f"{len(lines)} lines, {mb:.2f} MB, 1 thread, encode_batch (Encoding objects), median of {repeats}\n")
    print("| family | subtok path | HF MB/s | subtok MB/s | subtok / HF |")
    print("|---|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as d:
        for name in names:
            sub = Path(d) / name
            sub.mkdir()
            path = sub / "tokenizer.json"
            F.build(name, sub).save(str(path))
            hf = HFTokenizer.from_file(str(path))
            tok = Tokenizer.from_file(path)
            kind = type(tok._impl).__name__
            want, got = hf.encode_batch(lines), tok.encode_batch(lines)
            same = all(getattr(a, f) == getattr(b, f) for a, b in zip(want, got) for f in FIELDS)
            if not same:
                print(f"| {name} | {kind} | – | – | output differs, not timed |")
                continue
            t = interleaved({"hf": lambda: hf.encode_batch(lines), "subtok": lambda: tok.encode_batch(lines)}, repeats)
            print(f"| {name} | {kind} | {mb / t['hf']:.2f} | {mb / t['subtok']:.2f} | {t['hf'] / t['subtok']:.1f}× |",
                  flush=True)


if __name__ == "__main__":
    main()
