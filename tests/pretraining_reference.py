"""A plain-Python transcription of Google's ``create_pretraining_data.py`` instance loop
(``bert-spec.md`` section 6), used as a reference for subtok's Rust implementation.

It is written in the structure of Google's script (lists of token lists, ``del tokens[0]`` /
``pop()`` truncation, candidate groups shuffled then taken greedily), but draws its random
numbers from the same generator and per-document streams as subtok (xoshiro256** seeded via
SplitMix64, one stream per (pass, document) task), so that both must produce *identical*
arrays. subtok's documented choices are mirrored: whole-word groups do not span ``[SEP]`` and
the 80/10/10 decision is drawn per chosen position in ascending order.
"""
from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np

_M = (1 << 64) - 1


def _splitmix64(x: int):
    x = (x + 0x9E3779B97F4A7C15) & _M
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M
    return x, z ^ (z >> 31)


def _rotl(x: int, k: int) -> int:
    return ((x << k) | (x >> (64 - k))) & _M


class Rng:
    """xoshiro256** with Python's random-like helpers."""

    def __init__(self, seed: int) -> None:
        x = seed & _M
        self.s = []
        for _ in range(4):
            x, z = _splitmix64(x)
            self.s.append(z)

    @classmethod
    def for_stream(cls, seed: int, stream: int) -> "Rng":
        _, a = _splitmix64(seed ^ 0x5851F42D4C957F2D)
        _, z = _splitmix64(a ^ ((stream * 0xD1342543DE82EF95) & _M))
        return cls(z)

    def next_u64(self) -> int:
        s = self.s
        result = (_rotl((s[1] * 5) & _M, 7) * 9) & _M
        t = (s[1] << 17) & _M
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        return result

    def random(self) -> float:
        return (self.next_u64() >> 11) * (1.0 / (1 << 53))

    def below(self, n: int) -> int:
        m = self.next_u64() * n
        if (m & _M) < n:
            threshold = ((1 << 64) - n) % n
            while (m & _M) < threshold:
                m = self.next_u64() * n
        return m >> 64

    def randint(self, lo: int, hi: int) -> int:
        return lo + self.below(hi - lo + 1)

    def shuffle(self, v: list) -> None:
        for i in range(len(v) - 1, 0, -1):
            j = self.below(i + 1)
            v[i], v[j] = v[j], v[i]


def _truncate_seq_pair(tokens_a: list, tokens_b: list, max_num_tokens: int, rng: Rng) -> None:
    while len(tokens_a) + len(tokens_b) > max_num_tokens:
        trunc = tokens_a if len(tokens_a) > len(tokens_b) else tokens_b
        if rng.random() < 0.5:
            del trunc[0]
        else:
            trunc.pop()


def _masked_lm(tokens, cfg, is_subword, rng):
    cls_id, sep_id = cfg["cls_id"], cfg["sep_id"]
    cand: List[List[int]] = []
    prev_special = True
    for i, t in enumerate(tokens):
        if t == cls_id or t == sep_id:
            prev_special = True
            continue
        if cfg["whole_word_mask"] and cand and not prev_special and is_subword[t]:
            cand[-1].append(i)
        else:
            cand.append([i])
        prev_special = False
    rng.shuffle(cand)
    output = list(tokens)
    num_to_predict = min(cfg["max_predictions_per_seq"], max(1, int(round(len(tokens) * cfg["masked_lm_prob"]))))
    chosen: List[int] = []
    for group in cand:
        if len(chosen) >= num_to_predict:
            break
        if len(chosen) + len(group) > num_to_predict:
            continue
        chosen.extend(group)
    chosen.sort()
    for i in chosen:
        if rng.random() < 0.8:
            output[i] = cfg["mask_id"]
        elif rng.random() < 0.5:
            pass
        else:
            output[i] = rng.below(cfg["vocab_size"])
    return output, chosen, [tokens[i] for i in chosen]


def _instances_from_document(all_documents, document_index, cfg, is_subword, rng):
    document = all_documents[document_index]
    max_num_tokens = cfg["max_seq_length"] - 3
    target_seq_length = max_num_tokens
    if rng.random() < cfg["short_seq_prob"]:
        target_seq_length = rng.randint(2, max_num_tokens)
    instances = []
    current_chunk: List[list] = []
    current_length = 0
    i = 0
    while i < len(document):
        segment = document[i]
        current_chunk.append(segment)
        current_length += len(segment)
        if i == len(document) - 1 or current_length >= target_seq_length:
            a_end = 1
            if len(current_chunk) >= 2:
                a_end = rng.randint(1, len(current_chunk) - 1)
            tokens_a = [t for s in current_chunk[:a_end] for t in s]
            tokens_b: list = []
            if len(current_chunk) == 1 or rng.random() < 0.5:
                is_random_next = True
                target_b_length = target_seq_length - len(tokens_a)
                for _ in range(10):
                    random_document_index = rng.randint(0, len(all_documents) - 1)
                    if random_document_index != document_index:
                        break
                random_document = all_documents[random_document_index]
                random_start = rng.randint(0, len(random_document) - 1)
                for j in range(random_start, len(random_document)):
                    tokens_b.extend(random_document[j])
                    if len(tokens_b) >= target_b_length:
                        break
                i -= len(current_chunk) - a_end  # put the unused sentences back
            else:
                is_random_next = False
                tokens_b = [t for s in current_chunk[a_end:] for t in s]
            _truncate_seq_pair(tokens_a, tokens_b, max_num_tokens, rng)
            assert tokens_a and tokens_b
            tokens = [cfg["cls_id"], *tokens_a, cfg["sep_id"], *tokens_b, cfg["sep_id"]]
            masked, positions, labels = _masked_lm(tokens, cfg, is_subword, rng)
            instances.append((masked, len(tokens_a), positions, labels, is_random_next))
            current_chunk = []
            current_length = 0
        i += 1
    return instances


def reference_pretraining_data(
    tokenized_documents: Sequence[Sequence[Sequence[int]]],
    *,
    cls_id: int,
    sep_id: int,
    mask_id: int,
    vocab_size: int,
    is_subword: Sequence[bool],
    max_seq_length: int = 128,
    short_seq_prob: float = 0.1,
    masked_lm_prob: float = 0.15,
    max_predictions_per_seq: int = 20,
    dupe_factor: int = 10,
    whole_word_mask: bool = False,
    seed: int = 12345,
) -> Dict[str, np.ndarray]:
    """Same contract as ``subtok.pretraining.create_pretraining_data`` on pre-tokenized documents."""
    seed &= _M
    cfg = dict(
        cls_id=cls_id, sep_id=sep_id, mask_id=mask_id, vocab_size=vocab_size, max_seq_length=max_seq_length,
        short_seq_prob=short_seq_prob, masked_lm_prob=masked_lm_prob,
        max_predictions_per_seq=max_predictions_per_seq, whole_word_mask=whole_word_mask,
    )
    docs = [[list(s) for s in d if len(s)] for d in tokenized_documents]
    docs = [d for d in docs if d]
    order = list(range(len(docs)))
    Rng(seed).shuffle(order)
    all_documents = [docs[k] for k in order]
    instances = []
    for p in range(dupe_factor):
        for d in range(len(all_documents)):
            rng = Rng.for_stream(seed, p * len(all_documents) + d)
            instances.extend(_instances_from_document(all_documents, d, cfg, is_subword, rng))
    n, L, P = len(instances), max_seq_length, max_predictions_per_seq
    out = {
        "input_ids": np.zeros((n, L), np.int64),
        "token_type_ids": np.zeros((n, L), np.int64),
        "attention_mask": np.zeros((n, L), np.int64),
        "masked_lm_positions": np.zeros((n, P), np.int64),
        "masked_lm_ids": np.zeros((n, P), np.int64),
        "masked_lm_weights": np.zeros((n, P), np.float32),
        "next_sentence_labels": np.zeros(n, np.int64),
    }
    for r, (tokens, len_a, positions, labels, is_random_next) in enumerate(instances):
        out["input_ids"][r, : len(tokens)] = tokens
        out["attention_mask"][r, : len(tokens)] = 1
        out["token_type_ids"][r, len_a + 2 : len(tokens)] = 1
        out["masked_lm_positions"][r, : len(positions)] = positions
        out["masked_lm_ids"][r, : len(labels)] = labels
        out["masked_lm_weights"][r, : len(labels)] = 1.0
        out["next_sentence_labels"][r] = int(is_random_next)
    perm = list(range(n))  # Google shuffles all instances at the end
    Rng.for_stream(seed, _M).shuffle(perm)
    return {k: v[perm] for k, v in out.items()}
