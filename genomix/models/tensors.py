"""Between arrays and the model: dataset arrays as model inputs, model outputs as scores.

Shared by training and inference, so that ``genomix evaluate`` and ``genomix annotate`` compute the
same numbers from the same inputs.
"""

from __future__ import annotations

import numpy as np
import torch


def batch_inputs(data: np.ndarray, lengths: np.ndarray, *, alphabet: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Concatenated tokens ``(N,)`` int64 (or values ``(N, C)`` float32) and lengths ``(B,)`` int64.

    Args:
        data: the sequences concatenated (``uint8`` tokens, or values for the ``values`` alphabet).
        lengths: their lengths.
        alphabet: the dataset's alphabet name.
    """
    if alphabet == "values":
        inputs = torch.as_tensor(np.asarray(data, dtype=np.float32))
        if inputs.ndim == 1:
            inputs = inputs[:, None]
    else:
        inputs = torch.from_numpy(np.asarray(data).astype(np.int64))
    return inputs, torch.as_tensor(np.asarray(lengths, dtype=np.int64))


def class_probabilities(logits: torch.Tensor) -> np.ndarray:
    """The classification score: ``(B, n_classes)`` logits -> ``(B, n_classes)`` float32 probabilities."""
    return torch.softmax(logits.float(), dim=-1).cpu().numpy()


__all__ = ["batch_inputs", "class_probabilities"]
