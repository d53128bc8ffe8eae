"""Process-wide CPU tuning for long-sequence work: one explicit, logged call (never done at import).

Two settings, both measured in docs/benchmarks.md:

* ``THP_MEM_ALLOC_ENABLE=1``: PyTorch's CPU allocator puts tensors of 2 MB and more on transparent huge
  pages, so fresh megabyte-size activations fault in 512x fewer pages and the rotation's long-range
  gathers miss the TLB less (a 131,072-nt training step: 5.7k -> 6.9k tokens/s, 1 thread). PyTorch reads
  the variable at the process's first allocation of 2 MB or more, so the call must come before that;
  a value the user set (``0`` opts out) is kept.
* glibc's malloc thresholds fixed (:func:`genomix.models.fast.buffers.tune_malloc`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from genomix.models.fast.buffers import tune_malloc

LOG = logging.getLogger(__name__)
THP_VARIABLE = "THP_MEM_ALLOC_ENABLE"


@dataclass(frozen=True)
class CpuTuning:
    """What :func:`tune_cpu` did.

    Attributes:
        huge_pages: the value of ``THP_MEM_ALLOC_ENABLE`` now.
        huge_pages_set: whether this call set it (False: the user's value was kept).
        malloc_tuned: whether glibc's thresholds were fixed.
    """

    huge_pages: str
    huge_pages_set: bool
    malloc_tuned: bool

    def describe(self) -> str:
        source = "set by genomix" if self.huge_pages_set else "kept as set"
        malloc = "fixed" if self.malloc_tuned else "left alone"
        return f"{THP_VARIABLE}={self.huge_pages} ({source}), glibc malloc thresholds {malloc}"


def tune_cpu(*, log_level: int = logging.INFO) -> CpuTuning:
    """Tune this process for long-sequence CPU work; call it before the first large tensor exists.

    Args:
        log_level: the level of the one log line that says what was done.

    Returns:
        What was done.
    """
    huge_pages_set = THP_VARIABLE not in os.environ
    if huge_pages_set:
        os.environ[THP_VARIABLE] = "1"
    tuning = CpuTuning(os.environ[THP_VARIABLE], huge_pages_set, tune_malloc())
    LOG.log(log_level, "CPU tuning: %s", tuning.describe())
    return tuning


__all__ = ["CpuTuning", "tune_cpu"]
