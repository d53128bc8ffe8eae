"""PNG plots of a run and an evaluation (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from genomix.errors import OutputError
from genomix.files import atomic_path, write_failure_reason
from genomix.training.metrics import binary_average_precision, binary_roc_auc


def _save(fig, path: str | Path) -> None:
    """Save a PNG atomically: a full disk leaves no half-drawn file at ``path``."""
    try:
        with atomic_path(path) as temporary:
            fig.savefig(temporary, dpi=100, format="png")
    except OSError as error:
        reason = write_failure_reason(error)
        raise OutputError(error.errno or errno.EIO, f"cannot write plot {path}: {reason}", str(path)) from None
    finally:
        plt.close(fig)


def learning_curves(history: list[dict[str, Any]], path: str | Path) -> None:
    """Train loss and valid metrics against optimizer steps."""
    if not history:
        return
    steps = [r["step"] for r in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    per_step = [(r["step"] - len(r["train_losses"]) + 1 + k, loss) for r in history
                for k, loss in enumerate(r.get("train_losses") or [])]
    if per_step:
        left.plot(*zip(*per_step), linewidth=0.6, alpha=0.5, label="each step")
    left.plot(steps, [r.get("train_loss") for r in history], marker="o", label="mean since last eval")
    left.set(xlabel="optimizer step", ylabel="train loss", title="training loss")
    left.legend(fontsize="small")
    for key in ("roc_auc", "accuracy", "balanced_accuracy", "reg_acc", "pearson", "mse"):
        values = [r.get("valid", {}).get(key) for r in history]
        if any(v is not None for v in values):
            right.plot(steps, [np.nan if v is None else v for v in values], marker="o", label=key)
    right.set(xlabel="optimizer step", title="valid")
    right.legend()
    fig.tight_layout()
    _save(fig, path)


def _curve_points(positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    order = np.argsort(-scores, kind="mergesort")
    hits = positive[order].astype(float)
    tp = np.cumsum(hits)
    fp = np.cumsum(1 - hits)
    tpr = np.concatenate([[0], tp / max(tp[-1], 1)])
    fpr = np.concatenate([[0], fp / max(fp[-1], 1)])
    precision = tp / np.arange(1, tp.size + 1)
    recall = tp / max(tp[-1], 1)
    return fpr, tpr, recall, precision


def roc_pr_curves(labels: np.ndarray, probabilities: np.ndarray, classes: list[str], path: str | Path) -> None:
    """One-vs-rest ROC and PR curves, one line per class."""
    fig, (roc, pr) = plt.subplots(1, 2, figsize=(11, 4.5))
    for c, name in enumerate(classes):
        positive = labels == c
        if not positive.any() or positive.all():
            continue
        fpr, tpr, recall, precision = _curve_points(positive, probabilities[:, c])
        auc = binary_roc_auc(positive, probabilities[:, c])
        average_precision = binary_average_precision(positive, probabilities[:, c])
        roc.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f}, n={int(positive.sum()):,})")
        pr.plot(recall, precision, label=f"{name} (AP {average_precision:.3f})")
    roc.plot([0, 1], [0, 1], color="grey", linestyle=":")
    roc.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (one-vs-rest)")
    pr.set(xlabel="recall", ylabel="precision", title="precision-recall (one-vs-rest)")
    roc.legend(fontsize="small")
    pr.legend(fontsize="small")
    fig.tight_layout()
    _save(fig, path)


def confusion(matrix: list[list[int]], classes: list[str], path: str | Path) -> None:
    """Confusion matrix with counts; rows true, columns predicted."""
    matrix_np = np.asarray(matrix)
    size = max(4.0, 0.6 * len(classes) + 2)
    fig, axis = plt.subplots(figsize=(size, size))
    axis.imshow(matrix_np, cmap="Blues")
    axis.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    axis.set_yticks(range(len(classes)), classes)
    for (i, j), count in np.ndenumerate(matrix_np):
        axis.text(j, i, str(count), ha="center", va="center",
                  color="white" if count > matrix_np.max() / 2 else "black")
    axis.set(xlabel="predicted", ylabel="true", title="confusion matrix")
    fig.tight_layout()
    _save(fig, path)


def metric_by_length(rows: list[dict[str, Any]], path: str | Path) -> None:
    """Each metric against the length-percentile bin."""
    if not rows:
        return
    keys = [k for k in ("accuracy", "roc_auc", "balanced_accuracy", "pearson", "spearman") if k in rows[0]]
    fig, axis = plt.subplots(figsize=(9, 4))
    for key in keys:
        axis.plot(range(len(rows)), [np.nan if r.get(key) is None else r[key] for r in rows], marker="o", label=key)
    axis.set_xticks(range(len(rows)), [f"{r['bin']}\n({r['min_length']:,}-{r['max_length']:,})\nn={r.get('n', 0):,}"
                                       for r in rows], rotation=60, ha="right", fontsize="x-small")
    axis.set(ylabel="metric", title="metrics by length percentile bin (n: sequences per bin; a bin of 1 scores 0 or 1)")
    axis.legend()
    fig.tight_layout()
    _save(fig, path)


def write_all(out_dir: str | Path, *, report: dict[str, Any], labels: np.ndarray, scores: np.ndarray,
              history: list[dict[str, Any]], prefix: str = "") -> list[Path]:
    """Every plot that fits the report's task; returns the paths written."""
    out_dir = Path(out_dir)
    written = []
    if history:
        learning_curves(history, out_dir / "learning_curves.png")
        written.append(out_dir / "learning_curves.png")
    if report.get("classes") and "confusion" in report["metrics"]:  # classification, variant effect included
        classes = list(report["classes"])
        roc_pr_curves(np.asarray(labels), np.asarray(scores), classes, out_dir / f"{prefix}roc_pr.png")
        confusion(report["metrics"]["confusion"], classes, out_dir / f"{prefix}confusion.png")
        written += [out_dir / f"{prefix}roc_pr.png", out_dir / f"{prefix}confusion.png"]
    metric_by_length(report["by_length"], out_dir / f"{prefix}metric_by_length.png")
    written.append(out_dir / f"{prefix}metric_by_length.png")
    return written
