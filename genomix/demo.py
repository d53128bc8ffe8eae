"""``make demo``: genomix end to end on a small real file shipped with the package.

Run: ``python -m genomix.demo [--out DIR]``. Reads the 94 orchid ITS records of
``genomix/data/ls_orchid.gbk`` (Biopython's example file, 5 genera) and runs a ChordMixer forward and
backward pass on all of them as one variable-length batch, no padding.
"""

from __future__ import annotations

import argparse
import time
from importlib import resources

import numpy as np
import torch
from Bio import SeqIO

from genomix import ChordMixer
from genomix.alphabet import DNA


def demo_file() -> str:
    """Path of the shipped GenBank file."""
    return str(resources.files("genomix") / "data" / "ls_orchid.gbk")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    records = list(SeqIO.parse(demo_file(), "genbank"))
    tokens = [DNA.encode(str(record.seq), record=record.id) for record in records]
    lengths = torch.tensor([len(t) for t in tokens])
    genera = sorted({record.annotations["organism"].split()[0] for record in records})
    labels = torch.tensor([genera.index(r.annotations["organism"].split()[0]) for r in records])
    print(f"read {len(records)} records from {demo_file()}: {len(genera)} genera, "
          f"lengths {int(lengths.min())}-{int(lengths.max())} bp")
    torch.manual_seed(0)
    model = ChordMixer(input_size=DNA.vocab_size, output_size=len(genera), max_seq_len=int(lengths.max()),
                       track_size=8, hidden_size=64, prenorm="LN", var_len=True)
    batch = torch.from_numpy(np.concatenate(tokens)).long()
    start = time.perf_counter()
    logits = model(batch, lengths)
    loss = torch.nn.functional.cross_entropy(logits, labels)
    loss.backward()
    seconds = time.perf_counter() - start
    print(f"ChordMixer ({sum(p.numel() for p in model.parameters()):,} parameters, "
          f"{model.encoder.n_blocks} blocks): logits {tuple(logits.shape)}, loss {loss.item():.3f}, "
          f"forward+backward {int(lengths.sum()):,} bases in {seconds:.2f} s")


if __name__ == "__main__":
    main()
