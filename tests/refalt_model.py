"""A small untrained ref/alt checkpoint, saved as ``genomix train`` saves one (for export and API tests).

Its weights are random (seeded, every parameter drawn from N(0, 0.3^2): the zero-initialised residual
branches and head of a fresh model would score every variant alike), so scores differ between
variants; its profile also reads two motifs (``motif_count``), so their matrices travel through every
saved, exported and loaded form. These tests check that scores are computed and carried exactly, not
that they are good.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from genomix.alphabet import DNA
from genomix.checkpoint import primitive, save_checkpoint
from genomix.models import ModelConfig, build_model
from genomix.models.motifs import log_odds

WINDOW = 24
CLASSES = ["other", "Cfrm"]


def ref_alt_checkpoint(path: Path, *, seed: int = 0) -> Path:
    """Write a variant-effect (classification) checkpoint with a seeded random RefAltModel to ``path``."""
    kwargs = ModelConfig(track_size=4, hidden_size=8).model_kwargs(
        architecture="ref_alt", input_size=DNA.vocab_size, output_size=len(CLASSES), max_seq_len=2 * WINDOW)
    kwargs.update(motif_count=2, motif_width=4)  # the profile reads motifs, so every path carries their matrices
    torch.manual_seed(seed)
    model = build_model(kwargs)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.3)
        model.set_motifs(log_odds([np.full((4, 4), 1.0) + 30 * np.eye(4), np.full((4, 3), 1.0) + 30 * np.eye(4)[:, :3]]))
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(path, {"model_state": model.state_dict(), "model_kwargs": primitive(kwargs),
                           "task": "variant_effect", "alphabet": "dna", "vocab": primitive(DNA.vocab),
                           "classes": list(CLASSES), "config": {"window": WINDOW}, "target_scale": None,
                           "label_kind": "classification", "window": WINDOW, "step": 0})
    return path
