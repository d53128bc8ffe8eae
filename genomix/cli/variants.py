"""``genomix score-variants``: score a VCF with a trained ref/alt model; one library call.

The checkpoint is read with :func:`genomix.checkpoint.load_model`; it must hold a
``variant_effect`` model. The window and label kind come from the checkpoint (``window``,
``label_kind``, written by ``genomix train``), else from ``--window`` and the checkpoint's classes
(classes: classification; none: regression). ``--window`` overrides the checkpoint's.
"""

from __future__ import annotations

import shlex

import click

from genomix.cli import command_line
from genomix.cli._cpu import tune_cpu
from genomix.cli._errors import user_errors
from genomix.cli._progress import progress_counter

_IN = click.Path(exists=True, dir_okay=False, readable=True)
_MODEL = click.Path(exists=True, readable=True)  # a .pt, or a folder written by genomix export


@click.command("score-variants")
@click.argument("model_path", metavar="MODEL.pt", type=_MODEL)
@click.option("--reference", required=True, type=_IN, help="Reference FASTA.")
@click.option("--vcf", required=True, type=_IN, help="Input VCF (plain, bgzip or gzip) or BCF.")
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False, writable=True),
              help="Output .vcf, .vcf.gz or .vcf.bgz (compressed: tabix-indexed).")
@click.option("--window", type=click.IntRange(min=1), help="Window (bp); default: the checkpoint's.")
@click.option("--rc", is_flag=True, help="Average each score with the reverse strand's.")
@click.option("--batch-tokens", type=click.IntRange(min=1), default=1 << 18, show_default=True,
              help="Most window tokens per model call.")
@click.option("--contig-alias", multiple=True, help="VCF_NAME=REFERENCE_NAME; repeatable.")
@click.option("--element-field", help="INFO field naming each variant's reference record.")
@click.option("--region", help="Only variants in CHROM[:START-END] (needs an indexed VCF).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="torch device (auto: CUDA when present).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@user_errors
def score_variants(model_path, reference, vcf, out, window, rc, batch_tokens, contig_alias, element_field, region,
                   device, quiet) -> None:
    """Write the VCF with GMX_SCORE and GMX_DIFF per ALT (see docs/variants.md)."""
    from genomix.datasets.variant_windows import parse_contig_aliases
    from genomix.inference.variants import score_vcf, variant_settings
    from genomix.io.vcf import check_output_path
    from genomix.checkpoint import load_model
    from genomix.validation import check_output_not_input, resolve_device

    check_output_path(out)
    check_output_not_input(out, [model_path, reference, vcf])
    tune_cpu()
    aliases = parse_contig_aliases(contig_alias)
    model, info = load_model(model_path, device=resolve_device(device))
    window, label_kind = variant_settings(info, path=model_path, window=window)
    with progress_counter(quiet, unit="records", desc="scoring") as progress:
        summary = score_vcf(model, reference=reference, vcf=vcf, out=out, window=window, label_kind=label_kind,
                            classes=info.get("classes"), target_scale=info.get("target_scale"), rc=rc,
                            batch_tokens=batch_tokens, contig_aliases=aliases, element_field=element_field,
                            region=region, progress=progress, command=shlex.join(command_line()))
    click.echo(f"records: {summary['records']:,}; alleles scored: {summary['alleles_scored']:,}; "
               f"REF mismatches: {summary['ref_mismatch']:,}; outside the reference: "
               f"{summary['outside_reference']:,}; symbolic ALTs: {summary['symbolic_alt']:,}")
    click.echo(f"wrote {summary['out']}")
