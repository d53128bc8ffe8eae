"""A tiny trained classifier and FASTA files for the annotate tests (shared by tests/inference and tests/cli).

``tiny_checkpoint`` trains ChordMixer (about 16k parameters, one epoch) on the 94 orchid ITS records of
``ls_orchid.gbk`` (5 genera) once per test session, its decoder pooling moments, and returns its ``best.pt``
and dataset.
``write_split_fasta`` writes a split's sequences back as FASTA (lower case mixed in, 60 bases a line),
so annotate and ``genomix evaluate`` see exactly the same sequences.
"""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
if str(TESTS / "training") not in sys.path:
    sys.path.insert(0, str(TESTS / "training"))

import numpy as np
from realdata import orchid_dataset

from genomix.alphabet import DNA

TINY = ["model.track_size=4", "model.hidden_size=16", "max_tokens=3000", "num_threads=1", "epochs=1",
        "model.pooling=moments"]  # the decoder that reads places, through every inference path
_CACHE: dict[Path, tuple[Path, Path]] = {}


def tiny_checkpoint(shared_data: Path, base: Path) -> tuple[Path, Path]:
    """``(best.pt, dataset.h5)`` of a tiny orchid genus classifier trained under ``base`` (once per session)."""
    if base not in _CACHE:
        from genomix.training.config import load_config
        from genomix.training.loop import train

        folder = base / "annotate_tiny"
        folder.mkdir(parents=True, exist_ok=True)
        dataset = orchid_dataset(shared_data, folder / "orchid.h5")
        train(dataset, out_dir=folder / "run", config=load_config(None, TINY), device="cpu")
        _CACHE[base] = (folder / "run" / "best.pt", dataset)
    return _CACHE[base]


def write_split_fasta(dataset_path: Path, split: str, path: Path) -> list[str]:
    """Write a split's sequences as FASTA (every other record in lower case); return their ids."""
    from genomix.datasets.store import open_dataset

    view = open_dataset(dataset_path).split(split)
    ids = [str(i) for i in view.ids]
    with open(path, "w") as handle:
        for k, record_id in enumerate(ids):
            data, _ = view.read_many(np.array([k]))
            sequence = DNA.decode(data)
            sequence = sequence.lower() if k % 2 else sequence
            handle.write(f">{record_id} orchid test record\n")
            handle.writelines(sequence[i:i + 60] + "\n" for i in range(0, len(sequence), 60))
    return ids
