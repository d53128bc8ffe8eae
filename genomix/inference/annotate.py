"""Annotate a FASTA file: a class prediction for every record, or every window, streamed to TSV/BED.

**What is predicted** (defined here once; writers only serialise):

- A record is cut into windows ``[start, end)``. Without ``window``, a record of at most
  ``max_length`` bases is one window, the whole record; a longer one is cut into consecutive windows
  of ``max_length`` (stride ``max_length``). With ``window=W, stride=S`` (``S <= W``) every record is
  cut into windows starting at ``0, S, 2S, ...`` until one reaches the record's end; the last window
  is kept even when it is shorter than ``W`` (partial), so the windows cover every base.
- A window's probabilities are ``softmax(model(window tokens))``, computed exactly as
  ``genomix evaluate`` computes them (:func:`predict_tokens` uses the trainer's
  :func:`~genomix.models.tensors.batch_inputs` and :func:`~genomix.models.tensors.class_probabilities`). With
  ``rc=True`` they are the mean of the probabilities of the window and of its reverse complement.
- A record's probabilities are those of its single window, or the length-weighted mean of its
  windows' probabilities (``sum_w len_w p_w / sum_w len_w``); its class is the most probable one.

Records are read one at a time, their windows packed into token-budget batches in input order
(:func:`~genomix.inference.batching.token_budget_batches`), and every record is handed to the writers
as soon as its last window is predicted, so output order is input order and memory stays bounded by
one record plus one batch. Predictions do not depend on ``max_tokens`` (the model's variable-length
invariant) beyond float tolerance.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np
import torch

from genomix.alphabet import ALPHABETS, Alphabet, reverse_complement
from genomix.errors import AlphabetError, CheckpointError, ConfigError, InputFormatError
from genomix.inference.batching import token_budget_batches
from genomix.io.fasta import FastaRecord
from genomix.io.fasta_stream import FastaStream
from genomix.inference.outputs import check_outputs_not_inputs, open_outputs, output_problems
from genomix.io.predictions import RecordPrediction, WindowPrediction
from genomix.precision import PRECISIONS
from genomix.precision import autocast as precision_autocast
from genomix.checkpoint import load_model
from genomix.models.tensors import batch_inputs, class_probabilities
from genomix.validation import resolve_device

logger = logging.getLogger(__name__)

ON_INVALID = ("error", "skip")
DEFAULT_MAX_TOKENS = 1 << 16
"""Token budget of one batch: 65,536 bases, as ``genomix evaluate`` (bases/s by budget: docs/annotate.md)."""


@dataclass
class AnnotateProgress:
    """Where an annotation run stands (passed to the progress callback after every batch).

    Attributes:
        records: records finished (written or skipped).
        bases: input bases read and predicted (each base once, whatever the window overlap).
        fraction: fraction of the input file read, ``None`` for standard input.
    """

    records: int = 0
    bases: int = 0
    fraction: float | None = None


@dataclass
class AnnotateSummary:
    """Counts of one run.

    Attributes:
        records_read: records in the input.
        records_written: records with a prediction.
        windows: windows predicted (per strand once, ``rc`` not counted twice).
        bases: bases of the records with a prediction.
        skipped_short: records shorter than ``min_length``.
        skipped_invalid: records with a character the model's alphabet does not hold (``on_invalid="skip"``).
        skipped_ids: the first skipped invalid records' ids.
        seconds: wall time from the first record read to the last written.
    """

    records_read: int = 0
    records_written: int = 0
    windows: int = 0
    bases: int = 0
    skipped_short: int = 0
    skipped_invalid: int = 0
    skipped_ids: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def bases_per_second(self) -> float:
        """Annotated bases per second of wall time."""
        return self.bases / self.seconds if self.seconds > 0 else 0.0


def window_spans(length: int, *, window: int, stride: int) -> list[tuple[int, int]]:
    """The windows ``[start, end)`` of a record: starts ``0, S, 2S, ...``, the last one partial if need be.

    Args:
        length: the record's length (``>= 1``).
        window: window length ``W`` (``>= 1``).
        stride: step between starts ``S`` (``1 <= S <= W``, so the windows cover every base).

    Returns:
        Spans in order; the last ends at ``length``. A record of at most ``W`` bases is one span.
    """
    spans = []
    start = 0
    while True:
        end = min(start + window, length)
        spans.append((start, end))
        if end >= length:
            return spans
        start += stride


@torch.inference_mode()
def predict_tokens(model: torch.nn.Module, tokens: np.ndarray, lengths: np.ndarray, *, alphabet: str,
                   device: torch.device | str = "cpu", precision: str = "auto") -> np.ndarray:
    """Class probabilities of a batch of sequences, computed as ``genomix evaluate`` computes them.

    Args:
        model: a variable-length ChordMixer in eval mode.
        tokens: ``(N,)`` the sequences' tokens concatenated.
        lengths: ``(B,)`` their lengths (sum ``N``).
        alphabet: the model's alphabet name.
        device: where the model is.
        precision: ``fp32`` or ``bf16`` (autocast).

    Returns:
        ``(B, n_classes)`` float32 probabilities.
    """
    device = torch.device(device)
    inputs, lengths_t = batch_inputs(tokens, lengths, alphabet=alphabet)
    autocast = precision_autocast(precision, device)
    with autocast:
        outputs = model(inputs.to(device), lengths_t.to(device))
    return class_probabilities(outputs)


@dataclass
class _Pending:
    """A record whose windows are being predicted."""

    id: str
    length: int
    spans: list[tuple[int, int]]
    sums: np.ndarray  # (n_windows, n_classes) probabilities summed over strands
    remaining: int  # window-strands still to predict


def annotate_fasta(
    model_path: str | os.PathLike,
    source: str | os.PathLike | BinaryIO,
    *,
    out: str | os.PathLike | None = None,
    bed: str | os.PathLike | None = None,
    window: int | None = None,
    stride: int | None = None,
    rc: bool = False,
    min_length: int = 1,
    max_length: int | None = None,
    device: str = "cpu",
    precision: str = "auto",
    max_tokens: int = DEFAULT_MAX_TOKENS,
    on_invalid: str = "error",
    progress: Callable[[AnnotateProgress], None] | None = None,
) -> AnnotateSummary:
    """Predict every record (and window) of a FASTA file with a checkpoint; write TSV and/or BED.

    Args:
        model_path: a genomix classification checkpoint (``best.pt``).
        source: a FASTA file (plain or gzip/BGZF), ``"-"`` for standard input, or a binary stream.
        out: per-record output chosen by suffix (``.tsv``: one row per record; ``.bed``: one line per
            window), ``"-"`` for TSV on standard output.
        bed: per-window BED output (``"-"``: standard output).
        window: window length in bases (default: records are read whole up to ``max_length``).
        stride: step between window starts (default ``window``); at most ``window``.
        rc: average each window's probabilities with its reverse complement's (DNA models).
        min_length: records shorter than this are skipped and counted.
        max_length: records longer than this are cut into windows of this length (default: the
            checkpoint's ``max_seq_len``; ``0``: never).
        device: ``cpu``, ``cuda`` or ``auto``.
        precision: ``fp32`` or ``bf16``.
        max_tokens: token budget of one batch (sum of window lengths, both strands with ``rc``).
        on_invalid: ``error`` stops at a character the alphabet does not hold (naming record and
            position); ``skip`` skips and counts such records (and records with no sequence).
        progress: called after every batch with an :class:`AnnotateProgress`.

    Returns:
        The run's counts.

    Raises:
        ConfigError: a bad option (before any work starts).
        CheckpointError: not a genomix classification checkpoint.
        InputFormatError: not FASTA, empty, a record with no sequence.
        AlphabetError: a character the model's alphabet does not hold (``on_invalid="error"``).
    """
    _check_options(out=out, bed=bed, window=window, stride=stride, min_length=min_length, max_length=max_length,
                   precision=precision, max_tokens=max_tokens, on_invalid=on_invalid)
    check_outputs_not_inputs(out, bed, [model_path, source if isinstance(source, (str, os.PathLike)) else None])
    device = _resolve_device(device)
    model, info = load_model(model_path, device=device)
    classes = classifier_classes(info, path=model_path, rc=rc)
    summary = AnnotateSummary()
    state = AnnotateProgress()

    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        stream = stack.enter_context(FastaStream(source))
        writers = open_outputs(stack, out, bed, classes=classes)
        records = stream_predictions(
            model, info, stream, window=window, stride=stride, max_length=max_length, rc=rc, min_length=min_length,
            on_invalid=on_invalid, device=device, precision=precision, max_tokens=max_tokens, summary=summary,
            state=state, source_name=stream.name, model_path=model_path)
        for chunk in records:
            for writer in writers:
                writer.write_batch(chunk)
            if progress is not None:
                state.fraction = stream.fraction_read()
                progress(state)
        if summary.records_read == 0:
            raise InputFormatError(f"{stream.name}: no FASTA records; expected at least one '>' header line "
                                   f"followed by a sequence")
    summary.seconds = time.perf_counter() - started
    if summary.skipped_invalid:
        logger.warning("skipped %d record(s) with characters the model's alphabet does not hold: %s%s",
                       summary.skipped_invalid, ", ".join(summary.skipped_ids),
                       " ..." if summary.skipped_invalid > len(summary.skipped_ids) else "")
    if summary.skipped_short:
        logger.info("skipped %d record(s) shorter than %d bases", summary.skipped_short, min_length)
    return summary


def classifier_classes(info: dict[str, Any], *, path: Any, rc: bool = False) -> list[str]:
    """The class names of a model that annotate can use (classification, a text alphabet, DNA for ``rc``).

    Raises:
        CheckpointError: another task, or an alphabet annotate cannot read.
        ConfigError: ``rc`` with a model that is not a DNA model.
    """
    if info.get("task") != "classification" or not info.get("classes"):
        raise CheckpointError(f"checkpoint {path}: annotate needs a classification model, "
                              f"this one is {info.get('task')!r}")
    alphabet_name = info.get("alphabet")
    if alphabet_name not in ALPHABETS:
        raise CheckpointError(f"checkpoint {path}: annotate reads sequences as text, but the model's "
                              f"alphabet is {alphabet_name!r} (expected one of {', '.join(ALPHABETS)})")
    if rc and alphabet_name != "dna":
        raise ConfigError(f"--rc needs a DNA model; this model's alphabet is {alphabet_name!r}")
    return list(info["classes"])


def strand_caveat(model: torch.nn.Module, info: dict[str, Any]) -> str | None:
    """Why a DNA model may read a reverse strand worse than the given one, or None (it was trained on both).

    A model trained with ``reverse_complement=off`` never saw reverse strands; a k-mer profile head fitted
    before training (``profile_fit``) counts each training sequence's given strand only, and is strand-specific
    unless it is canonical (``model.profile_canonical``; models trained before that option have such heads:
    the Insects model read its valid genomes' reverse strands at 0.26 accuracy, docs/quality.md)."""
    from genomix.training.profile_fit import head_is_fitted

    config = info.get("config") or {}
    if config.get("reverse_complement") == "off":
        return "the model was trained on the given strands only (reverse_complement=off)"
    head = getattr(model, "profile", None)
    if (head is not None and not head.canonical and config.get("profile_fit")
            and head_is_fitted(config["profile_fit"], train_crop=config.get("train_crop") or 0, variant_pairs=False)):
        return "its k-mer profile head was fitted on the given strands only (model.profile_canonical off)"
    return None


def stream_predictions(
    model: torch.nn.Module,
    info: dict[str, Any],
    records: Iterable[FastaRecord],
    *,
    window: int | None = None,
    stride: int | None = None,
    max_length: int | None = None,
    rc: bool = False,
    min_length: int = 1,
    on_invalid: str = "error",
    device: torch.device | str = "cpu",
    precision: str = "auto",
    max_tokens: int = DEFAULT_MAX_TOKENS,
    summary: AnnotateSummary | None = None,
    state: AnnotateProgress | None = None,
    source_name: str = "input",
    model_path: Any = "the model",
) -> Iterator[list[RecordPrediction]]:
    """What :func:`annotate_fasta` writes, for a loaded model: :func:`predict_records` with :func:`predict_tokens`.

    The one implementation behind ``genomix annotate`` and :meth:`genomix.inference.model.Model.predict`.

    Args:
        model, info: as :func:`genomix.checkpoint.load_model` returns them (a classification model).
        records: FASTA records, consumed lazily.
        max_length: default: the model's ``max_seq_len``; the others as in :func:`annotate_fasta`.
        source_name, model_path: the input's and the model's names, for error messages.

    Yields:
        After each batch, the records it finished, in input order.
    """
    classes = classifier_classes(info, path=model_path, rc=rc)
    caveat = strand_caveat(model, info) if rc else None
    if caveat:
        logger.warning("--rc averages both strands, but %s: predictions on reverse strands may be worse than on the "
                       "given ones", caveat)
    alphabet_name = info["alphabet"]
    if max_length is None:
        max_length = int((info.get("model_kwargs") or {}).get("max_seq_len") or 0)

    def predict(tokens: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        return predict_tokens(model, tokens, lengths, alphabet=alphabet_name, device=device, precision=precision)

    yield from predict_records(records, predict, n_classes=len(classes), alphabet=ALPHABETS[alphabet_name],
                               window=window, stride=stride, max_length=max_length, rc=rc, min_length=min_length,
                               on_invalid=on_invalid, max_tokens=max_tokens, summary=summary, state=state,
                               source_name=source_name)


def predict_records(
    records: Iterable[FastaRecord],
    predict: Callable[[np.ndarray, np.ndarray], np.ndarray],
    *,
    n_classes: int,
    alphabet: Alphabet,
    window: int | None = None,
    stride: int | None = None,
    max_length: int = 0,
    rc: bool = False,
    min_length: int = 1,
    on_invalid: str = "error",
    max_tokens: int = DEFAULT_MAX_TOKENS,
    summary: AnnotateSummary | None = None,
    state: AnnotateProgress | None = None,
    source_name: str = "input",
) -> Iterator[list[RecordPrediction]]:
    """Stream records through ``predict`` in token-budget batches; yield finished records in input order.

    Args:
        records: FASTA records, consumed lazily.
        predict: ``(tokens (N,), lengths (B,)) -> (B, n_classes)`` probabilities (e.g. :func:`predict_tokens`).
        n_classes: number of classes.
        alphabet: encodes each record (errors name record and position).
        window, stride, max_length, rc, min_length, on_invalid, max_tokens: as in :func:`annotate_fasta`.
        summary: counts, updated in place.
        state: progress, updated in place (records and bases finished).
        source_name: the input's name, for error messages.

    Yields:
        After each batch, the list of records finished by it (possibly empty), in input order.
    """
    summary = summary if summary is not None else AnnotateSummary()
    state = state if state is not None else AnnotateProgress()
    pending: deque[_Pending] = deque()
    items = _window_items(records, pending, n_classes=n_classes, alphabet=alphabet, window=window, stride=stride,
                          max_length=max_length, rc=rc, min_length=min_length, on_invalid=on_invalid,
                          summary=summary, state=state, source_name=source_name)
    for batch in token_budget_batches(items, max_tokens=max_tokens):
        probabilities = predict(batch.tokens, batch.lengths)
        for (record, index), row in zip(batch.tags, probabilities):
            record.sums[index] += row
            record.remaining -= 1
        finished = []
        while pending and pending[0].remaining == 0:
            finished.append(_finish(pending.popleft(), strands=2 if rc else 1))
        summary.records_written += len(finished)
        summary.bases += sum(record.length for record in finished)
        summary.windows += sum(len(record.windows) for record in finished)
        state.records = summary.records_written + summary.skipped_short + summary.skipped_invalid
        yield finished
    if pending:  # unreachable unless predict returned too few rows
        raise RuntimeError(f"{len(pending)} record(s) were never predicted")


def _window_items(records: Iterable[FastaRecord], pending: deque[_Pending], *, n_classes: int, alphabet: Alphabet,
                  window: int | None, stride: int | None, max_length: int, rc: bool, min_length: int,
                  on_invalid: str, summary: AnnotateSummary, state: AnnotateProgress,
                  source_name: str) -> Iterator[tuple[tuple[_Pending, int], np.ndarray]]:
    """Encode each record, register it in ``pending`` and yield its windows' tokens (both strands with ``rc``)."""
    for record in records:
        summary.records_read += 1
        tokens = _encode(record, alphabet=alphabet, on_invalid=on_invalid, summary=summary, source_name=source_name)
        if tokens is None:
            state.bases += len(record.sequence)
            continue
        if tokens.size < min_length:
            summary.skipped_short += 1
            state.bases += tokens.size
            continue
        if window is not None:
            spans = window_spans(tokens.size, window=window, stride=stride or window)
        elif max_length and tokens.size > max_length:
            spans = window_spans(tokens.size, window=max_length, stride=max_length)
        else:
            spans = [(0, tokens.size)]
        entry = _Pending(record.id, int(tokens.size), spans, np.zeros((len(spans), n_classes), dtype=np.float64),
                         remaining=len(spans) * (2 if rc else 1))
        pending.append(entry)
        covered = 0
        for index, (start, end) in enumerate(spans):
            piece = tokens[start:end]
            yield (entry, index), piece
            if rc:
                yield (entry, index), reverse_complement(piece)
            state.bases += end - max(start, covered)
            covered = end


def _encode(record: FastaRecord, *, alphabet: Alphabet, on_invalid: str, summary: AnnotateSummary,
            source_name: str) -> np.ndarray | None:
    """The record's tokens, or ``None`` when it is skipped as invalid."""
    try:
        if not record.sequence:
            raise InputFormatError(f"{source_name}: record {record.id} has no sequence (a '>' line followed by "
                                   f"no bases); expected at least one base")
        return alphabet.encode(record.sequence, record=record.id)
    except (AlphabetError, InputFormatError):
        if on_invalid == "error":
            raise
        summary.skipped_invalid += 1
        if len(summary.skipped_ids) < 10:
            summary.skipped_ids.append(record.id)
        return None


def _finish(entry: _Pending, *, strands: int) -> RecordPrediction:
    """A finished record's prediction: each window's strand mean, the record's length-weighted mean."""
    window_probabilities = (entry.sums / strands).astype(np.float32)
    if len(entry.spans) == 1:
        probabilities = window_probabilities[0]
    else:
        weights = np.array([end - start for start, end in entry.spans], dtype=np.float64)
        probabilities = ((weights[:, None] * entry.sums / strands).sum(0) / weights.sum()).astype(np.float32)
    windows = [WindowPrediction(start, end, row) for (start, end), row in zip(entry.spans, window_probabilities)]
    return RecordPrediction(entry.id, entry.length, probabilities, windows)


def _check_options(*, out: Any, bed: Any, window: int | None, stride: int | None, min_length: int,
                   max_length: int | None, precision: str, max_tokens: int, on_invalid: str) -> None:
    """Every option problem at once, before the model is loaded or the input read.

    Raises:
        ConfigError: listing each problem.
    """
    problems = output_problems(out, bed)
    if window is not None and window < 1:
        problems.append(f"window should be at least 1 base, got {window}")
    if stride is not None:
        if window is None:
            problems.append("stride needs window")
        elif not 1 <= stride <= window:
            problems.append(f"stride should be between 1 and the window ({window}) so windows cover every base, "
                            f"got {stride}")
    if min_length < 0:
        problems.append(f"min_length should be at least 0, got {min_length}")
    if max_length is not None and max_length < 0:
        problems.append(f"max_length should be at least 0 (0: never window automatically), got {max_length}")
    if precision not in PRECISIONS:
        problems.append(f"precision should be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if max_tokens < 1:
        problems.append(f"max_tokens should be at least 1, got {max_tokens}")
    if on_invalid not in ON_INVALID:
        problems.append(f"on_invalid should be one of {', '.join(ON_INVALID)}, got {on_invalid!r}")
    if problems:
        raise ConfigError("; ".join(problems))


def _resolve_device(device: str) -> str:
    return resolve_device(device)

