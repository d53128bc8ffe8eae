"""The CPU tuning the model commands make before they allocate anything large (logged)."""

from __future__ import annotations

import logging


def tune_cpu(*, log_level: int = logging.DEBUG) -> None:
    """:func:`genomix.models.fast.tune_cpu`, for ``train``, ``evaluate``, ``annotate`` and ``score-variants``.

    Called first thing in the command body: PyTorch reads ``THP_MEM_ALLOC_ENABLE`` at the process's
    first allocation of 2 MB or more. Logged at DEBUG (``--verbose``), so that a command's output stays
    its results and its errors one line; the trainer's INFO line on the CPU path repeats the setting.
    """
    from genomix.models.fast import tune_cpu as tune

    tune(log_level=log_level)
