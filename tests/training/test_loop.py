"""The trainer in-process: schedule, a full run, outputs, early stopping, regression, NaN loss."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
import torch
from conftest import TINY

from genomix.errors import GenomixError
from genomix.training import rundir
from genomix.checkpoint import load_model, read_checkpoint
from genomix.training.config import load_config
from genomix.training.loop import lr_at, train


def test_schedule_warms_up_then_decays_monotonically():
    config = load_config(None, ["lr=1e-3", "min_lr=1e-5", "warmup_fraction=0.1"])
    total = 200
    rates = [lr_at(step, total_steps=total, config=config) for step in range(total)]
    assert rates[0] == pytest.approx(1e-3 / 20)
    assert max(rates) == pytest.approx(1e-3)
    peak = int(np.argmax(rates))
    assert all(a <= b for a, b in itertools.pairwise(rates[:peak + 1]))
    assert all(a >= b for a, b in itertools.pairwise(rates[peak:]))  # never rises again
    assert rates[-1] > 1e-5 and rates[-1] == pytest.approx(1e-5, abs=1e-6)


def test_full_run_writes_its_outputs(orchid_h5, tmp_path):
    out = tmp_path / "run"
    config = load_config(None, [*TINY, "epochs=2", "lr=3e-3", "class_weights=balanced", "final_test=true", "eval_every=0"])
    summary = train(orchid_h5, out_dir=out, config=config, device="cpu")
    assert summary["stop_reason"] == "finished" and summary["step"] == summary["total_steps"]
    assert {"config.json", "metrics.jsonl", "last.pt", "best.pt", "test_metrics.json"} <= {p.name for p in out.iterdir()}
    saved = json.loads((out / "config.json").read_text())
    assert saved["config"]["lr"] == 3e-3 and sum(saved["steps_per_epoch"]) == summary["total_steps"]
    records = rundir.read_metrics(out)
    assert [r["epoch"] for r in records] == [1, 2] and records[-1]["step"] == summary["total_steps"]
    assert 0.0 <= records[-1]["valid"]["roc_auc"] <= 1.0
    test = json.loads((out / "test_metrics.json").read_text())
    assert test["split"] == "test" and "roc_auc" in test["metrics"]
    payload = torch.load(out / "last.pt", weights_only=True)  # never runs code
    assert payload["train_state"]["finished"] and payload["classes"] == saved["classes"]
    assert payload["alphabet"] == "dna" and payload["vocab"]["A"] == 1
    model, info = load_model(out / "best.pt")
    assert info["task"] == "classification" and not model.training
    logits = model(torch.tensor([1, 2, 3, 4, 1, 2]), torch.tensor([4, 2]))
    assert logits.shape == (2, len(info["classes"]))


def test_grad_accumulation_counts_optimizer_steps(orchid_h5, tmp_path):
    config = load_config(None, [*TINY, "epochs=1", "grad_accum=3"])
    summary = train(orchid_h5, out_dir=tmp_path / "run", config=config, device="cpu")
    batches = json.loads((tmp_path / "run" / "config.json").read_text())["steps_per_epoch"][0]
    assert summary["step"] == batches
    assert read_checkpoint(tmp_path / "run" / "last.pt")["train_state"]["sampler"]["position"] > batches


def test_early_stopping_and_eval_every(orchid_h5, tmp_path):
    config = load_config(None, [*TINY, "epochs=20", "lr=1e-5", "min_lr=0", "eval_every=2", "patience=2",
                                "select_metric=accuracy"])
    summary = train(orchid_h5, out_dir=tmp_path / "run", config=config, device="cpu")
    assert summary["stop_reason"] == "early stopping" and summary["step"] < summary["total_steps"]
    assert read_checkpoint(tmp_path / "run" / "last.pt")["train_state"]["finished"]


def test_eval_every_sets_the_cadence_across_epochs(orchid_h5, tmp_path):
    """With eval_every, valid is scored every N optimizer steps and after the last one, not at each epoch end."""
    config = load_config(None, [*TINY, "epochs=3", "eval_every=7"])
    summary = train(orchid_h5, out_dir=tmp_path / "run", config=config, device="cpu")
    per_epoch = json.loads((tmp_path / "run" / "config.json").read_text())["steps_per_epoch"]
    epoch_ends = set(itertools.accumulate(per_epoch))
    total = summary["total_steps"]
    steps = [r["step"] for r in rundir.read_metrics(tmp_path / "run") if "valid" in r]
    assert steps == sorted({*range(7, total + 1, 7), total})
    assert any(end % 7 for end in epoch_ends if end != total)  # an epoch end that is not scored


def test_regression_task(orchid_gc_h5, tmp_path):
    config = load_config(None, [*TINY, "epochs=2", "lr=3e-3", "final_test=true"])
    summary = train(orchid_gc_h5, out_dir=tmp_path / "run", config=config, device="cpu")
    assert set(summary["test"]) >= {"mse", "mae", "pearson", "spearman"}
    assert read_checkpoint(tmp_path / "run" / "best.pt")["target_scale"][1] > 0


@pytest.mark.parametrize("metric, best", [("mse", min), ("mae", min), ("pearson", max)])
def test_select_metric_direction(orchid_gc_h5, tmp_path, metric, best):
    """best.pt comes from the evaluation with the lowest error or the highest correlation."""
    config = load_config(None, [*TINY, "epochs=3", "lr=3e-3", "eval_every=1", f"select_metric={metric}"])
    train(orchid_gc_h5, out_dir=tmp_path / "run", config=config, device="cpu")
    records = [r for r in rundir.read_metrics(tmp_path / "run") if "valid" in r]
    assert len({r["valid"][metric] for r in records}) > 1  # the choice is not trivial
    chosen = best(records, key=lambda r: r["valid"][metric])
    assert [r["step"] for r in records if r["best"]][-1] == chosen["step"]


def test_nan_loss_stops_with_a_clear_error(orchid_h5, tmp_path):
    config = load_config(None, [*TINY, "epochs=2", "lr=1e30", "min_lr=0", "warmup_fraction=0", "grad_clip=0"])
    with pytest.raises(GenomixError, match="training loss became nan|training loss became inf"):
        train(orchid_h5, out_dir=tmp_path / "run", config=config, device="cpu")


def test_existing_run_is_never_overwritten(orchid_h5, tmp_path):
    out = tmp_path / "run"
    train(orchid_h5, out_dir=out, config=load_config(None, [*TINY, "epochs=1"]), device="cpu")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(GenomixError, match="already holds a run"):
        train(orchid_h5, out_dir=out, config=load_config(None, [*TINY, "epochs=1"]), device="cpu")
    with pytest.raises(GenomixError, match="already finished"):
        train(orchid_h5, out_dir=out, resume=True, device="cpu")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert math.isfinite(read_checkpoint(out / "best.pt")["valid"]["roc_auc"])


def test_random_windows_are_reproducible_and_inside():
    from genomix.training.augment import crop_lengths, random_windows

    data = np.arange(30) % 250
    lengths = np.array([5, 15, 10])
    a = random_windows(data, lengths, np.array([7, 8, 9]), crop=6, seed=1, epoch=2)
    b = random_windows(data, lengths, np.array([7, 8, 9]), crop=6, seed=1, epoch=2)
    assert np.array_equal(a[0], b[0]) and a[1].tolist() == [5, 6, 6]
    assert a[0][:5].tolist() == list(range(5))
    window = a[0][5:11]
    assert np.array_equal(np.diff(window), np.ones(5)) and 5 <= window[0] <= 14
    assert crop_lengths(lengths, crop=6).tolist() == [5, 6, 6] and crop_lengths(lengths, crop=0).tolist() == [5, 15, 10]


def test_training_on_windows(orchid_h5, tmp_path):
    config = load_config(None, [*TINY, "epochs=1", "train_crop=200"])
    summary = train(orchid_h5, out_dir=tmp_path / "run", config=config, device="cpu")
    assert summary["stop_reason"] == "finished"


@pytest.mark.parametrize("kernels,precision", [(True, "bf16"), (False, "bf16"), (True, "fp32")])
def test_log_says_which_cpu_path_runs(orchid_h5, tmp_path, caplog, monkeypatch, kernels, precision):
    import logging

    from genomix import native

    if kernels and not native.available():
        pytest.skip("the kernels are not built here (GENOMIX_NATIVE=0 or no compiler): training would call them")
    monkeypatch.setattr(native, "available", lambda: kernels)
    config = load_config(None, [*TINY, "epochs=1", f"precision={precision}"])
    with caplog.at_level(logging.INFO, logger="genomix.training.loop"):
        train(orchid_h5, out_dir=tmp_path / "run", config=config, device="cpu")
    expected = "fused kernels (genomix.native)" if kernels else "ATen ops only, the fused kernels could not be built"
    assert f"{precision} on the CPU: {expected}" in caplog.text
