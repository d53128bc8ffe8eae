"""``genomix inspect FILE.h5``: the summary of a dataset file."""

from __future__ import annotations

import json

import click

from genomix.cli._errors import user_errors


@click.command("inspect")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@user_errors
def inspect_cmd(path: str, as_json: bool) -> None:
    """Show a dataset's splits, classes, length percentiles and provenance."""
    from genomix.datasets.summary import summarize_dataset

    summary = summarize_dataset(path)
    click.echo(json.dumps(summary, indent=2) if as_json else format_inspection(summary))


def format_inspection(summary: dict) -> str:
    """The dataset summary as readable lines."""
    lines = [f"{summary['path']}: genomix dataset v{summary['version']}, task {summary['task']}, "
             f"alphabet {summary['alphabet']} ({summary['vocab_size']} tokens incl. padding)"]
    classes = summary["classes"]
    if classes:
        lines.append(f"classes ({len(classes)}): {', '.join(classes)}")
    for name, split in summary["splits"].items():
        lines.append(f"{name}: {split['sequences']:,} sequences, {split['bases']:,} bp")
        if split["length_percentiles"]:
            lines.append("  length percentiles: " + ", ".join(
                f"p{p} {v:,.0f}" for p, v in split["length_percentiles"].items()))
        if "class_counts" in split:
            lines.append("  per class: " + ", ".join(f"{c} {n:,}" for c, n in split["class_counts"].items()))
        if "label_stats" in split:
            lines.append("  labels: " + ", ".join(f"{k} {v:.4g}" for k, v in split["label_stats"].items()))
        if split["meta_columns"]:
            lines.append(f"  meta: {', '.join(split['meta_columns'])}")
        if split["extra"]:
            lines.append(f"  extra arrays: {', '.join(split['extra'])}")
    provenance = summary["provenance"]
    lines.append(f"made by genomix {provenance.get('genomix_version', '?')} at {provenance.get('time', '?')}, "
                 f"seed {provenance.get('seed')}")
    if provenance.get("command"):
        lines.append(f"  command: {provenance['command']}")
    for source in provenance.get("inputs", []):
        lines.append(f"  input: {source['path']} ({source['size']:,} bytes, sha256 {source['sha256'][:16]}...)")
    return "\n".join(lines)
