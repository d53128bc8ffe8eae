"""genomix.io.vcf: reading real VCFs (plain, plain gzip, BGZF), error paths, and the scored-VCF writer."""

from __future__ import annotations

import os

import pysam
import pytest
from variant_files import copy_mito, copy_mpra, edit_vcf

from genomix.errors import ConfigError, InputFormatError
from genomix.io.vcf import InfoField, VcfReader, VcfWriter, check_output_path, is_bgzf, is_symbolic


@pytest.fixture
def mito(shared_data, tmp_path):
    return copy_mito(shared_data, tmp_path)


def test_reads_mitomap(mito):
    _, vcf = mito
    with VcfReader(vcf) as reader:
        records = list(reader)
        assert reader.contigs == ["chrM"]
    assert len(records) == 953
    first = records[0]
    assert (first.number, first.chrom, first.pos, first.id, first.ref, first.alts) == (
        1, "chrM", 114, "MITOMAP205", "C", ("T",))
    assert first.info_value("STATUS") == "Reported" and first.info_value("NOPE") is None
    assert first.where == "record 1 (chrM:114)"


def test_reads_plain_gzip_mpra(shared_data, tmp_path):
    _, vcf = copy_mpra(shared_data, tmp_path)
    assert not is_bgzf(vcf)
    with VcfReader(vcf) as reader:
        count = sum(1 for _ in reader)
        temporary = reader._temporary
        assert temporary and os.path.exists(temporary)
    assert count == 44622
    assert not os.path.exists(temporary)  # the decompressed copy is removed on close


def test_bgzip_region_needs_index(mito, tmp_path):
    _, vcf = mito
    compressed = tmp_path / "mito.vcf.gz"
    pysam.tabix_compress(str(vcf), str(compressed))
    assert is_bgzf(compressed)
    with VcfReader(compressed) as reader:  # reading everything needs no index
        assert sum(1 for _ in reader) == 953
    with pytest.raises(InputFormatError, match=r"needs an index.*tabix -p vcf"):
        VcfReader(compressed, region="chrM:100-200")
    pysam.tabix_index(str(compressed), preset="vcf", force=True, keep_original=True)
    with VcfReader(compressed, region="chrM:100-200") as reader:
        assert [r.pos for r in reader] == [114, 146, 150, 185, 195]


def test_plain_gzip_region_is_an_error(shared_data, tmp_path):
    _, vcf = copy_mpra(shared_data, tmp_path)
    with pytest.raises(InputFormatError, match="plain gzip, not BGZF"):
        VcfReader(vcf, region="1")


def test_malformed_line_names_file_and_line(mito, tmp_path):
    _, vcf = mito
    bad = edit_vcf(vcf, tmp_path / "bad.vcf", lambda n, line: line.replace("\t146\t", "\tabc\t") if n == 2 else line)
    with VcfReader(bad) as reader, pytest.raises(InputFormatError) as error:
        list(reader)
    message = str(error.value)
    assert str(bad) in message and "line 12 (record 2)" in message and "abc" in message


def test_not_a_vcf(tmp_path):
    path = tmp_path / "x.vcf"
    path.write_text("hello\nworld\n")
    with pytest.raises(InputFormatError, match="not a VCF/BCF file"):
        VcfReader(path)
    with pytest.raises(FileNotFoundError):
        VcfReader(tmp_path / "missing.vcf")


def test_is_symbolic():
    assert all(is_symbolic(a) for a in ("<DEL>", "*", "<*>", "G]17:198982]", ".", ""))
    assert not any(is_symbolic(a) for a in ("A", "ACGT", "n"))


@pytest.mark.parametrize("name", ["out.vcf", "out.vcf.gz"])
def test_writer_keeps_header_and_adds_fields(mito, tmp_path, name):
    _, vcf = mito
    out = tmp_path / name
    with VcfReader(vcf) as reader:
        with VcfWriter(out, reader.header, info=[InfoField("GMX_X", "A", "Float", "a test score")],
                       filters={"GMX_BAD": "a test filter"}, command="genomix test") as writer:
            for record in reader:
                bad = record.number == 3
                writer.write(record.record, info=None if bad else {"GMX_X": (record.number / 10,)},
                             filters=["GMX_BAD"] if bad else [])
    assert os.path.exists(f"{out}.tbi") == name.endswith(".gz")
    with pysam.VariantFile(str(out)) as scored, pysam.VariantFile(str(vcf)) as source:
        assert "GMX_X" in scored.header.info and "GMX_BAD" in scored.header.filters
        assert "STATUS" in scored.header.info and "##genomix_command=genomix test" in str(scored.header)
        pairs = list(zip(scored, source, strict=True))
    for k, (new, old) in enumerate(pairs, start=1):
        assert (new.chrom, new.pos, new.ref, new.alts, new.id) == (old.chrom, old.pos, old.ref, old.alts, old.id)
        assert new.info["STATUS"] == old.info["STATUS"]
        if k == 3:
            assert list(new.filter) == ["GMX_BAD"] and "GMX_X" not in new.info
        else:
            assert new.info["GMX_X"][0] == pytest.approx(k / 10, rel=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_writer_leaves_nothing_on_error(mito, tmp_path):
    _, vcf = mito
    out = tmp_path / "out.vcf.gz"
    with VcfReader(vcf) as reader, pytest.raises(RuntimeError):
        with VcfWriter(out, reader.header) as writer:
            writer.write(next(iter(reader)).record)
            raise RuntimeError("stop")
    assert list(tmp_path.glob("*out*")) == [] and list(tmp_path.glob(".*")) == []


def test_writer_checks_suffix_and_existing_fields(mito, tmp_path):
    with pytest.raises(ConfigError, match=r"\.vcf, \.vcf\.gz, \.vcf\.bgz"):
        check_output_path(tmp_path / "out.tsv")
    _, vcf = mito
    with VcfReader(vcf) as reader, pytest.raises(ConfigError, match="already has an INFO field 'STATUS'"):
        VcfWriter(tmp_path / "x.vcf", reader.header, info=[InfoField("STATUS", "1", "String", "clash")])


def test_writer_rejects_undeclared_info(mito, tmp_path):
    _, vcf = mito
    edited = edit_vcf(vcf, tmp_path / "undeclared.vcf",
                      lambda n, line: line + ";FOO=1" if n == 2 else line)
    with VcfReader(edited) as reader, pytest.raises(InputFormatError, match=r"chrM:146: INFO/FOO is used but not declared"):
        with VcfWriter(tmp_path / "out.vcf", reader.header) as writer:
            for record in reader:
                writer.write(record.record)
    assert not (tmp_path / "out.vcf").exists()
