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
