"""A real reference and BED of coding and intergenic regions for the interval tests (tests/datasets, tests/cli).

``write_cds_regions`` turns the Arabidopsis chloroplast record ``NC_000932.gb`` (154 kb, Biopython's
GenBank corpus) into a FASTA reference and a sorted BED6 of its simple (unjoined) CDS features, named
``cds`` on their own strand, and of the intergenic stretches between all gene/CDS/RNA features,
named ``intergenic`` with strand ``.``.
"""

from __future__ import annotations

from pathlib import Path

from Bio import SeqIO

GENBANK = Path("genbank") / "biopython" / "NC_000932.gb"
FEATURES = ("gene", "CDS", "tRNA", "rRNA")


def write_cds_regions(shared_data: Path, folder: Path, *, min_intergenic: int = 50) -> tuple[Path, Path, str]:
    """Write ``reference.fa`` and ``regions.bed`` under ``folder``; return their paths and the record id."""
    record = SeqIO.read(shared_data / GENBANK, "genbank")
    sequence = str(record.seq)
    reference = folder / "reference.fa"
    with open(reference, "w") as handle:
        handle.write(f">{record.id} {record.description}\n")
        handle.writelines(sequence[i:i + 70] + "\n" for i in range(0, len(sequence), 70))
    rows = []
    covered = []
    for feature in record.features:
        if feature.type not in FEATURES:
            continue
        for part in feature.location.parts:
            covered.append((int(part.start), int(part.end)))
        if feature.type == "CDS" and len(feature.location.parts) == 1:
            start, end = int(feature.location.start), int(feature.location.end)
            strand = "+" if feature.location.strand == 1 else "-"
            rows.append((start, end, "cds", strand))
    covered.sort()
    reach = 0
    for start, end in covered:
        if start - reach >= min_intergenic:
            rows.append((reach, start, "intergenic", "."))
        reach = max(reach, end)
    if len(sequence) - reach >= min_intergenic:
        rows.append((reach, len(sequence), "intergenic", "."))
    rows = sorted(set(rows))
    bed = folder / "regions.bed"
    with open(bed, "w") as handle:
        handle.write("# CDS and intergenic regions of NC_000932 (Arabidopsis thaliana chloroplast)\n")
        handle.writelines(f"{record.id}\t{start}\t{end}\t{name}\t0\t{strand}\n" for start, end, name, strand in rows)
    return reference, bed, record.id


def write_three_genomes(shared_data: Path, folder: Path) -> Path:
    """``genomes.fa``: the chloroplast (``NC_000932.1``), the human mitochondrion (``NC_012920.1``) and
    lambda phage (``lambda``): three real contigs for chromosome splits and negatives."""
    records = [SeqIO.read(shared_data / GENBANK, "genbank"),
               SeqIO.read(shared_data / "variants" / "NC_012920.1_rCRS.fasta", "fasta")]
    import gzip

    with gzip.open(shared_data / "genomes" / "lambda_virus.fa.gz", "rt") as handle:
        phage = SeqIO.read(handle, "fasta")
    phage.id = "lambda"
    records.append(phage)
    path = folder / "genomes.fa"
    with open(path, "w") as handle:
        for record in records:
            sequence = str(record.seq)
            handle.write(f">{record.id}\n")
            handle.writelines(sequence[i:i + 60] + "\n" for i in range(0, len(sequence), 60))
    return path


TINY = ["model.track_size=4", "model.hidden_size=16", "max_tokens=20000", "num_threads=1", "epochs=1", "seed=0"]
_MODELS: dict[Path, tuple[Path, Path, Path]] = {}


def tiny_interval_model(shared_data: Path, base: Path) -> tuple[Path, Path, Path]:
    """``(best.pt, reference.fa, regions.bed)``: a tiny cds/intergenic classifier on the chloroplast (once per session)."""
    if base not in _MODELS:
        from genomix.datasets.intervals import build_interval_dataset
        from genomix.training.config import load_config
        from genomix.training.loop import train

        folder = base / "interval_tiny"
        folder.mkdir(parents=True, exist_ok=True)
        reference, bed, _ = write_cds_regions(shared_data, folder)
        build_interval_dataset(reference, bed, folder / "cds.h5", seed=0)
        train(folder / "cds.h5", out_dir=folder / "run", config=load_config(None, TINY), device="cpu")
        _MODELS[base] = (folder / "run" / "best.pt", reference, bed)
    return _MODELS[base]
