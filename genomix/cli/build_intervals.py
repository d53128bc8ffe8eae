"""``genomix build-dataset intervals``: one library call plus a printed summary.

Registered into the ``build-dataset`` group (``build_dataset.add_command(intervals)``).
"""

from __future__ import annotations

import json

import click

from genomix.cli import command_line
from genomix.cli._errors import user_errors
from genomix.cli._progress import progress_counter
from genomix.cli._summary import skipped_lines
from genomix.validation import SEED_MAX

_IN = click.Path(exists=True, dir_okay=False, readable=True)
_OUT = click.Path(dir_okay=False, writable=True)


def _names(text: str | None) -> list[str]:
    return [name.strip() for name in (text or "").split(",") if name.strip()]


@click.command("intervals")
@click.option("--reference", required=True, type=_IN, help="Reference FASTA (plain, bgzip or gzip).")
@click.option("--bed", required=True, type=_IN, help="Regions: BED3 to BED6 (plain, gzip or bgzip).")
@click.option("--out", "-o", required=True, type=_OUT, help="The .h5 dataset file to write.")
@click.option("--window", type=click.IntRange(min=1),
              help="Read this many bases centred on each region (default: each region as it is).")
@click.option("--labels", type=_IN, help="TSV of labels keyed by region name (default: the BED name column).")
@click.option("--id-column", default="name", show_default=True,
              help="Column of --labels holding the region's BED name (chrom:start-end for unnamed regions).")
@click.option("--label-column", default="label", show_default=True, help="Column of --labels holding the label.")
@click.option("--contig-alias", multiple=True, help="BED_NAME=REFERENCE_NAME, e.g. chrM=NC_012920.1; repeatable.")
@click.option("--strict", is_flag=True,
              help="Fail on the first region that is skipped (zero length, past a contig end, unknown contig, "
                   "no label, listed twice) instead of counting it.")
@click.option("--valid-chroms", help="Comma-separated chromosomes of the valid split (split by chromosome).")
@click.option("--test-chroms", help="Comma-separated chromosomes of the test split (split by chromosome).")
@click.option("--split", "split_text",
              help="train,valid,test fractions of a random split stratified by label [default: 0.8,0.1,0.1]; "
                   "not with --valid-chroms/--test-chroms.")
@click.option("--negatives", type=click.IntRange(min=0), default=0, show_default=True,
              help="GC-matched random regions per region, of its length, disjoint from every region.")
@click.option("--negative-label", default="negative", show_default=True, help="The class of the negatives.")
@click.option("--gc-tolerance", type=click.FloatRange(0, 1), default=0.02, show_default=True,
              help="Largest GC-fraction difference between a region and its negative.")
@click.option("--seed", type=click.IntRange(0, SEED_MAX), default=0, show_default=True,
              help="Seed of the split and of the negatives.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@user_errors
def intervals(reference, bed, out, window, labels, id_column, label_column, contig_alias, strict, valid_chroms,
              test_chroms, split_text, negatives, negative_label, gc_tolerance, seed, as_json, quiet) -> None:
    """Regions of a reference genome (BED) with labels -> a classification dataset.

    Example: genomix build-dataset intervals --reference genome.fa.gz --bed peaks.bed --window 1000
    --negatives 1 --test-chroms chr8 --valid-chroms chr9 --out peaks.h5
    """
    from genomix.datasets.intervals import build_interval_dataset
    from genomix.datasets.splits import parse_fractions
    from genomix.datasets.variant_windows import parse_contig_aliases
    from genomix.errors import ConfigError

    valid, test = _names(valid_chroms), _names(test_chroms)
    if split_text is not None and (valid or test):
        raise ConfigError("give --split (random split) or --valid-chroms/--test-chroms (split by chromosome), "
                          "not both")
    with progress_counter(quiet, unit="regions", desc="reading") as progress:
        summary = build_interval_dataset(
            reference, bed, out, window=window, labels=labels, id_column=id_column, label_column=label_column,
            contig_aliases=parse_contig_aliases(contig_alias), strict=strict, valid_chroms=valid, test_chroms=test,
            fractions=parse_fractions(split_text or "0.8,0.1,0.1"), seed=seed, negatives=negatives,
            negative_label=negative_label, gc_tolerance=gc_tolerance,
            progress=progress, command=command_line())
    click.echo(json.dumps(summary, indent=2) if as_json else format_summary(summary))


def format_summary(summary: dict) -> str:
    """The build summary as a few readable lines."""
    lines = [f"regions read: {summary['regions_read']:,}"]
    lines += skipped_lines(summary["skipped"], summary["first_skipped"])
    negatives = summary["negatives"]
    if negatives is not None:
        lines.append(f"negatives: {negatives['found']:,} of {negatives['asked']:,} found (mean |GC difference| "
                     f"{negatives['mean_gc_difference']:.4f}, tolerance {negatives['gc_tolerance']:g})")
    splits = summary["splits"]
    lines.append(f"kept: {summary['kept']:,} regions, split by {summary['split_by']}: "
                 + ", ".join(f"{name} {count:,}" for name, count in splits.items()))
    for name, counts in summary["classes"].items():
        lines.append(f"  {name}: " + ", ".join(f"{split} {count:,}" for split, count in counts.items())
                     + f" (GC {summary['gc'][name]:.3f})")
    length = summary["length"]
    lines.append(f"length (bp): min {length['min']:,}, median {length['median']:,.0f}, max {length['max']:,}, "
                 f"total {length['total']:,}")
    lines.append(f"wrote {summary['out']}")
    return "\n".join(lines)
