"""Provenance of a dataset file: what made it, from which inputs, with which seed, when.

Reusable by every builder; stored as the JSON ``provenance`` attribute of the dataset file.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from genomix import __version__
from genomix.files import file_sha256


def file_digest(path: str | os.PathLike) -> dict:
    """``{"path", "size", "sha256"}`` of one input file (size in bytes)."""
    return {"path": str(path), "size": Path(path).stat().st_size, "sha256": file_sha256(path)}


def make_provenance(
    inputs: Sequence[str | os.PathLike],
    *,
    seed: int | None,
    command: Sequence[str] | None = None,
    options: dict | None = None,
) -> dict:
    """Describe how a dataset was made.

    Args:
        inputs: the input files (hashed with SHA-256).
        seed: the random seed used (``None`` if nothing was random).
        command: the command line; defaults to ``sys.argv``.
        options: the builder's options, recorded as given.

    Returns:
        ``{"genomix_version", "command", "inputs": [{"path", "size", "sha256"}], "seed", "options",
        "time"}`` with the time in UTC, ISO 8601.
    """
    return {
        "genomix_version": __version__,
        "command": shlex.join(command if command is not None else sys.argv),
        "inputs": [file_digest(path) for path in inputs],
        "seed": seed,
        "options": options or {},
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
