"""`genomix train`, `genomix evaluate`, `genomix baseline kmer` through CliRunner, error paths included."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import h5py
import pytest
from click.testing import CliRunner

from genomix.cli import cli

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
from realdata import orchid_dataset

TINY = ["model.track_size=4", "model.hidden_size=16", "max_tokens=3000", "num_threads=1"]


@pytest.fixture(scope="module")
def orchid(shared_data, tmp_path_factory) -> Path:
    return orchid_dataset(shared_data, tmp_path_factory.mktemp("cli_orchid") / "orchid.h5")


@pytest.fixture(scope="module")
def trained(orchid, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli_run") / "run"
    result = CliRunner().invoke(cli, ["train", str(orchid), "--out", str(out), "-q", *TINY, "epochs=2"])
    assert result.exit_code == 0, result.output
    return out


def _one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.strip().splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("command", [["train"], ["evaluate"], ["baseline"], ["baseline", "kmer"]])
def test_help(command):
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_train_evaluate_baseline(orchid, trained, tmp_path):
    assert (trained / "best.pt").exists() and (trained / "metrics.jsonl").exists()
    result = CliRunner().invoke(cli, ["evaluate", str(trained / "best.pt"), str(orchid), "--split", "test", "-q",
                                      "--out", str(tmp_path / "eval")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "eval" / "evaluation_test.json").read_text())
    assert report["split"] == "test" and 0 <= report["metrics"]["roc_auc"] <= 1
    assert report["by_length"] and sum(row["n"] for row in report["by_length"]) == report["metrics"]["n"]
    for name in ("learning_curves.png", "test_roc_pr.png", "test_confusion.png", "test_metric_by_length.png"):
        assert (tmp_path / "eval" / name).stat().st_size > 1000, name
    result = CliRunner().invoke(cli, ["baseline", "kmer", str(orchid), "-k", "3", "-q",
                                      "--out", str(tmp_path / "kmer.json")])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["k"] == 3 and shown["test"]["roc_auc"] > 0.7
    assert json.loads((tmp_path / "kmer.json").read_text())["test_by_length"]


def test_wrong_dataset_format(tmp_path):
    bogus = tmp_path / "bogus.h5"
    bogus.write_text("not hdf5\n")
    _one_line_error(CliRunner().invoke(cli, ["train", str(bogus), "--out", str(tmp_path / "run")]), "bogus.h5")
    assert not (tmp_path / "run" / "config.json").exists()


def test_wrong_dataset_version(orchid, tmp_path):
    copy = tmp_path / "v2.h5"
    copy.write_bytes(orchid.read_bytes())
    with h5py.File(copy, "a") as handle:
        handle.attrs["version"] = 2
    _one_line_error(CliRunner().invoke(cli, ["train", str(copy), "--out", str(tmp_path / "run")]), "version")
    _one_line_error(CliRunner().invoke(cli, ["baseline", "kmer", str(copy)]), "version")


def test_unknown_config_key(orchid, tmp_path):
    result = CliRunner().invoke(cli, ["train", str(orchid), "--out", str(tmp_path / "run"), "learning_rate=1e-3"])
    _one_line_error(result, "unknown key 'learning_rate'")
    assert not (tmp_path / "run").exists()


def test_an_option_refused_by_the_trainer_leaves_no_folder(orchid, tmp_path):
    """Refused once the dataset is read (after the folder was made): a folder it made is removed, one the
    user made stays."""
    for made_by_user in (False, True):
        run = tmp_path / f"run_{made_by_user}"
        if made_by_user:
            run.mkdir()
        result = CliRunner().invoke(cli, ["train", str(orchid), "--out", str(run), *TINY,
                                          "regression_targets=element_ranks"])
        _one_line_error(result, "element_ranks is for regression datasets")
        assert run.exists() == made_by_user and (not made_by_user or not any(run.iterdir()))
    result = CliRunner().invoke(cli, ["train", str(orchid), "--out", str(tmp_path / "w"), *TINY, "sample_weights=sqrt"])
    _one_line_error(result, "needs per-record weights")
    assert not (tmp_path / "w").exists()


@pytest.mark.parametrize("source, fragment", [
    ("jaspar", "is for the ref/alt variant model"),
    ("jaspar:mammals", "unknown JASPAR group 'mammals'"),
    ("motifs.txt", "known suffix"),
])
def test_a_motif_source_that_cannot_apply_is_one_line(orchid, tmp_path, source, fragment):
    run = tmp_path / "run"
    result = CliRunner().invoke(cli, ["train", str(orchid), "--out", str(run), *TINY, f"model.motifs={source}"])
    _one_line_error(result, fragment)
    assert not run.exists()


def test_checkpoint_that_does_not_fit(trained, shared_data, tmp_path):
    other = orchid_dataset(shared_data, tmp_path / "gc.h5", task="regression")
    result = CliRunner().invoke(cli, ["evaluate", str(trained / "best.pt"), str(other), "-q"])
    _one_line_error(result, "does not fit the dataset")
    not_a_checkpoint = tmp_path / "x.pt"
    not_a_checkpoint.write_bytes(b"\x00garbage")
    _one_line_error(CliRunner().invoke(cli, ["evaluate", str(not_a_checkpoint), str(other), "-q"]), "x.pt")


def test_non_writable_output_folder(orchid, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    result = CliRunner().invoke(cli, ["train", str(orchid), "--out", str(blocker / "run"), *TINY])
    _one_line_error(result, "not writable")


def test_existing_run_dir_is_not_corrupted(orchid, trained, tmp_path):
    before = {p.name: p.read_bytes() for p in trained.iterdir() if p.suffix in (".pt", ".json", ".jsonl")}
    _one_line_error(CliRunner().invoke(cli, ["train", str(orchid), "--out", str(trained), *TINY]), "already holds a run")
    _one_line_error(CliRunner().invoke(cli, ["train", str(orchid), "--resume", str(trained), "lr=1"]), "resume")
    _one_line_error(CliRunner().invoke(cli, ["train", str(orchid), "--resume", str(trained)]), "already finished")
    after = {p.name: p.read_bytes() for p in trained.iterdir() if p.suffix in (".pt", ".json", ".jsonl")}
    assert after == before


def test_nan_loss(orchid, tmp_path):
    result = CliRunner().invoke(cli, ["train", str(orchid), "--out", str(tmp_path / "run"), "-q", *TINY,
                                      "lr=1e30", "min_lr=0", "warmup_fraction=0", "grad_clip=0"])
    _one_line_error(result, "training loss became")
    assert not (tmp_path / "run" / "last.pt").exists()


def _bytes_dataset(tmp_path):
    import numpy as np

    from genomix.datasets.store import SplitArrays, write_dataset

    text = np.frombuffer(b"first chapter" * 20 + b"second one" * 20, dtype=np.uint8)
    split = SplitArrays(tokens=text, offsets=np.array([0, 260, len(text)], dtype=np.int64),
                        labels=np.array([0, 1]), ids=["a", "b"])
    dataset = tmp_path / "text.h5"
    write_dataset(dataset, {"train": split, "valid": split}, task="classification", alphabet="bytes",
                  vocab={"<byte>": "token = byte value"}, classes=["x", "y"], provenance={})
    return dataset


def test_reverse_complement_on_a_dataset_without_dna_is_one_line(tmp_path):
    dataset, out = _bytes_dataset(tmp_path), tmp_path / "run"
    result = CliRunner().invoke(cli, ["train", str(dataset), "--out", str(out), "-q", *TINY, "reverse_complement=on"])
    _one_line_error(result, "reverse_complement=on needs DNA sequences", "'bytes'")
    assert not out.exists()


def test_a_canonical_profile_head_on_text_is_one_line(tmp_path):
    dataset, out = _bytes_dataset(tmp_path), tmp_path / "run"
    result = CliRunner().invoke(cli, ["train", str(dataset), "--out", str(out), "-q", *TINY, "model.kmer_profile=on",
                                      "model.profile_canonical=on"])
    _one_line_error(result, "model.profile_canonical=on needs DNA k-mers")
    assert not out.exists()
