"""``genomix build-dataset variant-effect``: one library call plus a printed summary.

Registered into the ``build-dataset`` group by the lead (``build_dataset.add_command(variant_effect)``).
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


@click.command("variant-effect")
@click.option("--reference", required=True, type=_IN, help="Reference FASTA (plain, bgzip or gzip).")
@click.option("--vcf", required=True, type=_IN, help="Variants: VCF (plain, bgzip or gzip) or BCF.")
@click.option("--out", "-o", required=True, type=_OUT, help="The .h5 dataset file to write.")
@click.option("--window", type=click.IntRange(min=1), default=1024, show_default=True,
              help="Reference window (bp), centred on the variant's REF start; clipped at contig ends.")
@click.option("--label", required=True, help="INFO/FIELD holding the label (numeric: regression).")
@click.option("--label-map", help="VALUE=CLASS,... e.g. 'Cfrm*=1,*=0' (glob patterns allowed).")
@click.option("--classes", help="Comma-separated classes, in index order (others skipped).")
@click.option("--group-by", multiple=True,
              help="INFO/FIELD or 'window' (overlapping windows); repeatable. Groups never straddle splits.")
@click.option("--contig-alias", multiple=True, help="VCF_NAME=REFERENCE_NAME, e.g. chrM=NC_012920.1; repeatable.")
@click.option("--element-field", help="INFO field naming each variant's reference record (element "
                                      "references whose headers give CHROM:START-END).")
@click.option("--weight", help="INFO/FIELD holding each variant's measurement weight (e.g. INFO/BARCODES, how "
                               "many barcodes measured it); training weights the variant's loss by it.")
@click.option("--region", help="Only variants in CHROM[:START-END] (needs an indexed VCF).")
@click.option("--strict", is_flag=True, help="Fail on a REF mismatch instead of skipping it.")
@click.option("--split", "split_text", default="0.8,0.1,0.1", show_default=True, help="train,valid,test fractions.")
@click.option("--seed", type=click.IntRange(0, SEED_MAX), default=0, show_default=True, help="Seed of the split.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@user_errors
def variant_effect(reference, vcf, out, window, label, label_map, classes, group_by, contig_alias, element_field,
                   weight, region, strict, split_text, seed, as_json, quiet) -> None:
    """Reference and alternative windows per (variant, ALT) with labels from INFO -> a dataset."""
    from genomix.datasets.splits import parse_fractions
    from genomix.datasets.variant_windows import parse_contig_aliases
    from genomix.datasets.variants import build_variant_dataset

    with progress_counter(quiet, unit="records", desc="reading") as progress:
        summary = build_variant_dataset(
            reference, vcf, out, window=window, label=label, label_map=label_map,
            classes=[c.strip() for c in classes.split(",") if c.strip()] if classes else None,
            group_by=list(group_by), fractions=parse_fractions(split_text), seed=seed, strict=strict,
            contig_aliases=parse_contig_aliases(contig_alias), element_field=element_field, weight=weight,
            region=region, progress=progress, command=command_line())
    click.echo(json.dumps(summary, indent=2) if as_json else format_summary(summary))


def format_summary(summary: dict) -> str:
    """The build summary as a few readable lines."""
    lines = [f"records read: {summary['records_read']:,} ({summary['alleles_read']:,} alleles)"]
    lines += skipped_lines(summary["skipped"], summary["first_skipped"])
    splits = summary["splits"]
    lines.append(f"kept: {summary['kept']:,} ({summary['label_kind']}) in {summary['groups']:,} groups: "
                 + ", ".join(f"{name} {count:,}" for name, count in splits.items()))
    for name, counts in summary.get("classes", {}).items():
        lines.append(f"  {name}: " + ", ".join(f"{split} {count:,}" for split, count in counts.items()))
    length = summary["length"]
    lines.append(f"window length (bp): ref {length['ref_min']:,}..{length['ref_max']:,}, "
                 f"alt {length['alt_min']:,}..{length['alt_max']:,}")
    lines.append(f"wrote {summary['out']}")
    return "\n".join(lines)
