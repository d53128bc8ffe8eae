"""Per-window predictions as BED6+N: one line per window, readable by bedtools, IGV and the UCSC browser.

Columns (tab-separated, 0-based half-open coordinates): ``chrom`` (record id), ``chromStart``,
``chromEnd``, ``name`` (the most probable class), ``score`` (its probability x 1000, rounded to an
integer in 0..1000), ``strand`` (always ``.``: a window is classified from both strands' point of view
only with ``--rc``, and never belongs to one), then one column per class, ``p_<class>``, the class
probabilities (the "+N" extension). The header holds a ``track`` line and a ``#`` line naming every
column, both of which BED readers skip.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from genomix.io.predictions import PredictionWriter, RecordPrediction, clean_field, format_probability

BED_COLUMNS = ("chrom", "chromStart", "chromEnd", "name", "score", "strand")


class BedPredictionWriter(PredictionWriter):
    """Write one BED6+N line per window (see the module docstring for the columns)."""

    def write_header(self) -> None:
        extra = ",".join(f"p_{clean_field(name)}" for name in self.classes)
        self.stream.write(
            f'track name=genomix_annotate type=bed6+{len(self.classes)} description="ChordMixer windows: '
            f'name = predicted class, score = 1000 x its probability, columns 7+ ({extra}) = class probabilities"\n'
        )
        for line in self.header_lines:
            self.stream.write(f"# {line}\n")
        columns = [*BED_COLUMNS, *(f"p_{clean_field(name)}" for name in self.classes)]
        self.stream.write("#" + "\t".join(columns) + "\n")

    def write_batch(self, records: Sequence[RecordPrediction]) -> None:
        names = [clean_field(name) for name in self.classes]
        lines = []
        for record in records:
            for window in record.windows:
                probabilities = np.asarray(window.probabilities)
                best = int(np.argmax(probabilities))
                score = min(max(round(float(probabilities[best]) * 1000), 0), 1000)
                values = "\t".join(format_probability(p) for p in probabilities)
                lines.append(f"{record.id}\t{window.start}\t{window.end}\t{names[best]}\t{score}\t.\t{values}\n")
        self.stream.write("".join(lines))
