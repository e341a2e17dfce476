"""Runtime guarantees (issue 12): settings changes are atomic while other threads encode,
copies are independent, long calls answer Ctrl-C, truncation stops early with identical results,
and the linear-time WordPiece matcher gives the same tokens as the reference."""
from __future__ import annotations

import copy
import threading

import numpy as np
import pytest
import tokenizers

import subtok
from _bpe_common import cl100k, tiktoken_file
from conftest import CORPUS_FILES, FRESH_SIGINT, corpus_lines


@pytest.fixture(scope="module")
def wp_path(minilm_dir):
    return str(minilm_dir / "tokenizer.json")


@pytest.fixture(scope="module")
def wp(wp_path):
    return subtok.Tokenizer.from_file(wp_path)


@pytest.fixture(scope="module")
def bpe():
    return subtok.Tokenizer.from_tiktoken(tiktoken_file("cl100k_base"), "cl100k_base", cl100k()._special_tokens)


@pytest.fixture(scope="module")
def lines():
    return corpus_lines(CORPUS_FILES[1])[:2000]


# ---------------------------------------------------------------- class 4: settings and threads


@pytest.mark.parametrize("kind", ["wp", "bpe"])
def test_settings_change_while_threads_encode(kind, request, lines):
    tok = copy.copy(request.getfixturevalue(kind))
    tok.no_truncation()
    tok.no_padding()
    plain = [e.ids for e in tok.encode_batch(lines)]
    tok.enable_truncation(16)
    cut = [e.ids for e in tok.encode_batch(lines)]
    tok.no_truncation()
    stop = threading.Event()
    errors: list = []
    seen: list = []
    pad = 999_999  # an id no text encodes to, so padding can be stripped exactly

    def encoder() -> None:
        try:
            while not stop.is_set():
                got = [e.ids for e in tok.encode_batch(lines)]
                # The whole batch saw one truncation setting (padding only appends pad ids).
                unpadded = [[i for i in ids if i != pad] for ids in got]
                seen.append(unpadded in (plain, cut))
                ids, lens = tok.encode_batch_flat(lines[:200])
                assert lens.sum() == len(ids)
        except Exception as e:  # noqa: BLE001 - any exception is the failure under test
            errors.append(e)

    def changer() -> None:
        try:
            i = 0
            while len(seen) < 12 and not errors:
                i += 1
                tok.enable_truncation(16) if i % 2 else tok.no_truncation()
                tok.enable_padding(pad_id=pad, length=40) if i % 3 == 0 else tok.no_padding()
                _ = tok.truncation, tok.padding
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    workers = [threading.Thread(target=encoder) for _ in range(4)]
    for w in workers:
        w.start()
    ch = threading.Thread(target=changer)
    ch.start()
    ch.join()
    stop.set()
    for w in workers:
        w.join()
    assert errors == []
    assert seen and all(seen)


@pytest.mark.parametrize("kind", ["wp", "bpe"])
def test_one_snapshot_per_batch(kind, request, lines):
    """Every row of one batch is encoded with the same truncation setting."""
    tok = copy.copy(request.getfixturevalue(kind))
    long_lines = [l for l in lines if len(tok.encode(l).ids) > 20][:500]
    assert len(long_lines) > 100
    stop = threading.Event()
    mixed: list = []

    def flip() -> None:
        i = 0
        while not stop.is_set():
            tok.enable_truncation(10 if i % 2 else 20)
            i += 1

    t = threading.Thread(target=flip)
    t.start()
    try:
        for _ in range(30):
            lens = {len(e.ids) for e in tok.encode_batch(long_lines)}
            if len(lens) != 1:
                mixed.append(lens)
    finally:
        stop.set()
        t.join()
    assert mixed == []


@pytest.mark.parametrize("kind", ["wp", "bpe"])
@pytest.mark.parametrize("copier", [copy.copy, copy.deepcopy])
def test_copies_are_independent(kind, copier, request):
    orig = request.getfixturevalue(kind)
    text = "The quick brown fox jumps over the lazy dog " * 10
    base = orig.encode(text).ids
    before = (orig.truncation, orig.padding)
    dup = copier(orig)
    assert isinstance(dup, subtok.Tokenizer) and dup._impl is not orig._impl
    dup.enable_truncation(5)
    dup.enable_padding(length=7)
    assert (orig.truncation, orig.padding) == before
    assert orig.encode(text).ids == base
    assert len(dup.encode(text).ids) == 7
    orig.no_padding()
    try:
        assert dup.truncation["max_length"] == 5 and dup.padding["length"] == 7
    finally:
        if before[1] is not None:
            orig.enable_padding(**before[1])


def test_copy_keeps_loaded_settings(wp_path, tmp_path):
    tok = subtok.Tokenizer.from_file(wp_path)
    tok.enable_truncation(12, stride=2)
    dup = copy.copy(tok)
    assert dup.truncation == tok.truncation
    assert dup.encode("a b c " * 20).ids == tok.encode("a b c " * 20).ids


# ---------------------------------------------------------------- class 3: Ctrl-C

_SIGINT_CHILD = FRESH_SIGINT + r"""
import json, os, signal, sys, threading, time
sys.path.insert(0, sys.argv[1])
import subtok
kind, call = sys.argv[2], sys.argv[3]
if kind == "bpe":
    from _bpe_common import cl100k, tiktoken_file
    tok = subtok.Tokenizer.from_tiktoken(tiktoken_file("cl100k_base"), "cl100k_base")
    texts = [" " * 100_000 + "x"] * 600          # linear work, few tokens: ~60 MB
else:
    tok = subtok.Tokenizer.from_file(sys.argv[4])
    line = open(sys.argv[5], encoding="utf-8").read()[:200_000]
    texts = [line] * 300                          # ~60 MB of prose
fn = getattr(tok, call)
t0 = time.perf_counter(); fn(texts[: len(texts) // 6]); full = 6 * (time.perf_counter() - t0)
sent = {}
def interrupt():
    sent["t"] = time.perf_counter()
    os.kill(os.getpid(), signal.SIGINT)
threading.Timer(0.1 * full, interrupt).start()
t0 = time.perf_counter()
try:
    fn(texts)
    print(json.dumps({"full": full, "interrupted": False, "took": time.perf_counter() - t0}))
except KeyboardInterrupt:
    print(json.dumps({"full": full, "interrupted": True, "latency": time.perf_counter() - sent["t"]}))
"""


@pytest.mark.parametrize("kind,call", [("bpe", "encode_batch"), ("wp", "encode_batch_flat"), ("wp", "encode_batch")])
def test_sigint_interrupts_a_long_batch(kind, call, wp_path):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from conftest import CORPORA

    here = str(Path(__file__).parent)
    env = dict(os.environ, RAYON_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, "-c", _SIGINT_CHILD, here, kind, call, wp_path, str(CORPORA / CORPUS_FILES[1])],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout.strip().splitlines()[-1])
    # The uninterrupted call would run for ~0.9 * full after the signal.
    assert r["interrupted"], r
    assert r["latency"] < max(0.5, 0.3 * r["full"]), r


# ---------------------------------------------------------------- class 6: truncation stops early

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

_WORDS = ["the", "cat", "sat", "on", "a", "mat", "!", "unbelievable", "ünïcode", "東京", "x1", "...", "tokenization"]
_text = st.lists(st.sampled_from(_WORDS), min_size=0, max_size=60).map(" ".join)


def _rows(out, keep):
    """Per kept row: (ids, type ids, offsets, special mask) without padding."""
    res = []
    for r in keep:
        n = int(out["attention_mask"][r].sum())
        res.append((out["input_ids"][r][:n].tolist(), out["token_type_ids"][r][:n].tolist(),
                    out["offset_mapping"][r][:n].tolist(), out["special_tokens_mask"][r][:n].tolist()))
    return res


def _inputs(impl, items, trunc, overflow):
    try:
        pad = (512, None, 0, "[PAD]", "right")
        return impl.build_inputs(items, True, trunc, pad, (overflow, True, True, False, False)), None
    except Exception as e:  # noqa: BLE001 - both paths must fail alike
        return None, (type(e), str(e))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    a=_text, b=st.one_of(st.none(), _text), max_length=st.integers(4, 40),
    strategy=st.sampled_from(["longest_first", "only_first", "only_second"]),
    direction=st.sampled_from(["right", "left"]),
)
def test_truncation_without_overflow_matches_full_then_truncate(wp, a, b, max_length, strategy, direction):
    """The early-stopping path (no overflow requested) keeps exactly the rows the full
    encode-then-truncate path (the overflow path's first row per input) keeps."""
    items = [(a, b) if b is not None else a]
    trunc = (max_length, 0, strategy, direction)
    early, e1 = _inputs(wp._impl, items, trunc, False)
    full, e2 = _inputs(wp._impl, items, trunc, True)
    assert (e1 is None) == (e2 is None), (e1, e2)
    if e1 is not None:
        assert e1[0] is e2[0]
        return
    first = [list(full["overflow_to_sample_mapping"]).index(0)]
    assert _rows(early, [0]) == _rows(full, first)


@pytest.mark.parametrize("kind", ["wp", "bpe"])
@pytest.mark.parametrize("direction", ["right", "left"])
def test_flat_truncation_matches_full_then_cut(kind, direction, request, lines):
    tok = copy.copy(request.getfixturevalue(kind))
    texts = lines[:300] + [" ".join(lines[:500]), "", "!" * 5000]
    tok.no_truncation()
    full_ids, full_lens = tok.encode_batch_flat(texts)
    for ml in (1, 7, 64):
        tok.enable_truncation(ml, direction=direction)
        ids, lens = tok.encode_batch_flat(texts)
        want, at = [], 0
        for n in full_lens:
            row = full_ids[at: at + n].tolist()
            at += n
            want.extend(row[:ml] if direction == "right" else row[max(0, len(row) - ml):])
        assert ids.tolist() == want
        assert lens.tolist() == [min(int(n), ml) for n in full_lens]
