"""Stratified and grouped splits."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from genomix.datasets.splits import merge_groups, parse_fractions, split_indices
from genomix.errors import ConfigError


def test_every_item_in_exactly_one_split_and_classes_stratified():
    labels = ["a"] * 50 + ["b"] * 30 + ["c"] * 20
    parts = split_indices(labels, (0.8, 0.1, 0.1), seed=3)
    everything = np.concatenate(list(parts.values()))
    assert sorted(everything.tolist()) == list(range(100))
    assert Counter(labels[i] for i in parts["train"]) == {"a": 40, "b": 24, "c": 16}
    assert Counter(labels[i] for i in parts["test"]) == {"a": 5, "b": 3, "c": 2}


def test_same_seed_same_split_other_seed_other_split():
    labels = [str(i % 4) for i in range(200)]
    first = split_indices(labels, (0.7, 0.15, 0.15), seed=1)
    again = split_indices(labels, (0.7, 0.15, 0.15), seed=1)
    other = split_indices(labels, (0.7, 0.15, 0.15), seed=2)
    assert all((first[k] == again[k]).all() for k in first)
    assert any(not np.array_equal(first[k], other[k]) for k in first)


def test_groups_never_span_splits():
    rng = np.random.default_rng(0)
    labels = rng.choice(["x", "y"], 300).tolist()
    groups = rng.integers(0, 40, 300).tolist()
    parts = split_indices(labels, (0.6, 0.2, 0.2), seed=0, groups=groups)
    where = {}
    for name, items in parts.items():
        for i in items:
            assert where.setdefault(groups[i], name) == name
    assert all(len(items) for items in parts.values())


def test_zero_fraction_split_stays_empty():
    parts = split_indices(["a"] * 10, (0.5, 0.0, 0.5), seed=0)
    assert len(parts["valid"]) == 0 and len(parts["train"]) == 5


def test_merge_groups_links_through_any_key():
    groups = merge_groups(["g1", "g2", "g3", None], ["h1", "h1", "h2", "h2"])
    assert groups.tolist() == [0, 0, 1, 1]


@pytest.mark.parametrize("text", ["0.8,0.1", "0.8,0.3,0.1", "a,b,c", "0,0.5,0.5", "-0.1,0.6,0.5"])
def test_bad_fractions(text):
    with pytest.raises(ConfigError):
        parse_fractions(text)


def test_fractions_parse():
    assert parse_fractions("0.8,0.1,0.1") == (0.8, 0.1, 0.1)
