"""Tasks' training targets: element ranks (normal scores within each element) and where they apply."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm, spearmanr

from genomix.datasets.store import open_dataset
from genomix.errors import ConfigError
from genomix.training.tasks import element_groups, group_normal_scores, make_task


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
