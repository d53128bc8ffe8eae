# How masking meets the embedding (docs/pretraining.md): pretrain with single-base tokens
# (model.embedding_type=sparse) on the recipe's corpus with the same schedule, seed, batches and masks as the
# k-mer run of pipelines/pretrain_recipe.py, stop after the evaluation at --step, and print both runs' valid
# metrics at that step.
# Run from the repository root:  .venv/bin/python pipelines/bench_pretrain_embedding.py [--step 500] [--out runs/pretrain]
"""Masked accuracy at equal steps: 4-mer embedding with N-masking (the default) against single-base tokens."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "pipelines"))
from pretrain_recipe import PRETRAIN  # noqa: E402  (the same options as the k-mer run)


def record_at(run: Path, step: int) -> dict | None:
    metrics = run / "metrics.jsonl"
    if not metrics.exists():
        return None
    for line in metrics.read_text().splitlines():
        if line.strip() and json.loads(line)["step"] == step:
            return json.loads(line)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--step", type=int, default=500, help="compare at this evaluation step (a multiple of eval_every)")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "pretrain")
    args = parser.parse_args()
    reference = record_at(args.out / "pretrain", args.step)
    if reference is None:
        parser.error(f"the k-mer run {args.out / 'pretrain'} has no evaluation at step {args.step}; run the recipe first")
    run = args.out / "pretrain_sparse"
    if record_at(run, args.step) is None:
        if run.exists():
            shutil.rmtree(run)  # a run stopped before the step: start it again
        options = [o for o in PRETRAIN if not o.startswith("final_test")]
        process = subprocess.Popen([str(Path(sys.executable).with_name("genomix")), "pretrain",
                                    str(args.out / "data" / "corpus.h5"), "--out", str(run), *options,
                                    "model.embedding_type=sparse", "-q"], cwd=REPO)
        while record_at(run, args.step) is None:
            if process.poll() is not None:
                sys.exit(f"the sparse run ended (exit {process.returncode}) before step {args.step}")
            time.sleep(5)
        process.terminate()
        process.wait()
    sparse = record_at(run, args.step)
    keys = ("masked_accuracy", "perplexity", "unigram_accuracy", "context_accuracy", "context_perplexity")
    print(f"| embedding | step | elapsed s | {' | '.join(keys)} |")
    print("|---|---|---|" + "---|" * len(keys))
    for name, record in (("4-mer, N as mask (default)", reference), ("single-base tokens (sparse)", sparse)):
        cells = " | ".join(f"{record['valid'][key]:.4f}" for key in keys)
        print(f"| {name} | {record['step']} | {record['elapsed_s']} | {cells} |")


if __name__ == "__main__":
    main()
