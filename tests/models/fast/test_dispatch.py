"""Strict dispatch: a fast path runs only the block it implements; anything else runs its own code.

The three edits a researcher makes to a block (another activation, a gate inside the MLP, a GELU
variant) each train with their own code on every machine, and the log line names the path.
"""

from __future__ import annotations

import logging

import pytest
import torch
from torch import nn

from genomix import ChordMixer, native
from genomix.models import fast
from genomix.models.chordmixer import Mlp

LOGGER = "genomix.models.fast.dispatch"


class SiLUMlp(Mlp):
    """The published MLP with SiLU instead of GELU."""

    def __init__(self, embedding_size: int, hidden_size: int, dropout: float) -> None:
        super().__init__(embedding_size, hidden_size, dropout)
        self.act = nn.SiLU()


class GatedMlp(Mlp):
    """The published MLP times a learned per-channel gate."""

    def __init__(self, embedding_size: int, hidden_size: int, dropout: float) -> None:
        super().__init__(embedding_size, hidden_size, dropout)
        self.gate = nn.Parameter(torch.full((embedding_size,), 0.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) * self.gate


def _model(**overrides) -> ChordMixer:
    torch.manual_seed(0)
    kwargs = dict(input_size=6, output_size=3, max_seq_len=256, track_size=4, hidden_size=16, prenorm="LN",
                  norm="None", var_len=True)
    return ChordMixer(**{**kwargs, **overrides})


def _with_mix(model: ChordMixer, mlp_class: type) -> ChordMixer:
    for block in model.encoder.chordmixer_blocks:
        block.mix = mlp_class(block.mix.fc1.in_features, block.mix.fc1.out_features, 0.0)
    return model


def _batch():
    generator = torch.Generator().manual_seed(1)
    lengths = torch.tensor([256, 40, 3, 129])
    return torch.randint(1, 6, (int(lengths.sum()),), generator=generator), lengths, torch.tensor([0, 1, 2, 1])


def _train(model: ChordMixer, steps: int = 5) -> list[float]:
    tokens, lengths, labels = _batch()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(steps):
        loss = nn.functional.cross_entropy(model(tokens, lengths), labels)
        optimizer.zero_grad()
        loss.backward()
        losses.append(loss.item())
        optimizer.step()
    return losses


def test_the_published_block_takes_the_fast_paths(caplog):
    model = _model()
    tokens, lengths, _ = _batch()
    with caplog.at_level(logging.INFO, logger=LOGGER), fast.trace() as ran:
        model(tokens, lengths)
    assert set(ran) == {"fused" if native.available() else "folded"}
    assert "blocks 0-7: fast paths (exact ChordMixerBlock, prenorm LN, norm None)" in caplog.text
    with caplog.at_level(logging.INFO, logger=LOGGER):
        caplog.clear()
        model(tokens, lengths)
    assert "ChordMixer" not in caplog.text  # logged once per plan, not per call


@pytest.mark.parametrize(("mlp_class", "reason"), [(SiLUMlp, "mix is SiLUMlp, not Mlp"),
                                                    (GatedMlp, "mix is GatedMlp, not Mlp")])
def test_an_edited_mlp_trains_with_its_own_code(mlp_class, reason, caplog):
    model = _with_mix(_model(), mlp_class)
    with caplog.at_level(logging.INFO, logger=LOGGER), fast.trace() as ran:
        losses = _train(model)
    assert set(ran) == {"definition"}
    assert f"blocks 0-7: definition ({reason})" in caplog.text
    assert losses[-1] < losses[0]
    for block in model.encoder.chordmixer_blocks:
        if mlp_class is GatedMlp:
            assert block.mix.gate.grad is not None and block.mix.gate.grad.abs().sum() > 0
            assert not torch.equal(block.mix.gate.detach(), torch.full_like(block.mix.gate, 0.5))  # trained
        assert block.mix.fc1.weight.grad.abs().sum() > 0


def test_the_edited_model_is_the_same_model_on_every_machine():
    """With or without kernels, threads, groups: an edited block gives what its own code gives."""
    model = _with_mix(_model(), GatedMlp)
    tokens, lengths, _ = _batch()
    with fast.use(()):
        definition = model(tokens, lengths)
    torch.testing.assert_close(model(tokens, lengths), definition, atol=1e-6, rtol=1e-6)
    with fast.use(set(fast.PATHS) - {"fused"}):
        torch.testing.assert_close(model(tokens, lengths), definition, atol=1e-6, rtol=1e-6)


def test_silu_really_runs():
    """The SiLU block's output is what a hand-written SiLU MLP gives (not GELU's)."""
    model = _with_mix(_model(max_seq_len=2), SiLUMlp)  # one block
    block = model.encoder.chordmixer_blocks[0]
    tokens, lengths = torch.tensor([1, 2, 3, 4]), torch.tensor([2, 2])
    rows = model.embedding(tokens)
    update = block.mix.fc2(nn.functional.silu(block.mix.fc1(block.prenorm(rows))))
    rotated = torch.cat([update[:, :4], update.view(2, 2, -1)[:, [1, 0], 4:].reshape(4, -1)], 1)
    expected = model.decoder(rows + rotated, lengths)
    torch.testing.assert_close(model(tokens, lengths), expected, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize(("edit", "reason"), [
    (lambda block: setattr(block.mix, "act", nn.GELU(approximate="tanh")), "not nn.GELU(approximate='none')"),
    (lambda block: block.mix.register_parameter("scale", nn.Parameter(torch.ones(1))), "extra ['mix.scale']"),
    (lambda block: block.mix.register_forward_hook(lambda *args: None), "mix has forward hooks"),
    (lambda block: setattr(block, "prenorm", nn.LayerNorm(block.mix.fc1.in_features)), "not one of genomix's norms"),
])
def test_any_other_edit_runs_the_definition_and_says_why(edit, reason, caplog):
    model = _model()
    tokens, lengths, _ = _batch()
    model(tokens, lengths)  # the plan of the unedited model
    edit(model.encoder.chordmixer_blocks[2])
    with caplog.at_level(logging.INFO, logger=LOGGER), fast.trace() as ran:
        model(tokens, lengths)
    assert "definition" in ran  # block 2, re-planned after the edit
    assert "block 2: definition" in caplog.text and reason in caplog.text
    assert "blocks 0-1: fast paths" in caplog.text and "blocks 3-7: fast paths" in caplog.text


def test_probing_a_foreign_block_never_raises():
    from genomix.models.fast.dispatch import block_plan

    assert not block_plan(nn.Linear(3, 3)).exact
    assert "block is Linear" in block_plan(nn.Linear(3, 3)).reason
