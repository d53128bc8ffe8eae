"""Label tables (TSV)."""

from __future__ import annotations

import pytest

from genomix.errors import InputFormatError
from genomix.io.tables import read_label_table


def test_reads_the_shared_table(shared_data):
    table = read_label_table(shared_data / "taxonomy" / "Insects.labels.tsv")
    assert len(table.rows) == 898
    assert table.columns == ("id", "label", "length", "accession", "source_file")
    assert table.rows["Insects_00000"]["label"] == "Coleoptera"


@pytest.mark.parametrize("text, message", [
    ("", "empty label table"),
    ("name\tlabel\na\tb\n", "no column 'id'"),
    ("id\tlabel\na\tb\tc\n", "line 2: 3 fields, expected 2"),
    ("id\tlabel\na\t\n", "line 2: empty label"),
    ("id\tlabel\na\tb\na\tc\n", "line 3: id 'a' occurs twice"),
])
def test_bad_tables_fail(tmp_path, text, message):
    path = tmp_path / "labels.tsv"
    path.write_text(text)
    with pytest.raises(InputFormatError, match=message):
        read_label_table(path)


def test_other_column_names(tmp_path):
    path = tmp_path / "labels.tsv"
    path.write_text("acc\torder\nX1\tDiptera\n")
    table = read_label_table(path, id_column="acc", label_column="order")
    assert table.rows == {"X1": {"acc": "X1", "order": "Diptera"}}
