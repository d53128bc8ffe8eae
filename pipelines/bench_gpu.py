"""Benchmark: the ChordMixer block on a GPU, ATen ops against Triton kernels against torch.compile.

Not yet run: no GPU was lent to the session that wrote it (docs/benchmarks.md, "GPU kernels"). One
command, on a CUDA machine, prints everything in one short run:

    .venv/bin/python pipelines/bench_gpu.py                      # 2**14 .. 2**21, bf16, segments

First it checks the Triton path against the definition in float32 on the GPU (output and every parameter
gradient, max abs difference; the tests check the same through triton's interpreter on the CPU) and its
bf16 error against float64 over the ATen path's (the interpreter truncates to bf16, so only a GPU can
check this one). Then, for
each length, one sequence per step (track 16, hidden 128, prenorm LN, ``max_seq_len`` = the longest length,
``grad_checkpointing='segments'``, bf16 autocast), a training step (forward, backward, AdamW) by:

* ``aten``: the fast paths without Triton (the block's folded ATen ops);
* ``triton``: the default fast paths (the block's Triton kernels, :mod:`genomix.models.fast.triton_block`);
* ``compile``: each block's own forward under ``torch.compile`` (the definition, compiled; same checkpointing).

It prints tokens/s, the ratio to ``aten`` and the CUDA allocator's peak, one line per length and variant.
"""

from __future__ import annotations

import argparse
import json

import torch

from genomix import ChordMixer
from genomix.models import fast
from genomix.models.fast.dispatch import PATHS
from genomix.resources import best_step_seconds

VARIANTS = ("aten", "triton", "compile")


def build(max_seq_len: int, checkpointing) -> ChordMixer:
    torch.manual_seed(0)
    return ChordMixer(input_size=16, output_size=2, max_seq_len=max_seq_len, track_size=16, hidden_size=128,
                      prenorm="LN", var_len=True, grad_checkpointing=checkpointing).cuda()


def paths_for(variant: str) -> set[str]:
    # compile: the compiled blocks are not exact ChordMixerBlocks, so the engine (checkpointing included)
    # runs their own, compiled, forward
    return {"aten": set(PATHS) - {"triton"}, "triton": set(PATHS), "compile": set(PATHS) - {"triton"}}[variant]


def check_triton() -> float:
    """Max abs difference between the Triton path and the definition, float32, over output and gradients."""
    model = build(4096, False)
    lengths = torch.tensor([4096, 1000, 3, 1], device="cuda")
    tokens = torch.randint(1, 16, (int(lengths.sum()),), device="cuda")
    results = []
    for paths in (set(PATHS), set()):
        model.zero_grad(set_to_none=True)
        with fast.use(paths), fast.trace() as ran:
            out = model(tokens, lengths)
            out.square().sum().backward()
        if paths and "triton" not in ran:
            raise SystemExit(f"the Triton path did not run: {sorted(set(ran))}")
        results.append([out.detach(), *(p.grad for p in model.parameters())])
    return max((a - b).abs().max().item() for a, b in zip(*results))


def check_triton_bf16() -> float:
    """bf16: the Triton path's error against the float64 definition over the ATen (folded) path's error
    (output and all gradients, each normalised; the acceptance is at most 1.25)."""
    model = build(4096, False)
    lengths = torch.tensor([4096, 1000, 3, 1], device="cuda")
    tokens = torch.randint(1, 16, (int(lengths.sum()),), device="cuda")

    def run(paths, bf16):
        model.zero_grad(set_to_none=True)
        with fast.use(paths), torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
            out = model(tokens, lengths)
        out.double().square().sum().backward()
        return [out.detach().double(), *(p.grad.double() for p in model.parameters())]

    triton, aten = run(set(PATHS), True), run(set(PATHS) - {"triton"}, True)
    model.double()
    truth = run(set(), False)
    model.float()

    def error(result):
        return torch.cat([((r - t) / t.norm().clamp_min(1e-30)).flatten() for r, t in zip(result, truth)]).norm()

    return (error(triton) / error(aten)).item()


def measure(variant: str, length: int, max_seq_len: int, repeats: int) -> dict:
    model = build(max_seq_len, "segments")
    if variant == "compile":
        blocks = model.encoder.chordmixer_blocks
        for number, block in enumerate(blocks):
            blocks[number] = torch.compile(block, dynamic=False)
    tokens = torch.randint(1, 16, (length,), device="cuda")
    lengths = torch.tensor([length], device="cuda")
    label = torch.tensor([1], device="cuda")
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step():
        with fast.use(paths_for(variant)), torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model(tokens, lengths)
        torch.nn.functional.cross_entropy(logits.float(), label).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    torch.cuda.reset_peak_memory_stats()
    seconds = best_step_seconds(step, repeats=repeats, device="cuda")
    return {"variant": variant, "length": length, "seconds": seconds, "tokens_per_s": length / seconds,
            "peak_gib": torch.cuda.max_memory_allocated() / 2**30}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-exp", type=int, default=14)
    parser.add_argument("--max-exp", type=int, default=21)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("bench_gpu.py needs a CUDA device (none is visible)")
    print(f"GPU: {torch.cuda.get_device_name(0)}; torch {torch.__version__}")
    print(f"Triton path vs definition, float32, max abs difference (output and gradients): {check_triton():.2e}")
    print(f"bf16 error against float64, Triton path / ATen path: {check_triton_bf16():.2f}x")
    print(f"{'length':>9} {'variant':>8} {'s/step':>8} {'tokens/s':>12} {'vs aten':>8} {'peak GiB':>9}")
    for exp in range(args.min_exp, args.max_exp + 1):
        base = None
        for variant in args.variants:
            row = measure(variant, 2**exp, 2**args.max_exp, args.repeats)
            base = row["tokens_per_s"] if variant == "aten" else base
            ratio = f"{row['tokens_per_s'] / base:7.2f}x" if base else "       -"
            print(f"{2**exp:>9,} {variant:>8} {row['seconds']:8.4f} {row['tokens_per_s']:12,.0f} {ratio} "
                  f"{row['peak_gib']:9.2f}", flush=True)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
