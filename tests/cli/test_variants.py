"""``genomix score-variants`` through click, with the checkpoint loader replaced by a small untrained
RefAltModel (checkpoint loading itself belongs to genomix.training)."""

from __future__ import annotations

import pysam
import pytest
import torch
from click.testing import CliRunner
from variant_files import copy_mito

from genomix.cli.variants import score_variants
from genomix.models.variant import RefAltModel


@pytest.fixture
def fake_checkpoint(monkeypatch, tmp_path):
    torch.manual_seed(0)
    model = RefAltModel(16, 2, max_seq_len=32, track_size=4, hidden_size=8)
    info = {"task": "variant_effect", "classes": ["other", "Cfrm"], "config": {"window": 16}, "target_scale": None}

    def load_model(path, *, device="cpu"):
        return model, dict(info)

    monkeypatch.setattr("genomix.checkpoint.load_model", load_model)
    path = tmp_path / "model.pt"
    path.write_bytes(b"stand-in")
    return path, info


def _run(*args):
    return CliRunner().invoke(score_variants, ["--quiet", *map(str, args)])


def test_help():
    result = CliRunner().invoke(score_variants, ["--help"])
    assert result.exit_code == 0 and "--rc" in result.output and "MODEL.pt" in result.output


def test_scores_mitomap(shared_data, tmp_path, fake_checkpoint):
    model_path, _ = fake_checkpoint
    fasta, vcf = copy_mito(shared_data, tmp_path / "in")
    out = tmp_path / "scored.vcf.gz"
    result = _run(model_path, "--reference", fasta, "--vcf", vcf, "--out", out, "--contig-alias", "chrM=NC_012920.1")
    assert result.exit_code == 0, result.output
    assert "records: 953; alleles scored: 953; REF mismatches: 0" in result.output
    with pysam.VariantFile(str(out)) as scored, pysam.VariantFile(str(vcf)) as source:
        assert [(r.chrom, r.pos, r.ref, r.alts) for r in scored] == [(r.chrom, r.pos, r.ref, r.alts) for r in source]


def test_errors_leave_nothing(shared_data, tmp_path, fake_checkpoint):
    model_path, info = fake_checkpoint
    fasta, vcf = copy_mito(shared_data, tmp_path / "in")
    out = tmp_path / "scored.vcf.gz"
    result = _run(model_path, "--reference", fasta, "--vcf", vcf, "--out", out)
    assert result.exit_code == 1 and "contig 'chrM' is not in the reference" in result.output
    result = _run(model_path, "--reference", fasta, "--vcf", vcf, "--out", tmp_path / "scored.bed")
    assert result.exit_code == 1 and "should end with one of" in result.output
    info["task"] = "classification"
    result = _run(model_path, "--reference", fasta, "--vcf", vcf, "--out", out)
    assert result.exit_code == 1 and "needs a variant_effect" in result.output
    assert not any(p.name.startswith(("scored", ".scored")) for p in tmp_path.iterdir())
