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

from genomix.errors import GenomixError
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


def _stopped_run(dataset: Path, out: Path, *extra: str) -> dict:
    """A run stopped by its time limit after its first step (resumable), and its ``last.pt``."""
    from genomix.training.config import load_config
    from genomix.training.loop import train

    config = load_config(overrides=[*OPTIONS, "epochs=2", "max_minutes=0.0001", *extra])
    assert train(dataset, out_dir=out, config=config)["stop_reason"] == "time limit"
    return torch.load(out / rundir.LAST, weights_only=True)


def test_a_run_saved_before_an_option_existed_resumes_as_it_started(orchid_h5, tmp_path):
    from genomix.training.loop import train

    # a fitted profile head on a model trained on both strands: profile_canonical=auto is on today, but a
    # run saved before the option had a strand-specific head and no such key
    fitted = ["train_crop=400", "model.kmer_profile=on", "profile_fit=on", "reverse_complement=on"]
    assert _stopped_run(orchid_h5, tmp_path / "new", *fitted)["model_kwargs"]["profile_canonical"] is True
    run = tmp_path / "old"
    payload = _stopped_run(orchid_h5, run, *fitted, "model.profile_canonical=off")
    del payload["config"]["model"]["profile_canonical"], payload["model_kwargs"]["profile_canonical"]
    torch.save(payload, run / rundir.LAST)

    summary = train(orchid_h5, out_dir=run, resume=True, resume_overrides=["max_minutes=0"])
    assert summary["stop_reason"] == "finished"
    final = torch.load(run / rundir.LAST, weights_only=True)
    assert final["model_kwargs"]["profile_canonical"] is False
    assert final["config"]["model"]["profile_canonical"] == "off"


def test_resuming_on_a_dataset_that_builds_another_model_names_what_differs(orchid_h5, orchid_gc_h5, tmp_path):
    from genomix.training.loop import train

    run = tmp_path / "run"
    _stopped_run(orchid_h5, run)
    before = (run / rundir.LAST).read_bytes()
    with pytest.raises(GenomixError, match=r"cannot resume on .*orchid_gc.h5: it would build a model with other "
                                           r"[a-z_, ]*output_size") as error:
        train(orchid_gc_h5, out_dir=run, resume=True)
    assert "\n" not in str(error.value)
    assert (run / rundir.LAST).read_bytes() == before
