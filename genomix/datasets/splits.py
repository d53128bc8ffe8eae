"""Train/valid/test splits: stratified by label, optionally by group, deterministic under a seed.

Reusable by every builder. Items that share a group (``--group-by`` value, or identical sequence)
always land in the same split. Within each class (a group's class is its most common label), groups
are shuffled with the seed and each goes to the split whose share of that class is furthest below
its target, so every class is split in the requested proportions as closely as whole groups allow.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence

import numpy as np

from genomix.errors import ConfigError
from genomix.validation import check_seed

SPLIT_NAMES = ("train", "valid", "test")


def parse_fractions(text: str) -> tuple[float, float, float]:
    """Parse ``--split`` text such as ``"0.8,0.1,0.1"`` into (train, valid, test) fractions.

    Raises:
        ConfigError: not three non-negative numbers summing to 1.
    """
    try:
        fractions = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise ConfigError(f"--split must be three numbers like 0.8,0.1,0.1 (train,valid,test), got {text!r}") from None
    return check_fractions(fractions)


def check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    """Check (train, valid, test) fractions: three non-negative numbers summing to 1 and train > 0.

    Raises:
        ConfigError: they are not.
    """
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) != 3 or any(not np.isfinite(f) or f < 0 for f in fractions):
        raise ConfigError(f"--split needs three non-negative fractions (train,valid,test), got {fractions}")
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise ConfigError(f"--split fractions must sum to 1, got {fractions} (sum {sum(fractions):g})")
    if fractions[0] <= 0:
        raise ConfigError(f"--split needs a train fraction above 0, got {fractions}")
    return fractions  # type: ignore[return-value]


def merge_groups(*keys: Sequence[Hashable | None]) -> np.ndarray:
    """Connected components over several keys: items sharing any non-``None`` key share a group.

    Args:
        keys: one or more key lists of equal length ``n`` (``None`` = no key).

    Returns:
        ``int64 (n,)`` group numbers, numbered in order of first appearance.
    """
    n = len(keys[0]) if keys else 0
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for key_list in keys:
        if len(key_list) != n:
            raise ValueError(f"group keys must all have {n} entries, got {len(key_list)}")
        first: dict[Hashable, int] = {}
        for i, key in enumerate(key_list):
            if key is None:
                continue
            j = first.setdefault(key, i)
            root_i, root_j = find(i), find(j)
            if root_i != root_j:
                parent[max(root_i, root_j)] = min(root_i, root_j)
    roots = [find(i) for i in range(n)]
    numbers: dict[int, int] = {}
    return np.array([numbers.setdefault(root, len(numbers)) for root in roots], dtype=np.int64)


def overlap_groups(spans: Sequence[tuple[Hashable, int, int]]) -> list[int]:
    """Component number per span: spans that overlap on one contig, directly or through a chain, share one.

    Args:
        spans: ``(contig, start, end)`` per item, half-open (touching spans do not overlap).

    Returns:
        ``n`` component numbers (usable as a key of :func:`merge_groups`).
    """
    order = sorted(range(len(spans)), key=lambda i: (str(spans[i][0]), spans[i][1]))
    component = [0] * len(spans)
    current, chrom, reach = -1, None, -1
    for i in order:
        span_chrom, start, end = spans[i]
        if span_chrom != chrom or start >= reach:
            current += 1
            chrom, reach = span_chrom, end
        reach = max(reach, end)
        component[i] = current
    return component


def split_indices(
    labels: Sequence[Hashable],
    fractions: Sequence[float],
    *,
    seed: int,
    groups: Sequence[Hashable] | None = None,
) -> dict[str, np.ndarray]:
    """Assign items to train/valid/test, stratified by label, keeping groups whole.

    Args:
        labels: ``n`` labels (any sortable hashable).
        fractions: (train, valid, test) fractions, see :func:`check_fractions`.
        seed: the random seed; the same inputs and seed give the same split.
        groups: ``n`` group keys; items with the same key go to the same split. ``None``: each item
            is its own group.

    Returns:
        split name -> sorted ``int64`` item indices; every item is in exactly one split.
    """
    fractions = np.array(check_fractions(fractions))
    seed = check_seed(seed)
    n = len(labels)
    group_ids = np.arange(n) if groups is None else merge_groups(list(groups))
    members: dict[int, list[int]] = {}
    for i, group in enumerate(group_ids):
        members.setdefault(int(group), []).append(i)
    by_class: dict[Hashable, list[int]] = {}
    for group, items in members.items():
        counts = Counter(labels[i] for i in items)
        label = min(counts, key=lambda value: (-counts[value], str(value)))
        by_class.setdefault(label, []).append(group)
    rng = np.random.default_rng(seed)
    assignment = np.empty(n, dtype=np.int64)
    for label in sorted(by_class, key=str):
        class_groups = by_class[label]
        order = rng.permutation(len(class_groups))
        target = fractions * sum(len(members[g]) for g in class_groups)
        filled = np.zeros(len(SPLIT_NAMES))
        for position in order:
            group = class_groups[position]
            split = int(np.argmax(np.where(fractions > 0, target - filled, -np.inf)))
            assignment[members[group]] = split
            filled[split] += len(members[group])
    return {name: np.flatnonzero(assignment == s) for s, name in enumerate(SPLIT_NAMES)}
