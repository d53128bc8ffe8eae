"""Overlapping k-mers of token sequences: the ids a k-mer embedding looks up, and k-mer profiles.

Why: what wins most sequence-classification tasks is a bag of k-mers (the k-mer baseline). With each
position embedded by the k-mer that starts there, a mean-pooled ChordMixer whose residual branches start
at zero *is* a linear model of k-mer frequencies at initialisation; the blocks then add what depends on
order. Single-token embeddings make the network learn k-mer detection from scratch first.

Ids: ``0`` is padding, ``1`` is "no k-mer" (a window that holds a non-k-mer symbol, e.g. ``N``, or runs
past the end of its sequence), then ``2 + code``. Two vocabularies:

* ``'acgt'``: DNA tokens ``1..4`` (``A C G T``, :mod:`genomix.alphabet`) are the symbols; ``code`` is
  exact, ``4**k`` k-mers.
* ``'hashed'``: every non-zero token is a symbol; ``code`` is the k-mer hashed into ``buckets``
  (bytes: character n-grams, as the baseline's hashed profiles).

A k-mer never crosses from one sequence into the next: positions ``p > L - k`` of a sequence of
length ``L`` get id ``1``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

KMER_VOCABS = ("acgt", "hashed")
NO_KMER = 1
FIRST_KMER = 2
_HASH_BASE = 257
_HASH_MODULUS = 1 << 40


def kmer_vocab_size(k: int, vocab: str, buckets: int) -> int:
    """Embedding rows for k-mer ids: padding, "no k-mer" and the k-mers."""
    if k < 1:
        raise ValueError(f"kmer_size must be >= 1; got {k}")
    if vocab not in KMER_VOCABS:
        raise ValueError(f"kmer_vocab must be one of {', '.join(map(repr, KMER_VOCABS))}; got {vocab!r}")
    if vocab == "hashed" and buckets < 1:
        raise ValueError(f"kmer_buckets must be >= 1; got {buckets}")
    return FIRST_KMER + (4**k if vocab == "acgt" else buckets)


def kmer_ids(tokens: Tensor, lengths: Tensor | None, *, k: int, vocab: str, buckets: int = 4096) -> Tensor:
    """The id of the k-mer that starts at each position.

    Args:
        tokens: ``(N,)`` tokens of sequences laid end to end (``lengths`` given), or ``(B, L)`` tokens of
            equal-length sequences (``lengths`` None).
        lengths: ``(B,)`` lengths summing to ``N``, or None for ``(B, L)`` input.
        k: k-mer size.
        vocab: ``'acgt'`` or ``'hashed'`` (see the module docstring).
        buckets: hash buckets for ``'hashed'``.

    Returns:
        int64 ids of the same shape as ``tokens``, in ``[0, kmer_vocab_size(k, vocab, buckets))``; padding
        tokens (0) keep id 0.
    """
    kmer_vocab_size(k, vocab, buckets)
    if lengths is None:
        if tokens.dim() != 2:
            raise ValueError(f"equal-length k-mers need (B, L) tokens; got shape {tuple(tokens.shape)}")
        batch, length = tokens.shape
        flat = tokens.reshape(-1)
        lengths = torch.full((batch,), length, dtype=torch.int64, device=tokens.device)
        return kmer_ids(flat, lengths, k=k, vocab=vocab, buckets=buckets).view(batch, length)
    tokens = tokens.long()
    n = tokens.shape[0]
    if vocab == "acgt":
        symbols = torch.where((tokens >= 1) & (tokens <= 4), tokens - 1, torch.full_like(tokens, -1))
    else:
        symbols = torch.where(tokens > 0, tokens, torch.full_like(tokens, -1))
    code = torch.zeros(n, dtype=torch.int64, device=tokens.device)
    valid = torch.ones(n, dtype=torch.bool, device=tokens.device)
    for j in range(k):
        part = torch.full_like(symbols, -1)
        part[: n - j] = symbols[j:]
        valid &= part >= 0
        if vocab == "acgt":
            code = code * 4 + part.clamp(min=0)
        else:
            code = (code * _HASH_BASE + part.clamp(min=0)) % _HASH_MODULUS
    if vocab == "hashed":
        code = code % buckets
    lengths = lengths.to(device=tokens.device, dtype=torch.int64)
    sequence_of = torch.repeat_interleave(torch.arange(len(lengths), device=tokens.device), lengths)
    starts = torch.cumsum(lengths, 0) - lengths
    valid &= torch.arange(n, device=tokens.device) - starts[sequence_of] <= lengths[sequence_of] - k
    ids = torch.where(valid, code + FIRST_KMER, torch.full_like(code, NO_KMER))
    return ids.masked_fill(tokens == 0, 0)


def reverse_complement_codes(k: int) -> Tensor:
    """``(4**k,)`` int64: for each ``'acgt'`` k-mer code (``A C G T`` = 0..3, first base most significant),
    the code of its reverse complement."""
    codes = torch.arange(4**k, dtype=torch.int64)
    reverse = torch.zeros_like(codes)
    for j in range(k):  # base j of the k-mer, complemented, becomes base k - 1 - j of the reverse complement
        base = (codes // 4 ** (k - 1 - j)) % 4
        reverse += (3 - base) * 4**j
    return reverse


def kmer_counts(ids: Tensor, lengths: Tensor, n_ids: int) -> Tensor:
    """Counts of each sequence's k-mers (ids from :func:`kmer_ids`; padding and "no k-mer" not
    counted): ``(N,)`` ids, ``(B,)`` lengths -> ``(B, n_ids - 2)`` float32."""
    lengths = lengths.to(device=ids.device, dtype=torch.int64)
    sequence_of = torch.repeat_interleave(torch.arange(len(lengths), device=ids.device), lengths)
    counts = torch.zeros(len(lengths) * n_ids, dtype=torch.float32, device=ids.device)
    counts.index_add_(0, sequence_of * n_ids + ids, torch.ones(ids.shape[0], dtype=torch.float32, device=ids.device))
    return counts.view(len(lengths), n_ids)[:, FIRST_KMER:]


def kmer_profiles(ids: Tensor, lengths: Tensor, n_ids: int) -> Tensor:
    """Frequencies of each sequence's k-mers: :func:`kmer_counts` as ``(B, n_ids - 2)`` float32 rows
    summing to 1 (0 when a sequence has no k-mer)."""
    counts = kmer_counts(ids, lengths, n_ids)
    return counts / counts.sum(1, keepdim=True).clamp(min=1)


class KmerEmbedding(nn.Embedding):
    """``nn.Embedding`` over the id of the k-mer that starts at each position (see :func:`kmer_ids`).

    Same parameter (``weight``, one row per id, row 0 the padding row) and the same output as an
    embedding of single tokens, so everything after the embedding is unchanged.

    Args:
        embedding_size: ``D``.
        k: k-mer size.
        vocab: ``'acgt'`` (exact DNA k-mers) or ``'hashed'``.
        buckets: hash buckets for ``'hashed'``.
    """

    def __init__(self, embedding_size: int, *, k: int, vocab: str, buckets: int = 4096) -> None:
        super().__init__(kmer_vocab_size(k, vocab, buckets), embedding_size, padding_idx=0)
        self.k, self.vocab, self.buckets = k, vocab, buckets

    def ids(self, tokens: Tensor, lengths: Tensor | None) -> Tensor:
        """``(N,)`` tokens plus lengths, or ``(B, L)`` tokens -> k-mer ids of the same shape."""
        return kmer_ids(tokens, lengths, k=self.k, vocab=self.vocab, buckets=self.buckets)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, k={self.k}, vocab={self.vocab!r}"


class KmerProfileHead(nn.Module):
    """A linear model of each sequence's standardised k-mer profile, added to the network's logits.

    Why: the k-mer baseline (frequencies, standardised over the training set, then a linear model)
    is what the network must at least match; mean-pooled embeddings carry the same information but
    unstandardised, with the between-sequence differences a tiny fraction of the pooled vector, which
    gradient descent reaches slowly (measured on Insects: docs/quality.md). This head is that linear
    model, trained jointly with the network; it starts at zero, so it only adds what training finds.

    The standardisation (``mean``, ``scale`` buffers, saved with the weights) comes from the training
    set through :meth:`fit_statistics` before training; until then it is the identity.

    With ``canonical``, each DNA k-mer's frequency is averaged with its reverse complement's, so the
    head gives a sequence and its reverse complement the same output: the head a model trained on both
    strands (reverse-complement augmentation) should have. Measured on the taxonomy sets it also fits
    better out of fold (docs/quality.md).

    Args:
        output_size: the network's outputs.
        k, vocab, buckets: the k-mers (see :func:`kmer_ids`).
        canonical: strand-symmetric profiles (``'acgt'`` k-mers only).
        extra_features: further columns after the k-mers that the caller supplies through ``profiles``
            (the ref/alt model's motif changes), standardised and weighted like them.
    """

    def __init__(self, output_size: int, *, k: int, vocab: str, buckets: int = 4096, canonical: bool = False,
                 extra_features: int = 0) -> None:
        super().__init__()
        self.k, self.vocab, self.buckets, self.canonical = k, vocab, buckets, bool(canonical)
        self.n_ids = kmer_vocab_size(k, vocab, buckets)
        if self.canonical and vocab != "acgt":
            raise ValueError(f"a canonical (strand-symmetric) profile needs 'acgt' k-mers; got vocab={vocab!r}")
        # column of each k-mer's reverse complement (not saved: it follows from k)
        self.register_buffer("reverse_columns", reverse_complement_codes(k) if self.canonical else None,
                             persistent=False)
        self.extra_features = int(extra_features)
        width = self.n_ids - FIRST_KMER + self.extra_features
        self.linear = nn.Linear(width, output_size)
        self.register_buffer("mean", torch.zeros(width))
        self.register_buffer("scale", torch.ones(width))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def profiles(self, tokens: Tensor, lengths: Tensor | None, *, ids: Tensor | None = None) -> Tensor:
        """``(B, n_kmers)`` frequencies of ``(N,)`` tokens plus lengths, or of ``(B, L)`` tokens (``ids``: their
        :func:`kmer_ids` with this head's k-mers, when already computed)."""
        if ids is None:
            ids = kmer_ids(tokens, lengths, k=self.k, vocab=self.vocab, buckets=self.buckets)
        if lengths is None:
            lengths = torch.full((ids.shape[0],), ids.shape[1], dtype=torch.int64, device=ids.device)
        profiles = kmer_profiles(ids.reshape(-1), lengths, self.n_ids)
        if self.canonical:
            profiles = (profiles + profiles[:, self.reverse_columns]) / 2
        return profiles

    @torch.no_grad()
    def fit_statistics(self, profiles: Tensor) -> None:
        """Set the standardisation from ``(n, n_kmers)`` training profiles (k-mers that never vary
        keep scale 1)."""
        profiles = profiles.to(torch.float64)
        std = profiles.std(0, unbiased=False) if profiles.shape[0] > 1 else torch.zeros(profiles.shape[1])
        self.mean.copy_(profiles.mean(0))
        self.scale.copy_(torch.where(std > 0, std, torch.ones_like(std)))

    def forward(self, tokens: Tensor, lengths: Tensor | None, *, ids: Tensor | None = None,
                profiles: Tensor | None = None) -> Tensor:
        """Tokens (as the network takes them) -> ``(B, output_size)`` float32 logits (``ids``: see
        :meth:`profiles`; ``profiles``: ``(B, n_kmers)`` frequencies to use instead of counting ``tokens``,
        e.g. of the whole sequences that training windows were cut from)."""
        if profiles is None:
            profiles = self.profiles(tokens, lengths, ids=ids)
        standardised = (profiles.to(self.mean.dtype) - self.mean) / self.scale
        with torch.autocast(tokens.device.type, enabled=False):
            return self.linear(standardised)

    def extra_repr(self) -> str:
        return (f"k={self.k}, vocab={self.vocab!r}, kmers={self.n_ids - FIRST_KMER}"
                + (", canonical=True" if self.canonical else "")
                + (f", extra_features={self.extra_features}" if self.extra_features else ""))


__all__ = ["KMER_VOCABS", "KmerEmbedding", "KmerProfileHead", "kmer_counts", "kmer_ids", "kmer_profiles",
           "kmer_vocab_size", "reverse_complement_codes"]
