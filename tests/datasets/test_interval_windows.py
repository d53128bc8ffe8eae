"""genomix.datasets.interval_windows: the window convention, strand, skip reasons, against pyfaidx."""

from __future__ import annotations

import pyfaidx
import pytest
from interval_files import write_cds_regions

from genomix.alphabet import DNA
from genomix.datasets.interval_windows import IntervalLocator, check_window
from genomix.errors import ConfigError
from genomix.io.bed import BedRegion, read_bed
from genomix.io.reference import Reference


@pytest.fixture(scope="module")
def chloroplast(shared_data, tmp_path_factory):
    return write_cds_regions(shared_data, tmp_path_factory.mktemp("chloroplast"))


@pytest.mark.parametrize("window", [None, 1, 2, 301, 1000])
def test_every_region_matches_pyfaidx_base_by_base(chloroplast, window):
    reference, bed, _ = chloroplast
    independent = pyfaidx.Fasta(str(reference), as_raw=False)
    minus = 0
    with Reference(reference) as genome:
        locator = IntervalLocator(genome, bed_path=str(bed), window=window)
        for region in read_bed(bed):
            interval = locator.locate(region)
            if isinstance(interval, str):
                assert interval == "window_past_contig_end" and window is not None
                continue
            expected = independent[interval.contig][interval.start:interval.end]
            if region.strand == "-":
                expected = expected.reverse.complement
                minus += 1
            assert DNA.decode(locator.tokens(interval)) == str(expected).upper(), region
    assert minus > 10


def test_minus_strand_is_the_reverse_complement_of_plus(chloroplast):
    reference, bed, _ = chloroplast
    with Reference(reference) as genome:
        locator = IntervalLocator(genome, bed_path=str(bed), window=500)
        for region in list(read_bed(bed))[:30]:
            plus = BedRegion(region.chrom, region.start, region.end, strand="+")
            minus = BedRegion(region.chrom, region.start, region.end, strand="-")
            a, b = locator.locate(plus), locator.locate(minus)
            if isinstance(a, str):
                continue
            assert (a.start, a.end) == (b.start, b.end)
            complement = str.maketrans("ACGTN", "TGCAN")
            assert DNA.decode(locator.tokens(b)) == DNA.decode(locator.tokens(a)).translate(complement)[::-1]


@pytest.mark.parametrize("window", [1, 2, 7, 10])
def test_a_one_base_region_sits_at_index_w_half(chloroplast, window):
    reference, bed, contig = chloroplast
    with Reference(reference) as genome:
        locator = IntervalLocator(genome, bed_path=str(bed), window=window)
        for position in (100, 2000, 5001):
            interval = locator.locate(BedRegion(contig, position, position + 1))
            assert interval.length == window and interval.start + window // 2 == position


def test_skip_reasons(chloroplast):
    reference, bed, contig = chloroplast
    with Reference(reference) as genome:
        length = genome.lengths[contig]
        locator = IntervalLocator(genome, bed_path=str(bed), window=100, contig_aliases={"cp": contig})
        assert locator.locate(BedRegion(contig, 5, 5)) == "zero_length"
        assert locator.locate(BedRegion("chr1", 5, 10)) == "unknown_contig"
        assert locator.locate(BedRegion(contig, length - 5, length + 1)) == "past_contig_end"
        assert locator.locate(BedRegion(contig, 10, 20)) == "window_past_contig_end"
        assert locator.locate(BedRegion("cp", 1000, 1010)).contig == contig
        assert "is not in the reference" in locator.skip_detail(BedRegion("chr1", 5, 10, line=4), "unknown_contig")


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_bad_window(bad):
    with pytest.raises(ConfigError, match="--window"):
        check_window(bad)
