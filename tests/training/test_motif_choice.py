"""model.motifs: the ref/alt model's fitted head reads known motifs where they win on valid."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from synthetic_variants import element_variants_dataset

from genomix.alphabet import DNA
from genomix.checkpoint import load_model
from genomix.datasets.store import open_dataset
from genomix.errors import ConfigError
from genomix.models import ModelConfig
from genomix.models.motifs import log_odds
from genomix.training import motif_choice
from genomix.training.loop import train
from genomix.training.config import from_dict
from genomix.training.tasks import make_task

SITE = "TGACTCAG"  # an AP-1-like 8-mer: its 4-mers are common in random sequence, the whole site is not


def _motif_file(path, consensus: str, *, decoy: str = "CCGCGGAA"):
    """A JASPAR file: the site's consensus (50 counts per base) and a decoy."""
    text = ""
    for i, word in enumerate((consensus, decoy)):
        text += f">MA900{i}.1 M{i}\n"
        for base in "ACGT":
            text += f"{base} [ " + " ".join("50" if b == base else "0" for b in word) + " ]\n"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def site_dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("site")
    return element_variants_dataset(folder / "site.h5", elements=8, length=90, motif=SITE, sites=3, seed=2)


def _kwargs(dataset):
    return ModelConfig(track_size=4, hidden_size=8).model_kwargs(
        architecture="ref_alt", input_size=DNA.vocab_size, output_size=1, max_seq_len=64)


def _options():
    return {"seed": 0, "folds": 3, "metric": None, "weights": None}


def test_auto_keeps_motifs_that_win_and_drops_those_that_do_not(site_dataset, tmp_path, monkeypatch):
    dataset = open_dataset(site_dataset)
    task = make_task(dataset, regression_targets="auto")
    monkeypatch.setattr(motif_choice, "AUTO_SOURCE", str(_motif_file(tmp_path / "site.jaspar", SITE)))
    kept = motif_choice.choose_motifs(dataset, task, _kwargs(dataset), "auto", fit_options=_options())
    scores = kept["choice"]["scores"]  # valid Spearman 0.602 without, 0.618 with (most variants touch no site)
    assert kept["choice"]["chosen"] and scores["with"] > scores["without"] + motif_choice.MIN_GAIN
    assert kept["kwargs"] == {"motif_count": 2, "motif_width": len(SITE)} and kept["matrices"].shape == (2, 4, 8)
    assert kept["fit"]["head"].linear.in_features == 256 + 2
    monkeypatch.setattr(motif_choice, "AUTO_SOURCE", str(_motif_file(tmp_path / "decoys.jaspar", "GGGTTTAA")))
    dropped = motif_choice.choose_motifs(dataset, task, _kwargs(dataset), "auto", fit_options=_options())
    assert not dropped["choice"]["chosen"] and dropped["kwargs"] == {"motif_count": 0, "motif_width": 0}
    assert dropped["choice"]["scores"]["with"] < scores["without"]  # 0.595: decoys only add noise
    assert dropped["matrices"] is None and dropped["fit"]["head"].linear.in_features == 256
    assert dropped["choice"]["scores"]["without"] == scores["without"]  # the same k-mer head, the same fit


def test_a_named_source_is_kept_whatever_valid_says(site_dataset, tmp_path):
    dataset = open_dataset(site_dataset)
    source = str(_motif_file(tmp_path / "decoys.jaspar", "GGGTTTAA"))
    result = motif_choice.choose_motifs(dataset, make_task(dataset, regression_targets="auto"), _kwargs(dataset),
                                        source, fit_options=_options())
    assert result["choice"]["chosen"] and set(result["choice"]["scores"]) == {"with"}


def _config(**overrides):
    base = {"epochs": 1, "max_tokens": 2048, "num_threads": 1, "precision": "fp32", "eval_every": 0,
            "model": {"track_size": 4, "hidden_size": 8}}
    for key, value in overrides.items():
        section, _, name = key.rpartition(".")
        (base.setdefault(section, {}) if section else base)[name or key] = value
    return from_dict(base)


def test_training_reads_the_motifs_and_the_checkpoint_keeps_them(site_dataset, tmp_path):
    source = str(_motif_file(tmp_path / "site.jaspar", SITE))
    run = tmp_path / "run"
    train(site_dataset, out_dir=run, config=_config(**{"model.motifs": source}))
    stored = json.loads((run / "config.json").read_text())
    assert stored["model_kwargs"]["motif_count"] == 2 and stored["motifs"]["chosen"]
    model = load_model(run / "best.pt")[0]
    assert model.motifs is not None and model.motifs.matrices.abs().sum() > 0  # restored, not zeros
    expected = log_odds([np.eye(4)[["ACGT".index(b) for b in word]].T * 50 for word in (SITE, "CCGCGGAA")])
    torch.testing.assert_close(model.motifs.matrices, expected)


def test_motifs_are_refused_where_they_cannot_apply(orchid_h5, site_dataset, tmp_path):
    with pytest.raises(ConfigError, match="ref/alt variant model"):
        train(orchid_h5, out_dir=tmp_path / "one", config=_config(**{"model.motifs": "jaspar"}))
    assert not (tmp_path / "one").exists()  # nothing half-written
    with pytest.raises(ConfigError, match="fitted profile head"):
        train(site_dataset, out_dir=tmp_path / "two",
              config=_config(**{"model.motifs": "jaspar", "profile_fit": "off"}))
    with pytest.raises(ConfigError, match="known suffix"):
        train(site_dataset, out_dir=tmp_path / "three", config=_config(**{"model.motifs": "motifs.txt"}))
    assert not (tmp_path / "two").exists() and not (tmp_path / "three").exists()
