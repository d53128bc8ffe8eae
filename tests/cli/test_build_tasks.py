"""``build-dataset adding | listops | text`` through click: help, success, summaries, error paths."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from genomix.cli.build_tasks import adding, listops, text
from genomix.datasets.store import open_dataset


def _invoke(command, *args):
    return CliRunner().invoke(command, ["--quiet", *map(str, args)])


def _assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize(("command", "option"), [(adding, "--base-length"), (listops, "--max-depth"),
                                                 (text, "--jsonl")])
def test_help(command, option):
    result = CliRunner().invoke(command, ["--help"])
    assert result.exit_code == 0 and "Usage" in result.output and option in result.output


def test_adding_builds_and_is_deterministic(tmp_path):
    args = ["--base-length", 200, "--max-length", 500, "--n-train", 20, "--n-valid", 4, "--n-test", 4,
            "--seed", 7]
    first = _invoke(adding, *args, "--out", tmp_path / "a.h5")
    assert first.exit_code == 0, first.output
    assert "bytes per position" in first.output and "train: 20 sequences" in first.output
    second = _invoke(adding, *args, "--out", tmp_path / "b.h5", "--json")
    summary = json.loads(second.output)
    assert summary["splits"]["test"]["sequences"] == 4 and summary["max_length"] == 500
    with open_dataset(tmp_path / "a.h5") as a, open_dataset(tmp_path / "b.h5") as b:
        for name in ("train", "valid", "test"):
            sa, sb = a.split(name), b.split(name)
            assert np.array_equal(sa.read_many(range(len(sa)))[0], sb.read_many(range(len(sb)))[0])
            assert np.array_equal(sa.labels, sb.labels)
            assert sa.lengths.max() <= 500 and sa.lengths.min() >= 32
        assert a.provenance["command"].startswith("genomix")


def test_adding_errors(tmp_path):
    out = tmp_path / "a.h5"
    _assert_one_line_error(_invoke(adding, "--base-length", 300, "--out", out), "no published maximum",
                           "--max-length")
    _assert_one_line_error(_invoke(adding, "--base-length", 200, "--max-length", 20, "--out", out), "at least 32")
    assert _invoke(adding, "--n-train", 0, "--out", out).exit_code == 2
    assert not list(tmp_path.iterdir())


def test_listops_builds(tmp_path):
    out = tmp_path / "l.h5"
    result = _invoke(listops, "--n-train", 30, "--n-valid", 5, "--n-test", 5, "--min-length", 20,
                     "--max-length", 200, "--seed", 3, "--out", out)
    assert result.exit_code == 0, result.output
    assert "train: 30 expressions" in result.output and f"wrote {out}" in result.output
    with open_dataset(out) as dataset:
        assert dataset.alphabet == "bytes" and len(dataset.classes) == 10
        assert dataset.split("valid").lengths.max() <= 200


def test_listops_errors(tmp_path):
    out = tmp_path / "l.h5"
    _assert_one_line_error(_invoke(listops, "--min-length", 300, "--max-length", 200, "--out", out),
                           "--min-length")
    assert _invoke(listops, "--max-depth", 1, "--out", out).exit_code == 2
    assert not out.exists()


def _tsv(path, rows):
    path.write_text("id\tbody\tlabel\n" + "".join("\t".join(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_text_builds_from_tsv_and_jsonl(tmp_path):
    rows = [(f"r{k}", f"text number {k} ünïcödé", "a" if k % 2 else "b") for k in range(20)]
    tsv = _tsv(tmp_path / "t.tsv", rows)
    result = _invoke(text, "--tsv", tsv, "--text-column", "body", "--id-column", "id", "--out", tmp_path / "t.h5")
    assert result.exit_code == 0, result.output
    assert "documents read: 20, kept: 20" in result.output and "length (bytes)" in result.output
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text("".join(json.dumps({"body": t, "label": l}) + "\n" for _, t, l in rows), encoding="utf-8")
    result = _invoke(text, "--jsonl", jsonl, "--text-column", "body", "--min-count", 11, "--json",
                     "--out", tmp_path / "j.h5")
    _assert_one_line_error(result, "no records left")
    result = _invoke(text, "--jsonl", jsonl, "--text-column", "body", "--json", "--out", tmp_path / "j.h5")
    assert json.loads(result.output)["kept"] == 20


def test_text_austen(shared_data, tmp_path):
    result = _invoke(text, "--tsv", shared_data / "text" / "austen_chapters.tsv.gz", "--label-column", "novel",
                     "--out", tmp_path / "austen.h5")
    assert result.exit_code == 0, result.output
    assert "documents read: 269, kept: 269" in result.output and "prideprejudice" in result.output


def test_text_errors(tmp_path):
    tsv = _tsv(tmp_path / "t.tsv", [("r1", "some text", "a"), ("r2", "", "b")])
    out = tmp_path / "out.h5"
    _assert_one_line_error(_invoke(text, "--tsv", tsv, "--out", out), "no text column 'text'", "'body'")
    _assert_one_line_error(_invoke(text, "--tsv", tsv, "--text-column", "body", "--out", out),
                           "line 3: empty text")
    _assert_one_line_error(_invoke(text, "--text-column", "body", "--out", out), "exactly one of --tsv")
    _assert_one_line_error(_invoke(text, "--tsv", tsv, "--jsonl", tsv, "--text-column", "body", "--out", out),
                           "exactly one of --tsv")
    _assert_one_line_error(_invoke(text, "--tsv", tsv, "--text-column", "body", "--split", "0.5,0.5",
                                   "--out", out), "--split")
    assert _invoke(text, "--tsv", tmp_path / "missing.tsv", "--out", out).exit_code == 2
    assert not out.exists()
