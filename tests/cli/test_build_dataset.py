"""``genomix build-dataset taxonomy`` through click: success, every real GenBank file, every error path."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from genomix.cli import cli
from genomix.datasets.store import open_dataset

NOT_GENBANK = (".rst", ".faa", ".fna", ".ffn", ".tsv")


def _run(*args: str):
    return CliRunner().invoke(cli, ["build-dataset", "taxonomy", "--quiet", *map(str, args)])


def _assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_help():
    for args in (["build-dataset", "--help"], ["build-dataset", "taxonomy", "--help"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0 and "Usage" in result.output
    assert "--label-regex" in result.output and "--group-by" in result.output


def test_ls_orchid_by_genus(shared_data, tmp_path):
    out = tmp_path / "orchid.h5"
    result = _run("--genbank", shared_data / "genbank" / "ls_orchid.gbk", "--rank", "genus", "--out", out)
    assert result.exit_code == 0, result.output
    assert "records read: 94" in result.output and "kept: 94 in 4 classes" in result.output
    assert "Paphiopedilum" in result.output and "length (bp): min 572" in result.output
    with open_dataset(out) as dataset:
        assert dataset.classes == ["Cypripedium", "Mexipedium", "Paphiopedilum", "Phragmipedium"]
        assert dataset.provenance["command"].startswith("genomix ")


def test_progress_bar_goes_to_stderr(fixtures, tmp_path):
    result = CliRunner().invoke(cli, [
        "build-dataset", "taxonomy", "--genbank", str(fixtures / "genbank" / "cor6_6.gb"),
        "--label-from", "organism", "--out", str(tmp_path / "d.h5")])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("records read: 6")


def test_insects_json_summary(shared_data, tmp_path):
    import json

    result = _run("--fasta", shared_data / "taxonomy" / "Insects.fasta.gz", "--labels",
                  shared_data / "taxonomy" / "Insects.labels.tsv", "--out", tmp_path / "i.h5", "--json",
                  "--split", "0.7,0.15,0.15", "--seed", "5")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert len(summary["classes"]) == 7 and summary["kept"] == 898


def _genbank_files():
    root = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "genbank"
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.endswith(NOT_GENBANK))


@pytest.mark.slow
@pytest.mark.parametrize("path", _genbank_files(), ids=lambda p: p.name)
def test_every_shared_genbank_file_builds_or_fails_in_one_line(path, tmp_path):
    out = tmp_path / "d.h5"
    result = _run("--genbank", path, "--label-from", "organism", "--split", "1,0,0", "--out", out)
    if result.exit_code == 0:
        assert out.exists()
    else:
        _assert_one_line_error(result, str(path), "record")
        assert not out.exists() and os.listdir(tmp_path) == []


def _fasta_and_table(tmp_path, records, labels):
    fasta = tmp_path / "in.fa"
    fasta.write_text("".join(f">{name}\n{seq}\n" for name, seq in records))
    table = tmp_path / "labels.tsv"
    table.write_text("id\tlabel\n" + "".join(f"{name}\t{label}\n" for name, label in labels))
    return fasta, table


@pytest.mark.parametrize("case", ["empty", "garbage", "truncated_gz", "missing_ids", "bad_char", "none_left",
                                  "not_fasta"])
def test_bad_inputs_fail_cleanly(tmp_path, case):
    out = tmp_path / "out" / "d.h5"
    out.parent.mkdir()
    fasta, table = _fasta_and_table(tmp_path, [("a", "ACGT" * 50), ("b", "GGCC" * 50)], [("a", "x"), ("b", "y")])
    args = ["--labels", table]
    expected = {"empty": "no FASTA record found", "garbage": "not a text file", "truncated_gz": "truncated gzip",
                "missing_ids": "1 of 2 records have no label", "bad_char": "record b at base 3: 'X'",
                "none_left": "no records left after filtering", "not_fasta": "not a FASTA file"}[case]
    if case == "empty":
        fasta.write_bytes(b"")
    elif case == "garbage":
        fasta = tmp_path / "garbage.fa.gz"
        fasta.write_bytes(gzip.compress(b">a\n" + os.urandom(4000)))
    elif case == "truncated_gz":
        data = gzip.compress("".join(f">r{i}\n{'ACGT' * 100}\n" for i in range(200)).encode())
        fasta = tmp_path / "cut.fa.gz"
        fasta.write_bytes(data[: len(data) // 2])
    elif case == "missing_ids":
        table.write_text("id\tlabel\na\tx\n")
    elif case == "bad_char":
        fasta.write_text(">a\nACGT\n>b\nACXT\n")
    elif case == "none_left":
        args += ["--min-len", "1000"]
    elif case == "not_fasta":
        fasta.write_text("this is not fasta\n")
    result = _run("--fasta", fasta, *args, "--out", out)
    _assert_one_line_error(result, expected)
    assert os.listdir(out.parent) == []


@pytest.mark.parametrize("content, expected", [(b"", "no GenBank record found"),
                                               (os.urandom(3000), "")])
def test_bad_genbank_inputs_fail_cleanly(tmp_path, content, expected):
    path = tmp_path / "bad.gb"
    path.write_bytes(content)
    out = tmp_path / "out.h5"
    result = _run("--genbank", path, "--rank", "genus", "--out", out)
    _assert_one_line_error(result, str(path), expected)
    assert not out.exists()


@pytest.mark.parametrize("args, expected", [
    (["--rank", "genus", "--label-from", "organism"], "exactly one of --rank and --label-from"),
    (["--rank", "genus", "--split", "0.5,0.5"], "--split needs three"),
    (["--rank", "genus", "--classes", "Nope"], "--classes names 'Nope'"),
    (["--rank", "genus", "--group-by", "colour"], "--group-by 'colour' is not a column"),
    (["--label-from", "title"], "--label-from must be"),
])
def test_bad_options_fail_cleanly(shared_data, tmp_path, args, expected):
    out = tmp_path / "d.h5"
    result = _run("--genbank", shared_data / "genbank" / "ls_orchid.gbk", *args, "--out", out)
    _assert_one_line_error(result, expected)
    assert not out.exists()


def test_needs_exactly_one_input_style(tmp_path):
    _assert_one_line_error(_run("--out", tmp_path / "d.h5"), "give either --genbank")


def test_unknown_rank_is_a_usage_error(tmp_path):
    result = _run("--genbank", __file__, "--rank", "tribe", "--out", tmp_path / "d.h5")
    assert result.exit_code == 2


SLOW_BUILD = """
import signal, sys, time
# Ctrl-C raises KeyboardInterrupt even when the parent (a CI job in the background) ignores SIGINT
signal.signal(signal.SIGINT, signal.default_int_handler)
from genomix.datasets import h5write
original = h5write._open_raw
class SlowDisk:  # every write of the HDF5 file takes 50 ms: the write lasts long enough to interrupt
    def __init__(self, path):
        self.raw = original(path)
    def write(self, data):
        time.sleep(0.05)
        return self.raw.write(data)
    def __getattr__(self, name):
        return getattr(self.raw, name)
h5write._open_raw = SlowDisk
from genomix.cli import main
sys.argv = ["genomix", *sys.argv[1:]]
main()
"""


def _start_slow_build(fixtures, out):
    return subprocess.Popen(
        [sys.executable, "-c", SLOW_BUILD, "build-dataset", "taxonomy", "--quiet", "--genbank",
         str(fixtures / "genbank" / "cor6_6.gb"), "--label-from", "organism", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_write(process, folder):
    deadline = time.monotonic() + 60
    while not any(name.endswith(".tmp") for name in os.listdir(folder)):  # writing has started
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)
    time.sleep(0.2)  # well inside the HDF5 write


@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_build_stops_and_keeps_the_old_out(fixtures, tmp_path, how):
    """Ctrl-C (or SIGTERM) during the HDF5 write stops the build: exit != 0, old --out intact, no temp file."""
    out = tmp_path / "d.h5"
    out.write_bytes(b"the previous dataset")
    process = _start_slow_build(fixtures, out)
    _wait_for_write(process, tmp_path)
    process.send_signal(how)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode != 0, stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    assert out.read_bytes() == b"the previous dataset"
    assert os.listdir(tmp_path) == ["d.h5"]


@pytest.mark.slow
def test_killed_build_leaves_no_file_and_the_next_build_cleans_up(fixtures, tmp_path):
    out = tmp_path / "d.h5"
    process = _start_slow_build(fixtures, out)
    _wait_for_write(process, tmp_path)
    process.kill()
    process.wait(30)
    assert process.returncode != 0 and not out.exists()
    assert len(os.listdir(tmp_path)) == 1  # the killed build's hidden temporary file
    result = _run("--genbank", fixtures / "genbank" / "cor6_6.gb", "--label-from", "organism", "--out", out)
    assert result.exit_code == 0, result.output
    assert os.listdir(tmp_path) == ["d.h5"]  # the stale temporary file is gone
