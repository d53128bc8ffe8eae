"""Quality guards: cheap, seeded runs on real data that would catch a regression of the defaults.

Fixed steps and seeds, not time: the numbers are reproducible on any CPU. The floors were measured once
(docs/quality.md) with some margin below what the defaults reach.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import pipeline_module

from genomix.datasets.store import open_dataset
from genomix.training.batches import batch_reader
from genomix.training.config import load_config
from genomix.training.evaluate import evaluate_checkpoint
from genomix.training.loop import train
from genomix.training.sizing import AUTO_CROP, TARGET_STEPS, resolve_schedule

FIXED = ["epochs=40", "num_threads=1", "seed=0"]
PUBLISHED = ["model.embedding_type=sparse", "model.kmer_profile=off", "model.residual_init=xavier",
             "decoder_lr_scale=1.0", "reverse_complement=off"]


def _test_metrics(dataset, run):
    return evaluate_checkpoint(run / "best.pt", dataset, split="test", plots=False)["metrics"]


@pytest.mark.slow
def test_the_defaults_beat_a_floor_and_the_published_model_on_orchids(orchid_h5, tmp_path):
    default = train(orchid_h5, out_dir=tmp_path / "default", config=load_config(None, FIXED), device="cpu")
    published = train(orchid_h5, out_dir=tmp_path / "published", config=load_config(None, [*FIXED, *PUBLISHED]),
                      device="cpu")
    assert default["step"] == published["step"] > 0
    ours, theirs = _test_metrics(orchid_h5, tmp_path / "default"), _test_metrics(orchid_h5, tmp_path / "published")
    print(json.dumps({"defaults": ours, "published": theirs}))
    assert ours["roc_auc"] >= 0.95 and ours["accuracy"] >= 0.75
    assert ours["roc_auc"] >= theirs["roc_auc"] and ours["accuracy"] >= theirs["accuracy"]


def test_the_schedule_is_sized_from_the_dataset(orchid_h5):
    dataset = open_dataset(orchid_h5)
    config = resolve_schedule(dataset, load_config(None, []))
    tokens = int(np.asarray(dataset.split("train").lengths).sum())
    steps_per_epoch = -(-tokens // config.max_tokens)
    assert config.train_crop == 0 and config.model.max_seq_len == 0  # orchids are short: no windows
    assert config.model.encoder_window == 0 and config.model.pooling == "auto"  # read whole: the trainer probes
    assert config.epochs == min(200, round(TARGET_STEPS / steps_per_epoch))
    assert config.eval_every > 0 and config.reverse_complement == "on"
    explicit = resolve_schedule(dataset, load_config(None, ["epochs=3", "train_crop=0", "eval_every=0",
                                                           "reverse_complement=off", "model.pooling=mean"]))
    assert (explicit.epochs, explicit.train_crop, explicit.eval_every, explicit.reverse_complement,
            explicit.model.pooling) == (3, 0, 0, "off", "mean")


def test_long_sequences_train_on_windows_of_auto_crop(tmp_path):
    from genomix.datasets.store import SplitArrays, write_dataset

    rng = np.random.default_rng(0)
    lengths = [3 * AUTO_CROP, 100, AUTO_CROP]
    split = SplitArrays(tokens=rng.integers(1, 5, sum(lengths)).astype(np.uint8),
                        offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
                        labels=np.array([0, 1, 0]), ids=["a", "b", "c"])
    path = tmp_path / "long.h5"
    write_dataset(path, {"train": split, "valid": split}, task="classification", alphabet="dna",
                  vocab={letter: i + 1 for i, letter in enumerate("ACGTN")}, classes=["x", "y"], provenance={})
    config = resolve_schedule(open_dataset(path), load_config(None, []))
    assert config.train_crop == AUTO_CROP and config.model.max_seq_len == AUTO_CROP
    assert config.model.encoder_window == AUTO_CROP  # at any length the network sees pieces like its windows
    assert config.model.pooling == "mean"  # a random window's places are not the sequence's
    assert resolve_schedule(open_dataset(path), load_config(None, ["model.pooling=moments"])).model.pooling == "moments"


def test_reverse_complement_reads_either_strand(orchid_h5):
    from genomix.alphabet import reverse_complement

    dataset = open_dataset(orchid_h5)
    split = dataset.split("train")
    reader = batch_reader(dataset)
    indices = np.arange(16)
    plain, lengths = reader.read_batch(split, indices)
    flipped, same_lengths = reader.read_batch(split, indices, reverse_complement=True, seed=0, epoch=0)
    assert torch.equal(lengths, same_lengths)
    starts = [0, *torch.cumsum(lengths, 0).tolist()]
    kinds = set()
    for k in range(len(indices)):
        a, b = plain[starts[k]:starts[k + 1]].numpy(), flipped[starts[k]:starts[k + 1]].numpy()
        kinds.add("same" if np.array_equal(a, b) else "rc" if np.array_equal(reverse_complement(a), b) else "?")
    assert kinds == {"same", "rc"}


def test_the_decoder_learning_rate_scale_is_sized_from_the_task(orchid_h5):
    from genomix.training.sizing import DECODER_LR_SCALE

    assert resolve_schedule(open_dataset(orchid_h5), load_config(None, [])).decoder_lr_scale == DECODER_LR_SCALE
    chosen = resolve_schedule(open_dataset(orchid_h5), load_config(None, ["decoder_lr_scale=3"]))
    assert chosen.decoder_lr_scale == 3


def test_the_order_task_labels_which_motif_comes_first_and_is_seeded():
    task = pipeline_module("order_task")
    records = task.order_records(400, 120, "GATTACAGT", "CCGGTTAAC", seed=3)
    assert records == task.order_records(400, 120, "GATTACAGT", "CCGGTTAAC", seed=3)
    assert records != task.order_records(400, 120, "GATTACAGT", "CCGGTTAAC", seed=4)
    for _, sequence, label in records:
        assert len(sequence) == 120 and set(sequence) <= set("ACGT")
        a, b = sequence.find("GATTACAGT"), sequence.find("CCGGTTAAC")
        assert a >= 0 and b >= 0
        if sequence.count("GATTACAGT") == 1 and sequence.count("CCGGTTAAC") == 1:
            assert label == ("AB" if a < b else "BA")
    assert 150 < sum(label == "AB" for *_, label in records) < 250
    with pytest.raises(ValueError, match="cannot hold"):
        task.order_records(1, 17, "GATTACAGT", "CCGGTTAAC", seed=0)
    with pytest.raises(ValueError, match="should be bases"):
        task.order_records(1, 100, "GATTNCAGT", "CCGGTTAAC", seed=0)


@pytest.mark.slow
def test_the_defaults_learn_which_of_two_motifs_comes_first(order_h5, tmp_path):
    """Only order tells the classes apart (``pipelines/order_task.py``): a mean-pooled model stays at chance
    (docs/quality.md, eighth round); the defaults probe where k-mers lie, pool moments and learn it."""
    fixed = ["epochs=30", "num_threads=1", "seed=0"]
    train(order_h5, out_dir=tmp_path / "default", config=load_config(None, fixed), device="cpu")
    ours = _test_metrics(order_h5, tmp_path / "default")
    print(json.dumps(ours))
    stored = json.loads((tmp_path / "default" / "config.json").read_text())
    assert stored["model_kwargs"]["pooling"] == "moments" and stored["pooling"]["chosen"] == "moments"
    assert ours["accuracy"] >= 0.8 and ours["roc_auc"] >= 0.9


@pytest.mark.slow
def test_known_motifs_lift_the_mpra_head_on_elements_it_has_not_seen(shared_data, tmp_path):
    """MPRA split by element (docs/quality.md, tenth round): the fitted ref/alt head that also reads JASPAR's
    motif changes beats the k-mer change alone on the valid elements (measured 0.284 against 0.187), and
    ``model.motifs=auto`` keeps them. No training: the head is fitted in closed form."""
    from variant_files import copy_mpra

    from genomix.alphabet import DNA
    from genomix.datasets.variants import build_variant_dataset
    from genomix.models import ModelConfig
    from genomix.training.motif_choice import choose_motifs
    from genomix.training.tasks import make_task, sample_weights

    fasta, vcf = copy_mpra(shared_data, tmp_path / "in")
    path = tmp_path / "mpra.h5"
    build_variant_dataset(fasta, vcf, path, window=1024, label="INFO/COEF", element_field="ELEMENT",
                          weight="INFO/BARCODES", group_by=["INFO/ELEMENT", "window"], seed=0)
    torch.set_num_threads(1)
    dataset = open_dataset(path)
    task = make_task(dataset, regression_targets="auto")
    kwargs = ModelConfig().model_kwargs(architecture="ref_alt", input_size=DNA.vocab_size, output_size=1,
                                        max_seq_len=601)
    weights = sample_weights(dataset, "train").double().numpy()
    result = choose_motifs(dataset, task, kwargs, "auto",
                           fit_options={"seed": 0, "folds": 5, "metric": None, "weights": weights})
    print(json.dumps(result["choice"]))
    scores = result["choice"]["scores"]
    assert result["choice"]["chosen"] and result["kwargs"]["motif_count"] > 500
    assert scores["with"] >= 0.25 and scores["with"] >= scores["without"] + 0.05
