"""genomix.io.bed: the strict BED3-BED6 reader (headers, CRLF, gzip/BGZF, every rejection) and the region writer."""

from __future__ import annotations

import gzip

import numpy as np
import pysam
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genomix.errors import InputFormatError
from genomix.io.bed import BedRegion, RegionBedWriter, read_bed
from genomix.io.predictions import RegionPrediction

TEXT = ("browser position chr1:1-100\n"
        "track name=test\n"
        "# a comment\n"
        "\n"
        "chr1\t0\t10\n"
        "chr1\t5\t20\tpeak1\n"
        "chr2\t7\t9\tpeak2\t3.5\n"
        "chr2\t9\t9\tpoint\t.\t-\n"
        "chrM\t100\t200\t.\t1000\t+\n")


def regions_of(path, **kwargs) -> list[BedRegion]:
    return list(read_bed(path, **kwargs))


def test_bed3_to_bed6_and_headers(tmp_path):
    path = tmp_path / "r.bed"
    path.write_text(TEXT)
    regions = regions_of(path)
    assert [(r.chrom, r.start, r.end, r.name, r.score, r.strand, r.line) for r in regions] == [
        ("chr1", 0, 10, None, None, ".", 5), ("chr1", 5, 20, "peak1", None, ".", 6),
        ("chr2", 7, 9, "peak2", "3.5", ".", 7), ("chr2", 9, 9, "point", None, "-", 8),
        ("chrM", 100, 200, None, "1000", "+", 9)]
    assert [r.id for r in regions] == ["chr1:0-10", "chr1:5-20", "chr2:7-9", "chr2:9-9(-)", "chrM:100-200(+)"]
    assert regions[3].length == 0


def test_crlf_gzip_and_bgzf_read_the_same(tmp_path):
    plain = tmp_path / "r.bed"
    plain.write_text(TEXT)
    crlf = tmp_path / "crlf.bed"
    crlf.write_bytes(TEXT.replace("\n", "\r\n").encode())
    gz = tmp_path / "r.bed.gz"
    gz.write_bytes(gzip.compress(TEXT.encode()))
    bgz = tmp_path / "r.bed.bgz"
    pysam.tabix_compress(str(plain), str(bgz))
    expected = regions_of(plain)
    for path in (crlf, gz, bgz):
        assert regions_of(path) == expected, path


@pytest.mark.parametrize("line, fragment", [
    ("chr1\t5", "2 column(s); expected at least 3"),
    ("chr1 5 10", "separated by spaces"),
    ("chr1\t0\t10\tn\t0\t+\t1\t2", "8 columns; genomix reads BED3 to BED6"),
    ("chr1\t\t10", "column 2 (chromStart) is empty"),
    ("chr1\t0\t10\t", "column 4 (name) is empty"),
    ("chr1\t1.5\t10", "start '1.5' is not a non-negative integer"),
    ("chr1\t-1\t10", "start '-1' is not a non-negative integer"),
    ("chrom\tstart\tend", "a column header line must start with '#'"),
    ("chr1\t10\t5", "end 5 is before start 10"),
    ("chr1\t0\t10\tn\thigh", "score 'high' is not a number"),
    ("chr1\t0\t10\tn\t0\tx", "strand 'x'; expected '+', '-' or '.'"),
    ("chr 1\t0\t10", "holds whitespace"),
])
def test_each_bad_line_is_one_clear_error(tmp_path, line, fragment):
    path = tmp_path / "bad.bed"
    path.write_text(f"# header\nchr1\t0\t1\n{line}\n")
    with pytest.raises(InputFormatError) as caught:
        regions_of(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: line 3: "), message
    assert fragment in message and "\n" not in message


def test_extra_columns_only_when_asked(tmp_path):
    path = tmp_path / "wide.bed"
    path.write_text("chr1\t0\t10\tn\t0\t+\tcds\t0.25\t0.75\n")
    with pytest.raises(InputFormatError, match="9 columns"):
        regions_of(path)
    (region,) = regions_of(path, extra_columns=True)
    assert region.extra == ("cds", "0.25", "0.75") and region.strand == "+"


def test_not_text_and_corrupt_gzip_are_clear(tmp_path):
    binary = tmp_path / "binary.bed"
    binary.write_bytes(b"chr1\t0\t1\n\xff\xfe\x00")
    with pytest.raises(InputFormatError, match="not a text file"):
        regions_of(binary)
    truncated = tmp_path / "cut.bed.gz"
    truncated.write_bytes(gzip.compress(TEXT.encode())[:-12])
    with pytest.raises(InputFormatError, match="gzip"):
        regions_of(truncated)


def test_empty_file_yields_nothing(tmp_path):
    path = tmp_path / "empty.bed"
    path.write_text("track name=x\n# nothing\n")
    assert regions_of(path) == []


_CHROMS = st.sampled_from(["chr1", "chrX", "NC_012920.1", "scaffold_7"])
_REGION = st.builds(
    lambda chrom, start, length, name, score, strand: BedRegion(chrom, start, start + length, name, score, strand),
    _CHROMS, st.integers(0, 10**9), st.integers(0, 10**6), st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9_]{1,8}", fullmatch=True)),
    st.one_of(st.none(), st.integers(0, 1000).map(str)), st.sampled_from(["+", "-", "."]))


@settings(max_examples=50, deadline=None)
@given(st.lists(_REGION, min_size=1, max_size=20))
def test_region_writer_round_trips_through_the_reader(tmp_path_factory, regions):
    path = tmp_path_factory.mktemp("bed") / "out.bed"
    rng = np.random.default_rng(len(regions))
    probabilities = rng.dirichlet([1.0, 1.0, 1.0], size=len(regions)).astype(np.float32)
    records = [RegionPrediction(r.id, r.length, p, chrom=r.chrom, region_start=r.start, region_end=r.end, name=r.name,
                                strand=r.strand) for r, p in zip(regions, probabilities)]
    with RegionBedWriter(path, classes=["a", "b c", "d"]) as writer:
        writer.write_batch(records)
    back = regions_of(path, extra_columns=True)
    assert [(b.chrom, b.start, b.end, b.name, b.strand) for b in back] == [
        (r.chrom, r.start, r.end, r.name, r.strand) for r in regions]
    written = np.array([[float(v) for v in b.extra[1:]] for b in back])
    np.testing.assert_allclose(written, probabilities, rtol=1e-5)
    names = ["a", "b_c", "d"]
    assert [b.extra[0] for b in back] == [names[k] for k in probabilities.argmax(1)]
    assert [int(b.score) for b in back] == [round(float(p.max()) * 1000) for p in probabilities]
    header = path.read_text().splitlines()[:2]
    assert header[0].startswith("track ") and header[1] == "#" + "\t".join(
        ["chrom", "chromStart", "chromEnd", "name", "score", "strand", "class", "p_a", "p_b_c", "p_d"])


def test_agrees_with_pysam_asbed_on_a_real_bed(shared_data, tmp_path):
    """An independent parser (htslib's, through pysam) reads the same fields from the chloroplast BED."""
    from interval_files import write_cds_regions

    _, bed, _ = write_cds_regions(shared_data, tmp_path)
    ours = regions_of(bed)
    body = tmp_path / "body.bed"  # pysam's stream parser takes no header lines
    body.write_text("".join(line for line in bed.read_text().splitlines(keepends=True) if not line.startswith("#")))
    with open(body) as handle:
        theirs = [(p.contig, p.start, p.end, p.name, p.score, p.strand)
                  for p in pysam.tabix_iterator(handle, pysam.asBed())]
    assert len(ours) == len(theirs) > 100
    assert [(r.chrom, r.start, r.end, r.name, float(r.score), r.strand) for r in ours] == theirs  # pysam: float score
