"""The unigram and k-mer context predictors against a plain dictionary count."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import pytest

from genomix.training.masking import IGNORE, MaskingPlan, mask_tokens
from genomix.training.mlm_baselines import ContextPredictor, Scores, UnigramPredictor, context_codes


def _masked(seed: int, lengths=(300, 1, 57, 800)):
    rng = np.random.default_rng(seed)
    lengths = np.asarray(lengths)
    tokens = rng.choice(np.arange(1, 7), size=int(lengths.sum()), p=[0.3, 0.2, 0.2, 0.2, 0.05, 0.05]).astype(np.uint8)
    inputs, targets = mask_tokens(tokens, lengths, np.arange(len(lengths)), plan=MaskingPlan(fraction=0.4),
                                  seed=seed, epoch=0)
    return inputs, lengths, targets


def _plain_context(inputs, lengths, position, k):
    """The window of symbols around ``position`` by plain indexing ('other' past the sequence's ends)."""
    ends = np.cumsum(lengths)
    sequence = int(np.searchsorted(ends, position, side="right"))
    first, last = ends[sequence] - lengths[sequence], ends[sequence] - 1
    window = []
    for offset in range(-k, k + 1):
        p = position + offset
        token = int(inputs[p]) if first <= p <= last else 0
        window.append(token - 1 if 1 <= token <= 4 else 4)
    return tuple(window)


@pytest.mark.parametrize("k", [0, 1, 3])
def test_context_predictor_equals_a_dictionary_count(k):
    predictor = ContextPredictor(k)
    reference: dict[tuple, Counter] = defaultdict(Counter)
    for seed in (1, 2):
        inputs, lengths, targets = _masked(seed)
        predictor.add(inputs, lengths, targets)
        for position in np.flatnonzero(targets != IGNORE):
            reference[_plain_context(inputs, lengths, position, k)][int(targets[position])] += 1
    inputs, lengths, targets = _masked(3)
    positions = np.flatnonzero(targets != IGNORE)
    log_p = predictor.log_probabilities(inputs, lengths, positions)
    for row, position in zip(log_p, positions):
        counts = reference[_plain_context(inputs, lengths, position, k)]
        expected = np.array([counts[b] + 1.0 for b in range(4)])
        np.testing.assert_allclose(np.exp(row), expected / expected.sum(), rtol=1e-12)
    codes = context_codes(inputs, lengths, positions, k=k)
    assert codes.min() >= 0 and codes.max() < 5 ** (2 * k + 1)


def test_unigram_and_scores():
    inputs, lengths, targets = _masked(4)
    unigram = UnigramPredictor()
    unigram.add(inputs, lengths, targets)
    chosen = targets[targets != IGNORE]
    counts = np.bincount(chosen, minlength=4)
    positions = np.flatnonzero(targets != IGNORE)
    log_p = unigram.log_probabilities(inputs, lengths, positions)
    np.testing.assert_allclose(np.exp(log_p[0]), (counts + 1) / (counts.sum() + 4))
    scores = Scores()
    scores.add(log_p, chosen)
    result = scores.result()
    assert result["accuracy"] == pytest.approx(np.mean(chosen == np.argmax(counts)))
    assert result["perplexity"] == pytest.approx(np.exp(-np.mean(log_p[np.arange(len(chosen)), chosen])))
    assert Scores().result()["accuracy"] is None
