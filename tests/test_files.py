"""genomix.files.atomic_directory: a folder appears complete or not at all; stale partial folders go."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from genomix.files import PARTIAL, _host, atomic_directory


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
