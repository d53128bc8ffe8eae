"""GenBank reader: compressed and plain files, multi-record files, and every messy case."""

from __future__ import annotations

import gzip
import shutil

import pytest
from Bio import SeqIO

from genomix.errors import InputFormatError
from genomix.io.genbank import SKIP_NO_SEQUENCE, SKIP_PROTEIN, read_genbank

# Files of ../shared/data/genbank that Biopython cannot read as complete GenBank: the reader must fail
# on them with one line naming the file and the record.
BAD_FILES = {
    "invalid_product.gb": "record 1",
    "no_origin_no_end.gb": "record 1",
    "no_end_marker.gb": "record 1 (AB070938.1): truncated",
}


def test_reads_a_multi_record_file(fixtures):
    records = list(read_genbank(fixtures / "genbank" / "cor6_6.gb"))
    assert [r.id for r in records] == ["X55053.1", "X62281.1", "M81224.1", "AJ237582.1", "L31939.1", "AF297471.1"]
    assert records[0].organism == "Arabidopsis thaliana"
    assert records[0].lineage[:2] == ("Eukaryota", "Viridiplantae")
    assert [r.number for r in records] == list(range(1, 7))
    assert all(r.skip_reason is None for r in records)
    expected = [str(r.seq) for r in SeqIO.parse(fixtures / "genbank" / "cor6_6.gb", "genbank")]
    assert [r.sequence for r in records] == expected


def test_bgzf_and_gzip_read_the_same_as_plain(fixtures, tmp_path):
    plain = fixtures / "genbank" / "cor6_6.gb"
    gz = tmp_path / "cor6_6.gb.gz"
    with open(plain, "rb") as source, gzip.open(gz, "wb") as target:
        shutil.copyfileobj(source, target)
    expected = [(r.id, r.sequence) for r in read_genbank(plain)]
    assert [(r.id, r.sequence) for r in read_genbank(fixtures / "genbank" / "cor6_6.gb.bgz")] == expected
    assert [(r.id, r.sequence) for r in read_genbank(gz)] == expected


def test_contig_record_has_no_sequence(fixtures):
    (record,) = read_genbank(fixtures / "genbank" / "DS830848.gb")
    assert record.sequence is None
    assert record.skip_reason == SKIP_NO_SEQUENCE


def test_protein_record_is_skipped(fixtures):
    (record,) = read_genbank(fixtures / "genbank" / "protein_refseq.gb")
    assert record.skip_reason == SKIP_PROTEIN


def test_source_qualifiers_are_kept(fixtures):
    record = next(read_genbank(fixtures / "genbank" / "cor6_6.gb"))
    assert record.source["organism"] == ["Arabidopsis thaliana"]


def test_unclassified_lineage_is_empty(fixtures, tmp_path):
    text = (fixtures / "genbank" / "cor6_6.gb").read_text()
    first = text[: text.index("//\n") + 3]
    start = first.index("  ORGANISM")
    end = first.index("REFERENCE")
    path = tmp_path / "unclassified.gb"
    path.write_text(first[:start] + "  ORGANISM  Arabidopsis thaliana\n            Unclassified.\n" + first[end:])
    (record,) = read_genbank(path)
    assert record.lineage == ()
    assert record.organism == "Arabidopsis thaliana"


def test_lower_case_bases_encode_like_upper_case(fixtures):
    from genomix.alphabet import DNA

    record = next(read_genbank(fixtures / "genbank" / "cor6_6.gb"))
    assert (DNA.encode(record.sequence.lower()) == DNA.encode(record.sequence.upper())).all()


def test_empty_version_falls_back_to_accession(shared_data):
    (record,) = read_genbank(shared_data / "genbank" / "biopython" / "empty_version.gbk")
    assert record.id == "AB070938"


def test_missing_accession_falls_back_to_locus_name(shared_data):
    (record,) = read_genbank(shared_data / "genbank" / "biopython" / "addgene-plasmid-11664-sequence-180430.gbk")
    assert record.id == "Exported"


@pytest.mark.parametrize("content, message", [
    (b"", "no GenBank record found"),
    (b"just some text\nthat is not GenBank\n", "no GenBank record found"),
    (bytes(range(256)) * 8, "not a text file"),
])
def test_empty_or_garbage_files_fail(tmp_path, content, message):
    path = tmp_path / "input.gb"
    path.write_bytes(content)
    with pytest.raises(InputFormatError, match=message) as error:
        list(read_genbank(path))
    assert str(path) in str(error.value)
    assert "\n" not in str(error.value)


def test_truncated_gzip_fails(fixtures, tmp_path):
    data = gzip.compress((fixtures / "genbank" / "cor6_6.gb").read_bytes())
    path = tmp_path / "cut.gb.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFormatError, match="truncated gzip") as error:
        list(read_genbank(path))
    assert str(path) in str(error.value)


@pytest.mark.parametrize("name, where", sorted(BAD_FILES.items()))
def test_malformed_files_fail_naming_file_and_record(shared_data, name, where):
    path = shared_data / "genbank" / "biopython" / name
    with pytest.raises(InputFormatError) as error:
        list(read_genbank(path))
    message = str(error.value)
    assert message.startswith(f"{path}: ") and where in message and "\n" not in message


@pytest.mark.parametrize("name, reason", [
    ("bad_origin_wrap.gb", SKIP_NO_SEQUENCE),        # CONTIG-like: no ORIGIN data
    ("bad_origin_wrap_linear.gb", SKIP_NO_SEQUENCE),
    ("bad_origin_wrap_CDS.gb", None),                # bad feature locations only: sequence is fine
    ("bad_origin_wrap_fuzzy.gb", None),
    ("bad_loc_wrap.gb", None),
    ("invalid_locus_line_spacing.gb", None),
    ("invalid_misc_feature.gb", None),
    ("invalid_structured_comment.gb", SKIP_PROTEIN),
    ("negative_location.gb", None),
    ("wrong_sequence_indent.gb", None),
    ("blank_seq.gb", SKIP_PROTEIN),
    ("tls_KDHP01000000.gb", SKIP_NO_SEQUENCE),
    ("tsa_acropora.gb", SKIP_NO_SEQUENCE),
    ("NT_019265.gb", SKIP_NO_SEQUENCE),
])
def test_odd_files_read_with_a_defined_outcome(shared_data, name, reason):
    records = list(read_genbank(shared_data / "genbank" / "biopython" / name))
    assert [r.skip_reason for r in records] == [reason]


def test_wrong_sequence_indent_keeps_the_whole_sequence(shared_data):
    (record,) = read_genbank(shared_data / "genbank" / "biopython" / "wrong_sequence_indent.gb")
    assert len(record.sequence) == 6497


@pytest.mark.slow
def test_gzipped_wgs_contigs(shared_data):
    records = list(read_genbank(shared_data / "genbank" / "leptospira_wgs_contigs.gbk.gz"))
    assert len(records) == 75
    assert records[0].organism.startswith("Leptospira")
