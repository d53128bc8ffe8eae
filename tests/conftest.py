"""Shared fixtures: where the real data lives, and the plain reference model on the import path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
SHARED_DATA = REPO.parent / "shared" / "data"
FIXTURES = TESTS / "data"

if str(TESTS) not in sys.path:  # tests import plain_chordmixer (the reference model)
    sys.path.insert(0, str(TESTS))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real public data); tests that need it skip, saying why, when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (CI always has it)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def fixtures() -> Path:
    """``tests/data``: tiny real files shipped with the repo."""
    return FIXTURES
