"""Training augmentation: reverse complements drawn per sequence, reproducible from (seed, epoch, index)."""

import numpy as np

from genomix.alphabet import reverse_complement
from genomix.training.augment import random_reverse_complements


def _batch():
    rng = np.random.default_rng(0)
    lengths = np.array([7, 1, 30, 12] * 8)
    return rng.integers(1, 16, lengths.sum()).astype(np.uint8), lengths


def test_each_sequence_is_itself_or_its_reverse_complement_and_both_occur():
    tokens, lengths = _batch()
    out = random_reverse_complements(tokens, lengths, np.arange(len(lengths)), seed=0, epoch=0)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    flipped = 0
    for k in range(len(lengths)):
        piece, new = tokens[starts[k]:starts[k + 1]], out[starts[k]:starts[k + 1]]
        same, rc = np.array_equal(new, piece), np.array_equal(new, reverse_complement(piece))
        assert same or rc
        flipped += rc and not same
    assert 0 < flipped < len(lengths)


def test_the_draw_depends_on_seed_epoch_and_index_only():
    tokens, lengths = _batch()
    indices = np.arange(len(lengths))
    a = random_reverse_complements(tokens, lengths, indices, seed=3, epoch=2)
    assert np.array_equal(a, random_reverse_complements(tokens, lengths, indices, seed=3, epoch=2))
    assert not np.array_equal(a, random_reverse_complements(tokens, lengths, indices, seed=3, epoch=5))
    assert np.array_equal(tokens, _batch()[0])  # the input is not modified
