"""``genomix train``, ``genomix evaluate`` and ``genomix baseline kmer``: thin commands over genomix.training."""

from __future__ import annotations

import json
from pathlib import Path

import click

from genomix.cli._cpu import tune_cpu
from genomix.cli._errors import user_errors
from genomix.cli._run import run_options, setup_logging, start_run


@click.command(context_settings={"show_default": True})
@run_options(
    click.option("--precision", type=click.Choice(["auto", "fp32", "bf16"]), help="Same as precision=..."),
    click.option("--max-tokens", type=int, help="Same as max_tokens=... (token budget per batch)."),
    click.option("--grad-checkpointing", is_flag=True, default=None, help="Same as grad_checkpointing=true."),
    click.option("--init", "init_path", type=click.Path(dir_okay=False, path_type=Path),
                 help="Fine-tune from this pretrained checkpoint (genomix pretrain's best.pt): backbone loaded, "
                      "decoder new. Same as init=PATH; see freeze_backbone_steps=N and backbone_lr_scale=X."),
    config_help="TOML config (e.g. pipelines/insects_orders.toml); KEY=VALUE arguments override it.")
@user_errors
def train(dataset: Path, overrides: tuple[str, ...], out_dir: Path | None, config_path: Path | None,
          resume_dir: Path | None, precision: str | None, max_tokens: int | None,
          grad_checkpointing: bool | None, init_path: Path | None, device: str, quiet: bool, verbose: bool) -> None:
    """Train ChordMixer on DATASET.h5; KEY=VALUE pairs override the config (e.g. lr=1e-3 model.track_size=8).

    Launch with `torchrun --nproc_per_node N` for DDP (NCCL on GPUs, gloo on CPUs).
    """
    setup_logging(quiet=quiet, verbose=verbose)
    tune_cpu()
    flags = [f"precision={precision}"] * bool(precision) + [f"max_tokens={max_tokens}"] * bool(max_tokens)
    if grad_checkpointing:
        flags.append("grad_checkpointing=true")
    if init_path is not None:
        flags.append(f"init={json.dumps(str(init_path))}")
    start_run(dataset, overrides, out_dir=out_dir, config_path=config_path, resume_dir=resume_dir, device=device,
              quiet=quiet, flags=flags)


@click.command(context_settings={"show_default": True})
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.argument("dataset", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--split", default="test", help="Which split to score.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where evaluation_SPLIT.json and the plots go (default: the checkpoint's folder).")
@click.option("--max-tokens", type=int, default=65536, help="Token budget per batch.")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16"]), default="auto", show_default=True)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto")
@click.option("--no-plots", is_flag=True, help="Only evaluation_SPLIT.json.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@user_errors
def evaluate(checkpoint: Path, dataset: Path, split: str, out_dir: Path | None, max_tokens: int,
             precision: str, device: str, no_plots: bool, quiet: bool) -> None:
    """Score CHECKPOINT on a split of DATASET.h5: evaluation_SPLIT.json, ROC/PR, confusion and length plots."""
    from tqdm import tqdm

    from genomix.training.evaluate import evaluate_checkpoint

    setup_logging(quiet=True, verbose=False)
    tune_cpu()
    with tqdm(unit="seq", desc=f"evaluate {split}", disable=quiet, dynamic_ncols=True) as bar:
        report = evaluate_checkpoint(checkpoint, dataset, split=split, out_dir=out_dir, max_tokens=max_tokens,
                                     precision=precision, plots=not no_plots, device=device, progress=bar.update)
    click.echo(json.dumps({k: v for k, v in report["metrics"].items() if k != "confusion"}, default=str))


@click.group()
def baseline() -> None:
    """Cheap reference models, scored with the same metrics on the same splits."""


@baseline.command("kmer", context_settings={"show_default": True})
@click.argument("dataset", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-k", "k", type=click.IntRange(1, 8), default=4, help="k-mer size.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the full report (valid, test, test by length) as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="Only the result line.")
@user_errors
def kmer(dataset: Path, k: int, out: Path | None, quiet: bool) -> None:
    """k-mer frequency profiles + logistic regression (ridge for regression), C chosen on valid."""
    from genomix.training.baseline import kmer_baseline

    setup_logging(quiet=quiet, verbose=False)
    report = kmer_baseline(dataset, k=k, out=out)
    shown = {"k": k, "model": report["model"], "C": report["C"]}
    for split in ("valid", "test"):
        if split in report:
            shown[split] = {key: v for key, v in report[split].items() if key != "confusion"}
    click.echo(json.dumps(shown, default=str))
