"""The adding problem: a real-valued regression task with extreme length variation.

Each sequence has two channels: channel 0 (``value``) holds values uniform in (-1, 1); channel 1
(``marker``) is 0.0 except for 1.0 at two distinct random positions ``p1 < p2``. The target is
``0.5 + (x[p1] + x[p2]) / 4``, in (0, 1). Lengths are ``int(base_length * LogNormal(mean=0.5,
sigma=0.7))``, redrawn until they lie within ``[32, max_length]`` (the ChordMixer paper's setting;
:data:`PUBLISHED_MAX_LENGTHS` are its maxima). The metric :func:`reg_acc` is the fraction of
predictions within 0.04 of the target.

Values are ``(2k + 1 - 2**23) / 2**23`` for ``k`` uniform in ``0 .. 2**23 - 1``: uniform on a grid of
step ``2**-22`` strictly inside (-1, 1), symmetric about 0 and exactly representable in float32.

Randomness: every split has its own seed sequence ``(seed, split number)`` with independent streams
for lengths, markers and values, so the same seed gives the same arrays, and changing ``n_valid``
does not change the training split.

Storage: sequences are generated in blocks of about :data:`BLOCK_POSITIONS` positions and streamed
to the file through :class:`genomix.datasets.store.DatasetWriter` (the one writer of the dataset
file), so memory stays bounded for any number of sequences. Streamed ``values`` are chunked by column
(``(65536, 1)`` chunks, LZF + shuffle): the marker channel is almost all zeros and compresses to
almost nothing, and shuffling the value channel's bytes packs its low-entropy sign/exponent bytes
together, giving about 3.8 bytes per position instead of float32's 8 (see docs/tasks.md).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genomix.datasets.provenance import make_provenance
from genomix.datasets.splits import SPLIT_NAMES
from genomix.datasets.store import DatasetWriter, SplitArrays, SplitStream
from genomix.errors import ConfigError

logger = logging.getLogger(__name__)

PUBLISHED_MAX_LENGTHS = {200: 6_700, 1_000: 31_800, 16_000: 242_400, 128_000: 1_500_000}
"""Base length -> maximum sequence length used in the ChordMixer paper."""

MIN_LENGTH = 32
LOGNORMAL_MEAN = 0.5
LOGNORMAL_SIGMA = 0.7
TOLERANCE = 0.04
"""``reg_acc`` counts a prediction as correct when ``|prediction - target| <= TOLERANCE``."""

CHANNELS = ("value", "marker")
VOCAB = {name: channel for channel, name in enumerate(CHANNELS)}
"""Stored as the dataset's ``vocab``: channel name -> column of ``values``."""

BLOCK_POSITIONS = 1 << 22
"""Positions generated at once (about 32 MiB of float32 values for 2 channels)."""
MIN_ACCEPTANCE = 1e-4
_VALUE_BITS = 23

ProgressCallback = Callable[[int], None]
"""Called with the number of positions written after each block."""


def reg_acc(predictions: np.ndarray, targets: np.ndarray, *, tolerance: float = TOLERANCE) -> float:
    """The adding problem's accuracy: fraction of predictions within ``tolerance`` of the target.

    Args:
        predictions: ``(n,)`` predicted targets (any shape that flattens to ``n``).
        targets: ``(n,)`` true targets.
        tolerance: the largest absolute error counted as correct (0.04 in the ChordMixer paper).

    Returns:
        The fraction in [0, 1]; ``nan`` when ``n == 0``.

    Raises:
        ValueError: the two arrays hold different numbers of values.
    """
    predictions = np.asarray(predictions, dtype=np.float64).reshape(-1)
    targets = np.asarray(targets, dtype=np.float64).reshape(-1)
    if predictions.shape != targets.shape:
        raise ValueError(f"reg_acc needs as many predictions as targets, got {predictions.size} and {targets.size}")
    if predictions.size == 0:
        return float("nan")
    return float(np.mean(np.abs(predictions - targets) <= tolerance))


def resolve_max_length(base_length: int, max_length: int | None = None) -> int:
    """The maximum length to use: ``max_length`` if given, else the published one for ``base_length``.

    Raises:
        ConfigError: ``base_length`` is below 1, ``max_length`` below :data:`MIN_LENGTH`, no maximum is
            published for this base, or lengths within ``[32, max_length]`` are too rare to draw.
    """
    if base_length < 1:
        raise ConfigError(f"--base-length must be at least 1, got {base_length}")
    if max_length is None:
        if base_length not in PUBLISHED_MAX_LENGTHS:
            raise ConfigError(f"no published maximum length for --base-length {base_length:,} (published: "
                              f"{', '.join(f'{b:,}' for b in PUBLISHED_MAX_LENGTHS)}); give --max-length")
        max_length = PUBLISHED_MAX_LENGTHS[base_length]
    if max_length < MIN_LENGTH:
        raise ConfigError(f"--max-length must be at least {MIN_LENGTH}, got {max_length}")
    accepted = _acceptance(base_length, max_length)
    if accepted < MIN_ACCEPTANCE:
        raise ConfigError(f"with --base-length {base_length:,} only a fraction {accepted:.1e} of lengths fall "
                          f"within [{MIN_LENGTH}, {max_length:,}]; raise --max-length or lower --base-length")
    return int(max_length)


def _acceptance(base_length: int, max_length: int) -> float:
    """P(MIN_LENGTH <= int(base * LogNormal) <= max_length)."""

    def below(x: float) -> float:  # P(base * LogNormal < x)
        z = (math.log(x / base_length) - LOGNORMAL_MEAN) / LOGNORMAL_SIGMA
        return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))

    return below(max_length + 1) - below(MIN_LENGTH)


def draw_lengths(n: int, *, base_length: int, max_length: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` lengths ``int(base_length * LogNormal(0.5, 0.7))``, redrawn until in ``[32, max_length]``.

    Returns:
        ``int64 (n,)`` lengths in positions.
    """
    lengths = np.empty(n, dtype=np.int64)
    todo = np.arange(n)
    while todo.size:
        drawn = np.floor(base_length * rng.lognormal(LOGNORMAL_MEAN, LOGNORMAL_SIGMA, todo.size)).astype(np.int64)
        ok = (drawn >= MIN_LENGTH) & (drawn <= max_length)
        lengths[todo[ok]] = drawn[ok]
        todo = todo[~ok]
    return lengths


def draw_markers(lengths: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
    """Two distinct positions per sequence, uniform over pairs.

    Args:
        lengths: ``int64 (n,)`` sequence lengths, each at least 2.

    Returns:
        ``int64 (n, 2)`` positions ``p1 < p2`` within each sequence.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    first = rng.integers(0, lengths)
    second = rng.integers(0, lengths - 1)
    second += second >= first
    return np.sort(np.stack([first, second], axis=1), axis=1)


def draw_values(size: int, *, rng: np.random.Generator) -> np.ndarray:
    """``float32 (size,)`` values uniform on a grid of step ``2**-22`` strictly inside (-1, 1)."""
    steps = rng.integers(0, 1 << _VALUE_BITS, size=size, dtype=np.int32)
    return (2 * steps + (1 - (1 << _VALUE_BITS))).astype(np.float32) * np.float32(2.0 ** -_VALUE_BITS)


@dataclass
class SplitPlan:
    """What a split will hold, before its values are drawn.

    Attributes:
        name: the split name.
        lengths: ``int64 (n,)`` sequence lengths.
        markers: ``int64 (n, 2)`` marker positions ``p1 < p2`` within each sequence.
        value_rng: the generator that draws the values, in sequence order.
    """

    name: str
    lengths: np.ndarray
    markers: np.ndarray
    value_rng: np.random.Generator

    @property
    def offsets(self) -> np.ndarray:
        """``int64 (n + 1,)`` start of each sequence in the concatenated values."""
        return np.concatenate([[0], np.cumsum(self.lengths)]).astype(np.int64)


def plan_split(name: str, n: int, *, base_length: int, max_length: int, seed: int) -> SplitPlan:
    """Draw the lengths and markers of split ``name`` (its values come later, block by block).

    Raises:
        ConfigError: ``n`` or ``seed`` is negative, or ``name`` is not train/valid/test.
    """
    if n < 0 or seed < 0:
        raise ConfigError(f"sequence counts and --seed must be non-negative, got {n} sequences and seed {seed}")
    if name not in SPLIT_NAMES:
        raise ConfigError(f"split must be one of {', '.join(SPLIT_NAMES)}, got {name!r}")
    length_seed, marker_seed, value_seed = np.random.SeedSequence([seed, SPLIT_NAMES.index(name)]).spawn(3)
    lengths = draw_lengths(n, base_length=base_length, max_length=max_length, rng=np.random.default_rng(length_seed))
    markers = draw_markers(lengths, rng=np.random.default_rng(marker_seed))
    return SplitPlan(name, lengths, markers, np.random.default_rng(value_seed))


def iter_blocks(plan: SplitPlan, *, block_positions: int = BLOCK_POSITIONS) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Draw a split's values block by block, in sequence order.

    A block holds whole sequences, about ``block_positions`` positions (or one longer sequence). The
    arrays do not depend on ``block_positions``.

    Yields:
        ``(values, targets)``: ``float32 (block_length, 2)`` channels and ``float32 (k,)`` targets of
        the block's ``k`` sequences.
    """
    offsets = plan.offsets
    first = 0
    n = len(plan.lengths)
    while first < n:
        last = max(first + 1, int(np.searchsorted(offsets, offsets[first] + block_positions, side="right")) - 1)
        last = min(last, n)
        starts = offsets[first:last] - offsets[first]
        total = int(offsets[last] - offsets[first])
        values = np.zeros((total, len(CHANNELS)), dtype=np.float32)
        values[:, 0] = draw_values(total, rng=plan.value_rng)
        where = starts[:, None] + plan.markers[first:last]
        values[where.reshape(-1), 1] = 1.0
        picked = values[where, 0].astype(np.float64)
        targets = (0.5 + picked.sum(axis=1) / 4.0).astype(np.float32)
        yield values, targets
        first = last


def generate_split(name: str, n: int, *, base_length: int, max_length: int | None = None, seed: int = 0,
                   block_positions: int = BLOCK_POSITIONS) -> SplitArrays:
    """One split of the adding problem in memory (the same arrays :func:`build_adding` writes).

    Args:
        name: ``train``, ``valid`` or ``test`` (each has its own random streams).
        n: number of sequences.
        base_length: the length scale (200, 1,000, 16,000, 128,000 in the paper).
        max_length: the longest allowed sequence; default: the published maximum for ``base_length``.
        seed: the random seed.
        block_positions: positions drawn at once (does not change the result).

    Returns:
        ``values`` ``float32 (total_length, 2)``, ``offsets``, ``labels`` ``float32 (n,)`` targets,
        ``ids``, and ``meta`` columns ``marker1``/``marker2`` (``int64`` positions in each sequence).
    """
    max_length = resolve_max_length(base_length, max_length)
    plan = plan_split(name, n, base_length=base_length, max_length=max_length, seed=seed)
    blocks = list(iter_blocks(plan, block_positions=block_positions))
    values = np.concatenate([b[0] for b in blocks]) if blocks else np.zeros((0, len(CHANNELS)), np.float32)
    targets = np.concatenate([b[1] for b in blocks]) if blocks else np.zeros(0, np.float32)
    return SplitArrays(values=values, offsets=plan.offsets, labels=targets, ids=_ids(name, n),
                       meta={"marker1": plan.markers[:, 0], "marker2": plan.markers[:, 1]})


def build_adding(
    out: str | os.PathLike,
    *,
    base_length: int,
    n_train: int,
    n_valid: int,
    n_test: int,
    max_length: int | None = None,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    command: Sequence[str] | None = None,
) -> dict:
    """Generate the adding problem and stream it to a dataset file (written atomically).

    Args:
        out: the ``.h5`` file to write.
        base_length: the length scale.
        n_train, n_valid, n_test: sequences per split (a split with 0 is not written).
        max_length: the longest allowed sequence; default: the published maximum for ``base_length``.
        seed: the random seed.
        progress: called with the positions written after each block.
        command: the command line recorded in the provenance (default ``sys.argv``).

    Returns:
        ``{"out", "task", "base_length", "max_length", "seed", "splits": {name: {"sequences",
        "positions", "length": {"min", "median", "max"}, "target": {"mean", "min", "max"}}},
        "positions", "file_bytes", "bytes_per_position"}``.

    Raises:
        ConfigError: a bad option (nothing is written).
    """
    max_length = resolve_max_length(base_length, max_length)
    if n_train < 1:
        raise ConfigError(f"--n-train must be at least 1, got {n_train}")
    counts = {"train": n_train, "valid": n_valid, "test": n_test}
    plans = [plan_split(name, n, base_length=base_length, max_length=max_length, seed=seed)
             for name, n in counts.items() if n]
    options = {"base_length": base_length, "max_length": max_length, **{f"n_{k}": v for k, v in counts.items()}}
    provenance = make_provenance([], seed=seed, command=command, options=options)
    summaries = _write_file(Path(out), plans, provenance=provenance,
                            attrs={"generator": "adding", "base_length": base_length,
                                   "max_length": max_length}, progress=progress)
    positions = sum(s["positions"] for s in summaries.values())
    size = Path(out).stat().st_size
    return {"out": str(out), "task": "regression", "base_length": base_length, "max_length": max_length,
            "seed": seed, "splits": summaries, "positions": positions, "file_bytes": size,
            "bytes_per_position": size / positions}


def _ids(name: str, n: int) -> list[str]:
    return [f"adding-{name}-{k:07d}" for k in range(n)]


def _write_file(target: Path, plans: list[SplitPlan], *, provenance: dict, attrs: dict,
                progress: ProgressCallback | None) -> dict:
    """Stream the splits into a new dataset file (atomic: :class:`DatasetWriter`)."""
    with DatasetWriter(target, task="regression", alphabet="values", vocab=VOCAB, classes=None,
                       provenance=provenance, extra_attrs=attrs) as writer:
        summaries = {plan.name: _write_split(writer.stream_split(plan.name, offsets=plan.offsets,
                                                                 channels=len(CHANNELS)), plan, progress)
                     for plan in plans}
    return summaries


def _write_split(stream: SplitStream, plan: SplitPlan, progress: ProgressCallback | None) -> dict:
    targets = []
    for values, block_targets in iter_blocks(plan):
        stream.write(values)
        targets.append(block_targets)
        if progress is not None:
            progress(len(values))
    labels = np.concatenate(targets) if targets else np.zeros(0, np.float32)
    n = len(plan.lengths)
    stream.finish(labels=labels, ids=_ids(plan.name, n),
                  meta={"marker1": plan.markers[:, 0], "marker2": plan.markers[:, 1]})
    return {"sequences": n, "positions": int(plan.offsets[-1]),
            "length": {"min": int(plan.lengths.min()), "median": float(np.median(plan.lengths)),
                       "max": int(plan.lengths.max())},
            "target": {"mean": float(labels.mean()), "min": float(labels.min()), "max": float(labels.max())}}
