"""Model options in one place, and the one factory that builds any model from them."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from genomix.models import ChordMixer, ModelConfig, build_model
from genomix.models.config import validate

OPTIONS_BEYOND_PUBLISHED = ("kmer_size", "kmer_vocab", "kmer_buckets", "kmer_profile", "profile_kmer_size",
                            "profile_canonical", "residual_init",
                            "difference", "encoder_window", "pooling")
from genomix.models.variant import RefAltModel

LEGACY_CHORDMIXER = {"input_size": 16, "output_size": 3, "embedding_type": "sparse", "decoder": "linear",
                     "max_seq_len": 300, "track_size": 4, "hidden_size": 8, "mlp_dropout": 0.0,
                     "layer_dropout": 0.0, "prenorm": "LN", "norm": "None", "var_len": True}
LEGACY_REF_ALT = {"architecture": "ref_alt", "input_size": 16, "output_size": 2, "max_seq_len": 200,
                  "track_size": 4, "hidden_size": 8, "mlp_dropout": 0.0, "layer_dropout": 0.0,
                  "prenorm": "LN", "norm": "None"}


def test_every_bad_value_is_reported_at_once():
    config = ModelConfig(track_size=0, mlp_dropout=1.0, prenorm="RMS", embedding_type="dense", max_seq_len=-1)
    assert validate(config) == [
        "model.track_size should be >= 1, got 0",
        "model.mlp_dropout should be in [0, 1), got 1.0",
        "model.prenorm should be one of LN, BN, GN, None, got 'RMS'",
        "model.max_seq_len should be >= 0, got -1",
        "model.embedding_type should be one of auto, sparse, linear, kmer, got 'dense'",
    ]
    assert validate(ModelConfig()) == []


def test_every_option_has_its_allowed_values_or_bounds():
    for option in dataclasses.fields(ModelConfig):
        assert {"choices", "min", "source"} & set(option.metadata), option.name


def test_model_kwargs_are_what_checkpoints_have_always_stored():
    config = ModelConfig(track_size=4, hidden_size=8, embedding_type="sparse", kmer_profile="off",
                         residual_init="xavier")
    kwargs = config.model_kwargs(architecture="chordmixer", input_size=16, output_size=3, max_seq_len=300,
                                 embedding_type="sparse")
    published = {key: value for key, value in kwargs.items() if key not in OPTIONS_BEYOND_PUBLISHED}
    assert published == LEGACY_CHORDMIXER
    assert build_model(kwargs).state_dict().keys() == build_model(LEGACY_CHORDMIXER).state_dict().keys()
    pair = ModelConfig(track_size=4, hidden_size=8, embedding_type="sparse", residual_init="xavier",
                       difference="mean", kmer_profile="off").model_kwargs(architecture="ref_alt", input_size=16,
                                                                           output_size=2, max_seq_len=200)
    assert {key: value for key, value in pair.items() if key not in ("kmer_size", "embedding_type", "residual_init",
                                                                      "difference", "kmer_profile", "motif_count",
                                                                      "motif_width")} == LEGACY_REF_ALT
    assert build_model(pair).state_dict().keys() == build_model(LEGACY_REF_ALT).state_dict().keys()
    sized = ModelConfig(max_seq_len=1000, embedding_type="linear").model_kwargs(
        architecture="chordmixer", input_size=2, output_size=1, max_seq_len=5, embedding_type="sparse")
    assert (sized["max_seq_len"], sized["embedding_type"]) == (1000, "linear")
    with pytest.raises(ValueError, match="architecture should be one of chordmixer, ref_alt"):
        config.model_kwargs(architecture="cnn", input_size=1, output_size=1, max_seq_len=2)


@pytest.mark.parametrize("alphabet, embedding_type, expected", [
    ("dna", "sparse", {"embedding_type": "kmer", "kmer_size": 4, "kmer_vocab": "acgt", "kmer_profile": True}),
    ("bytes", "sparse", {"embedding_type": "kmer", "kmer_size": 3, "kmer_vocab": "hashed", "kmer_profile": True}),
    ("values", "linear", {"embedding_type": "linear", "kmer_profile": False}),
])
def test_the_defaults_size_the_kmers_from_the_alphabet(alphabet, embedding_type, expected):
    kwargs = ModelConfig().model_kwargs(architecture="chordmixer", input_size=16, output_size=2, max_seq_len=64,
                                        embedding_type=embedding_type, alphabet=alphabet)
    assert {key: kwargs[key] for key in expected} == expected and kwargs["residual_init"] == "zero"
    pair = ModelConfig().model_kwargs(architecture="ref_alt", input_size=16, output_size=2, max_seq_len=64)
    assert {key: pair[key] for key in ("embedding_type", "kmer_size", "residual_init", "difference",
                                       "kmer_profile")} == {
        "embedding_type": "kmer", "kmer_size": 4, "residual_init": "zero", "difference": "sum", "kmer_profile": True}
    assert not {"kmer_vocab", "kmer_buckets"} & set(pair)  # ChordMixer-only options


def test_one_factory_builds_every_model_from_legacy_kwargs():
    model = build_model(LEGACY_CHORDMIXER, grad_checkpointing="segments")
    assert type(model) is ChordMixer and model.grad_checkpointing == "segments" and model.var_len
    pair = build_model(LEGACY_REF_ALT)
    assert type(pair) is RefAltModel and pair.output_size == 2
    regression = build_model({**LEGACY_CHORDMIXER, "output_size": 1, "embedding_type": "linear", "input_size": 2})
    assert regression(torch.randn(10, 2), torch.tensor([4, 6])).shape == (2, 1)
    with pytest.raises(ValueError, match="architecture should be one of"):
        build_model({**LEGACY_CHORDMIXER, "architecture": "cnn"})
    with pytest.raises(ValueError, match="does not take these arguments"):
        build_model({**LEGACY_CHORDMIXER, "attention_heads": 4})


def test_an_old_checkpoint_loads(tmp_path):
    from genomix.checkpoint import load_model, save_checkpoint

    weights = build_model(LEGACY_CHORDMIXER).state_dict()
    save_checkpoint(tmp_path / "old.pt", {"model_state": weights, "model_kwargs": LEGACY_CHORDMIXER,
                                          "task": "classification", "alphabet": "dna", "vocab": {}, "classes": ["a"]})
    model, info = load_model(tmp_path / "old.pt")
    assert info["model_kwargs"] == LEGACY_CHORDMIXER
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, weights[name]), name


@pytest.mark.parametrize("option, both_strands, alphabet, expected", [
    ("auto", True, "dna", True), ("auto", False, "dna", False), ("auto", True, "bytes", False),
    ("on", False, "dna", True), ("off", True, "dna", False)])
def test_the_canonical_profile_follows_the_strands_the_model_is_trained_on(option, both_strands, alphabet, expected):
    kwargs = ModelConfig(profile_canonical=option).model_kwargs(
        architecture="chordmixer", input_size=16, output_size=2, max_seq_len=100, alphabet=alphabet,
        both_strands=both_strands)
    assert kwargs["profile_canonical"] is expected
    assert build_model(kwargs).profile.canonical is expected
    no_head = ModelConfig(profile_canonical=option, kmer_profile="off").model_kwargs(
        architecture="chordmixer", input_size=16, output_size=2, max_seq_len=100, alphabet=alphabet,
        both_strands=both_strands)
    assert no_head["profile_canonical"] is False


def test_a_canonical_profile_of_hashed_kmers_is_one_clear_error():
    from genomix.errors import ConfigError

    with pytest.raises(ConfigError, match="profile_canonical=on needs DNA k-mers"):
        ModelConfig(profile_canonical="on").model_kwargs(architecture="chordmixer", input_size=260, output_size=2,
                                                         max_seq_len=100, alphabet="bytes")
    assert validate(ModelConfig(profile_canonical="both")) == [
        "model.profile_canonical should be one of auto, on, off, got 'both'"]


def test_a_motif_source_is_checked_by_its_form():
    assert validate(ModelConfig(motifs="jaspar:plants")) == validate(ModelConfig(motifs="my.meme")) == []
    assert validate(ModelConfig(motifs="jaspar:mammals")) == [
        "model.motifs: unknown JASPAR group 'mammals' in motif source 'jaspar:mammals'; one of vertebrates, plants, "
        "insects, fungi, nematodes, urochordates (or one of auto, off)"]
    assert "known suffix" in validate(ModelConfig(motifs="motifs.txt"))[0]
