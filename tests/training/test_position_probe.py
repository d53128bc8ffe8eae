"""The probe behind ``model.pooling='auto'``: k-mer frequencies with and without where the k-mers lie."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genomix.datasets.store import open_dataset
from genomix.models.pooling import position_ramp
from genomix.training.position_probe import positional_profiles, probe_positions
from genomix.training.tasks import make_task


class _Split:
    """The two things the probe reads of a split."""

    def __init__(self, sequences):
        code = {base: i + 1 for i, base in enumerate("ACGTN")}
        self.tokens = [np.array([code[b] for b in s], dtype=np.uint8) for s in sequences]
        self.lengths = np.array([len(s) for s in sequences])

    def read_many(self, indices):
        return np.concatenate([self.tokens[i] for i in indices]), self.lengths[indices]


def test_each_kmer_gets_its_frequency_and_where_it_lies():
    sequences = ["AAAAC", "CAAAA", "ACGTNACGT"]
    profiles = positional_profiles(_Split(sequences), k=4, chunk_tokens=6)
    assert profiles.shape == (3, 512)
    aaaa, aaac, caaa, acgt = 0, 1, 64, 27
    np.testing.assert_allclose(profiles[:, :256].sum(1), 1.0)
    ramp = lambda length: position_ramp(torch.tensor([length])).double().numpy()  # noqa: E731
    np.testing.assert_allclose(profiles[0, [aaaa, aaac]], [0.5, 0.5])
    np.testing.assert_allclose(profiles[0, 256 + aaaa], ramp(5)[0] / 2)  # first k-mer near the start
    np.testing.assert_allclose(profiles[1, 256 + aaaa], ramp(5)[1] / 2)
    assert profiles[1, 256 + caaa] < profiles[1, 256 + aaaa]  # CAAA starts before AAAA
    np.testing.assert_allclose(profiles[2, acgt], 1.0)  # no k-mer spans the N
    np.testing.assert_allclose(profiles[2, 256 + acgt], (ramp(9)[0] + ramp(9)[5]) / 2)


def test_the_probe_wants_places_where_order_decides(order_h5):
    dataset = open_dataset(order_h5)
    task = make_task(dataset)
    choice = probe_positions(dataset, task, output_size=2)
    assert choice["chosen"] == "moments"
    assert choice["scores"]["moments"]["out_of_fold"] < 0.8 * choice["scores"]["mean"]["out_of_fold"]
    assert choice == probe_positions(dataset, task, output_size=2)  # deterministic: a resumed run chooses the same


def test_a_subset_of_records_gets_the_same_rows_and_a_large_split_is_probed_on_a_seeded_subset(order_h5, monkeypatch):
    import genomix.training.position_probe as probe

    dataset = open_dataset(order_h5)
    rows = np.array([5, 2, 700, 3])
    np.testing.assert_array_equal(positional_profiles(dataset.split("train"), rows, chunk_tokens=300),
                                  positional_profiles(dataset.split("train"))[rows])
    monkeypatch.setattr(probe, "MAX_RECORDS", 600)
    task = make_task(dataset)
    choice = probe_positions(dataset, task, output_size=2)
    assert choice["chosen"] == "moments" and choice == probe_positions(dataset, task, output_size=2)
    assert choice != probe_positions(dataset, task, output_size=2, seed=1)  # another subset, other scores


def test_the_probe_keeps_the_mean_where_composition_decides(orchid_h5):
    dataset = open_dataset(orchid_h5)
    assert probe_positions(dataset, make_task(dataset), output_size=len(dataset.classes))["chosen"] == "mean"


@pytest.mark.parametrize("n_train", [1, 3])
def test_too_few_records_keep_the_mean(tmp_path, n_train):
    from genomix.datasets.store import SplitArrays, write_dataset

    rng = np.random.default_rng(0)
    def split(n):
        return SplitArrays(tokens=rng.integers(1, 5, 50 * n).astype(np.uint8),
                           offsets=np.arange(n + 1, dtype=np.int64) * 50, labels=np.arange(n) % 2,
                           ids=[f"s{i}" for i in range(n)])
    path = tmp_path / "tiny.h5"
    write_dataset(path, {"train": split(n_train), "valid": split(2)}, task="classification", alphabet="dna",
                  vocab={b: i + 1 for i, b in enumerate("ACGTN")}, classes=["x", "y"], provenance={})
    dataset = open_dataset(path)
    assert probe_positions(dataset, make_task(dataset), output_size=2) == {
        "chosen": "mean", "by": "too few training records for a probe of k-mer places", "scores": {}}
