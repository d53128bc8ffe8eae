"""The trainer: AdamW, warm-up + cosine over the true number of optimizer steps, exact resume, DDP.

One call, :func:`train`, does the whole run. Model selection uses the ``valid`` split only; ``test``
is touched only when ``final_test`` is set (once, at the end, with ``best.pt``, written apart as
``test_metrics.json``). Progress goes to an optional callback (the CLI draws a bar from it); each
evaluation is one log line and one record of ``metrics.jsonl``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genomix import native
from genomix.checkpoint import primitive, read_checkpoint, save_checkpoint
from genomix.datasets.sampler import TokenBudgetBatchSampler
from genomix.datasets.store import open_dataset
from genomix.errors import ConfigError, DatasetFormatError, GenomixError
from genomix.models import build_model
from genomix.models.fast import buffers
from genomix.precision import autocast, resolve_precision
from genomix.training import distributed, metrics, rundir
from genomix.training.batches import batch_reader
from genomix.training.config import TrainConfig, from_dict
from genomix.training.evaluate import predict_split
from genomix.training.init import backbone_parameters, load_backbone
from genomix.training.masking import MaskingPlan
from genomix.training.motif_choice import choose_motifs
from genomix.training.position_probe import probe_positions
from genomix.training.profile_fit import (best_profile_kmer_size, fit_profile_head, fit_profile_kmer_sizes,
                                          fit_profile_statistics, head_is_fitted)
from genomix.training.pretrain_sources import weighted_training_split
from genomix.training.sizing import model_kwargs_for, resolve_schedule
from genomix.training.tasks import is_classification, make_task, sample_weights, training_targets

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[dict[str, Any]], None]


def lr_at(step: int, *, total_steps: int, config: TrainConfig) -> float:
    """Learning rate of optimizer step ``step`` (0-based): linear warm-up, then cosine to ``min_lr``."""
    warmup = round(config.warmup_fraction * total_steps)
    if step < warmup:
        return config.lr * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
    return config.min_lr + (config.lr - config.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _parameter_groups(model: torch.nn.Module, *, weight_decay: float, decoder_lr_scale: float,
                      backbone_lr_scale: float = 1.0) -> list[dict[str, Any]]:
    """AdamW groups: no decay on biases, norms and embeddings; the decoder's (ref/alt head's, k-mer profile
    head's) learning rate scaled, and the rest's (the backbone's) by ``backbone_lr_scale``."""
    groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        parts = name.split(".")
        decays = parameter.ndim >= 2 and "embedding" not in parts[:2]
        groups.setdefault((decays, parts[0] in ("decoder", "head", "profile")), []).append(parameter)
    return [{"params": params, "weight_decay": weight_decay if decays else 0.0,
             "lr_scale": decoder_lr_scale if is_decoder else backbone_lr_scale}
            for (decays, is_decoder), params in sorted(groups.items())]


def _autocast(device: torch.device, precision: str):
    return autocast(precision, device)


def masking_plan(config: TrainConfig) -> MaskingPlan:
    """The ``masked_lm`` masking of a config (``mask_fraction``, ``mask_random``, ``mask_keep``)."""
    return MaskingPlan(fraction=config.mask_fraction, random=config.mask_random, keep=config.mask_keep)


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class Trainer:
    """One training run (see :func:`train`)."""

    def __init__(self, dataset_path: str | Path, out_dir: Path, config: TrainConfig, *,
                 context: distributed.DistContext, resume_payload: dict[str, Any] | None,
                 progress: ProgressCallback | None) -> None:
        self.dataset_path = str(dataset_path)
        self.out_dir = out_dir
        self.config = config
        self.context = context
        self.progress = progress
        self.dataset = open_dataset(dataset_path)
        for name in ("train", "valid"):
            if name not in self.dataset.split_names or len(self.dataset.split(name)) == 0:
                raise DatasetFormatError(f"dataset {dataset_path}: training needs a non-empty '{name}' split")
        self.train_split = self.dataset.split("train")
        target_scale = resume_payload.get("target_scale") if resume_payload else None
        self.task = make_task(self.dataset, class_weights=config.class_weights, target_scale=target_scale,
                              masking=masking_plan(config), seed=config.seed,
                              regression_targets=config.regression_targets)
        if config.source_weights:  # masked_lm corpora: each file's share of an epoch (pretrain_sources)
            self.train_split = weighted_training_split(self.train_split, config.source_weights, seed=config.seed)
        self.train_targets = (None if getattr(self.task, "targets_in_batch", False)  # masked_lm: made per batch
                              else training_targets(self.task, self.train_split.labels))
        self.train_weights = sample_weights(self.dataset, "train", config.sample_weights)
        # a fitted head sees each training sequence's given strand only: on a model trained on both strands
        # it is made strand-symmetric (model.profile_canonical=auto); a head trained jointly sees both strands
        self.model_kwargs = model_kwargs_for(self.dataset, config.model, output_size=self.task.output_size,
                                             both_strands=config.reverse_complement == "on" and self._fits_profile_head())
        self.profile_kmer_choice: dict[str, Any] | None = None
        self._chosen_profile_fit: dict[str, Any] | None = None
        self._choose_profile_kmer_size(fresh=resume_payload is None)
        self.pooling_choice: dict[str, Any] | None = None
        self._choose_pooling(fresh=resume_payload is None)
        self.motif_choice: dict[str, Any] | None = None
        self._motif_matrices: torch.Tensor | None = None
        self._choose_motifs(fresh=resume_payload is None)
        if resume_payload is not None:
            self._check_resume_fits(resume_payload)
        torch.manual_seed(config.seed)
        self.model = build_model(
            self.model_kwargs, grad_checkpointing=config.grad_checkpointing and config.checkpoint_mode).to(context.device)
        if self._motif_matrices is not None:
            self.model.set_motifs(self._motif_matrices.to(context.device))
        if resume_payload is None and config.init:  # fine-tuning: the pretrained backbone, a new decoder
            loaded = load_backbone(self.model, config.init, dataset=self.dataset)
            logger.info("loaded %d backbone tensors from %s", len(loaded), config.init)
        self.train_profile_logits = self._prepare_profile_head(fresh=resume_payload is None)
        self.backbone = backbone_parameters(self.model)
        self.optimizer = torch.optim.AdamW(
            _parameter_groups(self.model, weight_decay=config.weight_decay, decoder_lr_scale=config.decoder_lr_scale,
                              backbone_lr_scale=config.backbone_lr_scale),
            lr=config.lr,
        )
        self.batches = getattr(self.task, "batches", None) or batch_reader(self.dataset, train_crop=config.train_crop)
        self.train_sizes = self.batches.sizes(self.train_split, crop=config.train_crop)
        self.sampler = TokenBudgetBatchSampler(
            self.train_sizes, max_tokens=config.max_tokens, seed=config.seed,
            pool_size=config.pool_size, rank=context.rank, world_size=context.world_size,
        )
        self.steps_per_epoch = [math.ceil(self.sampler.num_batches(e) / config.grad_accum)
                                for e in range(config.epochs)]
        self.total_steps = sum(self.steps_per_epoch)
        self.ddp_model = distributed.wrap(self.model, context)
        self.step = 0
        self.best_score: float | None = None
        self.best_loss: float | None = None  # valid log loss of best.pt: breaks ties of the metric
        self.bad_evaluations = 0
        self.last_eval_step = -1
        self.running = _fresh_running()
        self.elapsed_s = 0.0
        if resume_payload is not None:
            self._load_train_state(resume_payload)

    def _fits_profile_head(self) -> bool:
        """Whether the model's k-mer profile head is fitted before training (``profile_fit``)."""
        return head_is_fitted(self.config.profile_fit, train_crop=self.config.train_crop,
                              variant_pairs=self.dataset.task == "variant_effect")  # the ref/alt model

    def _choose_profile_kmer_size(self, *, fresh: bool) -> None:
        """``model.profile_kmer_size=0`` on a fitted DNA profile head: the k of its k-mers chosen from
        :data:`~genomix.training.profile_fit.PROFILE_KMER_SIZES` (deterministic, so a resumed run chooses
        the same)."""
        kwargs = self.model_kwargs
        if (not kwargs.get("kmer_profile") or kwargs.get("architecture") == "ref_alt" or kwargs.get("profile_kmer_size")
                or kwargs.get("kmer_vocab") != "acgt" or not self._fits_profile_head()):
            return
        fits = fit_profile_kmer_sizes(self.dataset, self.task, output_size=self.task.output_size,
                                      canonical=bool(kwargs.get("profile_canonical")), **self._profile_fit_options())
        k = best_profile_kmer_size(fits)
        scores = {size: fit["scores"] for size, fit in fits.items()}
        kwargs["profile_kmer_size"] = k
        self._chosen_profile_fit = fits[k]  # _prepare_profile_head takes this head rather than fitting it again
        score = "log_loss" if is_classification(self.task) else "squared_error"
        self.profile_kmer_choice = {"chosen": k, "by": f"out_of_fold_{score}",
                                    "scores": {str(size): values for size, values in scores.items()}}
        if fresh:
            logger.info("k-mer profile head: k=%d (out-of-fold %s: %s)", k, score.replace("_", " "),
                        ", ".join(f"k={size} {values['out_of_fold']:.4f}" for size, values in scores.items()))

    def _choose_pooling(self, *, fresh: bool) -> None:
        """``model.pooling='auto'`` on DNA read whole (``resolve_schedule`` makes it ``'mean'`` for training
        windows): ``'moments'`` or ``'mean'``, whichever a linear probe of where k-mers lie prefers out of fold
        (:mod:`genomix.training.position_probe`; deterministic, so a resumed run chooses the same)."""
        kwargs = self.model_kwargs
        auto = self.config.model.pooling == "auto"
        if not auto or kwargs.get("decoder") != "linear" or kwargs.get("kmer_vocab") != "acgt":
            return  # model_kwargs keeps 'mean': values, text, token-level tasks (ref/alt pairs have no kmer_vocab)
        options = self._profile_fit_options()
        choice = probe_positions(self.dataset, self.task, output_size=self.task.output_size, seed=options["seed"],
                                 folds=max(2, options["folds"]), metric=options["metric"], weights=options["weights"])
        kwargs["pooling"] = choice["chosen"]
        self.pooling_choice = choice
        if fresh and choice["scores"]:
            scores = choice["scores"]
            logger.info("pooling: %s (%s: k-mer frequencies %.4f, with their places %.4f)", choice["chosen"],
                        choice["by"].replace("_", " "), scores["mean"]["out_of_fold"], scores["moments"]["out_of_fold"])
        elif fresh:
            logger.info("pooling: %s (%s)", choice["chosen"], choice["by"])

    def _choose_motifs(self, *, fresh: bool) -> None:
        """``model.motifs`` on the ref/alt model with a fitted profile head: whether the head also reads known
        motifs (:mod:`genomix.training.motif_choice`; ``'auto'``: where they win on valid)."""
        kwargs, source = self.model_kwargs, self.config.model.motifs
        if source == "off" or kwargs.get("architecture") != "ref_alt":
            return  # ModelConfig refuses a named source for a one-sequence model
        if not kwargs.get("kmer_profile") or not self._fits_profile_head():
            if source != "auto":
                raise ConfigError(f"model.motifs={source!r} needs the ref/alt model's fitted profile head "
                                  "(model.kmer_profile and profile_fit not 'off')")
            return
        result = choose_motifs(self.dataset, self.task, kwargs, source, fit_options=self._profile_fit_options())
        kwargs.update(result["kwargs"])
        self._motif_matrices = result["matrices"]
        self._chosen_profile_fit = result["fit"]  # _prepare_profile_head takes this head rather than fitting it again
        self.motif_choice = choice = result["choice"]
        if fresh:
            scores = ", ".join(f"{name} {value:.4f}" for name, value in choice["scores"].items())
            logger.info("motifs: %s %s (%d motifs; %s: %s)", "reading" if choice["chosen"] else "not reading",
                        choice["source"], choice["motifs"], choice["by"].replace("_", " "), scores)

    def _profile_fit_options(self) -> dict[str, Any]:
        """How the profile head is fitted (:func:`~genomix.training.profile_fit.fit_profile_head`): the run's
        seed, folds, selection metric and sample weights."""
        return {"seed": self.config.seed, "folds": self.config.profile_folds,
                "metric": None if self.config.select_metric == "auto" else self.config.select_metric,
                "weights": None if self.train_weights is None else self.train_weights.double().numpy()}

    def _prepare_profile_head(self, *, fresh: bool) -> torch.Tensor | None:
        """Standardise the k-mer profile head and, with ``profile_fit``, fit it as the k-mer baseline and
        freeze it; returns the logits training adds for each training sequence in its place (out of fold;
        None when the head trains on the batches' own k-mers, or there is none). Deterministic, so a
        resumed run refits the same head (its saved weights are then loaded over it)."""
        head = getattr(self.model, "profile", None)
        mode = self.config.profile_fit
        if head is None:
            if mode == "on":
                raise ConfigError("profile_fit=on needs a model with a k-mer profile head (model.kmer_profile)")
            return None
        chosen, self._chosen_profile_fit = self._chosen_profile_fit, None
        if chosen is not None:  # fitted while choosing its k: the same deterministic fit, not done twice
            head.load_state_dict(chosen["head"].state_dict())
            fitted = chosen["fit"]
        else:
            profiles = fit_profile_statistics(self.model, self.dataset)
            if not self._fits_profile_head():
                return None
            fitted = fit_profile_head(self.model, self.dataset, self.task, train_profiles=profiles,
                                      **self._profile_fit_options())
        if fresh:
            logger.info("k-mer profile head fitted as the k-mer baseline (C=%g, valid %s %.4f) and kept fixed; "
                        "training adds the network to its %s logits", fitted["C"], fitted["metric"], fitted["valid"],
                        f"{fitted['folds']}-fold out-of-fold" if fitted["folds"] else "own")
        head.requires_grad_(False)
        return fitted["train_logits"].to(self.context.device)

    # -- state -----------------------------------------------------------------------------

    def _check_resume_fits(self, payload: dict[str, Any]) -> None:
        now = primitive(self.model_kwargs)
        stored = {**{key: value for key, value in ADDED_MODEL_KWARGS.items() if key in now},
                  **(payload.get("model_kwargs") or {})}
        differ = sorted(key for key in {*stored, *now} if stored.get(key) != now.get(key))
        if differ or payload.get("classes") != primitive(list(self.dataset.classes or [])):
            what = (f"a model with other {', '.join(differ)} ("
                    + ", ".join(f"{key} {stored.get(key)!r} in the run, {now.get(key)!r} now" for key in differ[:3])
                    + ")") if differ else "other classes"
            raise GenomixError(
                f"the run in {self.out_dir} cannot resume on {self.dataset_path}: it would build {what}; resume it "
                f"with the dataset it started with"
            )

    def _load_train_state(self, payload: dict[str, Any]) -> None:
        state = payload["train_state"]
        self.model.load_state_dict(payload["model_state"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.context.distributed:
            state_sampler = state["sampler_by_rank"][self.context.rank]
        else:
            state_sampler = state["sampler"]
        self.sampler.load_state_dict(state_sampler)
        self.step = int(state["step"])
        self.best_score = state["best_score"]
        self.best_loss = state.get("best_loss")
        self.bad_evaluations = int(state["bad_evaluations"])
        self.last_eval_step = int(state["last_eval_step"])
        self.running = {**_fresh_running(), **state["running"]}
        self.elapsed_s = float(state["elapsed_s"])
        _set_rng_state(state["rng"])

    def _payload(self) -> dict[str, Any]:
        return {
            "model_state": self.model.state_dict(),
            "model_kwargs": primitive(self.model_kwargs),
            "task": self.dataset.task,
            "alphabet": self.dataset.alphabet,
            "vocab": primitive(self.dataset.vocab),
            "classes": primitive(list(self.dataset.classes or [])),
            "config": self.config.to_dict(),
            **self.task.state(),
        }

    def save_last(self, *, finished: bool = False) -> None:
        """Write ``last.pt`` (rank 0 only; every rank's sampler position is gathered into it)."""
        sampler_states = None
        if self.context.distributed:
            gathered = [None] * self.context.world_size
            torch.distributed.all_gather_object(gathered, self.sampler.state_dict())
            sampler_states = gathered
        if not self.context.is_main:
            return
        train_state = {
            "step": self.step, "total_steps": self.total_steps, "epoch": self.sampler.epoch,
            "optimizer": self.optimizer.state_dict(), "sampler": self.sampler.state_dict(),
            "rng": _rng_state(), "best_score": self.best_score, "best_loss": self.best_loss, "bad_evaluations": self.bad_evaluations,
            "last_eval_step": self.last_eval_step, "running": dict(self.running),
            "elapsed_s": self.elapsed_s, "finished": finished,
        }
        if sampler_states is not None:
            train_state["sampler_by_rank"] = sampler_states
        logger.debug("rank %d writes %s at step %d", self.context.rank, rundir.LAST, self.step)
        save_checkpoint(self.out_dir / rundir.LAST, {**self._payload(), "train_state": train_state})

    # -- evaluation ------------------------------------------------------------------------

    def evaluate(self, epoch: int) -> bool:
        """Evaluate on valid (rank 0), log, keep ``best.pt``; returns whether to stop early."""
        buffers.POOL.clear()  # training's cached activation buffers are not needed while predicting
        stop = False
        if self.context.is_main:
            if hasattr(self.task, "evaluate_split"):  # masked_lm: scores masked positions, not sequences
                valid = self.task.evaluate_split(
                    self.model, self.dataset.split("valid"),
                    max_tokens=self.config.eval_max_tokens or 2 * self.config.max_tokens,
                    device=self.context.device, precision=self.config.precision)
            else:
                outputs, labels, _ = predict_split(
                    self.model, self.dataset.split("valid"), task=self.task, alphabet=self.dataset.alphabet,
                    batches=self.batches,
                    max_tokens=self.config.eval_max_tokens or 2 * self.config.max_tokens,
                    device=self.context.device, precision=self.config.precision,
                )
                valid = self.task.metrics(labels, outputs)
            valid.pop("confusion", None)
            if is_classification(self.task):
                valid["log_loss"] = metrics.log_loss(labels, outputs)
            metric = self.task.default_metric if self.config.select_metric == "auto" else self.config.select_metric
            if metric not in valid:
                raise ConfigError(f"select_metric {metric!r} is not a metric of this task "
                                  f"(one of {', '.join(k for k in valid if k != 'n')})")
            score = valid[metric]
            sign = 1.0 if metrics.higher_is_better(metric) else -1.0
            loss = valid.get("log_loss")
            improved = score is not None and math.isfinite(score) and (
                self.best_score is None or sign * score > sign * self.best_score
                # a tie (e.g. a valid split classified perfectly from the first evaluation on) goes to the
                # lower valid log loss, not to the earliest, least trained checkpoint
                or (score == self.best_score and loss is not None and self.best_loss is not None
                    and loss < self.best_loss)
            )
            if improved:
                self.best_score = float(score)
                self.best_loss = loss
                self.bad_evaluations = 0
                save_checkpoint(self.out_dir / rundir.BEST, {**self._payload(), "step": self.step,
                                                             "valid": primitive(_finite(valid))})
            else:
                self.bad_evaluations += 1
            record = {
                "step": self.step, "epoch": epoch + 1, "lr": self.optimizer.param_groups[0]["lr"],
                "train_loss": self.running["loss_sum"] / max(1, self.running["batches"]),
                "train_losses": list(self.running["step_losses"]),  # per optimizer step since the last line
                "elapsed_s": round(self.elapsed_s, 1), "valid": valid, "best": improved,
            }
            rundir.append_metrics(self.out_dir, record)
            logger.info(
                "step %d/%d epoch %d: train loss %.4f, valid %s %.4f%s (accuracy %s)", self.step,
                self.total_steps, epoch + 1, record["train_loss"], metric, score,
                " *best*" if improved else "", _fmt(valid.get("accuracy")),
            )
            if self.progress:
                self.progress({"kind": "eval", **record})
            stop = self.config.patience > 0 and self.bad_evaluations >= self.config.patience
        self.running = _fresh_running()
        self.last_eval_step = self.step
        self.model.train()
        return bool(distributed.broadcast_object(stop, self.context))

    # -- the loop --------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Train to the end (or early stop / time limit); returns a summary."""
        config = self.config
        started = time.monotonic() - self.elapsed_s
        self.session_started = time.monotonic()  # max_minutes limits this invocation, not the whole run
        window_tokens, window_start = 0, time.monotonic()
        stop_reason = "finished"
        if self.step == 0 and self.last_eval_step < 0 and self.train_profile_logits is not None:
            # the network starts at zero, so this is the fitted k-mer baseline alone: best.pt starts as
            # the baseline, and the network replaces it only where it does better on valid
            self.evaluate(0)
        for epoch in range(self.sampler.epoch, config.epochs):
            self.sampler.set_epoch(epoch)
            micro = self.sampler.position % config.grad_accum
            n_batches = len(self.sampler)
            self.model.train()
            for batch in self.sampler:
                split = self.train_split
                indices = np.asarray(batch, dtype=np.int64)
                inputs = self.batches.read_batch(split, indices, crop=config.train_crop, seed=config.seed, epoch=epoch,
                                                 reverse_complement=config.reverse_complement == "on")
                if getattr(self.task, "targets_in_batch", False):  # masked_lm: the reader made the targets
                    *inputs, labels = inputs
                else:
                    labels = self.train_targets[indices]
                inputs = tuple(tensor.to(self.context.device) for tensor in inputs)
                labels = labels.to(self.context.device)
                logger.debug("rank %d epoch %d batch %s", self.context.rank, epoch, ",".join(map(str, batch)))
                micro += 1
                is_step = micro == config.grad_accum or self.sampler.position == n_batches
                sync = contextlib.nullcontext() if is_step or not self.context.distributed else self.ddp_model.no_sync()
                with sync:
                    extra = ({} if self.train_profile_logits is None
                             else {"profile_logits": self.train_profile_logits[indices]})
                    with _autocast(self.context.device, config.precision):
                        outputs = self.ddp_model(*inputs, **extra)
                    if self.train_weights is None:
                        loss = self.task.loss(outputs, labels)
                    else:
                        loss = self.task.loss(outputs, labels, self.train_weights[indices].to(self.context.device))
                    if not torch.isfinite(loss):
                        raise GenomixError(
                            f"the training loss became {loss.item()} at step {self.step + 1} (epoch {epoch + 1}); "
                            f"lower lr (now {config.lr:g}), keep grad_clip on, or try precision=fp32"
                        )
                    (loss / config.grad_accum).backward()
                self.running["loss_sum"] += float(loss.item())
                self.running["batches"] += 1
                self.running["step_loss_sum"] += float(loss.item())
                self.running["step_batches"] += 1
                batch_tokens = int(self.train_sizes[indices].sum()) * self.context.world_size
                self.running["tokens"] += batch_tokens
                window_tokens += batch_tokens
                if not is_step:
                    continue
                micro = 0
                self.running["step_losses"].append(
                    round(self.running["step_loss_sum"] / max(1, self.running["step_batches"]), 6))
                self.running["step_loss_sum"], self.running["step_batches"] = 0.0, 0
                self._optimizer_step()
                self.elapsed_s = time.monotonic() - started
                if self.progress and self.context.is_main:
                    now = time.monotonic()
                    self.progress({"kind": "step", "step": self.step, "total_steps": self.total_steps,
                                   "epoch": epoch, "loss": float(loss.item()), "lr": self.optimizer.param_groups[0]["lr"],
                                   "tokens_per_s": window_tokens / max(now - window_start, 1e-9)})
                    window_tokens, window_start = 0, now
                at_epoch_end = self.sampler.position == n_batches
                if config.eval_every and self.step % config.eval_every == 0 and not at_epoch_end:
                    if self.evaluate(epoch):
                        stop_reason = "early stopping"
                    self.save_last()
                elif config.checkpoint_every and self.step % config.checkpoint_every == 0:
                    self.save_last()
                if stop_reason != "finished":
                    break
                if config.max_minutes and not at_epoch_end and self._out_of_time():
                    stop_reason = "time limit"
                    break
            if stop_reason != "finished":
                break
            due = not config.eval_every or self.step % config.eval_every == 0 or epoch + 1 == config.epochs
            if due and self.last_eval_step != self.step and self.evaluate(epoch):
                stop_reason = "early stopping"
            if epoch + 1 < config.epochs:
                self.sampler.set_epoch(epoch + 1)
            self.save_last(finished=epoch + 1 == config.epochs or stop_reason != "finished")
            if stop_reason != "finished":
                break
            if config.max_minutes and epoch + 1 < config.epochs and self._out_of_time():
                stop_reason = "time limit"
                break
        if stop_reason == "time limit":
            if self.last_eval_step != self.step:  # so a stopped run always leaves a usable best.pt
                self.evaluate(epoch)
            self.save_last()
        elif stop_reason == "early stopping":
            self.save_last(finished=True)
        logger.info("training stopped (%s) after %d of %d steps, %.1f min", stop_reason, self.step,
                    self.total_steps, self.elapsed_s / 60)
        return {"stop_reason": stop_reason, "step": self.step, "total_steps": self.total_steps,
                "best_score": self.best_score, "elapsed_s": self.elapsed_s}

    def _out_of_time(self) -> bool:
        over = time.monotonic() - self.session_started > 60 * self.config.max_minutes
        return bool(distributed.broadcast_object(over, self.context))

    def _optimizer_step(self) -> None:
        config = self.config
        if self.step < config.freeze_backbone_steps:  # no gradient, so AdamW leaves the backbone as it is
            for parameter in self.backbone:
                parameter.grad = None
        if config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.grad_clip)
        lr = lr_at(self.step, total_steps=self.total_steps, config=config)
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group["lr_scale"]
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1


RESUME_KEYS = ("max_minutes", "num_threads")
"""Config keys that may change on ``--resume``: neither changes what the run computes."""

ADDED_OPTIONS = {("model", "profile_canonical"): "off", ("model", "pooling"): "mean", ("model", "motifs"): "off"}
"""Options added after runs could have started, each with the value that computes what the code did before:
a run saved without the option resumes as it started (``auto`` would now build another model)."""
ADDED_MODEL_KWARGS = {"profile_canonical": False, "pooling": "mean", "motif_count": 0, "motif_width": 0}
"""The model keywords those options added, as a model saved without them was built (the constructor's default)."""


def _resumed_config(stored: dict[str, Any], overrides: Sequence[str], *, source: str) -> TrainConfig:
    """The run's own config, with the few :data:`RESUME_KEYS` changes allowed on resume.

    Raises:
        ConfigError: an override of another key, or a bad value.
    """
    from genomix.training.config import _parse_value

    raw = dict(stored)
    for (section, key), value in ADDED_OPTIONS.items():
        if isinstance(raw.get(section), dict) and key not in raw[section]:
            raw[section] = {**raw[section], key: value}
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or key not in RESUME_KEYS:
            raise ConfigError(f"--resume continues with the run's own config; only {', '.join(RESUME_KEYS)} can "
                              f"change (max_minutes=30), got {item!r}")
        raw[key] = _parse_value(text.strip())
    return from_dict(raw, source=source)


def _fresh_running() -> dict[str, Any]:
    """Train-loss sums since the last evaluation, and the mean loss of each optimizer step since then."""
    return {"loss_sum": 0.0, "batches": 0, "tokens": 0, "step_loss_sum": 0.0, "step_batches": 0,
            "step_losses": []}


def _finite(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in values.items()}


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def train(
    dataset_path: str | Path,
    *,
    out_dir: str | Path,
    config: TrainConfig | None = None,
    resume: bool = False,
    resume_overrides: Sequence[str] = (),
    progress: ProgressCallback | None = None,
    device: str = "auto",
) -> dict[str, Any]:
    """Train ChordMixer on a dataset file; everything lands in ``out_dir``.

    Args:
        dataset_path: a genomix dataset (``.h5``) with ``train`` and ``valid`` splits.
        out_dir: the run directory (new, unless ``resume``).
        config: the options (defaults when ``None``); ignored when resuming (the run's own is used).
        resume: continue the run in ``out_dir`` from its ``last.pt``.
        resume_overrides: ``key=value`` changes on resume, only for :data:`RESUME_KEYS` (e.g.
            ``max_minutes=30``: a run stopped by its time limit gets a new one).
        progress: called with a dict after each optimizer step (``kind='step'``) and evaluation.
        device: ``auto``, ``cpu`` or ``cuda``.

    Returns:
        A summary: ``stop_reason``, ``step``, ``total_steps``, ``best_score``, ``elapsed_s``
        (plus ``test`` metrics when ``final_test``).

    Raises:
        GenomixError: bad dataset, config, run dir, or a non-finite loss; the run dir is left as it was.
    """
    out_dir = Path(out_dir)
    created = not out_dir.exists()  # a new run that fails at once removes the folder it made
    context = distributed.setup(device=device)
    try:
        payload = None
        if resume:
            payload = read_checkpoint(out_dir / rundir.LAST)
            if payload.get("train_state", {}).get("finished"):
                raise GenomixError(f"the run in {out_dir} has already finished; nothing to resume")
            config = _resumed_config(payload["config"], resume_overrides, source=f"{out_dir / rundir.LAST} config")
        else:
            config = resolve_schedule(open_dataset(dataset_path), config or TrainConfig())
            problem = None
            if context.is_main:
                try:
                    rundir.prepare_new(out_dir)
                except GenomixError as error:
                    problem = str(error)
            problem = distributed.broadcast_object(problem, context)
            if problem is not None:
                raise GenomixError(problem)
        if config.num_threads:
            torch.set_num_threads(config.num_threads)
        try:
            trainer = Trainer(dataset_path, out_dir, config, context=context, resume_payload=payload, progress=progress)
        except BaseException:  # e.g. an --init checkpoint that does not fit: leave no half-made run folder
            if not resume and context.is_main:
                rundir.abandon_new(out_dir, created=created)
            raise
        if context.is_main:
            if resume:
                rundir.truncate_metrics(out_dir, after_step=trainer.step)
                logger.info("resuming %s at step %d of %d", out_dir, trainer.step, trainer.total_steps)
            else:
                rundir.write_json(out_dir / rundir.CONFIG, {
                    "config": config.to_dict(), "dataset": str(Path(dataset_path).resolve()),
                    "model_kwargs": trainer.model_kwargs, "total_steps": trainer.total_steps,
                    "steps_per_epoch": trainer.steps_per_epoch, "world_size": context.world_size,
                    "task": trainer.dataset.task, "classes": list(trainer.dataset.classes or []),
                    **({"profile_kmer_size": trainer.profile_kmer_choice} if trainer.profile_kmer_choice else {}),
                    **({"pooling": trainer.pooling_choice} if trainer.pooling_choice else {}),
                    **({"motifs": trainer.motif_choice} if trainer.motif_choice else {}),
                })
            n_params = sum(p.numel() for p in trainer.model.parameters())
            logger.info("model: %s parameters, %s; %d optimizer steps over %d epochs", f"{n_params:,}",
                        trainer.model_kwargs, trainer.total_steps, config.epochs)
            if context.device.type == "cpu":
                logger.info("%s on the CPU: %s; THP_MEM_ALLOC_ENABLE=%s", resolve_precision(config.precision, context.device),
                            "fused kernels (genomix.native)" if native.available()
                            else "ATen ops only, the fused kernels could not be built (docs/model.md)",
                            os.environ.get("THP_MEM_ALLOC_ENABLE", "unset (genomix.models.fast.tune_cpu sets it)"))
        try:
            summary = trainer.run()
        except BaseException:
            if not resume and context.is_main:
                rundir.abandon_new(out_dir, created=created)
            raise
        buffers.POOL.clear()
        if config.final_test and context.is_main and "test" in trainer.dataset.split_names and hasattr(
                trainer.task, "evaluate_split"):  # masked_lm: best.pt's masked accuracy on test, beside the baselines
            from genomix.checkpoint import load_model

            model, _ = load_model(out_dir / rundir.BEST, device=context.device)
            test = trainer.task.evaluate_split(model, trainer.dataset.split("test"), max_tokens=2 * config.max_tokens,
                                               device=context.device, precision=config.precision)
            rundir.write_json(out_dir / "test_metrics.json", {"split": "test", "checkpoint": str(out_dir / rundir.BEST),
                                                              "metrics": test})
            summary["test"] = test
        elif config.final_test and context.is_main and "test" in trainer.dataset.split_names:
            from genomix.training.evaluate import evaluate_checkpoint

            test = evaluate_checkpoint(out_dir / rundir.BEST, dataset_path, split="test", out_dir=out_dir,
                                       name="test_metrics", plots=False, device=str(context.device))
            summary["test"] = test["metrics"]
        distributed.barrier(context)  # no rank leaves the group while rank 0 still works
        return summary
    finally:
        distributed.teardown(context)
