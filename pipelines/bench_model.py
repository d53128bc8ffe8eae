"""Benchmark: genomix's ChordMixer against a plain implementation, training and inference.

Reproduces the numbers in docs/benchmarks.md ("Model"). Run it with one command:

    .venv/bin/python pipelines/bench_model.py            # CPU; add --device cuda on a GPU

Two workloads, track_size 16, hidden 128 (D = 240, 14 blocks):
  (a) equal lengths, B = 2, L = 16,384
  (b) variable lengths [16384, 12000, 9000, 5000]
For each implementation (plain: one torch.roll per sequence and track, as the published code does;
genomix: one gather per block with a per-batch index) and precision (fp32, bf16 autocast) it prints
training tokens/s (forward + backward + AdamW step), inference tokens/s (forward only), and peak
memory, each measured in a fresh subprocess so peaks do not mix. It first checks that both give the
same fp32 outputs and gradients from one state dict.

Roofline: in the same run it measures this machine's fp32 and bf16 matmul rate on the block's own
shapes (``(N, D) x (D, H)`` and back, forward and backward, at the workload's N), and prints each genomix
step's time against the time its matmuls alone would take at that rate (the step's matmul FLOPs, counted
per block over the rows that run it, divided by the rate): a ratio near 1 means the step is bound by its
matmuls, so a number means the same on every machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from plain_chordmixer import PlainChordMixer  # noqa: E402

from genomix import ChordMixer  # noqa: E402
from genomix.models.fast import tune_cpu  # noqa: E402
from genomix.resources import best_step_seconds, peak_memory_mb  # noqa: E402

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


def measure(impl: str, workload_key: str, precision: str, mode: str, device: str, repeats: int) -> dict:
    """One measurement in this process (called in a subprocess by main)."""
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
    best = best_step_seconds(step, repeats=repeats, device=device)
    return {"seconds": best, "tokens_per_s": n_tokens / best, "peak_mb": peak_memory_mb(device)}


def matmul_flops(workload: dict, mode: str) -> float:
    """The matmul FLOPs of one step: per block and row ``4 D H`` forward, ``8 D H`` more backward."""
    net = build("genomix", workload["var_len"])
    width, hidden, blocks = net.embedding_size, MODEL["hidden_size"], net.encoder.n_blocks
    depths = [min(blocks, (length - 1).bit_length()) for length in workload["lengths"]]
    rows = sum(sum(length for length, depth in zip(workload["lengths"], depths) if depth > k) for k in range(blocks))
    return rows * width * hidden * (12 if mode == "train" else 4)


def matmul_rate(precision: str, device: str, rows: int, repeats: int) -> float:
    """FLOP/s of the block's six matmuls (forward and backward) on ``rows`` rows in ``precision``."""
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    width = build("genomix", False).embedding_size
    hidden = MODEL["hidden_size"]
    generator = torch.Generator().manual_seed(0)
    x, grad_out = (torch.randn(rows, width, generator=generator).to(device, dtype) for _ in range(2))
    w1, w2 = torch.randn(hidden, width).to(device, dtype), torch.randn(width, hidden).to(device, dtype)

    def block_matmuls():
        hidden_rows = x @ w1.t()
        _ = hidden_rows @ w2.t()
        grad_hidden = grad_out @ w2
        _ = grad_out.t() @ hidden_rows, grad_hidden.t() @ x, grad_hidden @ w1

    seconds = best_step_seconds(block_matmuls, repeats=repeats, device=device)
    return 12 * rows * width * hidden / seconds


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
        {"impl": args.impl, "workload": args.workload, "precision": args.precision, "mode": args.mode})]
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
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.child:
        tune_cpu()  # as the genomix commands do, before the first large allocation
        spec = json.loads(args.child)
        print(json.dumps(measure(spec["impl"], spec["workload"], spec["precision"], spec["mode"],
                                 args.device, args.repeats)))
        return

    print(f"device: {args.device}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    if args.device == "cuda":
        print(f"gpu: {torch.cuda.get_device_name()}")
    for line in check_equivalence(args.device):
        print("equivalence", line)
    header = f"{'workload':34} {'mode':6} {'prec':5} {'plain tok/s':>12} {'genomix tok/s':>14} {'ratio':>6} " \
             f"{'plain MB':>9} {'genomix MB':>10}"
    print(header)
    results = {}
    for key in args.workloads:
        for mode in ("train", "infer"):
            for precision in args.precisions.split(","):
                row = {}
                for impl in ("plain", "genomix"):
                    ns = argparse.Namespace(impl=impl, workload=key, precision=precision, mode=mode,
                                            device=args.device, repeats=args.repeats, threads=args.threads)
                    row[impl] = run_child(ns)
                results[(key, mode, precision)] = row
                ratio = row["genomix"]["tokens_per_s"] / row["plain"]["tokens_per_s"]
                print(f"{WORKLOADS[key]['label']:34} {mode:6} {precision:5} "
                      f"{row['plain']['tokens_per_s']:12,.0f} {row['genomix']['tokens_per_s']:14,.0f} "
                      f"{ratio:6.2f} {row['plain']['peak_mb']:9,.0f} {row['genomix']['peak_mb']:10,.0f}",
                      flush=True)
    print_roofline(results, args)
    # genomix in its default precision (bf16 where supported) against the published-style fp32 plain
    for key in args.workloads:
        for mode in ("train", "infer"):
            if (key, mode, "bf16") in results and (key, mode, "fp32") in results:
                ratio = (results[(key, mode, "bf16")]["genomix"]["tokens_per_s"]
                         / results[(key, mode, "fp32")]["plain"]["tokens_per_s"])
                print(f"{WORKLOADS[key]['label']:34} {mode:6} genomix bf16 / plain fp32: {ratio:.2f}x")


def print_roofline(results: dict, args: argparse.Namespace) -> None:
    """Each genomix step against its matmul-only time at this machine's measured matmul rate."""
    rates = {}
    for precision in args.precisions.split(","):
        rows = max(sum(workload["lengths"]) for workload in WORKLOADS.values())
        rates[precision] = matmul_rate(precision, args.device, rows, args.repeats)
        print(f"roofline: {precision} matmul rate on the block's shapes ({rows:,} rows): "
              f"{rates[precision] / 1e9:,.1f} GFLOP/s")
    print(f"{'workload':34} {'mode':6} {'prec':5} {'step s':>8} {'matmul-only s':>14} {'step / matmul':>14}")
    for (key, mode, precision), row in results.items():
        step = row["genomix"]["seconds"]
        only = matmul_flops(WORKLOADS[key], mode) / rates[precision]
        print(f"{WORKLOADS[key]['label']:34} {mode:6} {precision:5} {step:8.3f} {only:14.3f} {step / only:13.2f}x")


if __name__ == "__main__":
    main()
