"""Transcription-factor motifs (position frequency matrices) for :class:`~genomix.models.motifs.MotifChange`.

A source is ``jaspar`` (JASPAR's CORE collection for vertebrates, latest release, read through the
``pyjaspar`` package, which ships the database), ``jaspar:GROUP`` (another JASPAR taxonomic group:
``plants``, ``insects``, ``fungi``, ``nematodes``, ``urochordates``, ``vertebrates``) or the path of a motif
file in any format Biopython reads (``.jaspar``, ``.pfm``, ``.meme``, ``.transfac``; the format from the
suffix).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genomix.errors import ConfigError

JASPAR_GROUPS = ("vertebrates", "plants", "insects", "fungi", "nematodes", "urochordates")
_FORMATS = {".jaspar": "jaspar", ".pfm": "pfm", ".meme": "minimal", ".transfac": "transfac", ".dat": "transfac"}


@dataclass(frozen=True)
class Motifs:
    """Named count matrices, each ``(4, width)`` with rows A C G T."""

    source: str
    names: tuple[str, ...]
    counts: tuple[np.ndarray, ...]

    def __len__(self) -> int:
        return len(self.names)


def _jaspar_group(source: str) -> str | None:
    """The JASPAR group a source names (``jaspar`` alone: vertebrates), or None for a file."""
    if source == "jaspar" or source.startswith("jaspar:"):
        return source.partition(":")[2] or "vertebrates"
    return None


def source_problem(source: str) -> str | None:
    """What is wrong with the form of a motif source (None when it may be read; a file is not opened here)."""
    group = _jaspar_group(source)
    if group is not None:
        if group not in JASPAR_GROUPS:
            return f"unknown JASPAR group {group!r} in motif source {source!r}; one of {', '.join(JASPAR_GROUPS)}"
        return None
    if Path(source).suffix.lower() not in _FORMATS:
        return (f"motif source {source!r}: not 'jaspar' or 'jaspar:GROUP', and not a motif file with a known "
                f"suffix ({', '.join(_FORMATS)})")
    return None


def load_motifs(source: str) -> Motifs:
    """The motifs of ``source`` (see the module docstring); JASPAR's are read once per process (seconds).

    Raises:
        ConfigError: an unknown JASPAR group, a missing or unreadable file, or a file with no motifs.
    """
    problem = source_problem(source)
    if problem:
        raise ConfigError(problem)
    group = _jaspar_group(source)
    return _file(source) if group is None else _jaspar(source, group)


@functools.lru_cache(maxsize=8)
def _jaspar(source: str, group: str) -> Motifs:
    try:
        from pyjaspar import jaspardb
    except ImportError as error:  # a dependency of genomix; a broken install
        raise ConfigError(f"motif source {source!r} needs the pyjaspar package ({error})") from None
    database = jaspardb()
    found = database.fetch_motifs(collection="CORE", tax_group=[group])
    return _motifs(f"{source} ({database.release} CORE {group})", found)


def _file(source: str) -> Motifs:
    path = Path(source)
    fmt = _FORMATS[path.suffix.lower()]
    if not path.is_file():
        raise ConfigError(f"motif source {source!r}: no such file")
    from Bio import motifs as bio_motifs

    try:
        with open(path) as handle:
            found = list(bio_motifs.parse(handle, fmt))
    except (ValueError, KeyError, IndexError) as error:
        raise ConfigError(f"motif source {source!r}: not a readable {fmt} motif file ({error})") from None
    if not found:
        raise ConfigError(f"motif source {source!r}: the file holds no motifs")
    return _motifs(source, found)


def _motifs(source: str, found: list) -> Motifs:
    names = tuple(str(getattr(motif, "matrix_id", None) or motif.name or f"motif{i}")
                  + (f" {motif.name}" if getattr(motif, "matrix_id", None) and motif.name else "")
                  for i, motif in enumerate(found))
    counts = tuple(np.array([motif.counts[base] for base in "ACGT"], dtype=np.float64) for motif in found)
    if not counts:
        raise ConfigError(f"motif source {source!r}: no motifs")
    return Motifs(source=source, names=names, counts=counts)


__all__ = ["JASPAR_GROUPS", "Motifs", "load_motifs", "source_problem"]
