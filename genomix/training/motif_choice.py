"""Whether the ref/alt model's fitted profile head also reads known motifs (``model.motifs``).

The head is fitted on the k-mer changes alone and on the k-mer changes plus each motif's change of best
site score (:class:`~genomix.models.motifs.MotifChange`), C chosen on valid for each; with ``auto`` the
motifs are kept only where they raise the valid selection metric by more than :data:`MIN_GAIN`. Measured
on MPRA (docs/quality.md, tenth round): valid Spearman 0.187 without, 0.282 with JASPAR's vertebrate motifs.
Deterministic, so a resumed run chooses the same.
"""

from __future__ import annotations

import logging
from typing import Any

from genomix.io.motifs import load_motifs
from genomix.models import build_model
from genomix.models.motifs import log_odds
from genomix.training.metrics import higher_is_better
from genomix.training.profile_fit import fit_profile_head, fit_profile_statistics

logger = logging.getLogger(__name__)

MIN_GAIN = 0.01
"""How much the motifs must raise the head's valid metric (Spearman, ROC AUC, ...) for ``auto`` to keep them."""
AUTO_SOURCE = "jaspar"
"""What ``auto`` tries: JASPAR CORE vertebrates (:mod:`genomix.io.motifs`)."""


def choose_motifs(dataset: Any, task: Any, model_kwargs: dict[str, Any], source: str, *,
                  fit_options: dict[str, Any]) -> dict[str, Any]:
    """Fit the ref/alt model's profile head with and without the motifs of ``source`` and choose.

    Args:
        model_kwargs: the ref/alt model's keywords (``kmer_profile`` on); not changed here.
        source: ``model.motifs``: ``'auto'`` (try :data:`AUTO_SOURCE`, keep it if it wins on valid) or a
            source of :func:`~genomix.io.motifs.load_motifs` (kept whatever valid says).
        fit_options: :func:`~genomix.training.profile_fit.fit_profile_head`'s seed, folds, metric, weights.

    Returns:
        ``{"kwargs": {"motif_count", "motif_width"}, "matrices": (M, 4, W) tensor or None, "fit": {"head",
        "fit"} of the chosen head (the trainer installs it rather than fitting again), "choice": what the
        run's config.json records}``.

    Raises:
        ConfigError: a source that cannot be read.
    """
    motifs = load_motifs(AUTO_SOURCE if source == "auto" else source)
    matrices = log_odds(list(motifs.counts))
    counts = (0, len(motifs)) if source == "auto" else (len(motifs),)
    fits = {}
    for count in counts:
        model = build_model({**model_kwargs, "motif_count": count, "motif_width": matrices.shape[2] if count else 0})
        if count:
            model.set_motifs(matrices)
        profiles = fit_profile_statistics(model, dataset)
        fits[count] = {"head": model.profile, "fit": fit_profile_head(model, dataset, task, train_profiles=profiles,
                                                                       **fit_options)}
    metric = fits[len(motifs)]["fit"]["metric"]
    sign = 1.0 if higher_is_better(metric) else -1.0
    scores = {("with" if count else "without"): fits[count]["fit"]["valid"] for count in counts}
    chosen = len(motifs)
    if source == "auto" and not sign * (scores["with"] - scores["without"]) > MIN_GAIN:
        chosen = 0
    return {"kwargs": {"motif_count": chosen, "motif_width": matrices.shape[2] if chosen else 0},
            "matrices": matrices if chosen else None, "fit": fits[chosen],
            "choice": {"source": motifs.source, "motifs": len(motifs), "chosen": bool(chosen),
                       "by": f"valid_{metric}", "scores": scores}}


__all__ = ["AUTO_SOURCE", "MIN_GAIN", "choose_motifs"]
