"""Per-record predictions as a tab-separated table: one header line, one row per record.

Columns: ``id``, ``length`` (bases), ``class`` (the most probable class), then ``p_<class>`` for each
class in the model's order. Lines starting with ``#`` before the header are comments (e.g. the command
that wrote the file). A record cut into windows gets the length-weighted mean of its windows'
probabilities (see :mod:`genomix.inference.annotate`); the writer only serialises.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from genomix.io.predictions import PredictionWriter, RecordPrediction, clean_field, format_probability


class TsvPredictionWriter(PredictionWriter):
    """Write one row per record (see the module docstring for the columns)."""

    def write_header(self) -> None:
        for line in self.header_lines:
            self.stream.write(f"# {line}\n")
        columns = ["id", "length", "class", *(f"p_{clean_field(name)}" for name in self.classes)]
        self.stream.write("\t".join(columns) + "\n")

    def write_batch(self, records: Sequence[RecordPrediction]) -> None:
        lines = []
        for record in records:
            probabilities = np.asarray(record.probabilities)
            best = clean_field(self.classes[int(np.argmax(probabilities))])
            values = "\t".join(format_probability(p) for p in probabilities)
            lines.append(f"{record.id}\t{record.length}\t{best}\t{values}\n")
        self.stream.write("".join(lines))
