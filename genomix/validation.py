"""Checks shared by every command: one place, one style of message (name, expected, got, where).

Each check raises a :mod:`genomix.errors` exception (a subclass of a built-in) and returns the
checked value, so callers read ``seed = check_seed(seed)``. Only ``genomix/cli`` turns these errors into
click errors.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable
from pathlib import Path

from genomix.errors import ConfigError

STDOUT = "-"
SEED_MAX = 2**32 - 1  # numpy's SeedSequence and torch.manual_seed both take any value in 0..2**32-1
REGION = re.compile(r"^(?P<contig>[^:\s]+)(?::(?P<start>[\d,]+)(?:-(?P<end>[\d,]+))?)?$")


def check_output_not_input(out: str | os.PathLike, inputs: Iterable[str | os.PathLike | None], *,
                           option: str = "--out") -> None:
    """Refuse an output path that is one of the inputs (same path, a symlink to it, or a hard link).

    Writing there would replace the input with the output, silently, before anyone notices.

    Args:
        out: the output path (``-``, standard output, is always fine).
        inputs: the input paths (``None`` and ``-`` entries are ignored).
        option: the option that named ``out``, for the message.

    Raises:
        ConfigError: ``out`` resolves to an input.
    """
    if str(out) == STDOUT:
        return
    target = Path(out)
    for source in inputs:
        if source is None or str(source) == STDOUT:
            continue
        if _same_file(target, Path(source)):
            raise ConfigError(f"{option} {out} is the input file {source}; writing there would destroy it. "
                              f"Choose another {option}")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)  # same inode: symlinks and hard links included
    except OSError:  # one of them does not exist (yet): compare the resolved names
        return os.path.realpath(a) == os.path.realpath(b)


def check_seed(seed: int, *, option: str = "--seed") -> int:
    """A seed every random generator genomix uses accepts: an integer in 0..2**32-1.

    Raises:
        ConfigError: not an integer, or out of range.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"{option} must be an integer in 0..{SEED_MAX:,}, got {seed!r}")
    if not 0 <= seed <= SEED_MAX:
        raise ConfigError(f"{option} must be an integer in 0..{SEED_MAX:,}, got {seed:,}")
    return seed


def check_finite(value: float, name: str, *, positive: bool = False, minimum: float | None = None,
                 maximum: float | None = None) -> float:
    """A finite number (optionally > 0, or within ``minimum``..``maximum``).

    Raises:
        ConfigError: not a number, infinite or nan, or out of range.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise ConfigError(f"{name} must be > 0, got {value!r}")
    if minimum is not None and value < minimum or maximum is not None and value > maximum:
        bounds = f"{minimum if minimum is not None else '-inf'}..{maximum if maximum is not None else 'inf'}"
        raise ConfigError(f"{name} must lie in {bounds}, got {value!r}")
    return value


def parse_region(region: str, *, option: str = "--region") -> tuple[str, int | None, int | None]:
    """Parse ``CHROM[:START[-END]]`` (1-based, inclusive; commas allowed in numbers).

    Returns:
        ``(contig, start, end)``; ``start``/``end`` are ``None`` when not given.

    Raises:
        ConfigError: not of that form, a start below 1, or an end before the start.
    """
    match = REGION.match(region.strip()) if isinstance(region, str) else None
    if match is None:
        raise ConfigError(f"{option} {region!r} is not CHROM, CHROM:START or CHROM:START-END "
                          "(1-based, e.g. chrM:1-500)")
    start = int(match["start"].replace(",", "")) if match["start"] else None
    end = int(match["end"].replace(",", "")) if match["end"] else None
    if start is not None and start < 1:
        raise ConfigError(f"{option} {region!r}: positions are 1-based, got start {start}")
    if end is not None and end < start:
        raise ConfigError(f"{option} {region!r}: the end {end:,} is before the start {start:,}")
    return match["contig"], start, end


def check_region_contig(region: str, contigs: Iterable[str], *, where: str, option: str = "--region") -> None:
    """Refuse a region whose contig is not among ``contigs`` (the file's contigs, named in ``where``).

    Raises:
        ConfigError: the contig is unknown; the message lists a few known ones.
    """
    contig, _, _ = parse_region(region, option=option)
    known = list(contigs)
    if contig not in known:
        shown = ", ".join(known[:10]) + (f", ... ({len(known):,} in all)" if len(known) > 10 else "")
        raise ConfigError(f"{option} {region!r}: contig {contig!r} is not in {where}; its contigs: "
                          f"{shown or 'none'}")


DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str, *, option: str = "--device") -> str:
    """``auto`` -> ``cuda`` when a CUDA device is present, else ``cpu``; other names are checked.

    Raises:
        ConfigError: an unknown device, or ``cuda`` on a machine without one.
    """
    import torch  # here, not at the top: genomix.io uses this module and never imports torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device != "cpu" and not device.startswith("cuda"):
        raise ConfigError(f"{option} should be one of {', '.join(DEVICES)}, got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asked for, but no CUDA device is available")
    return device
