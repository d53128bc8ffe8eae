"""``build-dataset intervals`` and ``annotate --regions`` through CliRunner: the real-data round trip and error paths.

The end-to-end test is the issue's acceptance: a BED of CDS and intergenic regions made from the
Arabidopsis chloroplast GenBank record -> build intervals -> train (tiny, seeded) -> annotate the BED
-> the output is BED that ``bedtools sort | bedtools merge`` accepts (when the binary is installed)
and that our own reader reads back with the input's coordinates, in order.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner
from interval_files import TINY, write_cds_regions

from genomix.cli import cli
from genomix.datasets.store import open_dataset
from genomix.io.bed import read_bed


def run(*args, input: bytes | None = None):
    return CliRunner().invoke(cli, [*map(str, args)], input=input)


def one_line_error(result, *fragments: str, code: int = 1) -> None:
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[-1].startswith("Error: ") and (code == 2 or len(lines) == 1), result.output
    for fragment in fragments:
        assert fragment in lines[-1], lines[-1]


@pytest.fixture(scope="module")
def chloroplast(shared_data, tmp_path_factory):
    return write_cds_regions(shared_data, tmp_path_factory.mktemp("cli_chloroplast"))


def test_help():
    result = run("build-dataset", "intervals", "--help")
    assert result.exit_code == 0
    for option in ("--reference", "--bed", "--window", "--labels", "--contig-alias", "--strict", "--valid-chroms",
                   "--test-chroms", "--split", "--negatives", "--gc-tolerance", "--seed"):
        assert option in result.output
    result = run("annotate", "--help")
    assert result.exit_code == 0 and "--regions" in result.output and "--reference" in result.output


@pytest.mark.slow
def test_real_genome_build_train_annotate_round_trip(chloroplast, tmp_path):
    reference, bed, contig = chloroplast
    dataset = tmp_path / "cds.h5"
    result = run("build-dataset", "intervals", "--reference", reference, "--bed", bed, "--out", dataset, "--seed", 0,
                 "--json", "-q")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["skipped"] == {} and set(summary["classes"]) == {"cds", "intergenic"}
    with open_dataset(dataset) as data:
        assert data.classes == ["cds", "intergenic"] and data.attrs["split_by"] == "random"
    result = run("train", dataset, "--out", tmp_path / "run", "-q", *TINY)
    assert result.exit_code == 0, result.output
    out_bed, out_tsv = tmp_path / "scored.bed", tmp_path / "scored.tsv"
    result = run("annotate", tmp_path / "run" / "best.pt", "--reference", reference, "--regions", bed,
                 "--bed", out_bed, "--out", out_tsv, "--precision", "fp32", "-q")
    assert result.exit_code == 0, result.output
    given = list(read_bed(bed))
    scored = list(read_bed(out_bed, extra_columns=True))
    assert [(r.chrom, r.start, r.end, r.name, r.strand) for r in scored] == [
        (r.chrom, r.start, r.end, r.name, r.strand) for r in given]
    assert [(r.chrom, r.start) for r in scored] == sorted((r.chrom, r.start) for r in scored)  # sorted, as given
    probabilities = np.array([[float(v) for v in r.extra[1:]] for r in scored])
    np.testing.assert_allclose(probabilities.sum(1), 1, atol=1e-5)
    assert [r.extra[0] for r in scored] == [["cds", "intergenic"][k] for k in probabilities.argmax(1)]
    assert [int(r.score) for r in scored] == [round(p.max() * 1000) for p in probabilities]
    rows = [line.split("\t") for line in out_tsv.read_text().splitlines()[1:]]
    assert [row[0] for row in rows] == [r.id for r in given]
    np.testing.assert_array_equal(np.array([[float(v) for v in row[3:]] for row in rows]), probabilities)
    bedtools = shutil.which("bedtools")
    if bedtools is None:
        pytest.skip("the bedtools binary is not installed (apt-get install bedtools): bedtools sort/merge not run; "
                    "the BED properties above were checked with genomix's own reader")
    ordered = subprocess.run([bedtools, "sort", "-i", str(out_bed)], capture_output=True, text=True, check=True)
    assert len(ordered.stdout.splitlines()) == len(given)
    merged = subprocess.run([bedtools, "merge", "-i", "stdin", "-c", "7", "-o", "distinct"], input=ordered.stdout,
                            capture_output=True, text=True, check=True)
    spans = [line.split("\t") for line in merged.stdout.splitlines()]
    assert spans and all(row[0] == contig for row in spans)
    assert sum(int(e) - int(s) for _, s, e, _ in spans) <= max(r.end for r in given)


def test_build_errors_are_one_line(chloroplast, tmp_path):
    reference, bed, _ = chloroplast
    bad = tmp_path / "bad.bed"
    bad.write_text("NC_000932.1\t10\t5\tcds\n")
    one_line_error(run("build-dataset", "intervals", "--reference", reference, "--bed", bad, "--out",
                       tmp_path / "x.h5", "-q"), f"{bad}: line 1: end 5 is before start 10")
    edge = tmp_path / "edge.bed"
    edge.write_text("NC_000932.1\t0\t100\tcds\nchrZ\t0\t100\tcds\n")
    one_line_error(run("build-dataset", "intervals", "--reference", reference, "--bed", edge, "--out",
                       tmp_path / "x.h5", "--strict", "-q"), "line 2", "contig 'chrZ' is not in the reference",
                   "(--strict)")
    one_line_error(run("build-dataset", "intervals", "--reference", reference, "--bed", bed, "--out",
                       tmp_path / "x.h5", "--split", "0.8,0.1,0.1", "--test-chroms", "NC_000932.1", "-q"),
                   "not both")
    assert not (tmp_path / "x.h5").exists()


def test_summary_counts_skips(chloroplast, tmp_path):
    reference, _, _ = chloroplast
    edge = tmp_path / "edge.bed"
    edge.write_bytes(b"track name=x\r\nNC_000932.1\t0\t100\tcds\t0\t+\r\nNC_000932.1\t200\t300\tintergenic\r\n"
                     b"NC_000932.1\t7\t7\tcds\r\nchrZ\t0\t100\tcds\r\n")
    result = run("build-dataset", "intervals", "--reference", reference, "--bed", edge, "--out", tmp_path / "e.h5",
                 "--split", "1,0,0", "-q")
    assert result.exit_code == 0, result.output
    assert "regions read: 4" in result.output and "skipped: 2" in result.output
    assert "zero_length: 1 (first: line 4: NC_000932.1:7-7)" in result.output and "unknown_contig: 1" in result.output


def test_annotate_region_usage_errors(chloroplast, tmp_path):
    reference, bed, _ = chloroplast
    model = tmp_path / "missing.pt"
    model.write_bytes(b"")
    one_line_error(run("annotate", model, "--regions", bed, "--out", tmp_path / "o.tsv"), "go together", code=2)
    one_line_error(run("annotate", model, reference, "--regions", bed, "--reference", reference, "--out",
                       tmp_path / "o.tsv"), "not both", code=2)
    one_line_error(run("annotate", model, "--regions", bed, "--reference", reference, "--stride", 5, "--out",
                       tmp_path / "o.tsv"), "--stride", code=2)
    one_line_error(run("annotate", model, "--out", tmp_path / "o.tsv"), "INPUT FASTA", code=2)
    one_line_error(run("annotate", model, "--regions", bed, "--reference", reference, "--on-invalid", "skip", "--out",
                       tmp_path / "o.tsv"), "--on-invalid go with FASTA input", code=2)
    one_line_error(run("annotate", model, "--regions", bed, "--reference", reference, "--out", tmp_path / "o.csv"),
                   "should end with one of")
