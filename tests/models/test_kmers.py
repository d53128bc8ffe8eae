"""k-mer ids and profiles: equal to the baseline's numpy profiles, never across sequence boundaries."""

import numpy as np
import pytest
import torch

from genomix.models.kmers import FIRST_KMER, NO_KMER, kmer_counts, kmer_ids, kmer_profiles, kmer_vocab_size
from genomix.training.baseline import kmer_profiles as baseline_profiles


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_acgt_profiles_equal_the_baselines(k):
    rng = np.random.default_rng(k)
    lengths = np.array([5, 1, 40, 3, 17, 2])
    tokens = rng.integers(1, 7, lengths.sum()).astype(np.uint8)  # A C G T plus N and an IUPAC code
    ids = kmer_ids(torch.from_numpy(tokens.astype(np.int64)), torch.from_numpy(lengths), k=k, vocab="acgt")
    profiles = kmer_profiles(ids, torch.from_numpy(lengths), kmer_vocab_size(k, "acgt", 0))
    np.testing.assert_allclose(profiles.numpy(), baseline_profiles(tokens, lengths, k=k), atol=1e-7)


def test_a_kmer_never_reads_the_next_sequence():
    tokens = torch.tensor([1, 2, 3, 4, 1, 2])
    ids = kmer_ids(tokens, torch.tensor([3, 3]), k=2, vocab="acgt")
    # AC, CG, (G|T crosses) -> no k-mer; TA, AC, (C end) -> no k-mer
    assert ids.tolist() == [FIRST_KMER + 1, FIRST_KMER + 6, NO_KMER, FIRST_KMER + 12, FIRST_KMER + 1, NO_KMER]


def test_ids_are_batch_invariant_and_equal_length_matches_concatenated():
    rng = np.random.default_rng(0)
    tokens = torch.from_numpy(rng.integers(1, 6, (3, 50)))
    concatenated = kmer_ids(tokens.reshape(-1), torch.tensor([50, 50, 50]), k=4, vocab="acgt")
    alone = torch.cat([kmer_ids(row, torch.tensor([50]), k=4, vocab="acgt") for row in tokens])
    assert torch.equal(concatenated, alone)
    assert torch.equal(kmer_ids(tokens, None, k=4, vocab="acgt").reshape(-1), concatenated)


def test_hashed_ids_stay_in_range_and_padding_stays_zero():
    tokens = torch.tensor([0, 200, 17, 255, 3, 0])
    ids = kmer_ids(tokens, torch.tensor([6]), k=3, vocab="hashed", buckets=7)
    assert ids[0] == 0 and ids[-1] == 0
    assert int(ids.max()) < kmer_vocab_size(3, "hashed", 7)


@pytest.mark.parametrize("kwargs, message", [
    (dict(k=0, vocab="acgt", buckets=1), "kmer_size"),
    (dict(k=3, vocab="protein", buckets=1), "kmer_vocab"),
    (dict(k=3, vocab="hashed", buckets=0), "kmer_buckets"),
])
def test_bad_options_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        kmer_vocab_size(**kwargs)


def test_counts_are_the_unnormalised_profiles():
    tokens = torch.tensor([1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 3, 3, 4, 4])  # ACGTAC, NACGGGTT
    lengths = torch.tensor([6, 8])
    ids = kmer_ids(tokens, lengths, k=2, vocab="acgt")
    counts = kmer_counts(ids, lengths, kmer_vocab_size(2, "acgt", 0))
    assert counts.sum(1).tolist() == [5.0, 6.0]  # NACGGGTT: the 2-mer with N is not counted
    assert counts[0, 0 * 4 + 1].item() == 2.0  # "AC" twice in ACGTAC
    assert torch.allclose(counts / counts.sum(1, keepdim=True), kmer_profiles(ids, lengths, kmer_vocab_size(2, "acgt", 0)))
