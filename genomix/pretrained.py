"""The exported model folder (Hugging Face style): ``config.json``, ``model.safetensors``, ``README.md``.

Written by ``genomix export`` (:mod:`genomix.export`), read by everything that takes a checkpoint
(:func:`genomix.checkpoint.read_checkpoint` reads a folder as it reads a ``.pt``) and by
``ChordMixer.from_pretrained``. This module imports torch, safetensors and :mod:`genomix.models` only:
a folder loads without genomix's training, inference or CLI code, and without running any code
from the folder (safetensors holds tensors, JSON holds data).

``config.json`` (format ``genomix-model``, version 1), every key checked on reading:

- ``format``, ``format_version``, ``genomix_version``: what wrote it.
- ``architecture``: ``chordmixer`` or ``ref_alt``; ``model_kwargs``: the constructor arguments
  (:func:`genomix.models.build_model`), the architecture among them.
- ``task``, ``alphabet``, ``vocab``, ``classes``: what the model reads and predicts.
- ``target_scale`` (regression: ``[mean, std]``), ``label_kind`` and ``window`` (variant effect), or null.
- ``weights``: ``{"file": "model.safetensors", "sha256": ...}``; the file's digest is checked before
  it is read, so a changed byte is refused.
- ``training``: the run's training config, the step of the checkpoint and its validation metrics
  (facts about how the weights were made; the model does not read them).
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import torch

from genomix import __version__
from genomix.errors import CheckpointError
from genomix.files import file_sha256

FORMAT = "genomix-model"
VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"

REQUIRED = ("format", "format_version", "genomix_version", "architecture", "model_kwargs", "task", "alphabet",
            "vocab", "classes", "weights")
OPTIONAL = ("target_scale", "label_kind", "window", "training")
INFO_KEYS = ("task", "alphabet", "vocab", "classes", "target_scale", "label_kind", "window")
"""The keys a checkpoint and a folder share (what :func:`genomix.checkpoint.load_model` returns)."""


def folder_config(info: dict[str, Any], *, weights_sha256: str, training: dict[str, Any] | None = None
                  ) -> dict[str, Any]:
    """The ``config.json`` of a model described by ``info`` (a checkpoint's keys) and its weights' digest."""
    model_kwargs = dict(info["model_kwargs"])
    config = {"format": FORMAT, "format_version": VERSION, "genomix_version": __version__,
              "architecture": model_kwargs.get("architecture", "chordmixer"), "model_kwargs": model_kwargs}
    config.update({key: info.get(key) for key in INFO_KEYS})
    config["weights"] = {"file": WEIGHTS_NAME, "sha256": weights_sha256}
    config["training"] = training or {}
    return json.loads(json.dumps(config))  # plain JSON values only (fails here, not half-way through a write)


def write_weights(path: str | os.PathLike, state_dict: dict[str, torch.Tensor]) -> str:
    """Write a state dict (parameters and buffers) as safetensors, flushed to disk; return its SHA-256.

    Raises:
        OSError: the file could not be written (its message says why, e.g. no space left on device).
    """
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    tensors = {name: tensor.detach().to("cpu").contiguous() for name, tensor in state_dict.items()}
    try:
        # one metadata key: safetensors writes its metadata map in no fixed order, and the same weights must
        # give the same bytes (and SHA-256) every time
        save_file(tensors, str(path), metadata={"format": "pt"})
    except SafetensorError as error:  # a failed write (a full disk among them) is an OSError to the caller
        raise OSError(errno.EIO, f"safetensors could not write {path}: {_one_line(error)}", str(path)) from error
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)  # as any file a user makes (safetensors creates it 0600)
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
    return file_sha256(path)


def read_folder_config(folder: str | os.PathLike) -> dict[str, Any]:
    """``config.json`` of an exported folder, every key checked.

    Raises:
        CheckpointError: no such file, not JSON, another format or version, a missing or unknown key,
            or a value of the wrong type; the message names the file and the key.
    """
    path = Path(folder) / CONFIG_NAME
    if not path.is_file():
        raise CheckpointError(f"model folder {folder}: no {CONFIG_NAME}; expected a folder written by "
                              f"'genomix export' (or a .pt checkpoint)")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise CheckpointError(f"{path}: not a text file; expected JSON") from None
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path}: not valid JSON (line {error.lineno}, column {error.colno}: "
                              f"{error.msg})") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: expected a JSON object, got {type(config).__name__}")
    if config.get("format") != FORMAT:
        raise CheckpointError(f"{path}: format {config.get('format')!r}, expected {FORMAT!r}")
    if config.get("format_version") != VERSION:
        raise CheckpointError(f"{path}: format_version {config.get('format_version')!r}, this genomix reads "
                              f"version {VERSION}")
    missing = [key for key in REQUIRED if key not in config]
    if missing:
        raise CheckpointError(f"{path}: missing key(s) {', '.join(missing)}")
    unknown = sorted(set(config) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise CheckpointError(f"{path}: unknown key(s) {', '.join(unknown)} (known: "
                              f"{', '.join(REQUIRED + OPTIONAL)})")
    _check_types(config, path)
    return config


def _check_types(config: dict[str, Any], path: Path) -> None:
    expected = {"model_kwargs": dict, "vocab": dict, "weights": dict, "task": str, "alphabet": str,
                "architecture": str, "genomix_version": str}
    for key, kind in expected.items():
        if not isinstance(config[key], kind):
            raise CheckpointError(f"{path}: {key} should be a JSON {'object' if kind is dict else 'string'}, "
                                  f"got {json.dumps(config[key])[:80]}")
    if config["classes"] is not None and not (isinstance(config["classes"], list)
                                              and all(isinstance(c, str) for c in config["classes"])):
        raise CheckpointError(f"{path}: classes should be a list of names or null, got "
                              f"{json.dumps(config['classes'])[:80]}")
    if config["model_kwargs"].get("architecture", "chordmixer") != config["architecture"]:
        raise CheckpointError(f"{path}: architecture {config['architecture']!r} but model_kwargs say "
                              f"{config['model_kwargs'].get('architecture', 'chordmixer')!r}")
    weights = config["weights"]
    if set(weights) != {"file", "sha256"} or not all(isinstance(v, str) for v in weights.values()):
        raise CheckpointError(f"{path}: weights should be {{\"file\": NAME, \"sha256\": HEX}}, got "
                              f"{json.dumps(weights)[:120]}")
    if Path(weights["file"]).name != weights["file"]:
        raise CheckpointError(f"{path}: weights file {weights['file']!r} should be a file name inside the folder")


def read_weights(folder: str | os.PathLike, config: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The state dict of an exported folder, after checking the file's SHA-256 against ``config.json``.

    Raises:
        CheckpointError: the file is missing, its digest differs, or it is not a safetensors file.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(folder) / config["weights"]["file"]
    if not path.is_file():
        raise CheckpointError(f"model folder {folder}: no weights file {path.name}")
    digest = file_sha256(path)
    if digest != config["weights"]["sha256"].lower():
        raise CheckpointError(f"{path}: SHA-256 {digest[:16]}... differs from {config['weights']['sha256'][:16]}... "
                              f"in {CONFIG_NAME}; the file was changed or damaged after export")
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path}: not a safetensors file genomix can read ({_one_line(error)})") from None


def read_folder(folder: str | os.PathLike) -> dict[str, Any]:
    """An exported folder as a checkpoint payload: ``model_state``, ``model_kwargs``, the info keys, ``config``.

    ``config`` is the training config (as in a ``.pt``); the folder's own config is ``folder_config``.

    Raises:
        CheckpointError: see :func:`read_folder_config` and :func:`read_weights`.
    """
    config = read_folder_config(folder)
    state = read_weights(folder, config)
    training = config.get("training") or {}
    payload = {key: config.get(key) for key in INFO_KEYS}
    payload.update(model_state=state, model_kwargs=dict(config["model_kwargs"]),
                   config=training.get("config") or {}, step=training.get("step"), folder_config=config)
    return payload


def build_from_payload(payload: dict[str, Any], *, source: str | os.PathLike) -> torch.nn.Module:
    """The model of a checkpoint payload (``.pt`` or folder), weights loaded strictly, in eval mode on the CPU.

    Raises:
        CheckpointError: the arguments are unknown to this genomix, or the weights do not fit them
            (missing, unexpected or wrongly shaped tensors), in one line.
    """
    from genomix.models import build_model

    try:
        model = build_model(payload["model_kwargs"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{source}: the model options do not build a model ({_one_line(error)})") from None
    try:
        model.load_state_dict(payload["model_state"])
    except (KeyError, RuntimeError, TypeError, ValueError) as error:
        raise CheckpointError(f"{source}: weights do not fit the model ({_one_line(error)})") from None
    return model.eval()


def _one_line(error: BaseException, limit: int = 300) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[:limit] + " ..."


def load_pretrained(folder: str | os.PathLike, *, device: str | torch.device = "cpu"
                    ) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The model of an exported folder (eval mode, on ``device``) and its info keys.

    Raises:
        CheckpointError: the folder is not one genomix can read, or does not fit its model.
    """
    payload = read_folder(folder)
    model = build_from_payload(payload, source=folder).to(device)
    return model, {key: payload.get(key) for key in (*INFO_KEYS, "config", "model_kwargs")}




def load_pretrained_as(model_class: type, folder: str | os.PathLike, *, device: str | torch.device = "cpu"
                       ) -> torch.nn.Module:
    """:func:`load_pretrained` for ``model_class.from_pretrained``: refuses a folder of another architecture.

    Raises:
        CheckpointError: as :func:`load_pretrained`, or the folder holds another kind of model.
    """
    config = read_folder_config(folder)
    wanted = {"ChordMixer": "chordmixer", "RefAltModel": "ref_alt"}.get(model_class.__name__)
    if config["architecture"] != wanted:
        other = {"chordmixer": "ChordMixer", "ref_alt": "RefAltModel"}.get(config["architecture"], "?")
        raise CheckpointError(f"model folder {folder} holds a {config['architecture']!r} model; load it with "
                              f"{other}.from_pretrained (or genomix.load)")
    model, _ = load_pretrained(folder, device=device)
    return model


__all__ = ["CONFIG_NAME", "WEIGHTS_NAME", "CARD_NAME", "build_from_payload", "file_sha256", "folder_config",
           "load_pretrained", "load_pretrained_as", "read_folder", "read_folder_config", "read_weights",
           "write_weights"]
