"""Training configuration: one dataclass, read from TOML, overridden by ``key=value``, validated once.

A config file holds top-level training keys and a ``[model]`` table::

    # what this reproduces, and the one command that runs it
    epochs = 6
    lr = 2e-3
    [model]
    track_size = 8

On the command line ``lr=1e-3`` or ``model.track_size=16`` override the file. :func:`validate` is the
one place that checks keys and values: it reports every unknown key and every bad value at once, as
one :class:`~genomix.errors.ConfigError`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import tomllib

from genomix.errors import ConfigError
from genomix.models.config import ModelConfig
from genomix.models.config import validate as validate_model
from genomix.precision import PRECISIONS
from genomix.training.metrics import CLASSIFICATION_METRICS, REGRESSION_METRICS
from genomix.training.pretrain_sources import check_source_weights
from genomix.validation import SEED_MAX
from genomix.training.tasks import REGRESSION_TARGETS, SAMPLE_WEIGHTS

CHECKPOINT_MODES = ("block", "segments", "segments_bf16")
CLASS_WEIGHTS = ("none", "balanced")
REVERSE_COMPLEMENT = ("auto", "on", "off")
PROFILE_FIT = ("auto", "on", "off")
SELECT_METRICS = ("auto", *CLASSIFICATION_METRICS, *REGRESSION_METRICS)
MAX_EPOCHS = 10_000  # the schedule plans every epoch up front; more would hang before the first step
MAX_INT = 2**53  # any larger count or size is a typo (and overflows int64 arithmetic downstream)


@dataclass
class TrainConfig:
    """Every option of ``genomix train``.

    Attributes:
        seed: seeds weights, shuffling and dropout.
        epochs: passes over the train split (0 = sized from the dataset: about
            :data:`~genomix.training.sizing.TARGET_STEPS` optimizer steps in all).
        max_tokens: token budget of one batch per process (sum of sequence lengths).
        eval_max_tokens: token budget for evaluation batches (0 = ``2 * max_tokens``).
        pool_size: sequences sorted by length together before packing batches.
        train_crop: train on a random window of this many positions of each longer sequence, drawn
            anew each epoch (0 = whole sequences; -1 = sized from the dataset: windows of
            :data:`~genomix.training.sizing.AUTO_CROP` when the longest training sequence is longer than
            twice that); evaluation always reads whole sequences.
        reverse_complement: ``auto`` (``on`` for DNA, except ref/alt variant pairs), ``on`` (each
            training sequence is read from either strand with probability 1/2) or ``off``.
        profile_fit: the k-mer profile head (``model.kmer_profile``): ``on`` fits it before training as
            the k-mer baseline (train, C chosen on valid, the whole sequences' profiles) and keeps it
            fixed, so the network learns only what the k-mer profile misses (``on`` without a head is an
            error); ``off``: it starts at zero and trains with the network on each batch's k-mers;
            ``auto``: ``on`` when training reads windows (``train_crop``) and for the ref/alt variant
            model (its profile of the changed k-mers is fitted as the ridge / logistic baseline), else ``off``.
        profile_folds: with ``profile_fit``, training adds the network to the head's out-of-fold logits
            of each training sequence, from this many folds (0: the fitted head's own logits); on a
            variant dataset of several elements the folds hold out whole elements.
        regression_targets: what a regression model is trained to predict: ``standardised`` labels,
            ``element_ranks`` (each label's normal score within its element, ``best.pt`` chosen by
            Spearman: elements measured on different scales weigh alike; variant datasets with element
            references only) or ``auto`` (``element_ranks`` where the dataset has two or more elements).
        lr: peak learning rate (after warm-up).
        min_lr: learning rate at the end of the cosine decay.
        decoder_lr_scale: the decoder's (and k-mer profile head's) learning rate is ``lr * decoder_lr_scale``;
            0 = sized from the task: 10 for ChordMixer (its pooled inputs differ little between classes),
            1 for the ref/alt variant head (its summed window differences are large already).
        warmup_fraction: fraction of all optimizer steps spent warming up linearly from 0.
        weight_decay: AdamW weight decay (not applied to biases, norms and embeddings).
        grad_clip: clip the global gradient norm to this (0 = off).
        grad_accum: batches per optimizer step.
        class_weights: ``none`` or ``balanced`` (inverse class frequency in train).
        sample_weights: how the dataset's per-record measurement weights (``meta/weight``) weight the loss
            and the profile head's fit: ``auto`` (``sqrt`` where the dataset has them), ``none``, ``sqrt``,
            ``linear`` (:data:`~genomix.training.tasks.SAMPLE_WEIGHTS`).
        precision: ``auto`` (bf16 where the hardware has it natively, else fp32), ``fp32`` or ``bf16``
            (autocast, CPU and CUDA).
        grad_checkpointing: recompute block activations in the backward pass (less memory).
        checkpoint_mode: with ``grad_checkpointing``: ``block`` stores every block's input; ``segments``
            stores one input per ``ceil(sqrt(blocks))`` blocks and recomputes twice (megabase inputs);
            ``segments_bf16``: ``segments`` with the stored inputs in bf16 when training in fp32 (a third
            less memory; gradients at activations rounded to bf16, tested in tests/models/fast/test_compact.py).
        eval_every: evaluate on valid every N optimizer steps (0 = at the end of each epoch; -1 = about
            ten evaluations per run, at epoch ends when an epoch is a tenth of the run or more).
        checkpoint_every: write ``last.pt`` every N optimizer steps (0 = only at evaluations/end).
        patience: stop after this many evaluations without improvement (0 = never).
        select_metric: valid metric for ``best.pt``: ``auto`` (roc_auc / neg. MSE), or a metric name.
        final_test: evaluate ``best.pt`` on test once at the end (written as ``test_metrics.json``).
        num_threads: torch CPU threads (0 = torch's default).
        max_minutes: stop training after this many minutes (0 = no limit); the schedule is not changed.
        mask_fraction, mask_random, mask_keep: ``masked_lm`` pretraining only: the share of ``A C G T``
            positions that are targets, and the shares of targets replaced by a random base or kept
            (the rest become ``N``; :mod:`genomix.training.masking`).
        source_weights: ``masked_lm`` pretraining only: a multiplier on each named source file's share of
            the training tokens (``{"enhancers.train.fa.gz" = 4}``; unnamed files keep 1, 0 leaves a file
            out of training; names are the corpus' ``meta/source_file``; :mod:`genomix.training.pretrain_sources`).
        init: fine-tune from this pretrained checkpoint (``genomix pretrain``'s ``best.pt``): its
            backbone (embedding and blocks) is loaded, the decoder is new (:mod:`genomix.training.init`).
        freeze_backbone_steps: with ``init``: the backbone is not updated in the first N optimizer steps.
        backbone_lr_scale: the backbone's learning rate is ``lr * backbone_lr_scale``.
        model: the model's options (:class:`genomix.models.config.ModelConfig`, validated there).
    """

    seed: int = 0
    epochs: int = 0
    max_tokens: int = 16384
    eval_max_tokens: int = 0
    pool_size: int = 256
    train_crop: int = -1
    reverse_complement: str = "auto"
    profile_fit: str = "auto"
    profile_folds: int = 5
    regression_targets: str = "auto"
    lr: float = 2e-3
    min_lr: float = 1e-5
    decoder_lr_scale: float = 0.0
    warmup_fraction: float = 0.05
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    grad_accum: int = 1
    class_weights: str = "none"
    sample_weights: str = "auto"
    precision: str = "auto"
    grad_checkpointing: bool = False
    checkpoint_mode: str = "block"
    eval_every: int = -1
    checkpoint_every: int = 100
    patience: int = 0
    select_metric: str = "auto"
    final_test: bool = False
    num_threads: int = 0
    max_minutes: float = 0.0
    mask_fraction: float = 0.15
    mask_random: float = 0.1
    mask_keep: float = 0.1
    source_weights: dict[str, float] = field(default_factory=dict)
    init: str = ""
    freeze_backbone_steps: int = 0
    backbone_lr_scale: float = 1.0
    model: ModelConfig = field(default_factory=ModelConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (primitives only), as written to ``config.json`` and checkpoints."""
        return asdict(self)


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    """Read a TOML config (optional), apply ``key=value`` overrides, validate everything at once.

    Args:
        path: a TOML file, or ``None`` for the defaults.
        overrides: strings ``key=value`` or ``model.key=value``; values are parsed as TOML values
            (``lr=1e-3``, ``precision=bf16``, ``grad_checkpointing=true``).

    Raises:
        ConfigError: the file cannot be read or parsed, or any key or value is wrong (all listed).
    """
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as error:
            raise ConfigError(f"config {path}: cannot read it ({error.strerror})") from None
        except UnicodeDecodeError as error:
            raise ConfigError(f"config {path}: not UTF-8 text (byte {error.object[error.start]:#04x} at offset "
                              f"{error.start:,}); expected a TOML file") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"config {path}: not valid TOML ({error})") from None
    problems: list[str] = []
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            problems.append(f"override {item!r} should look like key=value")
            continue
        _set_dotted(raw, key.strip(), _parse_value(text.strip()))
    return from_dict(raw, source=str(path) if path else "config", problems=problems)


def from_dict(raw: dict[str, Any], *, source: str = "config", problems: list[str] | None = None) -> TrainConfig:
    """Build a :class:`TrainConfig` from a nested dict, checking every key and value (all at once).

    Raises:
        ConfigError: listing every unknown key and every bad value.
    """
    problems = list(problems or [])
    raw = dict(raw)
    model_raw = raw.pop("model", {})
    if not isinstance(model_raw, dict):
        problems.append(f"'model' should be a table, got {model_raw!r}")
        model_raw = {}
    model = ModelConfig(**_typed_values(ModelConfig, model_raw, "model.", problems))
    config = TrainConfig(**_typed_values(TrainConfig, raw, "", problems), model=model)
    problems.extend(validate(config))
    if problems:
        raise ConfigError(f"{source}: " + "; ".join(problems))
    return config


def validate(config: TrainConfig) -> list[str]:
    """Every problem with the values of ``config`` (empty when it is fine)."""
    problems: list[str] = []

    def check(ok: bool, message: str) -> None:
        if not ok:
            problems.append(message)

    for prefix, values in (("", config), ("model.", config.model)):
        for item in fields(values):
            value = getattr(values, item.name)
            if isinstance(value, float) and not math.isfinite(value):
                problems.append(f"{prefix}{item.name} should be a finite number, got {value}")
            elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
                problems.append(f"{prefix}{item.name} should be at most {MAX_INT:,} in size, got {value}")
    check(0 <= config.epochs <= MAX_EPOCHS,
          f"epochs should be in 0..{MAX_EPOCHS:,} (0: sized from the dataset), got {config.epochs}")
    check(0 <= config.seed <= SEED_MAX, f"seed should be in 0..{SEED_MAX:,}, got {config.seed}")
    check(config.select_metric in SELECT_METRICS,
          f"select_metric should be one of {', '.join(SELECT_METRICS)}, got {config.select_metric!r}")
    check(config.max_tokens >= 1, f"max_tokens should be >= 1, got {config.max_tokens}")
    check(config.eval_max_tokens >= 0, f"eval_max_tokens should be >= 0, got {config.eval_max_tokens}")
    check(config.train_crop >= -1, f"train_crop should be >= 0, or -1 (sized from the dataset), got {config.train_crop}")
    check(config.reverse_complement in REVERSE_COMPLEMENT,
          f"reverse_complement should be one of {', '.join(REVERSE_COMPLEMENT)}, got {config.reverse_complement!r}")
    check(config.profile_fit in PROFILE_FIT,
          f"profile_fit should be one of {', '.join(PROFILE_FIT)}, got {config.profile_fit!r}")
    check(config.profile_folds == 0 or config.profile_folds >= 2,
          f"profile_folds should be 0 or >= 2, got {config.profile_folds}")
    check(config.regression_targets in REGRESSION_TARGETS,
          f"regression_targets should be one of {', '.join(REGRESSION_TARGETS)}, got {config.regression_targets!r}")
    check(config.pool_size >= 1, f"pool_size should be >= 1, got {config.pool_size}")
    check(config.lr > 0, f"lr should be > 0, got {config.lr}")
    check(0 <= config.min_lr <= config.lr, f"min_lr should be in [0, lr], got {config.min_lr}")
    check(config.decoder_lr_scale >= 0, f"decoder_lr_scale should be > 0 (0: sized from the task), got {config.decoder_lr_scale}")
    check(0 <= config.warmup_fraction < 1, f"warmup_fraction should be in [0, 1), got {config.warmup_fraction}")
    check(config.weight_decay >= 0, f"weight_decay should be >= 0, got {config.weight_decay}")
    check(config.grad_clip >= 0, f"grad_clip should be >= 0, got {config.grad_clip}")
    check(config.grad_accum >= 1, f"grad_accum should be >= 1, got {config.grad_accum}")
    check(config.sample_weights in SAMPLE_WEIGHTS,
          f"sample_weights should be one of {', '.join(SAMPLE_WEIGHTS)}, got {config.sample_weights!r}")
    check(config.class_weights in CLASS_WEIGHTS,
          f"class_weights should be one of {', '.join(CLASS_WEIGHTS)}, got {config.class_weights!r}")
    check(config.checkpoint_mode in CHECKPOINT_MODES,
          f"checkpoint_mode should be one of {', '.join(CHECKPOINT_MODES)}, got {config.checkpoint_mode!r}")
    check(config.precision in PRECISIONS,
          f"precision should be one of {', '.join(PRECISIONS)}, got {config.precision!r}")
    check(config.eval_every >= -1, f"eval_every should be >= 0, or -1 (about ten per run), got {config.eval_every}")
    check(config.checkpoint_every >= 0, f"checkpoint_every should be >= 0, got {config.checkpoint_every}")
    check(config.patience >= 0, f"patience should be >= 0, got {config.patience}")
    check(config.num_threads >= 0, f"num_threads should be >= 0, got {config.num_threads}")
    check(config.max_minutes >= 0, f"max_minutes should be >= 0, got {config.max_minutes}")
    check(0 < config.mask_fraction <= 1, f"mask_fraction should be in (0, 1], got {config.mask_fraction}")
    check(config.mask_random >= 0 and config.mask_keep >= 0 and config.mask_random + config.mask_keep <= 1,
          f"mask_random and mask_keep should be >= 0 and sum to at most 1, got {config.mask_random} and "
          f"{config.mask_keep}")
    problems.extend(check_source_weights(config.source_weights))
    check(config.freeze_backbone_steps >= 0, f"freeze_backbone_steps should be >= 0, got {config.freeze_backbone_steps}")
    check(config.freeze_backbone_steps == 0 or bool(config.init),
          "freeze_backbone_steps needs init=PRETRAINED.pt (a new backbone would stay random)")
    check(config.backbone_lr_scale > 0, f"backbone_lr_scale should be > 0, got {config.backbone_lr_scale}")
    problems.extend(validate_model(config.model, prefix="model."))
    return problems


def _typed_values(cls: type, raw: dict[str, Any], prefix: str, problems: list[str]) -> dict[str, Any]:
    known = {f.name: f for f in fields(cls) if f.name != "model"}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            hint = _close_match(key, known)
            problems.append(f"unknown key '{prefix}{key}'" + (f" (did you mean '{prefix}{hint}'?)" if hint else ""))
            continue
        default = known[key].default
        expected = dict if known[key].default_factory is dict else type(default)
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if type(value) is not expected:
            kind = (f"a table ({prefix}{key}={{\"name\" = value}} on the command line)" if expected is dict
                    else expected.__name__)
            problems.append(f"'{prefix}{key}' should be {kind}, got {value!r}")
            continue
        values[key] = value
    return values


def _close_match(key: str, known: dict[str, dataclasses.Field]) -> str | None:
    import difflib

    matches = difflib.get_close_matches(key, list(known), n=1)
    return matches[0] if matches else None


def _parse_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # a bare word: a string (e.g. precision=bf16)


def _set_dotted(raw: dict[str, Any], key: str, value: Any) -> None:
    *parents, last = key.split(".")
    node = raw
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            return
    node[last] = value
