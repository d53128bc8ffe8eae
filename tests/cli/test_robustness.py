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
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]  # the line is on stderr
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "Traceback" not in result.output and "Error" not in result.stdout
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
    "text": (lambda i, out: ["build-dataset", "text", "-q", "--tsv", i["labels"], "--text-column", "id",
                             "--out", out], "labels"),
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
        patch.setattr("genomix.checkpoint.torch.save", _disk_full)
        result = _invoke("train", orchid, "--out", run, "-q", *TINY, "epochs=1")
    _one_line_error(result, "cannot write checkpoint", "no space left on device")
    assert not run.exists()  # the run made it, and a config.json left there would block a rerun and --resume
    run.mkdir()  # a folder the user made is kept, emptied of what the run wrote
    with monkeypatch.context() as patch:
        patch.setattr("genomix.checkpoint.torch.save", _disk_full)
        _one_line_error(_invoke("train", orchid, "--out", run, "-q", *TINY, "epochs=1"), "no space left on device")
    assert run.is_dir() and not os.listdir(run)
    result = _invoke("train", orchid, "--out", run, "-q", *TINY, "epochs=1")
    assert result.exit_code == 0, result.output
    assert (run / "best.pt").exists()


def test_evaluate_on_a_full_disk_leaves_no_report(orchid, tmp_path, monkeypatch):
    run = tmp_path / "run"
    result = _invoke("train", orchid, "--out", run, "-q", *TINY, "epochs=1")
    assert result.exit_code == 0, result.output
    out = tmp_path / "eval"
    out.mkdir()
    (out / "evaluation_test.json").write_bytes(PREVIOUS)
    with monkeypatch.context() as patch:
        patch.setattr("matplotlib.figure.Figure.savefig", _disk_full)
        result = _invoke("evaluate", run / "best.pt", orchid, "--split", "test", "-q", "--out", out)
    _one_line_error(result, "no space left on device")
    assert _listing(out) == {"evaluation_test.json": PREVIOUS}


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_annotate_on_a_full_disk_leaves_nothing(orchid, tmp_path, monkeypatch):
    from genomix.io import predictions

    run = tmp_path / "run"
    assert _invoke("train", orchid, "--out", run, "-q", *TINY, "epochs=1").exit_code == 0
    fasta = tmp_path / "reads.fa"
    fasta.write_text("".join(f">r{i}\n{'ACGT' * 50}\n" for i in range(3000)))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    real = predictions.create_temporary

    def onto_a_full_disk(target):  # the temporary file exists, but every byte written to it fails
        descriptor, path = real(target)
        os.close(descriptor)
        return os.open("/dev/full", os.O_WRONLY), path

    monkeypatch.setattr(predictions, "create_temporary", onto_a_full_disk)
    out = out_dir / "reads.tsv"
    out.write_bytes(PREVIOUS)
    _one_line_error(_invoke("annotate", run / "best.pt", fasta, "--out", out, "-q"),
                    f"cannot write {out}: no space left on device")
    assert _listing(out_dir) == {"reads.tsv": PREVIOUS}


@pytest.fixture
def small_disk(tmp_path):
    """A real 2 MB tmpfs, where the machine allows mounting one (root); skipped elsewhere."""
    import subprocess

    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root; the injected full disks above cover the same paths")
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)


def test_build_onto_a_real_full_disk(shared_data, small_disk):
    """Before: a segmentation fault (rc 139), h5py tracebacks, and a 2 MB hidden file left on the disk."""
    import subprocess

    out = small_disk / "insects.h5"
    out.write_bytes(PREVIOUS)
    script = "import sys; from genomix.cli import main; sys.argv = ['genomix', *sys.argv[1:]]; main()"
    done = subprocess.run([sys.executable, "-c", script, "build-dataset", "taxonomy", "-q", "--fasta",
                           str(shared_data / "taxonomy" / "Insects.fasta.gz"), "--labels",
                           str(shared_data / "taxonomy" / "Insects.labels.tsv"), "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "no space left on device" in lines[0], done.stderr[-2000:]
    assert _listing(small_disk) == {"insects.h5": PREVIOUS}


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


# ------------------------------------------------------------------- items 6 to 9: input real users have


def test_pandas_label_table_with_its_index_column_builds(tmp_path):
    fasta = tmp_path / "in.fa"
    fasta.write_text(">a\n" + "ACGT" * 30 + "\n>b\n" + "GGCA" * 30 + "\n>c\n" + "TTGA" * 30 + "\n")
    table = tmp_path / "labels.tsv"  # what df.to_csv(path, sep="\t") writes: an unnamed index column first
    table.write_text("\tid\tlabel\tlength\n0\ta\tx\t120\n1\tb\ty\t120\n2\tc\tx\t120\n")
    out = tmp_path / "d.h5"
    result = _invoke("build-dataset", "taxonomy", "-q", "--fasta", fasta, "--labels", table, "--split", "1,0,0",
                     "--out", out)
    assert result.exit_code == 0, result.output
    from genomix.datasets.store import open_dataset

    with open_dataset(out) as dataset:
        assert dataset.split("train").meta_columns == ["length"]


@pytest.mark.parametrize("header, expected", [
    ("id\tlabel\tlabel\n", "column 'label' occurs twice"),
    ("id\tlabel\thost/organism\n", "holds a '/'"),
])
def test_label_table_with_bad_column_names_fails_in_one_line(tmp_path, header, expected):
    fasta = tmp_path / "in.fa"
    fasta.write_text(">a\nACGT\n")
    table = tmp_path / "labels.tsv"
    table.write_text(header + "a\tx\ty\n")
    out = tmp_path / "d.h5"
    _one_line_error(_invoke("build-dataset", "taxonomy", "-q", "--fasta", fasta, "--labels", table, "--out", out),
                    str(table), expected)
    assert not out.exists()


def test_several_files_after_one_option(shared_data, fixtures, tmp_path):
    """--genbank *.gb as the shell expands it; --fasta likewise."""
    out = tmp_path / "gb.h5"
    result = _invoke("build-dataset", "taxonomy", "-q", "--genbank", shared_data / "genbank" / "ls_orchid.gbk",
                     fixtures / "genbank" / "cor6_6.gb", "--label-from", "organism", "--split", "1,0,0", "--out", out)
    assert result.exit_code == 0, result.output
    assert "records read: 100" in result.output
    first, second = tmp_path / "a.fa", tmp_path / "b.fa"
    first.write_text(">a\n" + "ACGT" * 30 + "\n")
    second.write_text(">b\n" + "GGCA" * 30 + "\n>c\n" + "TTGA" * 30 + "\n")
    result = _invoke("build-dataset", "taxonomy", "-q", "--fasta", first, second, "--label-regex", r"^(\w)",
                     "--split", "1,0,0", "--out", tmp_path / "fa.h5")
    assert result.exit_code == 0, result.output
    assert "records read: 3" in result.output


@pytest.mark.parametrize("style", ["genbank", "fasta"])
def test_a_record_id_in_two_files_is_refused(shared_data, tmp_path, style):
    """The Kaptive case: two reference files share locus names; they would land in different splits."""
    if style == "genbank":
        first = shared_data / "genbank" / "ls_orchid.gbk"
        second = Path(shutil.copy(first, tmp_path / "variants.gbk"))
        args = ["--genbank", first, second, "--rank", "genus"]
        record = "Z78533.1"
    else:
        first, second = tmp_path / "a.fa", tmp_path / "b.fa"
        first.write_text(">KL122\nACGTACGT\n>KL1\nACGTTT\n")
        second.write_text(">KL2\nGGGGCC\n>KL122\nACGTACGA\n")
        args = ["--fasta", first, second, "--label-regex", r"^(KL)"]
        record = "KL122"
    out = tmp_path / "d.h5"
    _one_line_error(_invoke("build-dataset", "taxonomy", "-q", *args, "--out", out),
                    f"record id {record!r} occurs in {first} and in {second}")
    assert not out.exists()


@pytest.fixture
def indexed_mito(shared_data, tmp_path):
    import pysam

    reference, vcf = copy_mito(shared_data, tmp_path / "mito")
    compressed = tmp_path / "mito" / "mito.vcf.gz"
    pysam.tabix_compress(str(vcf), str(compressed))
    pysam.tabix_index(str(compressed), preset="vcf")
    return reference, compressed


@pytest.mark.parametrize("region, expected", [
    ("chrX", "contig 'chrX' is not in"),
    ("chrM:500-100", "the end 100 is before the start 500"),
    ("chrM:0-100", "positions are 1-based"),
    ("chrM:1-x", "is not CHROM, CHROM:START or CHROM:START-END"),
])
@pytest.mark.parametrize("command", ["variant-effect", "score-variants"])
def test_bad_region_fails_in_one_line(indexed_mito, tmp_path, region, expected, command, monkeypatch):
    reference, vcf = indexed_mito
    out = tmp_path / "out.h5"
    if command == "variant-effect":
        args = ["build-dataset", "variant-effect", "-q", "--reference", reference, "--vcf", vcf,
                "--label", "INFO/STATUS", "--contig-alias", "chrM=NC_012920.1", "--region", region, "--out", out]
    else:
        import torch

        from genomix.models.variant import RefAltModel

        model = RefAltModel(16, 2, max_seq_len=32, track_size=4, hidden_size=8)
        monkeypatch.setattr("genomix.checkpoint.load_model", lambda path, *, device="cpu": (
            model, {"task": "variant_effect", "classes": ["other", "Cfrm"], "config": {"window": 16}}))
        checkpoint = tmp_path / "model.pt"
        torch.save({}, checkpoint)
        out = tmp_path / "out.vcf"
        args = ["score-variants", checkpoint, "--reference", reference, "--vcf", vcf, "--contig-alias",
                "chrM=NC_012920.1", "--region", region, "--out", out, "-q"]
    _one_line_error(_invoke(*args), f"--region {region!r}", expected)
    assert not out.exists()


def test_unknown_group_by_field_is_refused(indexed_mito, tmp_path):
    reference, vcf = indexed_mito
    out = tmp_path / "out.h5"
    _one_line_error(_invoke("build-dataset", "variant-effect", "-q", "--reference", reference, "--vcf", vcf,
                            "--label", "INFO/STATUS", "--contig-alias", "chrM=NC_012920.1", "--group-by",
                            "INFO/NOPE", "--out", out), "--group-by INFO/NOPE", "declares no such INFO field")
    assert not out.exists()


def test_the_alts_of_one_record_stay_in_one_split(shared_data, tmp_path):
    from variant_files import edit_vcf

    from genomix.datasets.store import open_dataset

    reference, vcf = copy_mito(shared_data, tmp_path / "mito")

    def three_alts(number, line):  # every SNV gets all three ALTs, all labelled by its STATUS
        fields = line.split("\t")
        if len(fields[3]) == 1 and len(fields[4]) == 1 and fields[3] in "ACGT":
            fields[4] = ",".join(b for b in "ACGT" if b != fields[3])
        return "\t".join(fields)

    multi = edit_vcf(vcf, tmp_path / "multi.vcf", three_alts)
    out = tmp_path / "d.h5"
    result = _invoke("build-dataset", "variant-effect", "-q", "--reference", reference, "--vcf", multi,
                     "--label", "INFO/STATUS", "--label-map", "Cfrm*=1,*=0", "--window", "64",
                     "--contig-alias", "chrM=NC_012920.1", "--seed", "3", "--out", out)
    assert result.exit_code == 0, result.output
    split_of: dict[int, set[str]] = {}
    with open_dataset(out) as dataset:
        for name in dataset.split_names:
            for record in dataset.split(name).meta("record"):
                split_of.setdefault(int(record), set()).add(name)
    assert max(len(names) for names in split_of.values()) == 1


# ------------------------------------------------------------------- item 11: seeds and configs


@pytest.mark.parametrize("seed", ["-1", "4294967296", "99999999999999999999"])
def test_build_seed_out_of_range_is_a_usage_error(fixtures, tmp_path, seed):
    out = tmp_path / "d.h5"
    result = _invoke("build-dataset", "taxonomy", "-q", "--genbank", fixtures / "genbank" / "cor6_6.gb",
                     "--label-from", "organism", "--seed", seed, "--out", out)
    assert result.exit_code == 2 and "--seed" in result.output and "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.parametrize("override", ["lr=inf", "select_metric=nope", "epochs=99999999999999999999", "seed=-5"])
def test_train_refuses_a_bad_config_before_any_work(orchid, tmp_path, override):
    run = tmp_path / "run"
    _one_line_error(_invoke("train", orchid, "--out", run, "-q", *TINY, override))
    assert not (run / "config.json").exists()


def test_train_refuses_a_config_file_that_is_not_utf8(orchid, tmp_path):
    config = tmp_path / "run.toml"
    config.write_bytes(b"epochs = 1\n# \xff\xfe\n")
    _one_line_error(_invoke("train", orchid, "--config", config, "--out", tmp_path / "run", "-q"), "not UTF-8 text")


# ------------------------------------------------------------------- item 12: the k-mer baseline


def test_baseline_on_a_one_class_dataset_fails_in_one_line(tmp_path):
    import numpy as np

    from genomix.alphabet import DNA
    from genomix.datasets.store import SplitArrays, write_dataset

    rng = np.random.default_rng(0)
    splits = {name: SplitArrays(tokens=rng.integers(1, 5, 10 * n, dtype=np.uint8),
                                offsets=np.arange(0, 10 * n + 1, 10), labels=np.zeros(n, dtype=np.int64),
                                ids=[f"{name}{k}" for k in range(n)]) for name, n in (("train", 20), ("valid", 5))}
    path = tmp_path / "one.h5"
    write_dataset(path, splits, task="classification", alphabet="dna", vocab=DNA.vocab, classes=["only"],
                  provenance={})
    _one_line_error(_invoke("baseline", "kmer", path, "-q"), "needs at least two classes", "found 1 (only)")


def test_baseline_on_variant_effect_classification_fits_a_classifier(shared_data, tmp_path):
    import json

    reference, vcf = copy_mito(shared_data, tmp_path / "mito")
    dataset = tmp_path / "mito.h5"
    result = _invoke("build-dataset", "variant-effect", "-q", "--reference", reference, "--vcf", vcf, "--label",
                     "INFO/STATUS", "--label-map", "Cfrm*=1,*=0", "--window", "64", "--contig-alias",
                     "chrM=NC_012920.1", "--out", dataset)
    assert result.exit_code == 0, result.output
    report = tmp_path / "kmer.json"
    result = _invoke("baseline", "kmer", dataset, "-k", "2", "-q", "--out", report)
    assert result.exit_code == 0, result.output
    values = json.loads(report.read_text())
    assert values["model"] == "logistic_regression"
    assert 0 <= values["valid"]["roc_auc"] <= 1 and "mse" not in values["valid"]


# ------------------------------------------------------------------- item 14: messages that mislead


def test_corrupt_bgzf_block_in_a_vcf_names_the_damage(shared_data, tmp_path):
    import pysam

    source = shared_data / "variants" / "mpra_kircher2019"
    plain = tmp_path / "mpra.vcf"
    plain.write_bytes(gzip.open(source / "kircher2019_satmut_GRCh38.vcf.gz").read())
    compressed = tmp_path / "mpra.vcf.gz"
    pysam.tabix_compress(str(plain), str(compressed))
    data = bytearray(compressed.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 40] = bytes(b ^ 0x55 for b in data[middle:middle + 40])
    compressed.write_bytes(bytes(data))
    reference = Path(shutil.copy(source / "element_reference_GRCh38_from_Ref_alleles.fasta", tmp_path / "ref.fa"))
    out = tmp_path / "d.h5"
    line = _one_line_error(_invoke("build-dataset", "variant-effect", "-q", "--reference", reference, "--vcf",
                                   compressed, "--label", "INFO/COEF", "--element-field", "ELEMENT", "--out", out),
                           str(compressed), "corrupt compressed data after record")
    assert "Closing failed" not in line
    assert not out.exists()


class _NotATensor:
    pass


@pytest.mark.parametrize("content", ["text", "pickled_object", "random"])
def test_a_file_that_is_not_a_checkpoint_gets_no_unsafe_advice(orchid, tmp_path, content):
    import torch

    path = tmp_path / "model.pt"
    if content == "text":
        path.write_text("hello\n")
    elif content == "pickled_object":
        torch.save({"model": _NotATensor()}, path)
    else:
        path.write_bytes(os.urandom(2000))
    line = _one_line_error(_invoke("evaluate", path, orchid, "-q", "--out", tmp_path / "eval"), f"checkpoint {path}")
    assert "weights_only" not in line and "Re-running" not in line
    if content == "pickled_object":
        assert "genomix never runs code from a checkpoint" in line


# ------------------------------------------------------------------- item 16: the umask is respected


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_every_output_respects_the_umask(orchid, fixtures, tmp_path, umask):
    previous = os.umask(umask)
    try:
        dataset = tmp_path / "d.h5"
        result = _invoke("build-dataset", "taxonomy", "-q", "--genbank", fixtures / "genbank" / "cor6_6.gb",
                         "--label-from", "organism", "--out", dataset)
        assert result.exit_code == 0, result.output
        run = tmp_path / "run"
        assert _invoke("train", orchid, "--out", run, "-q", *TINY, "epochs=1").exit_code == 0
        result = _invoke("evaluate", run / "best.pt", orchid, "--split", "test", "-q", "--out", tmp_path / "eval")
        assert result.exit_code == 0, result.output
        written = [dataset, run / "best.pt", run / "last.pt", run / "config.json",
                   *sorted((tmp_path / "eval").iterdir())]
        modes = {path.name: oct(path.stat().st_mode & 0o777) for path in written}
        assert set(modes.values()) == {oct(0o666 & ~umask)}, modes
    finally:
        os.umask(previous)


# ------------------------------------------------------------------- item 2 (fixed on the issue 15 branch)


def test_annotate_without_native_kernels_on_two_records(orchid, tmp_path):
    import subprocess

    run = tmp_path / "run"
    assert _invoke("train", orchid, "--out", run, "-q", *TINY, "epochs=1").exit_code == 0
    fasta = tmp_path / "two.fa"
    fasta.write_text(">a\n" + "ACGT" * 150 + "\n>b\n" + "GGCA" * 175 + "\n")
    script = "import sys; from genomix.cli import main; sys.argv = ['genomix', *sys.argv[1:]]; main()"
    done = subprocess.run([sys.executable, "-c", script, "annotate", str(run / "best.pt"), str(fasta), "--out", "-",
                           "-q"], capture_output=True, text=True, env={**os.environ, "GENOMIX_NATIVE": "0"},
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and len(done.stdout.strip().splitlines()) == 3


# ------------------------------------------------------------------- item 15: runs stopped and restarted


def test_a_run_stopped_by_its_time_limit_leaves_best_pt_and_resumes_with_a_new_limit(orchid, tmp_path):
    import json

    run = tmp_path / "run"
    result = _invoke("train", orchid, "--out", run, *TINY, "epochs=2", "max_minutes=0.0001")
    assert result.exit_code == 0, result.output
    summary = json.loads([line for line in result.stdout.splitlines() if line.startswith("{")][-1])
    assert summary["stop_reason"] == "time limit" and summary["step"] < summary["total_steps"]
    assert (run / "best.pt").exists()  # evaluated at the stop, though no evaluation was due yet
    _one_line_error(_invoke("train", orchid, "--resume", run, "lr=1"), "only max_minutes, num_threads can change")
    result = _invoke("train", orchid, "--resume", run, "max_minutes=0")
    assert result.exit_code == 0, result.output
    summary = json.loads([line for line in result.stdout.splitlines() if line.startswith("{")][-1])
    assert summary["stop_reason"] == "finished" and summary["step"] == summary["total_steps"]


# ------------------------------------------------------------------- item 17: evaluation per split


def test_evaluating_two_splits_keeps_both_reports(orchid, tmp_path):
    import json

    run = tmp_path / "run"
    assert _invoke("train", orchid, "--out", run, "-q", *TINY, "epochs=1").exit_code == 0
    for split in ("valid", "test"):
        result = _invoke("evaluate", run / "best.pt", orchid, "--split", split, "-q", "--no-plots")
        assert result.exit_code == 0, result.output
    for split in ("valid", "test"):
        assert json.loads((run / f"evaluation_{split}.json").read_text())["split"] == split


def test_metrics_jsonl_holds_every_step_loss_and_counts_epochs_from_one(orchid, tmp_path):
    from genomix.training import rundir

    run = tmp_path / "run"
    assert _invoke("train", orchid, "--out", run, "-q", *TINY, "epochs=2", "eval_every=0").exit_code == 0
    records = rundir.read_metrics(run)
    assert [r["epoch"] for r in records] == [1, 2]
    assert sum(len(r["train_losses"]) for r in records) == records[-1]["step"]
    for record in records:
        losses = record["train_losses"]
        assert abs(sum(losses) / len(losses) - record["train_loss"]) < 1e-4  # grad_accum=1: same batches


@pytest.mark.parametrize("style", ["tsv", "jsonl"])
def test_text_build_with_pandas_index_and_odd_column_names(tmp_path, style):
    import json

    if style == "tsv":
        path = tmp_path / "docs.tsv"
        path.write_text("\ttext\tlabel\n0\tit was the best of times\ta\n1\tcall me ishmael\tb\n")
    else:
        path = tmp_path / "docs.jsonl"
        path.write_text("".join(json.dumps({"": k, "text": t, "label": lab}) + "\n"
                                for k, (t, lab) in enumerate([("it was the best", "a"), ("call me", "b")])))
    out = tmp_path / "d.h5"
    result = _invoke("build-dataset", "text", "-q", f"--{style}", path, "--split", "1,0,0", "--out", out)
    assert result.exit_code == 0, result.output
    bad = tmp_path / f"bad.{style}"
    if style == "tsv":
        bad.write_text("text\tlabel\thost/organism\nsome text\ta\tx\n")
    else:
        bad.write_text(json.dumps({"text": "some text", "label": "a", "host/organism": "x"}) + "\n")
    _one_line_error(_invoke("build-dataset", "text", "-q", f"--{style}", bad, "--out", tmp_path / "bad.h5"),
                    str(bad), "'host/organism' cannot name a metadata column")
    assert not (tmp_path / "bad.h5").exists()
