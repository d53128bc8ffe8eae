"""Evaluation: predict a split with a model, compute every metric, write ``evaluation.json`` and plots."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genomix.datasets.sampler import TokenBudgetBatchSampler
from genomix.datasets.store import open_dataset
from genomix.errors import DatasetFormatError
from genomix.precision import autocast as precision_autocast
from genomix.training import rundir
from genomix.checkpoint import check_fits, load_model
from genomix.training.metrics import metrics_by_length
from genomix.training.batches import SequenceBatches, batch_reader
from genomix.training.tasks import checkpoint_task
from genomix.validation import resolve_device

logger = logging.getLogger(__name__)


@torch.no_grad()
def predict_split(
    model: torch.nn.Module,
    split: Any,
    *,
    task: Any,
    alphabet: str,
    max_tokens: int,
    device: torch.device | str = "cpu",
    precision: str = "auto",
    progress: Callable[[int], None] | None = None,
    batches: Any | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores for every sequence (or variant) of a split, in the split's order.

    Args:
        model: a variable-length ChordMixer (or a ref/alt model, with ``batches`` a pair reader).
        split: a dataset split view.
        task: the task object (turns outputs into scores).
        alphabet: the dataset's alphabet.
        max_tokens: token budget per batch (batches of similar lengths, sorted).
        device: where the model is.
        precision: ``auto`` (bf16 where native), ``fp32`` or ``bf16``.
        progress: called with the number of sequences done after each batch.
        batches: the batch reader (:mod:`genomix.training.batches`); default: one sequence per example.

    Returns:
        ``(scores, labels, lengths)``: ``(n, n_classes)`` probabilities or ``(n,)`` predictions,
        ``(n,)`` labels, ``(n,)`` lengths (the ref window's for variants).
    """
    device = torch.device(device)
    was_training = model.training
    model.eval()
    batches = batches if batches is not None else SequenceBatches(alphabet)
    lengths = np.asarray(split.lengths, dtype=np.int64)
    sampler = TokenBudgetBatchSampler(batches.sizes(split), max_tokens=max_tokens, shuffle=False)
    chunks: list[tuple[np.ndarray, np.ndarray]] = []
    autocast = precision_autocast(precision, device)
    for batch in sampler:
        indices = np.asarray(batch, dtype=np.int64)
        inputs = batches.read_batch(split, indices)
        with autocast:
            outputs = model(*(tensor.to(device) for tensor in inputs))
        chunks.append((indices, task.scores(outputs)))
        if progress:
            progress(len(indices))
    model.train(was_training)
    order = np.concatenate([indices for indices, _ in chunks])
    scores = np.concatenate([s for _, s in chunks])
    result = np.empty_like(scores)
    result[order] = scores
    return result, np.asarray(split.labels), lengths


def evaluate_checkpoint(
    checkpoint: str | Path,
    dataset_path: str | Path,
    *,
    split: str = "test",
    out_dir: str | Path | None = None,
    name: str | None = None,
    max_tokens: int = 65536,
    precision: str = "auto",
    plots: bool = True,
    device: str = "cpu",
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Evaluate a checkpoint on one split of a dataset; write ``<name>.json`` (and PNG plots).

    Args:
        checkpoint: ``best.pt`` or ``last.pt``, or a folder written by ``genomix export``.
        dataset_path: a dataset whose task, alphabet, vocab and classes match the checkpoint's.
        split: which split to score.
        out_dir: where to write (default: the checkpoint's folder, or the exported folder itself).
        name: base name of the JSON file (default ``evaluation_<split>``, so each split keeps its own).
        max_tokens: token budget per batch.
        precision: ``auto`` (bf16 where native), ``fp32`` or ``bf16``.
        plots: also write ROC/PR, confusion, metric-by-length and learning-curve PNGs.
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda``.
        progress: called with the number of sequences done after each batch.

    Returns:
        The report written to JSON: ``metrics``, ``by_length``, ``split``, ``checkpoint``, ``dataset``.

    Raises:
        CheckpointError: the checkpoint does not fit the dataset.
        DatasetFormatError: the split does not exist.
    """
    name = name or f"evaluation_{split}"
    device = resolve_device(device)
    model, info = load_model(checkpoint, device=device)
    if info["task"] == "masked_lm":
        from genomix.errors import CheckpointError

        raise CheckpointError(f"checkpoint {checkpoint} is a pretraining (masked_lm) model: its masked accuracy is in "
                              "its run's metrics.jsonl (and test_metrics.json with final_test=true); fine-tune it with "
                              "genomix train TASK.h5 --init CHECKPOINT")
    dataset = open_dataset(dataset_path)
    check_fits(info, dataset, path=checkpoint)
    if split not in dataset.split_names:
        raise DatasetFormatError(f"dataset {dataset_path} has no split {split!r} (it has {', '.join(dataset.split_names)})")
    view = dataset.split(split)
    task = checkpoint_task(info, dataset)
    scores, labels, lengths = predict_split(model, view, task=task, alphabet=dataset.alphabet,
                                            max_tokens=max_tokens, device=device, precision=precision,
                                            progress=progress, batches=batch_reader(dataset))
    report = {
        "checkpoint": str(checkpoint), "dataset": str(dataset_path), "split": split, "task": info["task"],
        "classes": info.get("classes"), "metrics": task.metrics(labels, scores),
        "by_length": metrics_by_length(lengths, labels, scores, task=info.get("label_kind") or info["task"]),
        "by_length_quintile": metrics_by_length(lengths, labels, scores, task=info.get("label_kind") or info["task"],
                                                percentiles=(20, 40, 60, 80)),
    }
    beside = Path(checkpoint) if Path(checkpoint).is_dir() else Path(checkpoint).parent  # an exported folder: in it
    out = Path(out_dir) if out_dir is not None else beside
    out.mkdir(parents=True, exist_ok=True)
    if plots:  # first: each PNG is written atomically, and the report last, once everything else is there
        from genomix.training import plots as plotting

        plotting.write_all(out, report=report, labels=labels, scores=scores,
                           history=rundir.read_metrics(beside), prefix=f"{split}_")
    rundir.write_json(out / f"{name}.json", report)
    metric_line = ", ".join(f"{k} {v:.4f}" for k, v in report["metrics"].items() if isinstance(v, float))
    logger.info("%s on %s/%s: %s", checkpoint, dataset_path, split, metric_line)
    return report
