"""Score the variants of a VCF with a ref/alt model and write them back as a VCF.

**The scores** (defined here once; writers only serialise). For each (record, ALT), with the windows
of :mod:`genomix.datasets.variant_windows` and ``f(ref, alt)`` the model's output:

- classification: ``GMX_SCORE = p(alt) = softmax(f(ref_window, alt_window))[-1]``, the probability of
  the *last* class (the positive one: ``--label-map 'Cfrm=1,*=0'`` makes ``Cfrm`` last), and
  ``GMX_DIFF = p(alt) - p(ref)`` where ``p(ref) = softmax(f(ref_window, ref_window))[-1]`` is the
  same model's probability for the null variant (no change) at the same place;
- regression: ``GMX_SCORE`` = the predicted effect ``f(ref_window, alt_window)`` in label units
  (``* std + mean`` of the training labels), and ``GMX_DIFF = f(ref, alt) - f(ref, ref)``, the
  prediction minus the null variant's.

``p(ref)`` costs no second encoder pass: it is the head on ``[h_ref, h_ref, 0]``. With ``rc=True``
both windows are also reverse-complemented, scored the same way, and each score is the mean of the
two strands.

**The output**: every input record, in order, unchanged except for ``GMX_SCORE`` and ``GMX_DIFF``
(``Number=A``: one value per ALT, ``.`` for symbolic ALTs) and FILTER: ``GMX_REF_MISMATCH`` when REF
differs from the reference, ``GMX_OUTSIDE`` when REF is not inside its reference record; such records
get no score. A contig missing from the reference is an error, and nothing is written.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from genomix.alphabet import DNA, reverse_complement
from genomix.datasets.variant_windows import VariantLocator, check_window
from genomix.errors import CheckpointError, ConfigError
from genomix.io.reference import Reference
from genomix.io.vcf import InfoField, VcfReader, VcfRecord, VcfWriter, check_output_path, is_symbolic
from genomix.validation import check_output_not_input

logger = logging.getLogger(__name__)

LABEL_KINDS = ("classification", "regression")
SCORE_FIELD = "GMX_SCORE"
DIFF_FIELD = "GMX_DIFF"
REF_MISMATCH = "GMX_REF_MISMATCH"
OUTSIDE = "GMX_OUTSIDE"
CHUNK_RECORDS = 2048


def variant_settings(info: dict, *, path: object, window: int | None = None) -> tuple[int, str]:
    """``(window, label_kind)`` of a ref/alt model: the window given, else the checkpoint's, and its label kind.

    Args:
        info: as :func:`genomix.checkpoint.load_model` returns it.
        path: the model's path, for messages.
        window: overrides the checkpoint's window.

    Raises:
        CheckpointError: not a ``variant_effect`` model. ConfigError: no window anywhere.
    """
    if info.get("task") != "variant_effect":
        raise CheckpointError(f"checkpoint {path}: a {info.get('task')!r} model; score-variants needs a "
                              f"variant_effect (ref/alt) model")
    config = info.get("config") or {}
    window = window or info.get("window") or config.get("window")
    if not window:
        raise ConfigError(f"checkpoint {path} does not record its window; give --window (bp)")
    label_kind = (info.get("label_kind") or config.get("label_kind")
                  or ("classification" if info.get("classes") else "regression"))
    return int(window), label_kind


def pair_scores(model: torch.nn.Module, ref_tokens: Tensor, ref_lengths: Tensor, alt_tokens: Tensor,
                alt_lengths: Tensor, *, label_kind: str, target_scale: Sequence[float] | None = None
                ) -> tuple[Tensor, Tensor]:
    """The score and the ref/alt difference of a batch of variants (definitions in the module docstring).

    Args:
        model: a :class:`~genomix.models.variant.RefAltModel` (``encode_pair`` and ``head_from``).
        ref_tokens, alt_tokens: ``(N_ref,)``, ``(N_alt,)`` concatenated window tokens.
        ref_lengths, alt_lengths: ``(B,)`` window lengths.
        label_kind: ``"classification"`` or ``"regression"``.
        target_scale: ``(mean, std)`` of the regression labels (``None``: ``(0, 1)``).

    Returns:
        ``(score, diff)``, each ``(B,)`` float32.
    """
    h_ref, h_alt = model.encode_pair(ref_tokens, ref_lengths, alt_tokens, alt_lengths)
    variant = model.head_from(h_ref, h_alt).float()
    null = model.head_from(h_ref, h_ref).float()
    if label_kind == "classification":
        score = torch.softmax(variant, dim=-1)[:, -1]
        return score, score - torch.softmax(null, dim=-1)[:, -1]
    mean, std = target_scale if target_scale is not None else (0.0, 1.0)
    score = variant[:, 0] * std + mean
    return score, (variant[:, 0] - null[:, 0]) * std


@dataclass
class _Pending:
    """Records of one chunk, and the windows of their scorable ALTs."""

    records: list[VcfRecord] = field(default_factory=list)
    filters: list[list[str]] = field(default_factory=list)
    ref_windows: list[np.ndarray] = field(default_factory=list)
    alt_windows: list[np.ndarray] = field(default_factory=list)
    slots: list[tuple[int, int]] = field(default_factory=list)  # (record in chunk, ALT index)


def score_vcf(
    model: torch.nn.Module,
    *,
    reference: str | os.PathLike,
    vcf: str | os.PathLike,
    out: str | os.PathLike,
    window: int,
    label_kind: str,
    classes: Sequence[str] | None = None,
    target_scale: Sequence[float] | None = None,
    rc: bool = False,
    batch_tokens: int = 1 << 18,
    contig_aliases: dict[str, str] | None = None,
    element_field: str | None = None,
    region: str | None = None,
    progress: Callable[[int], None] | None = None,
    command: str | None = None,
    rows: list[dict] | None = None,
) -> dict:
    """Score every (record, ALT) of a VCF and write the VCF with scores.

    Args:
        model: a ref/alt model (already on its device; put in eval mode here).
        reference: the reference FASTA.
        vcf: the input VCF.
        out: ``.vcf``, ``.vcf.gz`` or ``.vcf.bgz`` (compressed ones are tabix-indexed).
        window: the window the model was trained with (bases).
        label_kind: ``"classification"`` or ``"regression"``.
        classes: class names (classification; named in the header).
        target_scale: ``(mean, std)`` of the training labels (regression).
        rc: average each score with the reverse strand's.
        batch_tokens: most window tokens per encoder call.
        contig_aliases, element_field, region: as for the variant-effect builder.
        progress: called with the number of records written since the last call.
        command: recorded in the output header.
        rows: when a list, the scores are also appended to it as rows (:func:`variant_rows`).

    Returns:
        ``{"records", "alleles_scored", "ref_mismatch", "outside_reference", "symbolic_alt", "out"}``.

    Raises:
        ConfigError: a bad option (checked before any work). InputFormatError: a bad input, a contig
        missing from the reference (nothing is written at ``out``).
    """
    check_output_path(out)
    window = _check_scoring_options(window, label_kind=label_kind, batch_tokens=batch_tokens)
    check_output_not_input(out, [vcf, reference])
    with _scoring(model, reference=reference, vcf=vcf, window=window, label_kind=label_kind,
                  target_scale=target_scale, rc=rc, batch_tokens=batch_tokens, contig_aliases=contig_aliases,
                  element_field=element_field, region=region) as (header, chunks, counts):
        with VcfWriter(out, header, info=_info_fields(label_kind, classes, rc),
                       filters={REF_MISMATCH: "REF differs from the reference genome; not scored by genomix",
                                OUTSIDE: "REF is not inside its reference record; not scored by genomix"},
                       command=command) as writer:
            for chunk in chunks:
                for record, info, filters in chunk:
                    writer.write(record.record, info=info, filters=filters)
                    if rows is not None:
                        rows.extend(variant_rows(record, info, filters))
                if progress is not None and chunk:
                    progress(len(chunk))
    counts["out"] = str(out)
    return counts


def score_table(
    model: torch.nn.Module,
    *,
    reference: str | os.PathLike,
    vcf: str | os.PathLike,
    window: int,
    label_kind: str,
    target_scale: Sequence[float] | None = None,
    rc: bool = False,
    batch_tokens: int = 1 << 18,
    contig_aliases: dict[str, str] | None = None,
    element_field: str | None = None,
    region: str | None = None,
) -> tuple[list[dict], dict]:
    """The scores :func:`score_vcf` writes, as rows (one per record and ALT, see :func:`variant_rows`); no file.

    Returns:
        ``(rows, counts)``, the counts as :func:`score_vcf` returns them (without ``out``).

    Raises:
        ConfigError, InputFormatError: as :func:`score_vcf`.
    """
    window = _check_scoring_options(window, label_kind=label_kind, batch_tokens=batch_tokens)
    rows: list[dict] = []
    with _scoring(model, reference=reference, vcf=vcf, window=window, label_kind=label_kind,
                  target_scale=target_scale, rc=rc, batch_tokens=batch_tokens, contig_aliases=contig_aliases,
                  element_field=element_field, region=region) as (_, chunks, counts):
        for chunk in chunks:
            for record, info, filters in chunk:
                rows.extend(variant_rows(record, info, filters))
    return rows, counts


def _check_scoring_options(window: int, *, label_kind: str, batch_tokens: int) -> int:
    """The window, once the options :func:`score_vcf` and :func:`score_table` share are checked.

    Raises:
        ConfigError: a bad window, label kind or token budget.
    """
    window = check_window(window)
    if label_kind not in LABEL_KINDS:
        raise ConfigError(f"label kind must be one of {', '.join(LABEL_KINDS)}, got {label_kind!r}")
    if batch_tokens < 1:
        raise ConfigError(f"batch_tokens must be >= 1, got {batch_tokens}")
    return window


@contextlib.contextmanager
def _scoring(model: torch.nn.Module, *, reference: str | os.PathLike, vcf: str | os.PathLike, window: int,
             label_kind: str, target_scale: Sequence[float] | None, rc: bool, batch_tokens: int,
             contig_aliases: dict[str, str] | None, element_field: str | None, region: str | None,
             ) -> Iterator[tuple[Any, Iterator[list[tuple[VcfRecord, dict | None, list[str]]]], dict]]:
    """Open the reference and the VCF; yield the VCF's header (pysam's), its records scored chunk by chunk (read
    lazily, in order) and the counts those chunks fill in. The model is put in eval mode."""
    model.eval()
    counts = {"records": 0, "alleles_scored": 0, "ref_mismatch": 0, "outside_reference": 0, "symbolic_alt": 0}
    scorer = _Scorer(model, label_kind=label_kind, target_scale=target_scale, rc=rc, batch_tokens=batch_tokens)
    with Reference(reference) as genome, VcfReader(vcf, region=region) as reader:
        locator = VariantLocator(genome, vcf_path=str(vcf), contig_aliases=contig_aliases,
                                 element_field=element_field)
        yield reader.header, _scored_chunks(reader, locator, scorer, window=window, counts=counts), counts


ROW_COLUMNS = ("chrom", "pos", "id", "ref", "alt", "filter", SCORE_FIELD, DIFF_FIELD)


def variant_rows(record: VcfRecord, info: dict | None, filters: Sequence[str]) -> list[dict]:
    """One row per ALT of a scored record: :data:`ROW_COLUMNS` (scores ``None`` where the VCF has ``.``;
    ``filter`` the genomix filters joined by ``;``, empty when it was scored)."""
    return [{"chrom": record.chrom, "pos": record.pos, "id": record.id, "ref": record.ref, "alt": alt,
             "filter": ";".join(filters), SCORE_FIELD: info[SCORE_FIELD][k] if info else None,
             DIFF_FIELD: info[DIFF_FIELD][k] if info else None} for k, alt in enumerate(record.alts)]


def _scored_chunks(reader: VcfReader, locator: VariantLocator, scorer: "_Scorer", *, window: int,
                   counts: dict) -> Iterator[list[tuple[VcfRecord, dict | None, list[str]]]]:
    """Read, window and score the records in chunks; yield each chunk's ``(record, info, filters)`` in order."""
    pending = _Pending()
    for record in reader:
        _prepare(pending, record, locator, window=window, counts=counts)
        if len(pending.records) >= CHUNK_RECORDS:
            yield _scored(pending, scorer, counts)
            pending = _Pending()
    yield _scored(pending, scorer, counts)


def _info_fields(label_kind: str, classes: Sequence[str] | None, rc: bool) -> list[InfoField]:
    strand = "; mean of both strands" if rc else ""
    if label_kind == "classification":
        positive = f"'{classes[-1]}'" if classes else "the last class"
        score = f"genomix: probability of class {positive} for the variant, p(alt){strand}"
        diff = f"genomix: p(alt) - p(ref), p(ref) being the model's probability of {positive} with no change{strand}"
    else:
        score = f"genomix: predicted effect of the variant{strand}"
        diff = f"genomix: predicted effect minus the prediction with no change (ref window twice){strand}"
    return [InfoField(SCORE_FIELD, "A", "Float", score), InfoField(DIFF_FIELD, "A", "Float", diff)]


def _prepare(pending: _Pending, record: VcfRecord, locator: VariantLocator, *, window: int, counts: dict) -> None:
    index = len(pending.records)
    pending.records.append(record)
    pending.filters.append([])
    counts["records"] += 1
    counts["symbolic_alt"] += sum(1 for alt in record.alts if is_symbolic(alt))
    alts = [(k, alt) for k, alt in enumerate(record.alts) if not is_symbolic(alt)]
    if not alts:
        return
    locus = locator.locate(record)
    if locus is None:
        pending.filters[index].append(OUTSIDE)
        counts["outside_reference"] += 1
        return
    if locator.reference_allele(locus) != record.ref:
        pending.filters[index].append(REF_MISMATCH)
        counts["ref_mismatch"] += 1
        return
    for k, alt in alts:
        windows = locator.windows(locus, record.ref, alt, window=window)
        pending.ref_windows.append(DNA.encode(windows.ref_window, record=f"{locus.contig} window"))
        pending.alt_windows.append(DNA.encode(windows.alt_window, record=f"{record.where} ALT {alt}"))
        pending.slots.append((index, k))


def _scored(pending: _Pending, scorer: "_Scorer", counts: dict) -> list[tuple[VcfRecord, dict | None, list[str]]]:
    """Score a chunk's windows: ``(record, info, filters)`` per record, ``info`` ``None`` when nothing was scored."""
    scores, diffs = scorer(pending.ref_windows, pending.alt_windows)
    values: dict[int, dict[int, tuple[float, float]]] = {}
    for (index, k), score, diff in zip(pending.slots, scores, diffs):
        values.setdefault(index, {})[k] = (float(score), float(diff))
    counts["alleles_scored"] += len(pending.slots)
    scored = []
    for index, record in enumerate(pending.records):
        info = None
        if index in values:
            per_alt = values[index]
            info = {SCORE_FIELD: tuple(per_alt[k][0] if k in per_alt else None for k in range(len(record.alts))),
                    DIFF_FIELD: tuple(per_alt[k][1] if k in per_alt else None for k in range(len(record.alts)))}
        scored.append((record, info, pending.filters[index]))
    return scored


class _Scorer:
    """Batches windows by a token budget and applies :func:`pair_scores` (both strands with ``rc``)."""

    def __init__(self, model, *, label_kind: str, target_scale, rc: bool, batch_tokens: int) -> None:
        self.model = model
        self.label_kind = label_kind
        self.target_scale = target_scale
        self.rc = rc
        self.batch_tokens = batch_tokens
        parameter = next(model.parameters(), None)
        self.device = parameter.device if parameter is not None else torch.device("cpu")

    def __call__(self, ref_windows: list[np.ndarray], alt_windows: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        scores = np.empty(len(ref_windows), dtype=np.float32)
        diffs = np.empty(len(ref_windows), dtype=np.float32)
        for batch in self._batches(ref_windows, alt_windows):
            refs = [ref_windows[i] for i in batch]
            alts = [alt_windows[i] for i in batch]
            score, diff = self._score(refs, alts)
            if self.rc:
                rc_score, rc_diff = self._score([reverse_complement(t) for t in refs],
                                                [reverse_complement(t) for t in alts])
                score, diff = (score + rc_score) / 2, (diff + rc_diff) / 2
            scores[batch], diffs[batch] = score, diff
        return scores, diffs

    def _batches(self, ref_windows, alt_windows) -> list[list[int]]:
        batches: list[list[int]] = []
        current: list[int] = []
        used = 0
        for i, (ref, alt) in enumerate(zip(ref_windows, alt_windows)):
            size = len(ref) + len(alt)
            if current and used + size > self.batch_tokens:
                batches.append(current)
                current, used = [], 0
            current.append(i)
            used += size
        if current:
            batches.append(current)
        return batches

    @torch.inference_mode()
    def _score(self, refs: list[np.ndarray], alts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        def tensors(windows):
            tokens = torch.from_numpy(np.concatenate(windows).astype(np.int64)).to(self.device)
            lengths = torch.tensor([len(w) for w in windows], dtype=torch.int64, device=self.device)
            return tokens, lengths

        ref_tokens, ref_lengths = tensors(refs)
        alt_tokens, alt_lengths = tensors(alts)
        score, diff = pair_scores(self.model, ref_tokens, ref_lengths, alt_tokens, alt_lengths,
                                  label_kind=self.label_kind, target_scale=self.target_scale)
        return score.cpu().numpy(), diff.cpu().numpy()
