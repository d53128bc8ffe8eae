"""The encoder's schedule: cache-sized groups of sequences (on threads), depth order, checkpointing,
in-place inference; each block through :func:`~genomix.models.fast.blocks.run_block`.

Same values as :meth:`ChordMixerEncoder.encode_rows <genomix.models.chordmixer.ChordMixerEncoder.encode_rows>`
(the definition), tested path by path in ``tests/models/fast/test_equivalence.py``. Splitting a batch
into groups, or overwriting its rows in place, is only done when every block is exact (dispatch): a block
of unknown code might mix sequences (as BatchNorm does in training) or hold on to its input.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from genomix.models.chordmixer import (ChordMixerBlock, ChordMixerEncoder, active_prefixes, in_autocast_dtype,
                                       token_permutation)
from genomix.models.fast import compact, inference
from genomix.models.fast.blocks import chunkable, run_block, run_chunked
from genomix.models.fast.concat import cat_rows, split_rows
from genomix.models.fast.dispatch import BlockPlan, Plan, active, plan_for, record
from genomix.models.fast.parallel import run_groups
from genomix.models.rotation import Rotation, build_rotation

GROUP_BYTES = 4 << 20
"""A batch runs in groups of consecutive sequences whose activations take about this many bytes per
(N, D) tensor, so that a group's working set stays in cache (0: one group). Measured on a 2-core
CPU with a 32 MiB L3: 13% (equal lengths) to 36% (variable lengths) faster training than one group."""


def encode(encoder: ChordMixerEncoder, rows: Tensor, lengths: Tensor, depths: Tensor, *,
           overwrite_input: bool = False) -> Tensor:
    """What :meth:`~genomix.models.chordmixer.ChordMixerEncoder.encode_rows` computes, fast.

    Args:
        encoder: the encoder whose blocks run.
        rows: ``(N, D)`` embedded rows of concatenated sequences.
        lengths: ``(B,)`` int64 lengths summing to ``N``.
        depths: ``(B,)`` blocks per sequence.
        overwrite_input: ``rows``' memory may be reused (inference on long inputs).

    Returns:
        ``(N, D)``.
    """
    plan = plan_for(encoder)
    bounds = [(0, len(lengths))]
    if plan.all_exact and active("groups") and not _batch_statistics(encoder):
        bounds = _group_bounds(lengths, _group_rows(encoder, rows))
    if len(bounds) == 1:
        return _encode_group(encoder, plan, rows, lengths, depths, overwrite_input=overwrite_input)
    starts = [0, *torch.cumsum(lengths, 0).tolist()]
    # split, not slicing: its backward is one concatenation (into a reused buffer), not a zero-filled
    # copy per group
    parts = split_rows(rows, [starts[j] - starts[i] for i, j in bounds])

    def run_group(part: Tensor, number: int) -> Tensor:
        i, j = bounds[number]
        return _encode_group(encoder, plan, part, lengths[i:j], depths[i:j], overwrite_input=overwrite_input)

    workers = _group_workers(encoder, rows, len(bounds))
    if workers > 1:
        return run_groups(run_group, parts, workers)
    return cat_rows([run_group(part, number) for number, part in enumerate(parts)])


def _batch_statistics(encoder: ChordMixerEncoder) -> bool:
    """Whether a block computes statistics over the batch in this call (BatchNorm in training)."""
    return encoder.training and any(isinstance(module, nn.BatchNorm1d) for module in encoder.modules())


def _group_rows(encoder: ChordMixerEncoder, rows: Tensor) -> int:
    device = rows.device.type
    dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else rows.dtype
    return GROUP_BYTES // (encoder.embedding_size * torch.empty((), dtype=dtype).element_size())


def _group_bounds(lengths: Tensor, max_rows: int) -> list[tuple[int, int]]:
    """Split sequences into runs ``[i, j)`` of consecutive sequences holding at most ``max_rows`` rows
    (a sequence longer than ``max_rows`` forms a run alone; ``max_rows = 0``: one run)."""
    if max_rows <= 0:
        return [(0, len(lengths))]
    bounds, start, rows = [], 0, 0
    for index, length in enumerate(lengths.tolist()):
        if rows and rows + length > max_rows:
            bounds.append((start, index))
            start, rows = index, 0
        rows += length
    bounds.append((start, len(lengths)))
    return bounds


def _group_workers(encoder: ChordMixerEncoder, rows: Tensor, n_groups: int) -> int:
    """How many groups run at once: one per intra-op thread on the CPU when that is safe.

    Sequential when the results could depend on the schedule (dropout draws in training) or under
    DDP, whose gradient hooks expect one backward pass.
    """
    threads = torch.get_num_threads()
    if not active("parallel") or rows.device.type != "cpu" or threads < 2 or n_groups < 2:
        return 1
    if encoder.training and any(isinstance(module, nn.Dropout) and module.p > 0 for module in encoder.modules()):
        return 1
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return 1
    return min(threads, n_groups)


def _encode_group(encoder: ChordMixerEncoder, plan: Plan, rows: Tensor, lengths: Tensor, depths: Tensor, *,
                  overwrite_input: bool = False) -> Tensor:
    """Run the blocks on one group of sequences.

    Sequences are reordered by decreasing depth (only when needed) so that block ``k`` runs on
    the prefix of rows whose sequences have ``depth > k``; the order is restored at the end.
    """
    low = in_autocast_dtype(rows)
    owned = overwrite_input or low is not rows
    rows = low
    order = None
    if len(depths) > 1 and bool((depths[1:] > depths[:-1]).any()):
        order = torch.sort(depths, descending=True, stable=True).indices
        token_order = token_permutation(lengths, order)
        rows, lengths, depths = rows.index_select(0, token_order), lengths[order], depths[order]
        owned = True
    rotation = build_rotation(lengths, encoder.n_tracks, with_inverse=torch.is_grad_enabled())
    steps = [(block, block_plan, prefix) for block, block_plan, prefix in
             zip(encoder.chordmixer_blocks, plan.blocks, active_prefixes(lengths, depths, encoder.n_blocks))
             if prefix[1] > 0]
    checkpointing = encoder.grad_checkpointing if active("checkpoint") and torch.is_grad_enabled() else False
    if (active("in_place") and plan.all_exact and not torch.is_grad_enabled() and not encoder.training
            and rows.shape[0] > inference.INFERENCE_CHUNK):
        rows = rows if owned else rows.clone()
        _run_in_place(rows, rotation, steps)
    elif checkpointing in ("segments", "segments_bf16"):
        for start, stop in segment_bounds(len(steps), decreasing=checkpointing == "segments_bf16"):
            segment = steps[start:stop]
            if checkpointing == "segments_bf16" and compact.applies(rows, segment):
                rows = compact.compact_segment(rows, rotation, segment)
            else:
                rows = checkpoint(_run_blocks, rows, rotation, segment, True, use_reentrant=False)
    else:
        rows = _run_blocks(rows, rotation, steps, checkpointing in (True, "block"))
    if order is not None:
        inverse = torch.empty_like(token_order)
        inverse[token_order] = torch.arange(len(token_order), device=rows.device)
        rows = rows.index_select(0, inverse)
    return rows


Step = tuple[ChordMixerBlock, BlockPlan, tuple[int, int]]


def segment_bounds(n_steps: int, *, decreasing: bool = False) -> list[tuple[int, int]]:
    """``[start, stop)`` of each checkpointed segment of ``n_steps`` blocks.

    Uniform: ``ceil(sqrt(n))`` blocks each. Decreasing (``'segments_bf16'``): sizes ``k, k - 1, ...`` with
    ``k`` the smallest such that ``k (k + 1) / 2 >= n``. The backward pass of segment ``j`` holds the ``j + 1``
    stored segment inputs plus that segment's recomputed inputs, ``j + size_j`` tensors: uniform sizes peak
    at ``~2 sqrt(n)`` (the last segment), decreasing ones at ``k ~ sqrt(2 n)`` in every segment (20 blocks:
    6 instead of 8). Each block is still recomputed once.
    """
    if not decreasing:
        size = max(1, math.ceil(math.sqrt(n_steps)))
        return [(start, min(start + size, n_steps)) for start in range(0, n_steps, size)]
    size = math.ceil((math.sqrt(8 * n_steps + 1) - 1) / 2)
    bounds, start = [], 0
    while start < n_steps:
        stop = min(start + max(size, 1), n_steps)
        bounds.append((start, stop))
        start, size = stop, size - 1
    return bounds


def _run_in_place(rows: Tensor, rotation: Rotation, steps: list[Step]) -> None:
    """Overwrite ``rows`` block by block (no autograd); blocks whose norms span sequences run whole."""
    for block, block_plan, (n_sequences, n_rows) in steps:
        head = rows[:n_rows]
        prefix = rotation.head(n_sequences, n_rows)
        if inference.in_place_applies(block, block_plan):
            inference.forward_in_place(block, block_plan, head, prefix, chunk=inference.INFERENCE_CHUNK)
        else:
            head.copy_(run_block(block, block_plan, head, prefix))


def _run_blocks(rows: Tensor, rotation: Rotation, steps: list[Step], per_block_checkpoint: bool) -> Tensor:
    for block, block_plan, (n_sequences, n_rows) in steps:
        head = rows if n_rows == rows.shape[0] else rows[:n_rows]
        prefix = rotation.head(n_sequences, n_rows)
        if per_block_checkpoint and block_plan.exact and chunkable(block, block_plan, head):
            out = run_chunked(block, head, prefix)
        elif per_block_checkpoint:
            record("checkpoint")
            out = checkpoint(run_block, block, block_plan, head, prefix, use_reentrant=False)
        else:
            out = run_block(block, block_plan, head, prefix)
        rows = out if n_rows == rows.shape[0] else torch.cat([out, rows[n_rows:].to(out.dtype)], 0)
    return rows


__all__ = ["encode", "segment_bounds", "GROUP_BYTES"]
