"""Benchmark: ``genomix annotate`` speed and memory on this machine.

Reproduces the numbers in docs/annotate.md and docs/benchmarks.md ("Annotate"). Run it with one command:

    .venv/bin/python pipelines/bench_annotate.py            # CPU; add --device cuda on a GPU

Three measurements, each in a fresh subprocess so peak memories (VmHWM) do not mix:
  1. forward-only bases/s against training bases/s (forward + backward + AdamW step) for the model
     benchmark's workloads (pipelines/bench_model.py (a) B=2 x 16,384 and (b) [16384, 12000, 9000, 5000],
     track_size 16, hidden 128), fp32 and bf16: the model's forward on that one batch, and annotate's
     prediction path (predict_tokens, variable lengths) with those lengths repeated to fill --max-tokens,
     as annotate batches a stream of such records;
  2. windowed annotation of ../shared/data/genomes/NC_008253.fna.gz (E. coli 536, 4.94 Mb):
     ``--window 10000 --stride 5000`` to BED, checked to cover the chromosome; bases/s of genome;
  3. the same chromosome as one 4,938,920-base sequence (``--max-length 0``, no windows): time and peak memory.
Genome runs use a checkpoint of the Primates recipe's architecture (track_size 8, hidden 64, LN,
max_seq_len 16,384) with random weights, unless ``--model`` names a trained one: speed and memory do
not depend on the weights.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "pipelines"))
GENOME = REPO.parent / "shared" / "data" / "genomes" / "NC_008253.fna.gz"
RECIPE_MODEL = {"input_size": 16, "output_size": 2, "embedding_type": "sparse", "decoder": "linear",
                "max_seq_len": 16384, "track_size": 8, "hidden_size": 64, "mlp_dropout": 0.0, "layer_dropout": 0.0,
                "prenorm": "LN", "norm": "LN", "var_len": True}


def random_checkpoint(path: Path) -> Path:
    """A genomix checkpoint of the recipe architecture with random (seeded) weights."""
    import torch

    from genomix.alphabet import DNA
    from genomix.checkpoint import primitive, save_checkpoint
    from genomix.models import build_model

    torch.manual_seed(0)
    model = build_model(RECIPE_MODEL)
    save_checkpoint(path, {"model_state": model.state_dict(), "model_kwargs": primitive(RECIPE_MODEL),
                           "task": "classification", "alphabet": "dna", "vocab": primitive(DNA.vocab),
                           "classes": ["class_a", "class_b"], "config": {}, "target_scale": None})
    return path


def annotate_child(spec: dict) -> dict:
    """One annotation run in this process; returns counts, seconds and peak memory."""
    import torch

    from genomix.inference.annotate import annotate_fasta, window_spans
    from genomix.resources import peak_memory_mb

    if spec["threads"]:
        torch.set_num_threads(spec["threads"])
    bed = Path(spec["bed"]) if spec.get("bed") else None
    started = time.perf_counter()
    summary = annotate_fasta(spec["model"], spec["fasta"], out=spec["out"], bed=bed, window=spec.get("window"),
                             stride=spec.get("stride"), max_length=spec.get("max_length"), device=spec["device"],
                             precision=spec["precision"], max_tokens=spec["max_tokens"])
    seconds = time.perf_counter() - started
    result = {"records": summary.records_written, "windows": summary.windows, "bases": summary.bases,
              "seconds": seconds, "bases_per_s": summary.bases / seconds, "peak_mb": peak_memory_mb(spec["device"])}
    if bed is not None:  # valid BED covering every record
        rows = [line.split("\t") for line in bed.read_text().splitlines() if not line.startswith(("#", "track"))]
        lengths = {}
        for line in Path(spec["out"]).read_text().splitlines()[1:]:
            fields = line.split("\t")
            lengths[fields[0]] = int(fields[1])
        covered = all([(int(r[1]), int(r[2])) for r in rows if r[0] == chrom]
                      == window_spans(length, window=spec["window"], stride=spec["stride"])
                      for chrom, length in lengths.items())
        result["bed_lines"] = len(rows)
        result["bed_covers"] = covered and all(0 <= int(r[4]) <= 1000 for r in rows)
    return result


def forward_child(spec: dict) -> dict:
    """Forward-only bases/s through annotate's prediction path (``predict_tokens``) for a workload's lengths,
    repeated to fill the token budget as annotate batches a stream of such records."""
    import bench_model
    import numpy as np
    import torch

    from genomix.inference.annotate import predict_tokens
    from genomix.resources import peak_memory_mb

    if spec["threads"]:
        torch.set_num_threads(spec["threads"])
    model = bench_model.build("genomix", True).to(spec["device"]).eval()
    lengths = list(bench_model.WORKLOADS[spec["workload"]]["lengths"])
    lengths = lengths * max(1, spec["max_tokens"] // sum(lengths))
    tokens = np.random.default_rng(1).integers(1, 16, sum(lengths), dtype=np.uint8)

    def step() -> None:
        predict_tokens(model, tokens, np.array(lengths), alphabet="dna", device=spec["device"],
                       precision=spec["precision"])

    step()
    times = []
    for _ in range(spec["repeats"]):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return {"tokens_per_s": sum(lengths) / min(times), "batch_tokens": sum(lengths),
            "peak_mb": peak_memory_mb(spec["device"])}


def run_child(spec: dict) -> dict:
    command = [sys.executable, __file__, "--child", json.dumps(spec)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"child failed: {spec}\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def forward_vs_train(args: argparse.Namespace) -> list[str]:
    """Model-benchmark workloads: forward-only and training bases/s (genomix, fresh subprocess each)."""
    import bench_model

    header = (f"{'workload':34} {'prec':5} {'train b/s':>10} {'forward b/s':>12} {'ratio':>6} "
              f"{'annotate b/s':>13} {'ratio':>6} {'batch':>8}")
    lines = [header]
    print(header, flush=True)
    for key in args.workloads:
        for precision in args.precisions.split(","):
            rows = {}
            for mode in ("train", "infer"):
                rows[mode] = bench_model.run_child(argparse.Namespace(
                    impl="genomix", workload=key, precision=precision, mode=mode, device=args.device,
                    repeats=args.repeats, threads=args.threads))
            rows["annotate"] = run_child({"kind": "forward", "workload": key, "precision": precision,
                                          "device": args.device, "repeats": args.repeats, "threads": args.threads,
                                          "max_tokens": args.max_tokens})
            train = rows["train"]["tokens_per_s"]
            lines.append(f"{bench_model.WORKLOADS[key]['label']:34} {precision:5} {train:10,.0f} "
                         f"{rows['infer']['tokens_per_s']:12,.0f} {rows['infer']['tokens_per_s'] / train:6.2f} "
                         f"{rows['annotate']['tokens_per_s']:13,.0f} {rows['annotate']['tokens_per_s'] / train:6.2f} "
                         f"{rows['annotate']['batch_tokens']:8,}")
            print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--workloads", default="ab", help="model-benchmark workloads ('' to skip)")
    parser.add_argument("--precisions", default="fp32,bf16", help="for the model-benchmark workloads")
    parser.add_argument("--genome", type=Path, default=GENOME)
    parser.add_argument("--genome-precision", default="bf16", choices=["fp32", "bf16"])
    parser.add_argument("--model", type=Path, help="checkpoint for the genome runs (default: random recipe model)")
    parser.add_argument("--max-tokens", type=int, default=65536)
    parser.add_argument("--skip", default="", help="comma list of: forward, windows, whole")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        from genomix.models.fast import tune_cpu

        tune_cpu()  # as genomix annotate does, before the first large allocation
        spec = json.loads(args.child)
        print(json.dumps(forward_child(spec) if spec.get("kind") == "forward" else annotate_child(spec)))
        return
    import torch

    print(f"device: {args.device}, torch {torch.__version__}, threads {args.threads or torch.get_num_threads()}")
    skip = set(args.skip.split(","))
    if "forward" not in skip and args.workloads:
        forward_vs_train(args)
    with tempfile.TemporaryDirectory() as folder:
        model = args.model or random_checkpoint(Path(folder) / "recipe_random.pt")
        common = {"model": str(model), "fasta": str(args.genome), "device": args.device, "threads": args.threads,
                  "precision": args.genome_precision, "max_tokens": args.max_tokens}
        if "windows" not in skip:
            result = run_child({**common, "out": f"{folder}/w.tsv", "bed": f"{folder}/w.bed", "window": 10000,
                                "stride": 5000})
            print(f"windows 10000/5000 {args.genome.name} ({args.genome_precision}): {result['windows']:,} windows, "
                  f"{result['bases']:,} bp in {result['seconds']:.1f} s = {result['bases_per_s']:,.0f} bp/s of genome; "
                  f"peak {result['peak_mb']:,.0f} MB; BED covers the chromosome: {result['bed_covers']}", flush=True)
        if "whole" not in skip:
            result = run_child({**common, "out": f"{folder}/whole.tsv", "max_length": 0})
            print(f"whole {args.genome.name} as one sequence ({args.genome_precision}): {result['bases']:,} bp in "
                  f"{result['seconds']:.1f} s = {result['bases_per_s']:,.0f} bp/s; peak {result['peak_mb']:,.0f} MB "
                  f"({result['peak_mb'] / 1024:.2f} GiB)", flush=True)


if __name__ == "__main__":
    main()
