"""``genomix export``: a checkpoint as a model folder (config.json, model.safetensors, README.md); one library call."""

from __future__ import annotations

from pathlib import Path

import click

from genomix.cli._errors import user_errors


@click.command("export", context_settings={"show_default": True})
@click.argument("checkpoint", metavar="RUN/best.pt", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(path_type=Path),
              help="Folder to create (it must not exist, or be empty, unless --force).")
@click.option("--force", is_flag=True, help="Replace the content of a non-empty --out folder.")
@click.option("--dataset", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The training dataset, for the model card [default: the one RUN/config.json records].")
@click.option("--baseline", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A 'genomix baseline kmer --out' report [default: baseline_kmer*.json beside the run].")
@click.option("--quiet", "-q", is_flag=True, help="No summary line.")
@user_errors
def export(checkpoint: Path, out: Path, force: bool, dataset: Path | None, baseline: Path | None, quiet: bool) -> None:
    """Write CHECKPOINT as a Hugging Face-style folder that annotate, evaluate, score-variants,
    genomix.load and ChordMixer.from_pretrained read.

    Example:

      genomix export runs/primates/run/best.pt --out models/primates
    """
    from genomix.export import export_checkpoint

    summary = export_checkpoint(checkpoint, out, force=force, dataset=dataset, baseline=baseline)
    if not quiet:
        found = ", ".join(f"{what}: {summary[key] or 'not found'}" for what, key in
                          (("test metrics", "test"), ("k-mer baseline", "baseline"), ("dataset provenance", "dataset")))
        click.echo(f"wrote {summary['out']} ({summary['parameters']:,} parameters, weights sha256 "
                   f"{summary['sha256'][:16]}...); model card: {found}", err=True)
