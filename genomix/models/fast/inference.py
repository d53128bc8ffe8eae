"""Inference on long inputs, in place: each block overwrites its rows, a chunk of rows at a time.

Everything in an exact block but the rotation is position-wise when its norms are (LayerNorm,
BatchNorm in ``eval()``, none), so chunks give the same values as the whole; only one full-size buffer
(the update) is allocated per block, and it is reused between blocks (:mod:`.buffers`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from genomix.models.chordmixer import ChordMixerBlock
from genomix.models.fast import buffers, fused
from genomix.models.fast.blocks import fusible, normalizes
from genomix.models.fast.dispatch import BlockPlan, record
from genomix.models.fast.folded import mixed, mlp_weights
from genomix.models.rotation import Rotation, rotate_add_

INFERENCE_CHUNK = 1 << 14
"""Rows per step (used when an input has more rows than this). Small enough that a chunk's
temporaries stay under glibc's 32 MiB reuse limit at D = 336: 2**16 -> 2**14 rows took one
2**18-token forward from 55k to 80k tokens/s (docs/benchmarks.md)."""


def in_place_applies(block: ChordMixerBlock, plan: BlockPlan) -> bool:
    """Whether :func:`forward_in_place` computes this block: exact, position-wise norms, ``eval()``."""
    return plan.exact and plan.position_wise and not block.training


@torch.no_grad()
def forward_in_place(block: ChordMixerBlock, plan: BlockPlan, x: Tensor, rotation: Rotation, *,
                     chunk: int) -> Tensor:
    """Overwrite ``(n, D)`` rows ``x`` with the block's output, ``chunk`` rows at a time; returns ``x``.

    Needs :func:`in_place_applies`. With the fused kernels the values are those of the fused
    training path; otherwise those of the folded ATen path.
    """
    update = buffers.empty_like(x)  # reused between blocks, not faulted in afresh
    if fusible(block, plan, x, rotation):
        record("in_place_fused")
        normalize, eps = normalizes(block)
        fused.fused_block_(x, *mlp_weights(block), rotation.index, normalize=normalize, eps=eps,
                           chunk=chunk, update=update)
    else:
        record("in_place")
        for start in range(0, x.shape[0], chunk):
            update[start:start + chunk] = mixed(block, x[start:start + chunk], None)
        rotate_add_(x, update, rotation.index, chunk_rows=chunk * rotation.n_tracks)
    del update
    if type(block.norm) is not torch.nn.Identity:
        for start in range(0, x.shape[0], chunk):
            x[start:start + chunk] = block.norm(x[start:start + chunk])
    return x


__all__ = ["INFERENCE_CHUNK", "in_place_applies", "forward_in_place"]
