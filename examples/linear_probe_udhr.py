"""Linear probe on frozen sentence embeddings: language identification on the UDHR segments.

Embeds every line of ``shared/corpora/udhr-labeled.tsv`` (``language-code<TAB>text``) with
all-MiniLM-L6-v2 (:class:`subtok.SentenceEncoder`), trains a NumPy softmax classifier
(:class:`subtok.tasks.LinearProbe`) on a stratified 80% split and reports accuracy on the held-out 20%.

    python examples/linear_probe_udhr.py [--tsv PATH] [--test-fraction 0.2] [--seed 0]
"""
from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

import numpy as np

from subtok.embeddings import SentenceEncoder
from subtok.tasks import LinearProbe

SHARED = Path(__file__).resolve().parents[2] / "shared"


def load_tsv(path: Path):
    langs, texts = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if "\t" not in line:
                continue
            code, text = line.split("\t", 1)
            if text.strip():
                langs.append(code)
                texts.append(text)
    return langs, texts


def stratified_split(labels, test_fraction: float, seed: int):
    rng = np.random.default_rng(seed)
    by = collections.defaultdict(list)
    for i, y in enumerate(labels):
        by[y].append(i)
    train, test = [], []
    for y in sorted(by):
        idx = np.array(by[y])
        rng.shuffle(idx)
        k = int(round(len(idx) * test_fraction))
        if len(idx) >= 2:
            k = min(max(k, 1), len(idx) - 1)
        else:
            k = 0
        test.extend(idx[:k])
        train.extend(idx[k:])
    return np.array(sorted(train)), np.array(sorted(test))


def duplicate_code_groups(langs, texts, min_share: float = 0.5):
    """Map each code to a group id, merging codes that label the same text (the UDHR files hold
    some languages twice under different codes, e.g. identical lines as ``cze`` and ``pql``).

    Two codes are merged when at least ``min_share`` of the smaller one's lines appear verbatim
    under the other.
    """
    codes_of = collections.defaultdict(set)
    count = collections.Counter(langs)
    for y, t in zip(langs, texts):
        codes_of[t.strip()].add(y)
    shared = collections.Counter()
    for cs in codes_of.values():
        for a in cs:
            for b in cs:
                if a < b:
                    shared[(a, b)] += 1
    parent = {c: c for c in count}

    def find(c):
        while parent[c] != c:
            c = parent[c]
        return c

    for (a, b), n in shared.items():
        if n >= min_share * min(count[a], count[b]):
            parent[find(a)] = find(b)
    return {c: find(c) for c in count}


def make_encoder(model: str | None) -> SentenceEncoder:
    try:
        return SentenceEncoder.from_pretrained(model)
    except ImportError:
        # subtok built without its tokenizer: fall back to HF tokenizers when installed
        import tokenizers

        from subtok.bert import BertModel
        from subtok.embeddings import default_model_path, read_max_seq_length

        folder = model or default_model_path()
        print("note: using HF tokenizers for tokenization (subtok.Tokenizer unavailable)", file=sys.stderr)
        tok = tokenizers.Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
        return SentenceEncoder(BertModel.from_pretrained(folder), tok, read_max_seq_length(folder))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tsv", type=Path, default=SHARED / "corpora" / "udhr-labeled.tsv")
    ap.add_argument("--model", default=None, help="BERT folder (default: all-MiniLM-L6-v2)")
    ap.add_argument("--test-fraction", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--cache", type=Path, default=None, help="optional .npy file to cache the embeddings")
    args = ap.parse_args()

    langs, texts = load_tsv(args.tsv)
    print(f"{len(texts)} segments in {len(set(langs))} languages")
    if args.cache is not None and args.cache.exists():
        emb = np.load(args.cache)
    else:
        enc = make_encoder(args.model)
        t0 = time.perf_counter()
        emb = enc.encode(texts, batch_size=32)
        dt = time.perf_counter() - t0
        print(f"embedded in {dt:.1f} s ({len(texts) / dt:.1f} sentences/s)")
        if args.cache is not None:
            np.save(args.cache, emb)
    tr, te = stratified_split(langs, args.test_fraction, args.seed)
    y = np.array(langs)
    probe = LinearProbe(epochs=args.epochs, seed=args.seed).fit(emb[tr], y[tr])
    acc_tr = probe.score(emb[tr], y[tr])
    acc = probe.score(emb[te], y[te])
    majority = collections.Counter(y[tr]).most_common(1)[0][0]
    chance = float(np.mean(y[te] == majority))
    print(f"train accuracy {acc_tr:.4f}; held-out accuracy {acc:.4f} on {len(te)} segments "
          f"({len(set(y[te]))} languages; majority-class baseline {chance:.4f})")
    pred = np.array(probe.predict(emb[te]))
    group = duplicate_code_groups(langs, texts)
    merged = {g for g in group.values() if list(group.values()).count(g) > 1}
    aliases = sorted(sorted(c for c in group if group[c] == g) for g in merged)
    acc_merged = float(np.mean([group[t] == group[p] for t, p in zip(y[te], pred)]))
    print(f"codes that label the same texts: {', '.join('/'.join(a) for a in aliases) or 'none'}")
    print(f"held-out accuracy counting those aliases as one language: {acc_merged:.4f}")
    confused = collections.Counter((t, p) for t, p in zip(y[te], pred) if t != p).most_common(5)
    if confused:
        print("most confused (true -> predicted):", ", ".join(f"{t}->{p} x{n}" for (t, p), n in confused))


if __name__ == "__main__":
    main()
