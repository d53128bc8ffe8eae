"""genomix.io.reference: indexed access, read-only folders, gzip fallback."""

from __future__ import annotations

import gzip
import os
import shutil

import pysam
import pytest
from variant_files import copy_mito, read_fasta_sequence

from genomix.errors import InputFormatError
from genomix.io.reference import Reference


def test_fetch_matches_the_file(shared_data, tmp_path):
    fasta, _ = copy_mito(shared_data, tmp_path)
    sequence = read_fasta_sequence(fasta)
    with Reference(fasta) as reference:
        assert reference.lengths == {"NC_012920.1": 16569}
        assert reference.fetch("NC_012920.1", 0, 10) == sequence[:10] == "GATCACAGGT"
        assert reference.fetch("NC_012920.1", 16560, 16569) == sequence[16560:]
        assert "rCRS" in reference.descriptions["NC_012920.1"]
        with pytest.raises(ValueError, match="outside"):
            reference.fetch("NC_012920.1", 16000, 17000)
    assert os.path.exists(f"{fasta}.fai")


def test_read_only_folder_gets_no_index(shared_data, tmp_path):
    fasta, _ = copy_mito(shared_data, tmp_path / "ro")
    (tmp_path / "ro" / fasta.name.replace(".fasta", ".vcf")).unlink(missing_ok=True)
    os.chmod(tmp_path / "ro", 0o555)
    try:
        with Reference(fasta) as reference:
            assert reference.fetch("NC_012920.1", 0, 4) == "GATC"
        assert sorted(p.name for p in (tmp_path / "ro").iterdir()) == sorted(
            ["NC_012920.1_rCRS.fasta", "mitomap_disease_20220525.vcf"])
    finally:
        os.chmod(tmp_path / "ro", 0o755)


@pytest.mark.parametrize("compression", ["gzip", "bgzip"])
def test_compressed_reference(shared_data, tmp_path, compression):
    fasta, _ = copy_mito(shared_data, tmp_path)
    packed = tmp_path / "ref.fa.gz"
    if compression == "gzip":
        with open(fasta, "rb") as source, gzip.open(packed, "wb") as target:
            shutil.copyfileobj(source, target)
    else:
        pysam.tabix_compress(str(fasta), str(packed))
    with Reference(packed) as reference:
        assert reference.fetch("NC_012920.1", 100, 110) == read_fasta_sequence(fasta)[100:110]


def test_not_fasta(tmp_path):
    path = tmp_path / "x.fa"
    path.write_text("hello\n")
    with pytest.raises(InputFormatError, match="not a FASTA file"):
        Reference(path)
