"""The model a dataset needs: its config's ``model_kwargs`` with the sizes read from the dataset.

``max_seq_len`` defaults to the longest sequence (or ref/alt window) of any split; ``input_size`` is the
alphabet's vocabulary size (tokens) or the number of channels (``values``); ``variant_effect`` datasets
get the ref/alt model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from genomix.alphabet import ALPHABETS
from genomix.datasets.variant_batches import longest_pair_window
from genomix.errors import DatasetFormatError
from genomix.models.config import ModelConfig


def model_kwargs_for(dataset: Any, model_config: ModelConfig, *, output_size: int) -> dict[str, Any]:
    """The ``model_kwargs`` (:meth:`ModelConfig.model_kwargs`) of a model for an open dataset.

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
    return model_config.model_kwargs(architecture="chordmixer", input_size=input_size, output_size=output_size,
                                     max_seq_len=longest, embedding_type=embedding_type)


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


__all__ = ["model_kwargs_for", "ref_alt_kwargs"]
