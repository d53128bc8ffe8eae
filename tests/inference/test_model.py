"""The Python API (genomix.load): predict equals annotate's TSV, predict_windows its BED, score_variants
score-variants' VCF; every input form gives the same rows; import genomix stays cheap."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest
from annotate_model import tiny_checkpoint, write_split_fasta
from refalt_model import ref_alt_checkpoint
from variant_files import MITO_ALIAS, copy_mito

import genomix
from genomix.errors import AlphabetError, CheckpointError, ConfigError, InputFormatError
from genomix.export import export_checkpoint
from genomix.inference.annotate import annotate_fasta

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny(shared_data, tmp_path_factory) -> tuple[Path, Path]:
    return tiny_checkpoint(shared_data, tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def fasta(tiny, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("api") / "orchid_test.fa"
    write_split_fasta(tiny[1], "test", path)
    return path


@pytest.fixture(scope="module")
def model(tiny):
    return genomix.load(tiny[0], device="cpu", precision="fp32")


def _tsv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", comment=None)


@pytest.mark.parametrize("options", [{}, {"rc": True}, {"max_length": 300}])
def test_predict_equals_annotate_tsv(model, tiny, fasta, tmp_path, options):
    out = tmp_path / "annotate.tsv"
    annotate_fasta(tiny[0], fasta, out=out, precision="fp32", device="cpu", **options)
    expected = _tsv(out)
    table = model.predict(fasta, **options)
    assert list(table.columns) == list(expected.columns)
    assert table["id"].tolist() == expected["id"].tolist()
    assert table["length"].tolist() == expected["length"].tolist()
    assert table["class"].tolist() == expected["class"].tolist()
    columns = [c for c in table.columns if c.startswith("p_")]
    assert np.abs(table[columns].to_numpy() - expected[columns].to_numpy()).max() <= 1e-6
    assert np.array_equal(model.predict(fasta, as_numpy=True, **options), table[columns].to_numpy())


def test_predict_windows_equals_annotate_bed(model, tiny, fasta, tmp_path):
    out = tmp_path / "windows.bed"
    annotate_fasta(tiny[0], fasta, bed=out, window=256, stride=128, rc=True, precision="fp32", device="cpu")
    lines = [line.split("\t") for line in out.read_text().splitlines() if not line.startswith(("track", "#"))]
    table = model.predict_windows(fasta, window=256, stride=128, rc=True)
    assert len(table) == len(lines)
    header = out.read_text().splitlines()[1].lstrip("#").split("\t")
    assert list(table.columns) == header
    assert [[str(v) for v in row[:6]] for row in table.itertuples(index=False)] == [line[:6] for line in lines]
    probabilities = np.array([[float(v) for v in line[6:]] for line in lines])
    assert np.abs(table.iloc[:, 6:].to_numpy() - probabilities).max() <= 1e-6


def test_every_input_form_gives_the_same_rows(model, fasta):
    from Bio import SeqIO

    records = list(SeqIO.parse(str(fasta), "fasta"))
    expected = model.predict(fasta, as_numpy=True)
    assert np.array_equal(model.predict(Path(fasta), as_numpy=True), expected)
    assert np.array_equal(model.predict(str(fasta), as_numpy=True), expected)
    assert np.array_equal(model.predict(records, as_numpy=True), expected)
    by_id = model.predict({r.id: str(r.seq) for r in records})
    assert by_id["id"].tolist() == [r.id for r in records]
    assert np.array_equal(by_id.iloc[:, 3:].to_numpy(), expected)
    strings = model.predict([str(r.seq) for r in records])
    assert strings["id"].tolist() == [f"seq{k}" for k in range(len(records))]
    assert np.array_equal(strings.iloc[:, 3:].to_numpy(), expected)
    one = model.predict(str(records[3].seq), as_numpy=True)
    assert one.shape == (1, len(model.classes)) and np.allclose(one[0], expected[3], atol=1e-6)
    gz = fasta.with_suffix(".fa.gz")
    gz.write_bytes(gzip.compress(fasta.read_bytes()))
    assert np.array_equal(model.predict(gz, as_numpy=True), expected)


def test_batch_budget_does_not_change_predictions(model, fasta):
    many = model.predict(fasta, as_numpy=True)
    one_at_a_time = model.predict(fasta, max_tokens=1, as_numpy=True)
    assert np.abs(many - one_at_a_time).max() <= 1e-5


def test_skips_and_errors(model, tmp_path):
    table = model.predict({"ok": "ACGT" * 50, "bad": "ACGJ" * 50, "short": "ACG"}, on_invalid="skip", min_length=10)
    assert table["id"].tolist() == ["ok"]
    assert model.predict([], as_numpy=True).shape == (0, len(model.classes))
    with pytest.raises(AlphabetError, match="record bad at base 4: 'J'"):
        model.predict({"bad": "ACGJ"})
    with pytest.raises(InputFormatError, match="no such FASTA file"):
        model.predict(str(tmp_path / "missing.fa"))
    with pytest.raises(InputFormatError, match="should be strings"):
        model.predict(42)
    empty = tmp_path / "empty.fa"
    empty.write_text("")
    with pytest.raises(InputFormatError, match="no FASTA records"):
        model.predict(empty)
    with pytest.raises(ConfigError, match="stride should be between 1 and the window"):
        model.predict_windows("ACGT" * 10, window=4, stride=5)
    with pytest.raises(CheckpointError, match="score-variants needs a variant_effect"):
        model.score_variants("x.vcf", reference="x.fa")
    with pytest.raises(ConfigError, match="precision should be one of"):
        genomix.load("x.pt", precision="fp16")
    with pytest.raises(CheckpointError, match="no such file"):
        genomix.load(tmp_path / "missing.pt")


def test_an_exported_folder_predicts_the_same(model, tiny, fasta, tmp_path):
    export_checkpoint(tiny[0], tmp_path / "model")
    folder = genomix.load(tmp_path / "model", device="cpu", precision="fp32")
    assert folder.classes == model.classes and folder.task == "classification"
    assert np.array_equal(folder.predict(fasta, as_numpy=True), model.predict(fasta, as_numpy=True))


def test_score_variants_equals_the_vcf(shared_data, tmp_path):
    checkpoint = ref_alt_checkpoint(tmp_path / "run" / "best.pt")
    fasta, vcf = copy_mito(shared_data, tmp_path / "in")
    model = genomix.load(checkpoint, device="cpu")
    out = tmp_path / "scored.vcf"
    written = model.score_variants(vcf, reference=fasta, contig_aliases=MITO_ALIAS, out=out, rc=True)
    table = model.score_variants(vcf, reference=fasta, contig_aliases=MITO_ALIAS, rc=True)
    pd.testing.assert_frame_equal(written, table)
    assert list(table.columns) == ["chrom", "pos", "id", "ref", "alt", "filter", "GMX_SCORE", "GMX_DIFF"]
    with pysam.VariantFile(str(out)) as scored:
        rows = [(r.chrom, r.pos, r.ref, alt, r.info["GMX_SCORE"][k], r.info["GMX_DIFF"][k])
                for r in scored for k, alt in enumerate(r.alts)]
    assert len(rows) == len(table) == 953
    assert table.GMX_SCORE.std() > 1e-3 and table.GMX_DIFF.abs().max() > 1e-3  # scores that tell variants apart
    assert [row[:4] for row in rows] == list(zip(table.chrom, table.pos, table.ref, table.alt))
    # the VCF holds floats as text (pysam: float32); the table holds the same numbers
    assert np.allclose([row[4] for row in rows], table.GMX_SCORE, atol=1e-6)
    assert np.allclose([row[5] for row in rows], table.GMX_DIFF, atol=1e-6)
    with pytest.raises(CheckpointError, match="annotate needs a classification model"):
        model.predict("ACGT")


def test_import_genomix_stays_cheap():
    code = ("import sys, genomix; heavy = [m for m in ('torch', 'pandas', 'safetensors', 'h5py') if m in sys.modules]; "
            "print(heavy, callable(genomix.load))")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip().startswith("[]")  # genomix.load itself imports torch, after the check
