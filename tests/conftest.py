from __future__ import annotations

from pathlib import Path

import pytest

# The repo is a sibling of shared/ (in CI: <dir>/main next to <dir>/shared).
SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared data not found at {SHARED}")
    return SHARED
