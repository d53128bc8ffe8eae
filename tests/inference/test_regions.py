"""Annotate regions (library): equal to annotating the same bases as FASTA, batch invariance, rc, skips, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyfaidx
import pytest
from interval_files import tiny_interval_model

from genomix.datasets.interval_windows import IntervalLocator
from genomix.errors import ConfigError, InputFormatError
from genomix.inference.annotate import annotate_fasta
from genomix.inference.regions import annotate_regions, region_sequences
from genomix.io.bed import read_bed
from genomix.io.reference import Reference


@pytest.fixture(scope="module")
def tiny(shared_data, tmp_path_factory) -> tuple[Path, Path, Path]:
    return tiny_interval_model(shared_data, tmp_path_factory.getbasetemp())


def write_region_fasta(reference: Path, bed: Path, path: Path, *, window: int | None) -> int:
    """The bases of every placeable region, read with pyfaidx (reverse complement on '-'), as FASTA."""
    independent = pyfaidx.Fasta(str(reference))
    written = 0
    with Reference(reference) as genome, open(path, "w") as handle:
        locator = IntervalLocator(genome, bed_path=str(bed), window=window)
        for region in read_bed(bed):
            interval = locator.locate(region)
            if isinstance(interval, str):
                continue
            bases = independent[interval.contig][interval.start:interval.end]
            bases = bases.reverse.complement if region.strand == "-" else bases
            handle.write(f">{region.id}\n{str(bases)}\n")
            written += 1
    return written


def tsv_probabilities(path: Path) -> np.ndarray:
    rows = [line.split("\t") for line in path.read_text().splitlines()[1:]]
    return np.array([[float(v) for v in row[3:]] for row in rows])


@pytest.mark.parametrize("window", [None, 300])
def test_regions_equal_annotating_the_same_bases_as_fasta(tiny, tmp_path, window):
    model, reference, bed = tiny
    n = write_region_fasta(reference, bed, tmp_path / "regions.fa", window=window)
    annotate_fasta(model, tmp_path / "regions.fa", out=tmp_path / "fasta.tsv", precision="fp32", max_length=0)
    summary = annotate_regions(model, reference, bed, out=tmp_path / "regions.tsv", bed=tmp_path / "regions.bed",
                               window=window, precision="fp32", max_length=0)
    assert summary.regions_written == n and summary.regions_read == len(list(read_bed(bed)))
    assert (tmp_path / "regions.tsv").read_text() == (tmp_path / "fasta.tsv").read_text()
    lines = list(read_bed(tmp_path / "regions.bed", extra_columns=True))
    with Reference(reference) as genome:
        locator = IntervalLocator(genome, bed_path=str(bed), window=window)
        placed = [r for r in read_bed(bed) if not isinstance(locator.locate(r), str)]
    assert [(r.chrom, r.start, r.end, r.name, r.strand) for r in lines] == [
        (r.chrom, r.start, r.end, r.name, r.strand) for r in placed]
    from_bed = np.array([[float(v) for v in r.extra[1:]] for r in lines])
    np.testing.assert_array_equal(from_bed, tsv_probabilities(tmp_path / "regions.tsv"))


def test_region_sequences_are_what_is_scored(tiny, tmp_path):
    model, reference, bed = tiny
    write_region_fasta(reference, bed, tmp_path / "pyfaidx.fa", window=200)
    expected = [line for line in (tmp_path / "pyfaidx.fa").read_text().splitlines()]
    got = [text for region, bases in region_sequences(reference, bed, window=200) for text in (f">{region.id}", bases)]
    assert got == [line.upper() if not line.startswith(">") else line for line in expected]


def test_deterministic_and_batch_invariant(tiny, tmp_path):
    model, reference, bed = tiny
    for name, max_tokens in (("a", 65536), ("b", 65536), ("c", 1)):
        annotate_regions(model, reference, bed, bed=tmp_path / f"{name}.bed", precision="fp32", max_tokens=max_tokens)
    assert (tmp_path / "a.bed").read_bytes() == (tmp_path / "b.bed").read_bytes()
    a, c = ([[float(v) for v in r.extra[1:]] for r in read_bed(tmp_path / f"{x}.bed", extra_columns=True)] for x in "ac")
    np.testing.assert_allclose(np.array(a), np.array(c), atol=1e-5)


def test_rc_makes_the_two_strands_agree(tiny, tmp_path):
    model, reference, _ = tiny
    bed = tmp_path / "strands.bed"
    bed.write_text("".join(f"NC_000932.1\t{s}\t{s + 500}\tx\t0\t{strand}\n"
                           for s in range(1000, 20000, 4000) for strand in "+-"))
    annotate_regions(model, reference, bed, out=tmp_path / "rc.tsv", rc=True, precision="fp32")
    probabilities = tsv_probabilities(tmp_path / "rc.tsv")
    np.testing.assert_allclose(probabilities[0::2], probabilities[1::2], atol=1e-5)


def test_skips_are_counted_and_strict_fails(tiny, tmp_path):
    model, reference, _ = tiny
    bed = tmp_path / "edges.bed"
    bed.write_bytes(b"# edges\r\nNC_000932.1\t100\t400\tok\r\nNC_000932.1\t5\t5\tzero\r\n"
                    b"chr1\t1\t9\tnowhere\r\nNC_000932.1\t154000\t154999\tpast\r\n")
    summary = annotate_regions(model, reference, bed, out=tmp_path / "e.tsv")
    assert summary.regions_read == 4 and summary.regions_written == 1
    assert dict(summary.skipped.counts) == {"zero_length": 1, "unknown_contig": 1, "past_contig_end": 1}
    with pytest.raises(InputFormatError, match=r"line 3: NC_000932.1:5-5 has length 0 \(start == end\) \(--strict\)"):
        annotate_regions(model, reference, bed, out=tmp_path / "strict.tsv", strict=True)
    assert not (tmp_path / "strict.tsv").exists()
    empty = tmp_path / "empty.bed"
    empty.write_text("track name=none\n")
    with pytest.raises(InputFormatError, match="no BED region found"):
        annotate_regions(model, reference, empty, out=tmp_path / "none.tsv")


def test_a_bad_line_late_in_the_bed_leaves_no_output(tiny, tmp_path):
    model, reference, bed = tiny
    broken = tmp_path / "broken.bed"
    broken.write_text(bed.read_text() + "NC_000932.1\t500\t400\tcds\t0\t+\n")
    with pytest.raises(InputFormatError, match=r"line \d+: end 400 is before start 500"):
        annotate_regions(model, reference, broken, out=tmp_path / "o.tsv", bed=tmp_path / "o.bed")
    assert not (tmp_path / "o.tsv").exists() and not (tmp_path / "o.bed").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["broken.bed"]  # no temporary file left either


def test_bad_options_fail_before_any_work(tiny, tmp_path):
    model, reference, bed = tiny
    with pytest.raises(ConfigError, match="should end with one of"):
        annotate_regions(model, reference, bed, out=tmp_path / "x.csv")
    with pytest.raises(ConfigError, match="give an output"):
        annotate_regions(model, reference, bed)
    with pytest.raises(ConfigError, match="would destroy it"):
        annotate_regions(model, reference, bed, bed=bed)


@pytest.mark.parametrize("window", [None, 300])
def test_region_bed_scores_equal_the_python_api_on_the_same_sequences(tiny, tmp_path, window):
    """Issue 19's acceptance: the BED that ``annotate --regions`` writes holds what ``genomix.load(...).predict``
    gives for the same bases (fp32), region for region."""
    import genomix

    model, reference, bed = tiny
    annotate_regions(model, reference, bed, bed=tmp_path / "regions.bed", window=window, precision="fp32",
                     max_length=0)
    lines = list(read_bed(tmp_path / "regions.bed", extra_columns=True))
    sequences = {region.id: bases for region, bases in region_sequences(reference, bed, window=window)}
    predicted = genomix.load(model, device="cpu", precision="fp32").predict(sequences, max_length=0)
    columns = [c for c in predicted.columns if c.startswith("p_")]
    assert len(lines) == len(predicted) == len(sequences) > 100 and len(columns) >= 2
    written = np.array([[float(v) for v in line.extra[1:]] for line in lines])
    assert list(predicted["class"]) == [line.extra[0] for line in lines]
    assert np.abs(written - predicted[columns].to_numpy()).max() <= 1e-6
