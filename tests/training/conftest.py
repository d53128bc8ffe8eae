"""Fixtures for training tests: small real datasets written once per session."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from realdata import orchid_dataset

TINY = ["model.track_size=4", "model.hidden_size=16", "max_tokens=3000", "num_threads=1"]
"""Overrides for a tiny, fast model (about 16k parameters)."""


def pipeline_module(name: str) -> Any:
    """``pipelines/NAME.py`` imported as a module (the scripts are not a package)."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "pipelines" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def orchid_h5(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 94 orchid ITS records, classification by genus."""
    return orchid_dataset(shared_data, tmp_path_factory.mktemp("orchid") / "orchid.h5")


@pytest.fixture(scope="session")
def order_h5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2,000 random 200-bp sequences, class = which of two planted 9-mers comes first (pipelines/order_task.py),
    split 80/10/10 in order: only where k-mers lie tells the classes apart."""
    import numpy as np

    from genomix.datasets.store import SplitArrays, write_dataset

    n, length = 2000, 200
    records = pipeline_module("order_task").order_records(n, length, "GATTACAGT", "CCGGTTAAC", seed=0)
    code = {letter: i + 1 for i, letter in enumerate("ACGTN")}
    splits = {}
    for name, part in (("train", records[: n * 8 // 10]), ("valid", records[n * 8 // 10: n * 9 // 10]),
                       ("test", records[n * 9 // 10:])):
        splits[name] = SplitArrays(
            tokens=np.array([code[base] for _, sequence, _ in part for base in sequence], dtype=np.uint8),
            offsets=np.arange(len(part) + 1, dtype=np.int64) * length,
            labels=np.array([0 if label == "AB" else 1 for _, _, label in part]), ids=[name for name, _, _ in part])
    path = tmp_path_factory.mktemp("order") / "order.h5"
    write_dataset(path, splits, task="classification", alphabet="dna", vocab=code, classes=["AB", "BA"],
                  provenance={})
    return path


@pytest.fixture(scope="session")
def orchid_gc_h5(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same records, regression of GC content."""
    return orchid_dataset(shared_data, tmp_path_factory.mktemp("orchid_gc") / "orchid_gc.h5", task="regression")


@pytest.fixture(scope="session")
def elements_h5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every SNV of 8 synthetic elements, effects on element-specific scales (synthetic_variants.py)."""
    from synthetic_variants import element_variants_dataset

    return element_variants_dataset(tmp_path_factory.mktemp("elements") / "elements.h5")


@pytest.fixture(scope="session")
def weighted_elements_h5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same kind of dataset with a measurement weight per variant (``meta/weight``)."""
    from synthetic_variants import element_variants_dataset

    return element_variants_dataset(tmp_path_factory.mktemp("weighted") / "weighted.h5", weighted=True)
