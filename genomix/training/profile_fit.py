"""The k-mer profile head before training: its standardisation, and its fit as the k-mer baseline.

Why: the k-mer baseline (a linear model of standardised k-mer frequencies, regularisation chosen on
valid) is what the network must at least match. Fitted in closed form on the whole training sequences
and then kept fixed (``TrainConfig.profile_fit``), the head *is* that baseline, so the network starts
where the baseline ends and its blocks and decoder (zero-initialised) learn only what the k-mer profile
misses: order, motifs, position. In training the network is added to the head's *out-of-fold* logits
(see :func:`fit_profile_head`), so it learns from the baseline's errors on sequences it was not fitted on. Trained jointly from zero on 4-kb training windows instead, the head
saw noisy window profiles standardised by whole-genome statistics, its losses spiked (10-40 on single
batches) and it stayed short of the baseline on long genomes (docs/quality.md).

Both steps are deterministic and cheap (one pass of k-mer counting over train and valid, a few
scikit-learn fits on ``(n, 4**k)`` features).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from genomix.training.tasks import element_groups, is_classification, training_targets

logger = logging.getLogger(__name__)

C_GRID = (0.1, 1.0, 10.0, 100.0)  # as the k-mer baseline's (genomix.training.baseline)
REGRESSION_C_GRID = (1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0)
"""Ridge ``alpha = 1 / C``: variant effects want strong regularisation (MPRA: alpha 100-1000 on valid)."""
_ABSENT_CLASS_LOGIT = -30.0  # below every fitted class: a class missing from train is never predicted


def head_is_fitted(profile_fit: str, *, train_crop: int, variant_pairs: bool) -> bool:
    """Whether a run's k-mer profile head is fitted before training (``TrainConfig.profile_fit``).

    ``auto``: fitted where training reads windows of longer sequences (``train_crop``), where a head trained
    jointly sees noisy window profiles (Insects, Fungi, Plants: docs/quality.md); on sequences read whole it
    trains stably with the network, and measured better there (enhancers 0.723 against 0.706). The ref/alt
    model's profile of the changed k-mers (``variant_pairs``) is fitted too: trained jointly it overfits the
    training elements, where the ridge's strong regularisation chosen on valid carries over (MPRA)."""
    return profile_fit == "on" or (profile_fit == "auto" and bool(train_crop or variant_pairs))


def whole_sequences(split: Any, indices: np.ndarray | None = None, *,
                    chunk_tokens: int = 1 << 22) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """A split's whole sequences (``indices``: those records, in that order; default all, in split order), as
    ``(tokens (N,) int64, lengths (B,) int64)`` of about ``chunk_tokens`` tokens (at least one record) each."""
    lengths = np.asarray(split.lengths, dtype=np.int64)
    indices = np.arange(len(lengths)) if indices is None else np.asarray(indices, dtype=np.int64)
    ends = np.cumsum(lengths[indices])
    start = 0
    while start < len(indices):
        done = ends[start - 1] if start else 0
        stop = max(start + 1, int(np.searchsorted(ends, done + chunk_tokens, side="right")))
        tokens, chunk_lengths = split.read_many(indices[start:stop])
        yield (torch.from_numpy(np.asarray(tokens).astype(np.int64)),
               torch.from_numpy(np.asarray(chunk_lengths, dtype=np.int64)))
        start = stop


def whole_profiles(head: torch.nn.Module, split: Any, *, chunk_tokens: int = 1 << 22) -> torch.Tensor:
    """``(n, n_kmers)`` float32 k-mer frequencies of a split's whole sequences, in split order, counted
    with ``head``'s k-mers (a :class:`~genomix.models.kmers.KmerProfileHead`)."""
    rows = [head.profiles(tokens, lengths) for tokens, lengths in whole_sequences(split, chunk_tokens=chunk_tokens)]
    if not rows:
        return torch.zeros(0, head.n_ids - 2)
    return torch.cat(rows)


def pair_profiles(model: torch.nn.Module, split: Any, *, chunk: int = 2048) -> torch.Tensor:
    """``(n, n_kmers)`` float32 profiles of the changes of a ``variant_effect`` split, in split order
    (:meth:`~genomix.models.variant.RefAltModel.pair_profiles`)."""
    from genomix.datasets.variant_batches import read_pairs

    rows = []
    for start in range(0, len(split), chunk):
        arrays = read_pairs(split, np.arange(start, min(start + chunk, len(split))))
        rows.append(model.pair_profiles(*(torch.from_numpy(np.asarray(a).astype(np.int64)) for a in arrays)))
    return torch.cat(rows) if rows else torch.zeros(0, model.profile.linear.in_features)


def split_profiles(model: torch.nn.Module, split: Any) -> torch.Tensor:
    """What a model's profile head reads for each record of a split: the whole sequence's k-mer
    frequencies, or the k-mer counts a variant changes (ref/alt models)."""
    if hasattr(model, "pair_profiles"):
        return pair_profiles(model, split)
    return whole_profiles(model.profile, split)


def fit_profile_statistics(model: torch.nn.Module, dataset: Any) -> torch.Tensor | None:
    """Standardise a model's k-mer profile head (if it has one) by the training split's profiles
    (:func:`split_profiles`); returns those training profiles (None without a head). The statistics are
    buffers, saved with the weights, so a resumed or loaded model has them."""
    head = getattr(model, "profile", None)
    if head is None:
        return None
    profiles = split_profiles(model, dataset.split("train"))
    head.fit_statistics(profiles)
    return profiles


def _estimator(classification: bool, c: float, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression, Ridge

    return LogisticRegression(C=c, max_iter=3000, random_state=seed) if classification else Ridge(alpha=1.0 / c)


def _fit(estimator: Any, x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return estimator.fit(x, y, sample_weight=weights)


def _logits(estimator: Any, x: np.ndarray, *, classification: bool, output_size: int) -> np.ndarray:
    """``(n, output_size)`` outputs of a fitted estimator as the head's logits (classification:
    log-probabilities, a class absent from its training data far below the others)."""
    if not classification:
        return estimator.predict(x).reshape(len(x), output_size)
    with np.errstate(divide="ignore"):
        log_probabilities = estimator.predict_log_proba(x)
    absent = log_probabilities.min(axis=1, keepdims=True) + _ABSENT_CLASS_LOGIT
    out = np.repeat(absent, output_size, axis=1)
    out[:, estimator.classes_] = log_probabilities
    return out


def best_c_on_valid(x_train: np.ndarray, y_train: np.ndarray, x_valid: np.ndarray, labels_valid: np.ndarray,
                    task: Any, *, metric: str, output_size: int, seed: int, weights: np.ndarray | None = None,
                    c_grid: tuple[float, ...] | None = None, log_as: str | None = None) -> tuple[float, float, Any]:
    """The linear model (logistic regression, or ridge ``alpha = 1 / C``) fitted on train at each C of ``c_grid``
    (default :data:`C_GRID` or :data:`REGRESSION_C_GRID`) with the best valid ``metric``; the first C on ties.

    Returns:
        ``(score, C, fitted estimator)``, ``score`` signed so that higher is better (``-inf`` where the
        metric is undefined). ``log_as``: log each C's valid metric under that name.
    """
    from genomix.training.metrics import higher_is_better

    classification = is_classification(task)
    sign = 1.0 if higher_is_better(metric) else -1.0
    best: tuple[float, float, Any] | None = None
    for c in c_grid or (C_GRID if classification else REGRESSION_C_GRID):
        estimator = _fit(_estimator(classification, c, seed), x_train, y_train, weights)
        outputs = _logits(estimator, x_valid, classification=classification, output_size=output_size)
        score = task.metrics(labels_valid, task.scores(torch.from_numpy(outputs))).get(metric)
        score = -np.inf if score is None or not np.isfinite(score) else sign * float(score)
        if log_as:
            logger.info("%s: C=%g valid %s %.4f", log_as, c, metric, sign * score)
        if best is None or score > best[0]:
            best = (score, c, estimator)
    assert best is not None
    return best


def out_of_fold_loss(classification: bool, targets: np.ndarray, logits: np.ndarray) -> float:
    """How far out-of-fold outputs are from the training targets: log loss of their softmax (classification)
    or mean squared error."""
    from genomix.training.metrics import log_loss

    if classification:
        return float(log_loss(targets, torch.softmax(torch.from_numpy(np.asarray(logits)), dim=1).numpy()))
    return float(np.mean((np.asarray(logits).reshape(len(targets), -1) - targets.reshape(len(targets), -1)) ** 2))


@torch.no_grad()
def fit_profile_head(model: torch.nn.Module, dataset: Any, task: Any, *, train_profiles: torch.Tensor,
                     c_grid: tuple[float, ...] | None = None, seed: int = 0, folds: int = 5,
                     metric: str | None = None, weights: np.ndarray | None = None) -> dict[str, Any]:
    """Set the profile head's linear layer to the k-mer baseline fitted on train, C chosen on valid, and
    return the logits that training should add for each training sequence.

    Classification: multinomial logistic regression (two classes: the logit difference split evenly
    between the two outputs, so the softmax equals the fitted sigmoid); classes absent from train get a
    logit far below the others. Regression: ridge (``alpha = 1 / C``) on the task's training targets
    (:func:`~genomix.training.tasks.training_targets`). ``C`` (from ``c_grid``, by default :data:`C_GRID` or
    :data:`REGRESSION_C_GRID`) is the one with the best valid ``metric`` (default: ``roc_auc``, or the
    regression task's own selection metric). ``weights``: the training records' sample weights
    (:func:`~genomix.training.tasks.sample_weights`; the valid metric stays unweighted). The head's
    standardisation must be fitted already (:func:`fit_profile_statistics`).

    The logits for training are *out of fold* (``folds`` > 1: each sequence's from a fit on the other
    folds, same C): on its own training data a near-separable linear model is almost always right and
    confident, which leaves the network nothing to learn; out of fold, its training logits err where it
    errs on new sequences, and the network learns to correct that. ``folds=0``: the fitted head's own.
    On a variant dataset of several elements the folds hold out whole elements, as the test split does.

    Returns:
        ``{"C", "metric", "valid": the chosen fit's valid metric, "folds", "train_logits": (n_train,
        output_size) float32 tensor}``.
    """
    from genomix.training.metrics import higher_is_better

    head = model.profile
    classification = is_classification(task)
    metric = metric or ("roc_auc" if classification else task.default_metric)
    sign = 1.0 if higher_is_better(metric) else -1.0
    output_size = head.linear.out_features
    scale = lambda profiles: ((profiles.double() - head.mean.double()) / head.scale.double()).numpy()  # noqa: E731
    x_train = scale(train_profiles)
    x_valid = scale(split_profiles(model, dataset.split("valid")))
    y_train = training_targets(task, dataset.split("train").labels).numpy()
    labels_valid = np.asarray(dataset.split("valid").labels)
    score, c, estimator = best_c_on_valid(x_train, y_train, x_valid, labels_valid, task, metric=metric,
                                          output_size=output_size, seed=seed, weights=weights, c_grid=c_grid,
                                          log_as="k-mer profile head")
    weight = torch.zeros_like(head.linear.weight, dtype=torch.float64)
    bias = torch.zeros_like(head.linear.bias, dtype=torch.float64)
    coef = torch.from_numpy(np.atleast_2d(estimator.coef_)).double()
    intercept = torch.from_numpy(np.atleast_1d(estimator.intercept_)).double()
    if classification:
        present = torch.as_tensor(estimator.classes_, dtype=torch.int64)
        if len(present) == 2:  # sklearn keeps one row: the logit of classes_[1] against classes_[0]
            coef = torch.cat([-coef / 2, coef / 2])
            intercept = torch.cat([-intercept / 2, intercept / 2])
        bias.fill_(float(intercept.min()) + _ABSENT_CLASS_LOGIT)
        weight[present], bias[present] = coef, intercept
    else:
        weight.copy_(coef.reshape(weight.shape))
        bias.copy_(intercept.reshape(bias.shape))
    head.linear.weight.copy_(weight)
    head.linear.bias.copy_(bias)
    groups = element_groups(dataset, "train")
    if groups is not None and len(np.unique(groups)) < 2:
        groups = None
    if groups is not None:
        folds = min(folds, len(np.unique(groups)))
    if folds > 1 and len(x_train) >= 2 * folds:
        train_logits = out_of_fold_logits(x_train, y_train, classification=classification, c=c, seed=seed,
                                          folds=folds, output_size=output_size, groups=groups, weights=weights)
    else:
        folds = 0
        train_logits = head.linear(torch.from_numpy(x_train).to(head.linear.weight.dtype)).double().numpy()
    return {"C": c, "metric": metric, "valid": sign * score, "folds": folds,
            "train_logits": torch.from_numpy(train_logits).float()}


def out_of_fold_logits(x: np.ndarray, y: np.ndarray, *, classification: bool, c: float, seed: int, folds: int,
                       output_size: int, groups: np.ndarray | None = None,
                       weights: np.ndarray | None = None) -> np.ndarray:
    """``(n, output_size)``: each row's logits from the linear model fitted on the other folds
    (stratified for classification, whole ``groups`` held out when given; seeded; each fit weighted by
    its rows' ``weights`` when given)."""
    from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold

    if groups is not None:
        splitter: Any = GroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    else:
        splitter = (StratifiedKFold if classification else KFold)(n_splits=folds, shuffle=True, random_state=seed)
    out = np.zeros((len(x), output_size))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a class with fewer members than folds
        for fit_rows, held_out in splitter.split(x, y if classification else None, groups):
            if classification and len(np.unique(y[fit_rows])) < 2:
                raise ValueError("a fold holds one class only; use fewer folds")
            estimator = _fit(_estimator(classification, c, seed), x[fit_rows], y[fit_rows],
                             None if weights is None else weights[fit_rows])
            out[held_out] = _logits(estimator, x[held_out], classification=classification, output_size=output_size)
    return out


PROFILE_KMER_SIZES = (4, 5, 6)
"""The k tried for a fitted DNA profile head (``model.profile_kmer_size=0``). Measured on the taxonomy sets'
train splits, out of fold (docs/quality.md): 5-mers are better on whole mitochondrial genomes (Insects
log loss 0.052 against 0.157 for 4-mers), 4-mers on 500-bp sequences."""


class _HeadOnly(torch.nn.Module):
    """A model that is only a profile head: what :func:`fit_profile_head` reads of a model."""

    def __init__(self, head: torch.nn.Module) -> None:
        super().__init__()
        self.profile = head


@torch.no_grad()
def fit_profile_kmer_sizes(dataset: Any, task: Any, *, output_size: int, sizes: tuple[int, ...] = PROFILE_KMER_SIZES,
                           seed: int = 0, folds: int = 5, metric: str | None = None, weights: np.ndarray | None = None,
                           canonical: bool = False) -> dict[int, dict[str, Any]]:
    """For each k in ``sizes``, a DNA k-mer profile head fitted as :func:`fit_profile_head` fits it (C chosen on
    valid) and scored on its out-of-fold logits over the whole training split (log loss for classification,
    mean squared error of the training targets for regression): hundreds of training records decide, not a
    small valid split. With ``folds`` < 2, its valid ``metric`` decides instead. ``canonical``: strand-symmetric
    heads (:class:`~genomix.models.kmers.KmerProfileHead`).

    Returns:
        ``{k: {"head": the fitted head, "fit": fit_profile_head's result, "scores": {"C", "valid",
        "out_of_fold"}}}``: the trainer keeps the chosen k's head rather than fitting it again.
    """
    from genomix.models.kmers import KmerProfileHead
    from genomix.training.metrics import higher_is_better

    train = dataset.split("train")
    targets = training_targets(task, train.labels).numpy()
    fits: dict[int, dict[str, Any]] = {}
    for k in sizes:
        model = _HeadOnly(KmerProfileHead(output_size, k=k, vocab="acgt", canonical=canonical))
        profiles = whole_profiles(model.profile, train)
        model.profile.fit_statistics(profiles)
        fitted = fit_profile_head(model, dataset, task, train_profiles=profiles, seed=seed, folds=folds,
                                  metric=metric, weights=weights)
        logits = fitted["train_logits"].double()
        if not fitted["folds"]:
            loss = -fitted["valid"] if higher_is_better(fitted["metric"]) else fitted["valid"]
        else:
            loss = out_of_fold_loss(is_classification(task), targets, logits.numpy())
        fits[k] = {"head": model.profile, "fit": fitted,
                   "scores": {"C": fitted["C"], "valid": fitted["valid"], "out_of_fold": loss}}
    return fits


def best_profile_kmer_size(fits: dict[int, dict[str, Any]]) -> int:
    """The k of the fit (:func:`fit_profile_kmer_sizes`) with the lowest out-of-fold loss; ties keep the smaller k."""
    return min(fits, key=lambda k: (fits[k]["scores"]["out_of_fold"], k))


__all__ = ["C_GRID", "PROFILE_KMER_SIZES", "REGRESSION_C_GRID", "best_c_on_valid", "best_profile_kmer_size",
           "fit_profile_head", "fit_profile_kmer_sizes", "fit_profile_statistics", "head_is_fitted", "out_of_fold_logits",
           "out_of_fold_loss", "pair_profiles", "split_profiles", "whole_profiles", "whole_sequences"]
