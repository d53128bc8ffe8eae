"""The interval builder: ``genomix build-dataset intervals`` (regions of a reference genome, from BED).

Each region of a BED file (read strictly: :func:`genomix.io.bed.read_bed`) is placed on a reference
FASTA (:class:`genomix.io.reference.Reference`, pyfaidx) and read as it is or as a window centred on
it, reverse complemented on ``-`` (the convention is in :mod:`genomix.datasets.interval_windows`).

- **Labels**: the BED ``name`` column, or the ``label_column`` of a TSV table whose ``id_column`` holds
  each region's name (``chrom:start-end`` in BED coordinates for a region without a name).
- **Skips**, counted by reason, the first example kept; ``strict`` fails on the first instead:
  ``zero_length``, ``unknown_contig``, ``past_contig_end``, ``window_past_contig_end``,
  ``no_label`` (no name, or no row in the table), ``duplicate_region`` (the same
  ``chrom:start-end(strand)`` again; the first is kept).
- **Splits**: by chromosome (``valid_chroms``, ``test_chroms``; every other contig is train), or
  stratified random by label (:func:`genomix.datasets.splits.split_indices`) where regions whose
  intervals overlap, and regions with identical sequences, always share a split.
- **Negatives** (optional): ``negatives`` GC-matched random regions per region
  (:mod:`genomix.datasets.negatives`), labelled ``negative_label``, each in its positive's split
  (with chromosome splits drawn only from that split's contigs).

The file is a ``classification`` dataset (DESIGN.md): ids are the regions' ``chrom:start-end(strand)``;
meta columns ``chrom`` (as in the BED), ``contig`` (the reference record), ``start``, ``end`` (the
region, BED coordinates), ``strand``, ``name``, ``window_start``, ``window_end`` (the bases read),
``gc``, ``source`` (``bed`` or ``negative``) and ``line`` (the BED line; 0 for negatives). Tokens
are written split by split through :class:`~genomix.datasets.store.DatasetWriter` (atomic): memory
holds the regions' coordinates, never all their bases.
"""

from __future__ import annotations

import hashlib
import logging
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from genomix.alphabet import DNA
from genomix.datasets.interval_windows import WINDOW_CONVENTION, Interval, IntervalLocator, SkipCounts, check_window
from genomix.datasets.negatives import TRIES, gc_fraction, sample_gc_matched
from genomix.datasets.provenance import make_provenance
from genomix.datasets.splits import SPLIT_NAMES, check_fractions, merge_groups, overlap_groups, split_indices
from genomix.datasets.store import DatasetWriter
from genomix.errors import ConfigError, InputFormatError
from genomix.io.bed import BedRegion, read_bed
from genomix.io.reference import Reference
from genomix.io.tables import read_label_table
from genomix.validation import check_finite, check_output_not_input, check_seed

logger = logging.getLogger(__name__)

WRITE_BLOCK = 1 << 20  # bases handed to the dataset writer at once


@dataclass
class _Item:
    """One kept region (or negative): where its bases are, its label and what the split needs."""

    interval: Interval
    label: str
    gc: float
    digest: bytes
    source: str = "bed"


def region_key(region: BedRegion) -> str:
    """The key a label table is looked up by: the region's name, else ``chrom:start-end`` (BED coordinates)."""
    return region.name if region.name else f"{region.chrom}:{region.start}-{region.end}"


def build_interval_dataset(
    reference: str | os.PathLike,
    bed: str | os.PathLike,
    out: str | os.PathLike,
    *,
    window: int | None = None,
    labels: str | os.PathLike | None = None,
    id_column: str = "name",
    label_column: str = "label",
    contig_aliases: dict[str, str] | None = None,
    strict: bool = False,
    valid_chroms: Sequence[str] = (),
    test_chroms: Sequence[str] = (),
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    negatives: int = 0,
    negative_label: str = "negative",
    gc_tolerance: float = 0.02,
    progress: Callable[[int], None] | None = None,
    command: Sequence[str] | None = None,
) -> dict:
    """Build a classification dataset of reference regions (see the module docstring).

    Args:
        reference: FASTA (plain, BGZF or gzip), read with pyfaidx.
        bed: the regions: BED3 to BED6, plain or gzip/BGZF.
        out: the ``.h5`` file to write (atomically; nothing is written on error).
        window: read ``W`` bases centred on each region; ``None``: each region as it is.
        labels: TSV table of labels (default: the BED name column).
        id_column, label_column: columns of ``labels``.
        contig_aliases: BED chrom -> reference record.
        strict: fail on the first skipped region instead of counting it.
        valid_chroms, test_chroms: split by chromosome (BED or reference names); ``fractions`` is then unused.
        fractions: (train, valid, test) of the stratified random split.
        seed: seed of the split and of the negatives.
        negatives: GC-matched negatives per region (0: none).
        negative_label: their class.
        gc_tolerance: largest GC difference between a region and its negative.
        progress: called with the number of regions read since the last call.
        command: the command line for provenance.

    Returns:
        The summary: ``regions_read``, ``kept``, ``skipped`` and ``first_skipped`` (by reason),
        ``classes`` (name -> per-split counts), ``splits``, ``split_by``, ``negatives`` (or ``None``),
        ``length``, ``gc`` (mean per class), ``out``.

    Raises:
        ConfigError: a bad option. InputFormatError: a bad BED, table or reference, a skipped region
        with ``strict``, or no region left. AlphabetError: a reference letter that is not DNA.
    """
    check_output_not_input(out, [reference, bed, labels])
    window = check_window(window)
    fractions = check_fractions(fractions)
    seed = check_seed(seed)
    check_finite(gc_tolerance, "--gc-tolerance", minimum=0, maximum=1)
    if negatives < 0:
        raise ConfigError(f"--negatives must be 0 or more negatives per region, got {negatives}")
    valid_set, test_set = _chrom_sets(valid_chroms, test_chroms)
    label_of = _labeller(labels, id_column=id_column, label_column=label_column)
    with Reference(reference) as genome:
        locator = IntervalLocator(genome, bed_path=str(bed), contig_aliases=contig_aliases, window=window)
        valid_set |= {locator.aliases.get(name, name) for name in valid_set}  # BED names and reference names
        test_set |= {locator.aliases.get(name, name) for name in test_set}
        items, skips, regions_read, exclude = _collect(locator, bed, label_of=label_of, strict=strict,
                                                       progress=progress)
        if not items:
            source = "--labels table" if labels is not None else "BED name column (column 4)"
            raise InputFormatError(f"{bed}: no region left to build a dataset from: {regions_read:,} read, "
                                   f"skipped: {skips.describe()} (labels come from the {source}); "
                                   f"nothing written to {out}")
        by_chrom = bool(valid_set or test_set)
        if by_chrom:
            _check_chroms(valid_set | test_set, items, genome, locator)
            split_of = [_chrom_split(item.interval, valid_set, test_set) for item in items]
        else:
            split_of = _random_splits(items, fractions, seed=seed)
        negative_summary = None
        if negatives:
            negative_items, negative_splits, negative_summary = _negatives(
                genome, items, split_of, per_positive=negatives, label=negative_label, seed=seed,
                tolerance=gc_tolerance, exclude=exclude, chrom_sets=(valid_set, test_set) if by_chrom else None)
            items += negative_items
            split_of += negative_splits
        classes = sorted({item.label for item in items})
        if len(classes) == 1:
            logger.warning("only one class (%s): the dataset cannot teach a classifier much; "
                           "add --negatives N or label regions differently", classes[0])
        parts = {name: np.array([i for i, split in enumerate(split_of) if split == name], dtype=np.int64)
                 for name in SPLIT_NAMES}
        _warn_empty(parts, fractions if not by_chrom else None)
        options = {"window": window, "labels": str(labels) if labels else None, "id_column": id_column,
                   "label_column": label_column, "contig_aliases": contig_aliases or {}, "strict": strict,
                   "valid_chroms": sorted(valid_set), "test_chroms": sorted(test_set),
                   "split": None if by_chrom else list(fractions), "negatives": negatives,
                   "negative_label": negative_label if negatives else None, "gc_tolerance": gc_tolerance}
        inputs = [reference, bed] + ([labels] if labels is not None else [])
        provenance = make_provenance(inputs, seed=seed, command=command, options=options)
        extra_attrs = {"window": window or 0, "window_convention": WINDOW_CONVENTION,
                       "split_by": "chromosome" if by_chrom else "random",
                       "contig_aliases": contig_aliases or {}}
        _write(out, locator, items, parts, classes, provenance=provenance, extra_attrs=extra_attrs)
    return _summary(out, items, parts, classes, regions_read=regions_read, skips=skips,
                    split_by=extra_attrs["split_by"], negatives=negative_summary)


def _labeller(labels, *, id_column: str, label_column: str) -> Callable[[BedRegion], str | None]:
    if labels is None:
        return lambda region: region.name
    table = read_label_table(labels, id_column=id_column, label_column=label_column)
    return lambda region: (table.rows.get(region_key(region)) or {}).get(label_column)


def _collect(locator: IntervalLocator, bed, *, label_of, strict: bool, progress
             ) -> tuple[list[_Item], SkipCounts, int, list[tuple[str, int, int]]]:
    """Read every region; keep the placeable, labelled ones (their bases are read once, for GC and checks)."""
    items: list[_Item] = []
    skips = SkipCounts()
    seen: set[str] = set()
    exclude: list[tuple[str, int, int]] = []
    read = 0

    def skip(reason: str, region: BedRegion, detail: str) -> None:
        if strict:
            raise InputFormatError(f"{detail} (--strict)")
        skips.add(reason, f"line {region.line}: {region.id}")

    for region in read_bed(bed):
        read += 1
        if progress is not None and read % 1000 == 0:
            progress(1000)
        found = locator.locate(region)
        contig = locator.aliases.get(region.chrom, region.chrom)
        if contig in locator.reference and region.length:
            exclude.append((contig, region.start, min(region.end, locator.reference.lengths[contig])))
        if isinstance(found, str):
            skip(found, region, locator.skip_detail(region, found))
            continue
        label = label_of(region)
        if not label:
            skip("no_label", region, f"{locator.where(region)} has no label (BED name column or --labels row "
                                     f"keyed {region_key(region)!r})")
            continue
        if region.id in seen:
            skip("duplicate_region", region, f"{locator.where(region)} occurs twice in the BED file")
            continue
        seen.add(region.id)
        tokens = locator.tokens(found)
        exclude.append((found.contig, found.start, found.end))
        items.append(_Item(found, label, gc_fraction(tokens), hashlib.blake2b(tokens.tobytes(), digest_size=16).digest()))
    if progress is not None:
        progress(read % 1000)
    if read == 0:
        raise InputFormatError(f"{bed}: no BED region found (only blank, comment or header lines); expected "
                               "tab-separated chrom, start, end lines")
    return items, skips, read, exclude


def _chrom_sets(valid_chroms: Sequence[str], test_chroms: Sequence[str]) -> tuple[set[str], set[str]]:
    valid_set = {name.strip() for name in valid_chroms if name.strip()}
    test_set = {name.strip() for name in test_chroms if name.strip()}
    both = valid_set & test_set
    if both:
        raise ConfigError(f"--valid-chroms and --test-chroms both name {', '.join(sorted(both))}; a chromosome "
                          "belongs to one split")
    return valid_set, test_set


def _check_chroms(named: set[str], items: list[_Item], genome: Reference, locator: IntervalLocator) -> None:
    known = {item.interval.region.chrom for item in items} | {item.interval.contig for item in items}
    unknown = sorted(name for name in named if name not in known and name not in genome
                     and locator.aliases.get(name, name) not in genome)
    if unknown:
        raise ConfigError(f"--valid-chroms/--test-chroms name {', '.join(map(repr, unknown))}, which is neither a "
                          f"contig of {genome.path} nor a chrom of the kept regions")


def _chrom_split(interval: Interval, valid_set: set[str], test_set: set[str]) -> str:
    names = {interval.region.chrom, interval.contig}
    if names & valid_set:
        return "valid"
    if names & test_set:
        return "test"
    return "train"


def _random_splits(items: list[_Item], fractions, *, seed: int) -> list[str]:
    spans = [(item.interval.contig, item.interval.start, item.interval.end) for item in items]
    groups = merge_groups(overlap_groups(spans), [item.digest for item in items])
    parts = split_indices([item.label for item in items], fractions, seed=seed, groups=list(groups))
    split_of = [""] * len(items)
    for name, indices in parts.items():
        for i in indices:
            split_of[i] = name
    return split_of


def _negatives(genome: Reference, items: list[_Item], split_of: list[str], *, per_positive: int, label: str,
               seed: int, tolerance: float, exclude, chrom_sets) -> tuple[list[_Item], list[str], dict]:
    pools, pool_of = None, None
    if chrom_sets is not None:
        valid_set, test_set = chrom_sets
        by_split: dict[str, list[str]] = {name: [] for name in SPLIT_NAMES}
        for contig in genome.lengths:
            probe = Interval(BedRegion(contig, 0, 0), contig, 0, 0)
            by_split[_chrom_split(probe, valid_set, test_set)].append(contig)
        pools = [by_split[name] for name in SPLIT_NAMES]
        pool_of = [SPLIT_NAMES.index(split) for split in split_of]
    if any(item.label == label for item in items):
        logger.info("regions labelled %r already exist; the negatives join that class", label)
    found, sources, stats = sample_gc_matched(
        genome, [item.interval for item in items], [item.gc for item in items], per_positive=per_positive,
        seed=seed, exclude=exclude, tolerance=tolerance, pools=pools, pool_of=pool_of)
    negative_items = []
    locator = IntervalLocator(genome, bed_path="negatives")
    for interval in found:
        tokens = locator.tokens(interval)
        negative_items.append(_Item(interval, label, gc_fraction(tokens),
                                    hashlib.blake2b(tokens.tobytes(), digest_size=16).digest(), source="negative"))
    if stats.not_found:
        logger.warning("%d of %d negatives have no GC-matched candidate (within %g) after %d tries each",
                       stats.not_found, stats.asked, tolerance, TRIES)
    summary = {"asked": stats.asked, "found": stats.found, "not_found": stats.not_found,
               "mean_gc_difference": stats.mean_gc_difference, "gc_tolerance": tolerance}
    return negative_items, [split_of[i] for i in sources], summary


def _warn_empty(parts: dict[str, np.ndarray], fractions) -> None:
    empty = [name for k, name in enumerate(SPLIT_NAMES) if not len(parts[name])
             and (fractions is None and name != "train" or fractions is not None and fractions[k] > 0)]
    if empty:
        warnings.warn(f"split(s) {', '.join(empty)} are empty: too few regions, or overlapping regions form too "
                      "few groups (overlapping regions always share a split); they are not written", stacklevel=3)


def _write(out, locator: IntervalLocator, items: list[_Item], parts: dict[str, np.ndarray], classes: list[str], *,
           provenance: dict, extra_attrs: dict) -> None:
    index = {name: k for k, name in enumerate(classes)}
    with DatasetWriter(out, task="classification", alphabet="dna", vocab=DNA.vocab, classes=classes,
                       provenance=provenance, extra_attrs=extra_attrs) as writer:
        for name in SPLIT_NAMES:
            chosen = [items[i] for i in parts[name]]
            if not chosen:
                continue
            lengths = np.array([item.interval.length for item in chosen], dtype=np.int64)
            stream = writer.stream_split(name, offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))
            block, size = [], 0
            for item in chosen:
                block.append(locator.tokens(item.interval))
                size += block[-1].size
                if size >= WRITE_BLOCK:
                    stream.write(np.concatenate(block))
                    block, size = [], 0
            if block:
                stream.write(np.concatenate(block))
            stream.finish(labels=np.array([index[item.label] for item in chosen], dtype=np.int64),
                          ids=[item.interval.region.id for item in chosen], meta=_meta(chosen))


def _meta(chosen: list[_Item]) -> dict:
    regions = [item.interval.region for item in chosen]
    return {
        "chrom": [region.chrom for region in regions],
        "contig": [item.interval.contig for item in chosen],
        "start": np.array([region.start for region in regions], dtype=np.int64),
        "end": np.array([region.end for region in regions], dtype=np.int64),
        "strand": [region.strand for region in regions],
        "name": [region.name or "" for region in regions],
        "window_start": np.array([item.interval.start for item in chosen], dtype=np.int64),
        "window_end": np.array([item.interval.end for item in chosen], dtype=np.int64),
        "gc": np.array([item.gc for item in chosen], dtype=np.float32),
        "source": [item.source for item in chosen],
        "line": np.array([region.line for region in regions], dtype=np.int64),
    }


def _summary(out, items: list[_Item], parts: dict[str, np.ndarray], classes: list[str], *, regions_read: int,
             skips: SkipCounts, split_by: str, negatives: dict | None) -> dict:
    lengths = np.array([item.interval.length for item in items])
    per_class = {name: {split: 0 for split in SPLIT_NAMES} for name in classes}
    for split, indices in parts.items():
        for i in indices:
            per_class[items[i].label][split] += 1
    gc = {name: float(np.nanmean([item.gc for item in items if item.label == name])) for name in classes}
    return {
        "out": str(out),
        "regions_read": regions_read,
        "kept": sum(item.source == "bed" for item in items),
        "skipped": dict(sorted(skips.counts.items())),
        "first_skipped": dict(sorted(skips.first.items())),
        "classes": per_class,
        "splits": {split: int(len(indices)) for split, indices in parts.items()},
        "split_by": split_by,
        "negatives": negatives,
        "length": {"min": int(lengths.min()), "median": float(np.median(lengths)), "max": int(lengths.max()),
                   "total": int(lengths.sum())},
        "gc": gc,
    }
