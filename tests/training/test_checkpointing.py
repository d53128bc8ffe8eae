"""Checkpointing modes train the same model: a seeded fp32 run on real data, ``segments`` against
``segments_bf16`` (block inputs stored in bf16 for backward, :mod:`genomix.models.fast.compact`).

Same seed, same batches, same forward values: the runs differ only by the gradients' bf16-level error
(bounded per step in tests/models/fast/test_compact.py), so their valid metric must agree within the
noise of training itself, which here is taken as the spread between two seeds of the reference mode.
"""

from __future__ import annotations

import pytest

from conftest import TINY
from genomix.models import fast
from genomix.training.config import load_config
from genomix.training.loop import train

RUN = [*TINY, "epochs=8", "seed=0", "eval_every=0", "precision=fp32", "grad_checkpointing=true"]


@pytest.mark.slow
def test_segments_bf16_trains_like_segments_on_orchids(orchid_h5, tmp_path):
    scores = {}
    for name, extra in {"segments": ["checkpoint_mode=segments"],
                        "segments_bf16": ["checkpoint_mode=segments_bf16"],
                        "segments_seed1": ["checkpoint_mode=segments", "seed=1"]}.items():
        config = load_config(None, [*RUN, *extra])
        with fast.trace() as ran:
            scores[name] = train(orchid_h5, out_dir=tmp_path / name, config=config, device="cpu")["best_score"]
        assert ("compact" in ran) == name.endswith("bf16"), (name, sorted(set(ran)))
    print(scores)
    noise = max(abs(scores["segments_seed1"] - scores["segments"]), 0.02)
    assert abs(scores["segments_bf16"] - scores["segments"]) <= noise, scores
