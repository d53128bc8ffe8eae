"""The CPU tuning the model commands make before they allocate anything large (logged)."""

from __future__ import annotations


def tune_cpu() -> None:
    """:func:`genomix.models.fast.tune_cpu`, for ``train``, ``evaluate``, ``annotate`` and ``score-variants``.

    Called first thing in the command body: PyTorch reads ``THP_MEM_ALLOC_ENABLE`` at the process's
    first allocation of 2 MB or more.
    """
    from genomix.models.fast import tune_cpu as tune

    tune()
