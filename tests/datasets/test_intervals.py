"""genomix.datasets.intervals on real genomes: bases vs pyfaidx, counted skips, strict, splits, labels, negatives."""

from __future__ import annotations

import pyfaidx
import pytest
from interval_files import write_cds_regions, write_three_genomes

from genomix.alphabet import DNA
from genomix.datasets.intervals import build_interval_dataset
from genomix.datasets.store import open_dataset
from genomix.errors import ConfigError, InputFormatError
from genomix.io.bed import read_bed


@pytest.fixture(scope="module")
def chloroplast(shared_data, tmp_path_factory):
    return write_cds_regions(shared_data, tmp_path_factory.mktemp("chloroplast"))


@pytest.fixture(scope="module")
def genomes(shared_data, tmp_path_factory):
    return write_three_genomes(shared_data, tmp_path_factory.mktemp("genomes"))


def records(path) -> list[dict]:
    """Every record of a dataset: split, id, label name, sequence and meta columns."""
    dataset = open_dataset(path)
    rows = []
    for split in ("train", "valid", "test"):
        try:
            view = dataset.split(split)
        except Exception:  # an empty split is not written
            continue
        columns = {name: view.meta(name) for name in view.meta_columns}
        for k, record_id in enumerate(view.ids):
            rows.append({"split": split, "id": str(record_id), "label": dataset.classes[int(view.labels[k])],
                         "sequence": DNA.decode(view[k]),
                         **{name: (values[k].decode() if isinstance(values[k], bytes) else values[k])
                            for name, values in columns.items()}})
    return rows


@pytest.mark.parametrize("window", [None, 400])
def test_bases_equal_pyfaidx_with_reverse_complement_on_minus(chloroplast, tmp_path, window):
    reference, bed, _ = chloroplast
    summary = build_interval_dataset(reference, bed, tmp_path / "cds.h5", window=window, seed=0)
    independent = pyfaidx.Fasta(str(reference))
    rows = records(tmp_path / "cds.h5")
    assert len(rows) == summary["kept"] and {r["label"] for r in rows} == {"cds", "intergenic"}
    assert sum(r["strand"] == "-" for r in rows) > 10
    for row in rows:
        expected = independent[row["contig"]][int(row["window_start"]):int(row["window_end"])]
        if row["strand"] == "-":
            expected = expected.reverse.complement
        assert row["sequence"] == str(expected).upper(), row["id"]
        if window:
            assert len(row["sequence"]) == window
        else:
            assert (row["window_start"], row["window_end"]) == (row["start"], row["end"])
    regions = list(read_bed(bed))
    assert summary["regions_read"] == len(regions)
    assert summary["kept"] + sum(summary["skipped"].values()) == len(regions)


EDGE_BED = ("browser hide all\r\n"
            "track name=edges\r\n"
            "# chrom start end name score strand\r\n"
            "NC_000932.1\t100\t400\tcds\t0\t+\r\n"
            "NC_000932.1\t500\t500\tcds\t0\t+\r\n"           # zero length
            "NC_000932.1\t154400\t160000\tcds\t0\t-\r\n"     # past the end (154,478)
            "chr1\t100\t200\tcds\t0\t+\r\n"                  # unknown contig
            "NC_000932.1\t600\t900\t.\t0\t+\r\n"             # no label
            "NC_000932.1\t100\t400\tcds\t0\t+\r\n"           # listed twice
            "cp\t1000\t1300\tintergenic\t0\t-\r\n")          # an alias


def test_edge_cases_are_counted_and_strict_fails_on_each(chloroplast, tmp_path):
    reference, _, _ = chloroplast
    bed = tmp_path / "edges.bed"
    bed.write_bytes(EDGE_BED.encode())
    summary = build_interval_dataset(reference, bed, tmp_path / "e.h5", contig_aliases={"cp": "NC_000932.1"},
                                     fractions=(1, 0, 0))
    assert summary["regions_read"] == 7 and summary["kept"] == 2
    assert summary["skipped"] == {"duplicate_region": 1, "no_label": 1, "past_contig_end": 1, "unknown_contig": 1,
                                  "zero_length": 1}
    assert summary["first_skipped"]["zero_length"] == "line 5: NC_000932.1:500-500(+)"
    for line, fragment in ((5, "length 0"), (6, "ends past the end"), (7, "is not in the reference"),
                           (8, "has no label"), (9, "occurs twice")):
        lines = EDGE_BED.split("\r\n")
        only = tmp_path / f"strict{line}.bed"
        only.write_text(lines[3] + "\n" + lines[line - 1] + "\n")
        with pytest.raises(InputFormatError) as caught:
            build_interval_dataset(reference, only, tmp_path / "never.h5", strict=True, fractions=(1, 0, 0))
        message = str(caught.value)
        assert fragment in message and "line 2" in message and message.endswith("(--strict)") and "\n" not in message
    assert not (tmp_path / "never.h5").exists()


def test_nothing_left_is_one_error_and_no_file(chloroplast, tmp_path):
    reference, _, _ = chloroplast
    bed = tmp_path / "bed3.bed"
    bed.write_text("NC_000932.1\t0\t100\nNC_000932.1\t200\t300\n")
    with pytest.raises(InputFormatError, match="no region left.*2 no_label.*BED name column"):
        build_interval_dataset(reference, bed, tmp_path / "x.h5")
    empty = tmp_path / "empty.bed"
    empty.write_text("# nothing\n")
    with pytest.raises(InputFormatError, match="no BED region found"):
        build_interval_dataset(reference, empty, tmp_path / "x.h5")
    assert not (tmp_path / "x.h5").exists()


def test_labels_from_a_table_keyed_by_name_or_region(chloroplast, tmp_path):
    reference, _, _ = chloroplast
    bed = tmp_path / "mixed.bed"
    bed.write_text("NC_000932.1\t100\t400\tgeneA\nNC_000932.1\t500\t800\nNC_000932.1\t900\t1000\tgeneB\n")
    table = tmp_path / "labels.tsv"
    table.write_text("name\tlabel\tnote\ngeneA\tup\tx\nNC_000932.1:500-800\tdown\ty\n")
    summary = build_interval_dataset(reference, bed, tmp_path / "t.h5", labels=table, fractions=(1, 0, 0))
    assert summary["skipped"] == {"no_label": 1}
    assert {r["id"]: r["label"] for r in records(tmp_path / "t.h5")} == {
        "NC_000932.1:100-400": "up", "NC_000932.1:500-800": "down"}


def test_random_split_keeps_overlaps_together_and_follows_the_seed(chloroplast, tmp_path):
    reference, bed, _ = chloroplast
    build_interval_dataset(reference, bed, tmp_path / "a.h5", window=1000, seed=3)
    build_interval_dataset(reference, bed, tmp_path / "b.h5", window=1000, seed=3)
    build_interval_dataset(reference, bed, tmp_path / "c.h5", window=1000, seed=4)
    a, b, c = (records(tmp_path / f"{name}.h5") for name in "abc")
    assert a == b
    assert [(r["id"], r["split"]) for r in a] != [(r["id"], r["split"]) for r in c]
    for x in a:
        for y in a:
            if x["contig"] == y["contig"] and x["window_start"] < y["window_end"] and y["window_start"] < x["window_end"]:
                assert x["split"] == y["split"], (x["id"], y["id"])


def test_chromosome_split_with_aliases_and_negatives(genomes, tmp_path):
    bed = tmp_path / "three.bed"
    rows = [("NC_000932.1", s, s + 300, "a", "+") for s in range(0, 150000, 7000)]
    rows += [("chrM", s, s + 300, "b", "-") for s in range(0, 16000, 2000)]
    rows += [("lambda", s, s + 300, "a" if s % 2 else "b", ".") for s in range(0, 48000, 3001)]
    bed.write_text("".join(f"{c}\t{s}\t{e}\t{n}\t0\t{strand}\n" for c, s, e, n, strand in rows))
    summary = build_interval_dataset(genomes, bed, tmp_path / "chrom.h5", contig_aliases={"chrM": "NC_012920.1"},
                                     valid_chroms=["chrM"], test_chroms=["lambda"], negatives=1, seed=1,
                                     gc_tolerance=0.05)
    assert summary["split_by"] == "chromosome" and summary["negatives"]["found"] > 0.8 * len(rows)
    split_of_contig = {"NC_000932.1": "train", "NC_012920.1": "valid", "lambda": "test"}
    got = records(tmp_path / "chrom.h5")
    for row in got:
        assert row["split"] == split_of_contig[row["contig"]], row["id"]
    negatives = [r for r in got if r["source"] == "negative"]
    assert {r["label"] for r in negatives} == {"negative"} and negatives
    spans = [(r["contig"], int(r["window_start"]), int(r["window_end"])) for r in got]
    for contig, start, end in [(r["contig"], int(r["window_start"]), int(r["window_end"])) for r in negatives]:
        assert sum(c == contig and s < end and e > start for c, s, e in spans) == 1  # only itself
    with pytest.raises(ConfigError, match="both name"):
        build_interval_dataset(genomes, bed, tmp_path / "x.h5", valid_chroms=["lambda"], test_chroms=["lambda"])
    with pytest.raises(ConfigError, match="chr9"):
        build_interval_dataset(genomes, bed, tmp_path / "x.h5", test_chroms=["chr9"])


def test_output_that_is_an_input_is_refused(chloroplast):
    reference, bed, _ = chloroplast
    with pytest.raises(ConfigError, match="would destroy it"):
        build_interval_dataset(reference, bed, bed)


def test_bgzf_reference_and_gzip_bed_build_the_same_records(chloroplast, tmp_path):
    import gzip

    import pysam

    reference, bed, _ = chloroplast
    bgzf = tmp_path / "reference.fa.bgz"
    pysam.tabix_compress(str(reference), str(bgzf))
    gz = tmp_path / "regions.bed.gz"
    gz.write_bytes(gzip.compress(bed.read_bytes()))
    build_interval_dataset(reference, bed, tmp_path / "plain.h5", window=250, seed=5)
    build_interval_dataset(bgzf, gz, tmp_path / "packed.h5", window=250, seed=5)
    assert records(tmp_path / "plain.h5") == records(tmp_path / "packed.h5")
