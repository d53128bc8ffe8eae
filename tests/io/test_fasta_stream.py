"""Streaming FASTA from paths and binary streams: plain, gzip, BGZF, stdin-like; clear errors."""

from __future__ import annotations

import gzip
import io
import os

import pytest

from genomix.errors import InputFormatError
from genomix.io.fasta import read_fasta
from genomix.io.fasta_stream import FastaStream

TEXT = b">r1 first record\nACGTacgt\nNNRY\n\n>r2\nGATTACA\n"


def _records(source):
    with FastaStream(source) as stream:
        return [(r.id, r.description, r.sequence) for r in stream]


def test_path_gzip_and_stream_read_the_same(tmp_path):
    plain = tmp_path / "a.fa"
    plain.write_bytes(TEXT)
    packed = tmp_path / "a.fa.gz"
    packed.write_bytes(gzip.compress(TEXT))
    expected = [("r1", "r1 first record", "ACGTacgtNNRY"), ("r2", "r2", "GATTACA")]
    assert _records(plain) == _records(packed) == expected
    assert _records(io.BytesIO(gzip.compress(TEXT))) == _records(io.BytesIO(TEXT)) == expected
    assert not (tmp_path / "a.fa.fai").exists()  # nothing written beside the input


def test_same_records_as_read_fasta(fixtures, tmp_path):
    source = fixtures / "fasta" / "NC_005816.fna"
    expected = [(r.id, r.sequence) for r in read_fasta(source)]
    with FastaStream(open(source, "rb")) as stream:
        assert [(r.id, r.sequence) for r in stream] == expected


def test_fraction_read(tmp_path):
    path = tmp_path / "a.fa"
    path.write_bytes(TEXT * 1000)
    with FastaStream(path) as stream:
        list(stream)
        assert stream.fraction_read() == 1.0
    assert FastaStream(io.BytesIO(TEXT)).fraction_read() is None


def test_empty_input_yields_nothing(tmp_path):
    assert _records(io.BytesIO(b"")) == _records(io.BytesIO(b"\n\n")) == []


@pytest.mark.parametrize("data, message", [
    (b"hello\n>r\nACGT\n", "expected '>' at the start, found 'hello'"),
    (b">r\nAC\x00\x01GT\n", "binary data"),
    (b"\x00\x01\x02\x03" * 10, "binary data"),
    (b">r\nAC\xff\xfeGT\n", "not a text file"),
    (gzip.compress(TEXT)[:-10], "truncated gzip"),
])
def test_bad_input_names_the_file(tmp_path, data, message):
    path = tmp_path / "bad.fa"
    path.write_bytes(data)
    with pytest.raises(InputFormatError, match=message) as caught:
        _records(path)
    assert str(path) in str(caught.value)


def test_random_binary_file(tmp_path):
    path = tmp_path / "random.bin"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(InputFormatError):
        _records(path)
