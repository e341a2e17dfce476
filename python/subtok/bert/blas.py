"""Stop NumPy's OpenBLAS worker threads from spinning between the encoder's matrix products.

After each multi-threaded GEMM, OpenBLAS's pthread workers busy-wait for the next job for
``2**28`` cycles (about 0.1 s) before they sleep. The encoder alternates GEMMs with multi-threaded
Rust kernels (attention, GELU, LayerNorm), so those spinning workers take the cores the kernels
need: at 2 threads this costs about 15% of a BERT forward pass. OpenBLAS reads the spin length
from ``OPENBLAS_THREAD_TIMEOUT`` (an exponent, 4 to 30) when it starts its threads, so
:func:`shorten_blas_spin` re-reads that setting and restarts the threads once, which is what
OpenBLAS itself does after a ``fork``.

It is applied once per process when the first :class:`~subtok.bert.BertModel` is built, unless
the environment already sets ``OPENBLAS_THREAD_TIMEOUT``/``GOTO_THREAD_TIMEOUT`` (your choice
wins) or ``SUBTOK_BLAS_SPIN=keep``. It only changes how soon idle OpenBLAS threads go to sleep;
results are unchanged. It does nothing for other BLAS libraries or for OpenMP builds of OpenBLAS.
"""
from __future__ import annotations

import ctypes
import os
import threading
from typing import List, Optional

#: Spin for ``2**16`` cycles (a few tens of microseconds) before sleeping.
DEFAULT_EXPONENT = 16

_lock = threading.Lock()
_applied: Optional[bool] = None


def _openblas_libraries() -> List[str]:
    """Paths of the OpenBLAS shared libraries mapped into this process (Linux only)."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            paths = {parts[5] for parts in map(str.split, f) if len(parts) >= 6}
    except OSError:
        return []
    return sorted(p for p in paths if "openblas" in os.path.basename(p).lower() and ".so" in os.path.basename(p))


def _is_pthread_build(lib: ctypes.PyDLL) -> bool:
    for name in ("openblas_get_parallel", "scipy_openblas_get_parallel64_", "openblas_get_parallel64_"):
        fn = getattr(lib, name, None)
        if fn is not None:
            fn.restype = ctypes.c_int
            return fn() == 1  # 0: sequential, 1: pthreads, 2: OpenMP
    return False


def shorten_blas_spin(exponent: int = DEFAULT_EXPONENT) -> bool:
    """Make idle OpenBLAS workers sleep after ``2**exponent`` cycles instead of ``2**28``.

    Returns ``True`` when a pthreads OpenBLAS was found and its threads were restarted with the
    new setting. Call it while no other thread is inside a BLAS routine (the encoder calls it
    when the first model is loaded). ``exponent`` must be in 4..30, OpenBLAS's range.
    """
    if not 4 <= exponent <= 30:
        raise ValueError(f"exponent must be in [4, 30], got {exponent}")
    done = False
    for path in _openblas_libraries():
        try:
            lib = ctypes.PyDLL(path)  # PyDLL keeps the GIL: no Python thread starts a GEMM meanwhile
            read_env, timeout, shutdown = lib.openblas_read_env, lib.openblas_thread_timeout, lib.blas_thread_shutdown_
        except (OSError, AttributeError):
            continue
        if not _is_pthread_build(lib):
            continue
        timeout.restype = ctypes.c_int
        saved = os.environ.get("OPENBLAS_THREAD_TIMEOUT")
        os.environ["OPENBLAS_THREAD_TIMEOUT"] = str(exponent)
        try:
            read_env()
        finally:  # the setting now lives inside OpenBLAS; leave the environment as it was
            if saved is None:
                del os.environ["OPENBLAS_THREAD_TIMEOUT"]
            else:
                os.environ["OPENBLAS_THREAD_TIMEOUT"] = saved
        if timeout() != exponent:
            continue
        shutdown()  # the next BLAS call starts fresh threads that read the new timeout
        done = True
    return done


def apply_default() -> bool:
    """Apply :func:`shorten_blas_spin` once per process unless the environment opts out."""
    global _applied
    if _applied is not None:
        return _applied
    with _lock:
        if _applied is None:
            env = os.environ
            opted_out = (
                env.get("SUBTOK_BLAS_SPIN", "").lower() == "keep"
                or "OPENBLAS_THREAD_TIMEOUT" in env
                or "GOTO_THREAD_TIMEOUT" in env
            )
            _applied = False if opted_out else shorten_blas_spin()
    return _applied
