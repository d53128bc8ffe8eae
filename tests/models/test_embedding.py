"""The low-precision token embedding: nn.Embedding's values and gradients, without float32 rows."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import genomix.models.embedding as embedding
from genomix import ChordMixer
from genomix.models.embedding import embed_low_precision


@pytest.mark.parametrize("padding_idx", [0, None])
def test_equals_embedding_then_conversion(padding_idx, monkeypatch):
    monkeypatch.setattr(embedding, "GRAD_CHUNK", 7)  # several chunks
    torch.manual_seed(0)
    table = nn.Embedding(6, 10, padding_idx=padding_idx)
    tokens = torch.randint(0, 6, (3, 40))
    grad = torch.randn(3, 40, 10).bfloat16()

    reference = table(tokens).bfloat16()
    reference.backward(grad)
    expected = table.weight.grad.clone()
    table.weight.grad = None

    out = embed_low_precision(tokens, table.weight, padding_idx, torch.bfloat16)
    out.backward(grad)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out, reference, atol=0, rtol=0)
    assert table.weight.grad.dtype == torch.float32
    torch.testing.assert_close(table.weight.grad, expected, atol=1e-5, rtol=1e-5)
    if padding_idx is not None:
        assert not table.weight.grad[padding_idx].any()


def test_gradient_sums_in_float32_over_many_rows():
    """Tens of thousands of bf16 gradients of one token: a bf16 running sum would stall."""
    weight = nn.Parameter(torch.zeros(2, 4))
    tokens = torch.ones(50_000, dtype=torch.int64)
    embed_low_precision(tokens, weight, 0, torch.bfloat16).backward(torch.full((50_000, 4), 0.01).bfloat16())
    expected = 50_000 * torch.tensor(0.01).bfloat16().float()
    torch.testing.assert_close(weight.grad[1], expected.expand(4), rtol=1e-4, atol=0)


def test_model_under_autocast_embeds_in_bf16_and_matches_float32_embedding():
    torch.manual_seed(0)
    model = ChordMixer(input_size=5, output_size=2, max_seq_len=256, track_size=2, hidden_size=8,
                       var_len=True, prenorm="LN")
    tokens = torch.randint(1, 5, (300,))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        rows = model.embed(tokens)
    assert rows.dtype == torch.bfloat16
    torch.testing.assert_close(rows.float(), model.embedding(tokens).bfloat16().float(), atol=0, rtol=0)
