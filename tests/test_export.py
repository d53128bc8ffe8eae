"""genomix.export and its model card: the folder's files, the card's facts read from the run folder
(test metrics beside the k-mer baseline, the dataset's provenance), atomic writes, --out refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from annotate_model import tiny_checkpoint

from genomix.errors import CheckpointError, ConfigError
from genomix.export import export_checkpoint
from genomix.model_card import metrics_table
from genomix.pretrained import CARD_NAME, CONFIG_NAME, WEIGHTS_NAME, file_sha256, read_folder_config


@pytest.fixture(scope="module")
def run(shared_data, tmp_path_factory) -> tuple[Path, Path]:
    """A copy of the tiny run, with the test report and the k-mer baseline that the recipes write."""
    from genomix.training.baseline import kmer_baseline
    from genomix.training.evaluate import evaluate_checkpoint

    checkpoint, dataset = tiny_checkpoint(shared_data, tmp_path_factory.getbasetemp())
    folder = tmp_path_factory.mktemp("runs") / "orchid"
    shutil.copytree(checkpoint.parent, folder / "run")
    evaluate_checkpoint(folder / "run" / "best.pt", dataset, out_dir=folder / "run", name="test_metrics", plots=False,
                        precision="fp32")
    kmer_baseline(dataset, k=4, out=folder / "baseline_kmer4.json")
    return folder / "run" / "best.pt", dataset


def test_folder_holds_config_weights_and_card(run, tmp_path):
    out = tmp_path / "model"
    summary = export_checkpoint(run[0], out)
    assert sorted(p.name for p in out.iterdir()) == sorted([CONFIG_NAME, WEIGHTS_NAME, CARD_NAME])
    config = read_folder_config(out)
    assert config["weights"]["sha256"] == file_sha256(out / WEIGHTS_NAME) == summary["sha256"]
    assert config["classes"] == ["Cypripedium", "Mexipedium", "Paphiopedilum", "Phragmipedium"]
    assert config["task"] == "classification" and config["alphabet"] == "dna"
    assert config["genomix_version"] and config["training"]["step"] >= 1
    assert summary["test"] == "test_metrics.json" and summary["baseline"] == "../baseline_kmer4.json"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no partial folder left


def test_the_same_checkpoint_gives_the_same_bytes(run, tmp_path):
    digests = {export_checkpoint(run[0], tmp_path / f"model{k}")["sha256"] for k in range(4)}
    assert len(digests) == 1


def test_card_reports_test_metrics_beside_the_baseline(run, tmp_path):
    checkpoint, dataset = run
    export_checkpoint(checkpoint, tmp_path / "model")
    card = (tmp_path / "model" / CARD_NAME).read_text()
    test = json.loads((checkpoint.parent / "test_metrics.json").read_text())["metrics"]
    baseline = json.loads((checkpoint.parent.parent / "baseline_kmer4.json").read_text())["test"]
    for row in metrics_table(test, baseline)[2:]:
        assert row in card
    assert f"| accuracy | {test['accuracy']:.4f} | {baseline['accuracy']:.4f} |" in card
    assert "4-mer logistic regression" in card
    assert f"`{dataset.resolve()}`" in card and "train 57 sequences, valid 19 sequences, test 18 sequences" in card
    assert "- seed: 0" in card  # the dataset's provenance
    assert 'genomix.load("model")' in card and 'ChordMixer.from_pretrained("model")' in card


def test_card_says_what_is_missing(run, tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(run[0], bare / "best.pt")
    export_checkpoint(bare / "best.pt", tmp_path / "model")
    card = (tmp_path / "model" / CARD_NAME).read_text()
    assert "records no dataset" in card and "No test metrics were found" in card
    (bare / "config.json").write_text(json.dumps({"dataset": str(tmp_path / "gone.h5")}))
    export_checkpoint(bare / "best.pt", tmp_path / "model2")
    assert "no longer at" in (tmp_path / "model2" / CARD_NAME).read_text()


def test_out_must_be_new_or_empty_unless_force(run, tmp_path):
    out = tmp_path / "model"
    out.mkdir()
    export_checkpoint(run[0], out)  # an empty folder is fine
    first = (out / CONFIG_NAME).read_text()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="exists and is not empty; choose another folder or give --force"):
        export_checkpoint(run[0], out)
    assert (out / "notes.txt").exists()
    export_checkpoint(run[0], out, force=True)
    assert sorted(p.name for p in out.iterdir()) == sorted([CONFIG_NAME, WEIGHTS_NAME, CARD_NAME])
    assert json.loads((out / CONFIG_NAME).read_text())["weights"] == json.loads(first)["weights"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        export_checkpoint(run[0], tmp_path / "file")
    with pytest.raises(ConfigError, match="holds the checkpoint"):
        export_checkpoint(run[0], run[0].parent, force=True)


@pytest.mark.parametrize("failing", ["genomix.export.write_weights", "genomix.export.model_card"])
def test_a_failed_export_leaves_nothing(run, tmp_path, monkeypatch, failing):
    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(failing, fail)
    from genomix.errors import OutputError

    with pytest.raises(OutputError, match="no space left on device; nothing was left there"):
        export_checkpoint(run[0], tmp_path / "model")
    assert list(tmp_path.iterdir()) == []


def test_interrupted_export_keeps_the_old_folder(run, tmp_path, monkeypatch):
    out = tmp_path / "model"
    export_checkpoint(run[0], out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("genomix.export.model_card", interrupt)
    with pytest.raises(KeyboardInterrupt):
        export_checkpoint(run[0], out, force=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_not_a_checkpoint(tmp_path):
    (tmp_path / "best.pt").write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        export_checkpoint(tmp_path / "best.pt", tmp_path / "model")
    with pytest.raises(CheckpointError, match="is a folder"):
        export_checkpoint(tmp_path, tmp_path / "model")
    assert not (tmp_path / "model").exists()
