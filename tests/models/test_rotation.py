"""The rotation permutation: one gather equals the per-sequence, per-track rolls it replaces."""

from __future__ import annotations

import torch
from plain_chordmixer import plain_rotate

from genomix.models.rotation import build_rotation, rotate, rotate_add, track_shifts


def test_track_shifts():
    assert track_shifts(1) == [0]
    assert track_shifts(5) == [0, 1, 2, 4, 8]


def test_one_gather_equals_rolls_per_sequence_and_track():
    lengths = [5, 1, 2, 17, 64, 3]
    n_tracks, track_size = 6, 3
    rows = torch.randn(sum(lengths), n_tracks * track_size)
    rotation = build_rotation(torch.tensor(lengths), n_tracks)
    expected = torch.cat([plain_rotate(part, track_size, dim=0) for part in torch.split(rows, lengths)])
    torch.testing.assert_close(rotate(rows, rotation.index, n_tracks), expected, atol=0, rtol=0)


def test_inverse_undoes_index_and_prefix_is_self_contained():
    lengths = torch.tensor([40, 9, 3, 1])
    rotation = build_rotation(lengths, 7)
    n = rotation.index.numel()
    assert torch.equal(rotation.index.long()[rotation.inverse.long()], torch.arange(n))
    for n_tokens in (40, 49, 52, 53):
        index, inverse = rotation.prefix(n_tokens)
        assert int(index.max()) < n_tokens * 7 and int(inverse.max()) < n_tokens * 7


def test_rotate_add_backward_is_the_inverse_gather():
    lengths = torch.tensor([11, 4])
    rotation = build_rotation(lengths, 4)
    residual = torch.randn(15, 8, dtype=torch.float64, requires_grad=True)
    update = torch.randn(15, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda r, u: rotate_add(r, u, rotation.index, rotation.inverse, 4), (residual, update))


def test_rotate_add_keeps_bf16_bits():
    rotation = build_rotation(torch.tensor([9, 7]), 3)
    update = torch.randn(16, 6).bfloat16()
    out = rotate_add(torch.zeros(16, 6, dtype=torch.bfloat16), update, rotation.index, rotation.inverse, 3)
    assert out.dtype == torch.bfloat16
    assert torch.equal(out, rotate(update.float(), rotation.index, 3).bfloat16())


def test_vectorised_and_track_by_track_tables_agree(monkeypatch):
    import genomix.models.rotation as rotation_module

    lengths = torch.tensor([300, 7, 1, 64])
    fast = build_rotation(lengths, 9)
    monkeypatch.setattr(rotation_module, "_VECTORISED_ENTRIES", 0)
    slow = build_rotation(lengths, 9)
    assert torch.equal(fast.index, slow.index) and torch.equal(fast.inverse, slow.inverse)
    assert build_rotation(lengths, 9, with_inverse=False).inverse is None
