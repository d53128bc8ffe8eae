"""Annotate regions of a reference: one class prediction per BED region, streamed to BED and/or TSV.

**What is predicted** (defined here once; writers only serialise). Each region of the BED file is
placed on the reference and read exactly as the interval builder reads it
(:mod:`genomix.datasets.interval_windows`: the region as it is, or ``window`` bases centred on it;
reverse complemented on ``-``), so a model trained by ``genomix build-dataset intervals`` scores the
bases it was trained on. Those bases go through the same path as a FASTA record in
:func:`genomix.inference.annotate.predict_records`: ``softmax(model(tokens))``, the mean with the
reverse complement's with ``rc``, and a region longer than ``max_length`` is cut into windows of
``max_length`` whose probabilities are averaged, weighted by length.

Regions the locator skips (``zero_length``, ``unknown_contig``, ``past_contig_end``,
``window_past_contig_end``) are counted and get no line; ``strict`` fails on the first instead.
Regions are read one at a time and written in input order as soon as they are predicted, so memory
stays bounded by one batch. The output is deterministic: the same command gives the same file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from genomix.alphabet import DNA
from genomix.checkpoint import load_model
from genomix.datasets.interval_windows import Interval, IntervalLocator, SkipCounts, check_window
from genomix.errors import CheckpointError, ConfigError, InputFormatError
from genomix.inference.annotate import DEFAULT_MAX_TOKENS, AnnotateProgress, predict_records, predict_tokens
from genomix.io.bed import BedRegion, read_bed
from genomix.io.fasta import FastaRecord
from genomix.inference.outputs import check_outputs_not_inputs, open_outputs, output_problems
from genomix.io.predictions import RecordPrediction, RegionPrediction
from genomix.io.reference import Reference
from genomix.precision import PRECISIONS
from genomix.validation import resolve_device

logger = logging.getLogger(__name__)


@dataclass
class RegionSummary:
    """Counts of one run.

    Attributes:
        regions_read: data lines of the BED file.
        regions_written: regions with a prediction.
        bases: bases scored (per strand once).
        skipped: regions skipped, by reason, with the first example of each.
        seconds: wall time from the first region read to the last written.
    """

    regions_read: int = 0
    regions_written: int = 0
    bases: int = 0
    skipped: SkipCounts = field(default_factory=SkipCounts)
    seconds: float = 0.0

    @property
    def bases_per_second(self) -> float:
        """Scored bases per second of wall time."""
        return self.bases / self.seconds if self.seconds > 0 else 0.0


def annotate_regions(
    model_path: str | os.PathLike,
    reference: str | os.PathLike,
    regions: str | os.PathLike,
    *,
    out: str | os.PathLike | None = None,
    bed: str | os.PathLike | None = None,
    window: int | None = None,
    contig_aliases: dict[str, str] | None = None,
    rc: bool = False,
    max_length: int | None = None,
    device: str = "cpu",
    precision: str = "auto",
    max_tokens: int = DEFAULT_MAX_TOKENS,
    strict: bool = False,
    progress: Callable[[AnnotateProgress], None] | None = None,
) -> RegionSummary:
    """Predict every region of a BED file on a reference with a checkpoint; write BED and/or TSV.

    Args:
        model_path: a genomix classification checkpoint (``best.pt``) of a DNA model.
        reference: the reference FASTA (plain, BGZF or gzip).
        regions: the regions, BED3 to BED6 (plain or gzip/BGZF).
        out: ``.tsv`` (one row per region: ``id``, ``length``, ``class``, ``p_<class>``...; ``id`` is
            ``chrom:start-end`` with ``(+)``/``(-)`` when stranded) or ``.bed`` (as ``bed``); ``"-"``
            writes TSV to standard output.
        bed: BED6+(1+N) output, one line per region (:class:`genomix.io.bed.RegionBedWriter`); ``"-"``
            for standard output.
        window: read ``W`` bases centred on each region (as ``build-dataset intervals --window``).
        contig_aliases: BED chrom -> reference record.
        rc: average each prediction with its reverse complement's.
        max_length: regions longer than this are scored in windows of this length (default: the
            checkpoint's ``max_seq_len``; ``0``: never).
        device: ``cpu``, ``cuda`` or ``auto``.
        precision: ``auto``, ``fp32`` or ``bf16`` (``fp32`` to compare with other fp32 predictions).
        max_tokens: token budget of one batch.
        strict: fail on the first region that would be skipped.
        progress: called after every batch with an :class:`~genomix.inference.annotate.AnnotateProgress`.

    Returns:
        The run's counts.

    Raises:
        ConfigError: a bad option (before any work starts). CheckpointError: not a DNA classification
        checkpoint. InputFormatError: a bad BED or reference, no region, or a skip with ``strict``.
    """
    window = check_window(window)
    _check_options(out=out, bed=bed, precision=precision, max_tokens=max_tokens, max_length=max_length)
    check_outputs_not_inputs(out, bed, [model_path, reference, regions])
    device = resolve_device(device)
    model, info = load_model(model_path, device=device)
    classes = _dna_classes(info, path=model_path)
    if max_length is None:
        max_length = int((info.get("model_kwargs") or {}).get("max_seq_len") or 0)
    summary = RegionSummary()
    state = AnnotateProgress()

    def predict(tokens: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        return predict_tokens(model, tokens, lengths, alphabet="dna", device=device, precision=precision)

    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        genome = stack.enter_context(Reference(reference))
        locator = IntervalLocator(genome, bed_path=str(regions), contig_aliases=contig_aliases, window=window)
        writers = open_outputs(stack, out, bed, classes=classes, regions=True)
        placed: dict[str, Interval] = {}
        records = _region_records(locator, regions, placed, summary=summary, strict=strict)
        for chunk in predict_records(records, predict, n_classes=len(classes), alphabet=DNA, max_length=max_length,
                                     rc=rc, max_tokens=max_tokens, state=state, source_name=str(regions)):
            predictions = [_region_prediction(record, placed.pop(record.id)) for record in chunk]
            for writer in writers:
                writer.write_batch(predictions)
            summary.regions_written += len(predictions)
            summary.bases += sum(record.length for record in predictions)
            if progress is not None:
                progress(state)
        if summary.regions_read == 0:
            raise InputFormatError(f"{regions}: no BED region found (only blank, comment or header lines); "
                                   "expected tab-separated chrom, start, end lines")
    summary.seconds = time.perf_counter() - started
    if summary.skipped.total():
        logger.warning("skipped %d of %d region(s): %s", summary.skipped.total(), summary.regions_read,
                       summary.skipped.describe())
    return summary


def region_sequences(reference: str | os.PathLike, regions: str | os.PathLike, *, window: int | None = None,
                     contig_aliases: dict[str, str] | None = None) -> Iterator[tuple[BedRegion, str]]:
    """The bases :func:`annotate_regions` scores, region by region: what to hand to any other predictor.

    Yields ``(region, bases)`` for each placeable region in file order (skipped regions are left out, as
    in the output), the bases upper case and reverse complemented on ``-``.
    """
    with Reference(reference) as genome:
        locator = IntervalLocator(genome, bed_path=str(regions), contig_aliases=contig_aliases, window=window)
        for region in read_bed(regions):
            found = locator.locate(region)
            if not isinstance(found, str):
                yield region, DNA.decode(locator.tokens(found))


def _region_records(locator: IntervalLocator, regions, placed: dict[str, Interval], *, summary: RegionSummary,
                    strict: bool) -> Iterator[FastaRecord]:
    """Each placeable region as a record (keyed by its line number), its interval kept in ``placed``."""
    for region in read_bed(regions):
        summary.regions_read += 1
        found = locator.locate(region)
        if isinstance(found, str):
            if strict:
                raise InputFormatError(f"{locator.skip_detail(region, found)} (--strict)")
            summary.skipped.add(found, f"line {region.line}: {region.id}")
            continue
        key = str(region.line)
        placed[key] = found
        yield FastaRecord(key, region.id, DNA.decode(locator.tokens(found)))


def _region_prediction(record: RecordPrediction, interval: Interval) -> RegionPrediction:
    region = interval.region
    return RegionPrediction(region.id, record.length, record.probabilities, record.windows, chrom=region.chrom,
                            region_start=region.start, region_end=region.end, name=region.name,
                            strand=region.strand)


def _dna_classes(info: dict, *, path) -> list[str]:
    if info.get("task") != "classification" or not info.get("classes"):
        raise CheckpointError(f"checkpoint {path}: annotate needs a classification model, "
                              f"this one is {info.get('task')!r}")
    if info.get("alphabet") != "dna":
        raise CheckpointError(f"checkpoint {path}: regions of a reference need a DNA model; this model's "
                              f"alphabet is {info.get('alphabet')!r}")
    return list(info["classes"])


def _check_options(*, out, bed, precision: str, max_tokens: int, max_length: int | None) -> None:
    """Every option problem at once, before the model is loaded or the input read.

    Raises:
        ConfigError: listing each problem.
    """
    problems = output_problems(out, bed, regions=True)
    if precision not in PRECISIONS:
        problems.append(f"precision should be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if max_tokens < 1:
        problems.append(f"max_tokens should be at least 1, got {max_tokens}")
    if max_length is not None and max_length < 0:
        problems.append(f"max_length should be at least 0 (0: never window automatically), got {max_length}")
    if problems:
        raise ConfigError("; ".join(problems))
