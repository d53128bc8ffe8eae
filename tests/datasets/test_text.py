"""Byte-level text builder: the Austen chapters round trip, TSV and JSON Lines, every error path."""

from __future__ import annotations

import csv
import gzip
import json

import numpy as np
import pytest

from genomix.alphabet import BYTES
from genomix.datasets.builder import Filters
from genomix.datasets.store import open_dataset
from genomix.datasets.text import build_text, read_text_rows
from genomix.errors import AlphabetError, GenomixError, InputFormatError

AUSTEN = "text/austen_chapters.tsv.gz"


def _austen_rows(path):
    csv.field_size_limit(1 << 30)
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def test_austen_chapters_round_trip_byte_for_byte(shared_data, tmp_path):
    path = shared_data / AUSTEN
    out = tmp_path / "austen.h5"
    summary = build_text(path, out, file_format="tsv", text_column="text", label_column="novel",
                         id_column=None, seed=0, command=["test"])
    rows = _austen_rows(path)
    assert summary["kept"] == len(rows) == 269 and len(summary["classes"]) == 6
    texts = {f"line{k + 2}": row for k, row in enumerate(rows)}  # no quoted newlines in this file
    with open_dataset(out) as dataset:
        assert dataset.alphabet == "bytes" and dataset.task == "classification"
        assert sorted(dataset.classes) == sorted({row["novel"] for row in rows})
        seen = 0
        for name in dataset.split_names:
            split = dataset.split(name)
            assert split.meta_columns == ["chapter", "n_words"]
            for k in range(len(split)):
                row = texts[split.ids[k]]
                assert bytes(split[k]) == row["text"].encode("utf-8")
                assert BYTES.decode(split[k]) == row["text"]
                assert dataset.classes[split.labels[k]] == row["novel"]
                seen += 1
        assert seen == 269
        assert dataset.provenance["inputs"][0]["sha256"]


def test_austen_split_is_stratified_and_seeded(shared_data, tmp_path):
    path = shared_data / AUSTEN
    kwargs = dict(file_format="tsv", text_column="text", label_column="novel", command=["test"])
    a = build_text(path, tmp_path / "a.h5", seed=1, **kwargs)
    b = build_text(path, tmp_path / "b.h5", seed=1, **kwargs)
    with open_dataset(tmp_path / "a.h5") as one, open_dataset(tmp_path / "b.h5") as two:
        for name in ("train", "valid", "test"):
            assert one.split(name).ids == two.split(name).ids
    for counts in a["classes"].values():
        assert counts["valid"] >= 2 and counts["test"] >= 2
    assert a["classes"] == b["classes"]


def _write_tsv(path, rows, header=("id", "text", "label")):
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _write_jsonl(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def test_any_language_and_quoted_tabs_and_newlines(tmp_path):
    rows = [("a", "naïve café\tand a tab", "fr"), ("b", "多言語のテキスト\nwith a newline", "ja"),
            ("c", "plain", "en"), ("d", "Ελληνικά", "el")]
    path = _write_tsv(tmp_path / "t.tsv", rows)
    parsed = list(read_text_rows(path, file_format="tsv", text_column="text", label_column="label",
                                 id_column="id"))
    assert [(r.record_id, r.text, r.label) for r in parsed] == rows
    assert [r.line for r in parsed] == [2, 3, 5, 6]
    out = tmp_path / "t.h5"
    build_text(path, out, file_format="tsv", text_column="text", label_column="label", id_column="id",
               fractions=(1.0, 0.0, 0.0), command=["test"])
    with open_dataset(out) as dataset:
        train = dataset.split("train")
        got = {train.ids[k]: BYTES.decode(train[k]) for k in range(len(train))}
        assert got == {r[0]: r[1] for r in rows}
        assert len(train[1]) == len(got[train.ids[1]].encode("utf-8"))


def test_jsonl_matches_tsv(tmp_path):
    rows = [(f"r{k}", f"document {k} " * (k + 1), "odd" if k % 2 else "even") for k in range(20)]
    tsv = _write_tsv(tmp_path / "t.tsv", rows)
    jsonl = _write_jsonl(tmp_path / "t.jsonl", [{"id": i, "text": t, "label": l, "n": 3} for i, t, l in rows])
    common = dict(text_column="text", label_column="label", id_column="id", seed=4, command=["test"])
    build_text(tsv, tmp_path / "a.h5", file_format="tsv", **common)
    build_text(jsonl, tmp_path / "b.h5", file_format="jsonl", **common)
    with open_dataset(tmp_path / "a.h5") as a, open_dataset(tmp_path / "b.h5") as b:
        for name in a.split_names:
            sa, sb = a.split(name), b.split(name)
            assert sa.ids == sb.ids and np.array_equal(sa.labels, sb.labels)
            assert np.array_equal(sa.read_many(range(len(sa)))[0], sb.read_many(range(len(sb)))[0])


def test_min_count_drops_rare_classes(tmp_path):
    rows = [(f"r{k}", f"text {k}", "common") for k in range(10)] + [("x", "rare text", "rare")]
    path = _write_tsv(tmp_path / "t.tsv", rows)
    summary = build_text(path, tmp_path / "t.h5", file_format="tsv", text_column="text", label_column="label",
                         filters=Filters(min_count=2), command=["test"])
    assert list(summary["classes"]) == ["common"] and summary["kept"] == 10


@pytest.mark.parametrize(("rows", "kwargs", "error", "match"), [
    ([("a", "x", "l")], {"text_column": "body"}, InputFormatError, "no text column 'body'"),
    ([("a", "x", "l")], {"label_column": "class"}, InputFormatError, "no label column 'class'"),
    ([("a", "x", "l"), ("b", "  ", "l")], {}, InputFormatError, "line 3: empty text"),
    ([("a", "x", "")], {}, InputFormatError, "line 2: empty label"),
    ([], {}, InputFormatError, "no rows"),
    ([("a", "x\x00y", "l")], {}, AlphabetError, "NUL"),
    ([("a", "x", "l")], {"filters": Filters(min_len=10)}, GenomixError, "no records left"),
])
def test_errors_write_nothing(tmp_path, rows, kwargs, error, match):
    path = _write_tsv(tmp_path / "t.tsv", rows)
    options = {"text_column": "text", "label_column": "label", "command": ["test"], **kwargs}
    out = tmp_path / "out" / "t.h5"
    with pytest.raises(error, match=match):
        build_text(path, out, file_format="tsv", **options)
    assert not out.exists() and not (out.parent.exists() and list(out.parent.iterdir()))


@pytest.mark.parametrize(("content", "match"), [
    ('{"text": "a", "label": "x"}\n{"text": "b"\n', "line 2: not valid JSON"),
    ('["a", "x"]\n', "expected a JSON object"),
    ('{"body": "a", "label": "x"}\n', "line 1: no text key 'text'"),
    ('{"text": 5, "label": "x"}\n', "should be a string"),
    ('{"text": "", "label": "x"}\n', "empty text"),
    ("\n\n", "no rows"),
])
def test_jsonl_errors(tmp_path, content, match):
    path = tmp_path / "t.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputFormatError, match=match):
        build_text(path, tmp_path / "t.h5", file_format="jsonl", text_column="text", label_column="label",
                   command=["test"])
    assert not (tmp_path / "t.h5").exists()


def test_unknown_format(tmp_path):
    with pytest.raises(ValueError, match="known: tsv, jsonl"):
        list(read_text_rows(tmp_path / "x", file_format="csv", text_column="t", label_column="l"))
