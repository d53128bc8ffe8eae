"""Checkpoints: one ``.pt`` file that holds everything to use or resume a model, and never runs code.

Written by training, read by training (resume) and inference (``annotate``, ``score-variants``,
``evaluate``, :func:`genomix.load`); this module imports nothing of :mod:`genomix.training`. It is the one
entry point for reading a model: a folder written by ``genomix export`` (:mod:`genomix.pretrained`) is
read here as a ``.pt`` is, into the same keys.

A checkpoint is a dict of tensors and primitive containers only, so ``torch.load(weights_only=True)``
reads it. Keys (format ``genomix-checkpoint``, version 1):

- ``model_state``: the model's ``state_dict`` (tensors, published parameter names).
- ``model_kwargs``: the model's constructor arguments (:func:`genomix.models.build_model` builds it).
- ``task``, ``alphabet``, ``vocab``, ``classes``: what the model reads and predicts.
- ``config``: the training config as a dict; ``target_scale``: ``[mean, std]`` for regression.
- ``label_kind`` and ``window`` (``variant_effect`` only): classification or regression, and the
  window (bp) the ref/alt model was trained with; ``model_kwargs["architecture"] = "ref_alt"``.
- ``train_state`` (``last.pt`` only): ``step``, ``epoch``, ``optimizer``, ``sampler``, ``rng``,
  ``best_score``, ``bad_evaluations``, ``finished``.

Writes are atomic: a temporary file beside the target, flushed, then renamed over it.
"""

from __future__ import annotations

import errno
import json
import pickle
import warnings
from pathlib import Path
from typing import Any

import torch

from genomix.errors import CheckpointError, OutputError
from genomix.files import atomic_open, disk_full_at, is_disk_full

FORMAT = "genomix-checkpoint"
VERSION = 1


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` (plus format and version) atomically to ``path``."""
    path = Path(path)
    payload = {"format": FORMAT, "version": VERSION, **payload}
    try:
        with atomic_open(path, "wb") as stream:
            torch.save(payload, stream)
    except (OSError, RuntimeError) as error:  # torch reports a failed write as a RuntimeError
        if isinstance(error, OSError) or is_disk_full(error) or "write failed" in str(error):
            full = is_disk_full(error) or disk_full_at(path)
            reason = "no space left on device" if full else str(error).splitlines()[-1]
            raise OutputError(getattr(error, "errno", None) or errno.EIO,
                              f"cannot write checkpoint {path}: {reason}; the previous file there, if any, "
                              "is unchanged", str(path)) from None
        raise


def _unreadable(error: Exception) -> str:
    """Why torch could not load a file, without torch's advice to retry with ``weights_only=False``.

    That advice would run whatever code the file holds; genomix checkpoints never need it.
    """
    text = str(error)
    if "Unsupported global" in text or "Unsupported class" in text:
        return ("holds Python objects besides tensors and plain containers, so it is not a genomix checkpoint; "
                "refused (genomix never runs code from a checkpoint)")
    if isinstance(error, pickle.UnpicklingError) or "Weights only load failed" in text:
        return "not a PyTorch checkpoint genomix can read (damaged, or another kind of file)"
    lines = [line for line in text.strip().splitlines() if line.strip() and "weights_only" not in line]
    detail = lines[0][:200] if lines else ""
    return f"not a PyTorch checkpoint genomix can read ({type(error).__name__}{': ' + detail if detail else ''})"


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``) and check its format and version.

    A folder is read as an exported model (:func:`genomix.pretrained.read_folder`: its SHA-256 and every
    key of its ``config.json`` checked) into the same keys (no ``train_state``).

    Raises:
        CheckpointError: not a file torch can read safely, or not a genomix checkpoint of this version;
            for a folder, see :func:`genomix.pretrained.read_folder`.
    """
    path = Path(path)
    if path.is_dir():
        from genomix.pretrained import read_folder

        return read_folder(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path}: no such file")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols of files it then refuses
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 (torch raises many types for a bad file)
        raise CheckpointError(f"checkpoint {path}: {_unreadable(error)}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path}: not a genomix checkpoint")
    if payload.get("version") != VERSION:
        raise CheckpointError(
            f"checkpoint {path}: version {payload.get('version')!r}, this genomix reads version {VERSION}"
        )
    return payload


def primitive(value: Any) -> Any:
    """A JSON round trip: guarantees a value holds only primitives that ``weights_only`` accepts."""
    return json.loads(json.dumps(value))


def load_model(path: str | Path, *, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild the model of a checkpoint for inference.

    Args:
        path: a ``best.pt`` or ``last.pt``, or a folder written by ``genomix export``.
        device: where to put the model.

    Returns:
        ``(model, info)``: the model in eval mode, and a dict with ``task``, ``alphabet``, ``vocab``,
        ``classes``, ``config``, ``model_kwargs``, ``target_scale``, ``label_kind`` and ``window``
        (the last two ``None`` unless ``variant_effect``).

    Raises:
        CheckpointError: unreadable, or the weights do not fit the saved model arguments.
    """
    from genomix.pretrained import build_from_payload

    payload = read_checkpoint(path)
    model = build_from_payload(payload, source=f"checkpoint {path}" if Path(path).is_file() else f"model folder {path}")
    model.to(device).eval()
    info = {key: payload.get(key) for key in
            ("task", "alphabet", "vocab", "classes", "config", "model_kwargs", "target_scale", "label_kind",
             "window")}
    return model, info


def check_fits(info: dict[str, Any], dataset: Any, *, path: str | Path) -> None:
    """Raise unless a checkpoint's task, alphabet, vocab and classes match a dataset's.

    Raises:
        CheckpointError: naming the first thing that differs.
    """
    for key in ("task", "alphabet"):
        if info.get(key) != getattr(dataset, key):
            raise CheckpointError(
                f"checkpoint {path} does not fit the dataset: {key} is {info.get(key)!r} in the checkpoint, "
                f"{getattr(dataset, key)!r} in the dataset"
            )
    if primitive(info.get("vocab")) != primitive(dataset.vocab):
        raise CheckpointError(f"checkpoint {path} does not fit the dataset: the vocabularies differ")
    if info.get("task") in ("classification", "variant_effect") and list(info.get("classes") or []) != list(dataset.classes or []):
        raise CheckpointError(
            f"checkpoint {path} does not fit the dataset: classes {info.get('classes')} in the checkpoint, "
            f"{list(dataset.classes or [])} in the dataset"
        )
