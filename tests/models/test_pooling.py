"""Per-sequence pooling: means and position moments over concatenated rows, against plain loops."""

from __future__ import annotations

import pytest
import torch

from genomix.models.pooling import position_ramp, segment_mean, segment_moments

LENGTHS = torch.tensor([3, 5, 1, 7, 2])


def _rows(dtype=torch.float64, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(int(LENGTHS.sum()), 6, generator=generator, dtype=dtype)


def _per_sequence(rows, lengths):
    return torch.split(rows, lengths.tolist())


def test_the_ramp_rises_along_each_sequence_with_mean_zero_and_variance_near_one():
    ramp = position_ramp(torch.tensor([1, 2, 500, 7]))
    one, two, long, seven = _per_sequence(ramp, torch.tensor([1, 2, 500, 7]))
    assert one.tolist() == [0.0]
    assert torch.all(two[1:] > two[:-1]) and torch.all(long[1:] > long[:-1]) and torch.all(seven[1:] > seven[:-1])
    for piece in (two, long, seven):
        assert abs(float(piece.mean())) < 1e-6
        assert float(piece.pow(2).mean()) == pytest.approx(1 - 1 / len(piece) ** 2, rel=1e-5)


@pytest.mark.parametrize("chunk", [1, 4, 1 << 13])
def test_moments_are_the_mean_and_the_ramp_weighted_mean_of_each_sequence(chunk):
    rows = _rows()
    moments = segment_moments(rows, LENGTHS, chunk=chunk)
    ramps = _per_sequence(position_ramp(LENGTHS).double(), LENGTHS)
    expected = torch.stack([torch.cat([piece.mean(0), (piece * ramp[:, None]).mean(0)])
                            for piece, ramp in zip(_per_sequence(rows, LENGTHS), ramps)])
    torch.testing.assert_close(moments, expected)
    torch.testing.assert_close(moments[:, :6], segment_mean(rows, LENGTHS))


def test_moment_gradients_match_finite_differences():
    rows = _rows().requires_grad_()
    assert torch.autograd.gradcheck(lambda x: segment_moments(x, LENGTHS, chunk=4), (rows,))


def test_bf16_rows_are_accumulated_in_float32():
    rows = _rows(torch.float32)
    moments = segment_moments(rows.to(torch.bfloat16), LENGTHS)
    assert moments.dtype == torch.float32
    torch.testing.assert_close(moments, segment_moments(rows.to(torch.bfloat16).float(), LENGTHS))


def test_a_sequences_moments_do_not_depend_on_its_batch():
    rows = _rows()
    pieces = _per_sequence(rows, LENGTHS)
    alone = torch.cat([segment_moments(piece, LENGTHS[i:i + 1]) for i, piece in enumerate(pieces)])
    order = [3, 0, 4, 2, 1]
    shuffled = segment_moments(torch.cat([pieces[i] for i in order]), LENGTHS[order])
    torch.testing.assert_close(alone, segment_moments(rows, LENGTHS))
    torch.testing.assert_close(shuffled, alone[order])


def test_the_moment_tells_which_half_of_a_sequence_a_feature_lies_in():
    first, last = torch.zeros(10, 1, dtype=torch.float64), torch.zeros(10, 1, dtype=torch.float64)
    first[1], last[8] = 1.0, 1.0
    mean_first, moment_first = segment_moments(first, torch.tensor([10]))[0]
    mean_last, moment_last = segment_moments(last, torch.tensor([10]))[0]
    assert mean_first == mean_last
    assert moment_first < 0 < moment_last
