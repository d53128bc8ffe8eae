"""What ``genomix train`` and ``genomix pretrain`` share: the run options, the log and progress bar, and
starting or resuming a run. One place, so that the two commands cannot drift apart."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import click


class _TqdmHandler(logging.Handler):
    """Log lines printed above the progress bar instead of through it."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        tqdm.write(self.format(record), file=sys.stderr)


def setup_logging(*, quiet: bool, verbose: bool) -> None:
    """genomix's log lines on stderr, above the bar, prefixed with the rank under DDP."""
    handler = _TqdmHandler()
    rank = os.environ.get("RANK")
    prefix = f"[rank {rank}] " if rank is not None and os.environ.get("WORLD_SIZE", "1") != "1" else ""
    handler.setFormatter(logging.Formatter(f"{prefix}%(message)s"))
    root = logging.getLogger("genomix")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)
    root.propagate = False


class StepBar:
    """A tqdm bar fed by the trainer's progress callback: loss, tokens/s and ETA."""

    def __init__(self, *, disable: bool) -> None:
        self.disable = disable
        self.bar = None

    def __call__(self, event: dict) -> None:
        if self.disable:
            return
        from tqdm import tqdm

        if event["kind"] != "step":
            return
        if self.bar is None:
            self.bar = tqdm(total=event["total_steps"], initial=event["step"] - 1, unit="step",
                            dynamic_ncols=True, desc="train")
        self.bar.update(event["step"] - self.bar.n)
        self.bar.set_postfix(epoch=event["epoch"] + 1, loss=f"{event['loss']:.4f}",
                             tok_s=f"{event['tokens_per_s']:,.0f}", lr=f"{event['lr']:.2e}", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_options(*own: Callable, config_help: str) -> Callable:
    """The options of a training command: ``DATASET [KEY=VALUE]... --out --config --resume``, then the
    command's ``own`` options, then ``--device --quiet --verbose`` (the order ``--help`` lists them in)."""
    options = [
        click.argument("dataset", type=click.Path(dir_okay=False, path_type=Path)),
        click.argument("overrides", nargs=-1, metavar="[KEY=VALUE]..."),
        click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
                     help="New run folder (checkpoints, metrics.jsonl, config.json)."),
        click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), help=config_help),
        click.option("--resume", "resume_dir", type=click.Path(file_okay=False, path_type=Path),
                     help="Continue the run in this folder from its last.pt, exactly where it stopped."),
        *own,
        click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto"),
        click.option("--quiet", "-q", is_flag=True, help="No progress bar or log lines, only errors."),
        click.option("--verbose", "-v", is_flag=True, help="Debug log lines (each batch's sequence indices)."),
    ]

    def decorate(command: Callable) -> Callable:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def start_run(dataset: Path, overrides: Sequence[str], *, out_dir: Path | None, config_path: Path | None,
              resume_dir: Path | None, device: str, quiet: bool, flags: Sequence[str] = ()) -> None:
    """A new run in ``out_dir`` (config from ``config_path``, then ``overrides``, then the command's
    ``flags``: its options written as KEY=VALUE) or the run in ``resume_dir`` continued; then the summary
    on rank 0 (the test metrics of best.pt when the run scored them)."""
    from genomix.errors import ConfigError
    from genomix.training.config import load_config
    from genomix.training.loop import train as run_training

    if resume_dir is not None:
        if out_dir is not None and Path(out_dir).resolve() != Path(resume_dir).resolve():
            raise click.UsageError("--resume continues a run in its own folder; drop --out or give the same folder")
        if config_path is not None or flags:
            raise ConfigError("--resume continues with the run's own config; options cannot change on resume "
                              "(only max_minutes=... and num_threads=...)")
        out_dir, config = resume_dir, None
    else:
        if out_dir is None:
            raise click.UsageError("give --out RUN_DIR for a new run (or --resume RUN_DIR)")
        config = load_config(config_path, [*overrides, *flags])
    bar = StepBar(disable=quiet)
    try:
        summary = run_training(dataset, out_dir=out_dir, config=config, resume=resume_dir is not None,
                               resume_overrides=overrides if resume_dir is not None else (), progress=bar,
                               device=device)
    finally:
        bar.close()
    if not quiet and os.environ.get("RANK", "0") == "0":
        click.echo(json.dumps({k: v for k, v in summary.items() if k != "test"}, default=str))
        if "test" in summary:
            test = {k: v for k, v in summary["test"].items() if k != "confusion"}
            click.echo("final test (best.pt, once): " + json.dumps(test, default=str))
