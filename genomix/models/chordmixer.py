"""ChordMixer (Khalitov et al., ICLR 2023): MLP mixing plus a fixed multi-scale rotation.

This file is the model's definition: what it computes, read top-down. How it is made fast lives
beside it in :mod:`genomix.models.fast`, which runs a block's own code unless the block is exactly the
one a fast path implements (and a test checks every fast path against this definition).

Same constructor keywords and parameter names as the published code, so its weights load directly.
Two modes behind one API:

* equal lengths: ``(B, L)`` tokens (or ``(B, L, C)`` values) -> ``(B, output_size)``; every
  sequence runs all ``ceil(log2(max_seq_len))`` blocks.
* variable lengths (``var_len=True``): sequences concatenated along dim 0 plus their ``lengths``;
  each sequence is rotated within itself and gets its own depth ``ceil(log2(L_i))`` (capped at the
  model's block count), so its output does not depend on which sequences share the batch.

Activations are ``(N, D)`` rows of concatenated sequences in both modes. The rotation is one row
gather with an index built once per batch (:mod:`genomix.models.rotation`); sequences are ordered by
depth so that block ``k`` runs on a prefix of the rows holding exactly the sequences that still need
depth.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from genomix.models.embedding import embed_low_precision
from genomix.models.kmers import KMER_VOCABS, KmerEmbedding, KmerProfileHead
from genomix.models.norms import NORMS, apply_norm, make_norm
from genomix.models.pooling import segment_mean, segment_moments
from genomix.models.rotation import Rotation, build_rotation, rotate_add

EMBEDDINGS = ("sparse", "linear", "kmer")
RESIDUAL_INITS = ("xavier", "zero")
CHECKPOINTING = (False, True, "block", "segments", "segments_bf16")
DECODERS = ("linear", "per_position", "none")
POOLINGS = ("mean", "moments")
EMBED_CHUNK = 1 << 14
"""Rows of ``'linear'`` embedding computed at a time in inference under autocast (no float32 copy)."""


# helpers

def _check_choice(name: str, value: object, allowed: Sequence[object]) -> None:
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


def window_lengths(lengths: Tensor, window: int) -> Tensor:
    """Each sequence cut into ``ceil(L / window)`` consecutive pieces of nearly equal length (they differ by
    at most one, none longer than ``window``): ``(B,)`` lengths -> ``(P,)`` piece lengths, in row order."""
    lengths = lengths.to(torch.int64)
    counts = torch.div(lengths + window - 1, window, rounding_mode="floor").clamp(min=1)
    owner = torch.repeat_interleave(torch.arange(len(lengths), device=lengths.device), counts)
    first = torch.cumsum(counts, 0) - counts
    rank = torch.arange(len(owner), device=lengths.device) - first[owner]
    return lengths[owner] // counts[owner] + (rank < lengths[owner] % counts[owner]).to(torch.int64)


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


def token_permutation(lengths: Tensor, order: Tensor) -> Tensor:
    """Row indices that lay sequences out in ``order`` (each sequence's rows stay contiguous)."""
    starts = torch.cumsum(lengths, 0) - lengths
    new_lengths = lengths[order]
    new_starts = torch.cumsum(new_lengths, 0) - new_lengths
    sequence_of = torch.repeat_interleave(torch.arange(len(order), device=lengths.device), new_lengths)
    within = torch.arange(int(new_lengths.sum()), device=lengths.device) - new_starts[sequence_of]
    return starts[order][sequence_of] + within


def active_prefixes(lengths: Tensor, depths: Tensor, n_blocks: int) -> list[tuple[int, int]]:
    """For each block ``k``, ``(sequences, rows)`` of the leading sequences with ``depth > k``.

    Requires sequences ordered by non-increasing depth. One host sync per batch, not per block.
    """
    cumulative = torch.cumsum(lengths, 0).tolist()
    depth_list = depths.tolist()
    prefixes = []
    for k in range(n_blocks):
        n_sequences = sum(1 for d in depth_list if d > k)
        prefixes.append((n_sequences, cumulative[n_sequences - 1] if n_sequences else 0))
    return prefixes


def in_autocast_dtype(rows: Tensor) -> Tensor:
    """Floating rows in the autocast dtype when autocast is on (activations stay bf16 end to end)."""
    device = rows.device.type
    if rows.is_floating_point() and torch.is_autocast_enabled(device):
        return rows.to(torch.get_autocast_dtype(device))
    return rows


# classes

class Mlp(nn.Module):
    """Position-wise ``Linear(D, hidden) -> GELU -> Dropout -> Linear(hidden, D) -> Dropout``."""

    def __init__(self, embedding_size: int, hidden_size: int, dropout: float) -> None:
        super().__init__()
        self.fc1 = nn.Linear(embedding_size, hidden_size)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_size, embedding_size)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class ChordMixerBlock(nn.Module):
    """``y = norm(x + rotate(layer_dropout(mix(prenorm(x)))))`` on ``(n, D)`` rows."""

    def __init__(self, embedding_size: int, track_size: int, hidden_size: int, mlp_dropout: float,
                 layer_dropout: float, prenorm: str, norm: str) -> None:
        super().__init__()
        self.prenorm = make_norm(prenorm, embedding_size, track_size)
        self.mix = Mlp(embedding_size, hidden_size, mlp_dropout)
        self.dropout = nn.Dropout(layer_dropout)
        self.norm = make_norm(norm, embedding_size, track_size)

    def forward(self, x: Tensor, rotation: Rotation) -> Tensor:
        """One block.

        Args:
            x: ``(n, D)`` rows of whole sequences.
            rotation: their rotation (:func:`~genomix.models.rotation.build_rotation`), with lengths.

        Returns:
            ``(n, D)``.
        """
        update = self.dropout(self.mix(apply_norm(self.prenorm, x, rotation.lengths)))
        mixed = rotate_add(x, update, rotation.index, rotation.inverse, rotation.n_tracks)
        return apply_norm(self.norm, mixed, rotation.lengths)


class ChordMixerEncoder(nn.Module):
    """The stack of ChordMixer blocks, on embedded inputs; each sequence runs its own depth.

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
            Memory only: the values are the same; :mod:`genomix.models.fast` does it.
            ``'segments_bf16'``: ``'segments'`` with float32 rows' stored block inputs kept in bf16 for the
            backward pass (:mod:`genomix.models.fast.compact`: same forward, gradients at activations
            rounded to bf16; about a third less memory).
    """

    def __init__(self, max_seq_len: int, track_size: int, hidden_size: int, mlp_dropout: float = 0.0,
                 layer_dropout: float = 0.0, prenorm: str = "None", norm: str = "None",
                 var_len: bool = False, grad_checkpointing: bool | str = False) -> None:
        super().__init__()
        _check_choice("prenorm", prenorm, NORMS)
        _check_choice("norm", norm, NORMS)
        if track_size < 1 or hidden_size < 1:
            raise ValueError(f"track_size and hidden_size must be >= 1; got {track_size}, {hidden_size}")
        if grad_checkpointing not in CHECKPOINTING:
            raise ValueError(f"grad_checkpointing must be one of False, True, 'block', 'segments', 'segments_bf16'; "
                             f"got {grad_checkpointing!r}")
        self.max_seq_len = max_seq_len
        self.n_blocks = n_blocks_for(max_seq_len)
        self.n_tracks = self.n_blocks + 1
        self.track_size = track_size
        self.embedding_size = self.n_tracks * track_size
        self.var_len = var_len
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
            depths = depth_for(lengths, self.n_blocks)
            rows = x
        else:
            if x.dim() != 3:
                raise ValueError(f"equal-lengths mode expects (B, L, D) input; got shape {tuple(x.shape)}")
            batch, length, width = x.shape
            lengths = torch.full((batch,), length, dtype=torch.int64, device=x.device)
            depths = torch.full((batch,), self.n_blocks, dtype=torch.int64, device=x.device)
            rows = x.reshape(batch * length, width)
        from genomix.models import fast  # beside the definition; it imports this module

        if fast.active():
            rows = fast.encode(self, rows, lengths, depths, overwrite_input=overwrite_input)
        else:
            rows = self.encode_rows(rows, lengths, depths)
        return rows.view(x.shape)

    def encode_rows(self, rows: Tensor, lengths: Tensor, depths: Tensor) -> Tensor:
        """The definition: ``(N, D)`` rows, sequence ``i`` through the first ``depths[i]`` blocks.

        Sequences are laid out by decreasing depth, so block ``k`` runs on the leading rows, those
        of the sequences with ``depth > k``; the order is restored at the end. Under autocast the
        rows are kept in the autocast dtype.
        """
        rows = in_autocast_dtype(rows)
        order = torch.sort(depths, descending=True, stable=True).indices
        token_order = token_permutation(lengths, order)
        rows, lengths, depths = rows.index_select(0, token_order), lengths[order], depths[order]
        rotation = build_rotation(lengths, self.n_tracks, with_inverse=torch.is_grad_enabled())
        for block, (n_sequences, n_rows) in zip(self.chordmixer_blocks,
                                                active_prefixes(lengths, depths, self.n_blocks)):
            if n_rows == 0:
                break
            out = block(rows[:n_rows], rotation.head(n_sequences, n_rows))
            rows = torch.cat([out, rows[n_rows:].to(out.dtype)])
        return rows.index_select(0, torch.argsort(token_order))


class LinearDecoder(nn.Module):
    """Pool each sequence's positions, then ``Linear``: ``pooling='mean'`` (published: ``Linear(D, output_size)``
    on the means) or ``'moments'`` (``Linear(2 D, output_size)`` on the means and each channel's first position
    moment, :func:`~genomix.models.pooling.segment_moments`: where along the sequence a feature lies)."""

    def __init__(self, embedding_size: int, output_size: int, pooling: str = "mean") -> None:
        super().__init__()
        _check_choice("pooling", pooling, POOLINGS)
        self.pooling = pooling
        self.decoder = nn.Linear(embedding_size * (2 if pooling == "moments" else 1), output_size)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        if self.pooling == "moments":
            if lengths is None:
                lengths = torch.full((x.shape[0],), x.shape[1], dtype=torch.int64, device=x.device)
                x = x.reshape(-1, x.shape[-1])
            return self.decoder(segment_moments(x, lengths))
        if lengths is None:  # float32 for bf16 rows, float64 for float64 ones, as segment_mean
            pooled = x.mean(dim=1, dtype=torch.promote_types(x.dtype, torch.float32))
        else:
            pooled = segment_mean(x, lengths)
        return self.decoder(pooled)


class PerPositionDecoder(nn.Module):
    """``Linear(D, output_size)`` at every position (token-level tasks, e.g. masked nucleotides)."""

    def __init__(self, embedding_size: int, output_size: int) -> None:
        super().__init__()
        self.decoder = nn.Linear(embedding_size, output_size)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.decoder(x)


# main class

class ChordMixer(nn.Module):
    """Embedding, ChordMixer encoder and decoder, with the published constructor.

    Args:
        input_size: vocabulary size (``'sparse'``, token 0 is padding) or channels (``'linear'``).
        output_size: classes (logits) or regression targets.
        embedding_type: ``'sparse'`` (``nn.Embedding``), ``'linear'`` (``nn.Linear``) or ``'kmer'``
            (``nn.Embedding`` of the k-mer starting at each position: :mod:`genomix.models.kmers`).
        decoder: ``'linear'`` (mean-pool then linear: ``(B, output_size)``), ``'per_position'``
            (linear at each position: ``(B, L, output_size)`` or ``(N, output_size)``) or ``'none'``
            (the encoder's features).
        max_seq_len, track_size, hidden_size, mlp_dropout, layer_dropout, prenorm, norm, var_len,
        grad_checkpointing: see :class:`ChordMixerEncoder`.

    Options beyond the published model (keyword-only; their defaults give the published model):

    Args:
        kmer_size, kmer_vocab, kmer_buckets: the k-mers of ``'kmer'`` embeddings and of the profile
            head: size, ``'acgt'`` (exact DNA k-mers) or ``'hashed'`` (any tokens, ``kmer_buckets``
            buckets).
        kmer_profile: add :class:`~genomix.models.kmers.KmerProfileHead` (a linear model of the
            standardised k-mer profile, starting at zero) to the decoder's output (``'linear'`` decoder).
        profile_kmer_size: k of the profile head's k-mers (0: ``kmer_size``); its vocabulary and buckets
            are the embedding's.
        profile_canonical: the profile head averages each k-mer's frequency with its reverse
            complement's, so its output is the same on either strand (``'acgt'`` k-mers).
        residual_init: ``'xavier'`` (published) or ``'zero'``: every block's ``fc2`` weight and the
            decoder start at zero, so each block starts as the identity and the network as a constant;
            with ``'kmer'`` embeddings and mean pooling it then starts as a linear k-mer model.
        encoder_window: ``0`` (published: the encoder mixes each whole sequence) or ``W``: a sequence
            longer than ``W`` goes through the encoder as ``ceil(L / W)`` consecutive pieces of nearly
            equal length, and the decoder pools over all its positions (the embedding's k-mers and the
            profile head still read the whole sequence). A model trained on ``W``-long windows of long
            sequences then sees, at any length, inputs like those it was trained on. Variable-lengths
            mode only.
        pooling: ``'mean'`` (published) or ``'moments'``: the ``'linear'`` decoder reads each channel's mean
            and its first moment along the sequence, so the model can tell where in a sequence a feature
            lies (the rotation is cyclic and a mean forgets it; :func:`~genomix.models.pooling.segment_moments`).

    Shapes:
        equal lengths: ``(B, L)`` tokens or ``(B, L, C)`` values -> ``(B, output_size)``.
        variable lengths: ``(N,)`` tokens or ``(N, C)`` values plus ``(B,)`` lengths ->
        ``(B, output_size)``.
    """

    def __init__(self, input_size: int, output_size: int, embedding_type: str = "sparse",
                 decoder: str = "linear", max_seq_len: int = 2000, track_size: int = 16,
                 hidden_size: int = 128, mlp_dropout: float = 0.0, layer_dropout: float = 0.0,
                 prenorm: str = "None", norm: str = "None", var_len: bool = False,
                 grad_checkpointing: bool | str = False, *, kmer_size: int = 4, kmer_vocab: str = "acgt",
                 kmer_buckets: int = 4096, kmer_profile: bool = False, profile_kmer_size: int = 0,
                 profile_canonical: bool = False, residual_init: str = "xavier", encoder_window: int = 0,
                 pooling: str = "mean") -> None:
        super().__init__()
        if encoder_window < 0 or (encoder_window and not var_len):
            raise ValueError(f"encoder_window must be 0, or >= 1 with var_len=True; got {encoder_window} "
                             f"(var_len={var_len})")
        self.encoder_window = int(encoder_window)
        _check_choice("embedding_type", embedding_type, EMBEDDINGS)
        _check_choice("kmer_vocab", kmer_vocab, KMER_VOCABS)
        _check_choice("residual_init", residual_init, RESIDUAL_INITS)
        _check_choice("pooling", pooling, POOLINGS)
        if pooling != "mean" and decoder != "linear":
            raise ValueError(f"pooling={pooling!r} needs the 'linear' decoder; got decoder={decoder!r}")
        if kmer_profile and decoder != "linear":
            raise ValueError(f"kmer_profile needs the 'linear' decoder; got decoder={decoder!r}")
        self.residual_init = residual_init
        _check_choice("decoder", decoder, DECODERS)
        encoder = ChordMixerEncoder(max_seq_len, track_size, hidden_size, mlp_dropout, layer_dropout,
                                    prenorm, norm, var_len, grad_checkpointing)
        self.var_len = var_len
        self.embedding_type = embedding_type
        embedding_size = encoder.embedding_size
        if embedding_type == "sparse":
            self.embedding = nn.Embedding(input_size, embedding_size, padding_idx=0)
        elif embedding_type == "kmer":
            self.embedding = KmerEmbedding(embedding_size, k=kmer_size, vocab=kmer_vocab, buckets=kmer_buckets)
        else:
            self.embedding = nn.Linear(input_size, embedding_size)
        self.encoder = encoder
        if decoder == "linear":
            self.decoder = LinearDecoder(embedding_size, output_size, pooling)
        elif decoder == "per_position":
            self.decoder = PerPositionDecoder(embedding_size, output_size)
        else:
            self.decoder = None
        if profile_kmer_size < 0:
            raise ValueError(f"profile_kmer_size must be >= 0, got {profile_kmer_size}")
        self.profile = (KmerProfileHead(output_size, k=profile_kmer_size or kmer_size, vocab=kmer_vocab,
                                        buckets=kmer_buckets, canonical=profile_canonical) if kmer_profile else None)
        self.reset_parameters()

    @property
    def embedding_size(self) -> int:
        return self.encoder.embedding_size

    @classmethod
    def from_pretrained(cls, folder: str, *, device: str | torch.device = "cpu") -> ChordMixer:
        """The model of a folder written by ``genomix export`` (eval mode); needs genomix's model code only.

        Raises:
            genomix.errors.CheckpointError: not such a folder, a changed weights file (SHA-256), or
                weights that do not fit; a folder of a ref/alt model (load it with ``RefAltModel``).
        """
        from genomix.pretrained import load_pretrained_as

        return load_pretrained_as(cls, folder, device=device)

    @property
    def grad_checkpointing(self) -> bool | str:
        return self.encoder.grad_checkpointing

    @grad_checkpointing.setter
    def grad_checkpointing(self, value: bool | str) -> None:
        self.encoder.grad_checkpointing = value

    def reset_parameters(self) -> None:
        """Xavier-uniform Linear weights, zero biases, N(0, 1) embeddings with the padding row zeroed
        (``residual_init='zero'``: then ``fc2`` and decoder weights zeroed); the profile head at zero."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight)
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()
        if self.residual_init == "zero":
            for block in self.encoder.chordmixer_blocks:
                nn.init.zeros_(block.mix.fc2.weight)
            if self.decoder is not None:
                nn.init.zeros_(self.decoder.decoder.weight)
        if self.profile is not None:
            self.profile.reset_parameters()

    def forward(self, x: Tensor, lengths: Tensor | Sequence[int] | None = None, *,
                profile_logits: Tensor | None = None) -> Tensor:
        """Classify or regress; see the class docstring for shapes. ``profile_logits``: ``(B, output_size)``
        to add in place of the profile head's output (training with a fixed, fitted head passes its
        logits of the whole sequences, out of fold); only with ``kmer_profile``."""
        if profile_logits is not None and self.profile is None:
            raise ValueError("profile_logits are only for a model with a k-mer profile head (kmer_profile=True)")
        if self.var_len:
            lengths = check_lengths(lengths, x.shape[0], x.device)
        elif lengths is not None:
            raise ValueError("lengths are only for variable-lengths mode; build the model with var_len=True")
        ids = self.lookup_ids(x, lengths) if self.embedding_type != "linear" else None
        pieces = lengths
        if self.encoder_window and int(lengths.max()) > self.encoder_window:
            pieces = window_lengths(lengths, self.encoder_window)
        features = self.encoder(self.embed(x, lengths, ids=ids), pieces, overwrite_input=True)
        if self.decoder is None:
            return features
        out = self.decoder(features, lengths)
        if self.profile is None:
            return out
        if profile_logits is not None:
            return out + profile_logits.float()
        # where the profile head counts the embedding's own k-mers (same k, vocabulary, buckets): computed once
        shared = self.embedding_type == "kmer" and self.profile.k == self.embedding.k
        return out + self.profile(x, lengths, ids=ids if shared else None)

    def lookup_ids(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """The embedding rows that integer tokens ``(...)`` look up: the tokens (``'sparse'``) or the id of
        the k-mer starting at each position (``'kmer'``; ``lengths`` keep k-mers inside their sequences)."""
        if x.dtype not in (torch.int64, torch.int32, torch.uint8, torch.int16):
            raise ValueError(f"{self.embedding_type!r} embedding takes integer tokens; got {x.dtype}")
        x = x.long() if x.dtype != torch.int64 else x
        return self.embedding.ids(x, lengths) if self.embedding_type == "kmer" else x

    def embed(self, x: Tensor, lengths: Tensor | None = None, *, ids: Tensor | None = None) -> Tensor:
        """Tokens ``(...)`` integer or values ``(..., C)`` float -> ``(..., D)`` (``lengths``: of the
        concatenated sequences in variable-lengths mode, where k-mers must not cross them; ``ids``: their
        :meth:`lookup_ids`, when already computed).

        Under autocast the rows come out in the autocast dtype with no full-size float32 copy: tokens
        are looked up in a low-precision copy of the table (:mod:`genomix.models.embedding`), values
        are embedded in chunks in inference.
        """
        device = x.device.type
        if self.embedding_type in ("sparse", "kmer"):
            x = ids if ids is not None else self.lookup_ids(x, lengths)
            if torch.is_autocast_enabled(device):
                return embed_low_precision(x, self.embedding.weight, self.embedding.padding_idx,
                                           torch.get_autocast_dtype(device))
        else:
            x = x.to(self.embedding.weight.dtype)
        if torch.is_grad_enabled() or not torch.is_autocast_enabled(device) or x.shape[0] <= EMBED_CHUNK:
            return self.embedding(x)
        out = torch.empty(*x.shape[: 1 if self.var_len else 2], self.embedding_size,
                          dtype=torch.get_autocast_dtype(device), device=x.device)
        for start in range(0, x.shape[0], EMBED_CHUNK):
            out[start:start + EMBED_CHUNK] = self.embedding(x[start:start + EMBED_CHUNK])
        return out


__all__ = ["ChordMixer", "ChordMixerEncoder", "ChordMixerBlock", "Mlp", "LinearDecoder", "PerPositionDecoder",
           "segment_mean", "depth_for", "n_blocks_for"]
