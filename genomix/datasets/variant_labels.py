"""Labels of variants from an INFO field: regression when numeric, classes otherwise, or a value map.

Numeric values (every non-missing value parses as a finite number) and no ``classes``: regression.
Otherwise classification: classes are ``classes`` in the given order (other values are skipped as
``label_not_in_classes``) or the sorted distinct values. ``--label-map 'Cfrm*=1,*=0'`` maps values to
class indices ``0..K-1``: exact keys first, then glob patterns in the order given; class ``i`` is named
by its keys joined by ``|`` (``*`` alone reads ``other``); unmapped values are ``label_not_mapped``.
Missing values (``.``, empty, NaN) are ``missing_label``.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from genomix.errors import ConfigError

MISSING = (None, "", ".")


@dataclass(frozen=True)
class Labels:
    """Labels of the items that have a usable one.

    Attributes:
        labels: ``float32 (n_kept,)`` (regression) or ``int64 (n_kept,)`` class indices.
        kind: ``"regression"`` or ``"classification"``.
        classes: class names (index = label), ``None`` for regression.
        kept: indices of the items kept, in order.
        reasons: index -> skip reason, for the others.
    """

    labels: np.ndarray
    kind: str
    classes: list[str] | None
    kept: list[int]
    reasons: dict[int, str]


def parse_label_map(text: str | None) -> dict[str, int] | None:
    """``"Cfrm=1,Reported=0"`` -> ``{"Cfrm": 1, "Reported": 0}`` (keys may be glob patterns, see :func:`map_label`).

    Raises:
        ConfigError: not ``VALUE=INDEX`` pairs, or the indices are not ``0..K-1`` with ``K >= 2``.
    """
    if text is None:
        return None
    mapping: dict[str, int] = {}
    for pair in filter(None, (part.strip() for part in text.split(","))):
        value, sep, index = pair.rpartition("=")
        if not sep or not value:
            raise ConfigError(f"--label-map must be VALUE=CLASS_INDEX pairs like 'Cfrm=1,Reported=0', got {pair!r}")
        try:
            mapping[value] = int(index)
        except ValueError:
            raise ConfigError(f"--label-map class indices must be integers, got {index!r} in {pair!r}") from None
    indices = sorted(set(mapping.values()))
    if len(indices) < 2 or indices != list(range(len(indices))):
        raise ConfigError(f"--label-map must map to class indices 0..K-1 with K >= 2, got {sorted(set(mapping.values()))}")
    return mapping


def map_label(value: str, mapping: dict[str, int]) -> int | None:
    """The class index of ``value``: an exact key first, then glob patterns (``Cfrm*``, ``*``) in order."""
    if value in mapping:
        return mapping[value]
    for pattern, index in mapping.items():
        if any(char in pattern for char in "*?[") and fnmatch.fnmatchcase(value, pattern):
            return index
    return None


def assign_labels(values: Sequence[object], *, mapping: dict[str, int] | None, classes: Sequence[str] | None,
                  label_field: str) -> Labels:
    """Decide the label kind and each item's label (rules in the module docstring).

    Args:
        values: the raw INFO value of each item.
        mapping: from :func:`parse_label_map`, or ``None``.
        classes: the classes to keep, in index order, or ``None``.
        label_field: the INFO field, named in messages.

    Raises:
        ConfigError: classification with fewer than two classes.
    """
    keep = [i for i, value in enumerate(values) if not is_missing(value)]
    reasons = {i: "missing_label" for i, value in enumerate(values) if is_missing(value)}
    if mapping is None and not classes and keep and all(as_number(values[i]) is not None for i in keep):
        numbers = np.array([as_number(values[i]) for i in keep], dtype=np.float32)
        return Labels(numbers, "regression", None, keep, reasons)
    text = {i: str(values[i]) for i in keep}
    if mapping is not None:
        indices = {i: map_label(text[i], mapping) for i in keep}
        class_names = ["|".join("other" if v == "*" else v for v, k in mapping.items() if k == index)
                       for index in range(max(mapping.values()) + 1)]
        reason = "label_not_mapped"
    else:
        class_names = list(classes) if classes else sorted(set(text.values()))
        position = {name: index for index, name in enumerate(class_names)}
        indices = {i: position.get(text[i]) for i in keep}
        reason = "label_not_in_classes"
    if len(class_names) < 2:
        raise ConfigError(f"INFO/{label_field} gives {len(class_names)} class ({', '.join(class_names)}); "
                          f"classification needs at least 2 (or numeric values for regression)")
    for i in keep:
        if indices[i] is None:
            reasons[i] = reason
    kept = [i for i in keep if indices[i] is not None]
    return Labels(np.array([indices[i] for i in kept], dtype=np.int64), "classification", class_names, kept, reasons)


def is_missing(value: object) -> bool:
    """Whether an INFO value counts as missing (``.``, empty, absent, NaN)."""
    return value in MISSING or (isinstance(value, float) and math.isnan(value))


def as_number(value: object) -> float | None:
    """The value as a finite float, or ``None``."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
