"""Crafted and damaged dataset files (issue 18, item 10): refused on open or on read, in one clear line.

Each case starts from a valid dataset and changes one thing with h5py, as an attacker or a bad copy
would; ``inspect``, ``baseline kmer`` and the reader must refuse it without allocating its claims.
"""

from __future__ import annotations

import re

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from genomix.alphabet import DNA
from genomix.cli import cli
from genomix.datasets.store import SplitArrays, open_dataset, write_dataset
from genomix.errors import DatasetFormatError


def _valid(path):
    rng = np.random.default_rng(0)
    splits = {}
    for name, n in (("train", 40), ("valid", 10), ("test", 10)):
        lengths = rng.integers(50, 120, n)
        splits[name] = SplitArrays(tokens=rng.integers(1, 5, int(lengths.sum()), dtype=np.uint8),
                                   offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
                                   labels=np.arange(n) % 2, ids=[f"{name}{k}" for k in range(n)],
                                   meta={"organism": [f"org{k % 3}" for k in range(n)]})
    write_dataset(path, splits, task="classification", alphabet="dna", vocab=DNA.vocab, classes=["a", "b"],
                  provenance={"seed": 0})
    return path


def _replace(group, name, **kwargs):
    del group[name]
    return group.create_dataset(name, **kwargs)


def _negative_offsets(f, tmp_path):
    f["train/offsets"][5] = -7


def _decreasing_offsets(f, tmp_path):
    offsets = f["train/offsets"][()]
    offsets[3], offsets[4] = offsets[4], offsets[3]
    f["train/offsets"][...] = offsets


def _offsets_past_the_end(f, tmp_path):
    f["train/offsets"][-1] = 10**12


def _labels_outside_classes(f, tmp_path):
    f["valid/labels"][2] = 9


def _sparse_tokens(f, tmp_path):  # claims 1e12 tokens and stores none
    _replace(f["train"], "tokens", shape=(10**12,), dtype=np.uint8, chunks=(1 << 18,))
    offsets = f["train/offsets"][()]
    offsets[-1] = 10**12
    f["train/offsets"][...] = offsets


def _external_storage(f, tmp_path):  # the tokens "are" the bytes of a system file
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"root:x:0:0:root:/root:/bin/bash\n" * 200)
    n = int(f["train/offsets"][-1])
    _replace(f["train"], "tokens", shape=(n,), dtype=np.uint8, external=[(str(secret), 0, n)])


def _external_link(f, tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as handle:
        handle["labels"] = np.zeros(40, dtype=np.int64)
    del f["train/labels"]
    f["train/labels"] = h5py.ExternalLink(str(other), "/labels")


def _soft_link(f, tmp_path):
    del f["test/ids"]
    f["test/ids"] = h5py.SoftLink("/train/ids")


def _meta_too_short(f, tmp_path):
    _replace(f["train/meta"], "organism", data=np.arange(3))


def _nan_vocab(f, tmp_path):
    f.attrs["vocab"] = '{"A": "one"}'


CASES = {
    "negative_offsets": (_negative_offsets, "should never decrease"),
    "decreasing_offsets": (_decreasing_offsets, "should never decrease"),
    "offsets_past_the_end": (_offsets_past_the_end, "should end at the data length"),
    "labels_outside_classes": (_labels_outside_classes, "labels should be class indices 0..1"),
    "sparse_tokens": (_sparse_tokens, "chunks are stored (a sparse array)"),
    "external_storage": (_external_storage, "keeps its data in another file"),
    "external_link": (_external_link, "is an external link"),
    "soft_link": (_soft_link, "is a soft link"),
    "meta_too_short": (_meta_too_short, "meta column 'organism' should hold 40 values"),
    "bad_vocab": (_nan_vocab, "attribute 'vocab' should map each letter"),
}


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    return _valid(tmp_path_factory.mktemp("integrity") / "valid.h5")


def _crafted(valid, tmp_path, case):
    path = tmp_path / f"{case}.h5"
    path.write_bytes(valid.read_bytes())
    with h5py.File(path, "r+") as handle:
        CASES[case][0](handle, tmp_path)
    return path


@pytest.mark.parametrize("case", sorted(CASES))
def test_crafted_file_is_refused_on_open(valid, tmp_path, case):
    path = _crafted(valid, tmp_path, case)
    with pytest.raises(DatasetFormatError, match=re.escape(CASES[case][1])) as error:
        open_dataset(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("command", [["inspect"], ["baseline", "kmer", "-k", "2", "-q"]])
@pytest.mark.parametrize("case", sorted(CASES))
def test_crafted_file_through_the_cli(valid, tmp_path, case, command):
    path = _crafted(valid, tmp_path, case)
    result = CliRunner().invoke(cli, [*command, str(path)])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and CASES[case][1] in lines[0], result.output


def test_tokens_outside_the_vocabulary_are_refused_when_read(valid, tmp_path):
    path = tmp_path / "tokens.h5"
    path.write_bytes(valid.read_bytes())
    with h5py.File(path, "r+") as handle:
        handle["train/tokens"][70] = 200
    with open_dataset(path) as dataset:  # opening stays cheap: no sequence data is read
        split = dataset.split("train")
        with pytest.raises(DatasetFormatError, match="token 200 is outside the vocabulary"):
            split.read_many(range(len(split)))
        with pytest.raises(DatasetFormatError, match="token 200"):
            [split[k] for k in range(len(split))]
    result = CliRunner().invoke(cli, ["baseline", "kmer", str(path), "-q"])
    assert result.exit_code == 1 and "token 200 is outside the vocabulary" in result.output


def test_the_valid_file_still_opens(valid):
    with open_dataset(valid) as dataset:
        assert [len(dataset.split(name)) for name in dataset.split_names] == [40, 10, 10]
