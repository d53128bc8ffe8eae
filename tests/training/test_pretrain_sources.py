"""Corpus mixing (``source_weights``) and the by-source evaluation of masked-nucleotide pretraining.

A two-file corpus: the lambda genome cut into 12 records of ~4 kb, 8 in ``big.fa`` and 4 in ``small.fa``,
512-bp windows, split by record within each file.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import TINY

from genomix.datasets.pretrain import build_pretraining_dataset
from genomix.datasets.store import open_dataset
from genomix.errors import ConfigError
from genomix.training import rundir
from genomix.training.config import load_config
from genomix.training.loop import Trainer, masking_plan, train
from genomix.training.pretrain_sources import (SubsetSplit, WeightedSplit, evaluate_by_source, source_draws,
                                               token_shares, weighted_training_split)

PRETRAIN = [*TINY, "model.max_seq_len=1024", "epochs=1", "eval_every=0", "seed=0", "precision=fp32"]


@pytest.fixture(scope="module")
def two_files(shared_data, tmp_path_factory):
    from genomix.io.fasta import read_fasta

    folder = tmp_path_factory.mktemp("two_files")
    genome = next(iter(read_fasta(shared_data / "genomes" / "lambda_virus.fa.gz"))).sequence
    size = -(-len(genome) // 12)
    pieces = [f">lambda_{i + 1}\n{genome[start:start + size]}\n" for i, start in enumerate(range(0, len(genome), size))]
    (folder / "big.fa").write_text("".join(pieces[:8]))
    (folder / "small.fa").write_text("".join(pieces[8:]))
    path = folder / "corpus.h5"
    build_pretraining_dataset([folder / "big.fa", folder / "small.fa"], path, window=512, min_len=128,
                              fractions=(0.75, 0.25, 0.0), seed=0, command=["test"])
    return path


def _trainer(path, out, overrides):
    """A trainer as :func:`train` makes it (the schedule resolved), without running it."""
    from genomix.training import distributed
    from genomix.training.sizing import resolve_schedule

    config = resolve_schedule(open_dataset(path), load_config(None, overrides))
    return Trainer(path, out, config, context=distributed.setup(device="cpu"), resume_payload=None, progress=None)


def _sources(count_a: int, count_b: int, count_c: int = 0) -> np.ndarray:
    return np.array(["a.fa"] * count_a + ["b.fa"] * count_b + ["c.fa"] * count_c, dtype=object)


@pytest.mark.parametrize("weights", [{"b.fa": 4}, {"b.fa": 2.5}, {"a.fa": 0.3, "c.fa": 3}, {"a.fa": 0}])
def test_token_shares_follow_the_weights(weights):
    rng = np.random.default_rng(0)
    sources = _sources(600, 200, 100)
    lengths = rng.integers(200, 4097, size=len(sources))
    draws = source_draws(sources, weights, seed=7)
    shares = token_shares(sources, lengths, draws)
    tokens = {name: lengths[sources == name].sum() * weights.get(name, 1.0) for name in ("a.fa", "b.fa", "c.fa")}
    expected = {name: value / sum(tokens.values()) for name, value in tokens.items()}
    for name in expected:  # whole copies are exact; a fractional share is a seeded choice of windows
        assert abs(shares[name] - expected[name]) < 0.02, (name, shares, expected)
    if all(float(w).is_integer() for w in weights.values()):
        counts = {name: int((sources[draws] == name).sum()) for name in expected}
        assert counts == {name: int((sources == name).sum() * weights.get(name, 1)) for name in expected}


def test_draws_are_seeded_and_start_with_every_window_once():
    sources = _sources(50, 30)
    first = source_draws(sources, {"b.fa": 2.5}, seed=1)
    assert np.array_equal(first, source_draws(sources, {"b.fa": 2.5}, seed=1))
    assert not np.array_equal(first, source_draws(sources, {"b.fa": 2.5}, seed=2))
    assert np.array_equal(first[:80], np.arange(80))  # the first copy of each window keeps its own index
    assert len(first) == 50 + 30 * 2 + 15


def test_weights_of_one_are_the_unweighted_split(two_files):
    split = open_dataset(two_files).split("train")
    assert weighted_training_split(split, {"big.fa": 1, "small.fa": 1.0}, seed=0) is split
    assert weighted_training_split(split, {}, seed=0) is split
    assert isinstance(weighted_training_split(split, {"small.fa": 2}, seed=0), WeightedSplit)


def test_weights_of_one_train_exactly_as_the_default(two_files, tmp_path):
    default = tmp_path / "default"
    ones = tmp_path / "ones"
    train(two_files, out_dir=default, config=load_config(None, PRETRAIN))
    train(two_files, out_dir=ones, config=load_config(None, [*PRETRAIN, 'source_weights={"small.fa" = 1}']))
    assert ([r["valid"] for r in rundir.read_metrics(default)] == [r["valid"] for r in rundir.read_metrics(ones)])
    assert (default / "metrics.jsonl").read_text().count("train_loss") >= 1
    losses = [[r["train_loss"] for r in rundir.read_metrics(run)] for run in (default, ones)]
    assert losses[0] == losses[1]


def test_the_trainer_epoch_draws_the_weighted_shares(two_files, tmp_path):
    trainer = _trainer(two_files, tmp_path / "run", [*PRETRAIN, 'source_weights={"small.fa" = 3}'])
    split = open_dataset(two_files).split("train")
    sources, lengths = split.meta("source_file"), split.lengths
    seen: dict[str, int] = {}
    for batch in trainer.sampler.epoch_batches(0):
        for window in trainer.train_split.draws[batch]:
            seen[sources[window]] = seen.get(sources[window], 0) + int(lengths[window])
    small, big = lengths[sources == "small.fa"].sum(), lengths[sources == "big.fa"].sum()
    assert seen == {"small.fa": 3 * small, "big.fa": big}
    assert trainer.total_steps > _trainer(two_files, tmp_path / "plain", PRETRAIN).total_steps


def test_each_copy_of_a_window_gets_its_own_mask(two_files):
    from genomix.training.masked_lm import MaskedBatches

    split = open_dataset(two_files).split("train")
    view = weighted_training_split(split, {"small.fa": 2}, seed=0)
    window = int(view.draws[-1])
    copies = np.flatnonzero(view.draws == window)
    assert len(copies) == 2
    reader = MaskedBatches(masking_plan(load_config(None, [])))
    first, second = (reader.read_batch(view, np.array([c]), seed=0, epoch=0) for c in copies)
    assert not np.array_equal(first[2].numpy(), second[2].numpy())  # other targets (masks)
    plain = reader.read_batch(split, np.array([int(copies[0])]), seed=0, epoch=0)
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(first, plain))


def test_unknown_source_name_is_one_config_error(two_files, tmp_path):
    with pytest.raises(ConfigError) as caught:
        _trainer(two_files, tmp_path / "run", [*PRETRAIN, 'source_weights={"smal.fa" = 2}'])
    message = str(caught.value)
    assert "\n" not in message and "'smal.fa'" in message and "big.fa, small.fa" in message


@pytest.mark.parametrize("value, fragment", [('{"small.fa" = -1}', "should be a number >= 0"),
                                             ('{"small.fa" = "x"}', "should be a number >= 0"),
                                             ("4", "'source_weights' should be a table")])
def test_bad_weights_are_config_errors(value, fragment):
    with pytest.raises(ConfigError, match=fragment):
        load_config(None, [f"source_weights={value}"])


def test_every_weight_zero_is_refused(two_files, tmp_path):
    with pytest.raises(ConfigError, match="no training window"):
        _trainer(two_files, tmp_path / "run", [*PRETRAIN, 'source_weights={"small.fa" = 0, "big.fa" = 0}'])


def test_a_labelled_dataset_has_no_sources(orchid_h5, tmp_path):
    with pytest.raises(ConfigError, match="meta/source_file"):
        _trainer(orchid_h5, tmp_path / "run", [*TINY, 'source_weights={"x" = 2}'])


def test_evaluate_by_source_fits_each_source_on_its_own(two_files, tmp_path):
    from genomix.checkpoint import load_model
    from genomix.training.masked_lm import MaskedLMTask

    out = tmp_path / "run"
    train(two_files, out_dir=out, config=load_config(None, PRETRAIN))
    model, _ = load_model(out / rundir.BEST)
    dataset = open_dataset(two_files)
    plan = masking_plan(load_config(None, []))
    scores = evaluate_by_source(model, dataset, plan=plan, seed=0, precision="fp32")
    valid_sources = dataset.split("valid").meta("source_file")
    assert set(scores) == set(valid_sources)
    total = 0
    for name, metrics in scores.items():
        assert metrics["windows"] == int((valid_sources == name).sum())
        assert 0 <= metrics["masked_accuracy"] <= 1 and metrics["context_accuracy"] is not None
        total += metrics["n_masked"]
    # the unigram of one source, fitted on that source's train windows only, is that source's base frequencies
    name = next(iter(scores))
    train_split = dataset.split("train")
    rows = np.flatnonzero(train_split.meta("source_file") == name)
    task = MaskedLMTask(dataset, plan=plan, seed=0)
    fitted = task.fit_baselines(SubsetSplit(train_split, rows, name="t"))["predictors"]["unigram"]
    everything = task.fit_baselines(train_split)["predictors"]["unigram"]
    assert 0 < fitted.counts.sum() < everything.counts.sum()
    assert total == sum(m["n_masked"] for m in scores.values()) > 0
