"""ChordMixer (Khalitov et al., ICLR 2023): MLP mixing plus a fixed multi-scale rotation.

Same constructor keywords and parameter names as the published code, so its weights load directly.
Two modes behind one API:

* equal lengths: ``(B, L)`` tokens (or ``(B, L, C)`` values) -> ``(B, output_size)``; every
  sequence runs all ``ceil(log2(max_seq_len))`` blocks.
* variable lengths (``var_len=True``): sequences concatenated along dim 0 plus their ``lengths``;
  each sequence is rotated within itself and gets its own depth ``ceil(log2(L_i))`` (capped at the
  model's block count), so its output does not depend on which sequences share the batch.

Speed: the rotation is one row gather with an index built once per batch (see
:mod:`genomix.models.rotation`); sequences are ordered by depth once per batch so that block ``k``
runs on a prefix of the rows holding exactly the sequences that still need depth; segment means use
``index_add`` rather than a loop over sequences.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from genomix.models import buffers, fused
from genomix.models.chunked import chunked_block
from genomix.models.embedding import embed_low_precision
from genomix.models.parallel import run_groups
from genomix.models.rotation import Rotation, build_rotation, rotate_add, rotate_add_

EMBEDDINGS = ("sparse", "linear")
CHECKPOINTING = (False, True, "block", "segments")
GROUP_BYTES = 4 << 20
"""A batch runs in groups of consecutive sequences whose activations take about this many bytes per
(N, D) tensor, so that a group's working set stays in cache (0: one group). Measured on a 2-core
CPU with a 32 MiB L3: 13% (equal lengths) to 36% (variable lengths) faster training than one group."""
PARALLEL_GROUPS = True
"""On a CPU with several intra-op threads, run a batch's groups on separate threads, one intra-op
thread each (:mod:`genomix.models.parallel`); False: one group after another."""
INFERENCE_CHUNK = 1 << 14
"""Rows per step of the in-place inference path (used when an input has more rows than this). Small
enough that a chunk's temporaries stay under glibc's 32 MiB reuse limit at D = 336: 2**16 -> 2**14
rows took one 2**18-token forward from 55k to 80k tokens/s (docs/benchmarks.md)."""
NORMS = ("LN", "BN", "GN", "None")
DECODERS = ("linear", "per_position", "none")


def _check_choice(name: str, value: object, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(repr(a) for a in allowed)}; got {value!r}")


def n_blocks_for(max_seq_len: int) -> int:
    """Number of blocks for a model that accepts sequences up to ``max_seq_len``: ``ceil(log2)``."""
    if max_seq_len < 1:
        raise ValueError(f"max_seq_len must be >= 1; got {max_seq_len}")
    return math.ceil(math.log2(max_seq_len)) if max_seq_len > 1 else 0


def depth_for(lengths: Tensor, n_blocks: int) -> Tensor:
    """Per-sequence depth ``min(ceil(log2(L_i)), n_blocks)`` (0 for ``L_i = 1``), exact in integers."""
    lengths = lengths.to(torch.int64)
    # ceil(log2(L)) == bit length of (L - 1)
    depth = torch.zeros_like(lengths)
    remaining = lengths - 1
    while bool((remaining > 0).any()):
        depth += (remaining > 0).to(torch.int64)
        remaining = remaining >> 1
    return depth.clamp(max=n_blocks)


LOW_PRECISION = (torch.bfloat16, torch.float16)
STATS_CHUNK = 1 << 12
"""Rows per float32 step of the LayerNorm parameter gradients (4,096: the fastest measured)."""


class _LayerNormRows(torch.autograd.Function):
    """LayerNorm of low-precision rows whose weight and bias gradients are summed in float32.

    ATen's CPU kernel sums them in the input's dtype: over tens of thousands of bf16 rows the sum
    stops growing (measured: 90-98% too small at 40,000 rows). The input gradient stays ATen's.
    """

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor, eps: float) -> Tensor:
        out, mean, rstd = torch.native_layer_norm(x, (x.shape[-1],), weight, bias, eps)
        ctx.save_for_backward(x, weight, bias, mean, rstd)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, weight, bias, mean, rstd = ctx.saved_tensors
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.ops.aten.native_layer_norm_backward(
                grad.contiguous(), x, (x.shape[-1],), mean, rstd, weight, bias, [True, False, False])[0]
        width = x.shape[-1]
        rows, grad_rows = x.reshape(-1, width), grad.reshape(-1, width)
        mean, rstd = mean.reshape(-1, 1), rstd.reshape(-1, 1)
        weight32, bias32 = weight.float(), bias.float()
        grad_w = torch.zeros(width, dtype=torch.float32, device=x.device)
        grad_b = torch.zeros_like(grad_w)
        for start in range(0, rows.shape[0], STATS_CHUNK):  # float32 chunks: fused and exact
            chunk = slice(start, start + STATS_CHUNK)
            _, part_w, part_b = torch.ops.aten.native_layer_norm_backward(
                grad_rows[chunk].float(), rows[chunk].float(), (width,), mean[chunk], rstd[chunk],
                weight32, bias32, [False, True, True])
            grad_w += part_w
            grad_b += part_b
        return grad_x, grad_w.to(weight.dtype), grad_b.to(bias.dtype), None


class LayerNorm(nn.LayerNorm):
    """``nn.LayerNorm`` (same parameters) whose weight/bias gradients are exact for bf16/fp16 inputs."""

    def forward(self, x: Tensor) -> Tensor:
        if x.dtype in LOW_PRECISION and self.elementwise_affine and torch.is_grad_enabled() \
                and (self.weight.requires_grad or x.requires_grad):
            return _LayerNormRows.apply(x, self.weight, self.bias, self.eps)
        return super().forward(x)


class BatchNorm(nn.Module):
    """BatchNorm over channels of ``(N, D)`` rows (statistics over every position in the batch)."""

    def __init__(self, embedding_size: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm1d(embedding_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.bn(x)


class GroupNorm(nn.Module):
    """GroupNorm with ``track_size`` groups, applied to each position's ``D`` channels."""

    def __init__(self, embedding_size: int, track_size: int) -> None:
        super().__init__()
        self.gn = nn.GroupNorm(track_size, embedding_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.gn(x)


def make_norm(kind: str, embedding_size: int, track_size: int) -> nn.Module:
    """The norm named ``kind`` (``'LN'``, ``'BN'``, ``'GN'`` or ``'None'``)."""
    _check_choice("norm", kind, NORMS)
    if kind == "LN":
        return LayerNorm(embedding_size)
    if kind == "BN":
        return BatchNorm(embedding_size)
    if kind == "GN":
        return GroupNorm(embedding_size, track_size)
    return nn.Identity()


class Mlp(nn.Module):
    """Position-wise ``Linear(D, hidden) -> GELU -> Dropout -> Linear(hidden, D) -> Dropout``."""

    def __init__(self, embedding_size: int, hidden_size: int, dropout: float) -> None:
        super().__init__()
        self.fc1 = nn.Linear(embedding_size, hidden_size)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_size, embedding_size)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self._after_fc1(self.fc1(x))

    def forward_scaled(self, x: Tensor, scale: Tensor, shift: Tensor) -> Tensor:
        """``forward(x * scale + shift)`` with the affine folded into ``fc1`` (``D x hidden`` work).

        A LayerNorm's affine applied this way costs no pass over the rows, and its parameter
        gradients come out of ``fc1``'s weight-gradient matmul (float32 accumulation) instead of
        a row-wise reduction.
        """
        return self._after_fc1(nn.functional.linear(x, *self.folded_fc1(scale, shift)))

    def folded_fc1(self, scale: Tensor, shift: Tensor) -> tuple[Tensor, Tensor]:
        """``fc1``'s weight and bias with ``x * scale + shift`` folded in (differentiable)."""
        return self.fc1.weight * scale, torch.addmv(self.fc1.bias, self.fc1.weight, shift)

    def _after_fc1(self, hidden: Tensor) -> Tensor:
        return self.drop(self.fc2(self.drop(self.act(hidden))))


class _Fork(torch.autograd.Function):
    """``x`` as two outputs whose gradients are summed out of place.

    A tensor used twice gets its gradients summed by autograd in place, and an in-place bf16 add
    is about 1.5x slower than an out-of-place one on the CPU (every block's residual does this).
    """

    @staticmethod
    def forward(ctx, x: Tensor) -> tuple[Tensor, Tensor]:
        return x.view_as(x), x.view_as(x)

    @staticmethod
    def backward(ctx, grad_a: Tensor | None, grad_b: Tensor | None) -> Tensor | None:
        if grad_a is None or grad_b is None:
            return grad_b if grad_a is None else grad_a
        return torch.add(grad_a, grad_b)


class ChordMixerBlock(nn.Module):
    """``y = norm(x + rotate(layer_dropout(mix(prenorm(x)))))`` on ``(n, D)`` rows."""

    def __init__(self, embedding_size: int, track_size: int, hidden_size: int, mlp_dropout: float,
                 layer_dropout: float, prenorm: str, norm: str) -> None:
        super().__init__()
        self.prenorm = make_norm(prenorm, embedding_size, track_size)
        self.mix = Mlp(embedding_size, hidden_size, mlp_dropout)
        self.dropout = nn.Dropout(layer_dropout)
        self.norm = make_norm(norm, embedding_size, track_size)

    def forward(self, x: Tensor, index: Tensor, inverse: Tensor | None, n_tracks: int) -> Tensor:
        if self.fusible(x) and fused.supported(x, index):
            return self.norm(fused.fused_block(x, *self._mlp_weights(), index, inverse,
                                               normalize=self._normalizes(), eps=self._eps()))
        residual, x = _Fork.apply(x) if x.requires_grad else (x, x)
        update = self.dropout(self.mixed(x))
        return self.norm(rotate_add(residual, update, index, inverse, n_tracks))

    def mixed(self, x: Tensor) -> Tensor:
        """``mix(prenorm(x))``; a LayerNorm prenorm's affine is folded into the MLP's first layer."""
        norm = self.prenorm
        if isinstance(norm, nn.LayerNorm) and norm.elementwise_affine:
            normalized = nn.functional.layer_norm(x, norm.normalized_shape, None, None, norm.eps)
            return self.mix.forward_scaled(normalized, norm.weight, norm.bias)
        return self.mix(norm(x))

    def fusible(self, x: Tensor) -> bool:
        """Whether the block is one of the forms the fused paths compute (:func:`fused_block`,
        :meth:`forward_chunked`): CPU rows, a LayerNorm (with affine) or no prenorm, exact GELU and no
        active dropout (the chunked recompute must draw nothing)."""
        dropping = self.training and (self.mix.drop.p > 0 or self.dropout.p > 0)
        norm = self.prenorm
        return (x.device.type == "cpu" and x.dim() == 2 and not dropping
                and self.mix.act.approximate == "none"
                and (isinstance(norm, nn.Identity) or (isinstance(norm, nn.LayerNorm) and norm.elementwise_affine)))

    chunkable = fusible

    def _normalizes(self) -> bool:
        return isinstance(self.prenorm, nn.LayerNorm)

    def _eps(self) -> float:
        return self.prenorm.eps if self._normalizes() else 0.0

    def _mlp_weights(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``fc1``'s weight and bias (with a LayerNorm prenorm's affine folded in, as in :meth:`mixed`),
        ``fc2``'s weight and bias."""
        norm, mix = self.prenorm, self.mix
        w1, b1 = mix.folded_fc1(norm.weight, norm.bias) if self._normalizes() else (mix.fc1.weight, mix.fc1.bias)
        return w1, b1, mix.fc2.weight, mix.fc2.bias

    def forward_chunked(self, x: Tensor, index: Tensor, inverse: Tensor | None) -> Tensor:
        """:meth:`forward` with the block's own activation checkpointing, chunk by chunk.

        Keeps only ``x`` for backward and recomputes the MLP there in cache-sized chunks
        (:mod:`genomix.models.chunked`): what ``checkpoint(block, ...)`` stores, with a fraction of the
        memory traffic on long inputs. Needs :meth:`chunkable`.
        """
        out = chunked_block(x, *self._mlp_weights(), index, inverse, normalize=self._normalizes(), eps=self._eps())
        return self.norm(out)

    @torch.no_grad()
    def forward_in_place(self, x: Tensor, index: Tensor, *, chunk: int) -> Tensor:
        """Inference on long inputs: overwrite ``x`` with the block's output, ``chunk`` rows at a time.

        Everything but the rotation is position-wise, so chunks give the same result; only one
        full-size buffer (the update) is allocated. Needs ``eval()`` (BN uses running statistics).
        """
        update = buffers.empty_like(x)  # reused between blocks, not faulted in afresh
        if self.fusible(x) and fused.supported(x, index):  # the values of the fused training path
            fused.fused_block_(x, *self._mlp_weights(), index, normalize=self._normalizes(), eps=self._eps(),
                               chunk=chunk, update=update)
        else:
            for start in range(0, x.shape[0], chunk):
                update[start:start + chunk] = self.dropout(self.mixed(x[start:start + chunk]))
            rotate_add_(x, update, index, chunk_rows=chunk * (index.numel() // max(x.shape[0], 1)))
        del update
        if not isinstance(self.norm, nn.Identity):
            for start in range(0, x.shape[0], chunk):
                x[start:start + chunk] = self.norm(x[start:start + chunk])
        return x


class ChordMixerEncoder(nn.Module):
    """The stack of ChordMixer blocks, on embedded inputs.

    Args:
        max_seq_len: longest sequence the model is built for; sets ``n_tracks = ceil(log2) + 1``
            and the block count ``ceil(log2(max_seq_len))``.
        track_size: channels per track; ``D = n_tracks * track_size``.
        hidden_size: width of each block's MLP.
        mlp_dropout, layer_dropout: dropout inside the MLP and on the block's update.
        prenorm, norm: ``'LN'``, ``'BN'``, ``'GN'`` or ``'None'``.
        var_len: variable-lengths mode (concatenated rows plus lengths).
        grad_checkpointing: ``False``; ``True`` or ``'block'``: store only each block's input and
            recompute the block in the backward pass (about one extra forward of compute);
            ``'segments'``: store only the input of every ``ceil(sqrt(n_blocks))``-th block and
            recompute each segment with per-block checkpointing inside (two extra forwards, and
            ``~2 sqrt(n_blocks)`` stored inputs instead of ``n_blocks``: megabase sequences).
    """

    def __init__(self, max_seq_len: int, track_size: int, hidden_size: int, mlp_dropout: float = 0.0,
                 layer_dropout: float = 0.0, prenorm: str = "None", norm: str = "None",
                 var_len: bool = False, grad_checkpointing: bool = False) -> None:
        super().__init__()
        _check_choice("prenorm", prenorm, NORMS)
        _check_choice("norm", norm, NORMS)
        if track_size < 1 or hidden_size < 1:
            raise ValueError(f"track_size and hidden_size must be >= 1; got {track_size}, {hidden_size}")
        self.max_seq_len = max_seq_len
        self.n_blocks = n_blocks_for(max_seq_len)
        self.n_tracks = self.n_blocks + 1
        self.track_size = track_size
        self.embedding_size = self.n_tracks * track_size
        self.var_len = var_len
        if grad_checkpointing not in CHECKPOINTING:
            raise ValueError(f"grad_checkpointing must be one of False, True, 'block', 'segments'; "
                             f"got {grad_checkpointing!r}")
        self.grad_checkpointing = grad_checkpointing
        self.chordmixer_blocks = nn.ModuleList(
            ChordMixerBlock(self.embedding_size, track_size, hidden_size, mlp_dropout, layer_dropout,
                            prenorm, norm)
            for _ in range(self.n_blocks)
        )

    def forward(self, x: Tensor, lengths: Tensor | Sequence[int] | None = None, *,
                overwrite_input: bool = False) -> Tensor:
        """Encode.

        Args:
            x: ``(B, L, D)`` (equal lengths) or ``(N, D)`` with ``N = sum(lengths)`` (variable).
            lengths: ``(B,)`` lengths, variable-lengths mode only.
            overwrite_input: the encoder may reuse ``x``'s memory (inference on long inputs).

        Returns:
            Same shape as ``x``.
        """
        if self.var_len:
            lengths = check_lengths(lengths, x.shape[0], x.device)
            return self.encode_rows(x, lengths, depth_for(lengths, self.n_blocks),
                                    overwrite_input=overwrite_input)
        if x.dim() != 3:
            raise ValueError(f"equal-lengths mode expects (B, L, D) input; got shape {tuple(x.shape)}")
        batch, length, width = x.shape
        lengths = torch.full((batch,), length, dtype=torch.int64, device=x.device)
        depths = torch.full((batch,), self.n_blocks, dtype=torch.int64, device=x.device)
        rows = self.encode_rows(x.reshape(batch * length, width), lengths, depths,
                                overwrite_input=overwrite_input)
        return rows.view(x.shape)

    def encode_rows(self, rows: Tensor, lengths: Tensor, depths: Tensor, *,
                    overwrite_input: bool = False) -> Tensor:
        """Run the blocks on ``(N, D)`` rows; sequence ``i`` gets ``depths[i]`` blocks.

        Sequences are independent, so a batch runs in groups of consecutive sequences of about
        :data:`GROUP_BYTES` of activations (a longer sequence alone): each group stays in cache.
        """
        device = rows.device.type
        dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else rows.dtype
        row_bytes = self.embedding_size * torch.empty((), dtype=dtype).element_size()
        group_rows = GROUP_BYTES // row_bytes
        bounds = _group_bounds(lengths, group_rows) if group_rows else [(0, len(lengths))]
        if len(bounds) == 1:
            return self._encode_group(rows, lengths, depths, overwrite_input=overwrite_input)
        starts = [0, *torch.cumsum(lengths, 0).tolist()]
        # split, not slicing: its backward is one concatenation, not a zero-filled copy per group
        parts = torch.split(rows, [starts[j] - starts[i] for i, j in bounds])

        def run_group(part: Tensor, number: int) -> Tensor:
            i, j = bounds[number]
            return self._encode_group(part, lengths[i:j], depths[i:j], overwrite_input=overwrite_input)

        workers = self._group_workers(rows, len(bounds))
        if workers > 1:
            return run_groups(run_group, parts, workers)
        return torch.cat([run_group(part, number) for number, part in enumerate(parts)])

    def _group_workers(self, rows: Tensor, n_groups: int) -> int:
        """How many groups run at once: one per intra-op thread on the CPU when that is safe.

        Sequential when the results could depend on the schedule (dropout draws, BatchNorm statistics
        in training) or under DDP, whose gradient hooks expect one backward pass.
        """
        threads = torch.get_num_threads()
        if not PARALLEL_GROUPS or rows.device.type != "cpu" or threads < 2 or n_groups < 2:
            return 1
        if self.training and any(
                (isinstance(module, nn.Dropout) and module.p > 0) or isinstance(module, nn.BatchNorm1d)
                for module in self.modules()):
            return 1
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            return 1
        return min(threads, n_groups)

    def _encode_group(self, rows: Tensor, lengths: Tensor, depths: Tensor, *,
                      overwrite_input: bool = False) -> Tensor:
        """Run the blocks on one group of sequences.

        Sequences are reordered by decreasing depth (only when needed) so that block ``k`` runs on
        the prefix of rows whose sequences have ``depth > k``; the order is restored at the end.
        """
        owned = overwrite_input
        if rows.is_floating_point() and torch.is_autocast_enabled(rows.device.type):
            # bf16/fp16 activations end to end under autocast: half the memory traffic of a
            # float32 residual stream, no mixed-dtype adds, and what megabase inputs need to fit.
            low = torch.get_autocast_dtype(rows.device.type)
            owned = owned or rows.dtype != low
            rows = rows.to(low)
        order = None
        if len(depths) > 1 and bool((depths[1:] > depths[:-1]).any()):
            order = torch.sort(depths, descending=True, stable=True).indices
            token_order = _token_permutation(lengths, order)
            rows, lengths, depths = rows.index_select(0, token_order), lengths[order], depths[order]
            owned = True
        in_place = not torch.is_grad_enabled() and not self.training and rows.shape[0] > INFERENCE_CHUNK
        rotation = build_rotation(lengths, self.n_tracks, with_inverse=torch.is_grad_enabled())
        active = [n for n in _active_tokens(lengths, depths, self.n_blocks) if n > 0]
        blocks = list(zip(self.chordmixer_blocks, active))
        if in_place:
            rows = rows if owned else rows.clone()
            for block, n_active in blocks:
                block.forward_in_place(rows[:n_active], rotation.prefix(n_active)[0], chunk=INFERENCE_CHUNK)
        elif self.grad_checkpointing == "segments" and torch.is_grad_enabled():
            size = max(1, math.ceil(math.sqrt(len(blocks))))
            for start in range(0, len(blocks), size):
                rows = checkpoint(self._run_blocks, rows, rotation, blocks[start:start + size], True,
                                  use_reentrant=False)
        else:
            per_block = self.grad_checkpointing in (True, "block") and torch.is_grad_enabled()
            rows = self._run_blocks(rows, rotation, blocks, per_block)
        if order is not None:
            inverse = torch.empty_like(token_order)
            inverse[token_order] = torch.arange(len(token_order), device=rows.device)
            rows = rows.index_select(0, inverse)
        return rows

    def _run_blocks(self, rows: Tensor, rotation: Rotation, blocks: list[tuple[ChordMixerBlock, int]],
                    per_block_checkpoint: bool) -> Tensor:
        for block, n_active in blocks:
            index, inverse = rotation.prefix(n_active)
            head = rows if n_active == rows.shape[0] else rows[:n_active]
            if per_block_checkpoint and block.chunkable(head):
                out = block.forward_chunked(head, index, inverse)
            elif per_block_checkpoint:
                out = checkpoint(block, head, index, inverse, self.n_tracks, use_reentrant=False)
            else:
                out = block(head, index, inverse, self.n_tracks)
            rows = out if n_active == rows.shape[0] else torch.cat([out, rows[n_active:].to(out.dtype)], 0)
        return rows


def check_lengths(lengths: Tensor | Sequence[int] | None, n_rows: int, device: torch.device) -> Tensor:
    """Validate variable-length ``lengths`` against ``n_rows`` concatenated rows."""
    if lengths is None:
        raise ValueError("variable-lengths mode (var_len=True) needs lengths: model(x, lengths)")
    lengths = torch.as_tensor(lengths, dtype=torch.int64, device=device)
    if lengths.dim() != 1 or lengths.numel() == 0:
        raise ValueError(f"lengths must be a non-empty 1-D sequence; got shape {tuple(lengths.shape)}")
    if bool((lengths < 1).any()):
        raise ValueError(f"every length must be >= 1; got min {int(lengths.min())}")
    if int(lengths.sum()) != n_rows:
        raise ValueError(f"lengths sum to {int(lengths.sum())} but the input has {n_rows} rows; "
                         "concatenate the sequences along dim 0")
    return lengths


def _group_bounds(lengths: Tensor, max_rows: int) -> list[tuple[int, int]]:
    """Split sequences into runs ``[i, j)`` of consecutive sequences holding at most ``max_rows`` rows
    (a sequence longer than ``max_rows`` forms a run alone)."""
    bounds, start, rows = [], 0, 0
    for index, length in enumerate(lengths.tolist()):
        if rows and rows + length > max_rows:
            bounds.append((start, index))
            start, rows = index, 0
        rows += length
    bounds.append((start, len(lengths)))
    return bounds


def _token_permutation(lengths: Tensor, order: Tensor) -> Tensor:
    """Row indices that lay sequences out in ``order`` (each sequence's rows stay contiguous)."""
    starts = torch.cumsum(lengths, 0) - lengths
    new_lengths = lengths[order]
    new_starts = torch.cumsum(new_lengths, 0) - new_lengths
    sequence_of = torch.repeat_interleave(torch.arange(len(order), device=lengths.device), new_lengths)
    within = torch.arange(int(new_lengths.sum()), device=lengths.device) - new_starts[sequence_of]
    return starts[order][sequence_of] + within


def _active_tokens(lengths: Tensor, depths: Tensor, n_blocks: int) -> list[int]:
    """For each block ``k``, the number of leading rows whose sequences have ``depth > k``.

    Requires sequences ordered by non-increasing depth. One host sync per batch, not per block.
    """
    cumulative = torch.cumsum(lengths, 0).tolist()
    depth_list = depths.tolist()
    active = []
    for k in range(n_blocks):
        n_sequences = sum(1 for d in depth_list if d > k)
        active.append(cumulative[n_sequences - 1] if n_sequences else 0)
    return active


class _SegmentMean(torch.autograd.Function):
    """Per-sequence means accumulated in float32 whatever the rows' dtype (bf16 sums drift)."""

    @staticmethod
    def forward(ctx, rows: Tensor, lengths: Tensor, sequence_of: Tensor, chunk: int) -> Tensor:
        sums = torch.zeros(len(lengths), rows.shape[1], dtype=torch.float32, device=rows.device)
        for start in range(0, rows.shape[0], chunk):
            stop = min(start + chunk, rows.shape[0])
            sums.index_add_(0, sequence_of[start:stop], rows[start:stop].float())
        ctx.save_for_backward(lengths, sequence_of)
        ctx.rows_dtype = rows.dtype
        return sums / lengths.unsqueeze(1).float()

    @staticmethod
    def backward(ctx, grad_means: Tensor):
        lengths, sequence_of = ctx.saved_tensors
        per_sequence = (grad_means / lengths.unsqueeze(1).float()).to(ctx.rows_dtype)
        return per_sequence.index_select(0, sequence_of), None, None, None


def segment_mean(rows: Tensor, lengths: Tensor, *, chunk: int = 1 << 13) -> Tensor:
    """Mean of each sequence's rows: ``(N, D)``, ``(B,)`` -> ``(B, D)`` float32, no Python loop
    over sequences (rows are read in chunks of ``chunk`` to bound the float32 copy)."""
    sequence_of = torch.repeat_interleave(torch.arange(len(lengths), device=rows.device), lengths)
    return _SegmentMean.apply(rows, lengths, sequence_of, chunk)


class LinearDecoder(nn.Module):
    """Mean over each sequence's positions, then ``Linear(D, output_size)``."""

    def __init__(self, embedding_size: int, output_size: int) -> None:
        super().__init__()
        self.decoder = nn.Linear(embedding_size, output_size)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        pooled = x.float().mean(dim=1) if lengths is None else segment_mean(x, lengths)
        return self.decoder(pooled)


class PerPositionDecoder(nn.Module):
    """``Linear(D, output_size)`` at every position (token-level tasks, e.g. masked nucleotides)."""

    def __init__(self, embedding_size: int, output_size: int) -> None:
        super().__init__()
        self.decoder = nn.Linear(embedding_size, output_size)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.decoder(x)


class ChordMixer(nn.Module):
    """Embedding, ChordMixer encoder and decoder, with the published constructor.

    Args:
        input_size: vocabulary size (``'sparse'``, token 0 is padding) or channels (``'linear'``).
        output_size: classes (logits) or regression targets.
        embedding_type: ``'sparse'`` (``nn.Embedding``) or ``'linear'`` (``nn.Linear``).
        decoder: ``'linear'`` (mean-pool then linear: ``(B, output_size)``), ``'per_position'``
            (linear at each position: ``(B, L, output_size)`` or ``(N, output_size)``) or ``'none'``
            (the encoder's features).
        max_seq_len, track_size, hidden_size, mlp_dropout, layer_dropout, prenorm, norm, var_len,
        grad_checkpointing: see :class:`ChordMixerEncoder`.

    Shapes:
        equal lengths: ``(B, L)`` tokens or ``(B, L, C)`` values -> ``(B, output_size)``.
        variable lengths: ``(N,)`` tokens or ``(N, C)`` values plus ``(B,)`` lengths ->
        ``(B, output_size)``.
    """

    def __init__(self, input_size: int, output_size: int, embedding_type: str = "sparse",
                 decoder: str = "linear", max_seq_len: int = 2000, track_size: int = 16,
                 hidden_size: int = 128, mlp_dropout: float = 0.0, layer_dropout: float = 0.0,
                 prenorm: str = "None", norm: str = "None", var_len: bool = False,
                 grad_checkpointing: bool = False) -> None:
        super().__init__()
        _check_choice("embedding_type", embedding_type, EMBEDDINGS)
        _check_choice("decoder", decoder, DECODERS)
        encoder = ChordMixerEncoder(max_seq_len, track_size, hidden_size, mlp_dropout, layer_dropout,
                                    prenorm, norm, var_len, grad_checkpointing)
        self.var_len = var_len
        self.embedding_type = embedding_type
        embedding_size = encoder.embedding_size
        if embedding_type == "sparse":
            self.embedding = nn.Embedding(input_size, embedding_size, padding_idx=0)
        else:
            self.embedding = nn.Linear(input_size, embedding_size)
        self.encoder = encoder
        if decoder == "linear":
            self.decoder = LinearDecoder(embedding_size, output_size)
        elif decoder == "per_position":
            self.decoder = PerPositionDecoder(embedding_size, output_size)
        else:
            self.decoder = None
        self.reset_parameters()

    @property
    def embedding_size(self) -> int:
        return self.encoder.embedding_size

    @property
    def grad_checkpointing(self) -> bool:
        return self.encoder.grad_checkpointing

    @grad_checkpointing.setter
    def grad_checkpointing(self, value: bool) -> None:
        self.encoder.grad_checkpointing = value

    def reset_parameters(self) -> None:
        """Xavier-uniform Linear weights, zero biases, N(0, 1) embeddings with the padding row zeroed."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight)
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()

    def forward(self, x: Tensor, lengths: Tensor | Sequence[int] | None = None) -> Tensor:
        """Classify or regress; see the class docstring for shapes."""
        if self.var_len:
            lengths = check_lengths(lengths, x.shape[0], x.device)
        elif lengths is not None:
            raise ValueError("lengths are only for variable-lengths mode; build the model with var_len=True")
        features = self.encoder(self.embed(x), lengths, overwrite_input=True)
        if self.decoder is None:
            return features
        return self.decoder(features, lengths)

    def embed(self, x: Tensor) -> Tensor:
        """Tokens ``(...)`` integer or values ``(..., C)`` float -> ``(..., D)``.

        Under autocast the rows come out in the autocast dtype with no full-size float32 copy: tokens
        are looked up in a low-precision copy of the table (:mod:`genomix.models.embedding`), values
        are embedded in chunks in inference.
        """
        device = x.device.type
        if self.embedding_type == "sparse":
            if x.dtype not in (torch.int64, torch.int32, torch.uint8, torch.int16):
                raise ValueError(f"'sparse' embedding takes integer tokens; got {x.dtype}")
            x = x.long() if x.dtype != torch.int64 else x
            if torch.is_autocast_enabled(device):
                return embed_low_precision(x, self.embedding.weight, self.embedding.padding_idx,
                                           torch.get_autocast_dtype(device))
        else:
            x = x.to(self.embedding.weight.dtype)
        if torch.is_grad_enabled() or not torch.is_autocast_enabled(device) or x.shape[0] <= INFERENCE_CHUNK:
            return self.embedding(x)
        out = torch.empty(*x.shape[: 1 if self.var_len else 2], self.embedding_size,
                          dtype=torch.get_autocast_dtype(device), device=x.device)
        for start in range(0, x.shape[0], INFERENCE_CHUNK):
            out[start:start + INFERENCE_CHUNK] = self.embedding(x[start:start + INFERENCE_CHUNK])
        return out


__all__ = ["ChordMixer", "ChordMixerEncoder", "ChordMixerBlock", "LinearDecoder", "PerPositionDecoder",
           "segment_mean", "depth_for", "n_blocks_for"]
