"""The outputs of an annotate run: ``out`` (TSV, or BED by suffix) and/or ``bed``, checked and opened once.

:func:`genomix.inference.annotate.annotate_fasta` (records of a FASTA file) and
:func:`genomix.inference.regions.annotate_regions` (regions of a reference) take the same pair of
outputs; this module holds what they share, so both refuse the same bad pairs with the same words.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Sequence

from genomix.errors import ConfigError
from genomix.io.predictions import PredictionWriter, check_output_path, open_prediction_writer
from genomix.validation import check_output_not_input

Output = str | os.PathLike | None


def _given(out: Output, bed: Output) -> list[tuple[str | os.PathLike, str, str]]:
    """``(path, format of '-', option)`` of each output given, ``out`` first."""
    return [(path, default, option) for path, default, option in ((out, ".tsv", "--out"), (bed, ".bed", "--bed"))
            if path is not None]


def output_problems(out: Output, bed: Output, *, regions: bool = False) -> list[str]:
    """Everything wrong with an ``out`` / ``bed`` pair (empty when nothing is), before any work starts.

    Args:
        out, bed: the outputs (``None``: not given; ``"-"``: standard output).
        regions: the records are regions of a reference (``.bed`` writes one line per region).

    Returns:
        One message per problem, in a fixed order: no output, both on standard output, the same file,
        then each path's own problem (unknown suffix, a directory).
    """
    problems = []
    if out is None and bed is None:
        problems.append("give an output: out (TSV, or BED by suffix) and/or bed")
    if out is not None and bed is not None and str(out) == "-" and str(bed) == "-":
        problems.append("only one output can go to standard output ('-')")
    if out is not None and bed is not None and str(out) != "-" and os.path.abspath(out) == os.path.abspath(bed):
        problems.append(f"out and bed are the same file ({out})")
    for path, default, _ in _given(out, bed):
        try:
            check_output_path(path, default=default, regions=regions)
        except ConfigError as error:
            problems.append(str(error))
    return problems


def check_outputs_not_inputs(out: Output, bed: Output, inputs: Iterable[str | os.PathLike | None]) -> None:
    """Refuse an output that is one of the inputs (see :func:`genomix.validation.check_output_not_input`).

    Raises:
        ConfigError: naming the option (``--out`` or ``--bed``) and the input.
    """
    inputs = list(inputs)
    for path, _, option in _given(out, bed):
        check_output_not_input(path, inputs, option=option)


def open_outputs(stack: contextlib.ExitStack, out: Output, bed: Output, *, classes: Sequence[str],
                 regions: bool = False) -> list[PredictionWriter]:
    """The writers of the outputs given (``out`` first), each closed by ``stack``.

    Raises:
        ConfigError: an unknown suffix.
    """
    return [stack.enter_context(open_prediction_writer(path, classes=classes, default=default, regions=regions))
            for path, default, _ in _given(out, bed)]
