"""Prediction writers: TSV and BED6+N by suffix, temp name + rename, nothing left behind on error."""

from __future__ import annotations

import numpy as np
import pytest

from genomix.errors import ConfigError
from genomix.io.bed import BedPredictionWriter
from genomix.io.predictions import RecordPrediction, WindowPrediction, check_output_path, open_prediction_writer
from genomix.io.tsv_writer import TsvPredictionWriter

CLASSES = ["Haplorrhini", "Strep sirrhini"]


def _record(record_id: str = "NC_1", length: int = 25) -> RecordPrediction:
    windows = [WindowPrediction(0, 10, np.array([0.9, 0.1])), WindowPrediction(10, 20, np.array([0.2, 0.8])),
               WindowPrediction(20, length, np.array([0.5004, 0.4996]))]
    return RecordPrediction(record_id, length, np.array([0.25, 0.75], dtype=np.float32), windows)


def test_suffix_picks_the_writer(tmp_path):
    assert isinstance(open_prediction_writer(tmp_path / "a.tsv", classes=CLASSES), TsvPredictionWriter)
    assert isinstance(open_prediction_writer(tmp_path / "a.BED", classes=CLASSES), BedPredictionWriter)
    assert isinstance(open_prediction_writer("-", classes=CLASSES, default=".bed"), BedPredictionWriter)


@pytest.mark.parametrize("name", ["a.csv", "a.tsv.gz", "noext"])
def test_unknown_suffix_lists_the_known_ones(tmp_path, name):
    with pytest.raises(ConfigError, match=r"\.tsv, \.txt, \.bed"):
        check_output_path(tmp_path / name, default=".tsv")
    folder = tmp_path / "folder.tsv"
    folder.mkdir()
    with pytest.raises(ConfigError, match="directory"):
        check_output_path(folder, default=".tsv")


def test_tsv_one_row_per_record(tmp_path):
    path = tmp_path / "out.tsv"
    with open_prediction_writer(path, classes=CLASSES) as writer:
        writer.write_batch([_record("a"), _record("b", 30)])
        assert not path.exists()  # written under a temporary name until closed
    lines = path.read_text().splitlines()
    assert lines[0].split("\t") == ["id", "length", "class", "p_Haplorrhini", "p_Strep_sirrhini"]
    assert lines[1].split("\t") == ["a", "25", "Strep_sirrhini", "0.25", "0.75"]
    assert lines[2].split("\t")[:2] == ["b", "30"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tsv"]


def test_bed_one_line_per_window(tmp_path):
    path = tmp_path / "out.bed"
    with open_prediction_writer(path, classes=CLASSES, header=["genomix annotate m.pt x.fa"]) as writer:
        writer.write_batch([_record()])
    lines = path.read_text().splitlines()
    assert lines[0].startswith("track ") and "bed6+2" in lines[0]
    assert lines[1] == "# genomix annotate m.pt x.fa"
    assert lines[2].split("\t")[:7] == ["#chrom", "chromStart", "chromEnd", "name", "score", "strand", "p_Haplorrhini"]
    rows = [line.split("\t") for line in lines[3:]]
    assert [row[:6] for row in rows] == [["NC_1", "0", "10", "Haplorrhini", "900", "."],
                                         ["NC_1", "10", "20", "Strep_sirrhini", "800", "."],
                                         ["NC_1", "20", "25", "Haplorrhini", "500", "."]]
    assert all(len(row) == 6 + len(CLASSES) for row in rows)


def test_error_leaves_no_file(tmp_path):
    path = tmp_path / "out.tsv"
    with pytest.raises(RuntimeError), open_prediction_writer(path, classes=CLASSES) as writer:
        writer.write_batch([_record()])
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_stdout(capsys):
    writer = open_prediction_writer("-", classes=CLASSES)
    writer.write_batch([_record()])
    writer.close()
    assert capsys.readouterr().out.splitlines()[1].startswith("NC_1\t25\t")
