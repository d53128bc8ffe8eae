"""Benchmark: each fused kernel (genomix/native) against the ATen ops it replaces, CPU.

Reproduces the kernel table in docs/benchmarks.md ("Model"). One command:

    .venv/bin/python pipelines/bench_kernels.py          # bf16, 16,384 rows, D = 240, hidden 128
    .venv/bin/python pipelines/bench_kernels.py --dtype fp32

Both sides run in the same process on the same inputs and the median of ``--repeats`` calls is printed
in milliseconds with the ratio. The ATen side of the rotation is its gather and add only (ATen adds
``fc2``'s bias inside ``addmm``, which the kernel does in the same pass), so that ratio is a lower
bound. ``warm``: the inputs were just used (in cache); ``cold``: 64 MB of other memory is written
before each call, as happens inside a training step.
"""

from __future__ import annotations

import argparse
import time

import torch

from genomix import native
from genomix.models.rotation import _gather_subset, build_rotation


def median_ms(function, repeats: int, flush: torch.Tensor | None) -> float:
    for _ in range(3):
        function()
    times = []
    for _ in range(repeats):
        if flush is not None:
            flush.add_(1)
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2] * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=16384)
    parser.add_argument("--tracks", type=int, default=15)
    parser.add_argument("--track-size", type=int, default=16)
    parser.add_argument("--hidden-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the kernels split rows over them)")
    parser.add_argument("--dtype", default="bf16", choices=["bf16", "fp32"])
    args = parser.parse_args()
    if not native.available():
        raise SystemExit("the native kernels could not be built (no C compiler?); nothing to compare")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    n, tracks, size, hidden_size = args.rows, args.tracks, args.track_size, args.hidden_size
    width = tracks * size
    dtype = {"bf16": torch.bfloat16, "fp32": torch.float32}[args.dtype]
    x, update, grad, residual = (torch.randn(n, width).to(dtype) for _ in range(4))
    pre, grad_hidden = torch.randn(n, hidden_size).to(dtype), torch.randn(n, hidden_size).to(dtype)
    bias = torch.randn(width)
    rotation = build_rotation(torch.tensor([n]), tracks)
    _, mean, rstd = native.layer_norm(x, 1e-5)
    _, aten_mean, aten_rstd = torch.native_layer_norm(x, (width,), None, None, 1e-5)

    def gather(rows, index):
        return _gather_subset(rows.view(-1, size), index).view(n, width)

    pairs = {
        "LayerNorm forward": (lambda: native.layer_norm(x, 1e-5),
                              lambda: torch.native_layer_norm(x, (width,), None, None, 1e-5)),
        "rotation + residual + fc2 bias": (lambda: native.rotate_add(x, update, rotation.index, bias),
                                           lambda: torch.add(x, gather(update, rotation.index))),
        "inverse gather + fc2 bias grad": (lambda: native.gather_colsum(grad, rotation.inverse),
                                           lambda: (gather(grad, rotation.inverse), grad.sum(0))),
        "GELU backward + fc1 bias grad": (lambda: native.gelu_backward_colsum(grad_hidden, pre),
                                          lambda: torch.ops.aten.gelu_backward(grad_hidden, pre).sum(0)),
        "LayerNorm backward + residual": (
            lambda: native.layer_norm_backward_add(grad, x, mean, rstd, residual),
            lambda: torch.add(residual, torch.ops.aten.native_layer_norm_backward(
                grad, x, (width,), aten_mean, aten_rstd, None, None, [True, False, False])[0])),
    }
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {n:,} rows, D = {width} "
          f"({tracks} tracks of {size}), hidden {hidden_size}, {args.dtype}; median of {args.repeats} calls, ms")
    print(f"{'kernel':32} {'cache':5} {'fused':>7} {'ATen':>7} {'ratio':>6}")
    totals = {}
    for cache in ("warm", "cold"):
        flush = torch.zeros(64 << 20, dtype=torch.uint8) if cache == "cold" else None
        totals[cache] = [0.0, 0.0]
        for name, (fast, plain) in pairs.items():
            fast_ms, plain_ms = median_ms(fast, args.repeats, flush), median_ms(plain, args.repeats, flush)
            totals[cache][0] += fast_ms
            totals[cache][1] += plain_ms
            print(f"{name:32} {cache:5} {fast_ms:7.3f} {plain_ms:7.3f} {plain_ms / fast_ms:6.2f}", flush=True)
    for cache, (fast_ms, plain_ms) in totals.items():
        print(f"{'all five':32} {cache:5} {fast_ms:7.3f} {plain_ms:7.3f} {plain_ms / fast_ms:6.2f}")


if __name__ == "__main__":
    main()
