"""The adding problem: determinism, length and marker statistics, targets, file layout and size."""

from __future__ import annotations

import math

import numpy as np
import pytest

from genomix.datasets import adding
from genomix.datasets.store import open_dataset
from genomix.errors import ConfigError


def test_same_seed_same_arrays_and_block_size_does_not_matter():
    a = adding.generate_split("train", 40, base_length=200, seed=3)
    b = adding.generate_split("train", 40, base_length=200, seed=3, block_positions=97)
    c = adding.generate_split("train", 40, base_length=200, seed=4)
    assert np.array_equal(a.values, b.values) and np.array_equal(a.labels, b.labels)
    assert np.array_equal(a.offsets, b.offsets)
    assert not np.array_equal(a.offsets, c.offsets)


def test_splits_have_independent_streams():
    train = adding.generate_split("train", 20, base_length=200, seed=0)
    valid = adding.generate_split("valid", 20, base_length=200, seed=0)
    assert not np.array_equal(train.offsets, valid.offsets)


def test_lengths_within_bounds_and_lognormal():
    rng = np.random.default_rng(0)
    lengths = adding.draw_lengths(20_000, base_length=200, max_length=6_700, rng=rng)
    assert lengths.dtype == np.int64 and lengths.min() >= 32 and lengths.max() <= 6_700
    # median of int(200 * LogNormal(0.5, 0.7)) is about 200 * e^0.5 = 330 (truncation at 32 barely moves it)
    assert abs(np.median(lengths) - 200 * math.exp(0.5)) < 15
    short = adding.draw_lengths(2_000, base_length=200, max_length=100, rng=rng)
    assert short.min() >= 32 and short.max() <= 100


def test_exactly_two_markers_and_targets_follow_the_formula():
    split = adding.generate_split("test", 60, base_length=200, max_length=2_000, seed=1, block_positions=1_000)
    values, offsets = split.values, split.offsets
    assert values.dtype == np.float32 and values.shape[1] == 2
    assert np.all(np.abs(values[:, 0]) < 1.0)
    assert set(np.unique(values[:, 1])) <= {0.0, 1.0}
    for k in range(len(split)):
        sequence = values[offsets[k]:offsets[k + 1]]
        marked = np.flatnonzero(sequence[:, 1] == 1.0)
        assert len(marked) == 2
        assert list(marked) == [split.meta["marker1"][k], split.meta["marker2"][k]]
        expected = np.float32(0.5 + (float(sequence[marked[0], 0]) + float(sequence[marked[1], 0])) / 4)
        assert split.labels[k] == expected
    assert np.all((split.labels > 0) & (split.labels < 1))


def test_values_are_uniform_and_symmetric():
    values = adding.draw_values(200_000, rng=np.random.default_rng(0))
    assert values.min() > -1 and values.max() < 1
    assert abs(values.mean()) < 0.01 and abs(values.std() - 1 / math.sqrt(3)) < 0.01


def test_markers_are_distinct_even_for_length_two():
    markers = adding.draw_markers(np.full(1_000, 2), rng=np.random.default_rng(0))
    assert np.all(markers == [0, 1])


def test_build_writes_the_same_arrays_and_a_small_file(tmp_path):
    out = tmp_path / "adding.h5"
    summary = adding.build_adding(out, base_length=1_000, n_train=30, n_valid=5, n_test=0, seed=2,
                                  command=["test"])
    expected = adding.generate_split("train", 30, base_length=1_000, seed=2)
    with open_dataset(out) as dataset:
        assert dataset.task == "regression" and dataset.alphabet == "values"
        assert dataset.split_names == ["train", "valid"]
        train = dataset.split("train")
        data, lengths = train.read_many(range(len(train)))
        assert np.array_equal(data, expected.values) and np.array_equal(train.labels, expected.labels)
        assert np.array_equal(train.offsets, expected.offsets)
        assert dataset.vocab == {"value": 0, "marker": 1}
        assert dataset.provenance["seed"] == 2 and dataset.attrs["base_length"] == 1_000
        assert dataset.attrs["generator"] == "adding"
    assert summary["bytes_per_position"] <= 4.5  # float32 would be 8; measured 3.8 at scale
    assert summary["splits"]["train"]["positions"] == int(expected.offsets[-1])


def test_reg_acc():
    assert adding.reg_acc(np.array([0.5, 0.6, 0.1]), np.array([0.53, 0.5, 0.1])) == pytest.approx(2 / 3)
    assert adding.reg_acc([0.5], [0.54], tolerance=0.05) == 1.0
    assert math.isnan(adding.reg_acc([], []))
    with pytest.raises(ValueError, match="as many predictions as targets"):
        adding.reg_acc([0.1, 0.2], [0.1])


@pytest.mark.parametrize(("base", "max_length", "match"), [
    (300, None, "no published maximum"),
    (200, 10, "at least 32"),
    (0, 100, "at least 1"),
    (200_000, 40, "only a fraction"),
])
def test_bad_options(base, max_length, match):
    with pytest.raises(ConfigError, match=match):
        adding.resolve_max_length(base, max_length)


def test_bad_counts_write_nothing(tmp_path):
    out = tmp_path / "a.h5"
    with pytest.raises(ConfigError, match="--n-train"):
        adding.build_adding(out, base_length=200, n_train=0, n_valid=1, n_test=1)
    assert not out.exists() and not list(tmp_path.iterdir())
