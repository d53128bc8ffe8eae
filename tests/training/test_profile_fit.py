"""The k-mer profile head fitted as the k-mer baseline: equal to an independent scikit-learn fit, kept
fixed in training, and fed the whole sequences' profiles when training reads windows."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from genomix.datasets.store import SplitArrays, open_dataset, write_dataset
from genomix.errors import ConfigError
from genomix.models import build_model
from genomix.models.config import ModelConfig
from genomix.training import baseline
from genomix.training.config import load_config
from genomix.training.loop import train
from genomix.training.profile_fit import fit_profile_head, fit_profile_statistics, split_profiles
from genomix.training.sizing import model_kwargs_for
from genomix.training.tasks import make_task

from conftest import TINY

DNA_VOCAB = {letter: i + 1 for i, letter in enumerate("ACGTN")}


def _fitted(path, *, both_strands=False):
    dataset = open_dataset(path)
    task = make_task(dataset)
    torch.manual_seed(0)
    model = build_model(model_kwargs_for(dataset, ModelConfig(), output_size=task.output_size,
                                         both_strands=both_strands))
    profiles = fit_profile_statistics(model, dataset)
    report = fit_profile_head(model, dataset, task, train_profiles=profiles)
    return dataset, model, report


def _head_probabilities(model, split):
    tokens, lengths = split.read_many(np.arange(len(split)))
    tokens = torch.from_numpy(np.asarray(tokens).astype(np.int64))
    with torch.no_grad():
        return torch.softmax(model.profile(tokens, torch.as_tensor(np.asarray(lengths))).double(), 1).numpy()


def _sklearn_probabilities(dataset, c, n_classes):
    """The baseline's own features (numpy k-mer counting) and pipeline, fitted with the same C."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features = {name: baseline._features(dataset.split(name), k=4, alphabet="dna") for name in ("train", "valid")}
    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000, random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(features["train"], np.asarray(dataset.split("train").labels))
    probabilities = np.zeros((len(features["valid"]), n_classes))
    probabilities[:, model.classes_] = model.predict_proba(features["valid"])
    return probabilities


def test_the_fitted_head_is_the_kmer_baseline(orchid_h5):
    dataset, model, report = _fitted(orchid_h5)
    assert report["C"] == baseline.kmer_baseline(orchid_h5)["C"]  # the same C chosen on valid
    ours = _head_probabilities(model, dataset.split("valid"))
    theirs = _sklearn_probabilities(dataset, report["C"], len(dataset.classes))
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def _two_of_three_classes(path):
    rng = np.random.default_rng(0)

    def split(n):
        labels = np.arange(n) % 2
        # class 1 is GC-rich: a composition the k-mer profile separates
        seqs = [rng.choice(4, 300, p=[0.3, 0.2, 0.2, 0.3] if y == 0 else [0.2, 0.3, 0.3, 0.2]) + 1 for y in labels]
        return SplitArrays(tokens=np.concatenate(seqs).astype(np.uint8),
                           offsets=np.arange(n + 1, dtype=np.int64) * 300, labels=labels,
                           ids=[f"s{i}" for i in range(n)])

    write_dataset(path, {"train": split(40), "valid": split(12)}, task="classification", alphabet="dna",
                  vocab=DNA_VOCAB, classes=["at_rich", "gc_rich", "never_seen"], provenance={})
    return path


def test_two_classes_and_a_class_absent_from_train(tmp_path):
    dataset, model, report = _fitted(_two_of_three_classes(tmp_path / "two.h5"))
    ours = _head_probabilities(model, dataset.split("valid"))
    theirs = _sklearn_probabilities(dataset, report["C"], 3)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    assert ours[:, 2].max() < 1e-9


def test_the_model_adds_given_profile_logits_instead_of_its_head(orchid_h5):
    dataset, model, _ = _fitted(orchid_h5)
    split = dataset.split("valid")
    tokens, lengths = split.read_many(np.arange(6))
    tokens, lengths = torch.from_numpy(np.asarray(tokens).astype(np.int64)), torch.as_tensor(np.asarray(lengths))
    with torch.no_grad():
        head = model.profile(tokens, lengths)
        torch.testing.assert_close(model(tokens, lengths, profile_logits=head), model(tokens, lengths))
        shifted = model(tokens, lengths, profile_logits=head + 1.5)
        torch.testing.assert_close(shifted, model(tokens, lengths) + 1.5)
    published = build_model({**model_kwargs_for(dataset, ModelConfig(kmer_profile="off"), output_size=5)})
    with pytest.raises(ValueError, match="profile head"):
        published(tokens, lengths, profile_logits=head)


def test_training_logits_are_out_of_fold(orchid_h5):
    """Each training sequence's logits come from a fit without it: equal to an independent fold-by-fold
    scikit-learn fit, and worse on train than the full fit's own (which has seen every sequence)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    dataset = open_dataset(orchid_h5)
    task = make_task(dataset)
    model = build_model(model_kwargs_for(dataset, ModelConfig(), output_size=task.output_size))
    profiles = fit_profile_statistics(model, dataset)
    report = fit_profile_head(model, dataset, task, train_profiles=profiles, folds=3)
    x = ((profiles.double() - model.profile.mean.double()) / model.profile.scale.double()).numpy()
    y = np.asarray(dataset.split("train").labels)
    expected = np.zeros(report["train_logits"].shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fit_rows, held in StratifiedKFold(3, shuffle=True, random_state=0).split(x, y):
            lr = LogisticRegression(C=report["C"], max_iter=3000, random_state=0).fit(x[fit_rows], y[fit_rows])
            probabilities = np.zeros((len(held), expected.shape[1]))
            probabilities[:, lr.classes_] = lr.predict_proba(x[held])
            expected[held] = probabilities
    ours = torch.softmax(report["train_logits"].double(), 1).numpy()
    np.testing.assert_allclose(ours, expected, atol=1e-5)
    own = fit_profile_head(model, dataset, task, train_profiles=profiles, folds=0)["train_logits"]
    own_loss = torch.nn.functional.cross_entropy(own, torch.as_tensor(y))
    assert torch.nn.functional.cross_entropy(report["train_logits"], torch.as_tensor(y)) > own_loss


def _long_two_class(path, length=1200):
    rng = np.random.default_rng(1)
    labels = np.arange(16) % 2
    seqs = [rng.choice(4, length, p=[0.3, 0.2, 0.2, 0.3] if y == 0 else [0.2, 0.3, 0.3, 0.2]) + 1 for y in labels]
    split = SplitArrays(tokens=np.concatenate(seqs).astype(np.uint8),
                        offsets=np.arange(17, dtype=np.int64) * length, labels=labels,
                        ids=[f"s{i}" for i in range(16)])
    write_dataset(path, {"train": split, "valid": split}, task="classification", alphabet="dna",
                  vocab=DNA_VOCAB, classes=["a", "b"], provenance={})
    return path


def test_training_keeps_the_head_fixed_and_adds_its_whole_sequence_logits(tmp_path, monkeypatch):
    from genomix.models.chordmixer import ChordMixer

    path = _long_two_class(tmp_path / "long.h5")
    seen = []
    forward = ChordMixer.forward

    def spy(self, x, lengths=None, *, profile_logits=None):
        if self.training:
            seen.append((profile_logits, lengths))
        return forward(self, x, lengths, profile_logits=profile_logits)

    monkeypatch.setattr(ChordMixer, "forward", spy)
    overrides = [*TINY, "epochs=2", "train_crop=200", "eval_every=0", "seed=0", "profile_folds=2"]
    train(path, out_dir=tmp_path / "run", config=load_config(None, overrides), device="cpu")
    assert seen and all(logits is not None for logits, _ in seen)
    assert all(int(lengths.max()) <= 200 for _, lengths in seen)  # the network read windows ...
    dataset, fitted, _ = _fitted(path, both_strands=True)  # as training on both strands builds it: canonical
    head = fitted.profile
    profiles = fit_profile_statistics(fitted, dataset)
    oof = fit_profile_head(fitted, dataset, make_task(dataset), train_profiles=profiles, folds=2)["train_logits"]
    assert all(any(torch.equal(row, o) for o in oof) for logits, _ in seen for row in logits)  # ... the head whole ones
    state = torch.load(tmp_path / "run" / "best.pt", weights_only=True)["model_state"]
    for name in ("weight", "bias"):
        torch.testing.assert_close(state[f"profile.linear.{name}"], getattr(head.linear, name).detach())


def test_profile_fit_on_needs_a_profile_head(tmp_path):
    path = _long_two_class(tmp_path / "long.h5", length=300)
    config = load_config(None, [*TINY, "epochs=1", "profile_fit=on", "model.kmer_profile=off"])
    with pytest.raises(ConfigError, match="profile head"):
        train(path, out_dir=tmp_path / "run", config=config, device="cpu")


@pytest.mark.parametrize("mode", ["off", "auto"])  # auto: sequences read whole (no train_crop) -> off
def test_profile_fit_off_trains_the_head_from_zero(tmp_path, mode):
    path = _long_two_class(tmp_path / "long.h5", length=300)
    train(path, out_dir=tmp_path / "run", config=load_config(None, [*TINY, "epochs=2", f"profile_fit={mode}"]),
          device="cpu")
    state = torch.load(tmp_path / "run" / "best.pt", weights_only=True)["model_state"]
    _, fitted, _ = _fitted(path)
    assert state["profile.linear.weight"].abs().sum() > 0  # it trained ...
    assert not torch.allclose(state["profile.linear.weight"], fitted.profile.linear.weight)  # ... not as fitted


def test_best_pt_breaks_ties_of_the_valid_metric_by_valid_log_loss(tmp_path):
    from genomix.training import rundir

    path = _long_two_class(tmp_path / "long.h5", length=300)  # separable: valid ROC AUC 1.0 throughout
    config = load_config(None, [*TINY, "epochs=6", "eval_every=2", "seed=0"])
    train(path, out_dir=tmp_path / "run", config=config, device="cpu")
    records = rundir.read_metrics(tmp_path / "run")
    top = max(r["valid"]["roc_auc"] for r in records)
    tied = [r for r in records if r["valid"]["roc_auc"] == top]
    assert len(tied) > 1
    chosen = min(tied, key=lambda r: r["valid"]["log_loss"])  # the first of equal losses
    assert chosen is not tied[0]  # the earliest tie would have been kept before
    best = torch.load(tmp_path / "run" / "best.pt", weights_only=True)
    assert best["step"] == chosen["step"]


def test_log_loss_equals_scikit_learn():
    from sklearn.metrics import log_loss as sklearn_log_loss

    from genomix.training.metrics import log_loss

    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(4), size=50)
    labels = rng.integers(0, 4, 50)
    assert log_loss(labels, probabilities) == pytest.approx(sklearn_log_loss(labels, probabilities, labels=range(4)))


def _pair_features(split, k=4):
    """Alt-minus-ref k-mer counts of each variant, counted in numpy from the stored windows."""
    from genomix.datasets.variant_batches import read_pairs

    ref, ref_lengths, alt, alt_lengths = read_pairs(split, np.arange(len(split)))
    weights = 4 ** np.arange(k - 1, -1, -1)

    def counts(tokens, lengths):
        out, start = np.zeros((len(lengths), 4**k)), 0
        for row, n in enumerate(lengths):
            window = np.asarray(tokens[start:start + n], dtype=np.int64) - 1
            start += n
            kmers = np.lib.stride_tricks.sliding_window_view(window, k)
            kmers = kmers[((kmers >= 0) & (kmers < 4)).all(1)]
            np.add.at(out[row], kmers @ weights, 1)
        return out

    return counts(alt, alt_lengths) - counts(ref, ref_lengths)


def _fitted_pair_model(dataset, **kwargs):
    task = make_task(dataset, regression_targets="auto")
    torch.manual_seed(0)
    model = build_model(model_kwargs_for(dataset, ModelConfig(), output_size=task.output_size))
    profiles = fit_profile_statistics(model, dataset)
    return task, model, profiles, fit_profile_head(model, dataset, task, train_profiles=profiles, **kwargs)


def test_the_ref_alt_profile_is_the_ridge_of_the_changed_kmers_on_element_ranks(elements_h5):
    """An independent pipeline: numpy k-mer counts, StandardScaler, Ridge on the element ranks, alpha = 1/C
    chosen by valid Spearman over the grid."""
    from scipy.stats import spearmanr
    from sklearn.linear_model import Ridge
    from sklearn.preprocessing import StandardScaler

    from genomix.training.profile_fit import REGRESSION_C_GRID
    from genomix.training.tasks import element_groups, group_normal_scores

    dataset = open_dataset(elements_h5)
    task, model, _, report = _fitted_pair_model(dataset)
    x = {name: _pair_features(dataset.split(name)) for name in ("train", "valid")}
    labels = {name: np.asarray(dataset.split(name).labels) for name in ("train", "valid")}
    scaler = StandardScaler().fit(x["train"])
    targets = group_normal_scores(labels["train"], element_groups(dataset, "train"))
    valid = {c: Ridge(alpha=1 / c).fit(scaler.transform(x["train"]), targets).predict(scaler.transform(x["valid"]))
             for c in REGRESSION_C_GRID}
    best = max(REGRESSION_C_GRID, key=lambda c: spearmanr(valid[c], labels["valid"])[0])
    assert (report["C"], report["metric"]) == (best, "spearman")
    assert report["valid"] == pytest.approx(spearmanr(valid[best], labels["valid"])[0], abs=1e-6)
    assert report["valid"] > 0.1  # the motif rule carries over to an unseen element (most SNVs: noise only)
    with torch.no_grad():
        ours = model.profile(torch.zeros(1), None, profiles=torch.from_numpy(x["valid"]).float()).reshape(-1)
    np.testing.assert_allclose(ours.numpy(), valid[best], atol=1e-4)


def test_ref_alt_out_of_fold_logits_hold_out_whole_elements(elements_h5):
    """With as many folds as training elements, each element's logits come from the fit on the others."""
    from sklearn.linear_model import Ridge

    from genomix.training.tasks import element_groups

    dataset = open_dataset(elements_h5)
    groups = element_groups(dataset, "train")
    task, model, profiles, report = _fitted_pair_model(dataset, folds=len(set(groups)))
    assert report["folds"] == len(set(groups))
    x = ((profiles.double() - model.profile.mean.double()) / model.profile.scale.double()).numpy()
    targets = task.inner.train_targets.numpy()
    for element in set(groups):
        held = groups == element
        expected = Ridge(alpha=1 / report["C"]).fit(x[~held], targets[~held]).predict(x[held])
        np.testing.assert_allclose(report["train_logits"][held, 0].numpy(), expected, atol=1e-4)
    assert fit_profile_head(model, dataset, task, train_profiles=profiles, folds=50)["folds"] == len(set(groups))


def test_a_fitted_head_is_evaluated_before_the_first_step(elements_h5, tmp_path):
    """best.pt starts as the fitted k-mer baseline: the network replaces it only by doing better on valid."""

    overrides = [*TINY, "epochs=1", "seed=0", "lr=0.5", "eval_every=0"]  # a learning rate that wrecks the network
    train(elements_h5, out_dir=tmp_path / "run", config=load_config(None, overrides), device="cpu")
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert records[0]["step"] == 0 and records[0]["best"] and len(records) >= 2
    _, _, _, report = _fitted_pair_model(open_dataset(elements_h5))
    assert records[0]["valid"]["spearman"] == pytest.approx(report["valid"], abs=1e-5)
    best = max(r["valid"]["spearman"] for r in records)
    assert torch.load(tmp_path / "run" / "best.pt", weights_only=True)["valid"]["spearman"] == pytest.approx(best)


def test_sample_weights_weight_the_ridge_and_its_out_of_fold_fits(weighted_elements_h5):
    """With measurement weights, the fit and each out-of-fold fit are scikit-learn's weighted ridge."""
    from scipy.stats import spearmanr
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GroupKFold

    from genomix.training.profile_fit import REGRESSION_C_GRID
    from genomix.training.tasks import element_groups, sample_weights

    dataset = open_dataset(weighted_elements_h5)
    weights = sample_weights(dataset, "train", "auto").double().numpy()
    task, model, profiles, report = _fitted_pair_model(dataset, weights=weights, folds=3)
    _, _, _, unweighted = _fitted_pair_model(dataset, folds=3)
    mean, scale = model.profile.mean.double(), model.profile.scale.double()
    raw = {"train": profiles, "valid": split_profiles(model, dataset.split("valid"))}
    x = {name: ((p.double() - mean) / scale).numpy() for name, p in raw.items()}
    targets = task.inner.train_targets.numpy()
    labels = np.asarray(dataset.split("valid").labels)
    valid = {c: Ridge(alpha=1 / c).fit(x["train"], targets, sample_weight=weights).predict(x["valid"])
             for c in REGRESSION_C_GRID}
    best = max(REGRESSION_C_GRID, key=lambda c: spearmanr(valid[c], labels)[0])
    assert report["C"] == best and report["valid"] == pytest.approx(spearmanr(valid[best], labels)[0], abs=1e-6)
    with torch.no_grad():
        ours = model.profile(torch.zeros(1), None, profiles=raw["valid"]).reshape(-1)
    np.testing.assert_allclose(ours.numpy(), valid[best], atol=1e-4)
    assert not torch.allclose(report["train_logits"], unweighted["train_logits"])  # the weights did something
    groups = element_groups(dataset, "train")
    for fit_rows, held in GroupKFold(n_splits=3, shuffle=True, random_state=0).split(x["train"], None, groups):
        expected = Ridge(alpha=1 / best).fit(x["train"][fit_rows], targets[fit_rows],
                                             sample_weight=weights[fit_rows]).predict(x["train"][held])
        np.testing.assert_allclose(report["train_logits"][held, 0].numpy(), expected, atol=1e-4)


@pytest.mark.parametrize("how", ["auto", "none"])
def test_training_fits_the_head_and_weights_the_loss_by_sample_weights(weighted_elements_h5, tmp_path, monkeypatch,
                                                                       how):
    from genomix.training.tasks import RegressionTask, sample_weights

    dataset = open_dataset(weighted_elements_h5)
    seen = []
    original = RegressionTask.loss

    def spy(self, outputs, labels, weights=None):
        seen.append(None if weights is None else weights.clone())
        return original(self, outputs, labels, weights)

    monkeypatch.setattr(RegressionTask, "loss", spy)
    overrides = [*TINY, "epochs=1", "seed=0", "eval_every=0", f"sample_weights={how}",
                 "model.motifs=off"]  # the k-mer head alone, as _fitted_pair_model fits it
    train(weighted_elements_h5, out_dir=tmp_path / "run", config=load_config(None, overrides), device="cpu")
    weights = sample_weights(dataset, "train", how)
    _, _, _, report = _fitted_pair_model(dataset, weights=None if weights is None else weights.double().numpy())
    first = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[0])
    assert first["step"] == 0 and first["valid"]["spearman"] == pytest.approx(report["valid"], abs=1e-5)
    assert seen and all((w is None) == (how == "none") for w in seen)
    if how == "auto":  # every batch's weights are its records' (a permutation of a subset of them)
        pool = np.sort(weights.numpy())
        assert all(np.isin(w.numpy(), pool).all() for w in seen)
        assert sum(len(w) for w in seen) == len(pool)
        np.testing.assert_allclose(np.sort(torch.cat(seen).numpy()), pool)


def test_the_profile_k_is_the_one_with_the_lowest_out_of_fold_log_loss(orchid_h5):
    """Against an independent pipeline per k: numpy k-mer frequencies, StandardScaler, logistic regression
    with C chosen by valid ROC AUC, out-of-fold probabilities of the same stratified folds."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.preprocessing import StandardScaler

    from genomix.training.metrics import classification_metrics, log_loss
    from genomix.training.profile_fit import C_GRID, best_profile_kmer_size, fit_profile_kmer_sizes

    dataset = open_dataset(orchid_h5)
    task = make_task(dataset)
    fits = fit_profile_kmer_sizes(dataset, task, output_size=task.output_size, sizes=(2, 3, 4), folds=3)
    k, scores = best_profile_kmer_size(fits), {size: fit["scores"] for size, fit in fits.items()}
    labels = {name: np.asarray(dataset.split(name).labels) for name in ("train", "valid")}
    n_classes = len(dataset.classes)

    def probabilities(model, x):
        out = np.zeros((len(x), n_classes))
        out[:, model.classes_] = model.predict_proba(x)
        return out

    expected = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for size in (2, 3, 4):
            features = {name: baseline._features(dataset.split(name), k=size, alphabet="dna") for name in labels}
            scaler = StandardScaler().fit(features["train"])
            x = {name: scaler.transform(f) for name, f in features.items()}
            auc = {c: classification_metrics(labels["valid"], probabilities(
                LogisticRegression(C=c, max_iter=3000, random_state=0).fit(x["train"], labels["train"]),
                x["valid"]))["roc_auc"] for c in C_GRID}
            c = max(C_GRID, key=lambda value: (auc[value], -value))  # the first of the best
            oof = np.zeros((len(x["train"]), n_classes))
            for fit, held in StratifiedKFold(3, shuffle=True, random_state=0).split(x["train"], labels["train"]):
                model = LogisticRegression(C=c, max_iter=3000, random_state=0).fit(x["train"][fit], labels["train"][fit])
                oof[held] = probabilities(model, x["train"][held])
            expected[size] = (c, log_loss(labels["train"], oof))
    for size in (2, 3, 4):
        assert scores[size]["C"] == expected[size][0]
        assert scores[size]["out_of_fold"] == pytest.approx(expected[size][1], rel=1e-3)
    assert k == min(expected, key=lambda size: expected[size][1])
    assert len({round(s["out_of_fold"], 3) for s in scores.values()}) == 3  # the three k really differ


def test_training_chooses_the_profile_k_only_where_the_head_is_fitted(tmp_path, monkeypatch):
    from genomix.checkpoint import load_model
    from genomix.training import loop
    from genomix.models.kmers import KmerProfileHead
    from genomix.training.profile_fit import _HeadOnly, best_profile_kmer_size, fit_profile_kmer_sizes

    path = _long_two_class(tmp_path / "long.h5", length=600)  # 1-mer composition: 4 would win over 5, 6
    sizes = (5, 6)
    monkeypatch.setattr(loop, "fit_profile_kmer_sizes",
                        lambda *args, **kwargs: fit_profile_kmer_sizes(*args, sizes=sizes, **kwargs))
    common = [*TINY, "epochs=1", "train_crop=200", "seed=0", "profile_folds=2"]
    with monkeypatch.context() as patch:  # the chosen k's head is the one fitted while choosing, not refitted
        patch.setattr(loop, "fit_profile_head", lambda *args, **kwargs: pytest.fail("the chosen head was fitted twice"))
        train(path, out_dir=tmp_path / "auto", config=load_config(None, common), device="cpu")
    dataset = open_dataset(path)
    task = make_task(dataset)
    fits = fit_profile_kmer_sizes(dataset, task, output_size=2, folds=2, sizes=sizes, canonical=True)
    chosen, scores = best_profile_kmer_size(fits), {size: fit["scores"] for size, fit in fits.items()}
    recorded = json.loads((tmp_path / "auto" / "config.json").read_text())["profile_kmer_size"]
    assert recorded["chosen"] == chosen and recorded["by"] == "out_of_fold_log_loss"
    assert {int(k): v["out_of_fold"] for k, v in recorded["scores"].items()} == pytest.approx(
        {k: v["out_of_fold"] for k, v in scores.items()})
    model, _ = load_model(tmp_path / "auto" / "best.pt")
    assert model.profile.k == chosen and model.profile.linear.in_features == 4 ** chosen
    assert model.profile.canonical  # trained on both strands (reverse_complement=auto on DNA): a canonical head
    # the head kept from the k choice (not fitted twice) is the head fitted on its own, kept fixed by training
    reference = _HeadOnly(KmerProfileHead(2, k=chosen, vocab="acgt", canonical=True))
    fit_profile_head(reference, dataset, task, train_profiles=fit_profile_statistics(reference, dataset), seed=0,
                     folds=2)
    for name, tensor in reference.profile.state_dict().items():
        assert torch.equal(model.profile.state_dict()[name], tensor), name
    given = [*common, "model.profile_kmer_size=3", "reverse_complement=off"]
    train(path, out_dir=tmp_path / "given", config=load_config(None, given), device="cpu")
    given_model = load_model(tmp_path / "given" / "best.pt")[0]
    assert given_model.profile.k == 3 and not given_model.profile.canonical  # one strand: strand-specific
    assert "profile_kmer_size" not in json.loads((tmp_path / "given" / "config.json").read_text())
    whole = [*TINY, "epochs=1", "seed=0"]  # sequences read whole: the head trains with the network, k = kmer_size
    train(path, out_dir=tmp_path / "whole", config=load_config(None, whole), device="cpu")
    whole_model = load_model(tmp_path / "whole" / "best.pt")[0]
    assert whole_model.profile.k == 4 and not whole_model.profile.canonical  # trained on both strands itself
