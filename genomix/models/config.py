"""Model options: one dataclass, one tuple of allowed values (or bound) per option, validated in one place.

:class:`ModelConfig` is the ``[model]`` table of a training config (``model.key=value`` on the command
line). :meth:`ModelConfig.model_kwargs` resolves it, with the sizes a dataset gives, into the
constructor arguments that a checkpoint stores as ``model_kwargs`` and that
:func:`genomix.models.build_model` builds from.

Adding an option: one field here with its ``choices`` (or ``min``/``below``) metadata, and the same
keyword on the model classes. It is then validated, read from TOML and the command line, stored in
``model_kwargs``, and old checkpoints (without it) load with the keyword's default.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from genomix.errors import ConfigError
from genomix.models.norms import NORMS

ARCHITECTURES = ("chordmixer", "ref_alt")
"""``chordmixer``: one sequence in, ``(B, output_size)`` out; ``ref_alt``: :class:`~genomix.models.variant.RefAltModel`."""
EMBEDDING_TYPES = ("auto", "sparse", "linear", "kmer")
KMER_VOCABS = ("auto", "acgt", "hashed")
RESIDUAL_INITS = ("zero", "xavier")
DIFFERENCES = ("auto", "mean", "sum")
SIZED = ("max_seq_len", "embedding_type", "kmer_size", "kmer_vocab", "kmer_profile", "profile_kmer_size",
         "profile_canonical", "difference", "encoder_window", "pooling", "motifs")
CHORDMIXER_ONLY = ("kmer_vocab", "kmer_buckets", "encoder_window", "pooling")
"""Options of :class:`~genomix.models.chordmixer.ChordMixer` that the ref/alt model does not take (its
k-mers are exact DNA k-mers, its head reads pooled features)."""
DEFAULT_KMER_SIZE = {"dna": 4, "bytes": 3}
"""k of ``'kmer'`` embeddings and profiles when ``kmer_size`` is 0: DNA 4-mers (256, the k-mer baseline's
k), byte 3-grams (hashed)."""
"""Options whose ``0`` / ``"auto"`` means "from the dataset"; the others go to the model as they are."""


def _choice(default: str, choices: tuple[str, ...]) -> Any:
    return field(default=default, metadata={"choices": choices})


def _bounded(default: float, *, low: float, below: float | None = None) -> Any:
    return field(default=default, metadata={"min": low, "below": below})


@dataclass
class ModelConfig:
    """ChordMixer options; ``0`` / ``"auto"`` means "sized from the dataset".

    Attributes:
        track_size: channels per track (``D = n_tracks * track_size``).
        hidden_size: width of each block's MLP.
        mlp_dropout, layer_dropout: dropout inside the MLP and on each block's update.
        prenorm, norm: ``'LN'``, ``'BN'``, ``'GN'`` or ``'None'`` before the MLP and after the residual.
        max_seq_len: longest sequence the model is built for (0: the dataset's longest).
        embedding_type: ``'sparse'`` (tokens), ``'linear'`` (values), ``'kmer'`` (the k-mer starting at
            each position) or ``'auto'``: ``'kmer'`` for tokens, ``'linear'`` for values.
        kmer_size: k of ``'kmer'`` embeddings and of the profile head (0: 4 for DNA, 3 for bytes).
        kmer_vocab: ``'acgt'`` (exact DNA k-mers), ``'hashed'`` or ``'auto'`` (``'acgt'`` for DNA).
        kmer_buckets: hash buckets of ``'hashed'`` k-mers.
        kmer_profile: add the standardised k-mer profile head (tokens only; ``'auto'``: yes for tokens;
            the ref/alt model's profile is of the k-mers the variant changes).
        profile_kmer_size: k of the ChordMixer's profile head; 0: chosen from 4, 5, 6 by out-of-fold log
            loss on train where the head is fitted on DNA (``TrainConfig.profile_fit``), else ``kmer_size``.
        profile_canonical: the ChordMixer's profile head averages each DNA k-mer's frequency with its reverse
            complement's (the same output on either strand); ``'auto'``: where ``genomix train`` fits the head
            (``TrainConfig.profile_fit``) for a model trained on both strands (``TrainConfig.reverse_complement``):
            the fit sees each training sequence's given strand only, a head trained with the network both.
        residual_init: ``'zero'`` (each block starts as the identity, the decoder at zero) or
            ``'xavier'`` (published).
        encoder_window: ChordMixer only: longer sequences go through the encoder in pieces of at most this
            many positions (0: whole; -1: the training window when training on windows, else 0).
        pooling: ChordMixer only: ``'mean'`` (published), ``'moments'`` (the decoder also reads each channel's
            first moment along the sequence: where a feature lies) or ``'auto'``: ``'mean'`` for a model trained
            on windows of longer sequences (a window's places are not the sequence's), on DNA read whole
            whichever a linear probe of k-mer places prefers (:mod:`genomix.training.position_probe`, run by
            ``genomix train``); ``'mean'`` where nothing decides it.
        difference: ref/alt variant model only: ``'sum'`` (the head reads the difference of the
            windows' summed features), ``'mean'`` (published: of their means) or ``'auto'`` (``'sum'``).
        motifs: ref/alt variant model with a fitted profile head only: known transcription-factor motifs whose
            change of best site score the head also reads (:class:`~genomix.models.motifs.MotifChange`):
            ``'jaspar'`` (JASPAR CORE vertebrates), ``'jaspar:GROUP'``, a motif file (:mod:`genomix.io.motifs`),
            ``'off'``, or ``'auto'``: JASPAR vertebrates where they raise the head's valid metric
            (:mod:`genomix.training.motif_choice`, run by ``genomix train``).

    The defaults are what measured best in ``docs/quality.md``; ``embedding_type='sparse'``,
    ``kmer_profile='off'``, ``residual_init='xavier'`` give the published model.
    """

    track_size: int = _bounded(8, low=1)
    hidden_size: int = _bounded(64, low=1)
    mlp_dropout: float = _bounded(0.0, low=0, below=1)
    layer_dropout: float = _bounded(0.0, low=0, below=1)
    prenorm: str = _choice("LN", NORMS)
    norm: str = _choice("None", NORMS)
    max_seq_len: int = _bounded(0, low=0)
    embedding_type: str = _choice("auto", EMBEDDING_TYPES)
    kmer_size: int = _bounded(0, low=0)
    kmer_vocab: str = _choice("auto", KMER_VOCABS)
    kmer_buckets: int = _bounded(4096, low=1)
    kmer_profile: str = _choice("auto", ("auto", "on", "off"))
    profile_kmer_size: int = _bounded(0, low=0)
    profile_canonical: str = _choice("auto", ("auto", "on", "off"))
    residual_init: str = _choice("zero", RESIDUAL_INITS)
    difference: str = _choice("auto", DIFFERENCES)
    encoder_window: int = _bounded(-1, low=-1)
    pooling: str = _choice("auto", ("auto", "mean", "moments"))
    motifs: str = field(default="auto", metadata={"source": ("auto", "off")})

    def backbone_kwargs(self) -> dict[str, Any]:
        """The options that go to the model's constructor unchanged (all but :data:`SIZED`)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in SIZED}

    def model_kwargs(self, *, architecture: str, input_size: int, output_size: int, max_seq_len: int,
                     embedding_type: str = "sparse", alphabet: str = "dna",
                     both_strands: bool = False) -> dict[str, Any]:
        """The constructor arguments of the model (what a checkpoint stores as ``model_kwargs``).

        Args:
            architecture: one of :data:`ARCHITECTURES`.
            input_size: vocabulary size (tokens) or channels (values).
            output_size: classes or regression targets.
            max_seq_len: the dataset's longest sequence (used when :attr:`max_seq_len` is 0).
            embedding_type: ``'linear'`` for a dataset of values, else ``'sparse'``: with ``'auto'``,
                values stay ``'linear'`` and tokens get ``'kmer'``.
            alphabet: the dataset's (``dna``, ``bytes``): sizes the k-mers.
            both_strands: the profile head must treat both strands alike but will not see both in training
                (a head fitted before training a model on both strands): ``profile_canonical='auto'`` is then on.

        Raises:
            ValueError: an unknown architecture.
            ConfigError: ``profile_canonical='on'`` without DNA k-mers.
        """
        if architecture not in ARCHITECTURES:
            raise ValueError(f"model architecture should be one of {', '.join(ARCHITECTURES)}, got {architecture!r}")
        sized = {"input_size": int(input_size), "output_size": int(output_size),
                 "max_seq_len": int(max(self.max_seq_len or max_seq_len, 2))}
        backbone = self.backbone_kwargs()
        if self.motifs not in ("auto", "off") and architecture != "ref_alt":
            raise ConfigError(f"model.motifs={self.motifs!r} is for the ref/alt variant model (variant_effect "
                              "datasets); this model reads one sequence")
        if architecture == "ref_alt":
            kept = {key: value for key, value in backbone.items() if key not in CHORDMIXER_ONLY}
            embedding = "kmer" if self.embedding_type == "auto" else self.embedding_type
            if embedding not in ("sparse", "kmer"):
                raise ValueError(f"the ref/alt variant model embeds DNA tokens: embedding_type should be 'kmer' or "
                                 f"'sparse', got {embedding!r}")
            return {"architecture": "ref_alt", **sized, **kept, "embedding_type": embedding,
                    "kmer_size": self.kmer_size or DEFAULT_KMER_SIZE["dna"],
                    "difference": "sum" if self.difference == "auto" else self.difference,
                    "kmer_profile": self.kmer_profile != "off", "motif_count": 0, "motif_width": 0}
        tokens = embedding_type != "linear"
        if self.embedding_type != "auto":
            embedding = self.embedding_type
        else:
            embedding = "kmer" if tokens else "linear"
        kmer_vocab = self.kmer_vocab if self.kmer_vocab != "auto" else ("acgt" if alphabet == "dna" else "hashed")
        profile = self.kmer_profile == "on" or (self.kmer_profile == "auto" and tokens)
        if self.profile_canonical == "on" and kmer_vocab != "acgt":
            raise ConfigError(f"model.profile_canonical=on needs DNA k-mers (kmer_vocab 'acgt'); this model's are "
                             f"{kmer_vocab!r}")
        canonical = self.profile_canonical == "on" or (self.profile_canonical == "auto" and both_strands
                                                        and kmer_vocab == "acgt")
        kmers = {"kmer_size": self.kmer_size or DEFAULT_KMER_SIZE.get(alphabet, 3), "kmer_vocab": kmer_vocab,
                 "kmer_profile": bool(profile), "profile_kmer_size": self.profile_kmer_size,
                 "profile_canonical": bool(canonical and profile)}
        return {**sized, "embedding_type": embedding, "decoder": "linear", **backbone, **kmers, "var_len": True,
                "encoder_window": max(self.encoder_window, 0),
                "pooling": "mean" if self.pooling == "auto" else self.pooling}


def validate(config: ModelConfig, *, prefix: str = "model.") -> list[str]:
    """Every problem with the values of ``config`` (empty when it is fine), each naming the option."""
    problems = []
    for option in fields(config):
        value, meta = getattr(config, option.name), option.metadata
        name = f"{prefix}{option.name}"
        if "choices" in meta and value not in meta["choices"]:
            problems.append(f"{name} should be one of {', '.join(meta['choices'])}, got {value!r}")
        elif "source" in meta and value not in meta["source"]:  # a motif source: its form, not its file
            from genomix.io.motifs import source_problem

            problem = source_problem(str(value))
            if problem:
                problems.append(f"{name}: {problem} (or one of {', '.join(meta['source'])})")
        elif meta.get("below") is not None and not meta["min"] <= value < meta["below"]:
            problems.append(f"{name} should be in [{meta['min']}, {meta['below']}), got {value}")
        elif "min" in meta and meta.get("below") is None and value < meta["min"]:
            problems.append(f"{name} should be >= {meta['min']}, got {value}")
    return problems


__all__ = ["ModelConfig", "ARCHITECTURES", "EMBEDDING_TYPES", "validate"]
