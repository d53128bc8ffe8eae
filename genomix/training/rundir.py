"""The run directory: ``config.json``, ``metrics.jsonl``, ``last.pt``, ``best.pt`` and friends.

Writes are atomic (temporary file + rename) or appends of whole lines, so a killed run never leaves a
half-written file that looks complete.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from genomix.errors import GenomixError, OutputError
from genomix.files import atomic_open, write_failure_reason
from genomix.training.metrics import finite_or_none

LAST = "last.pt"
BEST = "best.pt"
CONFIG = "config.json"
METRICS = "metrics.jsonl"


def prepare_new(out_dir: str | Path) -> Path:
    """Create ``out_dir`` for a new run and prove it is writable.

    Raises:
        GenomixError: it already holds a run (use ``--resume``) or cannot be written.
    """
    out_dir = Path(out_dir)
    if (out_dir / LAST).exists() or (out_dir / CONFIG).exists():
        raise GenomixError(
            f"output folder {out_dir} already holds a run; resume it with --resume {out_dir} or choose another --out"
        )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".write-test.", dir=out_dir)
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise GenomixError(f"output folder {out_dir} is not writable ({error.strerror})") from None
    return out_dir


def abandon_new(out_dir: str | Path, *, created: bool = False) -> None:
    """Remove what a new run wrote before it saved its first checkpoint (it failed or was stopped), and
    the folder itself if this run ``created`` it and it is left empty.

    Without this, a ``config.json`` left by a run that died at once (a full disk, Ctrl-C) would block
    both a rerun (the folder "holds a run") and ``--resume`` (there is no ``last.pt``), and a bad option
    would leave an empty folder behind.
    """
    out_dir = Path(out_dir)
    if (out_dir / LAST).exists() or (out_dir / BEST).exists():
        return
    for name in (CONFIG, METRICS):
        (out_dir / name).unlink(missing_ok=True)
    if created:
        try:
            out_dir.rmdir()  # only if empty
        except OSError:
            pass


def write_json(path: str | Path, value: Any) -> None:
    """Write strict JSON (nan -> null) atomically."""
    path = Path(path)
    text = json.dumps(finite_or_none(value), indent=2) + "\n"  # a value JSON cannot hold fails before any file
    try:
        with atomic_open(path, "w") as stream:
            stream.write(text)
    except OSError as error:
        raise _output_error(path, error) from None


def _output_error(path: Path, error: OSError, *, replaced: bool = True) -> OutputError:
    reason = write_failure_reason(error)
    after = "; the previous file there, if any, is unchanged" if replaced else ""
    return OutputError(error.errno or errno.EIO, f"cannot write {path}: {reason}{after}", str(path))


def append_metrics(out_dir: str | Path, record: dict[str, Any]) -> None:
    """Append one evaluation record as a line of ``metrics.jsonl`` (a torn line is skipped when read)."""
    path = Path(out_dir) / METRICS
    try:
        with open(path, "a") as stream:
            stream.write(json.dumps(finite_or_none(record)) + "\n")
    except OSError as error:
        raise _output_error(path, error, replaced=False) from None


def read_metrics(out_dir: str | Path) -> list[dict[str, Any]]:
    """All complete records of ``metrics.jsonl`` (a torn last line is ignored)."""
    path = Path(out_dir) / METRICS
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def truncate_metrics(out_dir: str | Path, *, after_step: int) -> None:
    """Drop records logged after ``after_step`` (they will be logged again by the resumed run)."""
    path = Path(out_dir) / METRICS
    if not path.exists():
        return
    kept = [r for r in read_metrics(out_dir) if r.get("step", 0) <= after_step]
    try:
        with atomic_open(path, "w") as stream:
            for record in kept:
                stream.write(json.dumps(record) + "\n")
    except OSError as error:
        raise _output_error(path, error) from None
