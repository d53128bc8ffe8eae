"""The ``masked_lm`` task: masked-nucleotide pretraining on DNA, trained by the same trainer as the rest.

The model is the default ChordMixer with the ``per_position`` decoder (4 logits, ``A C G T``, at every
position) and no k-mer profile head (:func:`genomix.training.sizing.model_kwargs_for`). Batches come from
:class:`MaskedBatches`: the same token-budget batches, crops and reverse-complement strands as
``genomix train``, then masked (:mod:`genomix.training.masking`); the loss is the cross-entropy at the
masked positions only. Validation reports masked-token accuracy and perplexity beside the unigram and
k-mer context predictors (:mod:`genomix.training.mlm_baselines`) scored on the same masks.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from genomix.alphabet import reverse_complement
from genomix.datasets.sampler import TokenBudgetBatchSampler
from genomix.errors import DatasetFormatError
from genomix.precision import autocast as precision_autocast
from genomix.training.augment import crop_lengths, random_reverse_complements, random_windows
from genomix.training.masking import IGNORE, N_BASES, MaskingPlan, mask_tokens
from genomix.training.mlm_baselines import ContextPredictor, Scores, UnigramPredictor

logger = logging.getLogger(__name__)

CONTEXT_SIZES = (1, 2, 3, 4)
"""``k`` (positions each side) of the context predictors fitted; the best on valid is reported."""
FIT_CHUNK_TOKENS = 1 << 22


class MaskedBatches:
    """Token-budget batches of masked DNA: inputs ``(tokens (N,), lengths (B,), targets (N,))``, int64.

    Args:
        plan: the masking fraction and replacement mix.
    """

    def __init__(self, plan: MaskingPlan) -> None:
        self.plan = plan

    def sizes(self, split: Any, *, crop: int = 0) -> np.ndarray:
        """``int64 (n,)``: each sequence's token cost (its length, at most ``crop`` when cropping)."""
        return crop_lengths(split.lengths, crop=crop)

    def read_batch(self, split: Any, indices: np.ndarray, *, crop: int = 0, seed: int = 0, epoch: int = 0,
                   reverse_complement: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Masked inputs, lengths and targets (:func:`~genomix.training.masking.mask_tokens`) of a batch:
        cropped and strand-flipped as :class:`~genomix.training.batches.SequenceBatches` does, then masked
        with draws from ``(seed, epoch, index)``."""
        indices = np.asarray(indices, dtype=np.int64)
        tokens, lengths = split.read_many(indices)
        tokens, lengths = random_windows(tokens, lengths, indices, crop=crop, seed=seed, epoch=epoch)
        if reverse_complement:
            tokens = random_reverse_complements(tokens, lengths, indices, seed=seed, epoch=epoch)
        inputs, targets = mask_tokens(tokens, lengths, indices, plan=self.plan, seed=seed, epoch=epoch)
        return (torch.from_numpy(inputs.astype(np.int64)), torch.as_tensor(np.asarray(lengths, dtype=np.int64)),
                torch.from_numpy(targets))


class MaskedLMTask:
    """Masked-nucleotide prediction: ``(N, 4)`` logits, cross-entropy on masked positions only.

    Args:
        dataset: the open ``masked_lm`` dataset (DNA).
        plan: the masking fraction and replacement mix.
        seed: the run's seed (the validation masks are drawn from it, epoch 0).
    """

    name = "masked_lm"
    default_metric = "masked_accuracy"
    output_size = N_BASES
    targets_in_batch = True
    """The batch reader makes the targets (the trainer does not read ``labels``)."""

    def __init__(self, dataset: Any, *, plan: MaskingPlan, seed: int = 0) -> None:
        if dataset.alphabet != "dna":
            raise DatasetFormatError(f"masked-nucleotide pretraining needs a DNA dataset; {dataset.path} holds "
                                     f"alphabet {dataset.alphabet!r}")
        self.dataset = dataset
        self.plan = plan
        self.seed = seed
        self.batches = MaskedBatches(plan)
        self._baselines: dict[str, Any] | None = None

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy over the masked positions (0 with a graph when a batch has none)."""
        if not bool((targets != IGNORE).any()):
            return outputs.float().sum() * 0.0
        return F.cross_entropy(outputs.float(), targets, ignore_index=IGNORE)

    def state(self) -> dict[str, Any]:
        return {"masking": {"fraction": self.plan.fraction, "random": self.plan.random, "keep": self.plan.keep}}

    # -- evaluation ------------------------------------------------------------------------

    @torch.no_grad()
    def evaluate_split(self, model: torch.nn.Module, split: Any, *, max_tokens: int,
                       device: torch.device | str = "cpu", precision: str = "auto") -> dict[str, Any]:
        """Masked accuracy, perplexity and loss of ``model`` on a split, beside the two baselines.

        The split's masks are drawn from ``(seed, 0, index)``: the same at every evaluation. The
        baselines (fitted once on train) are scored on the same masks.
        """
        device = torch.device(device)
        was_training = model.training
        model.eval()
        if self._baselines is None:
            self.fit_baselines(self.dataset.split("train"))
        predictors = self._baselines["predictors"]
        known = self._baselines["scores"].get(split.name)
        model_scores = Scores()
        baseline_scores = {name: Scores() for name in predictors} if known is None else None
        sampler = TokenBudgetBatchSampler(self.batches.sizes(split), max_tokens=max_tokens, shuffle=False)
        for batch in sampler:
            indices = np.asarray(batch, dtype=np.int64)
            inputs, lengths, targets = self.batches.read_batch(split, indices, seed=self.seed, epoch=0)
            positions = torch.nonzero(targets != IGNORE).flatten()
            if not len(positions):
                continue
            with precision_autocast(precision, device):
                logits = model(inputs.to(device), lengths.to(device))
            log_probabilities = torch.log_softmax(logits.float()[positions.to(device)], dim=-1).cpu().numpy()
            chosen = targets[positions].numpy()
            model_scores.add(log_probabilities, chosen)
            if baseline_scores is not None:
                tokens, lengths_np, where = inputs.numpy(), lengths.numpy(), positions.numpy()
                for name, predictor in predictors.items():
                    baseline_scores[name].add(predictor.log_probabilities(tokens, lengths_np, where), chosen)
        model.train(was_training)
        if baseline_scores is not None:  # the split's masks never change: scored once per split
            known = self._baselines["scores"][split.name] = _baseline_metrics(baseline_scores)
        result = model_scores.result()
        return {"masked_accuracy": result["accuracy"], "perplexity": result["perplexity"], "loss": result["loss"],
                "n_masked": result["n"], **known}

    def fit_baselines(self, split: Any) -> dict[str, Any]:
        """Fit the unigram and context predictors that :meth:`evaluate_split` scores beside the model on
        ``split``'s epoch-0 masks, both strands (by default the train split, unweighted: ``source_weights``
        changes what the network trains on, not its baselines; one source's windows for
        :func:`~genomix.training.pretrain_sources.evaluate_by_source`). Returns them (``predictors``)."""
        predictors: dict[str, Any] = {"unigram": UnigramPredictor(),
                                      **{f"context{k}": ContextPredictor(k) for k in CONTEXT_SIZES}}
        lengths = np.asarray(split.lengths, dtype=np.int64)
        ends = np.cumsum(lengths)
        start = 0
        while start < len(lengths):
            done = ends[start - 1] if start else 0
            stop = max(start + 1, int(np.searchsorted(ends, done + FIT_CHUNK_TOKENS, side="right")))
            indices = np.arange(start, stop)
            tokens, chunk_lengths = split.read_many(indices)
            for strand in (tokens, _reverse_each(tokens, chunk_lengths)):
                inputs, targets = mask_tokens(strand, chunk_lengths, indices, plan=self.plan, seed=self.seed, epoch=0)
                for predictor in predictors.values():
                    predictor.add(inputs, chunk_lengths, targets)
            start = stop
        logger.info("masked-LM baselines fitted on %s train tokens (both strands)", f"{int(lengths.sum()):,}")
        self._baselines = {"predictors": predictors, "scores": {}}
        return self._baselines


def _reverse_each(tokens: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Each concatenated sequence replaced by its reverse complement (same lengths, same order)."""
    out = np.empty_like(np.asarray(tokens))
    start = 0
    for length in np.asarray(lengths).tolist():
        out[start:start + length] = reverse_complement(tokens[start:start + length])
        start += length
    return out


def _baseline_metrics(scores: dict[str, Scores]) -> dict[str, Any]:
    """Flat metrics: ``unigram_*``, ``context{k}_accuracy`` per k, and ``context_*`` of the best k on valid."""
    unigram = scores["unigram"].result()
    out: dict[str, Any] = {"unigram_accuracy": unigram["accuracy"], "unigram_perplexity": unigram["perplexity"]}
    best_k, best = None, None
    for k in CONTEXT_SIZES:
        result = scores[f"context{k}"].result()
        out[f"context{k}_accuracy"] = result["accuracy"]
        if result["accuracy"] is not None and (best is None or result["accuracy"] > best["accuracy"]):
            best_k, best = k, result
    out["context_k"] = best_k
    out["context_accuracy"] = best["accuracy"] if best else None
    out["context_perplexity"] = best["perplexity"] if best else None
    return out


__all__ = ["MaskedBatches", "MaskedLMTask", "CONTEXT_SIZES"]
