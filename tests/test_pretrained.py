"""Exported model folders (genomix.pretrained): a round trip in a fresh process that imports only
genomix.models (identical outputs, buffers included), for ChordMixer and the ref/alt model; every kind
of tampering with config.json or model.safetensors refused in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from annotate_model import tiny_checkpoint
from refalt_model import ref_alt_checkpoint

from genomix.checkpoint import load_model, read_checkpoint
from genomix.errors import CheckpointError
from genomix.export import export_checkpoint
from genomix.pretrained import CONFIG_NAME, WEIGHTS_NAME, file_sha256, load_pretrained

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny(shared_data, tmp_path_factory) -> tuple[Path, Path]:
    return tiny_checkpoint(shared_data, tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def exported(tiny, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export") / "orchid_model"
    export_checkpoint(tiny[0], out)
    return out


@pytest.fixture(scope="module")
def ref_alt(tmp_path_factory) -> tuple[Path, Path]:
    checkpoint = ref_alt_checkpoint(tmp_path_factory.mktemp("refalt") / "run" / "best.pt")
    out = checkpoint.parent.parent / "refalt_model"
    export_checkpoint(checkpoint, out)
    return checkpoint, out


def _fresh_process(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)


def _inputs(lengths: list[int], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(1, 5, (sum(lengths),), generator=generator), torch.tensor(lengths)


def test_chordmixer_round_trip_in_a_process_with_only_the_model_code(tiny, exported, tmp_path):
    tokens, lengths = _inputs([700, 33, 5, 1])
    torch.save({"tokens": tokens, "lengths": lengths}, tmp_path / "inputs.pt")
    code = f"""
import sys, torch
from genomix.models import ChordMixer
net = ChordMixer.from_pretrained({str(exported)!r})
batch = torch.load({str(tmp_path / 'inputs.pt')!r})
with torch.no_grad():
    out = net(batch["tokens"], batch["lengths"])
torch.save({{"out": out, "state": net.state_dict()}}, {str(tmp_path / 'out.pt')!r})
print(sorted(m for m in sys.modules if m.startswith(("genomix.training", "genomix.cli", "genomix.inference",
                                                     "genomix.datasets", "genomix.export"))))
"""
    result = _fresh_process(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    fresh = torch.load(tmp_path / "out.pt")
    model, _ = load_model(tiny[0])
    with torch.no_grad():
        expected = model(tokens, lengths)
    assert torch.equal(fresh["out"], expected)
    assert not torch.allclose(expected[0], expected[1])
    state = read_checkpoint(tiny[0])["model_state"]
    assert fresh["state"].keys() == state.keys()
    assert {"profile.mean", "profile.scale"} <= set(state)  # the k-mer profile head's standardisation buffers
    assert not torch.equal(state["profile.mean"], torch.zeros_like(state["profile.mean"]))  # fitted, not default
    for name, tensor in state.items():
        assert torch.equal(fresh["state"][name], tensor), name


def test_genomix_chordmixer_is_the_same_class(exported):
    import genomix

    assert genomix.ChordMixer.from_pretrained(exported).state_dict().keys() == load_pretrained(exported)[0].state_dict().keys()


def test_ref_alt_round_trip(ref_alt, tmp_path):
    checkpoint, folder = ref_alt
    ref, ref_lengths = _inputs([24, 24, 23], seed=1)
    alt, alt_lengths = _inputs([24, 25, 23], seed=2)
    torch.save({"ref": ref, "rl": ref_lengths, "alt": alt, "al": alt_lengths}, tmp_path / "inputs.pt")
    code = f"""
import sys, torch
from genomix.models.variant import RefAltModel
net = RefAltModel.from_pretrained({str(folder)!r})
b = torch.load({str(tmp_path / 'inputs.pt')!r})
with torch.no_grad():
    torch.save(net(b["ref"], b["rl"], b["alt"], b["al"]), {str(tmp_path / 'out.pt')!r})
print(sorted(m for m in sys.modules if m.startswith(("genomix.training", "genomix.cli", "genomix.inference"))))
"""
    result = _fresh_process(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    model, _ = load_model(checkpoint)
    with torch.no_grad():
        expected = model(ref, ref_lengths, alt, alt_lengths)
    assert torch.equal(torch.load(tmp_path / "out.pt"), expected)
    assert not torch.allclose(expected[0], expected[1])  # a model whose outputs tell inputs apart


def test_from_pretrained_refuses_the_other_architecture(ref_alt, exported):
    from genomix.models import ChordMixer
    from genomix.models.variant import RefAltModel

    with pytest.raises(CheckpointError, match="holds a 'ref_alt' model; load it with RefAltModel"):
        ChordMixer.from_pretrained(ref_alt[1])
    with pytest.raises(CheckpointError, match="holds a 'chordmixer' model; load it with ChordMixer"):
        RefAltModel.from_pretrained(exported)


def test_folder_info_equals_checkpoint_info(tiny, exported):
    _, from_file = load_model(tiny[0])
    _, from_folder = load_model(exported)
    for key in ("task", "alphabet", "vocab", "classes", "model_kwargs", "config", "target_scale"):
        assert from_folder[key] == from_file[key], key


def _copy(folder: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(folder, tmp_path / folder.name))


def _edit_config(folder: Path, edit) -> None:
    path = folder / CONFIG_NAME
    config = json.loads(path.read_text())
    edit(config)
    path.write_text(json.dumps(config))


def _flip_byte(folder: Path) -> None:
    path = folder / WEIGHTS_NAME
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01  # inside the last tensor's values: still a valid safetensors file
    path.write_bytes(bytes(data))


def _reshape_tensor(folder: Path) -> None:
    """A valid file whose digest matches config.json, but one tensor of the wrong shape."""
    from safetensors.torch import load_file, save_file

    path = folder / WEIGHTS_NAME
    tensors = load_file(str(path))
    tensors["decoder.decoder.weight"] = torch.zeros(7, 3)
    save_file(tensors, str(path))
    _edit_config(folder, lambda c: c["weights"].update(sha256=file_sha256(path)))


def _drop_buffer(folder: Path) -> None:
    from safetensors.torch import load_file, save_file

    path = folder / WEIGHTS_NAME
    tensors = load_file(str(path))
    del tensors["profile.mean"]
    save_file(tensors, str(path))
    _edit_config(folder, lambda c: c["weights"].update(sha256=file_sha256(path)))


TAMPERING = {
    "a changed byte": (_flip_byte, "differs from"),
    "wrong shapes": (_reshape_tensor, "weights do not fit the model .*size mismatch for decoder.decoder.weight"),
    "a missing buffer": (_drop_buffer, "weights do not fit the model .*profile.mean"),
    "no weights file": (lambda f: (f / WEIGHTS_NAME).unlink(), "no weights file model.safetensors"),
    "not a safetensors file": (lambda f: ((f / WEIGHTS_NAME).write_bytes(b"not tensors"),
                                          _edit_config(f, lambda c: c["weights"].update(
                                              sha256=file_sha256(f / WEIGHTS_NAME))))
                               , "not a safetensors file"),
    "bad JSON": (lambda f: (f / CONFIG_NAME).write_text('{"format": "genomix-model",'), "not valid JSON .line 1"),
    "an unknown key": (lambda f: _edit_config(f, lambda c: c.update(dropout=0.5)), "unknown key.s. dropout"),
    "an unknown option": (lambda f: _edit_config(f, lambda c: c["model_kwargs"].update(n_heads=8)),
                          "the model options do not build a model .*n_heads"),
    "a missing key": (lambda f: _edit_config(f, lambda c: c.pop("model_kwargs")), "missing key.s. model_kwargs"),
    "a newer format": (lambda f: _edit_config(f, lambda c: c.update(format_version=2)), "format_version 2"),
    "a bad value": (lambda f: _edit_config(f, lambda c: c.update(classes="Paphiopedilum")), "classes should be"),
    "a bad digest entry": (lambda f: _edit_config(f, lambda c: c.update(weights={"file": "../x"})), "weights should be"),
    "no config.json": (lambda f: (f / CONFIG_NAME).unlink(), "no config.json"),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_tampered_folders_are_refused(exported, tmp_path, case):
    folder = _copy(exported, tmp_path)
    tamper, message = TAMPERING[case]
    tamper(folder)
    with pytest.raises(CheckpointError, match=message) as raised:
        load_model(folder)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("case", ["a changed byte", "wrong shapes", "bad JSON", "an unknown option", "a missing key"])
def test_tampered_folders_end_the_cli_in_one_line(exported, tmp_path, case):
    from click.testing import CliRunner

    from genomix.cli import cli

    folder = _copy(exported, tmp_path)
    TAMPERING[case][0](folder)
    fasta = tmp_path / "one.fa"
    fasta.write_text(">a\nACGTACGTTGCA\n")
    result = CliRunner().invoke(cli, ["annotate", str(folder), str(fasta), "--out", str(tmp_path / "p.tsv"), "-q"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in result.output
    assert not (tmp_path / "p.tsv").exists()
