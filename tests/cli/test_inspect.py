"""``genomix inspect`` through click."""

from __future__ import annotations

import json

import h5py
from click.testing import CliRunner

from genomix.cli import cli
from genomix.datasets.builder import Filters
from genomix.datasets.taxonomy import build_taxonomy_from_genbank


def _dataset(fixtures, tmp_path):
    out = tmp_path / "d.h5"
    build_taxonomy_from_genbank([fixtures / "genbank" / "cor6_6.gb"], out, label_from="organism",
                                fractions=(0.5, 0.0, 0.5), filters=Filters())
    return out


def test_help():
    result = CliRunner().invoke(cli, ["inspect", "--help"])
    assert result.exit_code == 0 and "--json" in result.output


def test_text_summary(fixtures, tmp_path):
    path = _dataset(fixtures, tmp_path)
    result = CliRunner().invoke(cli, ["inspect", str(path)])
    assert result.exit_code == 0, result.output
    assert "genomix dataset v1, task classification" in result.output
    assert "classes (4): Arabidopsis thaliana" in result.output
    assert "length percentiles: p0" in result.output and "input: " in result.output


def test_json_summary(fixtures, tmp_path):
    path = _dataset(fixtures, tmp_path)
    result = CliRunner().invoke(cli, ["inspect", str(path), "--json"])
    summary = json.loads(result.output)
    assert summary["version"] == 1 and summary["task"] == "classification"
    assert sum(split["sequences"] for split in summary["splits"].values()) == 6
    assert summary["provenance"]["inputs"][0]["path"].endswith("cor6_6.gb")
    assert set(summary["splits"]) == {"train", "test"}


def test_not_hdf5(tmp_path):
    path = tmp_path / "x.h5"
    path.write_text("nope")
    result = CliRunner().invoke(cli, ["inspect", str(path)])
    assert result.exit_code == 1 and result.output.strip() == f"Error: {path}: is not an HDF5 file (expected a genomix dataset .h5 file)"


def test_other_version(fixtures, tmp_path):
    path = _dataset(fixtures, tmp_path)
    with h5py.File(path, "a") as handle:
        handle.attrs["version"] = 2
    result = CliRunner().invoke(cli, ["inspect", str(path)])
    assert result.exit_code == 1 and "version 2, this genomix reads version 1" in result.output


def test_missing_file(tmp_path):
    result = CliRunner().invoke(cli, ["inspect", str(tmp_path / "none.h5")])
    assert result.exit_code == 2
