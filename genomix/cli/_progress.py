"""The counting progress bar of the commands whose library call reports progress as counts (bases,
records, regions, ...): on stderr, gone when the call ends, absent with ``--quiet``."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def progress_counter(quiet: bool, *, unit: str, desc: str) -> Iterator[Callable[[int], object] | None]:
    """Yield the ``update`` of a tqdm counter, to hand to the library call as its ``progress`` callback
    (``None`` with ``quiet``); the bar is closed when the block ends, however it ends."""
    if quiet:
        yield None
        return
    from tqdm import tqdm

    bar = tqdm(unit=unit, unit_scale=True, desc=desc, file=sys.stderr, leave=False)
    try:
        yield bar.update
    finally:
        bar.close()
