# The Python API against the CLI's library call on the same model and FASTA: genomix.load(...).predict
# (a DataFrame) beside annotate_fasta (a TSV), interleaved, and loading a best.pt beside its exported folder.
# Run: python pipelines/bench_api.py --model RUN/best.pt --fasta ../shared/data/benchmarks/human_enhancers_cohn.fasta.gz
"""Speed of ``Model.predict`` relative to ``annotate_fasta`` (same implementation, so about 1.0), the
largest difference between their probabilities, and the cost of loading an exported folder (its SHA-256
check included) relative to the ``.pt`` it came from. Prints one line per measurement and the machine."""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import genomix
from genomix.checkpoint import load_model
from genomix.export import export_checkpoint
from genomix.inference.annotate import annotate_fasta
from genomix.precision import cpu_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, type=Path, help="a classification best.pt")
    parser.add_argument("--fasta", required=True, type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--precision", default="fp32")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"CPU: {cpu_model()}; torch threads 1; load average {os.getloadavg()[0]:.2f} at the start")
    with tempfile.TemporaryDirectory() as folder:
        tsv = Path(folder) / "annotate.tsv"
        exported = Path(folder) / "model"
        export_checkpoint(args.model, exported)
        model = genomix.load(args.model, device="cpu", precision=args.precision)
        api, cli = [], []
        for _ in range(args.repeats):  # interleaved, so both see the same load
            started = time.perf_counter()
            table = model.predict(args.fasta)
            api.append(time.perf_counter() - started)
            started = time.perf_counter()
            annotate_fasta(args.model, args.fasta, out=tsv, device="cpu", precision=args.precision)
            cli.append(time.perf_counter() - started)
        expected = pd.read_csv(tsv, sep="\t")
        columns = [c for c in table.columns if c.startswith("p_")]
        difference = np.abs(table[columns].to_numpy() - expected[columns].to_numpy()).max()
        bases = int(table["length"].sum())
        print(f"{len(table):,} records, {bases:,} bp; best of {args.repeats}: predict {min(api):.2f} s, "
              f"annotate_fasta {min(cli):.2f} s (model load included); ratio predict/annotate "
              f"{min(api) / min(cli):.3f}; max |p difference| {difference:.2e} (TSV has 6 significant digits)")
        loads = {"pt": [], "folder": []}
        for _ in range(5):
            for name, path in (("pt", args.model), ("folder", exported)):
                started = time.perf_counter()
                load_model(path)
                loads[name].append(time.perf_counter() - started)
        size_pt = args.model.stat().st_size
        size_folder = sum(p.stat().st_size for p in exported.iterdir())
        print(f"load best of 5: .pt {min(loads['pt']) * 1e3:.1f} ms, folder {min(loads['folder']) * 1e3:.1f} ms "
              f"(ratio {min(loads['folder']) / min(loads['pt']):.2f}); size .pt {size_pt:,} B, folder {size_folder:,} B")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
