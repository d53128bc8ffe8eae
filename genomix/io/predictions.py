"""Prediction writers: one small interface (``write_batch``, ``close``), the format chosen by suffix.

A writer receives :class:`RecordPrediction` objects (computed elsewhere; writers only serialise) and
writes them to a temporary file beside the target, renamed over it by :meth:`PredictionWriter.close`.
An error (:meth:`PredictionWriter.abort`, or leaving the ``with`` block by an exception) removes the
temporary file, so a failed run never leaves a partial output. ``-`` writes to standard output
directly (nothing to rename or remove).

Formats (see :data:`FORMATS`): ``.tsv``/``.txt`` one row per record
(:class:`genomix.io.tsv_writer.TsvPredictionWriter`), ``.bed`` one line per window
(:class:`genomix.io.bed.BedPredictionWriter`), or one line per region for region input
(:class:`genomix.io.bed.RegionBedWriter`, chosen with ``regions=True``).

numpy only; no torch.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import numpy as np

from genomix.errors import ConfigError, OutputError
from genomix.files import create_temporary, is_disk_full, write_failure_reason

if TYPE_CHECKING:
    from typing_extensions import Self

STDOUT = "-"

FORMATS = {".tsv": "genomix.io.tsv_writer:TsvPredictionWriter",
           ".txt": "genomix.io.tsv_writer:TsvPredictionWriter",
           ".bed": "genomix.io.bed:BedPredictionWriter"}
"""Suffix -> ``module:class`` of the writer."""

REGION_FORMATS = {**FORMATS, ".bed": "genomix.io.bed:RegionBedWriter"}
"""The same for per-region predictions: ``.bed`` writes one line per region, the TSV is unchanged."""


@dataclass(frozen=True)
class WindowPrediction:
    """The prediction for one window ``[start, end)`` of a record (0-based, end exclusive).

    Attributes:
        start: first base of the window (0-based).
        end: one past the last base.
        probabilities: ``(n_classes,)`` class probabilities (sum to 1).
    """

    start: int
    end: int
    probabilities: np.ndarray


@dataclass(frozen=True)
class RecordPrediction:
    """The prediction for one record, and for each of its windows.

    Attributes:
        id: the record's id (first word of its FASTA header).
        length: the record's length in bases.
        probabilities: ``(n_classes,)`` the record's class probabilities.
        windows: the windows the record was cut into, in order (one window ``[0, length)`` when the
            record was read whole).
    """

    id: str
    length: int
    probabilities: np.ndarray
    windows: list[WindowPrediction] = field(default_factory=list)


@dataclass(frozen=True)
class RegionPrediction(RecordPrediction):
    """The prediction for one region of a reference (``genomix annotate --regions``).

    ``id`` is the region's id (``chrom:start-end``, with ``(+)``/``(-)`` when stranded), ``length`` the
    bases scored and ``probabilities`` the region's class probabilities, as for a record; the other
    attributes are the region as the input BED gave it.

    Attributes:
        chrom: the contig as written in the BED file.
        region_start: 0-based start of the region.
        region_end: its end (exclusive).
        name: the BED name, or ``None``.
        strand: ``+``, ``-`` or ``.``.
    """

    chrom: str = ""
    region_start: int = 0
    region_end: int = 0
    name: str | None = None
    strand: str = "."


def clean_field(text: str) -> str:
    """A class name or id made safe for one tab-separated field (whitespace becomes ``_``)."""
    return "_".join(str(text).split()) or "_"


def writer_class_path(path: str | os.PathLike, *, default: str, regions: bool = False) -> str:
    """The ``module:class`` of the writer for ``path`` (``default`` suffix for ``-``).

    Args:
        regions: per-region predictions (:data:`REGION_FORMATS`) rather than per-record ones.

    Raises:
        ConfigError: an unknown suffix, listing the known ones.
    """
    text = str(path)
    formats = REGION_FORMATS if regions else FORMATS
    suffix = default if text == STDOUT else Path(text).suffix.lower()
    if suffix not in formats:
        raise ConfigError(f"cannot write predictions to {text}: the name should end with one of "
                          f"{', '.join(formats)} (or be '-' for standard output)")
    return formats[suffix]


def check_output_path(path: str | os.PathLike, *, default: str, regions: bool = False) -> None:
    """Raise before any work starts unless predictions can be written to ``path``.

    Raises:
        ConfigError: an unknown suffix, or a path that is a directory.
    """
    writer_class_path(path, default=default, regions=regions)
    if str(path) != STDOUT and Path(path).is_dir():
        raise ConfigError(f"cannot write predictions to {path}: it is a directory; expected a file name")


def open_prediction_writer(path: str | os.PathLike, *, classes: Sequence[str], default: str = ".tsv",
                           header: Sequence[str] = (), regions: bool = False) -> PredictionWriter:
    """The writer for ``path``, chosen by its suffix.

    Args:
        path: the output file, or ``-`` for standard output.
        classes: the model's class names, in output order.
        default: the format of ``-`` (``.tsv`` or ``.bed``).
        header: extra comment lines for the file's header (e.g. the command line).
        regions: the records are :class:`RegionPrediction` objects (``.bed`` writes one line per region).

    Raises:
        ConfigError: an unknown suffix.
    """
    module_name, class_name = writer_class_path(path, default=default, regions=regions).split(":")
    writer_class = getattr(importlib.import_module(module_name), class_name)
    return writer_class(path, classes=classes, header=header)


class PredictionWriter:
    """Base class: a text output written to a temporary name and renamed when complete.

    Args:
        path: the output file, or ``-`` for standard output.
        classes: the model's class names, in output order.
        header: extra comment lines for the header.

    Subclasses implement :meth:`write_header` and :meth:`write_batch` with :attr:`stream`.
    """

    def __init__(self, path: str | os.PathLike, *, classes: Sequence[str], header: Sequence[str] = ()) -> None:
        self.path = str(path)
        self.classes = [str(name) for name in classes]
        self.header_lines = list(header)
        self._temporary: str | None = None
        if self.path == STDOUT:
            self.stream: TextIO = sys.stdout
        else:
            target = Path(self.path)
            target.parent.mkdir(parents=True, exist_ok=True)
            descriptor, temporary = create_temporary(target)  # mode 0o666 less the umask
            self._temporary = str(temporary)
            self.stream = os.fdopen(descriptor, "w", encoding="utf-8", newline="\n")
        self._open = True
        self.write_header()

    def write_header(self) -> None:
        """Write the format's header lines."""
        raise NotImplementedError

    def write_batch(self, records: Sequence[RecordPrediction]) -> None:
        """Write predictions, in the order given."""
        raise NotImplementedError

    def close(self) -> None:
        """Finish: flush, and rename the temporary file over the target."""
        if not self._open:
            return
        self._open = False
        try:
            self.stream.flush()
            if self._temporary is not None:
                os.fsync(self.stream.fileno())  # a full disk shows here, not as a short file at the target
                self.stream.close()
                os.replace(self._temporary, self.path)
                self._temporary = None
        except OSError as error:
            if self._temporary is not None:
                with contextlib.suppress(OSError):
                    self.stream.close()
                Path(self._temporary).unlink(missing_ok=True)
                self._temporary = None
            reason = write_failure_reason(error)
            raise OutputError(error.errno or errno.EIO, f"cannot write {self.path}: {reason}; nothing was "
                              "written there", self.path) from None

    def abort(self) -> None:
        """Give up: remove the temporary file (standard output is only flushed)."""
        if not self._open:
            return
        self._open = False
        if self._temporary is not None:
            with contextlib.suppress(OSError):  # a full disk fails the final flush too
                self.stream.close()
            Path(self._temporary).unlink(missing_ok=True)
            self._temporary = None
        else:
            with contextlib.suppress(OSError):
                self.stream.flush()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, *rest: object) -> None:
        if exc_type is None:
            self.close()
            return
        self.abort()
        if isinstance(exc, OSError) and not isinstance(exc, OutputError) and is_disk_full(exc):
            raise OutputError(exc.errno, f"cannot write {self.path}: no space left on device; nothing was "
                              "written there", self.path) from None


def format_probability(value: float) -> str:
    """A probability as text: 6 significant digits."""
    return f"{float(value):.6g}"
