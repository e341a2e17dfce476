"""subtok.bert.blas: shortening OpenBLAS's idle spin (run in child processes: it is process-global)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from subtok.bert import blas

CHILD = r"""
import ctypes, json, os, sys
import numpy as np
from subtok.bert import blas
a = np.random.default_rng(0).random((400, 400))
ref = a @ a
libs = blas._openblas_libraries()
pthreads = bool(libs) and blas._is_pthread_build(ctypes.PyDLL(libs[0]))
applied = blas.apply_default() if sys.argv[1] == "default" else blas.shorten_blas_spin(int(sys.argv[1]))
timeout = None
if libs:
    fn = ctypes.PyDLL(libs[0]).openblas_thread_timeout
    fn.restype = ctypes.c_int
    timeout = fn()
print(json.dumps({"libs": len(libs), "pthreads": pthreads, "applied": applied, "timeout": timeout,
                  "env_left": "OPENBLAS_THREAD_TIMEOUT" in os.environ and sys.argv[1] != "default",
                  "diff": float(np.abs(a @ a - ref).max())}))
"""


def _child(arg: str, **env: str) -> dict:
    full = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_THREAD_TIMEOUT", "GOTO_THREAD_TIMEOUT")}
    full.update(OPENBLAS_NUM_THREADS="2", **env)
    out = subprocess.run([sys.executable, "-c", CHILD, arg], env=full, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_shortened_spin_takes_effect_and_results_are_unchanged():
    r = _child("12")
    if not r["pthreads"]:
        pytest.skip("NumPy is not linked against a pthreads OpenBLAS here")
    assert r["applied"] is True
    assert r["timeout"] == 12
    assert r["env_left"] is False  # the environment is restored
    assert r["diff"] == 0.0  # GEMMs after the thread restart give identical results


def test_default_respects_opt_outs():
    base = _child("default")
    if not base["pthreads"]:
        pytest.skip("NumPy is not linked against a pthreads OpenBLAS here")
    assert base["applied"] is True and base["timeout"] == blas.DEFAULT_EXPONENT
    keep = _child("default", SUBTOK_BLAS_SPIN="keep")
    assert keep["applied"] is False and keep["timeout"] != blas.DEFAULT_EXPONENT
    mine = _child("default", OPENBLAS_THREAD_TIMEOUT="20")
    assert mine["applied"] is False and mine["timeout"] == 20


def test_exponent_out_of_range_raises():
    with pytest.raises(ValueError, match="exponent"):
        blas.shorten_blas_spin(3)
    with pytest.raises(ValueError, match="exponent"):
        blas.shorten_blas_spin(31)
