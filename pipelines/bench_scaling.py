"""Benchmark: how ChordMixer's cost per token grows with sequence length, up to megabases.

Reproduces the scaling table and plot in docs/benchmarks.md ("Scaling"). One command:

    .venv/bin/python pipelines/bench_scaling.py                 # CPU, 2**10 .. 2**21 as far as fits
    .venv/bin/python pipelines/bench_scaling.py --device cuda   # on a GPU

One model for every length (``max_seq_len = 2**max_exp``, so the width D is fixed and a sequence of
length L runs ``ceil(log2 L)`` blocks), one sequence per step, bf16 autocast. For each length it
measures, each in a fresh subprocess so peaks do not mix: a training step (forward, backward, AdamW)
and a forward pass (inference), with tokens/s and peak memory. It stops cleanly before a size whose
predicted peak (twice the last one) would not fit in the memory it may use.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from genomix import ChordMixer
from genomix.models.fast import tune_cpu
from genomix.resources import best_step_seconds, peak_memory_mb


def measure(spec: dict) -> dict:
    """One measurement in this process."""
    device, length = spec["device"], spec["length"]
    torch.manual_seed(0)
    model = ChordMixer(input_size=16, output_size=2, max_seq_len=spec["max_seq_len"],
                       track_size=spec["track_size"], hidden_size=spec["hidden_size"], prenorm="LN",
                       var_len=True, grad_checkpointing=spec["checkpointing"]).to(device)
    tokens = torch.randint(1, 16, (length,), device=device)
    lengths = torch.tensor([length], device=device)
    label = torch.tensor([1], device=device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    autocast = torch.autocast(device_type=device, dtype=torch.bfloat16)

    def train_step():
        with autocast:
            logits = model(tokens, lengths)
        torch.nn.functional.cross_entropy(logits.float(), label).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def infer_step():
        model.eval()
        with torch.inference_mode(), autocast:
            model(tokens, lengths)

    step = train_step if spec["mode"] == "train" else infer_step
    best = best_step_seconds(step, repeats=spec["repeats"] - 1, device=device)
    return {"seconds": best, "tokens_per_s": length / best, "peak_mb": peak_memory_mb(device),
            "blocks": int(model.encoder.n_blocks if length >= spec["max_seq_len"] else (length - 1).bit_length()),
            "width": model.embedding_size}


def run_child(spec: dict) -> dict | None:
    command = [sys.executable, __file__, "--child", json.dumps(spec)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.stderr.write(f"length {spec['length']} {spec['mode']} failed:\n{result.stderr[-2000:]}\n")
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])


def available_mb(device: str) -> float:
    if device == "cuda":
        return torch.cuda.get_device_properties(0).total_memory / 2**20
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (speed, memory) = plt.subplots(1, 2, figsize=(10, 4))
    for mode, marker in (("train", "o"), ("infer", "s")):
        points = [r for r in rows if r["mode"] == mode]
        speed.plot([r["length"] for r in points], [r["tokens_per_s"] for r in points], marker=marker, label=mode)
        memory.plot([r["length"] for r in points], [r["peak_mb"] / 1024 for r in points], marker=marker, label=mode)
    for axis, label in ((speed, "tokens / s"), (memory, "peak memory (GiB)")):
        axis.set_xscale("log", base=2)
        axis.set_xlabel("sequence length (one sequence per step)")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
        axis.legend()
    speed.set_yscale("log")
    figure.suptitle(f"ChordMixer scaling ({rows[0]['device']}, bf16)")
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--min-exp", type=int, default=10)
    parser.add_argument("--max-exp", type=int, default=21)
    parser.add_argument("--track-size", type=int, default=16)
    parser.add_argument("--hidden-size", type=int, default=128)
    parser.add_argument("--checkpointing", default="segments", choices=["none", "block", "segments"])
    parser.add_argument("--memory-fraction", type=float, default=0.8,
                        help="stop before a size predicted to need more than this share of memory")
    parser.add_argument("--out", type=Path, default=Path("docs/scaling.png"))
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        tune_cpu()  # as the genomix commands do, before the first large allocation
        print(json.dumps(measure(json.loads(args.child))))
        return
    checkpointing = {"none": False, "block": "block", "segments": "segments"}[args.checkpointing]
    budget = available_mb(args.device) * args.memory_fraction
    print(f"device {args.device}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"model max_seq_len 2**{args.max_exp}, track {args.track_size}, hidden {args.hidden_size}, "
          f"checkpointing {args.checkpointing}, memory budget {budget / 1024:.1f} GiB")
    print(f"{'length':>10} {'mode':6} {'blocks':>6} {'seconds':>9} {'tokens/s':>10} {'peak GiB':>9}")
    rows, last_peak = [], {"train": 0.0, "infer": 0.0}
    for exp in range(args.min_exp, args.max_exp + 1):
        for mode in ("train", "infer"):
            if 2 * last_peak[mode] > budget:
                print(f"{2**exp:>10} {mode:6} skipped: predicted peak {2 * last_peak[mode] / 1024:.1f} GiB "
                      f"> budget {budget / 1024:.1f} GiB")
                continue
            spec = {"device": args.device, "length": 2**exp, "max_seq_len": 2**args.max_exp,
                    "track_size": args.track_size, "hidden_size": args.hidden_size, "mode": mode,
                    "checkpointing": checkpointing if mode == "train" else False,
                    "repeats": 3 if exp <= 16 else 2}
            result = run_child(spec)
            if result is None:
                last_peak[mode] = float("inf")
                continue
            last_peak[mode] = result["peak_mb"]
            rows.append({**spec, **result})
            print(f"{2**exp:>10,} {mode:6} {result['blocks']:>6} {result['seconds']:9.2f} "
                  f"{result['tokens_per_s']:10,.0f} {result['peak_mb'] / 1024:9.2f}", flush=True)
    if rows:
        plot(rows, args.out)
        print(f"plot: {args.out}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
