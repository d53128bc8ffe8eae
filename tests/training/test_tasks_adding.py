"""Adding-problem datasets train as regression that reports and selects on ``reg_acc``."""

from __future__ import annotations

import numpy as np

from genomix.datasets.adding import build_adding, reg_acc
from genomix.datasets.store import open_dataset
from genomix.training import metrics
from genomix.training.tasks import make_task


def test_adding_dataset_selects_on_reg_acc(tmp_path):
    path = tmp_path / "adding.h5"
    build_adding(path, base_length=20, n_train=40, n_valid=8, n_test=8, max_length=200, seed=3)
    with open_dataset(path) as dataset:
        task = make_task(dataset)
        assert task.default_metric == "reg_acc" and metrics.higher_is_better(task.default_metric)
        targets = np.asarray(dataset.split("valid").labels, dtype=np.float64)
    predictions = targets + np.where(np.arange(len(targets)) % 2 == 0, 0.01, 0.1)
    values = task.metrics(targets, predictions)
    assert values["reg_acc"] == reg_acc(predictions, targets) == 0.5
