"""The pretraining builder (FASTA + GenBank, gz/bgz, windows, split by record) and the derived datasets."""

from __future__ import annotations

import gzip
import shutil

import numpy as np
import pytest

from genomix.alphabet import DNA
from genomix.datasets.pretrain import assign_records, build_pretraining_dataset, cut_windows
from genomix.datasets.store import open_dataset
from genomix.datasets.subset import stratified_fraction, subsample_split, write_split_fasta
from genomix.errors import GenomixError, InputFormatError
from genomix.io.fasta import read_fasta
from genomix.io.genbank import read_genbank


def _records(tmp_path, n=20, seed=0):
    rng = np.random.default_rng(seed)
    records = {f"r{i}": "".join(rng.choice(list("ACGTN"), size=int(rng.integers(300, 3000)))) for i in range(n)}
    path = tmp_path / "many.fa"
    path.write_text("".join(f">{name} some text\n{seq}\n" for name, seq in records.items()))
    return path, records


@pytest.mark.parametrize("window, min_len", [(0, 1), (500, 1), (500, 200), (4096, 1)])
def test_windows_cover_each_record_in_order(tmp_path, window, min_len):
    path, records = _records(tmp_path)
    out = tmp_path / "pre.h5"
    build_pretraining_dataset([path], out, window=window, min_len=min_len, fractions=(0.6, 0.2, 0.2), seed=1)
    dataset = open_dataset(out)
    assert dataset.task == "masked_lm" and dataset.classes is None
    rebuilt: dict[str, list] = {}
    for name in dataset.split_names:
        split = dataset.split(name)
        assert np.all(split.labels == 0)
        if window:
            assert split.lengths.max() <= window and split.lengths.min() >= min_len
        for k, (record, start) in enumerate(zip(split.meta("record"), split.meta("start"))):
            rebuilt.setdefault(record, []).append((int(start), split[k]))
    for record, sequence in records.items():
        pieces = sorted(rebuilt.get(record, []), key=lambda piece: piece[0])
        joined = np.concatenate([tokens for _, tokens in pieces]) if pieces else np.zeros(0, np.uint8)
        expected = DNA.encode(sequence)
        kept = sum(stop - start for start, stop in cut_windows(len(sequence), window=window, min_len=min_len))
        assert np.array_equal(joined, expected[:kept])  # only a short last window is dropped


def test_split_is_by_record_with_fractions_of_bases(tmp_path):
    path, records = _records(tmp_path, n=200)
    out = tmp_path / "pre.h5"
    summary = build_pretraining_dataset([path], out, window=256, fractions=(0.8, 0.1, 0.1), seed=0)
    dataset = open_dataset(out)
    owners = {name: set(dataset.split(name).meta("record")) for name in dataset.split_names}
    assert not (owners["train"] & owners["valid"]) and not (owners["train"] & owners["test"])
    assert not (owners["valid"] & owners["test"])
    total = sum(len(s) for s in records.values())
    for name, fraction in zip(("train", "valid", "test"), (0.8, 0.1, 0.1)):
        assert abs(summary["splits"][name]["bases"] / total - fraction) < 0.02
    again = tmp_path / "again.h5"
    build_pretraining_dataset([path], again, window=256, fractions=(0.8, 0.1, 0.1), seed=0)
    assert open_dataset(again).split("valid").ids == dataset.split("valid").ids  # seeded


def test_assign_records_puts_a_huge_record_in_train():
    splits = assign_records([5_000_000] + [16_000] * 300, (0.8, 0.1, 0.1), seed=3)
    assert splits[0] == 0


def test_each_file_is_split_on_its_own(tmp_path):
    """A file of many short records is not drawn on to fill the held-out splits of a file of long ones."""
    rng = np.random.default_rng(0)
    long = tmp_path / "long.fa"
    long.write_text(">chromosome\n" + "".join(rng.choice(list("ACGT"), size=60_000)) + "\n"
                    + "".join(f">g{i}\n{''.join(rng.choice(list('ACGT'), size=4_000))}\n" for i in range(10)))
    short = tmp_path / "short.fa"
    short.write_text("".join(f">s{i}\n{''.join(rng.choice(list('ACGT'), size=500))}\n" for i in range(400)))
    out = tmp_path / "pre.h5"
    build_pretraining_dataset([long, short], out, window=4096, min_len=500, fractions=(0.8, 0.1, 0.1), seed=0)
    dataset = open_dataset(out)
    for name, fraction in zip(("train", "valid", "test"), (0.8, 0.1, 0.1)):
        split = dataset.split(name)
        from_short = np.asarray(split.meta("source_file")) == "short.fa"
        assert abs(int(split.lengths[from_short].sum()) / 200_000 - fraction) < 0.01
        assert set(split.lengths[from_short].tolist()) == {500}  # the short records whole, one window each
    assert "chromosome" in set(dataset.split("train").meta("record"))


def test_files_of_one_record_are_split_together(tmp_path):
    rng = np.random.default_rng(1)
    paths = []
    for i in range(30):
        paths.append(tmp_path / f"genome{i}.fa")
        paths[-1].write_text(f">genome{i}\n{''.join(rng.choice(list('ACGT'), size=int(rng.integers(2_000, 3_000))))}\n")
    summary = build_pretraining_dataset(paths, tmp_path / "pre.h5", fractions=(0.6, 0.2, 0.2), seed=0)
    for name, fraction in zip(("train", "valid", "test"), (0.6, 0.2, 0.2)):
        assert abs(summary["splits"][name]["records"] - 30 * fraction) <= 2  # per file, all 30 would be train


def test_assign_records_by_group_is_each_group_assigned_alone():
    sizes = [16_000] * 40 + [500] * 200
    groups = ["a"] * 40 + ["b"] * 200
    together = assign_records(sizes, (0.8, 0.1, 0.1), seed=5, groups=groups)
    assert np.array_equal(together[:40], assign_records(sizes[:40], (0.8, 0.1, 0.1), seed=5, groups=groups[:40]))
    for members in (slice(0, 40), slice(40, None)):
        bases = np.bincount(together[members], weights=np.asarray(sizes[members]), minlength=3)
        assert np.allclose(bases / bases.sum(), (0.8, 0.1, 0.1), atol=0.03)
    with pytest.raises(ValueError, match="groups"):
        assign_records(sizes, (0.8, 0.1, 0.1), seed=5, groups=groups[:3])


def test_fasta_gzip_and_genbank_bgz_mixed(tmp_path, fixtures):
    gz = tmp_path / "plasmid.fna.gz"
    with open(fixtures / "fasta" / "NC_005816.fna", "rb") as source, gzip.open(gz, "wb") as target:
        shutil.copyfileobj(source, target)
    genbank = fixtures / "genbank" / "cor6_6.gb.bgz"
    out = tmp_path / "mixed.h5"
    summary = build_pretraining_dataset([gz, genbank, fixtures / "genbank" / "DS830848.gb"], out,
                                        fractions=(1.0, 0.0, 0.0))
    dataset = open_dataset(out)
    ids = set(dataset.split("train").ids)
    expected = {record.id for record in read_genbank(genbank)} | {r.id for r in read_fasta(gz)}
    assert ids == expected
    assert summary["records_read"] == len(expected) + 1 and sum(summary["skipped"].values()) == 1  # the CONTIG


def test_repeated_record_id_and_empty_input_are_refused(tmp_path):
    path, _ = _records(tmp_path, n=3)
    with pytest.raises(InputFormatError, match="record id 'r0' occurs"):
        build_pretraining_dataset([path, path], tmp_path / "x.h5")
    short = tmp_path / "short.fa"
    short.write_text(">a\nACGT\n")
    with pytest.raises(GenomixError, match="no DNA records left"):
        build_pretraining_dataset([short], tmp_path / "y.h5", min_len=10)
    assert not (tmp_path / "x.h5").exists() and not (tmp_path / "y.h5").exists()


def test_stratified_fraction_keeps_each_class():
    labels = np.array([0] * 50 + [1] * 10 + [2] * 2)
    chosen = stratified_fraction(labels, 0.2, seed=0)
    assert np.bincount(labels[chosen]).tolist() == [10, 2, 1]
    assert np.array_equal(chosen, stratified_fraction(labels, 0.2, seed=0))
    assert not np.array_equal(chosen, stratified_fraction(labels, 0.2, seed=1))


def test_subsample_and_fasta_round_trip(tmp_path, shared_data):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
    from realdata import orchid_dataset

    source = orchid_dataset(shared_data, tmp_path / "orchid.h5")
    few = tmp_path / "few.h5"
    counts = subsample_split(source, few, fraction=0.2, seed=0)
    original, smaller = open_dataset(source), open_dataset(few)
    assert counts["train"] < len(original.split("train")) and smaller.classes == original.classes
    for name in ("valid", "test"):
        assert smaller.split(name).ids == original.split(name).ids
    train_ids = original.split("train").ids
    assert set(smaller.split("train").ids) <= set(train_ids)
    fasta = tmp_path / "train.fa.gz"
    assert write_split_fasta(few, fasta) == counts["train"]
    split = smaller.split("train")
    for k, record in enumerate(read_fasta(fasta)):
        assert record.id == split.ids[k] and np.array_equal(DNA.encode(record.sequence), split[k])
