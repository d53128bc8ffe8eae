"""``variant_effect`` end to end through the CLI: build, train a tiny ref/alt model for a few steps,
evaluate it, and score a VCF with the resulting checkpoint (no stubs)."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict

import pysam
import pytest
from click.testing import CliRunner
from variant_files import MITO_ALIAS, copy_mito, copy_mpra

from genomix.cli import cli as main
from genomix.checkpoint import load_model

TINY = ["epochs=1", "max_tokens=2048", "num_threads=1", "precision=fp32", "model.track_size=4",
        "model.hidden_size=16"]


def _invoke(*args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def _mpra_subset(vcf_gz, out, *, elements: int = 5, per_element: int = 40):
    """A plain VCF with the first ``per_element`` records of the first ``elements`` elements."""
    kept: dict[str, int] = defaultdict(int)
    lines = []
    with gzip.open(vcf_gz, "rt") as stream:
        for line in stream:
            if line.startswith("#"):
                lines.append(line)
                continue
            element = next(f[8:] for f in line.split("\t")[7].split(";") if f.startswith("ELEMENT="))
            if element in kept or len(kept) < elements:
                if kept[element] < per_element:
                    kept[element] += 1
                    lines.append(line)
    out.write_text("".join(lines))
    return out


@pytest.fixture
def mito_run(shared_data, tmp_path):
    fasta, vcf = copy_mito(shared_data, tmp_path / "in")
    dataset = tmp_path / "mito.h5"
    alias = [f"--contig-alias={k}={v}" for k, v in MITO_ALIAS.items()]
    _invoke("build-dataset", "variant-effect", "--reference", fasta, "--vcf", vcf, "--window", 64,
            "--label", "INFO/STATUS", "--label-map", "Cfrm*=1,*=0", *alias, "--out", dataset, "--quiet")
    _invoke("train", dataset, "--out", tmp_path / "run", "--quiet", *TINY)
    return fasta, vcf, dataset, tmp_path / "run", alias


def test_train_classification_checkpoint_rebuilds_ref_alt_model(mito_run):
    _, _, _, run, _ = mito_run
    model, info = load_model(run / "best.pt")
    assert type(model).__name__ == "RefAltModel"
    assert info["task"] == "variant_effect" and info["label_kind"] == "classification" and info["window"] == 64
    assert info["model_kwargs"]["architecture"] == "ref_alt"
    assert info["model_kwargs"]["max_seq_len"] >= 64  # the longest ref or alt window (insertions are longer)
    saved = json.loads((run / "config.json").read_text())["config"]
    assert saved["decoder_lr_scale"] == 1.0  # sized for the ref/alt head (10 for ChordMixer)
    assert (info["model_kwargs"]["embedding_type"], info["model_kwargs"]["difference"]) == ("kmer", "sum")


def test_evaluate_classification(mito_run):
    _, _, dataset, run, _ = mito_run
    _invoke("evaluate", run / "best.pt", dataset, "--split", "test", "--quiet")
    report = json.loads((run / "evaluation_test.json").read_text())
    assert report["task"] == "variant_effect" and 0.0 <= report["metrics"]["roc_auc"] <= 1.0
    for name in ("test_roc_pr.png", "test_confusion.png", "test_metric_by_length.png"):  # issue 18 item 17
        assert (run / name).stat().st_size > 1000, name
    assert report["by_length"]


def test_score_variants_with_trained_checkpoint(mito_run, tmp_path):
    fasta, vcf, _, run, alias = mito_run
    out = tmp_path / "scored.vcf.gz"
    _invoke("score-variants", run / "best.pt", "--reference", fasta, "--vcf", vcf, "--out", out, *alias, "--quiet")
    with pysam.VariantFile(str(vcf)) as source, pysam.VariantFile(str(out)) as scored:
        inputs = [(r.chrom, r.pos, r.ref, r.alts) for r in source]
        records = list(scored)
    assert [(r.chrom, r.pos, r.ref, r.alts) for r in records] == inputs
    assert all(0.0 <= r.info["GMX_SCORE"][0] <= 1.0 for r in records)


def test_train_regression_and_evaluate(shared_data, tmp_path):
    fasta, vcf_gz = copy_mpra(shared_data, tmp_path / "in")
    vcf = _mpra_subset(vcf_gz, tmp_path / "in" / "subset.vcf")
    dataset = tmp_path / "mpra.h5"
    _invoke("build-dataset", "variant-effect", "--reference", fasta, "--vcf", vcf, "--window", 48,
            "--label", "INFO/COEF", "--element-field", "ELEMENT", "--group-by", "INFO/ELEMENT",
            "--split", "0.6,0.2,0.2", "--out", dataset, "--quiet")
    _invoke("train", dataset, "--out", tmp_path / "run", "--quiet", *TINY)
    _, info = load_model(tmp_path / "run" / "best.pt")
    assert info["label_kind"] == "regression" and len(info["target_scale"]) == 2
    _invoke("evaluate", tmp_path / "run" / "best.pt", dataset, "--split", "test", "--quiet")
    metrics = json.loads((tmp_path / "run" / "evaluation_test.json").read_text())["metrics"]
    assert {"pearson", "spearman", "mse"} <= set(metrics)


def test_train_crop_is_refused_for_variant_effect(mito_run, tmp_path):
    _, _, dataset, _, _ = mito_run
    result = CliRunner().invoke(main, ["train", str(dataset), "--out", str(tmp_path / "crop"), "--quiet",
                                       "train_crop=32", *TINY])
    assert result.exit_code != 0 and "train_crop" in result.output
