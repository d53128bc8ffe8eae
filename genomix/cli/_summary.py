"""Lines the build commands' printed summaries share."""

from __future__ import annotations


def skipped_lines(skipped: dict[str, int], first: dict[str, str] | None = None) -> list[str]:
    """``skipped: N``, then one indented line per reason with its count (and its first example, from ``first``)."""
    lines = [f"skipped: {sum(skipped.values()):,}"]
    for reason, count in skipped.items():
        lines.append(f"  {reason}: {count:,}" + ("" if first is None else f" (first: {first[reason]})"))
    return lines
