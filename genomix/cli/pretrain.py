"""``genomix build-dataset pretrain`` and ``genomix pretrain``: thin commands over masked-nucleotide pretraining.

``genomix pretrain`` is ``genomix train`` on a ``masked_lm`` dataset (the same trainer, options, resume,
progress and ``metrics.jsonl``); it refuses a labelled dataset, which ``genomix train`` is for.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from genomix.cli import command_line
from genomix.cli._cpu import tune_cpu
from genomix.cli._errors import user_errors
from genomix.cli._run import run_options, setup_logging, start_run
from genomix.cli._progress import progress_counter
from genomix.validation import SEED_MAX

_IN = click.Path(exists=True, dir_okay=False, readable=True)


@click.command("pretrain")
@click.argument("files", nargs=-1, type=_IN, metavar="[FILES]...")
@click.option("--fasta", type=_IN, multiple=True, help="FASTA file(s) (plain, .gz, .bgz).")
@click.option("--genbank", type=_IN, multiple=True, help="GenBank file(s) (plain, .gz, .bgz).")
@click.option("--window", type=click.IntRange(min=0), default=0, show_default=True,
              help="Cut records into non-overlapping windows of this many bp (0: whole records).")
@click.option("--min-len", type=click.IntRange(min=1), default=1, show_default=True,
              help="Drop records, and last windows, shorter than this (bp).")
@click.option("--split", "split_text", default="0.9,0.05,0.05", show_default=True,
              help="train,valid,test fractions of the bases, split by record (each record whole in one split) "
                   "within each input file (files of one record together).")
@click.option("--seed", type=click.IntRange(0, SEED_MAX), default=0, show_default=True, help="Seed of the split.")
@click.option("--out", "-o", type=click.Path(dir_okay=False, writable=True), required=True,
              help="The .h5 dataset file to write.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@user_errors
def pretrain_dataset(files, fasta, genbank, window, min_len, split_text, seed, out, as_json, quiet) -> None:
    """Unlabelled DNA (FASTA and GenBank files, any mix) -> a masked_lm dataset for genomix pretrain."""
    from genomix.datasets.pretrain import build_pretraining_dataset, format_pretraining_summary
    from genomix.datasets.splits import parse_fractions

    paths = [*fasta, *genbank, *files]
    fractions = parse_fractions(split_text)  # a bad option fails before any input is read
    with progress_counter(quiet, unit="bp", desc="reading") as progress:
        summary = build_pretraining_dataset(paths, out, window=window, min_len=min_len,
                                            fractions=fractions, seed=seed, progress=progress,
                                            command=command_line())
    click.echo(json.dumps(summary, indent=2) if as_json else format_pretraining_summary(summary))


@click.command(context_settings={"show_default": True})
@run_options(config_help="TOML config; KEY=VALUE arguments override it.")
@user_errors
def pretrain(dataset: Path, overrides: tuple[str, ...], out_dir: Path | None, config_path: Path | None,
             resume_dir: Path | None, device: str, quiet: bool, verbose: bool) -> None:
    """Masked-nucleotide pretraining on DATASET.h5 (from build-dataset pretrain); KEY=VALUE as for train
    (mask_fraction=0.15 mask_random=0.1 mask_keep=0.1, epochs, lr, model.*, max_minutes, ...).

    The run's best.pt is what `genomix train DATA.h5 --init RUN/best.pt` fine-tunes from.
    """
    from genomix.datasets.store import open_dataset
    from genomix.errors import DatasetFormatError

    setup_logging(quiet=quiet, verbose=verbose)
    task = open_dataset(dataset).task
    if task != "masked_lm":
        raise DatasetFormatError(f"{dataset} is a {task} dataset; genomix pretrain needs a masked_lm dataset "
                                 "(genomix build-dataset pretrain), genomix train trains labelled ones")
    tune_cpu()
    start_run(dataset, overrides, out_dir=out_dir, config_path=config_path, resume_dir=resume_dir, device=device,
              quiet=quiet)
