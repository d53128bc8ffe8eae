# Reproduces the MPRA baseline numbers in docs/variants.md: Kircher et al. 2019 saturation mutagenesis
# (44,621 variants, log2 effect) split by element, a ridge regression on the alt-minus-ref k-mer count
# profile, Pearson and Spearman on test. The ref/alt ChordMixer side is `genomix train` on the same file.
# Run from the repository root:  .venv/bin/python pipelines/mpra_baseline.py [--k 3 4 5 6] [--out runs/mpra]
"""MPRA k-mer ridge baseline on a ``variant_effect`` dataset (built here unless it exists).

Features: for each variant, the counts of every k-mer (over ``A C G T``) in the alt window minus those
in the ref window. Only k-mers overlapping the variant differ, so they are counted on the variant's
neighbourhood (``k - 1`` bases either side), exactly and sparsely. ``k`` and the ridge ``alpha`` are
chosen on ``valid``; the chosen model is scored once on ``test``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from scipy import sparse

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "variants" / "mpra_kircher2019"
ALPHAS = (0.1, 1.0, 10.0, 100.0, 1000.0)
_BASE = np.full(256, -1, dtype=np.int64)
_BASE[[1, 2, 3, 4]] = [0, 1, 2, 3]  # DNA tokens of A C G T


def build(out_dir: Path, *, window: int, seed: int) -> Path:
    """The dataset: reference copied first (pyfaidx writes its .fai beside it; shared data stays untouched)."""
    from genomix.datasets.variants import build_variant_dataset

    dataset = out_dir / "dataset.h5"
    if dataset.exists():
        return dataset
    out_dir.mkdir(parents=True, exist_ok=True)
    fasta = Path(shutil.copy(DATA / "element_reference_GRCh38_from_Ref_alleles.fasta", out_dir / "elements.fasta"))
    start = time.perf_counter()
    summary = build_variant_dataset(fasta, DATA / "kircher2019_satmut_GRCh38.vcf.gz", dataset, window=window,
                                    label="INFO/COEF", element_field="ELEMENT", weight="INFO/BARCODES",
                                    group_by=["INFO/ELEMENT", "window"], seed=seed)
    summary["seconds"] = round(time.perf_counter() - start, 2)
    (out_dir / "build_summary.json").write_text(json.dumps(summary, indent=2))
    return dataset


def kmer_codes(tokens: np.ndarray, k: int) -> np.ndarray:
    """Codes ``0..4**k - 1`` of the k-mers of ``tokens`` that hold only A C G T."""
    bases = _BASE[tokens]
    if len(bases) < k:
        return np.empty(0, dtype=np.int64)
    windows = np.lib.stride_tricks.sliding_window_view(bases, k)
    valid = (windows >= 0).all(axis=1)
    return (windows[valid] * (4 ** np.arange(k - 1, -1, -1))).sum(axis=1)


def delta_profiles(split, k: int) -> sparse.csr_matrix:
    """``(n, 4**k)`` alt-minus-ref k-mer counts of every variant of a split."""
    offsets = split.meta("variant_offset")
    refs, alts = split.meta("ref"), split.meta("alt")
    tokens = split.dataset._file()[split.name]["tokens"][()]
    alt_tokens, alt_offsets = split.extra("alt_tokens"), split.extra("alt_offsets")
    rows, cols, vals = [], [], []
    for i in range(len(split)):
        ref_window = tokens[split.offsets[i]:split.offsets[i + 1]]
        alt_window = alt_tokens[alt_offsets[i]:alt_offsets[i + 1]]
        o = int(offsets[i])
        lo = max(0, o - k + 1)
        ref_codes = kmer_codes(ref_window[lo:o + len(refs[i]) + k - 1], k)
        alt_codes = kmer_codes(alt_window[lo:o + len(alts[i]) + k - 1], k)
        delta = np.bincount(alt_codes, minlength=4 ** k) - np.bincount(ref_codes, minlength=4 ** k)
        nonzero = np.flatnonzero(delta)
        rows.append(np.full(len(nonzero), i))
        cols.append(nonzero)
        vals.append(delta[nonzero])
    return sparse.csr_matrix((np.concatenate(vals).astype(np.float32), (np.concatenate(rows), np.concatenate(cols))),
                             shape=(len(split), 4 ** k))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "mpra")
    parser.add_argument("--k", type=int, nargs="+", default=[3, 4, 5, 6])
    parser.add_argument("--window", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from sklearn.linear_model import Ridge

    from genomix.datasets.store import open_dataset
    from genomix.training.metrics import regression_metrics

    dataset_path = build(args.out, window=args.window, seed=args.seed)
    start = time.perf_counter()
    with open_dataset(dataset_path) as dataset:
        splits = {name: dataset.split(name) for name in ("train", "valid", "test")}
        labels = {name: np.asarray(split.labels, dtype=np.float64) for name, split in splits.items()}
        elements = {name: sorted(set(split.meta("contig"))) for name, split in splits.items()}
        best = None
        trials = []
        for k in args.k:
            features = {name: delta_profiles(split, k) for name, split in splits.items()}
            for alpha in ALPHAS:
                model = Ridge(alpha=alpha).fit(features["train"], labels["train"])
                valid = regression_metrics(labels["valid"], model.predict(features["valid"]))
                trials.append({"k": k, "alpha": alpha, "valid_pearson": valid["pearson"]})
                if best is None or valid["pearson"] > best[0]:
                    best = (valid["pearson"], k, alpha, model.predict(features["test"]))
    _, k, alpha, test_predictions = best
    result = {"baseline": "ridge on alt-minus-ref k-mer counts", "k": k, "alpha": alpha,
              "test": regression_metrics(labels["test"], test_predictions),
              "split_sizes": {name: len(split) for name, split in splits.items()},
              "elements": elements, "trials": trials, "seconds": round(time.perf_counter() - start, 1)}
    (args.out / "baseline_kmer_ridge.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({key: result[key] for key in ("k", "alpha", "test", "split_sizes", "seconds")}, indent=2))
    return result


if __name__ == "__main__":
    main()
