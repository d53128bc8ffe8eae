"""FASTA reader: pyfaidx for plain files, streaming for gzip, the same records either way."""

from __future__ import annotations

import gzip
import os

import pytest
from Bio import SeqIO

from genomix.errors import InputFormatError
from genomix.io.fasta import read_fasta

MESSY = ">one first record\nACGTacgtNN\nRYKM\n>two\nacgtn\n>three label=x acc=Y\nGATTACA\n"


@pytest.fixture()
def messy(tmp_path):
    plain = tmp_path / "messy.fa"
    plain.write_text(MESSY)
    gz = tmp_path / "messy.fa.gz"
    gz.write_bytes(gzip.compress(MESSY.encode()))
    return plain, gz


def test_plain_and_gzip_give_the_same_records(messy):
    plain, gz = messy
    from_plain = list(read_fasta(plain))
    assert from_plain == list(read_fasta(gz))
    assert [(r.id, r.sequence) for r in from_plain] == [
        ("one", "ACGTacgtNNRYKM"), ("two", "acgtn"), ("three", "GATTACA")]
    assert from_plain[2].description == "three label=x acc=Y"


def test_matches_biopython(fixtures):
    path = fixtures / "fasta" / "NC_005816.fna"
    (record,) = read_fasta(path)
    expected = SeqIO.read(path, "fasta")
    assert record.sequence == str(expected.seq) and record.id == expected.id


def test_index_goes_to_temp_dir_when_folder_is_read_only(shared_data):
    path = shared_data / "genomes" / "genes.fasta"
    records = list(read_fasta(path))
    if not os.access(path.parent, os.W_OK):
        assert not (path.parent / "genes.fasta.fai").exists()
    assert len(records) == 20
    assert [r.sequence for r in records] == [str(r.seq) for r in SeqIO.parse(path, "fasta")]


def test_uneven_lines_are_streamed(tmp_path):
    path = tmp_path / "uneven.fa"
    path.write_text(">a\nACGTACGT\nAC\nACGTACGT\n>b\nTT\n")
    assert [(r.id, r.sequence) for r in read_fasta(path)] == [("a", "ACGTACGTACACGTACGT"), ("b", "TT")]


def test_empty_file_has_no_records(tmp_path):
    path = tmp_path / "empty.fa"
    path.write_bytes(b"")
    assert list(read_fasta(path)) == []


@pytest.mark.parametrize("suffix, compress", [(".fa", False), (".fa.gz", True)])
def test_text_before_first_header_fails(tmp_path, suffix, compress):
    path = tmp_path / f"notfasta{suffix}"
    data = b"id\tlabel\nx\ty\n"
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(InputFormatError, match="not a FASTA file"):
        list(read_fasta(path))


@pytest.mark.parametrize("name", ["garbage.fa", "garbage.fa.gz"])
def test_binary_garbage_fails(tmp_path, name):
    path = tmp_path / name
    data = b">x\n" + bytes(range(128, 256))
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    with pytest.raises(InputFormatError, match="not a text file"):
        list(read_fasta(path))


def test_truncated_gzip_fails(messy, tmp_path):
    data = gzip.compress(MESSY.encode() * 200)
    path = tmp_path / "cut.fa.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFormatError, match="truncated gzip") as error:
        list(read_fasta(path))
    assert str(path) in str(error.value)


@pytest.mark.parametrize("name", ["dup.fa", "dup.fa.gz"])
def test_duplicate_ids_fail(tmp_path, name):
    path = tmp_path / name
    data = b">a\nACGT\n>a\nTTTT\n"
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    with pytest.raises((InputFormatError, ValueError)):
        list(read_fasta(path))


@pytest.mark.slow
def test_reads_a_megabase_gzip_file(shared_data):
    lengths = [len(r.sequence) for r in read_fasta(shared_data / "taxonomy" / "Plants.fasta.gz")]
    assert len(lengths) == 174 and sum(lengths) == 48_360_073 and max(lengths) == 1_999_595
