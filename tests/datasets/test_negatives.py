"""genomix.datasets.negatives: disjoint-interval bookkeeping (against brute force) and GC-matched sampling."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from interval_files import write_three_genomes

from genomix.alphabet import DNA
from genomix.datasets.interval_windows import IntervalLocator
from genomix.datasets.negatives import DisjointIntervals, gc_fraction, sample_gc_matched
from genomix.errors import ConfigError
from genomix.io.bed import BedRegion
from genomix.io.reference import Reference

_SPAN = st.tuples(st.sampled_from("ab"), st.integers(0, 60), st.integers(0, 15)).map(lambda t: (t[0], t[1], t[1] + t[2]))


@settings(max_examples=200, deadline=None)
@given(st.lists(_SPAN, max_size=12), st.lists(_SPAN, max_size=12), st.lists(_SPAN, min_size=1, max_size=20))
def test_disjoint_intervals_answer_like_brute_force(initial, added, probes):
    intervals = DisjointIntervals(initial)
    for span in added:
        intervals.add(*span)
    every = initial + added
    for contig, start, end in probes:
        expected = any(c == contig and s < end and e > start for c, s, e in every)
        assert intervals.overlaps(contig, start, end) == expected


def test_gc_fraction_counts_only_unambiguous_bases():
    assert gc_fraction(DNA.encode("GGCCAATT")) == 0.5
    assert gc_fraction(DNA.encode("GCNN")) == 1.0
    assert np.isnan(gc_fraction(DNA.encode("NNN")))


@pytest.fixture(scope="module")
def genomes(shared_data, tmp_path_factory):
    return write_three_genomes(shared_data, tmp_path_factory.mktemp("genomes"))


def _positives(genome: Reference) -> list:
    locator = IntervalLocator(genome, bed_path="positives")
    spans = [("lambda", 1000, 1300, "+"), ("lambda", 20000, 20500, "-"), ("NC_012920.1", 3000, 3200, "+"),
             ("NC_000932.1", 50000, 51000, ".")]
    return [locator.locate(BedRegion(c, s, e, "pos", None, strand)) for c, s, e, strand in spans], locator


def test_negatives_match_length_gc_strand_and_avoid_every_region(genomes):
    with Reference(genomes) as genome:
        positives, locator = _positives(genome)
        gc = [gc_fraction(locator.tokens(p)) for p in positives]
        exclude = [(p.contig, p.start, p.end) for p in positives] + [("lambda", 5000, 15000)]
        negatives, sources, stats = sample_gc_matched(genome, positives, gc, per_positive=3, seed=7, exclude=exclude,
                                                      tolerance=0.02)
        assert stats.asked == 12 and stats.found == len(negatives) == len(sources) >= 10
        for negative, source in zip(negatives, sources):
            positive = positives[source]
            assert negative.length == positive.length and negative.region.strand == positive.region.strand
            tokens = locator.tokens(negative)
            assert abs(gc_fraction(tokens) - gc[source]) <= 0.02
            assert not (tokens == DNA.vocab["N"]).any()
            assert not any(c == negative.contig and s < negative.end and e > negative.start for c, s, e in exclude)
        spans = sorted((n.contig, n.start, n.end) for n in negatives)
        assert all(a[0] != b[0] or a[2] <= b[1] for a, b in zip(spans, spans[1:])), "negatives overlap each other"
        again = sample_gc_matched(genome, positives, gc, per_positive=3, seed=7, exclude=exclude, tolerance=0.02)
        other = sample_gc_matched(genome, positives, gc, per_positive=3, seed=8, exclude=exclude, tolerance=0.02)
    assert [(n.contig, n.start) for n in again[0]] == [(n.contig, n.start) for n in negatives]
    assert [(n.contig, n.start) for n in other[0]] != [(n.contig, n.start) for n in negatives]


def test_pools_limit_where_negatives_fall(genomes):
    with Reference(genomes) as genome:
        positives, locator = _positives(genome)
        gc = [gc_fraction(locator.tokens(p)) for p in positives]
        negatives, sources, _ = sample_gc_matched(genome, positives, gc, per_positive=2, seed=0, exclude=[],
                                            tolerance=0.05, pools=[["lambda"], ["NC_012920.1"]],
                                            pool_of=[0, 0, 1, 1])
    assert negatives and all(n.contig == ("lambda" if s < 2 else "NC_012920.1") for n, s in zip(negatives, sources))


def test_impossible_requests_are_counted_not_forced(genomes):
    with Reference(genomes) as genome:
        positives, locator = _positives(genome)
        whole = [(contig, 0, length) for contig, length in genome.lengths.items()]
        negatives, _, stats = sample_gc_matched(genome, positives, [0.4] * 4, per_positive=1, seed=0, exclude=whole,
                                                tries=20)
        assert negatives == [] and stats.not_found == 4
        with pytest.raises(ConfigError):
            sample_gc_matched(genome, positives, [0.4] * 4, per_positive=0, seed=0, exclude=[])
