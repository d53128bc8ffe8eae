"""Benchmark: peak resident memory of one megabase training step on the CPU, fp32 or bf16.

Reproduces the memory table in docs/benchmarks.md ("fp32 memory"). One command:

    .venv/bin/python pipelines/bench_memory.py --length 1048576 --track 16 --hidden 128 --precision fp32

One sequence, ``max_seq_len = length``; each checkpointing mode (``segments``: stored block inputs as
computed; ``segments_bf16``: kept in bf16, float32 compute, :mod:`genomix.models.fast.compact`) runs in a
fresh subprocess (one training step: forward, backward, AdamW) at one thread and prints its seconds and
peak RSS (VmHWM of that subprocess), so peaks do not mix.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import torch

from genomix import ChordMixer
from genomix.models.fast import tune_cpu
from genomix.resources import peak_memory_mb


def measure(spec: dict) -> dict:
    """One training step in this process."""
    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    length = spec["length"]
    model = ChordMixer(input_size=16, output_size=2, max_seq_len=length, track_size=spec["track"],
                       hidden_size=spec["hidden"], prenorm="LN", var_len=True, grad_checkpointing=spec["checkpointing"])
    tokens = torch.randint(1, 16, (length,))
    lengths = torch.tensor([length])
    label = torch.tensor([1])
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=spec["precision"] == "bf16")
    start = time.perf_counter()
    with autocast:
        logits = model(tokens, lengths)
    torch.nn.functional.cross_entropy(logits.float(), label).backward()
    optimizer.step()
    seconds = time.perf_counter() - start
    return {**spec, "seconds": round(seconds, 2), "tokens_per_s": round(length / seconds),
            "peak_gib": round(peak_memory_mb("cpu") / 1024, 3), "width": model.embedding_size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--length", type=int, default=1 << 20)
    parser.add_argument("--track", type=int, default=16)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--checkpointing", nargs="+", default=["segments", "segments_bf16"],
                        choices=("segments", "segments_bf16"))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if args.child:
        tune_cpu()
        print(json.dumps(measure(json.loads(args.child))))
        return
    for checkpointing in args.checkpointing:
        spec = {"length": args.length, "track": args.track, "hidden": args.hidden, "precision": args.precision,
                "checkpointing": checkpointing, "threads": args.threads}
        result = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True,
                                text=True, check=False)
        if result.returncode != 0:
            sys.stderr.write(f"{spec} failed:\n{result.stderr[-2000:]}\n")
            continue
        print(result.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
