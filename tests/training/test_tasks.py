"""Tasks' training targets (element ranks: normal scores within each element) and sample weights, and where
they apply."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import norm, spearmanr

from genomix.datasets.store import open_dataset
from genomix.errors import ConfigError
from genomix.training.tasks import (
    ClassificationTask,
    RegressionTask,
    element_groups,
    group_normal_scores,
    make_task,
    sample_weights,
)


def test_group_normal_scores_keep_the_order_within_each_group_and_forget_its_scale():
    rng = np.random.default_rng(0)
    groups = np.repeat(["a", "b", "c"], [50, 30, 1])
    labels = rng.standard_normal(81) * np.repeat([0.1, 5.0, 1.0], [50, 30, 1]) + np.repeat([3.0, -2.0, 0.0], [50, 30, 1])
    scores = group_normal_scores(labels, groups)
    for group, n in (("a", 50), ("b", 30)):
        members = groups == group
        assert spearmanr(scores[members], labels[members])[0] == pytest.approx(1.0)
        np.testing.assert_allclose(np.sort(scores[members]), norm.ppf((np.arange(1, n + 1) - 0.5) / n))
    assert scores[groups == "c"].tolist() == [0.0]  # a group of one
    tied = group_normal_scores(np.array([1.0, 1.0, 2.0]), np.array(["g"] * 3))
    assert tied[0] == tied[1] < tied[2]
    with pytest.raises(ValueError, match="one per label"):
        group_normal_scores(labels, groups[:-1])


def test_auto_ranks_within_elements_and_selects_by_spearman(elements_h5):
    dataset = open_dataset(elements_h5)
    task = make_task(dataset, regression_targets="auto")
    groups = element_groups(dataset, "train")
    labels = np.asarray(dataset.split("train").labels)
    np.testing.assert_allclose(task.inner.train_targets.numpy(), group_normal_scores(labels, groups), atol=1e-6)
    assert task.default_metric == "spearman"
    plain = make_task(dataset, regression_targets="standardised")
    assert plain.inner.train_targets is None and plain.default_metric == "mse"
    assert task.scores(task.labels_tensor(labels[:5]).view(-1, 1)) == pytest.approx(labels[:5], abs=1e-5)


def test_element_ranks_need_element_references(orchid_gc_h5):
    dataset = open_dataset(orchid_gc_h5)
    assert element_groups(dataset, "train") is None
    assert make_task(dataset, regression_targets="auto").train_targets is None
    with pytest.raises(ConfigError, match="element references"):
        make_task(dataset, regression_targets="element_ranks")


def test_element_ranks_are_refused_for_classification(orchid_h5):
    with pytest.raises(ConfigError, match="regression datasets"):
        make_task(open_dataset(orchid_h5), regression_targets="element_ranks")
    assert make_task(open_dataset(orchid_h5), regression_targets="auto").name == "classification"


def test_sample_weights_are_the_datasets_weights_scaled_to_mean_one(weighted_elements_h5, elements_h5):
    dataset = open_dataset(weighted_elements_h5)
    raw = np.asarray(dataset.split("train").meta("weight"))
    assert raw.min() >= 1 and len(np.unique(raw)) > 10
    for how, expected in (("auto", np.sqrt(raw)), ("sqrt", np.sqrt(raw)), ("linear", raw)):
        np.testing.assert_allclose(sample_weights(dataset, "train", how).numpy(), expected / expected.mean(), rtol=1e-6)
    assert sample_weights(dataset, "train", "none") is None
    plain = open_dataset(elements_h5)
    assert sample_weights(plain, "train", "auto") is None
    with pytest.raises(ConfigError, match="needs per-record weights"):
        sample_weights(plain, "train", "sqrt")
    with pytest.raises(ConfigError, match="sample_weights should be one of"):
        sample_weights(plain, "train", "balanced")


@pytest.mark.parametrize("class_weights", ["none", "balanced"])
def test_weighted_classification_loss_equals_repeating_records(class_weights):
    """An integer weight counts a record that many times (class weights still apply)."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 12)
    task = ClassificationTask(["a", "b", "c"], labels, class_weights=class_weights)
    outputs = torch.from_numpy(rng.standard_normal((12, 3))).float()
    counts = torch.from_numpy(rng.integers(0, 4, 12)).float()
    repeated = torch.repeat_interleave(torch.arange(12), counts.long())
    target = torch.from_numpy(labels)
    expected = task.loss(outputs[repeated], target[repeated])
    torch.testing.assert_close(task.loss(outputs, target, counts), expected)
    torch.testing.assert_close(task.loss(outputs, target, torch.ones(12)), task.loss(outputs, target))


def test_weighted_regression_loss_equals_repeating_records():
    rng = np.random.default_rng(1)
    labels = rng.standard_normal(10)
    task = RegressionTask(labels)
    outputs = torch.from_numpy(rng.standard_normal((10, 1))).float()
    target = task.labels_tensor(labels)
    counts = torch.tensor([0, 1, 2, 3, 0, 1, 5, 1, 1, 2], dtype=torch.float32)
    repeated = torch.repeat_interleave(torch.arange(10), counts.long())
    torch.testing.assert_close(task.loss(outputs, target, counts), task.loss(outputs[repeated], target[repeated]))
    assert task.loss(outputs, target, torch.zeros(10)).item() == 0.0  # a batch of zero weights adds nothing


def test_weights_all_zero_are_refused(weighted_elements_h5, tmp_path):
    import shutil

    import h5py

    copy = Path(shutil.copy(weighted_elements_h5, tmp_path / "zero.h5"))
    with h5py.File(copy, "a") as handle:
        handle["train/meta/weight"][...] = 0.0
    with pytest.raises(ConfigError, match="the train split's weights are all zero"):
        sample_weights(open_dataset(copy), "train", "auto")
