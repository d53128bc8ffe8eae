"""Config: TOML + key=value overrides, one validation pass listing every problem."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from genomix.errors import ConfigError
from genomix.training.config import TrainConfig, from_dict, load_config

PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"


def test_defaults_and_overrides(tmp_path):
    path = tmp_path / "x.toml"
    path.write_text("epochs = 3\nlr = 1e-3\n[model]\ntrack_size = 8\n")
    config = load_config(path, ["lr=2e-3", "model.hidden_size=32", "precision=bf16", "grad_checkpointing=true",
                                "warmup_fraction=0"])
    assert config.epochs == 3 and config.lr == 2e-3 and config.precision == "bf16"
    assert config.model.track_size == 8 and config.model.hidden_size == 32 and config.grad_checkpointing
    assert config.warmup_fraction == 0.0
    assert from_dict(config.to_dict()) == config
    assert load_config() == TrainConfig()


def test_every_problem_reported_at_once(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(None, ["lrr=1", "epochs=-1", "precision=fp16", "model.nrom=LN", "model.track_size=x", "oops"])
    message = str(caught.value)
    for part in ("unknown key 'lrr' (did you mean 'lr'?)", "epochs should be in 0..10,000", "precision should be one of",
                 "unknown key 'model.nrom'", "'model.track_size' should be int", "'oops' should look like key=value"):
        assert part in message
    assert "\n" not in message


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("epochs = = 3")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


@pytest.mark.parametrize("recipe", sorted(PIPELINES.glob("*.toml")), ids=lambda p: p.name)
def test_every_recipe_config_is_valid(recipe):
    text = recipe.read_text()
    assert text.startswith("#"), "a recipe starts with what it reproduces and the command that runs it"
    header = text.split("\n\n")[0]
    assert "# Run: " in header and f"pipelines/{recipe.name}" in header, "the header names the one command"
    load_config(recipe)


@pytest.mark.parametrize("override, expected", [
    ("lr=inf", "lr should be a finite number, got inf"),
    ("lr=nan", "lr should be a finite number, got nan"),
    ("max_minutes=inf", "max_minutes should be a finite number"),
    ("select_metric=nope", "select_metric should be one of auto, accuracy"),
    ("epochs=99999999999999999999", "epochs should be in 0..10,000"),
    ("seed=-1", "seed should be in 0..4,294,967,295, got -1"),
    ("seed=99999999999999999999", "seed should be in 0..4,294,967,295"),
    ("max_tokens=99999999999999999999", "max_tokens should be at most"),
])
def test_values_that_would_fail_late_fail_now(override, expected):
    """Issue 18 item 11: each of these was accepted and failed after an epoch (or hung, or crashed)."""
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load_config(None, [override])


def test_config_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes("# réglages\nepochs = 2\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(byte 0xe9 at offset 3\)"):
        load_config(path)
