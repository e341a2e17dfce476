"""Data for the training examples, built from ../shared/corpora (never copied into the repo)."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPORA = SHARED / "corpora"


def probe_module():
    """examples/linear_probe_udhr.py (its TSV reader and the probe's held-out split)."""
    spec = importlib.util.spec_from_file_location("linear_probe_udhr", Path(__file__).with_name("linear_probe_udhr.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def udhr_split(seed: int = 0, test_fraction: float = 0.2):
    """(train, test) lists of (text, language) with the linear probe's stratified split."""
    m = probe_module()
    langs, texts = m.load_tsv(CORPORA / "udhr-labeled.tsv")
    tr, te = m.stratified_split(langs, test_fraction, seed)
    return [(texts[i], langs[i]) for i in tr], [(texts[i], langs[i]) for i in te], m.duplicate_code_groups(langs, texts)


def wikitext_sentences(limit: int = 10**9) -> List[List[str]]:
    """wikitext2 as documents (articles) of sentences, up to about ``limit`` sentences."""
    docs: List[List[str]] = [[]]
    for line in (CORPORA / "wikitext2-test.txt").read_text(encoding="utf-8").split("\n"):
        s = line.strip()
        if s.startswith("= ") and not s.startswith("= = "):
            if docs[-1]:
                docs.append([])
            continue
        if not s or s.startswith("="):
            continue
        for sent in re.split(r"(?<=[.!?]) ", s):
            if len(sent.split()) >= 4:
                docs[-1].append(sent)
    out, n = [], 0
    for d in docs:
        if len(d) >= 2:
            out.append(d)
            n += len(d)
            if n >= limit:
                break
    return out


def wikitext_split(held_out: float = 0.2) -> Tuple[List[List[str]], List[List[str]]]:
    """wikitext2's documents: (training documents, held-out documents), the last ``held_out``
    share held out (whole documents, so no held-out sentence is seen in training)."""
    docs = wikitext_sentences(limit=10**9)
    cut = len(docs) - max(1, int(round(len(docs) * held_out)))
    return docs[:cut], docs[cut:]


def nsp_pairs(docs: List[List[str]], n: int, seed: int) -> List[Tuple[str, str, str]]:
    """(sentence, next-or-random sentence, "next"/"random"), half each."""
    rng = np.random.default_rng(seed)
    flat = [s for d in docs for s in d]
    out = []
    for _ in range(n):
        d = docs[int(rng.integers(len(docs)))]
        i = int(rng.integers(len(d) - 1))
        if rng.random() < 0.5:
            out.append((d[i], d[i + 1], "next"))
        else:
            out.append((d[i], flat[int(rng.integers(len(flat)))], "random"))
    return out


def spliced_lines(pairs: List[Tuple[str, str]], n: int, seed: int) -> List[Tuple[List[str], List[str]]]:
    """Lines spliced from two languages: the first words of one line + the last words of another,
    each word tagged with its language."""
    rng = np.random.default_rng(seed)
    by: Dict[str, List[List[str]]] = {}
    for text, lang in pairs:
        w = text.split()
        if len(w) >= 4 and " " in text:
            by.setdefault(lang, []).append(w)
    langs = sorted(by)
    out = []
    for _ in range(n):
        a, b = rng.choice(len(langs), 2, replace=False)
        la, lb = langs[a], langs[b]
        wa = by[la][int(rng.integers(len(by[la])))]
        wb = by[lb][int(rng.integers(len(by[lb])))]
        ka, kb = int(rng.integers(2, min(len(wa), 12) + 1)), int(rng.integers(2, min(len(wb), 12) + 1))
        words = wa[:ka] + wb[-kb:]
        out.append((words, [la] * ka + [lb] * kb))
    return out


def qa_examples(docs: List[List[str]], n: int, seed: int, q_words: int = 4, a_words: int = 3,
                context_sentences: int = 5) -> List[Dict]:
    """Extractive QA from wikitext2: the context is ``context_sentences`` sentences around one
    sentence (fewer at a document's edges); the question is the first ``q_words`` words of that
    sentence and the answer the ``a_words`` words that follow."""
    rng = np.random.default_rng(seed)
    before = (context_sentences - 1) // 2
    out = []
    while len(out) < n:
        d = docs[int(rng.integers(len(docs)))]
        i = int(rng.integers(len(d)))
        w = d[i].split()
        if len(w) < q_words + a_words + 1:
            continue
        ctx_sents = d[max(0, i - before) : i + context_sentences - before]
        context = " ".join(ctx_sents)
        start_sent = context.index(d[i])
        answer = " ".join(w[q_words : q_words + a_words])
        prefix = " ".join(w[:q_words]) + " "
        if not d[i].startswith(prefix):
            continue
        out.append({"question": " ".join(w[:q_words]), "context": context,
                    "answer_start": start_sent + len(prefix), "answer_text": answer})
    return out
