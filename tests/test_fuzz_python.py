"""Replay of the atheris harnesses in ``fuzz/python/`` (the Python half of ``fuzz/``): every saved
crasher (``fuzz/python/regressions/<target>/``), the seeds and a sample of each saved corpus go
through the harness's own checks, so each must stay within the target's contract (a result or
one of its allowed exceptions). Fuzzing itself needs atheris and runs by hand:
``python fuzz/python/fuzz_tok_call.py -max_total_time=600`` (see ``fuzz/python/_harness.py``).
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parent.parent / "fuzz" / "python"
sys.path.insert(0, str(FUZZ))

TARGETS = ["tok_call", "token_shards", "safetensors", "torch_bin"]
#: Every n-th corpus file is replayed (the corpora hold a few hundred inputs each).
CORPUS_SAMPLE = 4


def _cases():
    import _harness

    for name in TARGETS:
        for p in _harness.saved_inputs(name, sample=CORPUS_SAMPLE):
            yield pytest.param(name, p, id=f"{name}/{p.parent.parent.name}/{p.name}")


@pytest.mark.parametrize("target", TARGETS)
def test_seeds_stay_in_contract(target: str) -> None:
    import _harness

    mod = importlib.import_module(f"fuzz_{target}")
    for s in mod.seeds():
        _harness.check_one(mod.one_input, mod.ALLOWED, s)


@pytest.mark.parametrize("target,path", list(_cases()))
def test_saved_input_stays_in_contract(target: str, path: Path) -> None:
    import _harness

    mod = importlib.import_module(f"fuzz_{target}")
    _harness.check_one(mod.one_input, mod.ALLOWED, path.read_bytes())
