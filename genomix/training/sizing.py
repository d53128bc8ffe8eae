"""What a dataset decides: the model's sizes (``model_kwargs``) and the training schedule's "auto" values.

``max_seq_len`` defaults to the longest sequence (or ref/alt window) of any split (the crop, when
training on windows); ``input_size`` is the alphabet's vocabulary size (tokens) or the number of channels
(``values``); ``variant_effect`` datasets get the ref/alt model. :func:`resolve_schedule` turns the
config's "sized from the dataset" values (``epochs=0``, ``train_crop=-1``, ``eval_every=-1``,
``reverse_complement='auto'``) into numbers once, before a new run starts, so ``config.json`` holds what
ran and a resumed run plans the same schedule.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from genomix.alphabet import ALPHABETS
from genomix.datasets.variant_batches import longest_pair_window
from genomix.errors import ConfigError, DatasetFormatError
from genomix.models.config import ModelConfig
from genomix.training.batches import batch_reader

TARGET_STEPS = 1500
"""Optimizer steps that ``epochs=0`` aims at (measured in docs/quality.md: Insects and enhancers reach
the k-mer baseline's level in 1,500-2,500 steps of 16,384 tokens)."""
MAX_AUTO_EPOCHS = 200
AUTO_CROP = 4096
"""Window length of ``train_crop=-1`` for datasets whose longest training sequence is more than twice
this: as good as 8,192-bp windows on Insects at twice the steps per minute (docs/quality.md)."""
AUTO_EVALUATIONS = 10
DECODER_LR_SCALE = 10.0
"""``decoder_lr_scale=0`` for ChordMixer: its decoder reads pooled means that differ little between classes."""
PAIR_DECODER_LR_SCALE = 1.0
"""``decoder_lr_scale=0`` for the ref/alt variant model: its head reads summed window differences."""


def model_kwargs_for(dataset: Any, model_config: ModelConfig, *, output_size: int,
                     both_strands: bool = False) -> dict[str, Any]:
    """The ``model_kwargs`` (:meth:`ModelConfig.model_kwargs`) of a model for an open dataset (``both_strands``:
    its profile head must treat both strands alike without seeing both in training, as a head fitted before
    training a model on both strands: see :meth:`ModelConfig.model_kwargs`).

    Raises:
        DatasetFormatError: an unknown alphabet, or a ``variant_effect`` dataset that is not DNA tokens.
    """
    if dataset.task == "variant_effect":
        return ref_alt_kwargs(dataset, model_config, output_size=output_size)
    if dataset.alphabet == "values":
        embedding_type = "linear"
        sample = dataset.split("train").read_many(np.array([0]))[0]
        input_size = int(np.asarray(sample).reshape(len(sample), -1).shape[1])
    else:
        embedding_type = "sparse"
        if dataset.alphabet not in ALPHABETS:
            raise DatasetFormatError(f"unknown alphabet {dataset.alphabet!r}")
        input_size = ALPHABETS[dataset.alphabet].vocab_size
    longest = model_config.max_seq_len or max(
        int(np.max(dataset.split(name).lengths)) for name in dataset.split_names if len(dataset.split(name))
    )
    kwargs = model_config.model_kwargs(architecture="chordmixer", input_size=input_size, output_size=output_size,
                                       max_seq_len=longest, embedding_type=embedding_type,
                                       alphabet=dataset.alphabet, both_strands=both_strands)
    if dataset.task == "masked_lm":  # logits at every position; the profile head is a sequence-level model
        kwargs.update(decoder="per_position", kmer_profile=False, profile_canonical=False, pooling="mean")
    return kwargs


def ref_alt_kwargs(dataset: Any, model_config: ModelConfig, *, output_size: int) -> dict[str, Any]:
    """:class:`~genomix.models.variant.RefAltModel` arguments for a ``variant_effect`` dataset, tagged
    ``architecture = "ref_alt"``; ``max_seq_len`` defaults to the longest ref or alt window of any split.

    Raises:
        DatasetFormatError: the dataset is not DNA tokens.
    """
    if dataset.alphabet not in ALPHABETS or dataset.alphabet == "values":
        raise DatasetFormatError(f"a variant_effect dataset should hold tokens, got alphabet {dataset.alphabet!r}")
    longest = model_config.max_seq_len or max(longest_pair_window(dataset.split(name)) for name in dataset.split_names)
    return model_config.model_kwargs(architecture="ref_alt", input_size=ALPHABETS[dataset.alphabet].vocab_size,
                                     output_size=output_size, max_seq_len=longest)


def resolve_schedule(dataset: Any, config: Any) -> Any:
    """``config`` (a :class:`~genomix.training.config.TrainConfig`) with its "auto" values sized from ``dataset``.

    * ``train_crop=-1``: :data:`AUTO_CROP` when the longest training sequence is longer than twice that
      (never for ``variant_effect`` pairs), else 0; ``model.max_seq_len=0`` then becomes the crop, and
      ``model.encoder_window=-1`` the crop too (0 without one), and ``model.pooling='auto'`` ``'mean'`` with a
      crop or for ref/alt pairs (where along a random window a feature lies says nothing of the sequence); on
      sequences read whole the trainer decides it (:mod:`genomix.training.position_probe`).
    * ``epochs=0``: enough epochs for about :data:`TARGET_STEPS` optimizer steps (1 to
      :data:`MAX_AUTO_EPOCHS`).
    * ``eval_every=-1``: about :data:`AUTO_EVALUATIONS` evaluations per run, every
      ``ceil(total steps / AUTO_EVALUATIONS)`` steps (also inside long epochs: a run of one long epoch
      still chooses ``best.pt`` among about ten), and after the last step.
    * ``reverse_complement='auto'``: ``on`` for DNA sequences, ``off`` otherwise (and for ref/alt pairs).
    * ``decoder_lr_scale=0``: :data:`DECODER_LR_SCALE`, or :data:`PAIR_DECODER_LR_SCALE` for ref/alt pairs
      (at 10x their head diverged on MPRA: train loss above that of predicting zero; docs/quality.md).

    Raises:
        ConfigError: ``reverse_complement='on'`` for a dataset without DNA sequences to reverse.
    """
    pairs = dataset.task == "variant_effect"
    lengths = np.asarray(dataset.split("train").lengths, dtype=np.int64) if not pairs else None
    crop = config.train_crop
    if crop < 0:
        crop = AUTO_CROP if lengths is not None and len(lengths) and int(lengths.max()) > 2 * AUTO_CROP else 0
    model = config.model
    if crop and not model.max_seq_len:
        model = dataclasses.replace(model, max_seq_len=crop)
    if model.encoder_window < 0:  # the network then sees, at any length, pieces like its training windows
        model = dataclasses.replace(model, encoder_window=crop)
    if model.pooling == "auto" and (crop or pairs):  # a random window's places are not the sequence's
        model = dataclasses.replace(model, pooling="mean")
    epochs = config.epochs
    tokens = int(batch_reader(dataset, train_crop=crop).sizes(dataset.split("train"), crop=crop).sum())
    steps_per_epoch = max(1, math.ceil(tokens / (config.max_tokens * config.grad_accum)))
    if epochs == 0:
        epochs = int(min(MAX_AUTO_EPOCHS, max(1, round(TARGET_STEPS / steps_per_epoch))))
    eval_every = config.eval_every
    if eval_every < 0:
        total = steps_per_epoch * epochs
        eval_every = math.ceil(total / AUTO_EVALUATIONS)
    rc = config.reverse_complement
    strands = dataset.alphabet == "dna" and not pairs
    if rc == "auto":
        rc = "on" if strands else "off"
    elif rc == "on" and not strands:
        raise ConfigError(f"reverse_complement=on needs DNA sequences; this dataset holds "
                          f"{'ref/alt variant pairs' if pairs else dataset.alphabet!r} (use auto or off)")
    decoder_lr_scale = config.decoder_lr_scale or (PAIR_DECODER_LR_SCALE if pairs else DECODER_LR_SCALE)
    return dataclasses.replace(config, train_crop=crop, epochs=epochs, eval_every=eval_every, reverse_complement=rc,
                               model=model, decoder_lr_scale=decoder_lr_scale)


__all__ = ["model_kwargs_for", "ref_alt_kwargs", "resolve_schedule", "TARGET_STEPS", "AUTO_CROP", "DECODER_LR_SCALE",
           "PAIR_DECODER_LR_SCALE"]
