"""Numeric precision: ``fp32``, ``bf16`` (autocast), or ``auto`` = bf16 where the hardware has it natively.

One place decides, so training, evaluation and annotation agree (their predictions are compared).
"""

from __future__ import annotations

import contextlib
import functools
import platform
import warnings
from pathlib import Path

import torch

PRECISIONS = ("auto", "fp32", "bf16")


@functools.lru_cache(maxsize=None)
def native_bf16(device_type: str) -> bool:
    """Whether bf16 runs natively: CUDA with bf16 support, or a CPU with AVX512-BF16 or AMX."""
    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device_type == "cpu":
        checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
        return any(check() for check in checks if check is not None)
    return False


@functools.lru_cache(maxsize=None)
def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``, as ``lscpu`` shows it), for every speed reported: what runs
    natively and how fast differs between the machines genomix runs on (with ``native_bf16``)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def resolve_precision(precision: str, device: torch.device | str) -> str:
    """``auto`` -> ``bf16`` or ``fp32`` for ``device``; other values are checked and returned."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    device_type = torch.device(device).type
    if precision == "auto":
        return "bf16" if native_bf16(device_type) else "fp32"
    if precision == "bf16" and device_type == "cpu" and not native_bf16(device_type):
        _warn_slow_bf16()
    return precision


@functools.lru_cache(maxsize=None)
def _warn_slow_bf16() -> None:
    warnings.warn("precision bf16 was asked for on a CPU without native bf16 (no AVX512-BF16 or AMX): its matmuls "
                  "run several times slower than fp32 here; precision=auto picks fp32", RuntimeWarning, stacklevel=3)


def autocast(precision: str, device: torch.device | str) -> contextlib.AbstractContextManager:
    """The autocast context for ``precision`` on ``device`` (a no-op context for fp32)."""
    device = torch.device(device)
    if resolve_precision(precision, device) == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
