"""Benchmark: one checkpointed ChordMixer block on long inputs, chunked against plain, CPU.

Reproduces the per-block table in docs/benchmarks.md ("Megabase scale"). One command:

    .venv/bin/python pipelines/bench_block.py            # 2**14, 2**16, 2**18 rows

For each length, one block (D = 336: 21 tracks of 16, hidden 128, LayerNorm prenorm, bf16 autocast)
runs forward + backward four ways in the same process, interleaved, best of ``--repeats``:
``checkpoint(block)`` (the plain checkpointed block) with ATen ops and with the fused kernels
(genomix/native), and the chunked block (genomix/models/fast/chunked.py) with ATen ops and with the kernels.
It prints tokens/s and two ratios: chunked with kernels against the plain checkpointed block, and the
kernels against ATen in the chunked block.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.checkpoint import checkpoint

from genomix.models import fast
from genomix.models.chordmixer import ChordMixerBlock
from genomix.models.fast.blocks import run_block, run_chunked
from genomix.models.fast.dispatch import PATHS, block_plan
from genomix.models.rotation import build_rotation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--exps", default="14,16,18", help="log2 of the row counts")
    parser.add_argument("--tracks", type=int, default=21)
    parser.add_argument("--track-size", type=int, default=16)
    parser.add_argument("--hidden-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    fast.tune_cpu()  # as the genomix commands do, before the first large allocation
    width = args.tracks * args.track_size
    torch.manual_seed(0)
    block = ChordMixerBlock(width, args.track_size, args.hidden_size, 0.0, 0.0, "LN", "None")
    plan = block_plan(block)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, D = {width}, hidden {args.hidden_size}, "
          f"bf16, forward + backward of one block, best of {args.repeats}")
    print(f"{'rows':>9} {'checkpoint':>11} {'+kernels':>9} {'chunked':>9} {'+kernels':>9} {'ratio':>6} "
          f"{'kernels':>8}   (tokens/s; ratios: chunked+kernels / checkpoint, chunked+kernels / chunked)")
    for exp in (int(e) for e in args.exps.split(",")):
        rows = 2**exp
        rotation = build_rotation(torch.tensor([rows]), args.tracks)
        x = torch.randn(rows, width).bfloat16()
        grad = torch.randn_like(x)

        def plain(inp):
            return checkpoint(run_block, block, plan, inp, rotation, use_reentrant=False)

        def chunked(inp):
            return run_chunked(block, inp, rotation)

        runs = {"plain": (plain, False), "plain+k": (plain, True), "chunked": (chunked, False),
                "chunked+k": (chunked, True)}
        best = dict.fromkeys(runs, float("inf"))
        for _ in range(args.repeats + 1):  # the first round warms up
            for name, (forward, kernels) in runs.items():
                inp = x.clone().requires_grad_(True)
                start = time.perf_counter()
                with fast.use(PATHS if kernels else set(PATHS) - {"fused"}):
                    with torch.autocast("cpu", dtype=torch.bfloat16):
                        out = forward(inp)
                    out.backward(grad)
                best[name] = min(best[name], time.perf_counter() - start)
                del out, inp
        speed = {name: rows / seconds for name, seconds in best.items()}
        print(f"{rows:>9,} {speed['plain']:>11,.0f} {speed['plain+k']:>9,.0f} {speed['chunked']:>9,.0f} "
              f"{speed['chunked+k']:>9,.0f} {speed['chunked+k'] / speed['plain']:>6.2f} "
              f"{speed['chunked+k'] / speed['chunked']:>8.2f}", flush=True)


if __name__ == "__main__":
    main()
