"""The variant-effect builder: ``genomix build-dataset variant-effect``.

For each VCF record and each of its ALTs, the reference window centred on the variant and the
alternative window with the ALT applied (convention: :mod:`genomix.datasets.variant_windows`), a label
from INFO, a group that keeps related variants in one split, then a dataset of task ``variant_effect``:

- ``tokens``/``offsets``: the reference windows; ``alt_tokens``/``alt_offsets``: the alternative
  windows (ragged, lengths may differ from the reference's).
- ``labels``: ``int64`` class indices (``label_kind = "classification"``, classes in ``classes``) or
  ``float32`` effects (``label_kind = "regression"``).
- ``ids``: ``CHROM:POS:REF:ALT`` (``...@ELEMENT`` with element references): unique per distinct
  variant, where VCF IDs often are not (MITOMAP repeats 412 IDs; it also lists 3 variants twice,
  and those keep one id each and always land in the same split).
- ``meta``: ``chrom``, ``pos`` (1-based), ``ref``, ``alt``, ``vcf_id`` (the VCF ID, or empty), ``record`` (1-based record number),
  ``allele`` (1-based ALT index), ``contig`` (reference record), ``window_start`` (0-based),
  ``variant_offset``, ``label_value`` (the INFO value as read), ``group``; with ``weight``, also
  ``weight`` (float64): each variant's measurement weight read from INFO (for example an MPRA's number of
  barcodes), which training uses to weight the record's loss (``TrainConfig.sample_weights``).

Skips are counted per (record, ALT): ``symbolic_alt`` (``<DEL>``, ``*``, breakends), ``no_alt``,
``ref_mismatch`` (REF differs from the reference; ``strict`` fails instead), ``outside_reference``
(REF not inside its reference record, or on another chromosome than its element), ``missing_label``,
``label_not_in_classes`` / ``label_not_mapped``, and with ``weight``: ``missing_weight`` / ``bad_weight`` (not a
finite number >= 0).

Labels: ``label="INFO/FIELD"``, with ``classes`` or ``label_map``; the rules (numeric values:
regression; otherwise classes; glob patterns in the map) are in :mod:`genomix.datasets.variant_labels`.

Groups: each ``group_by`` entry is ``INFO/FIELD`` (equal values share a group) or ``window``
(variants whose reference windows overlap, directly or through a chain, on the same chromosome in
genomic coordinates, share a group); several entries are merged, and a variant listed twice is
always in one group. Groups never straddle splits.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from genomix.alphabet import DNA
from genomix.datasets.provenance import make_provenance
from genomix.datasets.splits import SPLIT_NAMES, check_fractions, merge_groups, overlap_groups, split_indices
from genomix.datasets.store import SplitArrays, write_dataset
from genomix.datasets.variant_labels import as_number, assign_labels, is_missing, parse_label_map
from genomix.datasets.variant_windows import Locus, VariantLocator, check_window
from genomix.errors import ConfigError, InputFormatError
from genomix.io.reference import Reference
from genomix.io.vcf import VcfReader, VcfRecord, is_symbolic
from genomix.validation import check_output_not_input

logger = logging.getLogger(__name__)

TASK = "variant_effect"
WINDOW_CONVENTION = ("ref window = reference[max(0, p - W//2) : min(C, p - W//2 + W)] for REF start p "
                     "(0-based) on a record of length C; clipped at record ends, never padded; "
                     "alt window = ref window with REF replaced by ALT")


@dataclass
class _Items:
    """Kept (variant, ALT) items, in VCF order."""

    ref_tokens: list[np.ndarray] = field(default_factory=list)
    alt_tokens: list[np.ndarray] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    raw_labels: list[object] = field(default_factory=list)
    raw_weights: list[object] = field(default_factory=list)
    group_values: list[list[object]] = field(default_factory=list)
    spans: list[tuple[str, int, int]] = field(default_factory=list)
    meta: dict[str, list] = field(default_factory=lambda: {name: [] for name in (
        "chrom", "pos", "ref", "alt", "vcf_id", "record", "allele", "contig", "window_start", "variant_offset")})


def info_field(spec: str, *, option: str) -> str:
    """``"INFO/STATUS"`` (or ``"STATUS"``) -> ``"STATUS"``."""
    name = spec[5:] if spec.upper().startswith("INFO/") else spec
    if not name or "/" in name:
        raise ConfigError(f"{option} must name an INFO field as INFO/FIELD, got {spec!r}")
    return name


def build_variant_dataset(
    reference: str | os.PathLike,
    vcf: str | os.PathLike,
    out: str | os.PathLike,
    *,
    window: int = 1024,
    label: str,
    label_map: str | None = None,
    classes: Sequence[str] | None = None,
    group_by: Sequence[str] = (),
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    strict: bool = False,
    contig_aliases: dict[str, str] | None = None,
    element_field: str | None = None,
    weight: str | None = None,
    region: str | None = None,
    progress: Callable[[int], None] | None = None,
    command: Sequence[str] | None = None,
) -> dict:
    """Build a ``variant_effect`` dataset from a reference FASTA and a VCF.

    Args:
        reference: FASTA (plain, BGZF or gzip); indexed with pyfaidx.
        vcf: VCF (plain, BGZF or gzip) or BCF.
        out: the ``.h5`` file to write (atomically; nothing is written on error).
        window: ``W``, the reference window in bases.
        label: ``INFO/FIELD`` holding the label.
        label_map: ``VALUE=INDEX,...`` (classification; see the module docstring).
        classes: the classes to keep, in index order (forces classification).
        group_by: ``INFO/FIELD`` and/or ``window`` entries (see the module docstring).
        fractions: (train, valid, test).
        seed: the split's seed.
        strict: fail on the first REF mismatch instead of skipping it.
        contig_aliases: VCF CHROM -> reference record.
        element_field: INFO field naming each record's reference record (element references).
        weight: ``INFO/FIELD`` holding each variant's measurement weight (``meta/weight``); variants
            without a finite weight >= 0 are skipped.
        region: only records in this region (needs an indexed VCF).
        progress: called with the number of records read since the last call.
        command: the command line for provenance.

    Returns:
        The summary: ``records_read``, ``alleles_read``, ``kept``, ``skipped`` (reason -> count),
        ``first_skipped`` (reason -> example), ``label_kind``, ``classes`` (name -> per-split counts)
        or ``label_stats``, ``splits``, ``groups``, ``length`` (ref and alt window lengths), ``out``.

    Raises:
        ConfigError: a bad option. InputFormatError: a bad input file, a contig missing from the
        reference, or (``strict``) a REF mismatch.
    """
    check_output_not_input(out, [reference, vcf])
    window = check_window(window)
    fractions = check_fractions(fractions)
    label_field = info_field(label, option="--label")
    mapping = parse_label_map(label_map)
    if mapping is not None and classes:
        raise ConfigError("give --label-map or --classes, not both (--label-map names the classes itself)")
    group_specs = [spec if spec == "window" else info_field(spec, option="--group-by") for spec in group_by]
    weight_field = None if weight is None else info_field(weight, option="--weight")
    items, skipped, first_skipped, counts = _collect(
        reference, vcf, window=window, label_field=label_field, group_fields=[s for s in group_specs if s != "window"],
        strict=strict, contig_aliases=contig_aliases, element_field=element_field, region=region,
        progress=progress, weight_field=weight_field)
    if weight_field is not None:
        _weights(items, skipped, first_skipped)
    labels, label_kind, class_names = _labels(items, skipped, first_skipped, mapping=mapping, classes=classes,
                                              label_field=label_field)
    if not labels.size:
        raise InputFormatError(f"{vcf}: no variant left to build a dataset from (skipped: "
                               f"{', '.join(f'{k} {v:,}' for k, v in skipped.items()) or 'none'})")
    groups = _groups(items, group_specs, window=window)
    strata = labels if label_kind == "classification" else np.zeros(len(labels), dtype=np.int64)
    parts = split_indices(list(strata), fractions, seed=seed, groups=list(groups))
    _warn_empty_splits(parts, fractions, n_groups=int(groups.max()) + 1)
    splits = {name: _split_arrays(items, labels, groups, index) for name, index in parts.items()}
    options = {"window": window, "label": label, "label_map": label_map, "classes": list(classes or []),
               "group_by": list(group_by), "split": list(fractions), "strict": strict,
               "contig_aliases": contig_aliases or {}, "element_field": element_field, "weight": weight,
               "region": region}
    write_dataset(out, splits, task=TASK, alphabet="dna", vocab=DNA.vocab, classes=class_names,
                  provenance=make_provenance([reference, vcf], seed=seed, command=command, options=options),
                  extra_attrs={"label_kind": label_kind, "label_field": label_field, "window": window,
                               "window_convention": WINDOW_CONVENTION, "group_by": list(group_by),
                               "contig_aliases": contig_aliases or {}, "element_field": element_field or "",
                               "weight_field": weight_field or ""})
    return _summary(out, items, labels, parts, counts=counts, skipped=skipped, first_skipped=first_skipped,
                    label_kind=label_kind, class_names=class_names, n_groups=int(groups.max()) + 1)


def _collect(reference, vcf, *, window, label_field, group_fields, strict, contig_aliases, element_field,
             region, progress, weight_field=None) -> tuple[_Items, Counter, dict, dict]:
    items = _Items()
    skipped: Counter = Counter()
    first_skipped: dict[str, str] = {}
    records = alleles = 0

    def skip(reason: str, record: VcfRecord, detail: str = "") -> None:
        skipped[reason] += 1
        first_skipped.setdefault(reason, f"{record.where}{detail}")

    with Reference(reference) as ref_genome, VcfReader(vcf, region=region) as reader:
        fields = [(label_field, "--label"), *((name, "--group-by") for name in group_fields),
                  *(((weight_field, "--weight"),) if weight_field else ())]
        for field_name, option in fields:
            if field_name not in reader.header.info:
                raise ConfigError(f"{option} INFO/{field_name}: {vcf} declares no such INFO field "
                                  f"(it has: {', '.join(reader.header.info) or 'none'})")
        locator = VariantLocator(ref_genome, vcf_path=str(vcf), contig_aliases=contig_aliases,
                                 element_field=element_field)
        for record in reader:
            records += 1
            if progress is not None and records % 1000 == 0:
                progress(1000)
            if not record.alts:
                alleles += 1
                skip("no_alt", record)
                continue
            alleles += len(record.alts)
            locus = None
            if any(not is_symbolic(alt) for alt in record.alts):
                locus = locator.locate(record)
                if locus is not None and not _ref_ok(locator, locus, record, vcf=vcf, strict=strict,
                                                     skip=skip, n_alts=len(record.alts)):
                    continue
            for allele, alt in enumerate(record.alts, start=1):
                if is_symbolic(alt):
                    skip("symbolic_alt", record, f" ALT {alt}")
                elif locus is None:
                    skip("outside_reference", record)
                else:
                    _add(items, locator, locus, record, allele, alt, window=window, label_field=label_field,
                         group_fields=group_fields, weight_field=weight_field)
        if progress is not None:
            progress(records % 1000)
    return items, skipped, first_skipped, {"records_read": records, "alleles_read": alleles}


def _ref_ok(locator: VariantLocator, locus: Locus, record: VcfRecord, *, vcf, strict: bool, skip, n_alts: int) -> bool:
    found = locator.reference_allele(locus)
    if found == record.ref:
        return True
    detail = (f": REF {record.ref!r} but the reference {locus.contig}:{locus.start + 1:,}-{locus.end:,} "
              f"has {found!r}")
    if strict:
        raise InputFormatError(f"{vcf}: {record.where}{detail} (--strict)")
    for _ in range(n_alts):
        skip("ref_mismatch", record, detail)
    return False


def _add(items: _Items, locator: VariantLocator, locus: Locus, record: VcfRecord, allele: int, alt: str, *,
         window: int, label_field: str, group_fields: list[str], weight_field: str | None = None) -> None:
    windows = locator.windows(locus, record.ref, alt, window=window)
    where = f"{record.chrom}:{record.pos}"
    items.ref_tokens.append(DNA.encode(windows.ref_window, record=f"{locus.contig} (reference window of {where})"))
    items.alt_tokens.append(DNA.encode(windows.alt_window, record=f"{where} ALT {alt}"))
    variant = f"{record.chrom}:{record.pos}:{record.ref}:{alt}"
    items.ids.append(variant if locator.element_field is None else f"{variant}@{locus.contig}")
    items.raw_labels.append(_allele_value(record, label_field, allele))
    if weight_field is not None:
        items.raw_weights.append(_allele_value(record, weight_field, allele))
    items.group_values.append([_allele_value(record, name, allele) for name in group_fields])
    shift = locus.genomic_shift
    items.spans.append((locus.genomic_chrom, windows.start + shift, windows.end + shift))
    for column, value in (("chrom", record.chrom), ("pos", record.pos), ("ref", record.ref), ("alt", alt),
                          ("vcf_id", record.id or ""),
                          ("record", record.number), ("allele", allele), ("contig", locus.contig),
                          ("window_start", windows.start), ("variant_offset", windows.variant_offset)):
        items.meta[column].append(value)


def _allele_value(record: VcfRecord, field_name: str, allele: int) -> object:
    """An INFO value for one ALT: ``Number=A`` / ``R`` fields give the ALT's own entry."""
    value = record.info_value(field_name)
    if isinstance(value, tuple):
        if len(value) == len(record.alts):
            return value[allele - 1]
        if len(value) == len(record.alts) + 1:
            return value[allele]
        return ",".join(str(v) for v in value)
    return value


def _labels(items: _Items, skipped: Counter, first_skipped: dict, *, mapping, classes, label_field
            ) -> tuple[np.ndarray, str, list[str] | None]:
    """Turn raw INFO values into labels; items without a usable label are dropped from ``items``."""
    result = assign_labels(items.raw_labels, mapping=mapping, classes=classes, label_field=label_field)
    _drop(items, result.kept, result.reasons, skipped, first_skipped)
    return result.labels, result.kind, result.classes


def _weights(items: _Items, skipped: Counter, first_skipped: dict) -> None:
    """Check each raw INFO weight; items without a finite weight >= 0 are dropped from ``items``, the others
    get ``meta["weight"]``."""
    values, reasons = [], {}
    for i, raw in enumerate(items.raw_weights):
        if is_missing(raw):
            reasons[i] = "missing_weight"
            continue
        value = as_number(raw)
        if value is None or value < 0:
            reasons[i] = "bad_weight"
        else:
            values.append(value)
    kept = [i for i in range(len(items.ids)) if i not in reasons]
    _drop(items, kept, reasons, skipped, first_skipped, shown="weight")
    items.meta["weight"] = values


def _drop(items: _Items, kept: list[int], reasons: dict[int, str], skipped: Counter, first_skipped: dict, *,
          shown: str = "value") -> None:
    """Count each dropped item's reason (the first one's INFO label value, or weight, as its example) and
    keep only ``kept`` in ``items``."""
    raw = items.raw_weights if shown == "weight" else items.raw_labels
    for i, reason in sorted(reasons.items()):
        skipped[reason] += 1
        first_skipped.setdefault(reason, f"{items.ids[i]} (INFO {shown} {raw[i]!r})")
    if len(kept) == len(items.ids):
        return
    for name in ("ref_tokens", "alt_tokens", "ids", "raw_labels", "raw_weights", "group_values", "spans"):
        values = getattr(items, name)
        if values:
            setattr(items, name, [values[i] for i in kept])
    items.meta = {column: [values[i] for i in kept] for column, values in items.meta.items()}


def _groups(items: _Items, specs: list[str], *, window: int) -> np.ndarray:
    """``int64 (n,)`` group numbers; repeated identical variants, and the ALTs of one record, share a group."""
    keys: list[list] = [list(items.ids),  # a variant listed twice (MITOMAP repeats 3) stays in one split
                        list(items.meta["record"])]  # so do the ALTs of one VCF record
    info_column = 0
    for spec in specs:
        if spec == "window":
            keys.append(overlap_groups(items.spans))
        else:
            keys.append([None if is_missing(v[info_column]) else ("info", spec, str(v[info_column]))
                         for v in items.group_values])
            info_column += 1
    return merge_groups(*keys)


def _warn_empty_splits(parts: dict[str, np.ndarray], fractions, *, n_groups: int) -> None:
    empty = [name for name, fraction in zip(SPLIT_NAMES, fractions) if fraction > 0 and not len(parts[name])]
    if empty:
        warnings.warn(f"split(s) {', '.join(empty)} are empty: the variants form only {n_groups} group(s) "
                      f"(--group-by keeps each group whole; a smaller --window makes fewer overlaps)", stacklevel=3)


def _split_arrays(items: _Items, labels: np.ndarray, groups: np.ndarray, index: np.ndarray) -> SplitArrays:
    ref = [items.ref_tokens[i] for i in index]
    alt = [items.alt_tokens[i] for i in index]
    meta = {column: [values[i] for i in index] for column, values in items.meta.items()}
    meta["label_value"] = [str(items.raw_labels[i]) for i in index]
    meta["group"] = groups[index]
    for column in ("pos", "record", "allele", "window_start", "variant_offset"):
        meta[column] = np.asarray(meta[column], dtype=np.int64)
    if "weight" in meta:
        meta["weight"] = np.asarray(meta["weight"], dtype=np.float64)
    return SplitArrays(
        tokens=_concat(ref), offsets=_offsets(ref), labels=labels[index], ids=[items.ids[i] for i in index],
        meta=meta, extra={"alt_tokens": _concat(alt), "alt_offsets": _offsets(alt)})


def _concat(pieces: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(pieces).astype(np.uint8) if pieces else np.empty(0, dtype=np.uint8)


def _offsets(pieces: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum([len(p) for p in pieces], dtype=np.int64)]).astype(np.int64)


def _summary(out, items: _Items, labels: np.ndarray, parts: dict[str, np.ndarray], *, counts: dict,
             skipped: Counter, first_skipped: dict, label_kind: str, class_names, n_groups: int) -> dict:
    ref_lengths = np.array([len(t) for t in items.ref_tokens])
    alt_lengths = np.array([len(t) for t in items.alt_tokens])
    summary = {**counts, "kept": int(len(labels)), "skipped": dict(sorted(skipped.items())),
               "first_skipped": dict(sorted(first_skipped.items())), "label_kind": label_kind,
               "splits": {name: int(len(index)) for name, index in parts.items()}, "groups": n_groups,
               "length": {"ref_min": int(ref_lengths.min()), "ref_max": int(ref_lengths.max()),
                          "alt_min": int(alt_lengths.min()), "alt_max": int(alt_lengths.max()),
                          "total": int(ref_lengths.sum() + alt_lengths.sum())},
               "out": str(out)}
    if label_kind == "classification":
        summary["classes"] = {name: {split: int(np.sum(labels[index] == k)) for split, index in parts.items()}
                              for k, name in enumerate(class_names)}
    else:
        summary["label_stats"] = {split: ({"mean": float(labels[index].mean()), "std": float(labels[index].std())}
                                          if len(index) else {}) for split, index in parts.items()}
    return summary
