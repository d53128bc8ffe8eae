"""``genomix annotate`` through CliRunner: outputs, stdin/stdout, batch invariance, windows on a real genome, errors."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
from annotate_model import tiny_checkpoint, write_split_fasta
from click.testing import CliRunner

from genomix.cli import cli
from genomix.inference.annotate import window_spans
from genomix.checkpoint import load_model


@pytest.fixture(scope="module")
def tiny(shared_data, tmp_path_factory) -> tuple[Path, Path]:
    return tiny_checkpoint(shared_data, tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def fasta(tiny, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli_fasta") / "orchid_test.fa"
    write_split_fasta(tiny[1], "test", path)
    return path


def run(*args: str, input: bytes | None = None):
    return CliRunner().invoke(cli, ["annotate", *map(str, args)], input=input)


def rows_of(text: str) -> list[list[str]]:
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith(("#", "track"))]


def one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_help():
    result = run("--help")
    assert result.exit_code == 0
    for option in ("--window", "--stride", "--bed", "--rc", "--min-length", "--max-length", "--device",
                   "--precision", "--max-tokens", "--on-invalid", "--quiet"):
        assert option in result.output


def test_file_to_file(tiny, fasta, tmp_path):
    out = tmp_path / "pred.tsv"
    result = run(tiny[0], fasta, "--out", out, "-q")
    assert result.exit_code == 0, result.output
    rows = rows_of(out.read_text())
    assert rows[0][:3] == ["id", "length", "class"]
    classes = load_model(tiny[0])[1]["classes"]
    assert len(rows) - 1 == fasta.read_text().count(">")
    probabilities = np.array([[float(v) for v in row[3:]] for row in rows[1:]])
    np.testing.assert_allclose(probabilities.sum(1), 1, atol=1e-5)
    assert {row[2] for row in rows[1:]} <= set(classes)


def test_stdin_gzip_to_stdout_equals_file(tiny, fasta, tmp_path):
    out = tmp_path / "pred.tsv"
    assert run(tiny[0], fasta, "--out", out, "-q").exit_code == 0
    result = run(tiny[0], "-", "--out", "-", "-q", input=gzip.compress(fasta.read_bytes()))
    assert result.exit_code == 0, result.output
    assert result.output == out.read_text()


def test_batch_invariance_at_the_cli(tiny, fasta, tmp_path):
    results = []
    for max_tokens in ("1", "1000000"):
        bed = tmp_path / f"{max_tokens}.bed"
        result = run(tiny[0], fasta, "--out", "-", "--bed", bed, "--window", "400", "--stride", "100",
                     "--max-tokens", max_tokens, "-q")
        assert result.exit_code == 0, result.output
        results.append((rows_of(result.output)[1:], rows_of(bed.read_text())))
    (tsv_a, bed_a), (tsv_b, bed_b) = results
    assert [r[:2] for r in tsv_a] == [r[:2] for r in tsv_b]
    np.testing.assert_allclose(np.array([r[3:] for r in tsv_a], float), np.array([r[3:] for r in tsv_b], float),
                               atol=1e-5)
    assert [r[:3] for r in bed_a] == [r[:3] for r in bed_b]
    np.testing.assert_allclose(np.array([r[6:] for r in bed_a], float), np.array([r[6:] for r in bed_b], float),
                               atol=1e-5)


def check_bed_covers(bed_text: str, lengths: dict[str, int], *, window: int, stride: int) -> None:
    rows = rows_of(bed_text)
    for chrom, length in lengths.items():
        spans = [(int(r[1]), int(r[2])) for r in rows if r[0] == chrom]
        assert spans == window_spans(length, window=window, stride=stride)
    for row in rows:
        start, end, score = int(row[1]), int(row[2]), int(row[4])
        assert 0 <= start < end and 0 <= score <= 1000 and row[5] == "."
        probabilities = np.array(row[6:], dtype=float)
        assert abs(probabilities.sum() - 1) < 1e-5
        # score is 1000 x the (unrounded) probability, rounded; the file prints probabilities to 6 digits
        assert abs(score - 1000 * probabilities.max()) <= 0.5 + 1e-3


def test_real_genome_windows_cover_it(tiny, shared_data, tmp_path):
    """Lambda phage (48,502 bp, gzip): windows 10,000 / 5,000 bp, the last partial window kept."""
    bed = tmp_path / "lambda.bed"
    result = run(tiny[0], shared_data / "genomes" / "lambda_virus.fa.gz", "--bed", bed,
                 "--window", "10000", "--stride", "5000")
    assert result.exit_code == 0, result.output
    assert "annotated 1 of 1 records (9 windows, 48,502 bp)" in result.output
    check_bed_covers(bed.read_text(), {"gi|9626243|ref|NC_001416.1|": 48502}, window=10000, stride=5000)


@pytest.mark.slow
def test_ecoli_windows_cover_the_chromosome(tiny, shared_data, tmp_path):
    bed = tmp_path / "ecoli.bed"
    result = run(tiny[0], shared_data / "genomes" / "NC_008253.fna.gz", "--bed", bed, "--window", "10000",
                 "--stride", "5000", "-q")
    assert result.exit_code == 0, result.output
    first = rows_of(bed.read_text())[0][0]
    check_bed_covers(bed.read_text(), {first: 4938920}, window=10000, stride=5000)


@pytest.mark.parametrize("content, fragments", [
    (b"", ["no FASTA records"]),
    (b">contig_7 lonely\n", ["record contig_7 has no sequence"]),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 50, ["not a text file", "expected a FASTA file"]),
    (b">r1\nACGT\n>r2\nACGTJACG\n", ["record r2 at base 5", "'J' is not a DNA letter"]),
])
def test_bad_input_one_line_no_output(tiny, tmp_path, content, fragments):
    source = tmp_path / "in.fa"
    source.write_bytes(content)
    out, bed = tmp_path / "out.tsv", tmp_path / "out.bed"
    one_line_error(run(tiny[0], source, "--out", out, "--bed", bed), *fragments)
    assert sorted(os.listdir(tmp_path)) == ["in.fa"]


def test_on_invalid_skip_counts(tiny, tmp_path):
    source = tmp_path / "in.fa"
    source.write_text(">r1\nACGTACGTAC\n>r2\nACGTJACG\n>r3\nAC\n")
    out = tmp_path / "out.tsv"
    result = run(tiny[0], source, "--out", out, "--on-invalid", "skip", "--min-length", "5")
    assert result.exit_code == 0, result.output
    assert [row[0] for row in rows_of(out.read_text())[1:]] == ["r1"]
    assert "skipped 1 shorter than 5 bp, skipped 1 invalid" in result.output
    assert "r2" in result.output  # the skipped record is named


def test_not_a_checkpoint(fasta, tmp_path):
    fake = tmp_path / "model.pt"
    fake.write_bytes(b"this is not a model\n" * 10)
    one_line_error(run(fake, fasta, "--out", tmp_path / "out.tsv"), str(fake), "not a PyTorch checkpoint")
    import torch

    torch.save({"weights": torch.zeros(2)}, fake)
    one_line_error(run(fake, fasta, "--out", tmp_path / "out.tsv"), "not a genomix checkpoint")
    assert sorted(os.listdir(tmp_path)) == ["model.pt"]


def test_bad_options(tiny, fasta, tmp_path):
    one_line_error(run(tiny[0], fasta, "--out", tmp_path / "out.csv"), ".tsv, .txt, .bed")
    one_line_error(run(tiny[0], fasta, "--out", tmp_path / "o.tsv", "--window", "10", "--stride", "20"), "stride")
    one_line_error(run(tiny[0], tmp_path / "missing.fa", "--out", tmp_path / "o.tsv"), "missing.fa")
    assert run(tiny[0], fasta).exit_code == 2  # no output given: usage error
    assert os.listdir(tmp_path) == []
