"""A small saturation-mutagenesis-like ``variant_effect`` dataset with element references, written
from scratch: every SNV of a few random elements, its effect a fixed k-mer rule times a scale that
differs between elements (as in an MPRA, where elements are measured on different scales), plus noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genomix.datasets.variants import build_variant_dataset

MOTIF = "GATA"


def _effect(ref: str, alt: str, motif: str) -> int:
    return alt.count(motif) - ref.count(motif)


def element_variants_dataset(out: Path, *, elements: int = 8, length: int = 80, seed: int = 0,
                             weighted: bool = False, motif: str = MOTIF, sites: int = 1) -> Path:
    """``out`` (``.h5``): all SNVs of ``elements`` random elements, split by element 6:1:1 (8 elements), the
    effect of each the change in the count of ``motif`` (planted ``sites`` times in every element, 20 bases
    apart from base 10 on);
    ``weighted``: each variant also has a measurement weight ``INFO/BARCODES`` (1..200, ``meta/weight``)."""
    rng = np.random.default_rng(seed)
    folder = out.parent
    fasta, vcf = folder / "elements.fa", folder / "elements.vcf"
    records, rows = [], []
    for e in range(elements):
        sequence = "".join(rng.choice(list("ACGT"), length))
        for site in range(sites):  # every element holds the motif; one site at base 30 by default
            at = 30 if sites == 1 else 10 + 20 * site
            sequence = sequence[:at] + motif + sequence[at + len(motif):]
        start = 1000 * (e + 1)
        records.append(f">E{e} chr1:{start}-{start + length - 1}\n{sequence}\n")
        scale = 0.2 + 0.4 * e  # the elements' effects on different scales
        for offset, base in enumerate(sequence):
            for alt in "ACGT":
                if alt == base:
                    continue
                lo, hi = max(0, offset - len(motif) + 1), offset + len(motif)
                ref_context = sequence[lo:hi]
                alt_context = ref_context[:offset - lo] + alt + ref_context[offset - lo + 1:]
                value = scale * _effect(ref_context, alt_context, motif) + 0.05 * rng.standard_normal()
                info = f"ELEMENT=E{e};COEF={value:.6f}" + (f";BARCODES={rng.integers(1, 201)}" if weighted else "")
                rows.append(f"1\t{start + offset}\t.\t{base}\t{alt}\t.\t.\t{info}\n")
    fasta.write_text("".join(records))
    vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=1>\n"
                   '##INFO=<ID=ELEMENT,Number=1,Type=String,Description="element">\n'
                   '##INFO=<ID=COEF,Number=1,Type=Float,Description="effect">\n'
                   '##INFO=<ID=BARCODES,Number=1,Type=Integer,Description="barcodes">\n'
                   "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + "".join(rows))
    build_variant_dataset(fasta, vcf, out, window=32, label="INFO/COEF", element_field="ELEMENT",
                          group_by=["INFO/ELEMENT"], fractions=(0.75, 0.125, 0.125), seed=seed,
                          weight="INFO/BARCODES" if weighted else None)
    return out
