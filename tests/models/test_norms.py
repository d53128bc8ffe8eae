"""The norms: GN as published (each sequence over its positions), and the same in variable lengths."""

from __future__ import annotations

import torch
from plain_chordmixer import PlainChordMixer, PublishedGroupNorm

from genomix import ChordMixer
from genomix.models.norms import GroupNorm, make_norm

KWARGS = dict(input_size=10, output_size=3, max_seq_len=300, track_size=3, hidden_size=12)


def _pair(**overrides):
    torch.manual_seed(0)
    model = ChordMixer(**KWARGS, **overrides)
    with torch.no_grad():  # published weights away from the initial affine
        for name, parameter in model.named_parameters():
            if ".gn." in name:
                parameter.uniform_(0.5, 1.5) if name.endswith("weight") else parameter.uniform_(-0.5, 0.5)
    plain = PlainChordMixer(**KWARGS, **overrides)
    plain.load_state_dict(model.state_dict())
    return model, plain


def test_group_norm_is_the_published_one_on_equal_lengths():
    norm = make_norm("GN", 12, 3)
    published = PublishedGroupNorm(12, 3)
    published.load_state_dict(norm.state_dict())
    x = torch.randn(4, 50, 12) * 3 + 1
    lengths = torch.full((4,), 50)
    torch.testing.assert_close(norm(x.reshape(200, 12), lengths).view(4, 50, 12), published(x), atol=1e-5, rtol=0)


def test_published_gn_weights_give_the_published_outputs():
    """Equal lengths, prenorm = norm = GN: the published model's outputs within 1e-5."""
    model, plain = _pair(prenorm="GN", norm="GN")
    tokens = torch.randint(1, 10, (3, 300), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert (model(tokens) - plain(tokens)).abs().max().item() <= 1e-5


def test_gn_in_variable_lengths_is_per_sequence_and_batch_invariant():
    model, plain = _pair(prenorm="GN", norm="GN", var_len=True)
    lengths = torch.tensor([300, 1, 17, 129])
    tokens = torch.randint(1, 10, (int(lengths.sum()),), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        together = model(tokens, lengths)
        torch.testing.assert_close(together, plain(tokens, lengths), atol=1e-5, rtol=1e-5)
        alone = torch.cat([model(part, torch.tensor([len(part)]))
                           for part in torch.split(tokens, lengths.tolist())])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=0)


def test_group_norm_gradients_match_the_published_ones():
    norm = GroupNorm(12, 3).double()
    published = PublishedGroupNorm(12, 3).double()
    published.load_state_dict(norm.state_dict())
    x = torch.randn(2, 20, 12, dtype=torch.float64, requires_grad=True)
    grad = torch.randn(2, 20, 12, dtype=torch.float64)
    (norm(x.reshape(40, 12), torch.tensor([20, 20])).view(2, 20, 12) * grad).sum().backward()
    ours = [x.grad.clone(), *(p.grad.clone() for p in norm.parameters())]
    x.grad = None
    (published(x) * grad).sum().backward()
    for a, b in zip(ours, [x.grad, *(p.grad for p in published.parameters())]):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)
