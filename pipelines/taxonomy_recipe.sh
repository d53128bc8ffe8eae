#!/usr/bin/env bash
# Run a taxonomy recipe end to end: build the dataset, train, evaluate on test, k-mer baseline.
#   bash pipelines/taxonomy_recipe.sh SET CONFIG.toml [KEY=VALUE ...]
#   e.g. bash pipelines/taxonomy_recipe.sh Insects pipelines/insects_orders.toml
# SET is a file set of ../shared/data/taxonomy (<SET>.fasta.gz + <SET>.labels.tsv). Everything lands in
# runs/<config name>/ (dataset.h5, run/, baseline_kmer4.json). Extra KEY=VALUE pairs override the config.
set -euo pipefail
cd "$(dirname "$0")/.."
SET=$1; CONFIG=$2; shift 2
DATA=${GENOMIX_DATA:-../shared/data}/taxonomy
NAME=$(basename "$CONFIG" .toml)
OUT=runs/$NAME
GENOMIX=${GENOMIX:-.venv/bin/genomix}
mkdir -p "$OUT"
[ -f "$OUT/dataset.h5" ] || "$GENOMIX" build-dataset taxonomy --fasta "$DATA/$SET.fasta.gz" \
    --labels "$DATA/$SET.labels.tsv" --dedup --split 0.8,0.1,0.1 --seed 0 --out "$OUT/dataset.h5"
"$GENOMIX" baseline kmer "$OUT/dataset.h5" -k 4 --out "$OUT/baseline_kmer4.json"
if [ -f "$OUT/run/last.pt" ]; then
    "$GENOMIX" train "$OUT/dataset.h5" --resume "$OUT/run"        # continue a stopped run exactly
else
    "$GENOMIX" train "$OUT/dataset.h5" --out "$OUT/run" --config "$CONFIG" "$@"
fi
"$GENOMIX" evaluate "$OUT/run/best.pt" "$OUT/dataset.h5" --split test
