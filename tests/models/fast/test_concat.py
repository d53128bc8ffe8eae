"""The pooled split and join of a batch's row groups equal torch.split / torch.cat, gradients included."""

from __future__ import annotations

import pytest
import torch

from genomix.models.fast import buffers
from genomix.models.fast.concat import cat_rows, split_rows


@pytest.mark.parametrize("pooled", [False, True])
def test_split_then_cat_equals_torch_with_gradients(pooled, monkeypatch):
    if pooled:  # small tensors through the pool too, so the reused-buffer code runs
        monkeypatch.setattr(buffers, "MIN_BYTES", 0)
        monkeypatch.setattr(buffers, "POOL", buffers.BufferPool())
    torch.manual_seed(0)
    sizes = [5, 3, 8]
    weights = [torch.randn(4, 4) for _ in sizes]
    results = []
    for split, cat in ((split_rows, cat_rows), (lambda r, s: torch.split(r, s), torch.cat)):
        rows = torch.randn(16, 4, generator=torch.Generator().manual_seed(1)).requires_grad_()
        for _ in range(2):  # the second step reuses the first one's buffers
            rows.grad = None
            out = cat([part @ weight for part, weight in zip(split(rows, sizes), weights)])
            (out * torch.arange(out.numel()).view_as(out)).sum().backward()
        results.append((out.detach(), rows.grad))
    torch.testing.assert_close(results[0][0], results[1][0], rtol=0, atol=0)
    torch.testing.assert_close(results[0][1], results[1][1], rtol=0, atol=0)


def test_a_part_without_gradient_gets_zeros(monkeypatch):
    monkeypatch.setattr(buffers, "MIN_BYTES", 0)
    monkeypatch.setattr(buffers, "POOL", buffers.BufferPool())
    rows = torch.randn(6, 2).requires_grad_()
    first, second = split_rows(rows, [2, 4])
    # fill the pool's buffer with garbage first: the unused part's gradient must still be zero
    buffers.POOL.empty((6, 2), torch.float32).fill_(7.0)
    first.sum().backward()
    expected = torch.cat([torch.ones(2, 2), torch.zeros(4, 2)])
    torch.testing.assert_close(rows.grad, expected, rtol=0, atol=0)


def test_without_gradients_it_is_torch():
    rows = torch.randn(6, 2)
    parts = split_rows(rows, [2, 4])
    assert [part.data_ptr() for part in parts] == [rows.data_ptr(), rows[2:].data_ptr()]
    torch.testing.assert_close(cat_rows(parts), rows, rtol=0, atol=0)
