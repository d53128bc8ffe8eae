"""``make demo``: genomix end to end on a small real file shipped with the package.

Run: ``python -m genomix.demo [--out DIR] [--epochs N]``. Using the 94 orchid ITS records of
``genomix/data/ls_orchid.gbk`` (Biopython's example GenBank file; 4 genera), it runs the same
commands a user would type, printing each one first:

1. ``genomix build-dataset taxonomy --genbank ls_orchid.gbk --rank genus`` -> ``orchids.h5``
2. ``genomix inspect orchids.h5``
3. ``genomix train`` a small ChordMixer for a few epochs (about a minute on 2 CPU cores)
4. ``genomix evaluate`` on the test split (metrics JSON and plots)
5. ``genomix baseline kmer`` (the k-mer reference beside the result)
6. ``genomix annotate`` a FASTA of the same records (one row per record, a probability per genus)
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from importlib import resources
from pathlib import Path

from Bio import SeqIO


def demo_file() -> Path:
    """Path of the shipped GenBank file."""
    return Path(str(resources.files("genomix") / "data" / "ls_orchid.gbk"))


def run(arguments: list[str]) -> None:
    """Run one ``genomix`` command in this process, as the shell would; stop the demo if it fails."""
    from genomix.cli import cli

    print(f"\n$ genomix {shlex.join(arguments)}", flush=True)
    start = time.perf_counter()
    try:
        cli.main(arguments, prog_name="genomix", standalone_mode=False)
    except SystemExit as error:  # click's exit on --help / errors
        if error.code:
            raise
    print(f"[{time.perf_counter() - start:.1f} s]", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("demo_out"), help="folder for everything the demo writes")
    parser.add_argument("--epochs", type=int, default=15)
    args = parser.parse_args(argv)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    dataset, run_dir = out / "orchids.h5", out / "run"
    fasta = out / "orchids.fasta"
    SeqIO.convert(str(demo_file()), "genbank", str(fasta), "fasta")

    run(["build-dataset", "taxonomy", "--genbank", str(demo_file()), "--rank", "genus", "--min-count", "2",
         "--split", "0.7,0.15,0.15", "--seed", "0", "--out", str(dataset), "--quiet"])
    run(["inspect", str(dataset)])
    if run_dir.exists():
        import shutil

        shutil.rmtree(run_dir)
    run(["train", str(dataset), "--out", str(run_dir), "--quiet", f"epochs={args.epochs}",
         "max_tokens=4096", "lr=3e-3", "precision=bf16", "model.track_size=8", "model.hidden_size=32",
         "class_weights=balanced", "select_metric=accuracy"])
    run(["evaluate", str(run_dir / "best.pt"), str(dataset), "--split", "test"])
    run(["baseline", "kmer", str(dataset), "-k", "4"])
    run(["annotate", str(run_dir / "best.pt"), str(fasta), "--out", str(out / "orchids.predictions.tsv"),
         "--quiet"])
    rows = (out / "orchids.predictions.tsv").read_text().splitlines()
    print("\nfirst predictions:\n" + "\n".join(rows[:4]))
    print(f"\ndemo done: everything is in {out}/")


if __name__ == "__main__":
    sys.exit(main())
