"""Annotate (library): windows, streaming batches, equality with ``genomix evaluate``, batch invariance, rc."""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path

import numpy as np
import pytest
from annotate_model import tiny_checkpoint, write_split_fasta

from genomix.alphabet import DNA, reverse_complement
from genomix.datasets.store import open_dataset
from genomix.errors import AlphabetError, ConfigError, InputFormatError
from genomix.inference.annotate import annotate_fasta, window_spans
from genomix.inference.batching import token_budget_batches
from genomix.checkpoint import load_model
from genomix.training.evaluate import predict_split
from genomix.training.tasks import ClassificationTask


@pytest.fixture(scope="module")
def tiny(shared_data, tmp_path_factory) -> tuple[Path, Path]:
    return tiny_checkpoint(shared_data, tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def test_fasta(tiny, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fasta") / "orchid_test.fa"
    write_split_fasta(tiny[1], "test", path)
    return path


def read_tsv(path: Path) -> tuple[list[str], list[list[str]]]:
    lines = [line.split("\t") for line in Path(path).read_text().splitlines()]
    return lines[0], lines[1:]


def probabilities(rows: list[list[str]], first: int = 3) -> np.ndarray:
    return np.array([[float(v) for v in row[first:]] for row in rows])


@pytest.mark.parametrize("length, window, stride, expected", [
    (25, 10, 5, [(0, 10), (5, 15), (10, 20), (15, 25)]),
    (27, 10, 5, [(0, 10), (5, 15), (10, 20), (15, 25), (20, 27)]),
    (27, 10, 10, [(0, 10), (10, 20), (20, 27)]),
    (7, 10, 5, [(0, 7)]),
    (10, 10, 3, [(0, 10)]),
    (1, 1, 1, [(0, 1)]),
])
def test_window_spans(length, window, stride, expected):
    assert window_spans(length, window=window, stride=stride) == expected


@pytest.mark.parametrize("length", [1, 9999, 10000, 10001, 4_938_920])
def test_window_spans_cover_every_base(length):
    spans = window_spans(length, window=10000, stride=5000)
    assert spans[0][0] == 0 and spans[-1][1] == length
    assert all(b[0] <= a[1] and b[0] > a[0] for a, b in itertools.pairwise(spans))  # overlapping or adjacent
    assert all(0 < end - start <= 10000 for start, end in spans)


def test_token_budget_batches_keep_order_and_budget():
    items = [(k, np.ones(n, dtype=np.uint8)) for k, n in enumerate([3, 4, 9, 20, 1, 1, 5])]
    batches = list(token_budget_batches(iter(items), max_tokens=10))
    assert [b.tags for b in batches] == [[0, 1], [2], [3], [4, 5, 6]]
    assert [b.lengths.tolist() for b in batches] == [[3, 4], [9], [20], [1, 1, 5]]
    assert all(b.tokens.size == b.lengths.sum() for b in batches)
    with pytest.raises(ValueError, match="at least 1"):
        list(token_budget_batches(iter(items), max_tokens=0))


def test_predictions_equal_evaluate(tiny, test_fasta, tmp_path):
    checkpoint, dataset_path = tiny
    out = tmp_path / "pred.tsv"
    summary = annotate_fasta(checkpoint, test_fasta, out=out, max_length=0)
    header, rows = read_tsv(out)
    model, info = load_model(checkpoint)
    view = open_dataset(dataset_path).split("test")
    task = ClassificationTask(info["classes"], np.zeros(0, dtype=np.int64))
    expected, _, lengths = predict_split(model, view, task=task, alphabet="dna", max_tokens=65536)
    assert header == ["id", "length", "class", *(f"p_{c}" for c in info["classes"])]
    assert [row[0] for row in rows] == list(view.ids)  # one row per record, input order
    assert [int(row[1]) for row in rows] == lengths.tolist()
    got = probabilities(rows)
    np.testing.assert_allclose(got.sum(1), 1.0, atol=1e-5)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert [row[2] for row in rows] == [info["classes"][k] for k in expected.argmax(1)]
    assert summary.records_read == summary.records_written == len(rows)
    assert summary.bases == lengths.sum()


@pytest.mark.parametrize("window", [None, 250])
def test_batch_invariance(tiny, test_fasta, tmp_path, window):
    checkpoint, _ = tiny
    outputs = []
    for max_tokens in (1, 100_000):
        out, bed = tmp_path / f"{max_tokens}.tsv", tmp_path / f"{max_tokens}.bed"
        annotate_fasta(checkpoint, test_fasta, out=out, bed=bed, window=window, max_tokens=max_tokens)
        outputs.append((read_tsv(out)[1], [line.split("\t") for line in bed.read_text().splitlines()[2:]]))
    (rows_a, bed_a), (rows_b, bed_b) = outputs
    assert [r[:2] for r in rows_a] == [r[:2] for r in rows_b]
    np.testing.assert_allclose(probabilities(rows_a), probabilities(rows_b), atol=1e-5)
    assert [r[:3] for r in bed_a] == [r[:3] for r in bed_b]
    np.testing.assert_allclose(probabilities(bed_a, 6), probabilities(bed_b, 6), atol=1e-5)


def test_windows_are_the_windows_predicted_alone(tiny, test_fasta, tmp_path):
    """Each BED window's probabilities equal those of the window's bases as a record of their own."""
    checkpoint, _ = tiny
    bed = tmp_path / "w.bed"
    annotate_fasta(checkpoint, test_fasta, bed=bed, window=300, stride=200)
    rows = [line.split("\t") for line in bed.read_text().splitlines()[2:]]
    sequences = {r.split()[0]: "".join(r.splitlines()[1:]) for r in test_fasta.read_text().split(">")[1:]}
    cut = tmp_path / "cut.fa"
    cut.write_text("".join(f">{c}:{s}-{e}\n{sequences[c][int(s):int(e)]}\n" for c, s, e, *_ in rows))
    alone = tmp_path / "alone.tsv"
    annotate_fasta(checkpoint, cut, out=alone, max_length=0)
    np.testing.assert_allclose(probabilities(rows, 6), probabilities(read_tsv(alone)[1]), atol=1e-5)
    for chrom, sequence in sequences.items():  # every record covered to its end, the last partial window kept
        spans = [(int(r[1]), int(r[2])) for r in rows if r[0] == chrom]
        assert spans == window_spans(len(sequence), window=300, stride=200)


def test_long_records_are_windowed_automatically(tiny, test_fasta, tmp_path):
    checkpoint, _ = tiny
    out, bed = tmp_path / "auto.tsv", tmp_path / "auto.bed"
    annotate_fasta(checkpoint, test_fasta, out=out, bed=bed, max_length=300)
    _, rows = read_tsv(out)
    windows = [line.split("\t") for line in bed.read_text().splitlines()[2:]]
    for row in rows:
        mine = [w for w in windows if w[0] == row[0]]
        assert [(int(w[1]), int(w[2])) for w in mine] == window_spans(int(row[1]), window=300, stride=300)
        weights = np.array([int(w[2]) - int(w[1]) for w in mine], dtype=float)
        mean = (weights[:, None] * probabilities(mine, 6)).sum(0) / weights.sum()
        np.testing.assert_allclose(probabilities([row]), mean[None], atol=1e-5)


def test_rc_is_the_mean_of_both_strands(tiny, test_fasta, tmp_path):
    checkpoint, _ = tiny
    records = [r for r in test_fasta.read_text().split(">")[1:]]
    flipped = tmp_path / "rc.fa.gz"
    with gzip.open(flipped, "wt") as handle:
        for record in records:
            lines = record.splitlines()
            tokens = reverse_complement(DNA.encode("".join(lines[1:])))
            handle.write(f">{lines[0]}\n{DNA.decode(tokens)}\n")
    forward, backward, both = (tmp_path / f"{name}.tsv" for name in ("f", "b", "both"))
    annotate_fasta(checkpoint, test_fasta, out=forward)
    annotate_fasta(checkpoint, flipped, out=backward)
    annotate_fasta(checkpoint, test_fasta, out=both, rc=True)
    mean = (probabilities(read_tsv(forward)[1]) + probabilities(read_tsv(backward)[1])) / 2
    np.testing.assert_allclose(probabilities(read_tsv(both)[1]), mean, atol=1e-5)


def test_rc_warns_when_the_model_reads_reverse_strands_worse(tiny, test_fasta, tmp_path, caplog):
    from genomix.inference.annotate import stream_predictions, strand_caveat
    from genomix.io.fasta import read_fasta
    from genomix.models.factory import build_model

    model, info = load_model(tiny[0])
    assert info["config"]["reverse_complement"] == "on" and strand_caveat(model, info) is None
    with caplog.at_level("WARNING", logger="genomix"):
        annotate_fasta(tiny[0], test_fasta, out=tmp_path / "both.tsv", rc=True)
    assert not [r for r in caplog.records if r.levelname == "WARNING"]

    one_strand = {**info, "config": {**info["config"], "reverse_complement": "off"}}
    assert "reverse_complement=off" in strand_caveat(model, one_strand)
    caplog.clear()
    with caplog.at_level("WARNING", logger="genomix"):
        list(stream_predictions(model, one_strand, read_fasta(test_fasta), rc=True))
        list(stream_predictions(model, one_strand, read_fasta(test_fasta)))  # no --rc: nothing to say
    assert [r.getMessage().count("reverse_complement=off") for r in caplog.records] == [1]

    fitted = {**info, "config": {**info["config"], "profile_fit": "auto", "train_crop": 4096}}
    kwargs = {**info["model_kwargs"], "kmer_profile": True, "kmer_vocab": "acgt", "profile_kmer_size": 3}
    assert "profile_canonical" in strand_caveat(build_model({**kwargs, "profile_canonical": False}), fitted)
    assert strand_caveat(build_model({**kwargs, "profile_canonical": True}), fitted) is None
    jointly = {**fitted, "config": {**fitted["config"], "train_crop": 0}}  # a head trained with the network
    assert strand_caveat(build_model({**kwargs, "profile_canonical": False}), jointly) is None


def test_min_length_and_on_invalid(tiny, tmp_path):
    checkpoint, _ = tiny
    fasta = tmp_path / "mixed.fa"
    fasta.write_text(">ok\nACGTNRYacgt\n>short\nACG\n>bad\nACGTXACGT\n>empty\n>ok2\nGGGGCCCCAAAATTTT\n")
    out = tmp_path / "out.tsv"
    with pytest.raises(AlphabetError, match=r"record bad at base 5: 'X' is not a DNA letter"):
        annotate_fasta(checkpoint, fasta, out=out, min_length=5)
    assert not out.exists() and list(tmp_path.iterdir()) == [fasta]
    summary = annotate_fasta(checkpoint, fasta, out=out, min_length=5, on_invalid="skip")
    assert [row[0] for row in read_tsv(out)[1]] == ["ok", "ok2"]
    assert (summary.records_read, summary.records_written, summary.skipped_short, summary.skipped_invalid) == (5, 2, 1, 2)
    assert summary.skipped_ids == ["bad", "empty"]


@pytest.mark.parametrize("text, message", [
    ("", "no FASTA records"),
    (">lonely header\n", "record lonely has no sequence"),
])
def test_empty_input_is_an_error(tiny, tmp_path, text, message):
    fasta = tmp_path / "in.fa"
    fasta.write_text(text)
    with pytest.raises(InputFormatError, match=message):
        annotate_fasta(tiny[0], fasta, out=tmp_path / "out.tsv", bed=tmp_path / "out.bed")
    assert list(tmp_path.iterdir()) == [fasta]


def test_bad_options_fail_before_any_work(tmp_path):
    with pytest.raises(ConfigError) as caught:
        annotate_fasta(tmp_path / "missing.pt", tmp_path / "missing.fa", out=tmp_path / "a.csv",
                       window=10, stride=20, max_tokens=0)
    message = str(caught.value)
    assert ".csv" in message and "stride" in message and "max_tokens" in message
