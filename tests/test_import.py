"""Importing genomix changes nothing in the process: no environment variable, no allocator tuning."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _fresh_python(code: str) -> str:
    env = {key: value for key, value in os.environ.items()
           if key not in ("THP_MEM_ALLOC_ENABLE", "GENOMIX_TUNE_MALLOC")}
    env["PYTHONPATH"] = str(REPO)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return result.stdout.strip()


def test_import_sets_no_environment_variable():
    code = "import os, genomix; print(os.environ.get('THP_MEM_ALLOC_ENABLE'))"
    assert _fresh_python(code) == "None"


def test_importing_the_model_code_sets_nothing_either():
    code = ("import os, genomix.models.fast, genomix.training.loop, genomix.inference.annotate; "
            "print(os.environ.get('THP_MEM_ALLOC_ENABLE'))")
    assert _fresh_python(code) == "None"


def test_tune_cpu_is_the_one_explicit_call():
    code = ("import os; from genomix.models.fast import tune_cpu; t = tune_cpu(); "
            "print(os.environ.get('THP_MEM_ALLOC_ENABLE'), t.huge_pages_set)")
    assert _fresh_python(code) == "1 True"


def test_inference_reads_checkpoints_without_training():
    code = ("import sys, genomix.checkpoint, genomix.inference.annotate, genomix.inference.variants; "
            "print(sorted(m for m in sys.modules if m.startswith('genomix.training')))")
    assert _fresh_python(code) == "[]"


def test_no_import_cycle_between_batches_and_tasks():
    for first in ("genomix.training.batches", "genomix.training.tasks"):
        code = f"import {first}, sys; print('genomix.training.tasks' in sys.modules, 'genomix.training.batches' in sys.modules)"
        assert _fresh_python(code) in ("True False", "False True")
