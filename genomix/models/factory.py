"""The one factory: any genomix model from its ``model_kwargs`` (as a checkpoint stores them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from genomix.models.chordmixer import ChordMixer
from genomix.models.config import ARCHITECTURES
from genomix.models.variant import RefAltModel


def build_model(model_kwargs: Mapping[str, Any], *, grad_checkpointing: bool | str = False) -> nn.Module:
    """Construct the model that ``model_kwargs`` describe.

    Args:
        model_kwargs: constructor arguments (:meth:`genomix.models.config.ModelConfig.model_kwargs`, or a
            checkpoint's ``model_kwargs``), with ``architecture`` ``'chordmixer'`` (the default: a
            classification or regression :class:`~genomix.models.chordmixer.ChordMixer`) or ``'ref_alt'``
            (:class:`~genomix.models.variant.RefAltModel`).
        grad_checkpointing: ``False``, ``True``/``'block'`` or ``'segments'`` (see
            :class:`~genomix.models.chordmixer.ChordMixerEncoder`); memory only, not stored.

    Raises:
        ValueError: an unknown architecture, or arguments the model does not take.
    """
    kwargs = dict(model_kwargs)
    architecture = kwargs.pop("architecture", "chordmixer")
    if architecture not in ARCHITECTURES:
        raise ValueError(f"model architecture should be one of {', '.join(ARCHITECTURES)}, got {architecture!r}")
    if grad_checkpointing:
        kwargs["grad_checkpointing"] = grad_checkpointing
    model_class = RefAltModel if architecture == "ref_alt" else ChordMixer
    try:
        return model_class(**kwargs)
    except TypeError as error:  # an unknown keyword, e.g. from a newer genomix
        raise ValueError(f"{model_class.__name__} does not take these arguments: {error}") from None


__all__ = ["build_model"]
