"""ListOps (Long Range Arena): nested list operations over digits, a 10-class task.

An expression such as ``[MAX 2 9 [MIN 4 7 ] 0 ]`` applies ``MAX``, ``MIN``, ``MED`` (median, rounded
down as ``int(np.median(...))`` in LRA) or ``SM`` (sum modulo 10) to 2 to ``max_args`` arguments,
each a digit or another expression, nested at most ``max_depth`` deep. The label is the value, 0-9.
The generator is LRA's (``lra_benchmarks/data/listops.py``): a node at depth ``< max_depth`` is an
operator with probability 0.25, else a digit; trees are kept when their token count lies within
``[min_length, max_length]`` (LRA: 500 and 2,000). A tree is abandoned as soon as it passes
``max_length``, which draws the same distribution of kept trees far faster.

**Tokens.** Each LRA token is stored as one byte (alphabet ``bytes``, so no new alphabet is needed and
the sequence length is LRA's token count): digits ``0``-``9`` as themselves, ``[MAX`` as ``X``, ``[MIN``
as ``N``, ``[MED`` as ``D``, ``[SM`` as ``S``, and ``]`` as itself. ``[MAX 2 9 [MIN 4 7 ] 0 ]`` is stored
as ``X29N47]0]``; :func:`to_lra_text` and :func:`from_lra_text` convert.

Randomness: each split draws from its own ``random.Random("listops:<seed>:<split>")`` (Mersenne
Twister, stable across Python versions), so the same seed gives the same file.
"""

from __future__ import annotations

import logging
import os
import random
import statistics
from collections.abc import Callable, Sequence

import numpy as np

from genomix.datasets.provenance import make_provenance
from genomix.datasets.splits import SPLIT_NAMES
from genomix.datasets.store import SplitArrays, write_dataset
from genomix.errors import ConfigError, InputFormatError

logger = logging.getLogger(__name__)

OPERATORS = ("[MAX", "[MIN", "[MED", "[SM")
END = "]"
OPERATOR_BYTES = ("X", "N", "D", "S")
TOKEN_BYTES = {**dict(zip(OPERATORS, OPERATOR_BYTES)), END: END, **{str(d): str(d) for d in range(10)}}
"""LRA token -> the one character stored for it."""
VOCAB = {token: ord(char) for token, char in TOKEN_BYTES.items()}
"""Stored as the dataset's ``vocab``: LRA token -> stored token (its byte value)."""
CLASSES = [str(d) for d in range(10)]

OPERATOR_P = 0.25
MAX_DEPTH = 10
MAX_ARGS = 10
MIN_LENGTH = 500
MAX_LENGTH = 2_000
DEFAULT_COUNTS = {"train": 96_000, "valid": 2_000, "test": 2_000}

ProgressCallback = Callable[[int], None]
"""Called with 1 for each expression kept."""

_DIGIT_CHARS = [str(d) for d in range(10)]
_BYTE_TO_TOKEN = {ord(char): token for token, char in TOKEN_BYTES.items()}


class _TooLong(Exception):
    """Raised inside the generator when a tree passes ``max_length`` tokens."""


def _median(args: list[int]) -> int:
    ordered = sorted(args)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) // 2


_APPLY = (max, min, _median, lambda args: sum(args) % 10)


def _tree(draw: Callable[[], float], out: list[str], depth: int, max_depth: int, max_args: int,
          max_length: int) -> int:
    """Append one random (sub)expression's characters to ``out`` and return its value."""
    if depth < max_depth and draw() <= OPERATOR_P:
        n_args = 2 + int(draw() * (max_args - 1))
        operator = int(draw() * len(OPERATORS))
        out.append(OPERATOR_BYTES[operator])
        args = [_tree(draw, out, depth + 1, max_depth, max_args, max_length) for _ in range(n_args)]
        out.append(END)
        if len(out) > max_length:
            raise _TooLong
        return _APPLY[operator](args)
    value = int(draw() * 10)
    out.append(_DIGIT_CHARS[value])
    if len(out) > max_length:
        raise _TooLong
    return value


def generate_expressions(
    n: int,
    *,
    seed: int = 0,
    split: str = "train",
    min_length: int = MIN_LENGTH,
    max_length: int = MAX_LENGTH,
    max_depth: int = MAX_DEPTH,
    max_args: int = MAX_ARGS,
    progress: ProgressCallback | None = None,
) -> tuple[list[bytes], np.ndarray]:
    """Draw ``n`` ListOps expressions and their values.

    Args:
        n: number of expressions.
        seed: the random seed.
        split: ``train``, ``valid`` or ``test`` (each has its own random stream).
        min_length, max_length: the allowed token counts (inclusive).
        max_depth: the deepest nesting (the outermost operator is depth 1).
        max_args: the most arguments of one operator (at least 2).
        progress: called with 1 per expression kept.

    Returns:
        ``(expressions, labels)``: each expression as its stored characters (one byte per LRA token,
        see the module docstring) and ``int64 (n,)`` values 0-9.

    Raises:
        ConfigError: an option is out of range.
    """
    _check_options(n, min_length=min_length, max_length=max_length, max_depth=max_depth, max_args=max_args)
    if split not in SPLIT_NAMES:
        raise ConfigError(f"split must be one of {', '.join(SPLIT_NAMES)}, got {split!r}")
    draw = random.Random(f"listops:{seed}:{split}").random
    expressions: list[bytes] = []
    labels = np.empty(n, dtype=np.int64)
    while len(expressions) < n:
        out: list[str] = []
        try:
            value = _tree(draw, out, 1, max_depth, max_args, max_length)
        except _TooLong:
            continue
        if len(out) < min_length:
            continue
        labels[len(expressions)] = value
        expressions.append("".join(out).encode("ascii"))
        if progress is not None:
            progress(1)
    return expressions, labels


def _check_options(n: int, *, min_length: int, max_length: int, max_depth: int, max_args: int) -> None:
    if n < 0:
        raise ConfigError(f"the number of expressions must be non-negative, got {n}")
    if max_depth < 2 or max_args < 2:
        raise ConfigError(f"--max-depth and --max-args must be at least 2, got {max_depth} and {max_args}")
    if min_length < 1 or max_length < min_length:
        raise ConfigError(f"need 1 <= --min-length <= --max-length, got {min_length} and {max_length}")
    longest = _longest(max_depth, max_args)
    if min_length > longest:
        raise ConfigError(f"--min-length {min_length:,} exceeds the longest possible expression "
                          f"({longest:,} tokens with --max-depth {max_depth} and --max-args {max_args})")
    if max_length < 5:
        raise ConfigError(f"--max-length must be at least 5 (the shortest expression, e.g. [MAX 1 2 ]), "
                          f"got {max_length}")


def _longest(max_depth: int, max_args: int) -> int:
    """Token count of the full tree: every node above ``max_depth`` an operator with ``max_args`` arguments."""
    length = 1
    for _ in range(max_depth - 1):
        length = 2 + max_args * length
    return length


def evaluate(text: str) -> int:
    """Evaluate one expression written as LRA text, independently of the generator.

    Args:
        text: whitespace-separated LRA tokens, e.g. ``"[MAX 2 9 [MIN 4 7 ] 0 ]"``; the ``(`` and ``)``
            of LRA's released TSV files are ignored.

    Returns:
        The value, 0-9.

    Raises:
        InputFormatError: an unknown token, an operator without arguments, an unmatched ``]``, an
            unclosed operator, or not exactly one top-level value.
    """
    operators: list[str] = []
    arguments: list[list[int]] = [[]]
    for position, token in enumerate(text.split(), start=1):
        if token in ("(", ")"):
            continue
        if token in OPERATORS:
            operators.append(token)
            arguments.append([])
        elif token == END:
            if not operators:
                raise InputFormatError(f"ListOps token {position}: ']' closes no operator")
            args, operator = arguments.pop(), operators.pop()
            if not args:
                raise InputFormatError(f"ListOps token {position}: {operator} has no arguments")
            arguments[-1].append(_evaluate_operator(operator, args))
        elif len(token) == 1 and token.isdigit():
            arguments[-1].append(int(token))
        else:
            raise InputFormatError(f"ListOps token {position}: {token!r} is not a digit, ']' or one of "
                                   f"{', '.join(OPERATORS)}")
    if operators:
        raise InputFormatError(f"ListOps expression ends with {len(operators)} unclosed operator(s)")
    if len(arguments[0]) != 1:
        raise InputFormatError(f"a ListOps expression has one top-level value, got {len(arguments[0])}")
    return arguments[0][0]


def _evaluate_operator(operator: str, args: list[int]) -> int:
    if operator == "[MAX":
        return max(args)
    if operator == "[MIN":
        return min(args)
    if operator == "[MED":
        return int(statistics.median(args))
    return sum(args) % 10


def to_lra_text(tokens: np.ndarray | bytes) -> str:
    """Stored tokens ``uint8 (length,)`` -> LRA text (``"[MAX 2 9 ]"``).

    Raises:
        InputFormatError: a byte is not a ListOps token.
    """
    raw = bytes(np.asarray(tokens, dtype=np.uint8)) if not isinstance(tokens, bytes) else tokens
    try:
        return " ".join(_BYTE_TO_TOKEN[byte] for byte in raw)
    except KeyError as error:
        raise InputFormatError(f"byte {error.args[0]} is not a stored ListOps token "
                               f"(expected one of {''.join(TOKEN_BYTES.values())})") from None


def from_lra_text(text: str) -> np.ndarray:
    """LRA text -> stored tokens ``uint8 (n_tokens,)`` (``(`` and ``)`` dropped).

    Raises:
        InputFormatError: a token is not a ListOps token.
    """
    chars = []
    for token in text.split():
        if token in ("(", ")"):
            continue
        if token not in TOKEN_BYTES:
            raise InputFormatError(f"{token!r} is not a ListOps token (expected a digit, ']' or one of "
                                   f"{', '.join(OPERATORS)})")
        chars.append(TOKEN_BYTES[token])
    return np.frombuffer("".join(chars).encode("ascii"), dtype=np.uint8).copy()


def build_listops(
    out: str | os.PathLike,
    *,
    n_train: int = DEFAULT_COUNTS["train"],
    n_valid: int = DEFAULT_COUNTS["valid"],
    n_test: int = DEFAULT_COUNTS["test"],
    min_length: int = MIN_LENGTH,
    max_length: int = MAX_LENGTH,
    max_depth: int = MAX_DEPTH,
    max_args: int = MAX_ARGS,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    command: Sequence[str] | None = None,
) -> dict:
    """Generate ListOps and write a classification dataset (alphabet ``bytes``, 10 classes).

    Args:
        out: the ``.h5`` file to write (atomically).
        n_train, n_valid, n_test: expressions per split (a split with 0 is not written).
        min_length, max_length, max_depth, max_args, seed: see :func:`generate_expressions`.
        progress: called with 1 per expression kept.
        command: the command line recorded in the provenance (default ``sys.argv``).

    Returns:
        ``{"out", "task", "seed", "splits": {name: {"sequences", "tokens", "length": {"min",
        "median", "max"}, "class_counts": {digit: count}}}}``.

    Raises:
        ConfigError: an option is out of range (nothing is written).
    """
    if n_train < 1:
        raise ConfigError(f"--n-train must be at least 1, got {n_train}")
    counts = {"train": n_train, "valid": n_valid, "test": n_test}
    for n in counts.values():
        _check_options(n, min_length=min_length, max_length=max_length, max_depth=max_depth, max_args=max_args)
    options = {"min_length": min_length, "max_length": max_length, "max_depth": max_depth,
               "max_args": max_args, **{f"n_{k}": v for k, v in counts.items()}}
    splits: dict[str, SplitArrays] = {}
    for name, n in counts.items():
        if n:
            expressions, labels = generate_expressions(n, seed=seed, split=name, progress=progress, **{
                k: options[k] for k in ("min_length", "max_length", "max_depth", "max_args")})
            splits[name] = _arrays(name, expressions, labels)
    write_dataset(out, splits, task="classification", alphabet="bytes", vocab=VOCAB, classes=CLASSES,
                  provenance=make_provenance([], seed=seed, command=command, options=options),
                  extra_attrs={"generator": "listops"})
    return {"out": str(out), "task": "classification", "seed": seed,
            "splits": {name: _split_summary(arrays) for name, arrays in splits.items()}}


def _arrays(name: str, expressions: list[bytes], labels: np.ndarray) -> SplitArrays:
    lengths = np.array([len(e) for e in expressions], dtype=np.int64)
    return SplitArrays(tokens=np.frombuffer(b"".join(expressions), dtype=np.uint8).copy(),
                       offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
                       labels=labels, ids=[f"listops-{name}-{k:06d}" for k in range(len(expressions))])


def _split_summary(arrays: SplitArrays) -> dict:
    lengths = np.diff(arrays.offsets)
    counts = np.bincount(arrays.labels, minlength=len(CLASSES))
    return {"sequences": len(arrays), "tokens": int(lengths.sum()),
            "length": {"min": int(lengths.min()), "median": float(np.median(lengths)), "max": int(lengths.max())},
            "class_counts": {name: int(c) for name, c in zip(CLASSES, counts)}}
