"""Token-budget batch sampler: budget, coverage, determinism, exact length, DDP balance, resume."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genomix.datasets.sampler import TokenBudgetBatchSampler

lengths_strategy = st.lists(st.integers(1, 5000), min_size=1, max_size=300).map(np.array)


@settings(max_examples=60, deadline=None)
@given(lengths=lengths_strategy, max_tokens=st.integers(1, 20000), seed=st.integers(0, 2**16),
       epoch=st.integers(0, 5))
def test_budget_respected_and_every_index_once(lengths, max_tokens, seed, epoch):
    sampler = TokenBudgetBatchSampler(lengths, max_tokens=max_tokens, seed=seed, pool_size=32)
    sampler.set_epoch(epoch)
    batches = list(sampler)
    for batch in batches:
        assert len(batch) >= 1
        assert lengths[batch].sum() <= max_tokens or len(batch) == 1  # too long: alone
    seen = np.concatenate(batches)
    assert np.array_equal(np.sort(seen), np.arange(lengths.size))
    sampler.set_epoch(epoch + 1)
    assert len(sampler) == sampler.num_batches(epoch + 1) == len(list(sampler))


def test_len_is_exact_every_epoch():
    lengths = np.random.default_rng(1).integers(100, 20000, size=900)
    sampler = TokenBudgetBatchSampler(lengths, max_tokens=32768, seed=3)
    for epoch in range(4):
        sampler.set_epoch(epoch)
        expected = len(sampler)
        assert sum(1 for _ in sampler) == expected


def test_seeded_and_epoch_dependent():
    lengths = np.random.default_rng(2).integers(1, 3000, size=200)
    a = TokenBudgetBatchSampler(lengths, max_tokens=5000, seed=7)
    b = TokenBudgetBatchSampler(lengths, max_tokens=5000, seed=7)
    c = TokenBudgetBatchSampler(lengths, max_tokens=5000, seed=8)
    assert list(a) == list(b)
    assert list(TokenBudgetBatchSampler(lengths, max_tokens=5000, seed=7)) != list(c)
    a.set_epoch(1)
    assert list(a) != [batch.tolist() for batch in b.epoch_batches(0)]


def test_similar_lengths_grouped():
    lengths = np.random.default_rng(3).integers(100, 10000, size=1000)
    sampler = TokenBudgetBatchSampler(lengths, max_tokens=40000, seed=0, pool_size=256)
    spreads = [np.ptp(lengths[b]) for b in sampler if len(b) > 1]
    assert np.median(spreads) < 0.1 * np.ptp(lengths)


@pytest.mark.filterwarnings("ignore:.*repeated so that")
@pytest.mark.parametrize("world_size", [2, 3, 4])
@settings(max_examples=25, deadline=None)
@given(lengths=lengths_strategy, max_tokens=st.integers(1, 12000), seed=st.integers(0, 1000))
def test_ddp_equal_counts_disjoint_complete(world_size, lengths, max_tokens, seed):
    samplers = [TokenBudgetBatchSampler(lengths, max_tokens=max_tokens, seed=seed, rank=r, world_size=world_size)
                for r in range(world_size)]
    per_rank = [list(s) for s in samplers]
    assert len({len(batches) for batches in per_rank}) == 1
    flat = [np.concatenate(b) if b else np.array([], dtype=int) for b in per_rank]
    seen = np.concatenate(flat)
    assert set(seen.tolist()) == set(range(lengths.size))
    if seen.size == lengths.size:  # no padding was needed: ranks disjoint, each index once
        assert np.array_equal(np.sort(seen), np.arange(lengths.size))


def test_ddp_pads_only_when_every_batch_is_one_sequence():
    lengths = np.full(5, 100)
    with pytest.warns(UserWarning, match="repeated"):
        batches = [list(TokenBudgetBatchSampler(lengths, max_tokens=50, rank=r, world_size=2)) for r in range(2)]
    assert len(batches[0]) == len(batches[1]) == 3


def test_resume_position_continues_with_next_batch():
    lengths = np.random.default_rng(4).integers(1, 2000, size=300)
    full = TokenBudgetBatchSampler(lengths, max_tokens=4000, seed=5)
    full.set_epoch(2)
    expected = list(full)
    first = TokenBudgetBatchSampler(lengths, max_tokens=4000, seed=5)
    first.set_epoch(2)
    iterator = iter(first)
    head = [next(iterator) for _ in range(7)]
    state = dict(first.state_dict())
    resumed = TokenBudgetBatchSampler(lengths, max_tokens=4000, seed=5)
    resumed.load_state_dict(state)
    assert head + list(resumed) == expected
    with pytest.raises(ValueError, match="seed"):
        TokenBudgetBatchSampler(lengths, max_tokens=4000, seed=6).load_state_dict(state)


@pytest.mark.parametrize("kwargs, message", [
    ({"max_tokens": 0}, "max_tokens"), ({"max_tokens": 10, "pool_size": 0}, "pool_size"),
    ({"max_tokens": 10, "rank": 2, "world_size": 2}, "rank"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TokenBudgetBatchSampler(np.array([1, 2, 3]), **kwargs)
    with pytest.raises(ValueError, match="length"):
        TokenBudgetBatchSampler(np.array([1, 0]), max_tokens=5)
