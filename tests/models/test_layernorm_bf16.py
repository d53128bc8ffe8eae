"""LayerNorm weight and bias gradients under bf16 autocast are bf16-accurate, not lost in a bf16 sum.

ATen's CPU LayerNorm backward sums the parameter gradients in the input's dtype; over 40,000 bf16
rows that sum stalls and the gradients came out 90-98% too small (measured), so LN parameters barely
trained in bf16. genomix's LayerNorm sums them in float32.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genomix import ChordMixer
from genomix.models.norms import LayerNorm, make_norm

ROWS = 40_000


def gradients(model, tokens, lengths, *, bf16):
    model.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        out = model(tokens, lengths)
    (out.float() * torch.linspace(-1, 1, out.numel()).view(out.shape)).sum().backward()
    return {name: p.grad.detach().clone() for name, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("lengths", [[ROWS], [15_000, 9_000, 16_000]], ids=["one sequence", "three"])
def test_bf16_gradients_match_fp32(lengths):
    torch.manual_seed(0)
    model = ChordMixer(input_size=6, output_size=3, max_seq_len=2**16, track_size=4, hidden_size=16,
                       prenorm="LN", norm="LN", var_len=True)
    tokens, lengths = torch.randint(1, 6, (sum(lengths),)), torch.tensor(lengths)
    reference = gradients(model, tokens, lengths, bf16=False)
    low = gradients(model, tokens, lengths, bf16=True)
    assert any(".norm." in name for name in reference)
    for name, grad in reference.items():
        error = ((low[name] - grad).abs().max() / grad.abs().max()).item()
        assert error < 0.05, (name, error)


def test_layernorm_is_nn_layernorm_in_fp32_and_keeps_its_parameter_names():
    torch.manual_seed(1)
    ours, theirs = make_norm("LN", 24, 4), nn.LayerNorm(24)
    assert isinstance(ours, LayerNorm) and set(ours.state_dict()) == set(theirs.state_dict())
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(100, 24, dtype=torch.bfloat16, requires_grad=True)
    torch.testing.assert_close(ours(x), theirs(x))  # same forward, bf16 included
    x32 = torch.randn(100, 24)
    torch.testing.assert_close(ours(x32), theirs(x32))
