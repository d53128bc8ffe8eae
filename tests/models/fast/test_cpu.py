"""tune_cpu: what it sets, that it keeps the user's choice, and that it says so in the log."""

from __future__ import annotations

import logging

import genomix.models.fast.cpu as cpu


def test_tune_cpu_sets_huge_pages_and_logs(monkeypatch, caplog):
    monkeypatch.delenv("THP_MEM_ALLOC_ENABLE", raising=False)
    monkeypatch.setattr(cpu, "tune_malloc", lambda: True)
    with caplog.at_level(logging.INFO, logger="genomix.models.fast.cpu"):
        tuning = cpu.tune_cpu()
    assert (tuning.huge_pages, tuning.huge_pages_set, tuning.malloc_tuned) == ("1", True, True)
    assert "THP_MEM_ALLOC_ENABLE=1 (set by genomix), glibc malloc thresholds fixed" in caplog.text


def test_tune_cpu_keeps_the_users_value(monkeypatch):
    monkeypatch.setenv("THP_MEM_ALLOC_ENABLE", "0")
    monkeypatch.setattr(cpu, "tune_malloc", lambda: False)
    tuning = cpu.tune_cpu()
    assert (tuning.huge_pages, tuning.huge_pages_set) == ("0", False)
    assert "kept as set" in tuning.describe() and "left alone" in tuning.describe()
