"""Peak memory of this process, for benchmarks and run logs."""

from __future__ import annotations


def peak_memory_mb(device: str = "cpu") -> float:
    """Peak memory in MiB: the CUDA allocator's peak, or the resident-set high-water mark.

    On Linux ``VmHWM`` is per process image; ``ru_maxrss`` is not (it survives ``exec`` from a
    parent that used more), so a benchmark's subprocess would report its parent's peak.
    """
    if device.startswith("cuda"):
        import torch

        return torch.cuda.max_memory_allocated() / 2**20
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def best_step_seconds(step, *, repeats: int, device: str = "cpu", warmup: bool = True) -> float:
    """Fastest of ``repeats`` timed calls of ``step()`` (after one untimed warm-up call), in seconds;
    CUDA work is synchronised before and after each call so the time is the device's."""
    import time

    import torch

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    if warmup:
        step()
    times = []
    for _ in range(max(1, repeats)):
        sync()
        start = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - start)
    return min(times)
