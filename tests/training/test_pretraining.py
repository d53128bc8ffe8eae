"""Masked-nucleotide pretraining on the shared trainer, and fine-tuning from it with ``init``.

A tiny model pretrains on the lambda phage genome (48.5 kb, 512-bp windows); the orchid ITS set is the
labelled task it fine-tunes on. Both use ``model.max_seq_len=1024`` so the backbones have one shape.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import TINY, pipeline_module

from genomix.checkpoint import read_checkpoint, save_checkpoint
from genomix.datasets.pretrain import build_pretraining_dataset
from genomix.datasets.store import open_dataset
from genomix.errors import CheckpointError
from genomix.models import build_model
from genomix.training import rundir
from genomix.training.config import load_config
from genomix.training.init import is_backbone, load_backbone
from genomix.training.loop import Trainer, train
from genomix.training.masked_lm import MaskedLMTask
from genomix.training.masking import IGNORE, MaskingPlan

SHAPE = ["model.max_seq_len=1024"]
PRETRAIN = [*TINY, *SHAPE, "epochs=12", "eval_every=0", "lr=5e-3", "seed=0", "precision=fp32"]
STEPS_FLOOR = 150


@pytest.fixture(scope="module")
def lambda_h5(shared_data, tmp_path_factory):
    """The lambda genome as 12 records of ~4 kb (so that records can be held out), 512-bp windows."""
    from genomix.io.fasta import read_fasta

    folder = tmp_path_factory.mktemp("lambda")
    genome = next(iter(read_fasta(shared_data / "genomes" / "lambda_virus.fa.gz"))).sequence
    size = -(-len(genome) // 12)
    pieces = "".join(f">lambda_{i + 1}\n{genome[start:start + size]}\n" for i, start in enumerate(range(0, len(genome), size)))
    (folder / "lambda_pieces.fa").write_text(pieces)
    path = folder / "lambda.h5"
    build_pretraining_dataset([folder / "lambda_pieces.fa"], path, window=512, min_len=128,
                              fractions=(0.75, 0.25, 0.0), seed=0, command=["test"])
    return path


@pytest.fixture(scope="module")
def pretrained(lambda_h5, tmp_path_factory):
    """A finished tiny pretraining run (its folder)."""
    out = tmp_path_factory.mktemp("pre") / "run"
    train(lambda_h5, out_dir=out, config=load_config(None, PRETRAIN))
    return out


def test_lambda_windows_are_held_out_by_record(lambda_h5):
    dataset = open_dataset(lambda_h5)
    assert dataset.task == "masked_lm" and dataset.alphabet == "dna"
    assert dataset.split_names == ["train", "valid"]
    records = {name: set(dataset.split(name).meta("record")) for name in dataset.split_names}
    assert records["train"] and records["valid"] and not records["train"] & records["valid"]


def test_tiny_pretraining_beats_the_unigram_predictor(pretrained):
    history = rundir.read_metrics(pretrained)
    assert history[-1]["step"] >= STEPS_FLOOR
    valid = history[-1]["valid"]
    assert valid["n_masked"] > 1000
    assert valid["masked_accuracy"] > valid["unigram_accuracy"] + 0.02
    assert valid["perplexity"] < valid["unigram_perplexity"]
    assert valid["context_accuracy"] is not None and valid["context_k"] in (1, 2, 3, 4)
    payload = torch.load(pretrained / rundir.BEST, map_location="cpu", weights_only=True)
    assert payload["task"] == "masked_lm" and payload["model_kwargs"]["decoder"] == "per_position"
    assert payload["masking"] == {"fraction": 0.15, "random": 0.1, "keep": 0.1}


def test_loss_counts_masked_positions_only(lambda_h5):
    dataset = open_dataset(lambda_h5)
    task = MaskedLMTask(dataset, plan=MaskingPlan(), seed=0)
    inputs, lengths, targets = task.batches.read_batch(dataset.split("train"), np.arange(3), seed=0, epoch=0)
    assert inputs.shape == targets.shape and int(lengths.sum()) == inputs.shape[0]
    logits = torch.randn(inputs.shape[0], 4, requires_grad=True)
    loss = task.loss(logits, targets)
    loss.backward()
    chosen = targets != IGNORE
    assert bool(chosen.any())
    assert torch.count_nonzero(logits.grad[~chosen]) == 0 and torch.count_nonzero(logits.grad[chosen]) > 0
    expected = torch.nn.functional.cross_entropy(logits.detach()[chosen], targets[chosen])
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    changed = logits.detach().clone()
    changed[~chosen] = 100.0  # whatever the model says at unmasked positions
    assert task.loss(changed, targets).item() == pytest.approx(loss.item(), rel=1e-6)
    none = torch.full_like(targets, IGNORE)
    zero = task.loss(logits, none)
    assert zero.item() == 0.0 and zero.requires_grad


def _finetune_trainer(orchid_h5, out, *extra):
    config = load_config(None, [*TINY, *SHAPE, "epochs=1", "seed=1", *extra])
    from genomix.training import distributed

    return Trainer(orchid_h5, out, config, context=distributed.setup(device="cpu"), resume_payload=None,
                   progress=None)


def test_init_loads_exactly_the_backbone_tensors(pretrained, orchid_h5, tmp_path):
    checkpoint = pretrained / rundir.BEST
    stored = read_checkpoint(checkpoint)["model_state"]
    scratch = _finetune_trainer(orchid_h5, tmp_path / "a").model.state_dict()
    tuned = _finetune_trainer(orchid_h5, tmp_path / "b", f"init={json.dumps(str(checkpoint))}").model.state_dict()
    assert scratch.keys() == tuned.keys()
    backbone = [name for name in tuned if is_backbone(name)]
    assert backbone and any(name.startswith("embedding") for name in backbone)
    for name in backbone:
        assert torch.equal(tuned[name], stored[name]), name
    for name in tuned:  # the decoder and the profile head are those of a run from scratch (same seed)
        if not is_backbone(name):
            assert torch.equal(tuned[name], scratch[name]), name
    assert not torch.equal(tuned["encoder.chordmixer_blocks.0.mix.fc1.weight"],
                           scratch["encoder.chordmixer_blocks.0.mix.fc1.weight"])


def test_frozen_backbone_stays_as_loaded(pretrained, orchid_h5, tmp_path):
    checkpoint = pretrained / rundir.BEST
    out = tmp_path / "frozen"
    summary = train(orchid_h5, out_dir=out, config=load_config(None, [
        *TINY, *SHAPE, "epochs=2", f"init={json.dumps(str(checkpoint))}", "freeze_backbone_steps=1000"]))
    assert summary["step"] > 0
    final = read_checkpoint(out / rundir.LAST)["model_state"]
    stored = read_checkpoint(checkpoint)["model_state"]
    for name, tensor in final.items():
        if is_backbone(name):
            assert torch.equal(tensor, stored[name]), name
    assert torch.count_nonzero(final["decoder.decoder.weight"]) > 0  # the new decoder did learn


def test_backbone_lr_scale_sets_the_backbone_groups(orchid_h5, tmp_path):
    trainer = _finetune_trainer(orchid_h5, tmp_path / "c", "backbone_lr_scale=0.25")
    backbone = {id(p) for p in trainer.backbone}
    for group in trainer.optimizer.param_groups:
        if all(id(p) in backbone for p in group["params"]):
            assert group["lr_scale"] == 0.25
        else:
            assert group["lr_scale"] == trainer.config.decoder_lr_scale  # the decoder's


def test_init_refuses_another_shape_naming_the_tensor(pretrained, orchid_h5):
    dataset = open_dataset(orchid_h5)
    model = build_model({**read_checkpoint(pretrained / rundir.BEST)["model_kwargs"], "max_seq_len": 4096,
                         "decoder": "linear", "output_size": 5})
    with pytest.raises(CheckpointError, match=r"tensor embedding\.weight|encoder\.chordmixer_blocks") as error:
        load_backbone(model, pretrained / rundir.BEST, dataset=dataset)
    assert "\n" not in str(error.value) and "model.max_seq_len=1024" in str(error.value)


def test_init_refuses_another_alphabet(pretrained, orchid_h5, tmp_path):
    payload = read_checkpoint(pretrained / rundir.BEST)
    payload.pop("format"), payload.pop("version")
    save_checkpoint(tmp_path / "bytes.pt", {**payload, "alphabet": "bytes"})
    model = build_model(payload["model_kwargs"])
    with pytest.raises(CheckpointError, match="alphabet 'bytes'"):
        load_backbone(model, tmp_path / "bytes.pt", dataset=open_dataset(orchid_h5))


@pytest.mark.slow
def test_pretraining_resumes_to_identical_weights(lambda_h5, tmp_path):
    """SIGKILL mid-run, then ``genomix pretrain --resume``: the weights of an uninterrupted run (masks included)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    command = [sys.executable, "-c", "from genomix.cli import main; main()", "pretrain", str(lambda_h5)]
    options = [*PRETRAIN[:-1], "epochs=4", "checkpoint_every=5", "eval_every=9"]
    reference = tmp_path / "reference"
    done = subprocess.run([*command, "--out", str(reference), "-q", *options], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    killed = tmp_path / "killed"
    process = subprocess.Popen([*command, "--out", str(killed), "-q", *options], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while not (killed / rundir.LAST).exists():
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"pretraining ended before a checkpoint: {process.stderr.read().decode()[-2000:]}")
        time.sleep(0.02)
    time.sleep(0.3)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    if torch.load(killed / rundir.LAST, weights_only=True)["train_state"]["finished"]:
        pytest.skip("the run finished before it could be killed (machine too fast for this test)")
    resumed = subprocess.run([*command, "--resume", str(killed), "-q"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    final = torch.load(killed / rundir.LAST, weights_only=True)["model_state"]
    expected = torch.load(reference / rundir.LAST, weights_only=True)["model_state"]
    for name, tensor in expected.items():
        assert torch.equal(final[name], tensor), name
    assert [r["valid"] for r in rundir.read_metrics(killed)] == [r["valid"] for r in rundir.read_metrics(reference)]


@pytest.mark.slow
def test_pretraining_under_torchrun_two_processes(lambda_h5, tmp_path):
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    torchrun = Path(sys.executable).parent / "torchrun"
    genomix = shutil.which("genomix", path=str(Path(sys.executable).parent))
    if not torchrun.exists() or genomix is None:
        pytest.skip("torchrun or the genomix script is not installed beside this python")
    out = tmp_path / "ddp"
    result = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node", "2", genomix, "pretrain", str(lambda_h5),
                             "--out", str(out), "--device", "cpu", "-q", *PRETRAIN, "epochs=2"],
                            check=False, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    state = torch.load(out / rundir.LAST, weights_only=True)["train_state"]
    assert state["finished"] and len(state["sampler_by_rank"]) == 2
    valid = rundir.read_metrics(out)[-1]["valid"]
    assert valid["masked_accuracy"] is not None and valid["n_masked"] > 0


def test_recipe_options_validate():
    """pipelines/pretrain_recipe.py's option lists are valid configs (one validation pass, as a run does)."""
    recipe = pipeline_module("pretrain_recipe")
    assert load_config(None, recipe.PRETRAIN).source_weights == recipe.SOURCE_WEIGHTS
    assert set(recipe.SOURCE_WEIGHTS) <= {f"{key}.train.fa.gz" for key in recipe.SETS}  # files stage_data writes
    config = load_config(None, [*recipe.FINETUNE, "init=PRE/best.pt", "freeze_backbone_steps=10"])
    assert config.model.max_seq_len == recipe.WINDOW == config.train_crop
