"""genomix.files: a folder appears complete or not at all, stale partial folders go; a full disk is named as such."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest

from genomix.files import PARTIAL, _host, atomic_directory, disk_full_at, write_failure_reason


def test_folder_appears_only_when_complete(tmp_path):
    target = tmp_path / "model"
    with atomic_directory(target) as partial:
        (partial / "a.txt").write_text("a")
        assert not target.exists() and partial.parent == tmp_path and partial.name.endswith(PARTIAL)
    assert [p.name for p in target.iterdir()] == ["a.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_an_error_leaves_the_old_folder(tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(FileExistsError):
        with atomic_directory(target):
            pass
    with pytest.raises(ZeroDivisionError):
        with atomic_directory(target, replace=True) as partial:
            (partial / "new.txt").write_text("new")
            1 / 0
    assert [p.name for p in tmp_path.iterdir()] == ["model"] and [p.name for p in target.iterdir()] == ["old.txt"]
    with atomic_directory(target, replace=True) as partial:
        (partial / "new.txt").write_text("new")
    assert [p.name for p in target.iterdir()] == ["new.txt"] and [p.name for p in tmp_path.iterdir()] == ["model"]


def test_a_file_is_never_replaced(tmp_path):
    (tmp_path / "model").write_text("x")
    with pytest.raises(FileExistsError, match="is a file"):
        with atomic_directory(tmp_path / "model", replace=True):
            pass


def test_partial_folders_of_dead_writers_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".model.{_host()}-{int(dead.stdout)}-abcd1234{PARTIAL}"
    live = tmp_path / f".model.{_host()}-{os.getppid()}-abcd1234{PARTIAL}"
    for folder in (stale, live):
        folder.mkdir()
        (folder / "config.json").write_text("{}")
    with atomic_directory(tmp_path / "model"):
        pass
    assert not stale.exists() and live.exists()


def test_a_write_failure_says_the_disk_is_full_when_it_is(tmp_path, monkeypatch):
    assert write_failure_reason(OSError(errno.EACCES, "Permission denied")) == "Permission denied"
    assert write_failure_reason(OSError(errno.EDQUOT, "Disk quota exceeded")) == "no space left on device"
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as cause:
            raise OSError(errno.EIO, "Input/output error") from cause
    except OSError as wrapped:
        assert write_failure_reason(wrapped) == "no space left on device"
    eio = OSError(errno.EIO, "Input/output error")  # zlib's close on a full disk says no more
    assert write_failure_reason(eio, path=tmp_path / "out.vcf.gz") == "Input/output error"
    assert not disk_full_at(tmp_path / "missing" / "folder" / "out") and disk_full_at(tmp_path / "out") is False
    monkeypatch.setattr(os, "statvfs", lambda folder: os.statvfs_result((4096,) * 4 + (0,) * 6))
    assert disk_full_at(tmp_path / "out")
    assert write_failure_reason(eio, path=tmp_path / "out") == "no space left on device"
