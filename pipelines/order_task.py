# A DNA task where only order matters: two motifs planted in random bases, class = which comes first.
# Run: python pipelines/order_task.py --n 20000 --out runs/order   then
#      genomix build-dataset taxonomy --fasta runs/order/order.fasta.gz --labels runs/order/order.labels.tsv \
#          --split 0.8,0.1,0.1 --seed 0 --out runs/order/order.h5
"""Write ``order.fasta.gz`` and ``order.labels.tsv``: ``n`` random sequences of ``length`` bases, each with
motif A and motif B planted once at random, non-overlapping places; the label is ``AB`` when A starts
first, else ``BA``. Both classes hold the same bases in expectation, so any k-mer profile (the k-mer
baseline, the model's profile head) is at chance; only a model that relates positions can do better
(docs/quality.md, eighth round)."""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

import numpy as np

BASES = np.array(list("ACGT"))


def order_records(n: int, length: int, motif_a: str, motif_b: str, seed: int) -> list[tuple[str, str, str]]:
    """``(id, sequence, label)`` for ``n`` seeded sequences (see the module docstring)."""
    for motif in (motif_a, motif_b):
        if not motif or set(motif) - set("ACGT"):
            raise ValueError(f"motif {motif!r} should be bases A, C, G, T")
    width = max(len(motif_a), len(motif_b))
    if length < 2 * width + 1:
        raise ValueError(f"length {length} cannot hold both motifs apart")
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        sequence = BASES[rng.integers(0, 4, length)]
        while True:
            a, b = rng.choice(length - width + 1, size=2, replace=False)
            if abs(int(a) - int(b)) >= width:
                break
        sequence[a:a + len(motif_a)] = list(motif_a)
        sequence[b:b + len(motif_b)] = list(motif_b)
        records.append((f"s{i}", "".join(sequence), "AB" if a < b else "BA"))
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--length", type=int, default=500)
    parser.add_argument("--motif-a", default="GATTACAGT")
    parser.add_argument("--motif-b", default="CCGGTTAAC")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="folder for order.fasta.gz and order.labels.tsv")
    args = parser.parse_args()
    try:
        records = order_records(args.n, args.length, args.motif_a.upper(), args.motif_b.upper(), args.seed)
    except ValueError as error:
        parser.error(str(error))
    args.out.mkdir(parents=True, exist_ok=True)
    with gzip.open(args.out / "order.fasta.gz", "wt") as fasta:
        fasta.writelines(f">{name}\n{sequence}\n" for name, sequence, _ in records)
    with open(args.out / "order.labels.tsv", "w") as labels:
        labels.write("id\tlabel\n")
        labels.writelines(f"{name}\t{label}\n" for name, _, label in records)
    print(f"wrote {len(records):,} sequences of {args.length} bp to {args.out}")


if __name__ == "__main__":
    main()
