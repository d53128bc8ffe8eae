"""``genomix export`` through click, and the exported folder taken by annotate, evaluate and score-variants
wherever a checkpoint is (same outputs as from best.pt)."""

from __future__ import annotations

import json
from pathlib import Path

import pysam
import pytest
from annotate_model import tiny_checkpoint, write_split_fasta
from click.testing import CliRunner
from refalt_model import ref_alt_checkpoint
from variant_files import copy_mito

from genomix.cli import cli


def _run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def tiny(shared_data, tmp_path_factory) -> tuple[Path, Path]:
    return tiny_checkpoint(shared_data, tmp_path_factory.getbasetemp())


def test_help():
    result = _run("export", "--help")
    assert result.exit_code == 0 and "--force" in result.output and "RUN/best.pt" in result.output
    assert "export" in _run("--help").output


def test_export_then_annotate_and_evaluate_with_the_folder(tiny, tmp_path):
    checkpoint, dataset = tiny
    out = tmp_path / "model"
    result = _run("export", checkpoint, "--out", out)
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "parameters" in result.output
    fasta = tmp_path / "test.fa"
    write_split_fasta(dataset, "test", fasta)
    for model, name in ((checkpoint, "pt"), (out, "folder")):
        result = _run("annotate", model, fasta, "--out", tmp_path / f"{name}.tsv", "--bed", tmp_path / f"{name}.bed",
                      "--precision", "fp32", "-q")
        assert result.exit_code == 0, result.output
        result = _run("evaluate", model, dataset, "--out", tmp_path / name, "--no-plots", "--precision", "fp32", "-q")
        assert result.exit_code == 0, result.output
    assert (tmp_path / "pt.tsv").read_text() == (tmp_path / "folder.tsv").read_text()
    assert (tmp_path / "pt.bed").read_text() == (tmp_path / "folder.bed").read_text()
    metrics = [json.loads((tmp_path / name / "evaluation_test.json").read_text())["metrics"] for name in ("pt", "folder")]
    assert metrics[0] == metrics[1]


def test_score_variants_with_the_folder(shared_data, tmp_path):
    checkpoint = ref_alt_checkpoint(tmp_path / "run" / "best.pt")
    assert _run("export", checkpoint, "--out", tmp_path / "model", "-q").exit_code == 0
    fasta, vcf = copy_mito(shared_data, tmp_path / "in")
    for model, name in ((checkpoint, "pt"), (tmp_path / "model", "folder")):
        result = _run("score-variants", model, "--reference", fasta, "--vcf", vcf, "--out", tmp_path / f"{name}.vcf",
                      "--contig-alias", "chrM=NC_012920.1", "--quiet")
        assert result.exit_code == 0, result.output
    with pysam.VariantFile(str(tmp_path / "pt.vcf")) as a, pysam.VariantFile(str(tmp_path / "folder.vcf")) as b:
        pairs = [(x.info["GMX_SCORE"], y.info["GMX_SCORE"], x.info["GMX_DIFF"], y.info["GMX_DIFF"])
                 for x, y in zip(a, b, strict=True)]
    assert pairs and all(p[0] == p[1] and p[2] == p[3] for p in pairs)


def test_errors_are_one_line(tiny, tmp_path):
    checkpoint, _ = tiny
    out = tmp_path / "model"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    result = _run("export", checkpoint, "--out", out)
    assert result.exit_code == 1 and "not empty; choose another folder or give --force" in result.output
    assert result.output.count("\n") == 1 and (out / "keep.txt").exists()
    assert _run("export", checkpoint, "--out", out, "--force", "-q").exit_code == 0
    assert not (out / "keep.txt").exists()
    bad = tmp_path / "bad.pt"
    bad.write_text("not a checkpoint")
    result = _run("export", bad, "--out", tmp_path / "other")
    assert result.exit_code == 1 and result.output.count("\n") == 1 and "not a PyTorch checkpoint" in result.output
    assert not (tmp_path / "other").exists()
    assert _run("export", checkpoint).exit_code == 2  # --out is required
