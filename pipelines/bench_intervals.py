"""Benchmark: ``build-dataset intervals`` and ``annotate --regions`` speed on a real bacterial genome.

Reproduces the numbers in docs/intervals.md ("Speed"). One command:

    .venv/bin/python pipelines/bench_intervals.py [--regions 20000] [--annotate 1000]

On ../shared/data/genomes/NC_008253.fna.gz (E. coli 536, 4.94 Mb; decompressed once to a temporary
plain FASTA so pyfaidx indexes it, as a user would bgzip or index a genome), it draws ``--regions``
random 1 kb regions (seeded, random strands, two labels) and times, each once, in one process:
  1. the build of a dataset of those regions (``--window 1000``), regions/s and bases/s;
  2. the build of the first ``--annotate`` regions without and with one GC-matched negative per
     region (``--negatives 1``; 20,000 regions of 1 kb cover a 4.9 Mb genome four times over and leave
     no room for negatives);
  3. annotating the same first regions with ``annotate --regions`` against annotating a
     FASTA of the same bases with plain ``annotate``, same checkpoint (random weights, track_size 8,
     hidden 64), fp32, after one warm-up run, alternated, best of two each: the ratio is the cost of
     reading regions from the reference.
It prints one JSON object; the CPU model and load average are printed with it.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "pipelines"))
GENOME = REPO.parent / "shared" / "data" / "genomes" / "NC_008253.fna.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, default=20000)
    parser.add_argument("--annotate", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import numpy as np
    import torch

    from bench_annotate import random_checkpoint
    from genomix.datasets.intervals import build_interval_dataset
    from genomix.inference.annotate import annotate_fasta
    from genomix.inference.regions import annotate_regions, region_sequences

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        reference = folder / "ecoli.fa"
        with gzip.open(GENOME, "rb") as source, open(reference, "wb") as target:
            shutil.copyfileobj(source, target)
        contig = reference.read_text().split(None, 1)[0][1:]
        length = sum(len(line) for line in reference.read_text().splitlines()[1:])
        rng = np.random.default_rng(args.seed)
        starts = np.sort(rng.integers(1000, length - 2000, size=args.regions))
        bed = folder / "regions.bed"
        with open(bed, "w") as handle:
            for k, start in enumerate(starts):
                handle.write(f"{contig}\t{start}\t{start + 1000}\t{'ab'[k % 2]}\t0\t{'+-'[int(rng.integers(2))]}\n")
        results = {"genome": GENOME.name, "genome_bp": length, "regions": args.regions}

        started = time.perf_counter()
        summary = build_interval_dataset(reference, bed, folder / "plain.h5", window=1000, seed=args.seed)
        seconds = time.perf_counter() - started
        results["build_s"] = round(seconds, 2)
        results["build_regions_per_s"] = round(summary["kept"] / seconds)
        results["build_bp_per_s"] = round(summary["length"]["total"] / seconds)

        head = folder / "head.bed"  # the first regions: a genome that 20,000 kb of regions cover has no room left
        head.write_text("".join(bed.read_text().splitlines(keepends=True)[:args.annotate]))
        started = time.perf_counter()
        build_interval_dataset(reference, head, folder / "head.h5", window=1000, seed=args.seed)
        head_s = time.perf_counter() - started
        started = time.perf_counter()
        summary = build_interval_dataset(reference, head, folder / "neg.h5", window=1000, seed=args.seed, negatives=1)
        results["negatives_regions"] = args.annotate
        results["build_head_s"] = round(head_s, 2)
        results["build_head_with_negatives_s"] = round(time.perf_counter() - started, 2)
        results["negatives_found"] = summary["negatives"]["found"]
        results["negatives_mean_gc_difference"] = round(summary["negatives"]["mean_gc_difference"], 4)

        model = random_checkpoint(folder / "model.pt")
        with open(folder / "head.fa", "w") as handle:
            for region, bases in region_sequences(reference, head):
                handle.write(f">{region.id}\n{bases}\n")
        annotate_fasta(model, folder / "head.fa", out=folder / "warm.tsv", precision="fp32")  # first-call costs
        times = {"regions": [], "fasta": []}
        for _ in range(2):  # alternated, best of two each
            started = time.perf_counter()
            annotate_regions(model, reference, head, out=folder / "regions.tsv", precision="fp32")
            times["regions"].append(time.perf_counter() - started)
            started = time.perf_counter()
            annotate_fasta(model, folder / "head.fa", out=folder / "fasta.tsv", precision="fp32")
            times["fasta"].append(time.perf_counter() - started)
        regions_s, fasta_s = min(times["regions"]), min(times["fasta"])
        results["annotate_bp"] = 1000 * args.annotate
        results["annotate_regions_s"] = round(regions_s, 2)
        results["annotate_fasta_s"] = round(fasta_s, 2)
        results["annotate_regions_over_fasta"] = round(regions_s / fasta_s, 3)
        results["annotate_outputs_equal"] = (folder / "regions.tsv").read_text() == (folder / "fasta.tsv").read_text()
    from genomix.precision import cpu_model

    results["cpu"] = cpu_model()
    results["load_average"] = os.getloadavg()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
