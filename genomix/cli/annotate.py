"""``genomix annotate``: class predictions for every record or window of a FASTA file (one library call)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from genomix.cli._cpu import tune_cpu
from genomix.cli._errors import user_errors


class _Bar:
    """A tqdm bar on stderr: bases done (total estimated from the file position), records, bases/s, ETA."""

    def __init__(self, *, disable: bool) -> None:
        self.disable = disable
        self.bar = None

    def __call__(self, state) -> None:
        if self.disable:
            return
        if self.bar is None:  # created at the first batch, so an early error prints one line only
            from tqdm import tqdm

            self.bar = tqdm(unit="bp", unit_scale=True, desc="annotate", file=sys.stderr, dynamic_ncols=True,
                            leave=False)
        if state.fraction:
            self.bar.total = max(int(state.bases / state.fraction), state.bases)
        self.bar.update(state.bases - self.bar.n)
        self.bar.set_postfix(records=f"{state.records:,}", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _setup_logging(*, quiet: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger("genomix")
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING if quiet else logging.INFO)
    root.propagate = False


@click.command(context_settings={"show_default": True})
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("fasta", metavar="[INPUT]", required=False, type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--out", "-o", type=click.Path(dir_okay=False, allow_dash=True),
              help="Per-record table: .tsv (id, length, class, p_<class>...), or .bed for one line per "
                   "window; '-' writes TSV to standard output.")
@click.option("--bed", type=click.Path(dir_okay=False, allow_dash=True),
              help="Per-window predictions as BED6+N (name = class, score = 1000 x probability, one "
                   "column per class); '-' for standard output.")
@click.option("--window", type=click.IntRange(min=1),
              help="Cut every record into windows of this many bases (with --regions: read this many bases "
                   "centred on each region, as build-dataset intervals --window).")
@click.option("--stride", type=click.IntRange(min=1), help="Step between window starts (default: --window).")
@click.option("--rc", is_flag=True, help="Average each prediction with its reverse complement's.")
@click.option("--min-length", type=click.IntRange(min=0), default=1, help="Skip (and count) shorter records.")
@click.option("--max-length", type=click.IntRange(min=0),
              help="Window longer records automatically [default: the model's max_seq_len; 0: never].")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16"]), default="auto", show_default=True)
@click.option("--max-tokens", type=click.IntRange(min=1), default=65536,
              help="Token budget per batch (bases; both strands with --rc).")
@click.option("--on-invalid", type=click.Choice(["error", "skip"]), default="error",
              help="A record with a character the model's alphabet lacks: stop, or skip and count it.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary, only errors.")
@click.option("--regions", type=click.Path(exists=True, dir_okay=False),
              help="Score these regions of --reference (BED3 to BED6) instead of an INPUT FASTA: one BED line "
                   "or TSV row per region.")
@click.option("--reference", type=click.Path(exists=True, dir_okay=False),
              help="Reference FASTA of --regions (plain, bgzip or gzip).")
@click.option("--contig-alias", multiple=True, help="With --regions: BED_NAME=REFERENCE_NAME; repeatable.")
@click.option("--strict", is_flag=True, help="With --regions: fail on a region that would be skipped.")
@user_errors
def annotate(model: Path, fasta: str | None, out: str | None, bed: str | None, window: int | None,
             stride: int | None, rc: bool, min_length: int, max_length: int | None, device: str, precision: str,
             max_tokens: int, on_invalid: str, quiet: bool, regions: str | None, reference: str | None,
             contig_alias: tuple[str, ...], strict: bool) -> None:
    """Predict the class of every record (or window) of INPUT (FASTA, plain or gzip; '-' = stdin) with MODEL.pt.

    Examples:

      genomix annotate best.pt contigs.fasta.gz --out contigs.tsv

      genomix annotate best.pt genome.fna.gz --window 10000 --stride 5000 --bed windows.bed

      zcat reads.fa.gz | genomix annotate best.pt - --out - | sort -k3

      genomix annotate best.pt --reference genome.fa --regions peaks.bed --window 1000 --bed scored.bed
    """
    from genomix.inference.annotate import annotate_fasta

    if out is None and bed is None:
        raise click.UsageError("give --out FILE (or '-') and/or --bed FILE")
    if regions is not None or reference is not None:
        if min_length != 1 or on_invalid != "error":
            raise click.UsageError("--min-length and --on-invalid go with FASTA input; with --regions a zero-length "
                                   "region is skipped and counted, and a reference letter that is not DNA is an error")
        _annotate_regions(model, fasta, regions=regions, reference=reference, out=out, bed=bed, window=window,
                          stride=stride, rc=rc, max_length=max_length, device=device, precision=precision,
                          max_tokens=max_tokens, contig_alias=contig_alias, strict=strict, quiet=quiet)
        return
    if fasta is None:
        raise click.UsageError("give an INPUT FASTA (or '-'), or --regions BED with --reference FASTA")
    if contig_alias or strict:
        raise click.UsageError("--contig-alias and --strict go with --regions")
    _setup_logging(quiet=quiet)
    tune_cpu()
    bar = _Bar(disable=quiet)
    try:
        summary = annotate_fasta(model, fasta, out=out, bed=bed, window=window, stride=stride, rc=rc,
                                 min_length=min_length, max_length=max_length, device=device, precision=precision,
                                 max_tokens=max_tokens, on_invalid=on_invalid, progress=bar)
    finally:
        bar.close()
    if not quiet:
        skipped = "".join([f", skipped {summary.skipped_short:,} shorter than {min_length:,} bp"] * bool(summary.skipped_short)
                          + [f", skipped {summary.skipped_invalid:,} invalid"] * bool(summary.skipped_invalid))
        click.echo(f"annotated {summary.records_written:,} of {summary.records_read:,} records "
                   f"({summary.windows:,} windows, {summary.bases:,} bp) in {summary.seconds:.1f} s, "
                   f"{summary.bases_per_second:,.0f} bp/s{skipped}", err=True)


def _annotate_regions(model, fasta, *, regions, reference, out, bed, window, stride, rc, max_length, device,
                      precision, max_tokens, contig_alias, strict, quiet) -> None:
    """``--regions BED --reference FASTA``: one library call, then the summary line."""
    from genomix.datasets.variant_windows import parse_contig_aliases
    from genomix.inference.regions import annotate_regions

    if regions is None or reference is None:
        raise click.UsageError("--regions and --reference go together: the regions are read from the reference")
    if fasta is not None:
        raise click.UsageError(f"give an INPUT FASTA or --regions with --reference, not both (got INPUT {fasta})")
    if stride is not None:
        raise click.UsageError("--stride cuts FASTA records into windows; with --regions, --window centres one "
                               "window on each region")
    _setup_logging(quiet=quiet)
    tune_cpu()
    bar = _Bar(disable=quiet)
    try:
        summary = annotate_regions(model, reference, regions, out=out, bed=bed, window=window,
                                   contig_aliases=parse_contig_aliases(contig_alias), rc=rc, max_length=max_length,
                                   device=device, precision=precision, max_tokens=max_tokens, strict=strict,
                                   progress=bar)
    finally:
        bar.close()
    if not quiet:
        skipped = f", skipped {summary.skipped.total():,}" if summary.skipped.total() else ""
        click.echo(f"annotated {summary.regions_written:,} of {summary.regions_read:,} regions "
                   f"({summary.bases:,} bp) in {summary.seconds:.1f} s, {summary.bases_per_second:,.0f} bp/s{skipped}",
                   err=True)
