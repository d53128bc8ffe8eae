# Reproduces the build times and file sizes in docs/tasks.md: the adding problem (base 16,000 with 1,000
# training sequences: the issue asks for under a minute and at most 8.5 bytes per position; base 200 at
# the recipe's size), LRA ListOps at its published size, and the Austen chapters as byte-level text.
# Run from the repository root:  .venv/bin/python pipelines/bench_tasks.py [--listops-train 96000]
"""Benchmark the generic-task dataset builders: wall time, peak memory, file size."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
AUSTEN = DATA / "text" / "austen_chapters.tsv.gz"

# Each build runs in a fresh interpreter so its peak memory (ru_maxrss) is its own.
RUNNER = """
import json, resource, sys, time
kind, out, options = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
start = time.perf_counter()
if kind == "adding":
    from genomix.datasets.adding import build_adding as build
    summary = build(out, command=["bench"], **options)
elif kind == "listops":
    from genomix.datasets.listops import build_listops as build
    summary = build(out, command=["bench"], **options)
else:
    from genomix.datasets.text import build_text as build
    summary = build(options.pop("path"), out, command=["bench"], **options)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "summary": summary}))
"""


def run(kind: str, options: dict, directory: str) -> dict:
    """Build one dataset in a subprocess; returns seconds, peak MiB, file bytes and the summary."""
    out = os.path.join(directory, f"{kind}.h5")
    done = subprocess.run([sys.executable, "-c", RUNNER, kind, out, json.dumps(options)], check=True,
                          capture_output=True, text=True)
    result = json.loads(done.stdout)
    result["file_bytes"] = os.path.getsize(out)
    os.remove(out)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listops-train", type=int, default=96_000, help="ListOps training expressions.")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}")
    with tempfile.TemporaryDirectory() as directory:
        for label, options in [
            ("adding base 16,000, 1,000/100/100", dict(base_length=16_000, n_train=1_000, n_valid=100, n_test=100)),
            ("adding base 16,000, train only 1,000", dict(base_length=16_000, n_train=1_000, n_valid=0, n_test=0)),
            ("adding base 200, 50,000/5,000/5,000", dict(base_length=200, n_train=50_000, n_valid=5_000,
                                                         n_test=5_000)),
        ]:
            result = run("adding", options, directory)
            summary = result["summary"]
            print(f"{label}: {result['seconds']:.1f} s, peak {result['peak_mib']:.0f} MiB, "
                  f"{summary['positions']:,} positions, {result['file_bytes'] / 2**20:.1f} MiB, "
                  f"{summary['bytes_per_position']:.2f} bytes/position")
        counts = dict(n_train=args.listops_train, n_valid=2_000, n_test=2_000)
        result = run("listops", counts, directory)
        tokens = sum(split["tokens"] for split in result["summary"]["splits"].values())
        print(f"listops {args.listops_train:,}/2,000/2,000: {result['seconds']:.1f} s, peak "
              f"{result['peak_mib']:.0f} MiB, {tokens:,} tokens, {result['file_bytes'] / 2**20:.1f} MiB")
        if AUSTEN.exists():
            result = run("text", dict(path=str(AUSTEN), file_format="tsv", text_column="text",
                                      label_column="novel"), directory)
            print(f"text (Austen, 269 chapters): {result['seconds']:.2f} s, peak {result['peak_mib']:.0f} MiB, "
                  f"{result['summary']['length']['total']:,} bytes of text, "
                  f"{result['file_bytes'] / 2**20:.1f} MiB file")


if __name__ == "__main__":
    main()
