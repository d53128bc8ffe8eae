"""Masking statistics: fraction, replacement mix, never N or padding, determinism, untouched positions."""

from __future__ import annotations

import numpy as np
import pytest

from genomix.training.masking import IGNORE, MASK_TOKEN, MaskingPlan, mask_tokens


def _batch(seed: int = 0, n: int = 3, length: int = 40_000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random DNA tokens with every kind of symbol: bases, N, ambiguity codes and padding (0)."""
    rng = np.random.default_rng(seed)
    tokens = rng.choice(np.arange(0, 16), size=n * length, p=[0.05] + [0.15] * 4 + [0.1] + [0.25 / 10] * 10)
    return tokens.astype(np.uint8), np.full(n, length), np.arange(n) + 10


@pytest.mark.parametrize("plan", [MaskingPlan(), MaskingPlan(fraction=0.3, random=0.2, keep=0.3),
                                  MaskingPlan(fraction=0.05, random=0.0, keep=0.0)])
def test_fraction_and_replacement_mix(plan):
    tokens, lengths, indices = _batch()
    inputs, targets = mask_tokens(tokens, lengths, indices, plan=plan, seed=1, epoch=0)
    bases = (tokens >= 1) & (tokens <= 4)
    chosen = targets != IGNORE
    n = int(chosen.sum())
    assert abs(n / bases.sum() - plan.fraction) < 4 * np.sqrt(plan.fraction / bases.sum())
    original = tokens[chosen]
    given = inputs[chosen]
    masked = np.mean(given == MASK_TOKEN)
    other_base = np.mean((given != MASK_TOKEN) & (given != original))  # a random base that differs
    same = np.mean(given == original)  # kept, or a random draw of the same base
    tolerance = 4 / np.sqrt(n)
    assert abs(masked - (1 - plan.random - plan.keep)) < tolerance
    assert abs(other_base - plan.random * 3 / 4) < tolerance
    assert abs(same - (plan.keep + plan.random / 4)) < tolerance
    assert set(np.unique(given)) <= {1, 2, 3, 4, MASK_TOKEN}


def test_targets_are_the_original_bases_and_never_n_ambiguity_or_padding():
    tokens, lengths, indices = _batch()
    inputs, targets = mask_tokens(tokens, lengths, indices, plan=MaskingPlan(fraction=0.9), seed=2, epoch=0)
    chosen = targets != IGNORE
    assert np.all((tokens[chosen] >= 1) & (tokens[chosen] <= 4))
    assert np.array_equal(targets[chosen], tokens[chosen].astype(np.int64) - 1)
    assert not chosen[tokens == 0].any() and not chosen[tokens == 5].any() and not chosen[tokens > 5].any()
    assert np.array_equal(inputs[~chosen], tokens[~chosen])  # nothing else changes


def test_masks_are_seeded_per_sequence_and_epoch():
    tokens, lengths, indices = _batch(n=2, length=5_000)
    plan = MaskingPlan()
    first = mask_tokens(tokens, lengths, indices, plan=plan, seed=3, epoch=1)
    again = mask_tokens(tokens, lengths, indices, plan=plan, seed=3, epoch=1)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    other_epoch = mask_tokens(tokens, lengths, indices, plan=plan, seed=3, epoch=2)
    assert not np.array_equal(first[1], other_epoch[1])
    # a sequence's mask depends on its index, not on its batch neighbours
    alone = mask_tokens(tokens[5_000:], lengths[1:], indices[1:], plan=plan, seed=3, epoch=1)
    assert np.array_equal(alone[1], first[1][5_000:])


@pytest.mark.parametrize("values", [dict(fraction=0.0), dict(fraction=1.5), dict(random=0.6, keep=0.5),
                                    dict(keep=-0.1)])
def test_bad_plans_are_refused(values):
    with pytest.raises(ValueError):
        MaskingPlan(**values)
