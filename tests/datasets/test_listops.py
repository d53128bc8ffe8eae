"""ListOps: the evaluator on hand-written expressions, generator statistics, determinism, the file."""

from __future__ import annotations

import numpy as np
import pytest

from genomix.datasets import listops
from genomix.datasets.store import open_dataset
from genomix.errors import ConfigError, InputFormatError


@pytest.mark.parametrize(("text", "value"), [
    ("7", 7),
    ("[MAX 2 9 ]", 9),
    ("[MIN 4 7 3 ]", 3),
    ("[MED 1 5 9 ]", 5),
    ("[MED 1 2 ]", 1),              # int(np.median([1, 2])) = int(1.5) = 1
    ("[MED 3 8 1 6 ]", 4),          # median of 1 3 6 8 is 4.5 -> 4
    ("[SM 5 7 9 ]", 1),             # 21 mod 10
    ("[MAX 2 9 [MIN 4 7 ] 0 ]", 9),
    ("[MIN [MAX 1 2 ] [SM 9 9 ] ]", 2),   # min(2, 8)
    ("[SM [MED 9 9 1 ] [MAX 0 3 ] [MIN 6 8 ] 2 ]", 0),  # 9 + 3 + 6 + 2 = 20
    ("( ( [MAX 2 ) 9 ) ]", 9),      # LRA's released files carry parentheses
])
def test_evaluator_on_hand_written_expressions(text, value):
    assert listops.evaluate(text) == value


@pytest.mark.parametrize(("text", "match"), [
    ("[MAX 1 2", "unclosed"),
    ("[MAX 1 2 ] ]", "closes no operator"),
    ("[MAX ]", "no arguments"),
    ("[MAX 12 3 ]", "not a digit"),
    ("1 2", "one top-level value"),
    ("", "one top-level value"),
])
def test_evaluator_rejects_malformed_expressions(text, match):
    with pytest.raises(InputFormatError, match=match):
        listops.evaluate(text)


def test_text_round_trip():
    text = "[MAX 2 9 [MIN 4 7 ] 0 [MED 1 2 ] [SM 3 4 ] ]"
    tokens = listops.from_lra_text(text)
    assert bytes(tokens) == b"X29N47]0D12]S34]]"
    assert listops.to_lra_text(tokens) == text
    with pytest.raises(InputFormatError, match="not a ListOps token"):
        listops.from_lra_text("[FIRST 1 2 ]")
    with pytest.raises(InputFormatError, match="not a stored ListOps token"):
        listops.to_lra_text(b"X1a]")


def test_generated_labels_equal_the_reference_evaluation_and_lengths_are_bounded():
    expressions, labels = listops.generate_expressions(300, seed=5, min_length=20, max_length=300,
                                                       max_depth=6, max_args=5)
    assert labels.dtype == np.int64 and len(expressions) == 300
    for expression, label in zip(expressions, labels):
        assert 20 <= len(expression) <= 300
        assert listops.evaluate(listops.to_lra_text(expression)) == label
        assert expression.count(b"]") == sum(expression.count(c.encode()) for c in listops.OPERATOR_BYTES)
    assert len(set(labels.tolist())) == 10


def test_default_lengths_follow_lra():
    expressions, labels = listops.generate_expressions(40, seed=0)
    lengths = [len(e) for e in expressions]
    assert min(lengths) >= 500 and max(lengths) <= 2_000
    assert all(listops.evaluate(listops.to_lra_text(e)) == v for e, v in zip(expressions, labels))


def test_depth_and_arguments_are_bounded():
    expressions, _ = listops.generate_expressions(100, seed=1, min_length=5, max_length=400, max_depth=3,
                                                  max_args=3)
    for expression in expressions:
        depth = deepest = 0
        for char in expression.decode():
            depth += char in listops.OPERATOR_BYTES
            depth -= char == "]"
            deepest = max(deepest, depth)
        assert deepest <= 2  # depth 3 is always a digit
        assert len(expression) <= listops._longest(3, 3)


def test_same_seed_same_expressions():
    a = listops.generate_expressions(30, seed=9, min_length=10, max_length=200)
    b = listops.generate_expressions(30, seed=9, min_length=10, max_length=200)
    c = listops.generate_expressions(30, seed=9, split="test", min_length=10, max_length=200)
    assert a[0] == b[0] and np.array_equal(a[1], b[1])
    assert a[0] != c[0]


def test_build_writes_a_byte_dataset(tmp_path):
    out = tmp_path / "listops.h5"
    summary = listops.build_listops(out, n_train=40, n_valid=10, n_test=10, min_length=50, max_length=400,
                                    seed=1, command=["test"])
    with open_dataset(out) as dataset:
        assert dataset.task == "classification" and dataset.alphabet == "bytes"
        assert dataset.classes == [str(d) for d in range(10)]
        assert dataset.vocab["[MAX"] == ord("X") and dataset.vocab["]"] == ord("]")
        test = dataset.split("test")
        for k in range(len(test)):
            assert listops.evaluate(listops.to_lra_text(test[k])) == test.labels[k]
    assert summary["splits"]["train"]["sequences"] == 40


@pytest.mark.parametrize(("options", "match"), [
    ({"min_length": 300, "max_length": 200}, "--min-length"),
    ({"max_depth": 1}, "--max-depth"),
    ({"min_length": 10_000, "max_length": 20_000, "max_depth": 3, "max_args": 3}, "longest possible"),
    ({"min_length": 1, "max_length": 3}, "at least 5"),
])
def test_bad_options(options, match):
    with pytest.raises(ConfigError, match=match):
        listops.generate_expressions(1, **options)
