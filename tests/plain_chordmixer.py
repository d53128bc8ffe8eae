"""A plain ChordMixer, written the way the published code is: the reference for tests and benchmarks.

One ``torch.roll`` per sequence and per track, sequences split by a Python loop, each sequence run
through its own ``ceil(log2(L))`` blocks. Same parameter names as :class:`genomix.ChordMixer`, so one
state dict loads into both. Slow on purpose: it is the definition, not the implementation. The norms
are the published ones (``map_norm``): ``BN`` and ``GN`` permute ``(B, L, D)`` to ``(B, D, L)`` and apply
``nn.BatchNorm1d(D)`` / ``nn.GroupNorm(track_size, D)``, so GN normalises each sequence over all its
positions per group of channels. A variable-length sequence is normalised as a batch of one.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class PublishedBatchNorm(nn.Module):
    def __init__(self, embedding_size):
        super().__init__()
        self.bn = nn.BatchNorm1d(embedding_size)

    def forward(self, x):
        return torch.permute(self.bn(torch.permute(x, (0, 2, 1))), (0, 2, 1))


class PublishedGroupNorm(nn.Module):
    def __init__(self, embedding_size, n_groups):
        super().__init__()
        self.gn = nn.GroupNorm(n_groups, embedding_size)

    def forward(self, x):
        return torch.permute(self.gn(torch.permute(x, (0, 2, 1))), (0, 2, 1))


def map_norm(norm_type, embedding_size, track_size):
    """The published norm for ``'LN'``, ``'BN'``, ``'GN'`` or ``'None'``; acts on ``(B, L, D)``."""
    if norm_type == "LN":
        return nn.LayerNorm(embedding_size)
    if norm_type == "BN":
        return PublishedBatchNorm(embedding_size)
    if norm_type == "GN":
        return PublishedGroupNorm(embedding_size, track_size)
    return nn.Identity()


class PlainMlp(nn.Module):
    def __init__(self, embedding_size, hidden_size, dropout):
        super().__init__()
        self.fc1 = nn.Linear(embedding_size, hidden_size)
        self.fc2 = nn.Linear(hidden_size, embedding_size)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        return self.drop(self.fc2(self.drop(nn.functional.gelu(self.fc1(x)))))


def plain_rotate(x, track_size, dim):
    """Track 0 stays; track i >= 1 moves so position p holds what p + 2**(i-1) held."""
    tracks = torch.split(x, track_size, dim=-1)
    out = [tracks[0]]
    for i in range(1, len(tracks)):
        out.append(torch.roll(tracks[i], shifts=-(2 ** (i - 1)), dims=dim))
    return torch.cat(out, -1)


class PlainBlock(nn.Module):
    def __init__(self, embedding_size, track_size, hidden_size, mlp_dropout, layer_dropout, prenorm, norm):
        super().__init__()
        self.track_size = track_size
        self.prenorm = map_norm(prenorm, embedding_size, track_size)
        self.mix = PlainMlp(embedding_size, hidden_size, mlp_dropout)
        self.dropout = nn.Dropout(layer_dropout)
        self.norm = map_norm(norm, embedding_size, track_size)

    def _norm(self, module, x):
        # published norms act on (B, L, D); a variable-length sequence (L, D) is a batch of one
        return module(x) if x.dim() == 3 else module(x[None])[0]

    def forward(self, x, dim):
        update = self.dropout(self.mix(self._norm(self.prenorm, x)))
        return self._norm(self.norm, x + plain_rotate(update, self.track_size, dim))


class PlainEncoder(nn.Module):
    def __init__(self, n_blocks, embedding_size, track_size, hidden_size, mlp_dropout, layer_dropout,
                 prenorm, norm):
        super().__init__()
        self.chordmixer_blocks = nn.ModuleList(
            PlainBlock(embedding_size, track_size, hidden_size, mlp_dropout, layer_dropout, prenorm, norm)
            for _ in range(n_blocks))


class PlainChordMixer(nn.Module):
    """Reference ChordMixer: equal lengths ``(B, L)`` or a Python list of variable-length sequences."""

    def __init__(self, input_size, output_size, embedding_type="sparse", decoder="linear",
                 max_seq_len=2000, track_size=16, hidden_size=128, mlp_dropout=0.0, layer_dropout=0.0,
                 prenorm="None", norm="None", var_len=False):
        super().__init__()
        self.n_blocks = math.ceil(math.log2(max_seq_len)) if max_seq_len > 1 else 0
        embedding_size = (self.n_blocks + 1) * track_size
        self.var_len = var_len
        self.decoder_kind = decoder
        if embedding_type == "sparse":
            self.embedding = nn.Embedding(input_size, embedding_size, padding_idx=0)
        else:
            self.embedding = nn.Linear(input_size, embedding_size)
        self.encoder = PlainEncoder(self.n_blocks, embedding_size, track_size, hidden_size, mlp_dropout,
                                    layer_dropout, prenorm, norm)
        self.decoder = nn.Module()
        self.decoder.decoder = nn.Linear(embedding_size, output_size)

    def encode_one(self, x, depth, dim):
        for block in self.encoder.chordmixer_blocks[:depth]:
            x = block(x, dim)
        return x

    def forward(self, x, lengths=None):
        if not self.var_len:
            h = self.encode_one(self.embedding(x), self.n_blocks, dim=1)
            return self.decoder.decoder(h if self.decoder_kind == "per_position" else h.mean(1))
        outputs = []
        for seq in torch.split(x, [int(n) for n in lengths], dim=0):
            length = seq.shape[0]
            depth = min(math.ceil(math.log2(length)) if length > 1 else 0, self.n_blocks)
            h = self.encode_one(self.embedding(seq), depth, dim=0)
            outputs.append(self.decoder.decoder(h if self.decoder_kind == "per_position" else h.mean(0)))
        return torch.cat(outputs) if self.decoder_kind == "per_position" else torch.stack(outputs)
