"""``build-dataset variant-effect`` through click (the command object; the lead registers it)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from variant_files import copy_mito, edit_vcf

from genomix.cli.build_variants import variant_effect
from genomix.datasets.store import open_dataset


def _run(*args):
    return CliRunner().invoke(variant_effect, ["--quiet", *map(str, args)])


def _one_line_error(result, *fragments):
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_help():
    result = CliRunner().invoke(variant_effect, ["--help"])
    assert result.exit_code == 0
    for option in ("--reference", "--vcf", "--window", "--label-map", "--group-by", "--contig-alias", "--strict"):
        assert option in result.output


def test_mitomap_build(shared_data, tmp_path):
    fasta, vcf = copy_mito(shared_data, tmp_path)
    out = tmp_path / "mito.h5"
    result = _run("--reference", fasta, "--vcf", vcf, "--out", out, "--window", 128, "--label", "INFO/STATUS",
                  "--label-map", "Cfrm*=1,*=0", "--contig-alias", "chrM=NC_012920.1", "--seed", 2)
    assert result.exit_code == 0, result.output
    assert "records read: 953" in result.output and "skipped: 0" in result.output and f"wrote {out}" in result.output
    with open_dataset(out) as dataset:
        assert dataset.task == "variant_effect" and dataset.attrs["label_kind"] == "classification"
    result = _run("--reference", fasta, "--vcf", vcf, "--out", out, "--window", 64, "--label", "INFO/GBFREQ",
                  "--contig-alias", "chrM=NC_012920.1", "--json")
    summary = json.loads(result.output)
    assert result.exit_code == 0 and summary["label_kind"] == "regression" and summary["kept"] == 953


def test_mismatch_counted_and_strict(shared_data, tmp_path):
    fasta, vcf = copy_mito(shared_data, tmp_path)
    bad = edit_vcf(vcf, tmp_path / "bad.vcf",
                   lambda n, line: line.replace("\t195\tMITOMAP206\tT\t", "\t195\tMITOMAP206\tA\t") if n == 5 else line)
    common = ["--reference", fasta, "--vcf", bad, "--window", 32, "--label", "INFO/STATUS", "--label-map",
              "Cfrm*=1,*=0", "--contig-alias", "chrM=NC_012920.1"]
    result = _run(*common, "--out", tmp_path / "ok.h5")
    assert result.exit_code == 0 and "ref_mismatch: 1 (first: record 5 (chrM:195)" in result.output
    result = _run(*common, "--out", tmp_path / "strict.h5", "--strict")
    _one_line_error(result, "record 5 (chrM:195)", "REF 'A'", "--strict")
    assert not (tmp_path / "strict.h5").exists()


def test_error_paths(shared_data, tmp_path):
    fasta, vcf = copy_mito(shared_data, tmp_path)
    out = tmp_path / "out.h5"
    base = ["--reference", fasta, "--vcf", vcf, "--out", out, "--label", "INFO/STATUS"]
    _one_line_error(_run(*base), "contig 'chrM' is not in the reference", "--contig-alias")
    _one_line_error(_run(*base, "--contig-alias", "chrM"), "VCF_NAME=REFERENCE_NAME")
    _one_line_error(_run(*base, "--contig-alias", "chrM=NC_012920.1", "--label-map", "Cfrm"), "--label-map")
    _one_line_error(_run(*base, "--contig-alias", "chrM=NC_012920.1", "--split", "0.5,0.5"), "--split")
    bad = edit_vcf(vcf, tmp_path / "bad.vcf", lambda n, line: line.replace("\t146\t", "\tx\t") if n == 2 else line)
    _one_line_error(_run("--reference", fasta, "--vcf", bad, "--out", out, "--label", "INFO/STATUS",
                         "--contig-alias", "chrM=NC_012920.1"), "malformed VCF record at line 12 (record 2)")
    result = _run("--reference", tmp_path / "missing.fa", "--vcf", vcf, "--out", out, "--label", "INFO/STATUS")
    assert result.exit_code == 2 and "does not exist" in result.output
    assert not out.exists()


def test_weight_option(shared_data, tmp_path):
    fasta, vcf = copy_mito(shared_data, tmp_path)
    common = ["--reference", fasta, "--vcf", vcf, "--window", 64, "--label", "INFO/STATUS", "--label-map",
              "Cfrm*=1,*=0", "--contig-alias", "chrM=NC_012920.1"]
    out = tmp_path / "weighted.h5"
    result = _run(*common, "--out", out, "--weight", "INFO/GBFREQ")
    assert result.exit_code == 0, result.output
    regression = tmp_path / "gbfreq.h5"  # the same INFO values read as labels
    assert _run(*common[:6], "--label", "INFO/GBFREQ", *common[10:], "--out", regression).exit_code == 0
    with open_dataset(out) as weighted, open_dataset(regression) as values:
        assert weighted.attrs["weight_field"] == "GBFREQ"
        by_id = {i: v for name in values.split_names for i, v in zip(values.split(name).ids, values.split(name).labels)}
        for name in weighted.split_names:
            split = weighted.split(name)
            for variant, weight in zip(split.ids, split.meta("weight")):
                assert weight == pytest.approx(by_id[variant], rel=1e-6)
    result = _run(*common, "--out", tmp_path / "x.h5", "--weight", "INFO/NOPE")
    _one_line_error(result, "--weight INFO/NOPE", "declares no such INFO field")
    assert not (tmp_path / "x.h5").exists()
