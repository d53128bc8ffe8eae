"""How ChordMixer is made fast, beside its definition (:mod:`genomix.models.chordmixer`).

* :mod:`.dispatch`: which path may run each block (exact structure only), the switches, the log line;
* :mod:`.engine`: the encoder's schedule (groups of sequences, threads, checkpointing, in place);
* :mod:`.blocks`: one block through fused kernels, folded ATen ops, chunked recompute or its own code;
* :mod:`.folded`, :mod:`.fused`, :mod:`.chunked`, :mod:`.inference`, :mod:`.parallel`, :mod:`.buffers`:
  the paths themselves;
* :mod:`.cpu`: :func:`tune_cpu`, the process-wide CPU tuning that commands call explicitly.

Every path is tested against the definition in ``tests/models/fast/test_equivalence.py``.
"""

from genomix.models.fast.cpu import CpuTuning, tune_cpu
from genomix.models.fast.dispatch import PATHS, Plan, active, block_plan, plan_for, trace, use
from genomix.models.fast.engine import encode

__all__ = ["PATHS", "Plan", "active", "block_plan", "plan_for", "trace", "use", "encode", "tune_cpu", "CpuTuning"]
