"""The block in ATen ops, with two tricks: the prenorm's affine folded into ``fc1``, the residual forked.

What runs an exact block (:mod:`genomix.models.fast.dispatch`) when the fused kernels do not apply
(CUDA, float64, active dropout, no C compiler):

* a LayerNorm prenorm's affine is folded into the MLP's first layer,
  ``fc1(n * w + b) = n @ (W1 * w)^T + (b1 + W1 @ b)`` on the normalised rows ``n``: no pass over the
  rows, and its parameter gradients come out of ``fc1``'s weight-gradient matmul (float32
  accumulation) instead of a row-wise reduction;
* the block's input is forked into residual and MLP input whose gradients are summed out of place
  (autograd sums a reused tensor's gradients in place, about 1.5x slower for bf16 on the CPU).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genomix.models.chordmixer import ChordMixerBlock
from genomix.models.norms import LayerNorm, apply_norm
from genomix.models.rotation import Rotation, rotate_add


class _Fork(torch.autograd.Function):
    """``x`` as two outputs whose gradients are summed out of place."""

    @staticmethod
    def forward(ctx, x: Tensor) -> tuple[Tensor, Tensor]:
        return x.view_as(x), x.view_as(x)

    @staticmethod
    def backward(ctx, grad_a: Tensor | None, grad_b: Tensor | None) -> Tensor | None:
        if grad_a is None or grad_b is None:
            return grad_b if grad_a is None else grad_a
        return torch.add(grad_a, grad_b)


def folded_fc1(block: ChordMixerBlock) -> tuple[Tensor, Tensor]:
    """``fc1``'s weight and bias with a LayerNorm prenorm's affine folded in (differentiable), or
    ``fc1``'s own without one."""
    fc1, norm = block.mix.fc1, block.prenorm
    if type(norm) is not LayerNorm:
        return fc1.weight, fc1.bias
    return fc1.weight * norm.weight, torch.addmv(fc1.bias, fc1.weight, norm.bias)


def mlp_weights(block: ChordMixerBlock) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """What the fused and chunked kernels take: :func:`folded_fc1`, then ``fc2``'s weight and bias."""
    return (*folded_fc1(block), block.mix.fc2.weight, block.mix.fc2.bias)


def mixed(block: ChordMixerBlock, x: Tensor, lengths: Tensor | None) -> Tensor:
    """``dropout(mix(prenorm(x)))`` of an exact block, a LayerNorm prenorm's affine folded into ``fc1``."""
    mix, norm = block.mix, block.prenorm
    if type(norm) is LayerNorm:
        normalized = nn.functional.layer_norm(x, norm.normalized_shape, None, None, norm.eps)
        hidden = nn.functional.linear(normalized, *folded_fc1(block))
    else:
        hidden = mix.fc1(apply_norm(norm, x, lengths))
    return block.dropout(mix.drop(mix.fc2(mix.drop(mix.act(hidden)))))


def folded_block(block: ChordMixerBlock, x: Tensor, rotation: Rotation) -> Tensor:
    """An exact block's forward (same values as the definition up to rounding): ``(n, D)`` -> ``(n, D)``."""
    residual, x = _Fork.apply(x) if x.requires_grad else (x, x)
    update = mixed(block, x, rotation.lengths)
    out = rotate_add(residual, update, rotation.index, rotation.inverse, rotation.n_tracks)
    return apply_norm(block.norm, out, rotation.lengths)


__all__ = ["folded_block", "folded_fc1", "mixed", "mlp_weights"]
