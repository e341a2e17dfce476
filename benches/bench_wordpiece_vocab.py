"""Which WordPiece vocabulary compresses best? subtok's learners against HF's WordPieceTrainer.

Train on 90% of the lines of the shared corpora (every 10th line held out), vocab 30,000 (or
--vocab-size), then count tokens on the held-out 10% (tokens per byte, lower is better), each
vocabulary read by the same WordPiece encoder (subtok's, identical to HF's). Identity first:
subtok's ``score="count"`` must give HF's vocabulary (as a set: HF orders the ``##`` alphabet
by hash, and breaks count ties through it: >= 97% shared) before any figure is printed.

    python benches/bench_wordpiece_vocab.py [--vocab-size 30000] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import CORPORA, CORPUS_FILES  # noqa: E402

SCORES = ["count", "gain", "likelihood", "topdown"]
PROBES = ["hello", "world", "queen", "the", "because", "government"]


def main(argv: List[str] = None) -> int:  # type: ignore[assignment]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vocab-size", type=int, default=30000)
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args(argv)

    import subtok
    from tokenizers import BertWordPieceTokenizer

    lines: List[str] = []
    for name in CORPUS_FILES:
        lines += (CORPORA / name).read_text(encoding="utf-8").splitlines()
    train = [l for i, l in enumerate(lines) if i % 10 != 9]
    held = [l for i, l in enumerate(lines) if i % 10 == 9 and l.strip()]
    held_bytes = sum(len(l.encode("utf-8")) for l in held)
    results: Dict[str, Dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as d:
        train_file = os.path.join(d, "train.txt")
        with open(train_file, "w", encoding="utf-8") as f:
            f.write("\n".join(train) + "\n")
        hf = BertWordPieceTokenizer()
        t = time.perf_counter()
        hf.train([train_file], vocab_size=args.vocab_size, min_frequency=2, show_progress=False)
        hf_s = time.perf_counter() - t
        hf_path = os.path.join(d, "hf.json")
        hf._tokenizer.save(hf_path)
        toks = {"HF WordPieceTrainer": (subtok.Tokenizer.from_file(hf_path), hf_s)}
        for score in SCORES:
            t = time.perf_counter()
            tok = subtok.train([train_file], model="wordpiece", score=score, vocab_size=args.vocab_size,
                               show_progress=False)
            toks[f"subtok score={score!r}"] = (tok, time.perf_counter() - t)
        # identity: count score == HF's trainer
        ours, theirs = set(toks["subtok score='count'"][0].get_vocab()), set(toks["HF WordPieceTrainer"][0].get_vocab())
        # HF appends the "##c" alphabet in hash-map order and breaks count ties through those ids,
        # so a few tied tokens differ from run to run (tests/test_train_wordpiece.py pins the rule).
        if len(ours) != len(theirs) or len(ours & theirs) < 0.97 * len(theirs):
            raise SystemExit(f"identity check failed: count-score vocab differs from HF's ({len(ours ^ theirs)} tokens)")
        print(f"identity: subtok score='count' shares {len(ours & theirs)} of {len(theirs)} tokens with HF's "
              "WordPieceTrainer (the rest: count ties broken through HF's hash-ordered ##c ids)")
        base = None
        print(f"\nheld-out: {len(held)} lines, {held_bytes / 1e6:.2f} MB; vocab target {args.vocab_size}\n")
        print("| learner | vocab | train s | held-out tokens | tokens/byte | vs HF | probes in vocab |")
        print("|---|---:|---:|---:|---:|---:|---|")
        for name, (tok, secs) in toks.items():
            for t in (tok,):
                t.no_truncation()
                t.no_padding()
            _, lengths = tok.encode_batch_flat(held, add_special_tokens=False)
            n = int(lengths.sum())
            base = base or n
            vocab = tok.get_vocab()
            probes = [p for p in PROBES if p in vocab]
            results[name] = {"vocab": len(vocab), "train_s": secs, "tokens": n, "tokens_per_byte": n / held_bytes,
                             "vs_hf": n / base - 1, "probes": probes}
            print(f"| {name} | {len(vocab)} | {secs:.2f} | {n} | {n / held_bytes:.4f} | {n / base - 1:+.1%} | "
                  f"{' '.join(probes)} |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
