"""One block through the fastest path that implements it: fused kernels, folded ATen ops, chunked
recompute, or the block's own forward (the definition).

Per call, on top of the block's plan (:mod:`genomix.models.fast.dispatch`): the fused kernels need CPU
rows in bf16 or float32, an int32 rotation index and loaded kernels; the Triton kernels need CUDA rows and
triton installed (imported only then); the fused, Triton and chunked paths need no active dropout (they
draw nothing, and the chunked recompute must draw the same).
"""

from __future__ import annotations

from torch import Tensor

from genomix.models.chordmixer import ChordMixerBlock
from genomix.models.fast import chunked, fused, triton_block
from genomix.models.fast.dispatch import BlockPlan, active, record
from genomix.models.fast.folded import folded_block, mlp_weights
from genomix.models.norms import LayerNorm, apply_norm
from genomix.models.rotation import Rotation


def dropping(block: ChordMixerBlock) -> bool:
    """Whether an exact block draws dropout in this call."""
    return block.training and (block.mix.drop.p > 0 or block.dropout.p > 0)


def normalizes(block: ChordMixerBlock) -> tuple[bool, float]:
    """``(prenorm is a LayerNorm, its eps)`` of a block in kernel form."""
    norm = block.prenorm
    return (True, norm.eps) if type(norm) is LayerNorm else (False, 0.0)


def fusible(block: ChordMixerBlock, plan: BlockPlan, x: Tensor, rotation: Rotation) -> bool:
    """Whether the fused kernels run this block on these rows."""
    return (plan.kernel_form and active("fused") and not dropping(block)
            and fused.supported(x, rotation.index))


def triton_fusible(block: ChordMixerBlock, plan: BlockPlan, x: Tensor, rotation: Rotation) -> bool:
    """Whether the Triton kernels run this block on these rows (CUDA rows)."""
    return (plan.kernel_form and active("triton") and not dropping(block)
            and triton_block.supported(x, rotation.index))


def chunkable(block: ChordMixerBlock, plan: BlockPlan, x: Tensor) -> bool:
    """Whether the chunked recompute runs this checkpointed block on these rows (CPU rows)."""
    return (plan.kernel_form and active("chunked") and not dropping(block)
            and x.device.type == "cpu" and x.dim() == 2)


def run_block(block: ChordMixerBlock, plan: BlockPlan, x: Tensor, rotation: Rotation) -> Tensor:
    """``block(x, rotation)`` by the fastest path that implements it: ``(n, D)`` -> ``(n, D)``."""
    if plan.exact and fusible(block, plan, x, rotation):
        record("fused")
        normalize, eps = normalizes(block)
        out = fused.fused_block(x, *mlp_weights(block), rotation.index, rotation.inverse,
                                normalize=normalize, eps=eps)
        return apply_norm(block.norm, out, rotation.lengths)
    if plan.exact and triton_fusible(block, plan, x, rotation):
        record("triton")
        normalize, eps = normalizes(block)
        out = triton_block.triton_block(x, *mlp_weights(block), rotation.index, rotation.inverse,
                                        normalize=normalize, eps=eps)
        return apply_norm(block.norm, out, rotation.lengths)
    if plan.exact and active("folded"):
        record("folded")
        return folded_block(block, x, rotation)
    record("definition")
    return block(x, rotation)


def run_chunked(block: ChordMixerBlock, x: Tensor, rotation: Rotation) -> Tensor:
    """A checkpointed block recomputed in chunks (needs :func:`chunkable`): ``(n, D)`` -> ``(n, D)``.

    Keeps only ``x`` for backward and recomputes the MLP there in cache-sized chunks
    (:mod:`genomix.models.fast.chunked`): what ``checkpoint(block, ...)`` stores, with a fraction of the
    memory traffic on long inputs.
    """
    record("chunked")
    normalize, eps = normalizes(block)
    out = chunked.chunked_block(x, *mlp_weights(block), rotation.index, rotation.inverse,
                                normalize=normalize, eps=eps, kernels=active("fused"))
    return apply_norm(block.norm, out, rotation.lengths)


__all__ = ["run_block", "run_chunked", "fusible", "triton_fusible", "chunkable", "dropping", "normalizes"]
