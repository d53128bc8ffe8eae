"""Small real datasets for training tests, written directly with the store API.

``orchid_dataset`` turns the 94 ITS records of ``ls_orchid.gbk`` (5 genera, 572-789 bp) into a
classification dataset (label = genus, the first word of the organism), split 60/20/20 stratified
with a fixed seed. Tiny, real and fast to train on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genomix.alphabet import DNA
from genomix.datasets.store import SplitArrays, write_dataset


def _split_arrays(sequences: list[np.ndarray], labels: list, ids: list[str], *, dtype=np.int64) -> SplitArrays:
    offsets = np.concatenate([[0], np.cumsum([s.size for s in sequences])]).astype(np.int64)
    return SplitArrays(tokens=np.concatenate(sequences).astype(np.uint8), offsets=offsets,
                       labels=np.asarray(labels, dtype=dtype), ids=list(ids))


def orchid_records(shared_data: Path) -> tuple[list[np.ndarray], list[str], list[str]]:
    """Tokens, genus and id of each record of ``ls_orchid.gbk``."""
    from Bio import SeqIO

    tokens, genera, ids = [], [], []
    for record in SeqIO.parse(str(shared_data / "genbank" / "ls_orchid.gbk"), "genbank"):
        tokens.append(DNA.encode(str(record.seq), record=record.id))
        genera.append(record.annotations["organism"].split()[0])
        ids.append(record.id)
    return tokens, genera, ids


def orchid_dataset(shared_data: Path, path: Path, *, task: str = "classification", seed: int = 0) -> Path:
    """Write the orchid dataset to ``path`` (classification by genus, or regression of GC content)."""
    tokens, genera, ids = orchid_records(shared_data)
    classes = sorted(set(genera))
    rng = np.random.default_rng(seed)
    split_of = np.empty(len(tokens), dtype=object)
    for genus in classes:
        members = rng.permutation([i for i, g in enumerate(genera) if g == genus])
        n_valid = n_test = max(1, round(0.2 * len(members)))
        split_of[members[:n_valid]] = "valid"
        split_of[members[n_valid:n_valid + n_test]] = "test"
        split_of[members[n_valid + n_test:]] = "train"
    splits = {}
    for name in ("train", "valid", "test"):
        members = [i for i in range(len(tokens)) if split_of[i] == name]
        if task == "classification":
            labels, dtype = [classes.index(genera[i]) for i in members], np.int64
        else:  # GC fraction: a real-valued target computable from the sequence
            labels = [float(np.isin(tokens[i], [2, 3]).mean()) for i in members]
            dtype = np.float32
        splits[name] = _split_arrays([tokens[i] for i in members], labels, [ids[i] for i in members], dtype=dtype)
    write_dataset(path, splits, task=task, alphabet="dna", vocab=DNA.vocab,
                  classes=classes if task == "classification" else None,
                  provenance={"source": "ls_orchid.gbk", "seed": seed})
    return path
