"""``genomix build-dataset adding | listops | text``: the generic tasks beside DNA.

Each command body is one library call plus a printed summary. The commands are plain click commands,
registered into the ``build-dataset`` group by :mod:`genomix.cli.build_dataset`
(``build_dataset.add_command(...)``); this module imports nothing from it, so either may be imported
first.
"""

from __future__ import annotations

import json

import click

from genomix.cli import command_line
from genomix.cli._errors import user_errors
from genomix.cli._progress import progress_counter
from genomix.validation import SEED_MAX

_OUT = click.Path(dir_okay=False, writable=True)
_IN = click.Path(exists=True, dir_okay=False, readable=True)
_SEED = click.IntRange(0, SEED_MAX)
_COUNT = click.IntRange(min=0)


def _command_line() -> list[str]:
    return command_line()




def _echo(summary: dict, as_json: bool, lines: list[str]) -> None:
    click.echo(json.dumps(summary, indent=2) if as_json else "\n".join(lines))


@click.command("adding")
@click.option("--base-length", type=click.IntRange(min=1), default=200, show_default=True,
              help="Length scale: lengths are int(base * LogNormal(0.5, 0.7)).")
@click.option("--max-length", type=click.IntRange(min=1),
              help="Longest sequence (default: the published maximum for the base: 6,700 for 200, 31,800 for "
                   "1,000, 242,400 for 16,000, 1,500,000 for 128,000).")
@click.option("--n-train", type=click.IntRange(min=1), default=50_000, show_default=True, help="Training sequences.")
@click.option("--n-valid", type=_COUNT, default=5_000, show_default=True, help="Validation sequences.")
@click.option("--n-test", type=_COUNT, default=5_000, show_default=True, help="Test sequences.")
@click.option("--seed", type=_SEED, default=0, show_default=True, help="Random seed.")
@click.option("--out", "-o", type=_OUT, required=True, help="The .h5 dataset file to write.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@user_errors
def adding(base_length, max_length, n_train, n_valid, n_test, seed, out, as_json, quiet) -> None:
    """Generate the adding problem (2 real channels, regression, metric reg_acc)."""
    from genomix.datasets.adding import build_adding

    with progress_counter(quiet, unit="pos", desc="generating") as progress:
        summary = build_adding(out, base_length=base_length, n_train=n_train, n_valid=n_valid, n_test=n_test,
                               max_length=max_length, seed=seed, progress=progress, command=_command_line())
    lines = [f"adding problem, base length {summary['base_length']:,}, max length {summary['max_length']:,}"]
    for name, split in summary["splits"].items():
        length = split["length"]
        lines.append(f"  {name}: {split['sequences']:,} sequences, {split['positions']:,} positions, length "
                     f"min {length['min']:,} / median {length['median']:,.0f} / max {length['max']:,}")
    lines.append(f"wrote {summary['out']} ({summary['file_bytes']:,} bytes, "
                 f"{summary['bytes_per_position']:.2f} bytes per position)")
    _echo(summary, as_json, lines)


@click.command("listops")
@click.option("--n-train", type=click.IntRange(min=1), default=96_000, show_default=True, help="Training expressions.")
@click.option("--n-valid", type=_COUNT, default=2_000, show_default=True, help="Validation expressions.")
@click.option("--n-test", type=_COUNT, default=2_000, show_default=True, help="Test expressions.")
@click.option("--min-length", type=click.IntRange(min=1), default=500, show_default=True,
              help="Fewest tokens of an expression.")
@click.option("--max-length", type=click.IntRange(min=1), default=2_000, show_default=True,
              help="Most tokens of an expression.")
@click.option("--max-depth", type=click.IntRange(min=2), default=10, show_default=True, help="Deepest nesting.")
@click.option("--max-args", type=click.IntRange(min=2), default=10, show_default=True,
              help="Most arguments of one operator.")
@click.option("--seed", type=_SEED, default=0, show_default=True, help="Random seed.")
@click.option("--out", "-o", type=_OUT, required=True, help="The .h5 dataset file to write.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@user_errors
def listops(n_train, n_valid, n_test, min_length, max_length, max_depth, max_args, seed, out, as_json,
            quiet) -> None:
    """Generate Long Range Arena ListOps (10 classes; one byte per token)."""
    from genomix.datasets.listops import build_listops

    with progress_counter(quiet, unit="expr", desc="generating") as progress:
        summary = build_listops(out, n_train=n_train, n_valid=n_valid, n_test=n_test, min_length=min_length,
                                max_length=max_length, max_depth=max_depth, max_args=max_args, seed=seed,
                                progress=progress, command=_command_line())
    lines = ["ListOps"]
    for name, split in summary["splits"].items():
        length = split["length"]
        lines.append(f"  {name}: {split['sequences']:,} expressions, {split['tokens']:,} tokens, length "
                     f"min {length['min']:,} / median {length['median']:,.0f} / max {length['max']:,}")
    lines.append(f"wrote {summary['out']}")
    _echo(summary, as_json, lines)


@click.command("text")
@click.option("--tsv", type=_IN, help="A TSV file with a header line (plain or .gz).")
@click.option("--jsonl", type=_IN, help="A JSON Lines file, one object per document (plain or .gz).")
@click.option("--text-column", default="text", show_default=True, help="Column (key) holding the document.")
@click.option("--label-column", default="label", show_default=True, help="Column (key) holding the class.")
@click.option("--id-column", help="Column (key) holding a record id (default: line<N>).")
@click.option("--classes", help="Comma-separated classes to keep (default: all).")
@click.option("--min-count", type=click.IntRange(min=1), default=1, show_default=True,
              help="Drop classes with fewer documents.")
@click.option("--min-len", type=click.IntRange(min=0), default=1, show_default=True,
              help="Drop documents shorter than this (bytes).")
@click.option("--max-len", type=click.IntRange(min=1), help="Drop documents longer than this (bytes).")
@click.option("--dedup", is_flag=True, help="Drop repeated identical documents (first one kept).")
@click.option("--split", "split_text", default="0.8,0.1,0.1", show_default=True,
              help="train,valid,test fractions (stratified by class).")
@click.option("--seed", type=_SEED, default=0, show_default=True, help="Seed of the split.")
@click.option("--group-by", help="Column whose equal values stay in one split.")
@click.option("--out", "-o", type=_OUT, required=True, help="The .h5 dataset file to write.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@user_errors
def text(tsv, jsonl, text_column, label_column, id_column, classes, min_count, min_len, max_len, dedup,
         split_text, seed, group_by, out, as_json, quiet) -> None:
    """Byte-level text classification (UTF-8 bytes as tokens) from a TSV or JSON Lines file."""
    from genomix.datasets.builder import Filters
    from genomix.datasets.splits import parse_fractions
    from genomix.datasets.text import build_text
    from genomix.errors import ConfigError

    if bool(tsv) == bool(jsonl):
        raise ConfigError("give exactly one of --tsv FILE and --jsonl FILE")
    filters = Filters(classes=[c.strip() for c in classes.split(",") if c.strip()] if classes else None,
                      min_count=min_count, min_len=min_len, max_len=max_len, dedup=dedup)
    with progress_counter(quiet, unit="B", desc="reading") as progress:
        summary = build_text(tsv or jsonl, out, file_format="tsv" if tsv else "jsonl", text_column=text_column,
                             label_column=label_column, id_column=id_column, filters=filters,
                             fractions=parse_fractions(split_text), seed=seed, group_by=group_by,
                             progress=progress, command=_command_line())
    _echo(summary, as_json, _text_lines(summary))


def _text_lines(summary: dict) -> list[str]:
    lines = [f"documents read: {summary['records_read']:,}, kept: {summary['kept']:,}"]
    lines += [f"  skipped, {reason}: {count:,}" for reason, count in summary["skipped"].items()]
    classes = summary["classes"]
    width = max([len("class"), *(len(name) for name in classes)])
    lines.append(f"  {'class':<{width}}  {'train':>7} {'valid':>7} {'test':>7}")
    for name, counts in classes.items():
        lines.append(f"  {name:<{width}}  {counts['train']:>7,} {counts['valid']:>7,} {counts['test']:>7,}")
    length = summary["length"]
    lines.append(f"length (bytes): min {length['min']:,}, median {length['median']:,.0f}, max {length['max']:,}, "
                 f"total {length['total']:,}")
    lines.append(f"wrote {summary['out']}")
    return lines
