"""The chunked, self-recomputing block for long inputs: same values and gradients as the plain block."""

from __future__ import annotations

import pytest
import torch
from torch.utils.checkpoint import checkpoint

import genomix.models.fast.chunked as chunked
from genomix import ChordMixer
from genomix.models.chordmixer import ChordMixerBlock
from genomix.models.fast import blocks
from genomix.models.fast.dispatch import block_plan
from genomix.models.rotation import build_rotation

N_TRACKS, TRACK, HIDDEN = 5, 3, 7
WIDTH = N_TRACKS * TRACK


def chunkable(block, x):
    return blocks.chunkable(block, block_plan(block), x)


def _block(prenorm: str, norm: str = "None", dtype=torch.float64) -> ChordMixerBlock:
    torch.manual_seed(0)
    block = ChordMixerBlock(WIDTH, TRACK, HIDDEN, 0.0, 0.0, prenorm, norm).to(dtype)
    if prenorm == "LN":  # a non-trivial affine, so that folding it into fc1 is exercised
        with torch.no_grad():
            block.prenorm.weight.uniform_(0.5, 1.5)
            block.prenorm.bias.uniform_(-0.5, 0.5)
    return block


def _run(block, forward, x, rotation, grad):
    block.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_(True)
    out = forward(x)
    out.backward(grad)
    return out.detach(), x.grad, {name: p.grad.clone() for name, p in block.named_parameters()}


@pytest.mark.parametrize("norms", [("LN", "None"), ("None", "None"), ("LN", "LN")])
@pytest.mark.parametrize("chunk", [1, 7, 64, 10_000])
def test_chunked_block_equals_the_plain_block(norms, chunk, monkeypatch):
    """float64: output, input gradient and every parameter gradient, for chunks that split sequences."""
    monkeypatch.setattr(chunked, "CHUNK_ROWS", chunk)
    block = _block(*norms)
    lengths = torch.tensor([50, 1, 13, 33])
    rotation = build_rotation(lengths, N_TRACKS)
    x = torch.randn(int(lengths.sum()), WIDTH, dtype=torch.float64)
    grad = torch.randn_like(x)
    plain = _run(block, lambda rows: block(rows, rotation), x, rotation, grad)
    assert chunkable(block, x)
    fast = _run(block, lambda rows: blocks.run_chunked(block, rows, rotation), x, rotation, grad)
    torch.testing.assert_close(fast[0], plain[0], atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(fast[1], plain[1], atol=1e-12, rtol=1e-12)
    assert fast[2].keys() == plain[2].keys()
    for name in plain[2]:
        torch.testing.assert_close(fast[2][name], plain[2][name], atol=1e-10, rtol=1e-10, msg=name)


def test_chunked_block_in_bf16_stays_close_to_the_checkpointed_block():
    block = _block("LN", dtype=torch.float32)
    lengths = torch.tensor([3000, 1200])
    rotation = build_rotation(lengths, N_TRACKS)
    x = torch.randn(int(lengths.sum()), WIDTH).bfloat16()
    grad = torch.randn_like(x)

    def under_autocast(forward):
        def run(rows):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return forward(rows)
        return run

    plain = _run(block, under_autocast(lambda rows: checkpoint(block, rows, rotation, use_reentrant=False)),
                 x, rotation, grad)
    fast = _run(block, under_autocast(lambda rows: blocks.run_chunked(block, rows, rotation)), x, rotation, grad)
    torch.testing.assert_close(fast[0].float(), plain[0].float(), atol=0.05, rtol=0.02)
    torch.testing.assert_close(fast[1].float(), plain[1].float(), atol=0.05, rtol=0.02)
    for name in plain[2]:
        scale = plain[2][name].abs().max()
        assert (fast[2][name] - plain[2][name]).abs().max() <= 0.02 * scale, name


def test_only_blocks_whose_recompute_is_exact_are_chunked():
    x = torch.randn(10, WIDTH)
    assert chunkable(_block("LN", dtype=torch.float32), x)
    assert chunkable(_block("None", "BN", dtype=torch.float32), x)  # the post-norm runs outside
    assert not chunkable(_block("BN", dtype=torch.float32), x)
    dropping = ChordMixerBlock(WIDTH, TRACK, HIDDEN, 0.1, 0.0, "LN", "None")
    assert not chunkable(dropping, x)
    assert chunkable(dropping.eval(), x)
    assert not chunkable(ChordMixerBlock(WIDTH, TRACK, HIDDEN, 0.0, 0.2, "LN", "None"), x)


@pytest.mark.parametrize("mode", ["block", "segments"])
def test_checkpointed_model_with_chunks_equals_the_plain_model(mode, monkeypatch):
    """The whole model, variable lengths and depths, with chunks smaller than a sequence."""
    monkeypatch.setattr(chunked, "CHUNK_ROWS", 37)
    torch.manual_seed(0)
    kwargs = dict(input_size=6, output_size=3, max_seq_len=512, track_size=2, hidden_size=8,
                  prenorm="LN", norm="None", var_len=True, decoder="none")  # float64 features
    plain = ChordMixer(**kwargs).double()
    fast = ChordMixer(**kwargs, grad_checkpointing=mode).double()
    fast.load_state_dict(plain.state_dict())
    lengths = torch.tensor([512, 3, 260, 100])
    tokens = torch.randint(1, 6, (int(lengths.sum()),))
    outputs = []
    for model in (plain, fast):
        out = model(tokens, lengths)
        out.square().sum().backward()
        outputs.append(out)
    torch.testing.assert_close(outputs[1], outputs[0], atol=1e-12, rtol=1e-12)
    for (name, a), b in zip(plain.named_parameters(), fast.parameters()):
        torch.testing.assert_close(b.grad, a.grad, atol=1e-10, rtol=1e-10, msg=name)
