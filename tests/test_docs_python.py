"""docs/python.md runs: its Python blocks, in order, in one namespace, on a small model trained here."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from annotate_model import tiny_checkpoint, write_split_fasta
from refalt_model import ref_alt_checkpoint
from variant_files import copy_mito

DOC = Path(__file__).resolve().parents[1] / "docs" / "python.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(text: str) -> list[str]:
    """The code of every ```python block of a Markdown text, in order."""
    return BLOCK.findall(text)


def test_the_doc_has_blocks_for_every_method():
    code = "\n".join(python_blocks(DOC.read_text()))
    for call in ("genomix.load(", ".predict(", ".predict_windows(", ".score_variants(", "from_pretrained(",
                 "export_checkpoint("):
        assert call in code, call


def test_python_md_runs(shared_data, tmp_path_factory, tmp_path, monkeypatch, capsys):
    checkpoint, dataset = tiny_checkpoint(shared_data, tmp_path_factory.getbasetemp())
    shutil.copytree(checkpoint.parent, tmp_path / "runs" / "orchid" / "run")
    write_split_fasta(dataset, "test", tmp_path / "orchid_test.fasta")
    ref_alt_checkpoint(tmp_path / "runs" / "mito" / "run" / "best.pt")
    copy_mito(shared_data, tmp_path)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    blocks = python_blocks(DOC.read_text())
    assert len(blocks) >= 6
    for number, block in enumerate(blocks, 1):
        try:
            exec(compile(block, f"docs/python.md block {number}", "exec"), namespace)  # noqa: S102
        except Exception as error:  # noqa: BLE001
            pytest.fail(f"docs/python.md block {number} failed: {type(error).__name__}: {error}\n{block}")
    printed = capsys.readouterr().out
    assert "True" in printed.splitlines()  # the exported folder predicts what best.pt predicts
    assert "953 ['chrom', 'pos', 'id', 'ref', 'alt', 'filter', 'GMX_SCORE', 'GMX_DIFF']" in printed
    assert (tmp_path / "scored.vcf.gz").exists() and (tmp_path / "models" / "orchid" / "model.safetensors").exists()
