"""The out/bed pair of annotate and annotate --regions: every problem at once, the option named, writers in order."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

from genomix.errors import ConfigError
from genomix.inference.outputs import check_outputs_not_inputs, open_outputs, output_problems
from genomix.io.predictions import RecordPrediction, WindowPrediction


def test_a_good_pair_has_no_problem(tmp_path):
    assert output_problems(tmp_path / "a.tsv", tmp_path / "a.bed") == []
    assert output_problems("-", tmp_path / "a.bed") == []
    assert output_problems(None, "-", regions=True) == []


def test_every_problem_is_listed_at_once(tmp_path):
    (tmp_path / "folder.tsv").mkdir()
    problems = output_problems(tmp_path / "folder.tsv", tmp_path / "a.csv")
    assert len(problems) == 2
    assert "is a directory" in problems[0] and "a.csv" in problems[1]
    assert output_problems(None, None) == ["give an output: out (TSV, or BED by suffix) and/or bed"]
    assert any("standard output" in problem for problem in output_problems("-", "-"))
    assert any("same file" in problem for problem in output_problems(tmp_path / "x.bed", tmp_path / "x.bed"))


def test_an_output_that_is_an_input_names_its_option(tmp_path):
    fasta = tmp_path / "in.fa"
    fasta.write_text(">a\nACGT\n")
    check_outputs_not_inputs(tmp_path / "a.tsv", None, [fasta, None])
    with pytest.raises(ConfigError, match="--bed .*in.fa is the input file"):
        check_outputs_not_inputs(tmp_path / "a.tsv", fasta, [None, fasta])
    with pytest.raises(ConfigError, match="--out "):
        check_outputs_not_inputs(fasta, None, iter([fasta]))


def test_open_outputs_writes_each_given_output_out_first(tmp_path):
    probabilities = np.array([0.25, 0.75], dtype=np.float32)
    record = RecordPrediction("r1", 4, probabilities, [WindowPrediction(0, 4, probabilities)])
    out, bed = tmp_path / "p.tsv", tmp_path / "p.bed"
    with contextlib.ExitStack() as stack:
        writers = open_outputs(stack, out, bed, classes=["a", "b"])
        assert [writer.path for writer in writers] == [str(out), str(bed)]
        for writer in writers:
            writer.write_batch([record])
    assert "r1" in out.read_text() and "r1" in bed.read_text()
    with contextlib.ExitStack() as stack:
        assert [writer.path for writer in open_outputs(stack, None, bed, classes=["a", "b"])] == [str(bed)]
