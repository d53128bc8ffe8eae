"""The adversarial suite (issue 18): bad inputs, faults and hostile files, through the CLI.

Every case checks what genomix promises (docs/robustness.md): exit code != 0, one clear line on stderr
naming the problem, no traceback, nothing left at ``--out``, an existing ``--out`` (and every input)
untouched, no hidden temporary file left behind.
"""

from __future__ import annotations

import errno
import gzip
import os
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from variant_files import copy_mito

from genomix.cli import cli

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
from realdata import orchid_dataset  # noqa: E402

TINY = ["model.track_size=4", "model.hidden_size=16", "max_tokens=3000", "num_threads=1"]
PREVIOUS = b"the previous output, which must survive"


def _invoke(*args):
    return CliRunner().invoke(cli, [*map(str, args)])


def _one_line_error(result, *fragments: str) -> str:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


# ------------------------------------------------------------------- item 1: --out naming an input


@pytest.fixture
def orchid_inputs(fixtures, shared_data, tmp_path) -> dict[str, Path]:
    folder = tmp_path / "in"
    folder.mkdir()
    fasta = folder / "seqs.fa"
    fasta.write_text(">a\n" + "ACGT" * 60 + "\n>b\n" + "GGCA" * 60 + "\n>c\n" + "TTGA" * 60 + "\n")
    labels = folder / "labels.tsv"
    labels.write_text("id\tlabel\na\tx\nb\ty\nc\tx\n")
    genbank = Path(shutil.copy(fixtures / "genbank" / "cor6_6.gb", folder / "cor6_6.gb"))
    reference, vcf = copy_mito(shared_data, folder)
    return {"fasta": fasta, "labels": labels, "genbank": genbank, "reference": reference, "vcf": vcf,
            "model": Path(shutil.copy(fasta, folder / "model.pt"))}


def _taxonomy_fasta(i, out):
    return ["build-dataset", "taxonomy", "-q", "--fasta", i["fasta"], "--labels", i["labels"], "--out", out]


def _variant_effect(i, out):
    return ["build-dataset", "variant-effect", "-q", "--reference", i["reference"], "--vcf", i["vcf"],
            "--label", "INFO/STATUS", "--contig-alias", "chrM=NC_012920.1", "--out", out]


OUT_IS_INPUT = {
    "fasta": (_taxonomy_fasta, "fasta"),
    "labels": (_taxonomy_fasta, "labels"),
    "genbank": (lambda i, out: ["build-dataset", "taxonomy", "-q", "--genbank", i["genbank"], "--label-from",
                                "organism", "--out", out], "genbank"),
    "vcf": (_variant_effect, "vcf"),
    "reference": (_variant_effect, "reference"),
    "score_vcf": (lambda i, out: ["score-variants", i["model"], "--reference", i["reference"], "--vcf", i["vcf"],
                                  "--out", out, "-q"], "vcf"),
}


@pytest.mark.parametrize("how", ["same", "symlink", "hardlink", "relative"])
@pytest.mark.parametrize("case", sorted(OUT_IS_INPUT))
def test_out_naming_an_input_is_refused(orchid_inputs, tmp_path, monkeypatch, case, how):
    command, victim_name = OUT_IS_INPUT[case]
    victim = orchid_inputs[victim_name]
    before = victim.read_bytes()
    out = victim
    if how == "symlink":
        out = tmp_path / f"link{victim.suffix}"
        out.symlink_to(victim)
    elif how == "hardlink":
        out = tmp_path / f"hard{victim.suffix}"
        os.link(victim, out)
    elif how == "relative":
        monkeypatch.chdir(victim.parent)
        out = Path("..") / victim.parent.name / victim.name
    _one_line_error(_invoke(*command(orchid_inputs, out)), "is the input file", "Choose another --out")
    assert victim.read_bytes() == before


def test_annotate_out_naming_its_input_is_refused(tmp_path):
    fasta = tmp_path / "reads.tsv"  # a FASTA file with a name annotate could write to
    fasta.write_text(">a\nACGT\n")
    model = tmp_path / "model.pt"
    model.write_bytes(b"not used: the check comes first")
    for option in ("--out", "--bed"):
        target = fasta if option == "--out" else tmp_path / "reads.bed"
        if option == "--bed":
            target.symlink_to(fasta)
        _one_line_error(_invoke("annotate", model, fasta, option, target, "-q"), f"{option} ", "is the input file")
    assert fasta.read_text() == ">a\nACGT\n"


def test_baseline_out_naming_the_dataset_is_refused(shared_data, tmp_path):
    dataset = orchid_dataset(shared_data, tmp_path / "orchid.h5")
    before = dataset.read_bytes()
    _one_line_error(_invoke("baseline", "kmer", dataset, "--out", dataset, "-q"), "is the input file")
    assert dataset.read_bytes() == before


# ------------------------------------------------------------------- items 3 and 5: a full disk


class _FullDisk:
    """A raw file whose writes fail with ENOSPC once ``room`` bytes are written (an injected full disk)."""

    def __init__(self, path, room: int):
        self.raw = open(path, "w+b", buffering=0)
        self.room = room

    def write(self, data):
        size = memoryview(data).nbytes
        if size > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= size
        return self.raw.write(data)

    def __getattr__(self, name):
        return getattr(self.raw, name)


@pytest.mark.parametrize("room", [0, 3000, 200_000])
def test_build_on_a_full_disk_fails_in_one_line_and_keeps_the_old_out(shared_data, tmp_path, monkeypatch, room):
    from genomix.datasets import h5write

    monkeypatch.setattr(h5write, "_open_raw", lambda path: _FullDisk(path, room))
    out = tmp_path / "insects.h5"
    out.write_bytes(PREVIOUS)
    result = _invoke("build-dataset", "taxonomy", "-q", "--fasta", shared_data / "taxonomy" / "Insects.fasta.gz",
                     "--labels", shared_data / "taxonomy" / "Insects.labels.tsv", "--out", out)
    _one_line_error(result, f"cannot write {out}: no space left on device", "nothing was written")
    assert _listing(tmp_path) == {"insects.h5": PREVIOUS}


def test_adding_build_on_a_full_disk(tmp_path, monkeypatch):
    from genomix.datasets import h5write

    monkeypatch.setattr(h5write, "_open_raw", lambda path: _FullDisk(path, 50_000))
    out = tmp_path / "adding.h5"
    result = _invoke("build-dataset", "adding", "-q", "--n-train", "200", "--n-valid", "20", "--n-test", "20",
                     "--base-length", "200", "--out", out)
    _one_line_error(result, "no space left on device")
    assert not out.exists() and os.listdir(tmp_path) == []


@pytest.fixture(scope="module")
def orchid(shared_data, tmp_path_factory) -> Path:
    return orchid_dataset(shared_data, tmp_path_factory.mktemp("robust_orchid") / "orchid.h5")


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_train_on_a_full_disk_leaves_a_folder_a_rerun_can_use(orchid, tmp_path, monkeypatch):
    run = tmp_path / "run"
    with monkeypatch.context() as patch:
        patch.setattr("genomix.training.checkpoint.torch.save", _disk_full)
        result = _invoke("train", orchid, "--out", run, "-q", *TINY, "epochs=1")
    _one_line_error(result, "cannot write checkpoint", "no space left on device")
    assert not any(name.endswith(".tmp") for name in os.listdir(run))
    assert not (run / "config.json").exists()  # it would block both a rerun and --resume
    result = _invoke("train", orchid, "--out", run, "-q", *TINY, "epochs=1")
    assert result.exit_code == 0, result.output
    assert (run / "best.pt").exists()


def test_evaluate_on_a_full_disk_leaves_no_report(orchid, tmp_path, monkeypatch):
    run = tmp_path / "run"
    result = _invoke("train", orchid, "--out", run, "-q", *TINY, "epochs=1")
    assert result.exit_code == 0, result.output
    out = tmp_path / "eval"
    out.mkdir()
    (out / "evaluation.json").write_bytes(PREVIOUS)
    with monkeypatch.context() as patch:
        patch.setattr("matplotlib.figure.Figure.savefig", _disk_full)
        result = _invoke("evaluate", run / "best.pt", orchid, "--split", "test", "-q", "--out", out)
    _one_line_error(result, "no space left on device")
    assert _listing(out) == {"evaluation.json": PREVIOUS}


# ------------------------------------------------------------------- shared: gzip that lies


def test_truncated_gzip_labels_fail_in_one_line(tmp_path):
    fasta = tmp_path / "a.fa"
    fasta.write_text(">a\nACGT\n")
    table = tmp_path / "labels.tsv.gz"
    table.write_bytes(gzip.compress(b"id\tlabel\n" + b"a\tx\n" * 5000)[:200])
    out = tmp_path / "d.h5"
    _one_line_error(_invoke("build-dataset", "taxonomy", "-q", "--fasta", fasta, "--labels", table, "--out", out),
                    str(table))
    assert not out.exists()
