"""The model card (``README.md`` of an exported model): what the model is, what it was trained on, how
well it did beside the k-mer baseline, and how to load it.

Text only: :func:`model_card` turns the facts gathered by :mod:`genomix.export` into Markdown and
says plainly what is unknown (a dataset no longer on disk, a run that was never scored on test)
instead of leaving it out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

METRIC_ORDER = ("accuracy", "balanced_accuracy", "roc_auc", "pr_auc", "f1_macro", "mcc", "mse", "rmse", "mae",
                "r2", "pearson", "spearman", "reg_acc")


@dataclass
class CardFacts:
    """What a model card says (gathered from the checkpoint, its run folder and its dataset).

    Attributes:
        name: the exported folder's name.
        info: the checkpoint's info keys (``task``, ``alphabet``, ``classes``, ``model_kwargs``, ...).
        parameters: number of parameters.
        checkpoint: the exported checkpoint's path, and its ``step``.
        dataset: the dataset path recorded by the run (``None``: unknown).
        provenance: the dataset's provenance attribute (``None``: the dataset could not be read).
        splits: sequences per split of the dataset.
        dataset_note: why the dataset facts are missing, if they are.
        valid: validation metrics of the checkpoint (at its step).
        test: test metrics and the file they came from.
        baseline: the k-mer baseline's test metrics, its file and its model (``None``: none found).
        sha256: the weights file's digest.
    """

    name: str
    info: dict[str, Any]
    parameters: int
    checkpoint: str
    step: int | None = None
    dataset: str | None = None
    provenance: dict[str, Any] | None = None
    splits: dict[str, int] = field(default_factory=dict)
    dataset_note: str | None = None
    valid: dict[str, Any] | None = None
    test: dict[str, Any] | None = None
    test_source: str | None = None
    baseline: dict[str, Any] | None = None
    baseline_source: str | None = None
    baseline_model: str | None = None
    sha256: str = ""


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "n/a" if value is None else str(value)


def metrics_table(model: dict[str, Any], baseline: dict[str, Any] | None) -> list[str]:
    """Markdown rows: one metric a line, the model beside the baseline (scalar metrics only)."""
    keys = [k for k in METRIC_ORDER if k in model] + sorted(
        k for k, v in model.items() if k not in METRIC_ORDER and k != "n" and isinstance(v, (int, float)))
    header = ["| metric | ChordMixer | k-mer baseline |", "|---|---|---|"] if baseline is not None else \
        ["| metric | ChordMixer |", "|---|---|"]
    rows = []
    for key in keys:
        cells = [key, _value(model.get(key))] + ([_value(baseline.get(key))] if baseline is not None else [])
        rows.append("| " + " | ".join(cells) + " |")
    return header + rows


def _data_section(facts: CardFacts) -> list[str]:
    lines = ["## Data", ""]
    if facts.dataset is None:
        return lines + ["The run folder records no dataset; where the training data came from is unknown.", ""]
    lines.append(f"Trained on `{facts.dataset}`" + (
        ": " + ", ".join(f"{name} {count:,} sequences" for name, count in facts.splits.items()) + "."
        if facts.splits else "."))
    if facts.provenance is None:
        return lines + ["", facts.dataset_note or "The dataset could not be read; its provenance is unknown.", ""]
    provenance = facts.provenance
    lines += ["", "Provenance recorded in the dataset file:", ""]
    if provenance.get("command"):
        lines.append(f"- command: `{provenance['command']}`")
    for entry in provenance.get("inputs") or []:
        if isinstance(entry, dict):
            size = f"{entry['size']:,} bytes, " if isinstance(entry.get("size"), int) else ""
            lines.append(f"- input `{entry.get('path')}`: {size}sha256 `{entry.get('sha256', '?')}`")
    for key in ("seed", "genomix_version", "time"):
        if provenance.get(key) is not None:
            lines.append(f"- {key.replace('_', ' ')}: {provenance[key]}")
    others = {k: v for k, v in provenance.items() if k not in ("command", "inputs", "seed", "genomix_version", "time")}
    if others:
        lines.append(f"- also recorded: `{json.dumps(others, default=str)[:500]}`")
    return lines + [""]


def _metrics_section(facts: CardFacts) -> list[str]:
    lines = ["## Results", ""]
    if facts.test is None:
        lines += ["No test metrics were found beside the checkpoint (`test_metrics.json`, written by "
                  "`genomix train final_test=true`, or `evaluation_test.json`, by `genomix evaluate`)."]
    else:
        baseline_note = (f", the k-mer baseline ({facts.baseline_model}, `{facts.baseline_source}`) beside it"
                         if facts.baseline is not None else "; no k-mer baseline report was found "
                         "(`genomix baseline kmer DATASET --out RUN/../baseline_kmer4.json`)")
        lines += [f"On the test split (`{facts.test_source}`, {facts.test.get('n', '?')} sequences){baseline_note}:",
                  "", *metrics_table(facts.test, facts.baseline)]
    if facts.valid:
        lines += ["", f"Validation metrics of this checkpoint (step {_value(facts.step)}, the one kept as best): "
                  + ", ".join(f"{k} {_value(v)}" for k, v in facts.valid.items() if k != "n"
                              and isinstance(v, (int, float)))]
    return lines + [""]


def _usage_section(facts: CardFacts) -> list[str]:
    name = facts.name
    task, architecture = facts.info.get("task"), facts.info["model_kwargs"].get("architecture", "chordmixer")
    model_class = "RefAltModel" if architecture == "ref_alt" else "ChordMixer"
    module = "genomix.models.variant" if architecture == "ref_alt" else "genomix.models"
    lines = ["## How to load", "", "```python", "import genomix", "", f'model = genomix.load("{name}")']
    if task == "classification":
        lines += ['table = model.predict("sequences.fasta")        # one row per record: id, length, class, p_<class>']
    elif task == "variant_effect":
        lines += ['scores = model.score_variants("variants.vcf", reference="genome.fa")']
    lines += ["```", "", "With genomix's model code only (no training or inference code is imported):", "",
              "```python", f"from {module} import {model_class}", "",
              f'net = {model_class}.from_pretrained("{name}")   # torch.nn.Module, eval mode', "```", "",
              "From the command line, the folder goes wherever a checkpoint does:", "", "```"]
    if task == "classification":
        lines.append(f"genomix annotate {name} sequences.fasta --out predictions.tsv")
    elif task == "variant_effect":
        lines.append(f"genomix score-variants {name} --reference genome.fa --vcf in.vcf --out scored.vcf.gz")
    lines += [f"genomix evaluate {name} DATASET.h5 --split test", "```", "",
              "No network access is needed or attempted. `config.json` holds the model's options, alphabet, "
              "classes and the SHA-256 of `model.safetensors`, checked before the weights are read.", ""]
    return lines


def model_card(facts: CardFacts) -> str:
    """The card as Markdown (see the module docstring)."""
    info = facts.info
    kwargs = info["model_kwargs"]
    classes = info.get("classes") or []
    title = f"# {facts.name}: ChordMixer {info.get('task')} model"
    summary = [
        "| | |", "|---|---|",
        f"| task | {info.get('task')}" + (f" ({info.get('label_kind')})" if info.get("label_kind") else "") + " |",
        f"| classes | {', '.join(classes) if classes else 'none (regression)'} |",
        f"| alphabet | {info.get('alphabet')} |",
        f"| architecture | {kwargs.get('architecture', 'chordmixer')}, {facts.parameters:,} parameters |",
        f"| longest sequence it is built for | {_value(kwargs.get('max_seq_len'))} bases |",
    ]
    if info.get("window"):
        summary.append(f"| variant window | {info['window']} bp |")
    summary += [f"| from | `{facts.checkpoint}` (step {_value(facts.step)}) |",
                f"| weights | `model.safetensors`, sha256 `{facts.sha256}` |"]
    options = ", ".join(f"{k}={v}" for k, v in kwargs.items() if k != "architecture")
    lines = [title, "", "A ChordMixer network (Khalitov et al., ICLR 2023) trained with genomix, exported by "
             "`genomix export`.", "", *summary, "", f"Model options: `{options}`.", "",
             *_data_section(facts), *_metrics_section(facts), *_usage_section(facts)]
    return "\n".join(lines).rstrip() + "\n"


__all__ = ["CardFacts", "model_card", "metrics_table"]
