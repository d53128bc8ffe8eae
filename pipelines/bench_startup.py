# Start-up of `genomix train` on a dataset whose k-mer profile head is fitted (taxonomy on long genomes):
# the whole Trainer() beside its parts, in one run.
# Run: python pipelines/bench_startup.py runs/quality/insects/dataset.h5   (bench_quality.py builds it)
"""Seconds from ``Trainer(...)`` to the first step, and what they are spent on: the k-mer profile head's
k chosen from :data:`~genomix.training.profile_fit.PROFILE_KMER_SIZES` (for each k: profiles of every
training and valid record, logistic regression for each C, out-of-fold logits) and everything else. Beside
it, one more fit of the chosen k alone: what start-up cost before the trainer kept the chosen head instead
of fitting it again. Prints one line per measurement and the machine."""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

from genomix.datasets.store import open_dataset
from genomix.precision import cpu_model
from genomix.training import distributed
from genomix.training.config import load_config
from genomix.training.loop import Trainer
from genomix.training.profile_fit import fit_profile_kmer_sizes
from genomix.training.sizing import resolve_schedule


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dataset", type=Path, help="a classification dataset of long sequences (e.g. Insects)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"CPU: {cpu_model()}; torch threads {args.threads}; load average {os.getloadavg()[0]:.2f} at the start")
    config = resolve_schedule(open_dataset(args.dataset), load_config(None, [f"num_threads={args.threads}"]))
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        trainer = Trainer(args.dataset, Path(folder) / "run", config, context=distributed.setup(device="cpu"),
                          resume_payload=None, progress=None)
        whole = time.perf_counter() - started
    choice = trainer.profile_kmer_choice
    if choice is None:
        print(f"Trainer ready in {whole:.1f} s; no fitted profile head on this dataset (nothing to choose)")
        return
    k, canonical = choice["chosen"], bool(trainer.model_kwargs.get("profile_canonical"))
    options = trainer._profile_fit_options()  # the same seed, folds and weights as the trainer's own fit
    started = time.perf_counter()
    fit_profile_kmer_sizes(trainer.dataset, trainer.task, output_size=trainer.task.output_size, sizes=(k,),
                           canonical=canonical, **options)
    one = time.perf_counter() - started
    started = time.perf_counter()
    fit_profile_kmer_sizes(trainer.dataset, trainer.task, output_size=trainer.task.output_size, canonical=canonical,
                           **options)
    choose = time.perf_counter() - started
    print(f"{len(trainer.dataset.split('train')):,} training records; chosen k = {k} (canonical {canonical})")
    print(f"Trainer ready in {whole:.1f} s: choosing k (every k fitted) {choose:.1f} s, the rest "
          f"{whole - choose:.1f} s")
    print(f"a second fit of k = {k} alone (start-up before the chosen head was kept): {one:.1f} s more, "
          f"so {whole + one:.1f} s; ratio now / before {whole / (whole + one):.2f}")


if __name__ == "__main__":
    main()
