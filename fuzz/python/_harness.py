"""Shared plumbing of the atheris harnesses in this folder (the Python half of ``fuzz/``).

Each harness module defines ``NAME``, ``ALLOWED`` (the exception types its calls may raise: the
documented contract) and ``one_input(data: bytes)``, which decodes the fuzz input into a call,
makes it and checks the result. Anything else it raises is a bug. ``main`` either fuzzes with
atheris (libFuzzer) or replays saved inputs:

    python fuzz/python/fuzz_tok_call.py -max_total_time=600      # fuzz (corpus in corpus/<name>/)
    python fuzz/python/fuzz_tok_call.py --replay                 # replay corpus/ and regressions/

While fuzzing, an input that raises outside ``ALLOWED`` is saved once per (exception type,
raising line) under ``crashers/<name>/`` with its traceback printed, and fuzzing goes on, so one
run reports every crash class it reaches. Hangs and memory blow-ups stop the run through
libFuzzer's ``-timeout`` / ``-rss_limit_mb`` (defaults set here: 20 s, 3 GB), which write the
input under ``crashers/<name>/`` too. Fixed crashers move to ``regressions/<name>/``, which
``tests/test_fuzz_python.py`` replays in CI with the seeds and a sample of each corpus.
"""
from __future__ import annotations

import atexit
import hashlib
import os
import sys
import tempfile
import traceback
import warnings
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Tuple, Type

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def scratch_dir() -> str:
    """A private scratch folder for inputs that must be files (on tmpfs when there is one)."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    return tempfile.mkdtemp(prefix="subtok-fuzz-", dir=base)


def saved_inputs(name: str, sample: int = 0) -> List[Path]:
    """The saved inputs of a target: its regressions, then its corpus (every ``sample``-th
    file when ``sample`` > 1, so a replay stays short)."""
    out: List[Path] = []
    for kind in ("regressions", "corpus"):
        d = HERE / kind / name
        if d.is_dir():
            files = sorted(p for p in d.iterdir() if p.is_file())
            if kind == "corpus" and sample > 1:
                files = files[::sample]
            out += files
    return out


def check_one(one_input: Callable[[bytes], None], allowed: Tuple[Type[BaseException], ...], data: bytes) -> None:
    """Run one input; an exception outside ``allowed`` propagates."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            one_input(data)
        except allowed:
            pass


def _where(e: BaseException) -> str:
    """The innermost frame of the traceback inside subtok (else the innermost frame)."""
    frames = traceback.extract_tb(e.__traceback__)
    mine = [f for f in frames if "subtok" in f.filename and "fuzz" not in f.filename] or frames
    f = mine[-1] if mine else None
    return f"{Path(f.filename).name}:{f.lineno}" if f else "?"


def main(name: str, one_input: Callable[[bytes], None], allowed: Tuple[Type[BaseException], ...],
         seeds: Callable[[], Iterable[bytes]]) -> None:
    corpus = HERE / "corpus" / name
    crashers = HERE / "crashers" / name
    if "--replay" in sys.argv:
        files = [Path(a) for a in sys.argv[1:] if a != "--replay"] or saved_inputs(name)
        for p in files:
            check_one(one_input, allowed, p.read_bytes())
        print(f"{name}: {len(files)} saved inputs replayed, all within the contract")
        return

    import atheris

    corpus.mkdir(parents=True, exist_ok=True)
    crashers.mkdir(parents=True, exist_ok=True)
    if not any(corpus.iterdir()):
        for s in seeds():
            (corpus / hashlib.sha1(s).hexdigest()[:16]).write_bytes(s)
    seen: Dict[str, int] = {}
    stats = {"runs": 0}

    def test_one_input(data: bytes) -> None:
        stats["runs"] += 1
        if stats["runs"] % 1000 == 0:
            report(to_file=True)
        try:
            check_one(one_input, allowed, data)
        except KeyboardInterrupt:
            raise
        except BaseException as e:  # noqa: BLE001 - every escape is a finding
            key = f"{type(e).__name__} at {_where(e)}"
            seen[key] = seen.get(key, 0) + 1
            if seen[key] == 1:
                path = crashers / ("crash-" + hashlib.sha1(data).hexdigest()[:16])
                path.write_bytes(data)
                print(f"\n=== NEW CRASHER {key} -> {path}", file=sys.stderr)
                traceback.print_exception(type(e), e, e.__traceback__, file=sys.stderr)
                report(to_file=True)

    def report(to_file: bool = False) -> None:
        lines = [f"{name}: {stats['runs']} executions, {len(seen)} crash classes"]
        lines += [f"  {k}: {n} inputs" for k, n in seen.items()]
        if to_file:  # libFuzzer may end the process without running atexit handlers
            (crashers / "summary.txt").write_text("\n".join(lines) + "\n")
        else:
            print("\n" + "\n".join(lines), file=sys.stderr)

    atexit.register(report)
    args = [sys.argv[0], str(corpus)] + sys.argv[1:]
    for flag, value in (("-timeout", "20"), ("-rss_limit_mb", "3072"), ("-artifact_prefix", f"{crashers}/"),
                        ("-max_len", "4096")):
        if not any(a.startswith(flag + "=") for a in args):
            args.append(f"{flag}={value}")
    atheris.instrument_all()
    atheris.Setup(args, test_one_input)
    atheris.Fuzz()
