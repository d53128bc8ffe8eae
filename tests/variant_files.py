"""Copies of the real variant data (rCRS + MITOMAP, Kircher 2019 MPRA) in a temporary folder.

The shared data folder is never written to: pyfaidx puts its ``.fai`` beside the FASTA, so tests
always work on copies.
"""

from __future__ import annotations

import shutil
from pathlib import Path

MITO_FASTA = "NC_012920.1_rCRS.fasta"
MITO_VCF = "mitomap_disease_20220525.vcf"
MPRA = "mpra_kircher2019"
MPRA_FASTA = "element_reference_GRCh38_from_Ref_alleles.fasta"
MPRA_VCF = "kircher2019_satmut_GRCh38.vcf.gz"
MITO_ALIAS = {"chrM": "NC_012920.1"}


def copy_mito(shared_data: Path, folder: Path) -> tuple[Path, Path]:
    """``(fasta, vcf)``: copies of the rCRS FASTA and the MITOMAP VCF."""
    source = shared_data / "variants"
    folder.mkdir(parents=True, exist_ok=True)
    return (Path(shutil.copy(source / MITO_FASTA, folder / MITO_FASTA)),
            Path(shutil.copy(source / MITO_VCF, folder / MITO_VCF)))


def copy_mpra(shared_data: Path, folder: Path) -> tuple[Path, Path]:
    """``(fasta, vcf)``: copies of the MPRA element references and the (plain gzip) MPRA VCF."""
    source = shared_data / "variants" / MPRA
    folder.mkdir(parents=True, exist_ok=True)
    return (Path(shutil.copy(source / MPRA_FASTA, folder / MPRA_FASTA)),
            Path(shutil.copy(source / MPRA_VCF, folder / MPRA_VCF)))


def read_fasta_sequence(path: Path) -> str:
    """The first record's sequence, read independently of genomix (upper case)."""
    lines = Path(path).read_text().splitlines()
    return "".join(line.strip() for line in lines[1:] if not line.startswith(">")).upper()


def edit_vcf(path: Path, out: Path, edit) -> Path:
    """Copy a plain VCF, passing each record line (without newline) through ``edit(number, line)``."""
    lines = []
    number = 0
    for line in Path(path).read_text().splitlines():
        if not line.startswith("#"):
            number += 1
            line = edit(number, line)
            if line is None:
                continue
        lines.append(line)
    out.write_text("\n".join(lines) + "\n")
    return out
