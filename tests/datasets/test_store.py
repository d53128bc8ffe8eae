"""The HDF5 dataset file: round trips, validation, atomic writes, pickling and worker processes."""

from __future__ import annotations

import json
import os
import pickle

import h5py
import numpy as np
import pytest

from genomix.datasets import store
from genomix.datasets.store import SplitArrays, open_dataset, write_dataset
from genomix.errors import DatasetFormatError

VOCAB = {"A": 1, "N": 15}  # tokens 1..15 are valid


def _split(lengths, *, seed=0, values=False, meta=True):
    rng = np.random.default_rng(seed)
    total = int(sum(lengths))
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    n = len(lengths)
    return SplitArrays(
        tokens=None if values else rng.integers(1, 16, total, dtype=np.uint8),
        values=rng.normal(size=(total, 3)).astype(np.float32) if values else None,
        offsets=offsets,
        labels=rng.normal(size=n).astype(np.float32) if values else rng.integers(0, 3, n),
        ids=[f"seq{i}" for i in range(n)],
        meta={"organism": [f"org {i % 2}" for i in range(n)], "pos": np.arange(n)} if meta else {},
    )


def _write(path, splits, **kwargs):
    options = dict(task="classification", alphabet="dna", vocab=VOCAB, classes=["a", "b", "c"],
                   provenance={"seed": 1})
    options.update(kwargs)
    write_dataset(path, splits, **options)


def test_round_trip_tokens(tmp_path):
    train = _split([5, 0, 300_000, 7, 1])
    test = _split([10, 20], seed=1)
    path = tmp_path / "d.h5"
    _write(path, {"train": train, "test": test}, extra_attrs={"source": "unit", "window": [1, 2]})
    with open_dataset(path) as dataset:
        assert dataset.split_names == ["train", "test"]
        assert dataset.task == "classification" and dataset.alphabet == "dna"
        assert dataset.classes == ["a", "b", "c"] and dataset.vocab == VOCAB
        assert dataset.provenance == {"seed": 1}
        assert dataset.attrs["source"] == "unit" and json.loads(dataset.attrs["window"]) == [1, 2]
        view = dataset.split("train")
        assert len(view) == 5
        assert view.lengths.tolist() == [5, 0, 300_000, 7, 1]
        assert view.ids == train.ids
        assert (view.labels == train.labels).all() and view.labels.dtype == np.int64
        for k in range(5):
            np.testing.assert_array_equal(view[k], train.tokens[train.offsets[k]:train.offsets[k + 1]])
        np.testing.assert_array_equal(view[-1], view[4])
        assert view.meta_columns == ["organism", "pos"]
        assert view.meta("organism").tolist() == train.meta["organism"]
        assert view.meta("pos").tolist() == list(range(5))
        with pytest.raises(DatasetFormatError, match="no meta column 'nope'; available: organism, pos"):
            view.meta("nope")
        with pytest.raises(IndexError):
            view[5]


def test_round_trip_values(tmp_path):
    train = _split([4, 6, 2], values=True)
    path = tmp_path / "v.h5"
    _write(path, {"train": train}, task="regression", alphabet="values", classes=None)
    with open_dataset(path) as dataset:
        view = dataset.split("train")
        assert dataset.classes is None
        assert view[1].shape == (6, 3) and view[1].dtype == np.float32
        np.testing.assert_array_equal(view[1], train.values[4:10])
        assert view.labels.dtype == np.float32
        data, lengths = view.read_many([2, 0])
        np.testing.assert_array_equal(data, np.concatenate([train.values[10:12], train.values[0:4]]))


def test_read_many_keeps_order_and_repeats(tmp_path):
    train = _split([3, 4, 5, 6, 7, 8])
    path = tmp_path / "d.h5"
    _write(path, {"train": train})
    view = open_dataset(path).split("train")
    order = [4, 1, 2, 3, 1, 0]
    data, lengths = view.read_many(order)
    assert lengths.tolist() == [7, 4, 5, 6, 4, 3]
    np.testing.assert_array_equal(data, np.concatenate([view[k] for k in order]))
    empty, no_lengths = view.read_many([])
    assert empty.size == 0 and no_lengths.size == 0


def test_extra_ragged_arrays(tmp_path):
    train = _split([3, 4])
    train.extra = {"alt_tokens": np.array([1, 2, 3, 4, 5], dtype=np.uint8),
                   "alt_offsets": np.array([0, 2, 5], dtype=np.int64)}
    path = tmp_path / "d.h5"
    _write(path, {"train": train}, task="variant_effect")
    view = open_dataset(path).split("train")
    assert view.extra_names == ["alt_offsets", "alt_tokens"]
    assert view.read_extra("alt", 1).tolist() == [3, 4, 5]
    assert view.extra("alt_offsets").tolist() == [0, 2, 5]
    with pytest.raises(DatasetFormatError, match="no array 'ref_tokens'"):
        view.read_extra("ref", 0)


def test_large_arrays_are_chunked_and_compressed(tmp_path):
    path = tmp_path / "d.h5"
    _write(path, {"train": _split([1_000_000])})
    with h5py.File(path) as handle:
        tokens = handle["train/tokens"]
        assert tokens.chunks is not None and tokens.compression == store.COMPRESSION
        assert handle.attrs["format"] == "genomix-dataset" and handle.attrs["version"] == 1


def test_empty_split_round_trips(tmp_path):
    path = tmp_path / "d.h5"
    _write(path, {"train": _split([2]), "valid": _split([])})
    view = open_dataset(path).split("valid")
    assert len(view) == 0 and view.lengths.size == 0 and view.ids == []


def test_missing_split_lists_the_available_ones(tmp_path):
    path = tmp_path / "d.h5"
    _write(path, {"train": _split([2])})
    with pytest.raises(DatasetFormatError, match="no split 'test'; available: train"):
        open_dataset(path).split("test")


def test_failed_write_leaves_no_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    path = tmp_path / "d.h5"
    _write(path, {"train": _split([2])})
    before = path.read_bytes()

    def explode(group, arrays, guard):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "_write_split", explode)
    with pytest.raises(RuntimeError):
        _write(path, {"train": _split([3])})
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["d.h5"]
    with pytest.raises(RuntimeError):
        _write(tmp_path / "new.h5", {"train": _split([3])})
    assert sorted(os.listdir(tmp_path)) == ["d.h5"]


@pytest.mark.parametrize("change, message", [
    (dict(task="poetry"), "task must be one of"),
    (dict(alphabet="rna"), "alphabet must be one of"),
    (dict(classes=None), "needs its list of classes"),
])
def test_bad_header_arguments(tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        _write(tmp_path / "d.h5", {"train": _split([2])}, **change)
    assert not (tmp_path / "d.h5").exists()


def test_bad_split_arrays(tmp_path):
    bad_offsets = _split([2, 3])
    bad_offsets.offsets = np.array([0, 2, 4])
    bad_labels = _split([2, 3])
    bad_labels.labels = np.array([0, 5])
    both = _split([2])
    both.values = np.zeros((2, 1), dtype=np.float32)
    for arrays, message in [(bad_offsets, "offsets must be"), (bad_labels, "labels must lie in 0..2"),
                            (both, "exactly one of tokens and values"), (SplitArrays(), "exactly one")]:
        with pytest.raises(ValueError, match=message):
            _write(tmp_path / "d.h5", {"train": arrays})


def test_not_hdf5(tmp_path):
    path = tmp_path / "d.h5"
    path.write_text("hello")
    with pytest.raises(DatasetFormatError, match=r"d\.h5: is not an HDF5 file"):
        open_dataset(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        open_dataset(tmp_path / "nope.h5")


def test_hdf5_without_format(tmp_path):
    path = tmp_path / "d.h5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("x", data=[1])
    with pytest.raises(DatasetFormatError, match=r"not a genomix dataset \(no 'format' attribute\)"):
        open_dataset(path)


def test_other_version(tmp_path):
    path = tmp_path / "d.h5"
    _write(path, {"train": _split([2])})
    with h5py.File(path, "a") as handle:
        handle.attrs["version"] = 2
    with pytest.raises(DatasetFormatError, match="version 2, this genomix reads version 1"):
        open_dataset(path)


def test_missing_required_array(tmp_path):
    path = tmp_path / "d.h5"
    _write(path, {"train": _split([2])})
    with h5py.File(path, "a") as handle:
        del handle["train/labels"]
    with pytest.raises(DatasetFormatError, match="split 'train': missing required array 'labels'"):
        open_dataset(path)


def test_pickle_reopens_lazily(tmp_path):
    path = tmp_path / "d.h5"
    train = _split([3, 4])
    _write(path, {"train": train})
    view = open_dataset(path).split("train")
    copy = pickle.loads(pickle.dumps(view))
    assert copy.dataset._handle is None
    np.testing.assert_array_equal(copy[1], view[1])


def _child_reads(view, k, queue):
    queue.put(view[k].tolist())


def test_fork_reopens_in_the_child(tmp_path):
    import multiprocessing

    path = tmp_path / "d.h5"
    _write(path, {"train": _split([3, 4])})
    view = open_dataset(path).split("train")
    expected = view[1].tolist()  # the parent has the file open
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child_reads, args=(view, 1, queue))
    child.start()
    child.join(30)
    assert queue.get(timeout=5) == expected


class _TorchSplit:
    """A minimal map-style dataset over a split (what the training code builds on)."""

    def __init__(self, view):
        self.view = view

    def __len__(self):
        return len(self.view)

    def __getitem__(self, k):
        return k, os.getpid(), self.view[k].astype(np.int64)


@pytest.mark.slow
def test_dataloader_workers(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "d.h5"
    train = _split([3 + k for k in range(40)])
    _write(path, {"train": train})
    view = open_dataset(path).split("train")
    view[0]  # open in the parent first: workers must not reuse that handle
    loader = torch.utils.data.DataLoader(_TorchSplit(view), batch_size=None, num_workers=2)
    seen = {}
    pids = set()
    for k, pid, tokens in loader:
        seen[int(k)] = tokens.numpy()
        pids.add(int(pid))
    assert len(seen) == 40 and len(pids) == 2 and os.getpid() not in pids
    for k, tokens in seen.items():
        np.testing.assert_array_equal(tokens, train.tokens[train.offsets[k]:train.offsets[k + 1]])


@pytest.mark.parametrize("values", [False, True])
def test_a_streamed_split_reads_as_a_whole_one(tmp_path, values):
    """DatasetWriter.stream_split (builders whose data does not fit in memory) writes what write_dataset does."""
    arrays = _split([5, 70_000, 3, 900], values=values)
    data = arrays.values if values else arrays.tokens
    options = dict(task="regression" if values else "classification", alphabet="values" if values else "dna",
                   vocab=VOCAB, classes=None if values else ["a", "b", "c"], provenance={"seed": 1})
    with store.DatasetWriter(tmp_path / "s.h5", **options) as writer:
        stream = writer.stream_split("train", offsets=arrays.offsets, channels=3 if values else None)
        for start in range(0, len(data), 30_000):
            stream.write(data[start:start + 30_000])
        stream.finish(labels=arrays.labels, ids=arrays.ids, meta=arrays.meta)
    write_dataset(tmp_path / "w.h5", {"train": arrays}, **options)
    streamed, whole = open_dataset(tmp_path / "s.h5").split("train"), open_dataset(tmp_path / "w.h5").split("train")
    for k in range(len(whole)):
        np.testing.assert_array_equal(streamed[k], whole[k])
    np.testing.assert_array_equal(streamed.labels, whole.labels)
    assert streamed.ids == whole.ids and list(streamed.meta("organism")) == list(whole.meta("organism"))


def test_a_stream_with_too_few_rows_leaves_no_file(tmp_path):
    arrays = _split([5, 7])
    with pytest.raises(ValueError, match="wrote 5 rows of 12"):
        with store.DatasetWriter(tmp_path / "s.h5", task="classification", alphabet="dna", vocab=VOCAB,
                                 classes=["a", "b", "c"], provenance={}) as writer:
            stream = writer.stream_split("train", offsets=arrays.offsets)
            stream.write(arrays.tokens[:5])
            stream.finish(labels=arrays.labels, ids=arrays.ids)
    assert os.listdir(tmp_path) == []


def test_ragged_extra_pairs_have_public_accessors(tmp_path):
    arrays = _split([2, 3, 4])
    arrays.extra = {"alt_tokens": np.arange(1, 8, dtype=np.uint8), "alt_offsets": np.array([0, 1, 5, 7])}
    _write(tmp_path / "x.h5", {"train": arrays})
    split = open_dataset(tmp_path / "x.h5").split("train")
    assert split.extra_offsets("alt").tolist() == [0, 1, 5, 7]
    assert split.extra_offsets("alt") is split.extra_offsets("alt")  # read once
    assert split.read_extra_rows("alt", 1, 5).tolist() == [2, 3, 4, 5]
    with pytest.raises(DatasetFormatError, match="no array 'ref_tokens'"):
        split.extra_offsets("ref")
