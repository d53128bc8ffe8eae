"""`genomix build-dataset pretrain`, `genomix pretrain` and `genomix train --init` through CliRunner, error paths included."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from genomix.checkpoint import read_checkpoint, save_checkpoint
from genomix.cli import cli

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
from realdata import orchid_dataset

TINY = ["model.track_size=4", "model.hidden_size=16", "max_tokens=3000", "num_threads=1", "model.max_seq_len=1024"]


def _one_line_error(result, *fragments: str) -> None:
    assert result.exit_code != 0, result.output
    lines = [line for line in result.output.strip().splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def corpus(shared_data, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cli_pre")
    out = folder / "corpus.h5"
    result = CliRunner().invoke(cli, ["build-dataset", "pretrain", "--fasta",
                                      str(shared_data / "genomes" / "lambda_virus.fa.gz"),
                                      str(shared_data / "variants" / "NC_012920.1_rCRS.fasta"),
                                      "--genbank", str(shared_data / "genbank" / "bioperl" / "PX1CG.gb"),
                                      "--window", "512", "--split", "0.6,0.4,0", "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "valid:" in result.output
    return out


@pytest.fixture(scope="module")
def pretrained(corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli_pre_run") / "run"
    result = CliRunner().invoke(cli, ["pretrain", str(corpus), "--out", str(out), "-q", *TINY, "epochs=1"])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def orchid(shared_data, tmp_path_factory) -> Path:
    return orchid_dataset(shared_data, tmp_path_factory.mktemp("cli_pre_orchid") / "orchid.h5")


def test_help_pages():
    for command in (["pretrain", "--help"], ["build-dataset", "pretrain", "--help"], ["train", "--help"]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 0 and "Usage" in result.output
    assert "--init" in CliRunner().invoke(cli, ["train", "--help"]).output


def test_pretrain_writes_a_safe_checkpoint_and_metrics(pretrained):
    payload = torch.load(pretrained / "best.pt", map_location="cpu", weights_only=True)
    assert payload["task"] == "masked_lm"
    record = json.loads((pretrained / "metrics.jsonl").read_text().splitlines()[-1])
    for key in ("masked_accuracy", "perplexity", "unigram_accuracy", "context_accuracy"):
        assert record["valid"][key] is not None


def test_pretrain_refuses_a_labelled_dataset(orchid, tmp_path):
    result = CliRunner().invoke(cli, ["pretrain", str(orchid), "--out", str(tmp_path / "x"), "-q"])
    _one_line_error(result, "classification dataset", "masked_lm")
    assert not (tmp_path / "x").exists()


def test_build_pretrain_bad_split_is_one_line(shared_data, tmp_path):
    result = CliRunner().invoke(cli, ["build-dataset", "pretrain", str(shared_data / "genomes" / "lambda_virus.fa.gz"),
                                      "--split", "0.5,0.1", "--out", str(tmp_path / "x.h5")])
    _one_line_error(result, "--split")


def test_train_init_fine_tunes(pretrained, orchid, tmp_path):
    out = tmp_path / "tuned"
    result = CliRunner().invoke(cli, ["train", str(orchid), "--out", str(out), "--init", str(pretrained / "best.pt"),
                                      "-q", *TINY, "epochs=1", "backbone_lr_scale=0.5"])
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())["config"]
    assert config["init"] == str(pretrained / "best.pt") and config["backbone_lr_scale"] == 0.5


def test_train_init_with_another_shape_names_the_tensor(pretrained, orchid, tmp_path):
    result = CliRunner().invoke(cli, ["train", str(orchid), "--out", str(tmp_path / "x"), "--init",
                                      str(pretrained / "best.pt"), "-q", *TINY[:-1], "model.max_seq_len=4096"])
    _one_line_error(result, "tensor ", "model.max_seq_len=1024")
    assert not list((tmp_path / "x").glob("*"))  # nothing half-made: a rerun can use the folder


def test_train_init_with_another_alphabet_is_one_line(pretrained, orchid, tmp_path):
    payload = read_checkpoint(pretrained / "best.pt")
    payload.pop("format"), payload.pop("version")
    save_checkpoint(tmp_path / "text.pt", {**payload, "alphabet": "bytes"})
    result = CliRunner().invoke(cli, ["train", str(orchid), "--out", str(tmp_path / "x"), "--init",
                                      str(tmp_path / "text.pt"), "-q", *TINY])
    _one_line_error(result, "alphabet 'bytes'", "'dna'")


def test_train_init_missing_file_and_freeze_without_init(orchid, tmp_path):
    result = CliRunner().invoke(cli, ["train", str(orchid), "--out", str(tmp_path / "x"), "--init",
                                      str(tmp_path / "none.pt"), "-q", *TINY])
    _one_line_error(result, "no such file")
    result = CliRunner().invoke(cli, ["train", str(orchid), "--out", str(tmp_path / "y"), "-q", *TINY,
                                      "freeze_backbone_steps=10"])
    _one_line_error(result, "freeze_backbone_steps needs init")


def test_evaluate_and_inspect_a_pretraining_run(pretrained, corpus):
    result = CliRunner().invoke(cli, ["evaluate", str(pretrained / "best.pt"), str(corpus), "-q"])
    _one_line_error(result, "pretraining (masked_lm) model", "--init")
    result = CliRunner().invoke(cli, ["inspect", str(corpus)])
    assert result.exit_code == 0, result.output
    assert "masked_lm" in result.output


def test_pretrain_unknown_source_weight_is_one_line(corpus, tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["pretrain", str(corpus), "--out", str(out), "-q", *TINY, "epochs=1",
                                      'source_weights={"lambda.fa" = 2}'])
    _one_line_error(result, "'lambda.fa'", "NC_012920.1_rCRS.fasta", "PX1CG.gb")  # the train split's files
    assert not out.exists()


def test_pretrain_with_source_weights_runs(corpus, tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["pretrain", str(corpus), "--out", str(out), "-q", *TINY, "epochs=1",
                                      'source_weights={"NC_012920.1_rCRS.fasta" = 2}'])
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["config"]["source_weights"] == {"NC_012920.1_rCRS.fasta": 2}
