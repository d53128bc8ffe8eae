"""Benchmark: genomix's ChordMixer against a plain implementation, training and inference.

Reproduces the numbers in docs/benchmarks.md ("Model"). Run it with one command:

    .venv/bin/python pipelines/bench_model.py            # CPU; add --device cuda on a GPU
    .venv/bin/python pipelines/bench_model.py --threads 1 --impls genomix --modes train   # roofline only

Two workloads, track_size 16, hidden 128 (D = 240, 14 blocks):
  (a) equal lengths, B = 2, L = 16,384
  (b) variable lengths [16384, 12000, 9000, 5000]
For each implementation (plain: one torch.roll per sequence and track, as the published code does;
genomix: one gather per block with a per-batch index) and precision (fp32, bf16 autocast) it prints
training tokens/s (forward + backward + AdamW step), inference tokens/s (forward only), and peak
memory, each measured in a fresh subprocess so peaks do not mix. It first checks that both give the
same fp32 outputs and gradients from one state dict.

Roofline: in each genomix child, between its timed steps, it measures this machine's fp32 or bf16
matmul rate on the block's own six matmuls (``(N, D) x (D, H)`` and back, forward and backward, at the
workload's N, all rows at once or in row blocks of 16,384 / 4,096 / 1,024, the fastest), and prints each
step's time against the time its matmuls alone would take at that rate (the step's matmul FLOPs,
counted per block over the rows that run it, divided by the rate): a ratio near 1 means the step is
bound by its matmuls, so a number means the same on every machine. On the CPU both times are CPU
seconds of the 1-thread process (user + system), so that on a shared machine neither counts the time
spent waiting for a core; wall-clock ratios are printed beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from plain_chordmixer import PlainChordMixer  # noqa: E402

from genomix import ChordMixer  # noqa: E402
from genomix.models.fast import tune_cpu  # noqa: E402
from genomix.resources import peak_memory_mb  # noqa: E402

WORKLOADS = {
    "a": {"label": "(a) equal B=2 x 16,384", "lengths": [16384, 16384], "var_len": False},
    "b": {"label": "(b) var [16384,12000,9000,5000]", "lengths": [16384, 12000, 9000, 5000], "var_len": True},
}
MODEL = dict(input_size=16, output_size=7, max_seq_len=16384, track_size=16, hidden_size=128,
             prenorm="LN", norm="None")


def build(impl: str, var_len: bool, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    net = ChordMixer(**MODEL, var_len=var_len)
    if impl == "plain":
        plain = PlainChordMixer(**MODEL, var_len=var_len)
        plain.load_state_dict(net.state_dict())
        return plain
    return net


def make_batch(workload: dict, device: str, seed: int = 1):
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.tensor(workload["lengths"])
    if workload["var_len"]:
        tokens = torch.randint(1, 16, (int(lengths.sum()),), generator=generator)
        return tokens.to(device), lengths.to(device), torch.randint(0, 7, (len(lengths),), generator=generator).to(device)
    tokens = torch.randint(1, 16, (len(lengths), int(lengths[0])), generator=generator)
    return tokens.to(device), None, torch.randint(0, 7, (len(lengths),), generator=generator).to(device)


def measure(impl: str, workload_key: str, precision: str, mode: str, device: str, repeats: int, *,
            roofline: bool = False) -> dict:
    """One measurement in this process (called in a subprocess by main); ``roofline``: also the matmul
    rate (:func:`matmul_rate`), measured after each step."""
    workload = WORKLOADS[workload_key]
    net = build(impl, workload["var_len"]).to(device)
    tokens, lengths, labels = make_batch(workload, device)
    n_tokens = sum(workload["lengths"])
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-4)
    autocast = torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=precision == "bf16")

    def step():
        if mode == "train":
            with autocast:
                logits = net(tokens, lengths)
            loss = torch.nn.functional.cross_entropy(logits.float(), labels)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        else:
            with torch.inference_mode(), autocast:
                net(tokens, lengths)

    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    rates = []
    if roofline:  # the matmul rate measured between the steps, so both see the same load
        matmuls = block_matmuls(precision, device, n_tokens)
        between = lambda: rates.append(matmul_rate(matmuls, device))  # noqa: E731
    else:
        between = None
    walls, cpus = step_seconds(step, repeats=repeats, device=device, between=between)
    result = {"seconds": min(walls), "median_seconds": statistics.median(walls),
              "cpu_seconds": statistics.median(cpus), "tokens_per_s": n_tokens / min(walls),
              "peak_mb": peak_memory_mb(device)}
    if rates:
        result["matmul_rate"] = statistics.median(rate for rate, _ in rates)
        result["matmul_blocking"] = statistics.mode(blocking for _, blocking in rates)
    return result


def step_seconds(step, *, repeats: int, device: str, between=None) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each of ``repeats`` timed calls of ``step()`` after one untimed warm-up
    call, calling ``between()`` after each. On a shared CPU a 1-thread step's wall time includes the time
    it waited for a core; its CPU time (this process's user + system time) does not. On CUDA both are
    wall times."""
    step()
    walls, cpus = [], []
    for _ in range(max(1, repeats)):
        if device == "cuda":
            torch.cuda.synchronize()
        start, cpu_start = time.perf_counter(), time.process_time()
        step()
        if device == "cuda":
            torch.cuda.synchronize()
        walls.append(time.perf_counter() - start)
        cpus.append(walls[-1] if device == "cuda" else time.process_time() - cpu_start)
        if between is not None:
            between()
    return walls, cpus


def matmul_flops(workload: dict, mode: str) -> float:
    """The matmul FLOPs of one step: per block and row ``4 D H`` forward, ``8 D H`` more backward."""
    net = build("genomix", workload["var_len"])
    width, hidden, blocks = net.embedding_size, MODEL["hidden_size"], net.encoder.n_blocks
    depths = [min(blocks, (length - 1).bit_length()) for length in workload["lengths"]]
    rows = sum(sum(length for length, depth in zip(workload["lengths"], depths) if depth > k) for k in range(blocks))
    return rows * width * hidden * (12 if mode == "train" else 4)


BLOCKINGS = (0, 16384, 4096, 1024)
"""Row blocks the roofline's matmuls are tried in (0: all rows at once); the fastest sets the rate."""


def block_matmuls(precision: str, device: str, rows: int) -> dict:
    """The block's six matmuls (forward and backward) on ``rows`` rows in ``precision``, for each of
    :data:`BLOCKINGS` (a blocked version accumulates the weight gradients over its row blocks)."""
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    width = build("genomix", False).embedding_size
    hidden = MODEL["hidden_size"]
    generator = torch.Generator().manual_seed(0)
    x, grad_out = (torch.randn(rows, width, generator=generator).to(device, dtype) for _ in range(2))
    w1, w2 = torch.randn(hidden, width).to(device, dtype), torch.randn(width, hidden).to(device, dtype)
    grad_w1, grad_w2 = torch.zeros_like(w1), torch.zeros_like(w2)

    def blocked(size: int) -> None:
        for start in range(0, rows, size or rows):
            xb, gb = x[start:start + (size or rows)], grad_out[start:start + (size or rows)]
            hidden_rows = xb @ w1.t()
            _ = hidden_rows @ w2.t()
            grad_hidden = gb @ w2
            grad_w2.addmm_(gb.t(), hidden_rows)
            grad_w1.addmm_(grad_hidden.t(), xb)
            _ = grad_hidden @ w1

    return {"flops": 12 * rows * width * hidden,
            "runs": {size: (lambda size=size: blocked(size)) for size in BLOCKINGS if size < rows}}


def matmul_rate(matmuls: dict, device: str) -> tuple[float, int]:
    """``(FLOP/s, blocking)`` of :func:`block_matmuls` in its fastest row blocking (CPU seconds on the
    CPU, each blocking timed once after a warm-up call)."""
    best = None
    for size, run in matmuls["runs"].items():
        _, cpus = step_seconds(run, repeats=1, device=device)
        rate = matmuls["flops"] / cpus[0]
        best = max(best or (rate, size), (rate, size))
    return best


def check_equivalence(device: str) -> list[str]:
    """fp32 outputs and gradients of plain and genomix from one state dict, both workloads."""
    lines = []
    for key, workload in WORKLOADS.items():
        outputs, grads = [], []
        for impl in ("plain", "genomix"):
            net = build(impl, workload["var_len"]).to(device)
            tokens, lengths, labels = make_batch(workload, device)
            logits = net(tokens, lengths)
            torch.nn.functional.cross_entropy(logits, labels).backward()
            outputs.append(logits.detach())
            grads.append(net.encoder.chordmixer_blocks[0].mix.fc1.weight.grad.detach())
        out_diff = (outputs[0] - outputs[1]).abs().max().item()
        grad_diff = ((grads[0] - grads[1]).abs().max() / grads[0].abs().max()).item()
        lines.append(f"{workload['label']}: max |logit diff| {out_diff:.2e}, max rel grad diff {grad_diff:.2e}")
    return lines


def run_child(args: argparse.Namespace) -> dict:
    command = [sys.executable, __file__, "--child", json.dumps(
        {"impl": args.impl, "workload": args.workload, "precision": args.precision, "mode": args.mode,
         "roofline": args.impl == "genomix" and args.device == "cpu"})]
    command += ["--device", args.device, "--repeats", str(args.repeats), "--threads", str(args.threads)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"child failed: {' '.join(command)}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--repeats", type=int, default=8,
                        help="timed steps per measurement, after one warm-up step (the first steps run slower)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--workloads", default="ab")
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--modes", default="train,infer")
    parser.add_argument("--impls", default="plain,genomix",
                        help="'genomix' alone skips the plain implementation (roofline only)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.child:
        tune_cpu()  # as the genomix commands do, before the first large allocation
        spec = json.loads(args.child)
        print(json.dumps(measure(spec["impl"], spec["workload"], spec["precision"], spec["mode"],
                                 args.device, args.repeats, roofline=spec.get("roofline", False))))
        return

    print(f"device: {args.device}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    if args.device == "cuda":
        print(f"gpu: {torch.cuda.get_device_name()}")
    for line in check_equivalence(args.device):
        print("equivalence", line)
    impls = args.impls.split(",")
    if "genomix" not in impls:
        raise SystemExit("--impls must include genomix")
    header = f"{'workload':34} {'mode':6} {'prec':5} {'plain tok/s':>12} {'genomix tok/s':>14} {'ratio':>6} " \
             f"{'plain MB':>9} {'genomix MB':>10} {'load':>5}"
    print(header)
    results = {}
    for key in args.workloads:
        for mode in args.modes.split(","):
            for precision in args.precisions.split(","):
                row = {}
                for impl in impls:
                    ns = argparse.Namespace(impl=impl, workload=key, precision=precision, mode=mode,
                                            device=args.device, repeats=args.repeats, threads=args.threads)
                    row[impl] = run_child(ns)
                results[(key, mode, precision)] = row
                plain = row.get("plain", {"tokens_per_s": float("nan"), "peak_mb": float("nan")})
                ratio = row["genomix"]["tokens_per_s"] / plain["tokens_per_s"]
                print(f"{WORKLOADS[key]['label']:34} {mode:6} {precision:5} "
                      f"{plain['tokens_per_s']:12,.0f} {row['genomix']['tokens_per_s']:14,.0f} "
                      f"{ratio:6.2f} {plain['peak_mb']:9,.0f} {row['genomix']['peak_mb']:10,.0f} "
                      f"{os.getloadavg()[0]:5.1f}", flush=True)
    print_roofline(results, args)
    # genomix in its default precision (bf16 where supported) against the published-style fp32 plain
    for key in args.workloads:
        for mode in ("train", "infer"):
            if (key, mode, "bf16") in results and (key, mode, "fp32") in results and "plain" in impls:
                ratio = (results[(key, mode, "bf16")]["genomix"]["tokens_per_s"]
                         / results[(key, mode, "fp32")]["plain"]["tokens_per_s"])
                print(f"{WORKLOADS[key]['label']:34} {mode:6} genomix bf16 / plain fp32: {ratio:.2f}x")


def print_roofline(results: dict, args: argparse.Namespace) -> None:
    """Each genomix step against its matmul-only time at this machine's matmul rate, measured between
    the steps in the same process (CPU seconds on the CPU: both exclude the time spent waiting for a core
    on a shared machine; the wall-clock ratio is printed beside it)."""
    if args.device != "cpu":
        print("roofline: measured on the CPU only (CUDA: see pipelines/bench_gpu.py)")
        return
    print(f"{'workload':34} {'mode':6} {'prec':5} {'GFLOP/s':>8} {'block':>6} {'matmul s':>9} {'step cpu s':>11} "
          f"{'cpu / matmul':>13} {'step wall s':>12} {'wall / matmul':>14}")
    for (key, mode, precision), row in results.items():
        genomix = row["genomix"]
        only = matmul_flops(WORKLOADS[key], mode) / genomix["matmul_rate"]
        print(f"{WORKLOADS[key]['label']:34} {mode:6} {precision:5} {genomix['matmul_rate'] / 1e9:8.1f} "
              f"{genomix['matmul_blocking'] or 'all':>6} {only:9.3f} {genomix['cpu_seconds']:11.3f} "
              f"{genomix['cpu_seconds'] / only:12.2f}x {genomix['median_seconds']:12.3f} "
              f"{genomix['median_seconds'] / only:13.2f}x")


if __name__ == "__main__":
    main()
