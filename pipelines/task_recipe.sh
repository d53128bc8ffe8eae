#!/usr/bin/env bash
# Run a generic-task recipe end to end: generate the dataset, train, evaluate on test (and the
# baseline where one exists).
#   bash pipelines/task_recipe.sh pipelines/{adding_200,listops,austen}.toml [KEY=VALUE ...]
# Everything lands in runs/<recipe>/ (dataset.h5, run/, evaluation). Extra KEY=VALUE pairs override
# the config. Running it again reuses the dataset and resumes a stopped run.
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=$1; shift
NAME=$(basename "$CONFIG" .toml)
OUT=runs/$NAME
DATA=${GENOMIX_DATA:-../shared/data}
GENOMIX=${GENOMIX:-.venv/bin/genomix}
mkdir -p "$OUT"
if [ ! -f "$OUT/dataset.h5" ]; then
    case "$NAME" in
        adding_200) "$GENOMIX" build-dataset adding --base-length 200 --n-train 50000 --n-valid 5000 \
                        --n-test 5000 --seed 0 --out "$OUT/dataset.h5" ;;
        listops)    "$GENOMIX" build-dataset listops --n-train 20000 --n-valid 2000 --n-test 2000 \
                        --seed 0 --out "$OUT/dataset.h5" ;;
        austen)     "$GENOMIX" build-dataset text --tsv "$DATA/text/austen_chapters.tsv.gz" \
                        --text-column text --label-column novel --split 0.7,0.15,0.15 --seed 0 \
                        --out "$OUT/dataset.h5" ;;
        *) echo "unknown recipe $NAME (adding_200, listops, austen)" >&2; exit 2 ;;
    esac
fi
case "$NAME" in
    listops|austen) "$GENOMIX" baseline kmer "$OUT/dataset.h5" -k 3 --out "$OUT/baseline_kmer3.json" ;;
esac
if [ -f "$OUT/run/last.pt" ]; then
    "$GENOMIX" train "$OUT/dataset.h5" --resume "$OUT/run"
else
    "$GENOMIX" train "$OUT/dataset.h5" --out "$OUT/run" --config "$CONFIG" "$@"
fi
"$GENOMIX" evaluate "$OUT/run/best.pt" "$OUT/dataset.h5" --split test
