"""torchrun --nproc_per_node 2 on CPU (gloo): completes, ranks see disjoint batches, only rank 0 writes."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import TINY

from genomix.training import rundir


@pytest.mark.slow
def test_torchrun_two_processes_on_cpu(orchid_h5, tmp_path):
    torchrun = Path(sys.executable).parent / "torchrun"
    if not torchrun.exists():
        pytest.skip("torchrun is not installed beside this python")
    genomix = shutil.which("genomix", path=str(Path(sys.executable).parent))
    out = tmp_path / "ddp"
    result = subprocess.run(
        [str(torchrun), "--standalone", "--nproc_per_node", "2", genomix, "train", str(orchid_h5), "--out", str(out),
         "--verbose", "--device", "cpu", *TINY, "epochs=2", "eval_every=0", "checkpoint_every=4", "final_test=true"],
        check=False, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    batches: dict[tuple[str, str], list[set[int]]] = {}
    for rank, epoch, indices in re.findall(r"rank (\d) epoch (\d+) batch ([\d,]+)", result.stderr):
        batches.setdefault((rank, epoch), []).append({int(i) for i in indices.split(",")})
    for epoch in ("0", "1"):
        zero, one = batches[("0", epoch)], batches[("1", epoch)]
        assert len(zero) == len(one)  # the same number of batches
        seen_zero, seen_one = set().union(*zero), set().union(*one)
        assert not seen_zero & seen_one  # disjoint
        assert len(seen_zero | seen_one) == 57  # together: every train sequence
    writers = set(re.findall(r"rank (\d) writes", result.stderr))
    assert writers == {"0"}
    assert sorted(p.name for p in out.iterdir()) == ["best.pt", "config.json", "last.pt", "metrics.jsonl",
                                                     "test_metrics.json"]
    state = torch.load(out / rundir.LAST, weights_only=True)["train_state"]
    assert state["finished"] and len(state["sampler_by_rank"]) == 2
    assert len(rundir.read_metrics(out)) == 2
