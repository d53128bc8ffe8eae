# Reproduces the "## Datasets" numbers of docs/benchmarks.md: GenBank build time vs Biopython-alone
# parse time (same files, same run), FASTA build speed in Mbp/s, and the peak memory of the Plants build.
# Run from the repository root:  .venv/bin/python pipelines/bench_datasets.py [--repeats 3]
"""Benchmark the dataset builders against Biopython on the real files in ../shared/data."""

from __future__ import annotations

import argparse
import gzip
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from Bio import SeqIO

from genomix.datasets.taxonomy import build_taxonomy_from_fasta, build_taxonomy_from_genbank
from genomix.io.compression import open_text
from genomix.io.fasta import read_fasta

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
GENBANK = [DATA / "genbank" / name for name in (
    "ls_orchid.gbk", "leptospira_wgs_contigs.gbk.gz", "bioperl/NC_001284.gbk", "biopython/NC_000932.gb",
    "bioperl/AE003644_Adh-genomic.gb", "bioperl/D10483.gbk", "biopython/cor6_6.gb.bgz")]
FASTA = [("Insects", DATA / "taxonomy" / "Insects.fasta.gz", DATA / "taxonomy" / "Insects.labels.tsv"),
         ("Plants", DATA / "taxonomy" / "Plants.fasta.gz", DATA / "taxonomy" / "Plants.labels.tsv")]
PEAK = """
import resource, sys
from genomix.datasets.taxonomy import build_taxonomy_from_fasta
build_taxonomy_from_fasta(sys.argv[1], sys.argv[2], labels=sys.argv[3])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def best_of(repeats: int, function) -> float:
    """The fastest of ``repeats`` runs of ``function()``, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def biopython_parse(paths: list[Path]) -> None:
    """Parse every record with Biopython alone (what any GenBank reader must at least do)."""
    for path in paths:
        with open_text(path) as handle:
            for _ in SeqIO.parse(handle, "genbank"):
                pass


def text_megabytes(path: Path) -> float:
    """Uncompressed size of a file in MB."""
    with (gzip.open(path, "rb") if path.suffix in (".gz", ".bgz") else open(path, "rb")) as handle:
        return sum(len(block) for block in iter(lambda: handle.read(1 << 20), b"")) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    out_dir = Path(tempfile.mkdtemp(prefix="genomix-bench-"))
    print(f"machine: {platform.machine()}, {platform.processor() or '?'}, python {platform.python_version()}")

    megabytes = sum(text_megabytes(p) for p in GENBANK)
    parse = best_of(args.repeats, lambda: biopython_parse(GENBANK))
    build = best_of(args.repeats, lambda: build_taxonomy_from_genbank(
        GENBANK, out_dir / "gb.h5", label_from="organism", fractions=(1, 0, 0), command=["bench"]))
    print("\n| GenBank input | MB (text) | Biopython parse | genomix build | ratio | build MB/s |")
    print("|---|---|---|---|---|---|")
    print(f"| {len(GENBANK)} files ({', '.join(p.name for p in GENBANK)}) | {megabytes:.1f} | {parse:.2f} s | "
          f"{build:.2f} s | {build / parse:.2f}x | {megabytes / build:.1f} |")

    print("\n| FASTA input | Mbp | read only | read Mbp/s | build (read, encode, split, write) | build Mbp/s |")
    print("|---|---|---|---|---|---|")
    for name, fasta, labels in FASTA:
        bases = sum(len(r.sequence) for r in read_fasta(fasta)) / 1e6
        read = best_of(args.repeats, lambda: sum(len(r.sequence) for r in read_fasta(fasta)))
        built = best_of(args.repeats, lambda: build_taxonomy_from_fasta(
            fasta, out_dir / f"{name}.h5", labels=labels, command=["bench"]))
        print(f"| {name} | {bases:.1f} | {read:.2f} s | {bases / read:.0f} | {built:.2f} s | {bases / built:.0f} |")

    _, fasta, labels = FASTA[1]
    result = subprocess.run([sys.executable, "-c", PEAK, str(fasta), str(out_dir / "peak.h5"), str(labels)],
                            capture_output=True, text=True, check=True)
    size = (out_dir / "peak.h5").stat().st_size / 1e6
    print(f"\nPlants build peak memory (ru_maxrss, whole process): {float(result.stdout.split()[-1]):.0f} MB; "
          f"file {size:.1f} MB for 48.4 Mbp")


if __name__ == "__main__":
    main()
