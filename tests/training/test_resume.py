"""SIGKILL mid-epoch, then --resume: the same final weights as an uninterrupted run (fp32, CPU)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import TINY

from genomix.training import rundir

GENOMIX = [sys.executable, "-c", "from genomix.cli import main; main()"]
OPTIONS = [*TINY, "epochs=6", "seed=3", "checkpoint_every=5", "model.mlp_dropout=0.1", "lr=3e-3", "eval_every=7"]


def _train(dataset: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([*GENOMIX, "train", str(dataset), "--out", str(out), "-q", *OPTIONS, *extra],
                          check=False, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_sigkill_then_resume_gives_identical_weights(orchid_h5, tmp_path):
    reference = tmp_path / "reference"
    done = _train(orchid_h5, reference)
    assert done.returncode == 0, done.stderr

    killed = tmp_path / "killed"
    process = subprocess.Popen([*GENOMIX, "train", str(orchid_h5), "--out", str(killed), "-q", *OPTIONS],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while not (killed / rundir.LAST).exists():
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"training ended before a checkpoint: {process.stderr.read().decode()[-2000:]}")
        time.sleep(0.02)
    time.sleep(0.3)  # let it run on past the checkpoint, mid-epoch
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    state = torch.load(killed / rundir.LAST, weights_only=True)["train_state"]
    assert not state["finished"] and state["step"] < state["total_steps"]

    resumed = subprocess.run([*GENOMIX, "train", str(orchid_h5), "--resume", str(killed), "-q"],
                             check=False, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    final = torch.load(killed / rundir.LAST, weights_only=True)
    expected = torch.load(reference / rundir.LAST, weights_only=True)
    assert final["train_state"]["step"] == expected["train_state"]["step"]
    for name, tensor in expected["model_state"].items():
        assert torch.equal(final["model_state"][name], tensor), name
    assert torch.equal(final["train_state"]["rng"]["torch"], expected["train_state"]["rng"]["torch"])
    steps = [r["step"] for r in rundir.read_metrics(killed)]
    assert steps == [r["step"] for r in rundir.read_metrics(reference)]  # no evaluation lost or repeated
    assert [r["valid"] for r in rundir.read_metrics(killed)] == [r["valid"] for r in rundir.read_metrics(reference)]
