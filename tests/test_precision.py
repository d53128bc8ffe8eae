"""Precision: what ``auto`` picks, the warning for slow bf16, and the CPU name printed beside speeds."""

from __future__ import annotations

from pathlib import Path

import pytest

from genomix import precision


def test_auto_is_bf16_exactly_where_it_is_native(monkeypatch):
    for native, expected in ((True, "bf16"), (False, "fp32")):
        monkeypatch.setattr(precision, "native_bf16", lambda device_type, native=native: native)
        assert precision.resolve_precision("auto", "cpu") == expected
    assert precision.resolve_precision("fp32", "cpu") == "fp32"
    with pytest.raises(ValueError, match="precision must be one of auto, fp32, bf16; got 'fp16'"):
        precision.resolve_precision("fp16", "cpu")


def test_bf16_asked_for_on_a_cpu_without_it_warns_once(monkeypatch):
    monkeypatch.setattr(precision, "native_bf16", lambda device_type: False)
    precision._warn_slow_bf16.cache_clear()
    with pytest.warns(RuntimeWarning, match="without native bf16"):
        assert precision.resolve_precision("bf16", "cpu") == "bf16"
    monkeypatch.setattr(precision, "native_bf16", lambda device_type: True)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert precision.resolve_precision("bf16", "cpu") == "bf16"


def test_cpu_model_is_the_model_name_of_proc_cpuinfo():
    name = precision.cpu_model()
    assert name and "\n" not in name
    cpuinfo = Path("/proc/cpuinfo")
    lines = [line for line in cpuinfo.read_text().splitlines() if line.startswith("model name")] if cpuinfo.exists() else []
    if lines:
        assert name == lines[0].split(":", 1)[1].strip()
