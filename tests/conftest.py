"""Shared fixtures: where the real data lives, and the plain reference model on the import path."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
SHARED_DATA = REPO.parent / "shared" / "data"
FIXTURES = TESTS / "data"

if str(TESTS) not in sys.path:  # tests import plain_chordmixer (the reference model)
    sys.path.insert(0, str(TESTS))

if not torch.cuda.is_available():
    # the GPU block's Triton kernels are tested on the CPU by triton's interpreter
    # (tests/models/fast/test_triton_block.py). triton reads this once, when first imported, and torch
    # imports it on its own (torch._dynamo does), so it is set before any test; without a GPU nothing else
    # runs triton. With a GPU it stays unset and those tests skip (pipelines/bench_gpu.py checks there).
    os.environ.setdefault("TRITON_INTERPRET", "1")


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
