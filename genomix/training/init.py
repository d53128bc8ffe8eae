"""Fine-tuning from a pretrained checkpoint: load its backbone into a new model, tensor by tensor.

The backbone is everything before the decoder: the embedding (``embedding.*``) and the ChordMixer blocks
(``encoder.*``). The decoder and the k-mer profile head are the new task's and start as in a run from
scratch. Loading is strict both ways: every backbone tensor of the new model must be in the checkpoint
with the same shape, and every backbone tensor of the checkpoint must have a place in the new model;
otherwise one :class:`~genomix.errors.CheckpointError` names the first tensor that differs and the
model options to use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from genomix.checkpoint import primitive, read_checkpoint
from genomix.errors import CheckpointError

BACKBONE_PREFIXES = ("embedding", "encoder")
SHAPE_OPTIONS = ("max_seq_len", "track_size", "hidden_size", "embedding_type", "kmer_size", "kmer_vocab",
                 "prenorm", "norm")
"""Model options that decide the backbone's tensors (named in the error that a mismatch gives)."""


def is_backbone(name: str) -> bool:
    """Whether a parameter or buffer name belongs to the backbone (``embedding.*``, ``encoder.*``)."""
    return name.split(".", 1)[0] in BACKBONE_PREFIXES


def backbone_parameters(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    """The backbone's parameters (what ``freeze_backbone_steps`` holds still)."""
    return [parameter for name, parameter in model.named_parameters() if is_backbone(name)]


def load_backbone(model: torch.nn.Module, path: str | Path, *, dataset: Any) -> list[str]:
    """Copy the backbone tensors of a pretrained checkpoint into ``model``.

    Args:
        model: the new model (built for ``dataset``).
        path: a checkpoint (``genomix pretrain``'s ``best.pt``, or any genomix checkpoint).
        dataset: the open dataset being trained (its alphabet and vocabulary must be the checkpoint's).

    Returns:
        The names of the tensors loaded, in the model's order.

    Raises:
        CheckpointError: unreadable, another alphabet or vocabulary, no backbone, or a tensor missing on
            either side or of another shape.
    """
    payload = read_checkpoint(path)
    where = f"--init {path}"
    if payload.get("alphabet") != dataset.alphabet:
        raise CheckpointError(f"{where}: the checkpoint reads alphabet {payload.get('alphabet')!r}, the dataset "
                              f"holds {dataset.alphabet!r}; pretrain on data of the same alphabet")
    if primitive(payload.get("vocab")) != primitive(dataset.vocab):
        raise CheckpointError(f"{where}: the checkpoint's vocabulary differs from the dataset's")
    stored = {name: tensor for name, tensor in payload["model_state"].items() if is_backbone(name)}
    if not stored:
        raise CheckpointError(f"{where}: the checkpoint holds no backbone tensors (embedding.*, encoder.*)")
    state = model.state_dict()
    wanted = [name for name in state if is_backbone(name)]
    hint = _options_hint(payload.get("model_kwargs") or {})
    for name in wanted:
        if name not in stored:
            raise CheckpointError(f"{where}: this model's tensor {name} is not in the checkpoint; build the model "
                                  f"as the pretrained one was ({hint})")
        if tuple(stored[name].shape) != tuple(state[name].shape):
            raise CheckpointError(f"{where}: tensor {name} is {tuple(stored[name].shape)} in the checkpoint, "
                                  f"{tuple(state[name].shape)} in this model; build the model as the pretrained "
                                  f"one was ({hint})")
    for name in stored:
        if name not in state:
            raise CheckpointError(f"{where}: the checkpoint's tensor {name} has no place in this model; build the "
                                  f"model as the pretrained one was ({hint})")
    with torch.no_grad():
        for name in wanted:
            state[name].copy_(stored[name].to(state[name].dtype))
    return wanted


def _options_hint(model_kwargs: dict[str, Any]) -> str:
    options = [f"model.{key}={model_kwargs[key]}" for key in SHAPE_OPTIONS if key in model_kwargs]
    return " ".join(options) or "its model options are not recorded"


__all__ = ["load_backbone", "backbone_parameters", "is_backbone", "BACKBONE_PREFIXES"]
