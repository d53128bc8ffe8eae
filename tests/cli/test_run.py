"""The run options `genomix train` and `genomix pretrain` share (genomix/cli/_run.py), through CliRunner."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from genomix.cli import cli
from genomix.cli.pretrain import pretrain
from genomix.cli.train import train

SHARED = ["dataset", "overrides", "out_dir", "config_path", "resume_dir", "device", "quiet", "verbose"]


def _names(command) -> list[str]:
    return [param.name for param in command.params if param.name != "help"]


def test_both_commands_take_the_shared_options_in_the_same_order():
    assert _names(pretrain) == SHARED
    train_names = _names(train)
    assert [name for name in train_names if name in SHARED] == SHARED
    assert train_names[-3:] == SHARED[-3:]  # the command's own options sit between --resume and --device
    shared = {param.name: param for param in pretrain.params}
    for param in train.params:
        if param.name in SHARED and param.name != "config_path":
            assert param.opts == shared[param.name].opts and param.help == getattr(shared[param.name], "help", None)


@pytest.fixture(scope="module")
def corpus(shared_data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli_run") / "corpus.h5"
    result = CliRunner().invoke(cli, ["build-dataset", "pretrain", str(shared_data / "genomes" / "lambda_virus.fa.gz"),
                                      str(shared_data / "variants" / "NC_012920.1_rCRS.fasta"), "--window", "512",
                                      "--split", "0.5,0.5,0", "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("command", ["train", "pretrain"])
def test_resume_refuses_another_folder_and_new_options(command, corpus, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    result = CliRunner().invoke(cli, [command, str(corpus), "--resume", str(run), "--out", str(tmp_path / "other")])
    assert result.exit_code == 2 and "--resume continues a run in its own folder" in result.output
    config = tmp_path / "run.toml"
    config.write_text("lr = 1e-3\n")
    result = CliRunner().invoke(cli, [command, str(corpus), "--resume", str(run), "--config", str(config)])
    assert result.exit_code == 1 and "options cannot change on resume" in result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == ["run", "run.toml"]  # nothing made


@pytest.mark.parametrize("command", ["train", "pretrain"])
def test_a_new_run_needs_an_out_folder(command, corpus):
    result = CliRunner().invoke(cli, [command, str(corpus)])
    assert result.exit_code == 2 and "give --out RUN_DIR" in result.output
