"""``genomix build-dataset``: one subcommand per task, each one library call plus a printed summary.

Options every classification builder shares (filters, split, seed, output) come from
:func:`dataset_options`; a new subcommand decorates itself with it and calls its builder.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable

import click

from genomix.cli import command_line
from genomix.cli._errors import user_errors
from genomix.cli._progress import progress_counter
from genomix.cli._summary import skipped_lines
from genomix.datasets.ranks import RANKS
from genomix.datasets.splits import parse_fractions
from genomix.validation import SEED_MAX

_OUT = click.Path(dir_okay=False, writable=True)
SEED = click.IntRange(0, SEED_MAX)  # what numpy and torch accept
_IN = click.Path(exists=True, dir_okay=False, readable=True)


@click.group("build-dataset")
def build_dataset() -> None:
    """Build an HDF5 dataset file from GenBank, FASTA, VCF or text inputs."""


def dataset_options(function: Callable) -> Callable:
    """Add the filter, split, seed and output options shared by classification builders."""
    options = [
        click.option("--out", "-o", type=_OUT, required=True, help="The .h5 dataset file to write."),
        click.option("--classes", help="Comma-separated classes to keep (default: all)."),
        click.option("--min-count", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Drop classes with fewer records."),
        click.option("--min-len", type=click.IntRange(min=0), default=1, show_default=True,
                     help="Drop sequences shorter than this (bp)."),
        click.option("--max-len", type=click.IntRange(min=1), help="Drop sequences longer than this (bp)."),
        click.option("--dedup", is_flag=True, help="Drop repeated identical sequences (first one kept)."),
        click.option("--split", "split_text", default="0.8,0.1,0.1", show_default=True,
                     help="train,valid,test fractions (stratified by class)."),
        click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the split."),
        click.option("--group-by", help="Meta column whose equal values stay in one split."),
        click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON."),
        click.option("--quiet", "-q", is_flag=True, help="No progress bar."),
    ]
    return functools.reduce(lambda f, option: option(f), reversed(options), function)


def common_arguments(*, classes, min_count, min_len, max_len, dedup, split_text, seed, group_by) -> dict:
    """Turn the shared options into builder keyword arguments."""
    from genomix.datasets.builder import Filters

    filters = Filters(classes=[c.strip() for c in classes.split(",") if c.strip()] if classes else None,
                      min_count=min_count, min_len=min_len, max_len=max_len, dedup=dedup)
    return {"filters": filters, "fractions": parse_fractions(split_text), "seed": seed,
            "group_by": group_by, "command": command_line()}


@build_dataset.command("taxonomy")
@click.argument("more_files", nargs=-1, type=_IN, metavar="[MORE_FILES]...")
@click.option("--genbank", "genbank", type=_IN, multiple=True,
              help="GenBank file(s) (plain, .gz, .bgz); several may follow one --genbank (--genbank *.gbk.gz).")
@click.option("--rank", type=click.Choice(RANKS), help="Label by this rank of each record's lineage.")
@click.option("--label-from", help="Label by 'organism' or 'qualifier:NAME' of the source feature.")
@click.option("--fasta", type=_IN, multiple=True,
              help="FASTA file(s) (plain or .gz); several may follow one --fasta. Ids must be unique across files.")
@click.option("--labels", type=_IN, help="TSV table of labels for --fasta.")
@click.option("--id-column", default="id", show_default=True, help="Id column of --labels.")
@click.option("--label-column", default="label", show_default=True, help="Label column of --labels.")
@click.option("--label-regex", help="Regex with a group capturing the label from each FASTA header.")
@dataset_options
@user_errors
def taxonomy(more_files, genbank, rank, label_from, fasta, labels, id_column, label_column, label_regex, out,
             as_json, quiet, **shared) -> None:
    """Label sequences by taxon (GenBank lineage, or FASTA + labels) and write a dataset.

    Files after the options belong to --genbank or --fasta, whichever is given, so a shell glob
    works: --genbank *.gbk.gz.
    """
    from genomix.datasets import taxonomy as builder
    from genomix.errors import ConfigError

    kwargs = common_arguments(**shared)
    if bool(genbank) == bool(fasta):
        raise ConfigError("give either --genbank FILE... or --fasta FILE... (with --labels or --label-regex)")
    genbank, fasta = (list(genbank) + list(more_files), list(fasta)) if genbank else (
        list(genbank), list(fasta) + list(more_files))
    with progress_counter(quiet, unit="bp", desc="reading") as progress:
        if genbank:
            summary = builder.build_taxonomy_from_genbank(genbank, out, rank=rank, label_from=label_from,
                                                          progress=progress, **kwargs)
        else:
            summary = builder.build_taxonomy_from_fasta(fasta, out, labels=labels, id_column=id_column,
                                                        label_column=label_column, label_regex=label_regex,
                                                        progress=progress, **kwargs)
    click.echo(json.dumps(summary, indent=2) if as_json else format_summary(summary))


def format_summary(summary: dict) -> str:
    """The build summary as a few readable lines."""
    lines = [f"records read: {summary['records_read']:,}"]
    lines += skipped_lines(summary["skipped"])
    classes = summary["classes"]
    lines.append(f"kept: {summary['kept']:,} in {len(classes)} classes")
    width = max([len("class"), *(len(name) for name in classes)])
    lines.append(f"  {'class':<{width}}  {'train':>7} {'valid':>7} {'test':>7} {'total':>7}")
    for name, counts in classes.items():
        lines.append(f"  {name:<{width}}  {counts['train']:>7,} {counts['valid']:>7,} {counts['test']:>7,} "
                     f"{sum(counts.values()):>7,}")
    splits = summary["splits"]
    lines.append(f"  {'all':<{width}}  {splits['train']:>7,} {splits['valid']:>7,} {splits['test']:>7,} "
                 f"{summary['kept']:>7,}")
    length = summary["length"]
    lines.append(f"length (bp): min {length['min']:,}, median {length['median']:,.0f}, max {length['max']:,}, "
                 f"total {length['total']:,}")
    if summary.get("labels_without_sequence"):
        lines.append(f"label rows without a sequence: {summary['labels_without_sequence']:,}")
    lines.append(f"wrote {summary['out']}")
    return "\n".join(lines)


# Builders of other task families live in their own modules; they register here.
from genomix.cli.build_tasks import adding, listops, text  # noqa: E402
from genomix.cli.build_variants import variant_effect  # noqa: E402
from genomix.cli.build_intervals import intervals  # noqa: E402

for _command in (adding, listops, text, variant_effect):
    build_dataset.add_command(_command)
build_dataset.add_command(intervals)

from genomix.cli.pretrain import pretrain_dataset  # noqa: E402

build_dataset.add_command(pretrain_dataset)
