"""The ref/alt model for variant effects: one ChordMixer encoder shared by both windows, and a head.

``h_ref`` and ``h_alt`` are the per-window means of the encoder's features; the head reads
``[h_ref, h_alt, h_alt - h_ref]`` (``3 D`` features). With ``difference='sum'`` the third part is the
difference of the windows' *sums* instead: a single-base change moves a mean by about ``1/L`` of what it
moves the sum, so under mean pooling the one thing that differs between the windows is a ``1/L``
fraction of the head's input. Both windows of every variant go through the
encoder in one call (the variable-length mode handles their different lengths without padding, and
each window's output does not depend on its batch neighbours).

With ``kmer_profile``, a linear model of the k-mers the variant changes (the alt window's k-mer counts
minus the ref window's, standardised over the training variants) is added to the head's output: the
k-mer baseline of variant effects, which training can fit in closed form and keep fixed
(``TrainConfig.profile_fit``) so the encoder learns only what it misses. With ``motif_count``, that
linear model also reads how the variant changes the best site of each known transcription-factor motif
near it (:class:`~genomix.models.motifs.MotifChange`, matrices installed by ``genomix train``): what a
k-mer model learns from its training elements carries over little to a new element, known motifs do.

The constructor's keyword arguments are plain numbers and strings, and :meth:`RefAltModel.config`
returns them, so a checkpoint rebuilds the model with ``RefAltModel(**config)``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from genomix.models.chordmixer import ChordMixer
from genomix.models.kmers import KmerProfileHead, kmer_counts, kmer_ids
from genomix.models.motifs import MotifChange
from genomix.models.pooling import segment_mean

HEADS = ("linear", "mlp")
DIFFERENCES = ("mean", "sum")


class RefAltModel(nn.Module):
    """Score a variant from its reference and alternative windows.

    Args:
        input_size: vocabulary size (token 0 is padding).
        output_size: classes (logits) or regression targets.
        max_seq_len: longest window the encoder is built for (sets its depth and width ``D``).
        track_size, hidden_size, mlp_dropout, layer_dropout, prenorm, norm: as in
            :class:`~genomix.models.chordmixer.ChordMixer`.
        head: ``'linear'`` (``Linear(3D, output_size)``) or ``'mlp'``
            (``Linear(3D, head_hidden) -> GELU -> Dropout -> Linear(head_hidden, output_size)``).
        head_hidden: width of the MLP head.
        head_dropout: dropout inside the MLP head.
        grad_checkpointing: recompute encoder activations in the backward pass.

    Options beyond the published model (keyword-only; their defaults give the published model):

    Args:
        embedding_type: ``'sparse'`` (single tokens, published) or ``'kmer'`` (the DNA k-mer starting at
            each position, :mod:`genomix.models.kmers`).
        kmer_size: k of ``'kmer'`` embeddings.
        residual_init: ``'xavier'`` (published) or ``'zero'`` (blocks start as the identity, the head's
            last layer at zero): with ``'kmer'`` and ``difference='sum'`` the model then starts as a linear
            model of the k-mers the variant changes.
        difference: ``'mean'`` (published) or ``'sum'``: the head's third input is the difference of the
            windows' summed features (see the module docstring).
        kmer_profile: add the k-mer profile of the change (see the module docstring;
            :meth:`pair_profiles`), with ``kmer_size``-mers over ``A C G T``.
        motif_count, motif_width: with ``kmer_profile``, the profile also holds each of ``motif_count`` motifs'
            change of best site score (:class:`~genomix.models.motifs.MotifChange`; 0: none). The matrices
            are buffers: :meth:`set_motifs` installs them, a checkpoint restores them.

    Shapes:
        ``forward(ref_tokens (N_ref,), ref_lengths (B,), alt_tokens (N_alt,), alt_lengths (B,))``
        -> ``(B, output_size)``.
    """

    def __init__(self, input_size: int, output_size: int, *, max_seq_len: int = 2048, track_size: int = 16,
                 hidden_size: int = 128, mlp_dropout: float = 0.0, layer_dropout: float = 0.0,
                 prenorm: str = "None", norm: str = "None", head: str = "linear", head_hidden: int = 256,
                 head_dropout: float = 0.0, grad_checkpointing: bool = False, embedding_type: str = "sparse",
                 kmer_size: int = 4, residual_init: str = "xavier", difference: str = "mean",
                 kmer_profile: bool = False, motif_count: int = 0, motif_width: int = 0) -> None:
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"head must be one of {', '.join(HEADS)}, got {head!r}")
        if embedding_type not in ("sparse", "kmer"):
            raise ValueError(f"embedding_type must be 'sparse' or 'kmer', got {embedding_type!r}")
        if difference not in DIFFERENCES:
            raise ValueError(f"difference must be one of {', '.join(DIFFERENCES)}, got {difference!r}")
        if output_size < 1:
            raise ValueError(f"output_size must be >= 1, got {output_size}")
        if motif_count and not kmer_profile:
            raise ValueError("motif_count needs kmer_profile=True: the motif changes are columns of the profile head")
        self._config = {"input_size": int(input_size), "output_size": int(output_size),
                        "max_seq_len": int(max_seq_len), "track_size": int(track_size),
                        "hidden_size": int(hidden_size), "mlp_dropout": float(mlp_dropout),
                        "layer_dropout": float(layer_dropout), "prenorm": prenorm, "norm": norm,
                        "head": head, "head_hidden": int(head_hidden), "head_dropout": float(head_dropout),
                        "embedding_type": embedding_type, "kmer_size": int(kmer_size),
                        "residual_init": residual_init, "difference": difference,
                        "kmer_profile": bool(kmer_profile), "motif_count": int(motif_count),
                        "motif_width": int(motif_width)}
        self.difference = difference
        self.backbone = ChordMixer(input_size, 1, embedding_type=embedding_type, decoder="none",
                                   max_seq_len=max_seq_len, track_size=track_size, hidden_size=hidden_size,
                                   mlp_dropout=mlp_dropout, layer_dropout=layer_dropout, prenorm=prenorm, norm=norm,
                                   var_len=True, grad_checkpointing=grad_checkpointing, kmer_size=kmer_size,
                                   kmer_vocab="acgt", residual_init=residual_init)
        width = 3 * self.backbone.embedding_size
        if head == "linear":
            self.head = nn.Sequential(nn.Linear(width, output_size))
        else:
            self.head = nn.Sequential(nn.Linear(width, head_hidden), nn.GELU(), nn.Dropout(head_dropout),
                                      nn.Linear(head_hidden, output_size))
        for module in self.head.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        if residual_init == "zero":
            nn.init.zeros_(self.head[-1].weight)
        self.motifs = MotifChange(motif_count, motif_width) if motif_count else None
        self.profile = (KmerProfileHead(output_size, k=kmer_size, vocab="acgt", extra_features=int(motif_count))
                        if kmer_profile else None)

    @classmethod
    def from_pretrained(cls, folder: str, *, device: str | torch.device = "cpu") -> RefAltModel:
        """The ref/alt model of a folder from ``genomix export`` (eval mode); see ``ChordMixer.from_pretrained``."""
        from genomix.pretrained import load_pretrained_as

        return load_pretrained_as(cls, folder, device=device)

    @property
    def embedding_size(self) -> int:
        """``D``, the encoder's feature width."""
        return self.backbone.embedding_size

    @property
    def output_size(self) -> int:
        return self._config["output_size"]

    def config(self) -> dict[str, Any]:
        """The constructor's keyword arguments (JSON-serialisable): ``RefAltModel(**config)`` rebuilds it."""
        return dict(self._config)

    def encode(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """Pooled features of each window: ``(N,)`` tokens, ``(B,)`` lengths -> ``(B, D)`` float32 means
        (``difference='sum'``: ``(B, 2 D)``, the means then the sums)."""
        lengths = torch.as_tensor(lengths, dtype=torch.int64, device=tokens.device)
        means = segment_mean(self.backbone(tokens, lengths), lengths)
        if self.difference == "mean":
            return means
        return torch.cat([means, means * lengths.to(means.dtype).unsqueeze(1)], dim=-1)

    def head_from(self, h_ref: Tensor, h_alt: Tensor) -> Tensor:
        """The head on pooled features (:meth:`encode`'s) -> ``(B, output_size)``."""
        if self.difference == "mean":
            return self.head(torch.cat([h_ref, h_alt, h_alt - h_ref], dim=-1))
        width = self.embedding_size
        return self.head(torch.cat([h_ref[:, :width], h_alt[:, :width], h_alt[:, width:] - h_ref[:, width:]], dim=-1))

    def encode_pair(self, ref_tokens: Tensor, ref_lengths: Tensor, alt_tokens: Tensor,
                    alt_lengths: Tensor) -> tuple[Tensor, Tensor]:
        """``(h_ref, h_alt)``, each ``(B, D)``, from ONE encoder call over all ``2B`` windows."""
        ref_lengths = torch.as_tensor(ref_lengths, dtype=torch.int64, device=ref_tokens.device)
        alt_lengths = torch.as_tensor(alt_lengths, dtype=torch.int64, device=ref_tokens.device)
        if ref_lengths.shape != alt_lengths.shape:
            raise ValueError(f"ref_lengths and alt_lengths must both be (B,), got {tuple(ref_lengths.shape)} "
                             f"and {tuple(alt_lengths.shape)}")
        pooled = self.encode(torch.cat([ref_tokens, alt_tokens.to(ref_tokens.dtype)]),
                             torch.cat([ref_lengths, alt_lengths]))
        batch = len(ref_lengths)
        return pooled[:batch], pooled[batch:]

    def set_motifs(self, matrices: Tensor) -> None:
        """Install ``(motif_count, 4, motif_width)`` log-odds matrices (:func:`~genomix.models.motifs.log_odds`)."""
        if self.motifs is None:
            raise ValueError("set_motifs needs a model built with motif_count > 0")
        self.motifs.set_matrices(matrices)

    def pair_profiles(self, ref_tokens: Tensor, ref_lengths: Tensor, alt_tokens: Tensor,
                      alt_lengths: Tensor) -> Tensor:
        """``(B, 4**k [+ motif_count])`` float32: each variant's alt-window k-mer counts minus its ref window's
        (only the k-mers overlapping the change differ), then with ``motif_count`` each motif's change of
        best site score; the input of the profile head."""
        if self.profile is None:
            raise ValueError("pair_profiles needs a model with a k-mer profile (kmer_profile=True)")
        counts = []
        for tokens, lengths in ((ref_tokens, ref_lengths), (alt_tokens, alt_lengths)):
            lengths = torch.as_tensor(lengths, dtype=torch.int64, device=tokens.device)
            ids = kmer_ids(tokens.long(), lengths, k=self.profile.k, vocab="acgt")
            counts.append(kmer_counts(ids, lengths, self.profile.n_ids))
        change = counts[1] - counts[0]
        if self.motifs is None:
            return change
        return torch.cat([change, self.motifs(ref_tokens, ref_lengths, alt_tokens, alt_lengths).to(change.dtype)], 1)

    def forward(self, ref_tokens: Tensor, ref_lengths: Tensor, alt_tokens: Tensor, alt_lengths: Tensor, *,
                profile_logits: Tensor | None = None) -> Tensor:
        """Logits or predictions ``(B, output_size)``; shapes in the class docstring. ``profile_logits``:
        ``(B, output_size)`` to add in place of the profile head's output (training with a fixed, fitted
        head passes its out-of-fold outputs); only with ``kmer_profile``."""
        if profile_logits is not None and self.profile is None:
            raise ValueError("profile_logits are only for a model with a k-mer profile (kmer_profile=True)")
        h_ref, h_alt = self.encode_pair(ref_tokens, ref_lengths, alt_tokens, alt_lengths)
        out = self.head_from(h_ref, h_alt)
        if self.profile is None:
            return out
        if profile_logits is not None:
            return out + profile_logits.float()
        profiles = self.pair_profiles(ref_tokens, ref_lengths, alt_tokens, alt_lengths)
        return out + self.profile(ref_tokens, None, profiles=profiles)


__all__ = ["RefAltModel", "HEADS", "DIFFERENCES"]
