"""Corpus mixing for masked-nucleotide pretraining: how much of each source file a training epoch sees.

A pretraining corpus (``genomix build-dataset pretrain``) records each window's input file in
``meta/source_file``. ``source_weights = {"enhancers.train.fa.gz" = 4}`` multiplies that file's share of the
training tokens by 4 (every other file keeps weight 1): the training epoch is a fixed list of *draws*,
each window of a file of weight ``w`` drawn ``floor(w)`` times, plus once more for a seeded choice of
``round(frac(w) * n)`` of the file's ``n`` windows (a weight below 1 keeps that many of them; 0 leaves the
file out of training, its held-out windows are still scored). A file's share of the epoch's tokens is
then ``w * tokens(file) / sum(w' * tokens(file'))`` (exactly, for integer weights).

Why a multiplier per file and not a temperature (``p(source) ~ tokens ** alpha``, XLM-R): the user who
pretrains on a large off-domain corpus plus a little in-domain DNA wants to raise *one* file, and a
temperature raises every small file at once, by its size and not by its use (docs/pretraining.md, "Corpus
mixing"); a multiplier says exactly what it does, and weights of 1 are the unweighted corpus.

Each draw is its own index of the epoch (:class:`WeightedSplit`): the crop, strand and mask of a
repeated window are drawn anew for every copy, and the first copy of every window keeps its own index,
so all weights 1 give exactly the unweighted batches.

:func:`evaluate_by_source` scores a masked-LM model on the held-out windows of each source beside the
unigram and context predictors fitted on that source's training windows only.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from genomix.errors import ConfigError

logger = logging.getLogger(__name__)

SOURCE_COLUMN = "source_file"


def check_source_weights(weights: Mapping[str, Any]) -> list[str]:
    """Every problem with the values of ``source_weights`` (names, and whether any window is left, are checked
    against the corpus, by :func:`source_draws`)."""
    problems = []
    for name, weight in weights.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
            problems.append(f"source_weights: the weight of {name!r} should be a number >= 0, got {weight!r}")
    return problems


def source_draws(sources: Sequence[str], weights: Mapping[str, float], *, seed: int) -> np.ndarray:
    """The windows one training epoch draws: ``int64 (m,)`` indices into the split (see the module docstring).

    Args:
        sources: ``(n,)`` each window's source file.
        weights: a multiplier per source file (missing: 1).
        seed: seeds the choice of the fractional extra draws.

    Returns:
        Draw ``j`` reads window ``draws[j]``. The windows of weight >= 1 come first, in order (``draws[:n]`` is
        ``arange(n)`` when no weight is below 1), then the further whole copies, then the fractional ones.

    Raises:
        ConfigError: a name that is no source of ``sources`` (one line listing them), a bad weight, or
            every window at weight 0.
    """
    sources = np.asarray(sources, dtype=object)
    known = list(dict.fromkeys(sources.tolist()))
    problems = check_source_weights(weights)
    unknown = [name for name in weights if name not in known]
    if unknown:
        problems.append(f"source_weights names {', '.join(repr(n) for n in unknown)}, not a source file of the "
                        f"training split; its files are: {', '.join(known)}")
    if problems:
        raise ConfigError("; ".join(problems))
    codes = _codes(sources, known)
    per_window = np.array([float(weights.get(name, 1.0)) for name in known])[codes]
    if not (per_window > 0).any():
        raise ConfigError(f"source_weights leaves no training window: every source file has weight 0 "
                          f"({', '.join(known)})")
    whole = np.floor(per_window).astype(np.int64)
    draws = [np.flatnonzero(whole >= copy) for copy in range(1, int(whole.max(initial=0)) + 1)]
    rng = np.random.default_rng([seed, 3])
    for number, name in enumerate(known):
        weight = float(weights.get(name, 1.0))
        fraction = weight - math.floor(weight)
        if fraction <= 0:
            continue
        members = np.flatnonzero(codes == number)
        extra = int(round(fraction * len(members)))
        if extra:
            draws.append(np.sort(rng.choice(members, size=extra, replace=False)))
    drawn = np.concatenate(draws) if draws else np.empty(0, dtype=np.int64)
    if not len(drawn):
        raise ConfigError(f"source_weights leaves no training window (weights {dict(weights)})")
    return drawn.astype(np.int64)


def _codes(sources: np.ndarray, known: list[str]) -> np.ndarray:
    number = {name: i for i, name in enumerate(known)}
    return np.array([number[name] for name in sources.tolist()], dtype=np.int64)


def token_shares(sources: Sequence[str], lengths: np.ndarray, draws: np.ndarray | None = None) -> dict[str, float]:
    """Each source's share of the tokens of ``draws`` (all windows once when ``None``)."""
    sources = np.asarray(sources, dtype=object)
    lengths = np.asarray(lengths, dtype=np.int64)
    chosen = np.arange(len(sources)) if draws is None else np.asarray(draws)
    totals: dict[str, int] = {}
    for name, length in zip(sources[chosen].tolist(), lengths[chosen].tolist()):
        totals[name] = totals.get(name, 0) + int(length)
    whole = sum(totals.values()) or 1
    return {name: totals.get(name, 0) / whole for name in dict.fromkeys(sources.tolist())}


class WeightedSplit:
    """A split seen through a list of draws: draw ``j`` is window ``draws[j]`` of ``split``.

    It has what the trainer's batches read (``name``, ``len``, ``lengths``, ``read_many``); batch readers seed
    crops, strands and masks by the draw index, so each copy of a window gets its own.
    """

    def __init__(self, split: Any, draws: np.ndarray) -> None:
        self.split = split
        self.draws = np.asarray(draws, dtype=np.int64)
        self.name = split.name
        self._lengths = np.asarray(split.lengths, dtype=np.int64)[self.draws]

    def __len__(self) -> int:
        return len(self.draws)

    @property
    def lengths(self) -> np.ndarray:
        """``int64 (m,)``: the length of each draw's window."""
        return self._lengths

    def read_many(self, indices: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The windows of draws ``indices``, concatenated (as :meth:`SplitView.read_many`)."""
        return self.split.read_many(self.draws[np.asarray(indices, dtype=np.int64)])


def weighted_training_split(split: Any, weights: Mapping[str, float], *, seed: int) -> Any:
    """``split`` itself when ``weights`` is empty or all 1, else a :class:`WeightedSplit` of its draws.

    Raises:
        ConfigError: the split has no source files recorded, or a bad name or weight.
    """
    if not weights:
        return split
    if SOURCE_COLUMN not in split.meta_columns:
        raise ConfigError(f"source_weights needs a corpus that records each window's {SOURCE_COLUMN} "
                          f"(genomix build-dataset pretrain); split {split.name!r} has no meta/{SOURCE_COLUMN}")
    sources = split.meta(SOURCE_COLUMN)
    draws = source_draws(sources, weights, seed=seed)
    before = token_shares(sources, split.lengths)
    after = token_shares(sources, split.lengths, draws)
    logger.info("source_weights: %s", "; ".join(f"{name} x{float(weights.get(name, 1.0)):g}: {after[name]:.1%} of "
                                               f"training tokens ({before[name]:.1%} unweighted)" for name in before))
    if len(draws) == len(split) and np.array_equal(draws, np.arange(len(split))):
        return split
    return WeightedSplit(split, draws)


class SubsetSplit(WeightedSplit):
    """The windows ``indices`` of a split, under the name ``name`` (e.g. one source's windows)."""

    def __init__(self, split: Any, indices: np.ndarray, *, name: str) -> None:
        super().__init__(split, indices)
        self.name = name


def evaluate_by_source(model: Any, dataset: Any, *, plan: Any, seed: int, split: str = "valid",
                       sources: Sequence[str] | None = None, max_tokens: int = 32768,
                       device: str = "cpu", precision: str = "auto") -> dict[str, dict[str, Any]]:
    """Masked accuracy of ``model`` on each source's windows of ``split``, beside baselines of that source.

    The unigram and context predictors are fitted on the source's *training* windows only (both strands,
    epoch-0 masks), so a source that is a small share of the corpus is compared with a predictor of its
    own DNA, the strongest cheap baseline for it.

    Returns:
        ``{source: metrics}``: the metrics of :meth:`MaskedLMTask.evaluate_split` plus ``windows``.
    """
    from genomix.training.masked_lm import MaskedLMTask

    train, held_out = dataset.split("train"), dataset.split(split)
    train_sources, held_sources = train.meta(SOURCE_COLUMN), held_out.meta(SOURCE_COLUMN)
    names = list(sources) if sources is not None else list(dict.fromkeys(held_sources.tolist()))
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        train_rows = np.flatnonzero(train_sources == name)
        held_rows = np.flatnonzero(held_sources == name)
        if not len(train_rows) or not len(held_rows):
            logger.warning("source %s has no %s windows; not scored", name, "train" if not len(train_rows) else split)
            continue
        task = MaskedLMTask(dataset, plan=plan, seed=seed)
        task.fit_baselines(SubsetSplit(train, train_rows, name=f"train:{name}"))
        metrics = task.evaluate_split(model, SubsetSplit(held_out, held_rows, name=f"{split}:{name}"),
                                      max_tokens=max_tokens, device=device, precision=precision)
        out[name] = {**metrics, "windows": int(len(held_rows))}
    return out


__all__ = ["source_draws", "token_shares", "WeightedSplit", "SubsetSplit", "weighted_training_split",
           "evaluate_by_source", "check_source_weights", "SOURCE_COLUMN"]
