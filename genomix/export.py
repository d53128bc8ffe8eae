"""Export a trained checkpoint as a model folder: ``config.json``, ``model.safetensors``, ``README.md``.

The folder (format: :mod:`genomix.pretrained`) holds what a ``.pt`` holds for inference (options,
alphabet, classes, task, every parameter and buffer) as JSON and safetensors, and a model card
(:mod:`genomix.model_card`) written from what the run folder records: the dataset and its provenance
(``RUN/config.json`` names the dataset; its file holds the provenance), the test metrics
(``test_metrics.json`` or ``evaluation_test.json``) and the k-mer baseline's (``baseline_kmer*.json``
in the run folder or the folder above it, where the recipes write it).

The folder is written beside its target and renamed into place when complete
(:func:`genomix.files.atomic_directory`): a failed export leaves nothing.
"""

from __future__ import annotations

import errno
import json
import logging
import os
from pathlib import Path
from typing import Any

from genomix.checkpoint import read_checkpoint
from genomix.errors import CheckpointError, ConfigError, DatasetFormatError, OutputError
from genomix.files import atomic_directory, write_failure_reason
from genomix.model_card import CardFacts, model_card
from genomix.pretrained import CARD_NAME, CONFIG_NAME, WEIGHTS_NAME, build_from_payload, folder_config, write_weights

logger = logging.getLogger(__name__)

RUN_CONFIG = "config.json"
TEST_REPORTS = ("test_metrics.json", "evaluation_test.json")


def export_checkpoint(checkpoint: str | os.PathLike, out: str | os.PathLike, *, force: bool = False,
                      dataset: str | os.PathLike | None = None, baseline: str | os.PathLike | None = None
                      ) -> dict[str, Any]:
    """Write the model folder of ``checkpoint`` at ``out``.

    Args:
        checkpoint: a ``best.pt`` (or ``last.pt``) written by ``genomix train``.
        out: the folder to write; it must not exist, or be empty, unless ``force``.
        force: replace a non-empty ``out``.
        dataset: the training dataset, for the card's provenance (default: the one ``RUN/config.json``
            records).
        baseline: a ``genomix baseline kmer --out`` report (default: ``baseline_kmer*.json`` found beside
            the run).

    Returns:
        ``{"out", "sha256", "parameters", "test", "baseline", "dataset"}``: where it went, the weights'
        digest, and which facts the card found (file names, or ``None``).

    Raises:
        CheckpointError: not a genomix checkpoint, or its weights do not fit its options.
        ConfigError: ``out`` is the checkpoint, a file, or a non-empty folder without ``force``.
        OutputError: the folder could not be written (nothing is left).
    """
    checkpoint, out = Path(checkpoint), Path(out)
    if checkpoint.is_dir():
        raise CheckpointError(f"{checkpoint} is a folder; export takes a checkpoint file (RUN/best.pt)")
    _check_out(out, checkpoint, force=force)
    payload = read_checkpoint(checkpoint)
    model = build_from_payload(payload, source=f"checkpoint {checkpoint}")
    info = {key: payload.get(key) for key in ("task", "alphabet", "vocab", "classes", "target_scale",
                                               "label_kind", "window", "model_kwargs")}
    step = payload.get("step", (payload.get("train_state") or {}).get("step"))  # best.pt, or last.pt
    training = {"config": payload.get("config") or {}, "step": step, "valid": payload.get("valid"),
                "checkpoint": str(checkpoint)}
    facts = CardFacts(name=out.name, info=info, parameters=sum(p.numel() for p in model.parameters()),
                      checkpoint=str(checkpoint), step=step, valid=payload.get("valid"))
    _gather_run_facts(facts, checkpoint.parent, dataset=dataset, baseline=baseline)
    try:
        with atomic_directory(out, replace=force) as folder:
            sha256 = write_weights(folder / WEIGHTS_NAME, model.state_dict())
            facts.sha256 = sha256
            config = folder_config(info, weights_sha256=sha256, training=training)
            _write_text(folder / CONFIG_NAME, json.dumps(config, indent=2) + "\n")
            _write_text(folder / CARD_NAME, model_card(facts))
    except FileExistsError as error:
        raise ConfigError(f"--out {out}: {error.strerror}; choose another folder or give --force") from None
    except OSError as error:
        reason = write_failure_reason(error)
        raise OutputError(error.errno or errno.EIO, f"cannot write model folder {out}: {reason}; nothing was "
                          "left there", str(out)) from None
    logger.info("exported %s to %s (%s parameters, weights sha256 %s)", checkpoint, out, f"{facts.parameters:,}",
                sha256)
    return {"out": str(out), "sha256": sha256, "parameters": facts.parameters, "test": facts.test_source,
            "baseline": facts.baseline_source, "dataset": facts.dataset if facts.provenance is not None else None}


def _check_out(out: Path, checkpoint: Path, *, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; expected a folder to create")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ConfigError(f"--out {out} exists and is not empty; choose another folder or give --force")
    if out.is_dir() and checkpoint.resolve().is_relative_to(out.resolve()):
        raise ConfigError(f"--out {out} holds the checkpoint {checkpoint}; replacing it would destroy the input")


def _write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as stream:
        stream.write(text)
        stream.flush()
        os.fsync(stream.fileno())


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        logger.warning("%s could not be read as JSON; the model card leaves it out", path)
        return None
    return value if isinstance(value, dict) else None


def _gather_run_facts(facts: CardFacts, run: Path, *, dataset: str | os.PathLike | None,
                      baseline: str | os.PathLike | None) -> None:
    """Fill the card's dataset, test and baseline facts from the run folder (what is missing stays ``None``)."""
    run_config = _read_json(run / RUN_CONFIG) if (run / RUN_CONFIG).is_file() else None
    recorded = (run_config or {}).get("dataset")
    facts.dataset = str(dataset) if dataset is not None else recorded
    if facts.dataset is not None:
        _dataset_facts(facts, Path(facts.dataset))
    for name in TEST_REPORTS:
        report = _read_json(run / name) if (run / name).is_file() else None
        if report and isinstance(report.get("metrics"), dict):
            facts.test, facts.test_source = report["metrics"], name
            break
    candidates = [Path(baseline)] if baseline is not None else sorted(
        [*run.glob("baseline_kmer*.json"), *run.parent.glob("baseline_kmer*.json")])
    if baseline is not None and not candidates[0].is_file():
        raise ConfigError(f"--baseline {baseline}: no such file")
    for path in candidates:
        report = _read_json(path)
        if report and isinstance(report.get("test"), dict):
            facts.baseline, facts.baseline_model = report["test"], _baseline_name(report)
            facts.baseline_source = str(path if baseline is not None else os.path.relpath(path, run))
            break


def _baseline_name(report: dict[str, Any]) -> str:
    model = str(report.get("model", "k-mer model")).replace("_", " ")
    return f"{report['k']}-mer {model}" if report.get("k") else model


def _dataset_facts(facts: CardFacts, path: Path) -> None:
    if not path.is_file():
        facts.dataset_note = f"The dataset file is no longer at `{path}`; its provenance could not be read."
        return
    from genomix.datasets.store import open_dataset

    try:
        with open_dataset(path) as data:
            provenance = data.provenance
            facts.provenance = dict(provenance) if isinstance(provenance, dict) else {"recorded": provenance}
            facts.splits = {name: len(data.split(name)) for name in data.split_names}
    except (DatasetFormatError, OSError) as error:
        facts.dataset_note = f"The dataset file `{path}` could not be read ({error}); its provenance is unknown."


__all__ = ["export_checkpoint"]
