"""Tasks: what a dataset's ``task`` means for the model's output, the loss, the scores and the metrics.

The trainer asks the task for everything task-specific, so a new task is one more entry in :data:`TASKS`.
``variant_effect`` is classification or regression (the dataset's ``label_kind``) on ref/alt window pairs,
with the :class:`~genomix.models.variant.RefAltModel` (``model_kwargs["architecture"] = "ref_alt"``).
The model a dataset needs is sized in :mod:`genomix.training.sizing` and built by
:func:`genomix.models.build_model`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from genomix.errors import ConfigError, DatasetFormatError
from genomix.models.tensors import class_probabilities
from genomix.training import metrics


class ClassificationTask:
    """Single-label classification: logits ``(B, n_classes)``, cross-entropy, probabilities as scores."""

    name = "classification"
    default_metric = "roc_auc"

    def __init__(self, classes: list[str], train_labels: np.ndarray, *, class_weights: str = "none") -> None:
        self.classes = list(classes)
        labels = np.asarray(train_labels, dtype=np.int64)
        if labels.size and (labels.min() < 0 or labels.max() >= len(self.classes)):
            raise DatasetFormatError(
                f"train labels should be in [0, {len(self.classes)}), got {labels.min()}..{labels.max()}"
            )
        self.weight: torch.Tensor | None = None
        if class_weights == "balanced":
            counts = np.bincount(labels, minlength=len(self.classes)).astype(np.float64)
            weight = np.where(counts > 0, labels.size / (len(self.classes) * np.maximum(counts, 1)), 0.0)
            self.weight = torch.tensor(weight, dtype=torch.float32)

    @property
    def output_size(self) -> int:
        return len(self.classes)

    def labels_tensor(self, labels: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(labels, dtype=np.int64))

    def loss(self, outputs: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        """Cross-entropy; with ``weights`` (``(B,)``, :func:`sample_weights`), each record's term weighted."""
        weight = self.weight.to(outputs.device) if self.weight is not None else None
        if weights is None:
            return F.cross_entropy(outputs.float(), labels, weight=weight)
        losses = F.cross_entropy(outputs.float(), labels, weight=weight, reduction="none")  # times weight[label]
        total = weights if weight is None else weights * weight[labels]
        return (losses * weights).sum() / total.sum().clamp_min(1e-12)

    def scores(self, outputs: torch.Tensor) -> np.ndarray:
        """``(B, n_classes)`` logits -> ``(B, n_classes)`` probabilities."""
        return class_probabilities(outputs)

    def metrics(self, labels: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
        return metrics.classification_metrics(labels, scores)

    def state(self) -> dict[str, Any]:
        return {}


class RegressionTask:
    """Scalar regression: the model predicts the standardised target; MSE loss; metrics in target units.

    With ``train_groups`` (for example the element each variant of a saturation-mutagenesis MPRA
    belongs to), the training targets are each label's normal score *within its group* instead
    (:func:`group_normal_scores`), and ``best.pt`` is chosen by Spearman correlation: groups measured
    on different scales (one element's effects spread 0.12, another's 0.78 log2 units) then weigh
    alike, and the model learns which variants matter more within an element, which is what carries
    over to an element it has not seen. Predictions stay in target units (times the labels' std).
    """

    name = "regression"
    default_metric = "mse"
    output_size = 1

    def __init__(self, train_labels: np.ndarray, *, target_scale: list[float] | None = None,
                 tolerance: float | None = None, train_groups: np.ndarray | None = None) -> None:
        self.tolerance = tolerance
        if tolerance is not None:  # a tolerance task (the adding problem): select on reg_acc
            self.default_metric = "reg_acc"
        labels = np.asarray(train_labels, dtype=np.float64).reshape(-1)
        if target_scale is None:
            std = float(labels.std()) if labels.size > 1 else 1.0
            target_scale = [float(labels.mean()) if labels.size else 0.0, std if std > 0 else 1.0]
        self.mean, self.std = (float(v) for v in target_scale)
        self.train_targets: torch.Tensor | None = None
        """``(n_train,)`` float32 targets of the training split in its order, when they are not
        :meth:`labels_tensor` of the labels (``train_groups``)."""
        if train_groups is not None:
            self.train_targets = torch.as_tensor(group_normal_scores(labels, train_groups), dtype=torch.float32)
            self.default_metric = "spearman"

    def labels_tensor(self, labels: np.ndarray) -> torch.Tensor:
        return torch.as_tensor((np.asarray(labels, dtype=np.float64) - self.mean) / self.std, dtype=torch.float32)

    def loss(self, outputs: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        """Mean squared error; with ``weights`` (``(B,)``, :func:`sample_weights`), a weighted mean."""
        if weights is None:
            return F.mse_loss(outputs.float().reshape(-1), labels)
        errors = (outputs.float().reshape(-1) - labels).square()
        return (errors * weights).sum() / weights.sum().clamp_min(1e-12)

    def scores(self, outputs: torch.Tensor) -> np.ndarray:
        """``(B, 1)`` standardised outputs -> ``(B,)`` predictions in target units."""
        return outputs.float().reshape(-1).cpu().numpy() * self.std + self.mean

    def metrics(self, labels: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
        values = metrics.regression_metrics(labels, scores)
        if self.tolerance is not None:
            from genomix.datasets.adding import reg_acc

            values["reg_acc"] = reg_acc(scores, labels, tolerance=self.tolerance) if len(labels) else None
        return values

    def state(self) -> dict[str, Any]:
        return {"target_scale": [self.mean, self.std]}


def group_normal_scores(labels: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """``(n,)`` float64: each label's normal score within its group, ``Phi^-1((rank - 1/2) / n_group)``
    (ties share their mean rank; a group of one scores 0)."""
    from scipy.stats import norm, rankdata

    labels = np.asarray(labels, dtype=np.float64).reshape(-1)
    groups = np.asarray(groups)
    if groups.shape != labels.shape:
        raise ValueError(f"groups should be one per label ({labels.shape}), got {groups.shape}")
    out = np.zeros_like(labels)
    for group in np.unique(groups):
        members = groups == group
        out[members] = norm.ppf((rankdata(labels[members]) - 0.5) / members.sum())
    return out


def element_groups(dataset: Any, split: str) -> np.ndarray | None:
    """The element (reference record) of each variant of a split, for a ``variant_effect`` dataset built
    with element references (one record per measured element, e.g. an MPRA); else None."""
    if dataset.task != "variant_effect" or not dataset.attrs.get("element_field"):
        return None
    return np.asarray(dataset.split(split).meta("contig")).astype(str)


def training_targets(task: Any, train_labels: np.ndarray) -> torch.Tensor:
    """``(n_train,)``: what the model is trained to output for each training record, in split order: the
    task's own training targets (element ranks) or its tensor of the labels."""
    targets = getattr(getattr(task, "inner", task), "train_targets", None)
    return task.labels_tensor(np.asarray(train_labels)) if targets is None else targets


SAMPLE_WEIGHTS = ("auto", "none", "sqrt", "linear")
"""How a dataset's per-record measurement weights (``meta/weight``, e.g. an MPRA's barcode counts, see
``build-dataset variant-effect --weight``) weight each record's training loss and the profile head's fit:
``linear`` (the weight itself: inverse-variance weighting), ``sqrt`` (its square root: tempered, so a few
records measured 1,000x more often do not dominate), ``none``; ``auto``: ``sqrt`` where the dataset has
weights (on MPRA's valid elements: Spearman 0.165 unweighted, 0.160 linear, 0.187 sqrt; docs/quality.md)."""


def sample_weights(dataset: Any, split: str, how: str = "auto") -> torch.Tensor | None:
    """``(n,)`` float32 training weights of a split's records, scaled to mean 1, or None (unweighted).

    Raises:
        ConfigError: ``sqrt``/``linear`` on a dataset without ``meta/weight``, or weights all zero.
    """
    if how not in SAMPLE_WEIGHTS:
        raise ConfigError(f"sample_weights should be one of {', '.join(SAMPLE_WEIGHTS)}, got {how!r}")
    records = dataset.split(split)
    if how == "none" or (how == "auto" and "weight" not in records.meta_columns):
        return None
    if "weight" not in records.meta_columns:
        raise ConfigError(f"sample_weights={how} needs per-record weights (meta/weight); this dataset has none "
                          "(build-dataset variant-effect --weight INFO/FIELD writes them)")
    weights = np.asarray(records.meta("weight"), dtype=np.float64)
    weights = np.sqrt(weights) if how in ("auto", "sqrt") else weights
    if not weights.size or weights.sum() <= 0:
        raise ConfigError(f"the {split} split's weights are all zero: nothing to train on")
    return torch.from_numpy(weights / weights.mean()).float()


REGRESSION_TARGETS = ("auto", "standardised", "element_ranks")
"""``standardised``: (label - mean) / std; ``element_ranks``: normal scores within each element
(:class:`RegressionTask`); ``auto``: ``element_ranks`` on variant datasets of two or more elements."""


def regression_task(dataset: Any, train_labels: np.ndarray, *, target_scale: list[float] | None = None,
                    targets: str = "standardised") -> RegressionTask:
    """The regression task for a dataset; adding-problem files also report and select on ``reg_acc``.

    Raises:
        ConfigError: ``targets='element_ranks'`` on a dataset without element references.
    """
    tolerance = None
    if dataset.attrs.get("generator") == "adding":
        from genomix.datasets.adding import TOLERANCE

        tolerance = TOLERANCE
    groups = None if targets == "standardised" else element_groups(dataset, "train")
    if groups is not None and targets == "auto" and len(np.unique(groups)) < 2:
        groups = None
    if groups is None and targets == "element_ranks":
        raise ConfigError("regression_targets=element_ranks needs a variant_effect dataset built with element "
                          "references (build-dataset variants --element-field)")
    return RegressionTask(train_labels, target_scale=target_scale, tolerance=tolerance, train_groups=groups)


class VariantEffectTask:
    """``variant_effect``: a classification or regression task (by ``label_kind``) on ref/alt pairs.

    Loss, scores and metrics are the inner task's; :meth:`state` adds ``label_kind`` and ``window`` to
    the checkpoint so ``genomix score-variants`` needs no options to use the model.
    """

    name = "variant_effect"

    def __init__(self, inner: ClassificationTask | RegressionTask, *, window: int | None) -> None:
        self.inner = inner
        self.label_kind = inner.name
        self.window = None if window is None else int(window)

    @property
    def output_size(self) -> int:
        return self.inner.output_size

    @property
    def default_metric(self) -> str:
        return self.inner.default_metric

    def labels_tensor(self, labels: np.ndarray) -> torch.Tensor:
        return self.inner.labels_tensor(labels)

    def loss(self, outputs: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        return self.inner.loss(outputs, labels, weights)

    def scores(self, outputs: torch.Tensor) -> np.ndarray:
        """As the inner task's: ``(B, n_classes)`` probabilities or ``(B,)`` predictions."""
        return self.inner.scores(outputs)

    def metrics(self, labels: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
        return self.inner.metrics(labels, scores)

    def state(self) -> dict[str, Any]:
        return {**self.inner.state(), "label_kind": self.label_kind, "window": self.window}


LABEL_KINDS = ("classification", "regression")
TASKS = ("classification", "regression", "variant_effect")
PRETRAINING_TASKS = ("masked_lm",)
"""Tasks the trainer runs without labels (``genomix pretrain``); the k-mer baseline has nothing to fit there."""


def is_classification(task: Any) -> bool:
    """Whether ``task`` predicts classes: a classification task, or a variant-effect task wrapping one."""
    return getattr(task, "inner", task).name == "classification"


def make_task(dataset: Any, *, class_weights: str = "none", target_scale: list[float] | None = None,
              masking: Any = None, seed: int = 0, regression_targets: str = "standardised"):
    """The task object for an open dataset (``masking``, ``seed``: the plan and seed of ``masked_lm``).

    Raises:
        DatasetFormatError: the dataset's task cannot be trained by ``genomix train`` yet.
    """
    if dataset.task not in TASKS + PRETRAINING_TASKS:
        raise DatasetFormatError(
            f"task {dataset.task!r} cannot be trained yet; genomix train supports {', '.join(TASKS + PRETRAINING_TASKS)}"
        )
    if dataset.task == "masked_lm":
        from genomix.training.masked_lm import MaskedLMTask
        from genomix.training.masking import MaskingPlan

        return MaskedLMTask(dataset, plan=masking or MaskingPlan(), seed=seed)
    train_labels = np.asarray(dataset.split("train").labels)
    kind = label_kind(dataset)
    if kind == "classification":
        if regression_targets == "element_ranks":
            raise ConfigError("regression_targets=element_ranks is for regression datasets; this one is classification")
        if not dataset.classes:
            raise DatasetFormatError("a classification dataset should list its classes")
        task: Any = ClassificationTask(list(dataset.classes), train_labels, class_weights=class_weights)
    else:
        task = regression_task(dataset, train_labels, target_scale=target_scale, targets=regression_targets)
    if dataset.task == "variant_effect":
        return VariantEffectTask(task, window=dataset.attrs.get("window"))
    return task


def label_kind(dataset: Any) -> str:
    """``classification`` or ``regression``: the dataset's task, or its ``label_kind`` for ``variant_effect``.

    Raises:
        DatasetFormatError: a ``variant_effect`` file without a known ``label_kind`` attribute.
    """
    if dataset.task != "variant_effect":
        return dataset.task
    kind = dataset.attrs.get("label_kind")
    if kind not in LABEL_KINDS:
        raise DatasetFormatError(f"variant_effect dataset {dataset.path}: label_kind should be one of "
                                 f"{', '.join(LABEL_KINDS)}, got {kind!r}")
    return kind


def checkpoint_task(info: dict[str, Any], dataset: Any) -> Any:
    """The task of a saved model (for scoring, not training): classes and target scale from ``info``."""
    kind = info.get("label_kind") or info["task"]
    if kind == "classification":
        task: Any = ClassificationTask(info["classes"], np.zeros(0, dtype=np.int64))
    else:
        task = regression_task(dataset, np.zeros(0), target_scale=info.get("target_scale"))
    if info["task"] == "variant_effect":
        return VariantEffectTask(task, window=info.get("window"))
    return task
