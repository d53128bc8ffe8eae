"""Batch readers: how a task's examples are sized for the sampler and read as model inputs.

The trainer and :func:`~genomix.training.evaluate.predict_split` never read a split directly; they ask
the dataset's batch reader (:func:`batch_reader`):

- :class:`SequenceBatches` (``classification``, ``regression``): one sequence per example, sized by
  its length; inputs ``(tokens (N,) or values (N, C), lengths (B,))`` for ChordMixer.
- :class:`PairBatches` (``variant_effect``): a ref and an alt window per example, sized by their summed
  length (both go through the encoder); inputs ``(ref_tokens (N_ref,), ref_lengths (B,),
  alt_tokens (N_alt,), alt_lengths (B,))`` for :class:`~genomix.models.variant.RefAltModel`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from genomix.datasets.variant_batches import pair_lengths, read_pairs
from genomix.errors import ConfigError
from genomix.models.tensors import batch_inputs
from genomix.training.augment import crop_lengths, random_reverse_complements, random_windows


class SequenceBatches:
    """One sequence per example (tokens or values), optionally cropped to random windows in training.

    Args:
        alphabet: the dataset's alphabet (``values`` gives float inputs, anything else tokens).
    """

    def __init__(self, alphabet: str) -> None:
        self.alphabet = alphabet

    def sizes(self, split: Any, *, crop: int = 0) -> np.ndarray:
        """``int64 (n,)``: each example's token cost (its length, at most ``crop`` when cropping)."""
        return crop_lengths(split.lengths, crop=crop)

    def read_batch(self, split: Any, indices: np.ndarray, *, crop: int = 0, seed: int = 0,
                   epoch: int = 0, reverse_complement: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Model inputs ``(tokens (N,) int64 or values (N, C) float32, lengths (B,) int64)``.

        ``crop > 0`` cuts each longer sequence to a random window drawn from ``(seed, epoch, index)``;
        ``reverse_complement`` reads each (DNA) sequence from a strand drawn the same way.
        """
        indices = np.asarray(indices, dtype=np.int64)
        data, lengths = split.read_many(indices)
        data, lengths = random_windows(data, lengths, indices, crop=crop, seed=seed, epoch=epoch)
        if reverse_complement:
            data = random_reverse_complements(data, lengths, indices, seed=seed, epoch=epoch)
        return batch_inputs(data, lengths, alphabet=self.alphabet)


class PairBatches:
    """A ref and an alt window per example (``variant_effect``), never cropped."""

    def sizes(self, split: Any, *, crop: int = 0) -> np.ndarray:
        """``int64 (n,)``: ref plus alt window length of each variant (``crop`` must be 0)."""
        _check_no_crop(crop)
        return pair_lengths(split)

    def read_batch(self, split: Any, indices: np.ndarray, *, crop: int = 0, seed: int = 0,
                   epoch: int = 0, reverse_complement: bool = False,
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Model inputs ``(ref_tokens (N_ref,), ref_lengths (B,), alt_tokens (N_alt,), alt_lengths (B,))``,
        tokens and lengths as int64; ``seed``, ``epoch`` and ``reverse_complement`` are unused (no
        random crop or strand)."""
        _check_no_crop(crop)
        ref_tokens, ref_lengths, alt_tokens, alt_lengths = read_pairs(split, np.asarray(indices, dtype=np.int64))
        return (torch.from_numpy(np.asarray(ref_tokens).astype(np.int64)),
                torch.as_tensor(np.asarray(ref_lengths, dtype=np.int64)),
                torch.from_numpy(np.asarray(alt_tokens).astype(np.int64)),
                torch.as_tensor(np.asarray(alt_lengths, dtype=np.int64)))


def batch_reader(dataset: Any, *, train_crop: int = 0) -> SequenceBatches | PairBatches:
    """The batch reader of an open dataset's task.

    Raises:
        ConfigError: ``train_crop`` on a ``variant_effect`` dataset (its windows are read whole).
    """
    if dataset.task == "variant_effect":
        _check_no_crop(train_crop)
        return PairBatches()
    return SequenceBatches(dataset.alphabet)


def _check_no_crop(crop: int) -> None:
    if crop:
        raise ConfigError(f"train_crop should be 0 for variant_effect datasets (ref/alt windows are read whole), "
                          f"got {crop}; set the window size when building the dataset instead")
