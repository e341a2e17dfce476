"""Independent pure-Python reference implementations for the training tests.

Deliberately naive: every step recounts every pair from scratch, so they share no logic with
the Rust engine's incremental bookkeeping.
"""
from __future__ import annotations

import math

from collections import Counter
from fractions import Fraction
from typing import Dict, List, Optional, Sequence, Tuple


def hf_bert_word_counts(lines: Sequence[str], lowercase: bool = True) -> Dict[str, int]:
    """Words as HF's BERT pipeline pre-tokenizes them (HF's own normalizer and splitter)."""
    from tokenizers.normalizers import BertNormalizer
    from tokenizers.pre_tokenizers import BertPreTokenizer

    norm = BertNormalizer(lowercase=lowercase)
    pre = BertPreTokenizer()
    wc: Counter = Counter()
    for line in lines:
        for w, _ in pre.pre_tokenize_str(norm.normalize_str(line)):
            wc[w] += 1
    return dict(wc)


def wordpiece_reference(
    word_counts: Dict[str, int],
    specials: Sequence[str],
    vocab_size: int,
    min_frequency: int,
    score: str,
    cont_order: Optional[List[str]] = None,
) -> List[str]:
    """WordPiece training by the book (bert-spec §4).

    Alphabet: specials, every char by code point, then ``##c`` for chars seen non-initially
    (by code point, or in ``cont_order``). Each step merges the pair with the best score among
    pairs seen >= min_frequency times: ``count`` = pair count; ``likelihood`` =
    count/(freq(a)·freq(b)) (exact fractions); ``gain`` = count·ln(count·N/(freq(a)·freq(b))) with
    N the initial number of symbols (0 when negative), then the likelihood ratio. Ties: higher count, then smallest (id_a, id_b).
    """
    chars = sorted({c for w in word_counts for c in w})
    vocab = list(specials)
    ids = {t: i for i, t in enumerate(vocab)}

    def add(t: str) -> int:
        if t not in ids:
            ids[t] = len(vocab)
            vocab.append(t)
        return ids[t]

    for c in chars:
        add(c)
    cont = cont_order if cont_order is not None else sorted({c for w in word_counts for c in w[1:]})
    for c in cont:
        add("##" + c)
    splits = {w: [ids[w[0]]] + [ids["##" + c] for c in w[1:]] for w in word_counts}
    n0 = float(sum(len(sy) * word_counts[w] for w, sy in splits.items()))  # "gain": N, fixed at the start
    while len(vocab) < vocab_size:
        pc: Counter = Counter()
        tf: Counter = Counter()
        for w, sy in splits.items():
            c = word_counts[w]
            for s in sy:
                tf[s] += c
            for p in zip(sy, sy[1:]):
                pc[p] += c
        cands = [(p, c) for p, c in pc.items() if c >= min_frequency]
        if not cands:
            break
        if score == "count":
            best = max(cands, key=lambda x: (x[1], -x[0][0], -x[0][1]))
        elif score == "gain":
            def gain(x: Tuple[Tuple[int, int], int]) -> float:
                c = float(x[1])
                g = c * math.log(c * n0 / (float(tf[x[0][0]]) * float(tf[x[0][1]])))
                return g if g > 0 else 0.0

            best = max(cands, key=lambda x: (gain(x), Fraction(x[1], tf[x[0][0]] * tf[x[0][1]]), x[1], -x[0][0], -x[0][1]))
        else:
            best = max(cands, key=lambda x: (Fraction(x[1], tf[x[0][0]] * tf[x[0][1]]), x[1], -x[0][0], -x[0][1]))
        (a, b), _ = best
        right = vocab[b][2:] if vocab[b].startswith("##") else vocab[b]
        n = add(vocab[a] + right)
        for w, sy in splits.items():
            out: List[int] = []
            i = 0
            while i < len(sy):
                if i + 1 < len(sy) and sy[i] == a and sy[i + 1] == b:
                    out.append(n)
                    i += 2
                else:
                    out.append(sy[i])
                    i += 1
            splits[w] = out
    return vocab


def bpe_encode_word(symbols: List[str], ranks: Dict[Tuple[str, str], int]) -> List[str]:
    """Apply BPE merges by rank (lowest first) to one word's symbols."""
    sy = list(symbols)
    while len(sy) > 1:
        best = min(((ranks.get((x, y), 1 << 60), i) for i, (x, y) in enumerate(zip(sy, sy[1:]))))
        if best[0] == 1 << 60:
            break
        i = best[1]
        x, y = sy[i], sy[i + 1]
        out: List[str] = []
        j = 0
        while j < len(sy):
            if j + 1 < len(sy) and sy[j] == x and sy[j + 1] == y:
                out.append(x + y)
                j += 2
            else:
                out.append(sy[j])
                j += 1
        sy = out
    return sy


def wordpiece_encode_word(word: str, vocab: set, unk: str = "[UNK]", max_chars: int = 100) -> List[str]:
    """Greedy longest-match-first (bert-spec §3)."""
    if len(word) > max_chars:
        return [unk]
    out: List[str] = []
    start = 0
    while start < len(word):
        end = len(word)
        cur = None
        while start < end:
            sub = word[start:end] if start == 0 else "##" + word[start:end]
            if sub in vocab:
                cur = sub
                break
            end -= 1
        if cur is None:
            return [unk]
        out.append(cur)
        start = end
    return out


def bytes_to_unicode() -> Dict[int, str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}
