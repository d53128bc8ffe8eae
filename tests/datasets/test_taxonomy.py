"""The taxonomy builder on real files: round trips, counts, filters, determinism and errors."""

from __future__ import annotations

import csv
import gzip
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from Bio import SeqIO

from genomix.alphabet import DNA
from genomix.datasets.builder import Filters
from genomix.datasets.store import open_dataset
from genomix.datasets.taxonomy import build_taxonomy_from_fasta, build_taxonomy_from_genbank
from genomix.errors import AlphabetError, ConfigError, GenomixError, InputFormatError

# ls_orchid.gbk as it is: the ORGANISM lines name four genera (the file holds no Selenipedium).
ORCHID_GENERA = {"Cypripedium": 17, "Mexipedium": 1, "Paphiopedilum": 61, "Phragmipedium": 15}


def _all_records(path):
    with open_dataset(path) as dataset:
        out = {}
        for name in dataset.split_names:
            view = dataset.split(name)
            for k, record_id in enumerate(view.ids):
                out[record_id] = (DNA.decode(view[k]), dataset.classes[view.labels[k]], name)
        return out


def _arrays(path):
    with open_dataset(path) as dataset:
        return {name: (dataset.split(name).offsets, dataset.split(name).labels, dataset.split(name).ids,
                       dataset.split(name).read_many(range(len(dataset.split(name))))[0])
                for name in dataset.split_names}


def test_ls_orchid_round_trip_by_genus(shared_data, tmp_path):
    source = shared_data / "genbank" / "ls_orchid.gbk"
    out = tmp_path / "orchid.h5"
    summary = build_taxonomy_from_genbank([source], out, rank="genus", seed=7)
    assert summary["records_read"] == 94 and summary["kept"] == 94 and summary["skipped"] == {}
    assert {name: sum(c.values()) for name, c in summary["classes"].items()} == ORCHID_GENERA
    stored = _all_records(out)
    expected = {r.id: (str(r.seq).upper(), r.annotations["organism"].split()[0])
                for r in SeqIO.parse(source, "genbank")}
    assert {k: v[:2] for k, v in stored.items()} == expected
    splits = Counter(v[2] for v in stored.values())
    assert splits == summary["splits"] == {"train": 75, "valid": 10, "test": 9}
    with open_dataset(out) as dataset:
        assert dataset.classes == sorted(ORCHID_GENERA)
        assert dataset.provenance["seed"] == 7 and dataset.provenance["inputs"][0]["size"] == source.stat().st_size
        assert dataset.split("train").meta("organism")[0].split()[0] in ORCHID_GENERA


def test_same_seed_same_arrays(shared_data, tmp_path):
    source = shared_data / "genbank" / "ls_orchid.gbk"
    first, again, other = tmp_path / "a.h5", tmp_path / "b.h5", tmp_path / "c.h5"
    for path, seed in ((first, 3), (again, 3), (other, 4)):
        build_taxonomy_from_genbank([source], path, rank="genus", seed=seed)
    a, b, c = _arrays(first), _arrays(again), _arrays(other)
    for name in a:
        for x, y in zip(a[name], b[name]):
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    assert a["train"][2] != c["train"][2]


def test_cyprinidae_round_trip_with_table_and_regex(shared_data, tmp_path):
    fasta = shared_data / "taxonomy" / "FamilyToGenus_Cyprinidae.fasta.gz"
    table = shared_data / "taxonomy" / "FamilyToGenus_Cyprinidae.labels.tsv"
    with open(table) as handle:
        labels = {row["id"]: row["label"] for row in csv.DictReader(handle, delimiter="\t")}
    by_table, by_regex = tmp_path / "t.h5", tmp_path / "r.h5"
    summary = build_taxonomy_from_fasta(fasta, by_table, labels=table, seed=1)
    build_taxonomy_from_fasta(fasta, by_regex, label_regex=r"label=(\S+)", seed=1)
    with gzip.open(fasta, "rt") as handle:
        expected = {r.id: (str(r.seq).upper(), labels[r.id]) for r in SeqIO.parse(handle, "fasta")}
    stored = _all_records(by_table)
    assert {k: v[:2] for k, v in stored.items()} == expected
    assert summary["kept"] == 81 and len(summary["classes"]) == 6
    assert sum(summary["splits"].values()) == 81
    assert {k: v[:2] for k, v in _all_records(by_regex).items()} == expected
    with open_dataset(by_table) as dataset:
        assert dataset.split("train").meta_columns == ["accession", "length", "source_file"]


def test_insects_seven_orders_with_table_counts(shared_data, tmp_path):
    table = shared_data / "taxonomy" / "Insects.labels.tsv"
    with open(table) as handle:
        expected = Counter(row["label"] for row in csv.DictReader(handle, delimiter="\t"))
    summary = build_taxonomy_from_fasta(shared_data / "taxonomy" / "Insects.fasta.gz", tmp_path / "i.h5",
                                        labels=table)
    counts = {name: sum(c.values()) for name, c in summary["classes"].items()}
    assert len(counts) == 7 and counts == dict(expected)


def test_filters(shared_data, tmp_path):
    source = shared_data / "genbank" / "ls_orchid.gbk"
    summary = build_taxonomy_from_genbank(
        [source], tmp_path / "f.h5", rank="genus",
        filters=Filters(classes=["Cypripedium", "Phragmipedium", "Mexipedium"], min_count=2))
    assert set(summary["classes"]) == {"Cypripedium", "Phragmipedium"}
    assert summary["skipped"] == {"class not in --classes": 61, "class with fewer than --min-count 2 records": 1}
    by_length = build_taxonomy_from_genbank([source], tmp_path / "l.h5", rank="genus",
                                            filters=Filters(min_len=600, max_len=760))
    assert by_length["length"]["min"] >= 600 and by_length["length"]["max"] <= 760
    assert set(by_length["skipped"]) == {"shorter than --min-len 600", "longer than --max-len 760"}
    assert sum(by_length["skipped"].values()) + by_length["kept"] == 94


def test_label_from_organism_and_qualifier(fixtures, tmp_path):
    source = fixtures / "genbank" / "cor6_6.gb"
    by_organism = build_taxonomy_from_genbank([source], tmp_path / "o.h5", label_from="organism")
    assert set(by_organism["classes"]) == {"Arabidopsis thaliana", "Brassica napus", "Armoracia rusticana",
                                           "Brassica rapa"}
    by_qualifier = build_taxonomy_from_genbank([source], tmp_path / "q.h5", label_from="qualifier:db_xref")
    assert by_qualifier["kept"] == 6


def test_contig_and_protein_records_are_skipped_and_counted(fixtures, tmp_path):
    genbank = fixtures / "genbank"
    summary = build_taxonomy_from_genbank(
        [genbank / "cor6_6.gb", genbank / "DS830848.gb", genbank / "protein_refseq.gb"], tmp_path / "s.h5",
        label_from="organism")
    assert summary["records_read"] == 8 and summary["kept"] == 6
    assert summary["skipped"] == {"no sequence (CONTIG or master record)": 1, "protein record": 1}


def _fasta(tmp_path, records, labels):
    fasta = tmp_path / "in.fa"
    fasta.write_text("".join(f">{name}\n{seq}\n" for name, seq in records))
    table = tmp_path / "labels.tsv"
    table.write_text("id\tlabel\tsample\n" + "".join(f"{name}\t{label}\t{name[:2]}\n" for name, label in labels))
    return fasta, table


def test_dedup_counts_and_removes_identical_sequences(tmp_path):
    records = [(f"s{i}", "ACGT" * (i % 5 + 1)) for i in range(20)]
    fasta, table = _fasta(tmp_path, records, [(f"s{i}", "ab"[i % 2]) for i in range(20)])
    summary = build_taxonomy_from_fasta(fasta, tmp_path / "d.h5", labels=table,
                                        filters=Filters(dedup=True))
    assert summary["kept"] == 5
    assert sum(summary["skipped"].values()) == 15


def test_identical_sequences_stay_in_one_split_without_dedup(tmp_path):
    records = [(f"s{i}", "ACGT" * (i % 6 + 1)) for i in range(60)]
    fasta, table = _fasta(tmp_path, records, [(f"s{i}", "a") for i in range(60)])
    out = tmp_path / "d.h5"
    build_taxonomy_from_fasta(fasta, out, labels=table, fractions=(0.5, 0.25, 0.25))
    where = {}
    for record_id, (sequence, _, split) in _all_records(out).items():
        assert where.setdefault(sequence, split) == split


def test_group_by_column(tmp_path):
    records = [(f"{'abcdefghij'[i % 10]}{i:03d}", "ACGT" * (i + 1)) for i in range(100)]
    fasta, table = _fasta(tmp_path, records, [(name, "xy"[i % 2]) for i, (name, _) in enumerate(records)])
    out = tmp_path / "g.h5"
    build_taxonomy_from_fasta(fasta, out, labels=table, group_by="sample")
    where = {}
    for record_id, (_, _, split) in _all_records(out).items():
        assert where.setdefault(record_id[:2], split) == split
    with pytest.raises(ConfigError, match="--group-by 'nope' is not a column"):
        build_taxonomy_from_fasta(fasta, tmp_path / "n.h5", labels=table, group_by="nope")


def test_table_missing_ids_is_an_error(tmp_path):
    fasta, table = _fasta(tmp_path, [("a1", "ACGT"), ("b1", "ACGT"), ("c1", "GG")], [("a1", "x")])
    out = tmp_path / "m.h5"
    with pytest.raises(InputFormatError, match="2 of 3 records have no label in .*: b1, c1"):
        build_taxonomy_from_fasta(fasta, out, labels=table)
    assert not out.exists()


def test_bad_character_is_an_error_naming_file_record_and_position(tmp_path):
    fasta, table = _fasta(tmp_path, [("a1", "ACGT"), ("b1", "ACGJT")], [("a1", "x"), ("b1", "y")])
    out = tmp_path / "c.h5"
    with pytest.raises(AlphabetError, match=r"in\.fa: record b1 at base 4: 'J' is not a DNA letter"):
        build_taxonomy_from_fasta(fasta, out, labels=table)
    assert not out.exists()


def test_zero_records_after_filtering_is_an_error(tmp_path):
    fasta, table = _fasta(tmp_path, [("a1", "ACGT"), ("b1", "ACG")], [("a1", "x"), ("b1", "y")])
    out = tmp_path / "z.h5"
    with pytest.raises(GenomixError, match=r"no records left after filtering: 2 read from .*in\.fa, skipped: 2 shorter"):
        build_taxonomy_from_fasta(fasta, out, labels=table, filters=Filters(min_len=10))
    assert not out.exists()


def test_unknown_class_is_an_error(tmp_path):
    fasta, table = _fasta(tmp_path, [("a1", "ACGT")], [("a1", "x")])
    with pytest.raises(ConfigError, match="--classes names 'z', which no record has; classes present: x"):
        build_taxonomy_from_fasta(fasta, tmp_path / "u.h5", labels=table, filters=Filters(classes=["z"]))


def test_label_options_are_checked(tmp_path):
    fasta, table = _fasta(tmp_path, [("a1", "ACGT")], [("a1", "x")])
    with pytest.raises(ConfigError, match="exactly one of --labels and --label-regex"):
        build_taxonomy_from_fasta(fasta, tmp_path / "x.h5")
    with pytest.raises(ConfigError, match="needs a group"):
        build_taxonomy_from_fasta(fasta, tmp_path / "x.h5", label_regex="label")
    with pytest.raises(ConfigError, match="exactly one of --rank and --label-from"):
        build_taxonomy_from_genbank([fasta], tmp_path / "x.h5")
    with pytest.raises(ConfigError, match="--label-from must be"):
        build_taxonomy_from_genbank([fasta], tmp_path / "x.h5", label_from="title")


PEAK_MEMORY_SCRIPT = """
import sys
from genomix.datasets.taxonomy import build_taxonomy_from_fasta
from genomix.resources import peak_memory_mb  # VmHWM: ru_maxrss would report the forking parent's peak
build_taxonomy_from_fasta(sys.argv[1], sys.argv[2], labels=sys.argv[3])
print(int(peak_memory_mb()))
"""


@pytest.mark.slow
def test_plants_builds_under_600_mb(shared_data, tmp_path):
    out = tmp_path / "plants.h5"
    result = subprocess.run(
        [sys.executable, "-c", PEAK_MEMORY_SCRIPT, str(shared_data / "taxonomy" / "Plants.fasta.gz"), str(out),
         str(shared_data / "taxonomy" / "Plants.labels.tsv")],
        capture_output=True, text=True, check=True, timeout=300)
    peak_mb = int(result.stdout.split()[-1])
    assert peak_mb < 600, f"peak memory {peak_mb} MB"
    with open_dataset(out) as dataset:
        lengths = np.concatenate([dataset.split(name).lengths for name in dataset.split_names])
    assert len(lengths) == 174 and lengths.sum() == 48_360_073 and lengths.max() == 1_999_595
