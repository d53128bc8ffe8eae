#!/usr/bin/env bash
# Run a variant-effect recipe end to end: build the dataset, the k-mer ridge baseline, train the ref/alt
# ChordMixer, evaluate it on test.
#   bash pipelines/variant_recipe.sh pipelines/mpra.toml [KEY=VALUE ...]
# Everything lands in runs/<recipe>/ (dataset.h5, baseline_kmer_ridge.json, run/, run/evaluation_test.json).
# Running it again reuses the dataset and resumes a stopped run.
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=$1; shift
NAME=$(basename "$CONFIG" .toml)
OUT=runs/$NAME
DATA=${GENOMIX_DATA:-../shared/data}/variants
GENOMIX=${GENOMIX:-.venv/bin/genomix}
PYTHON=${PYTHON:-.venv/bin/python}
mkdir -p "$OUT"
case "$NAME" in
    mpra)
        if [ ! -f "$OUT/dataset.h5" ]; then
            cp "$DATA/mpra_kircher2019/element_reference_GRCh38_from_Ref_alleles.fasta" "$OUT/elements.fasta"
            "$GENOMIX" build-dataset variant-effect --reference "$OUT/elements.fasta" \
                --vcf "$DATA/mpra_kircher2019/kircher2019_satmut_GRCh38.vcf.gz" --window 1024 \
                --label INFO/COEF --element-field ELEMENT --weight INFO/BARCODES \
                --group-by INFO/ELEMENT --group-by window \
                --seed 0 --out "$OUT/dataset.h5" -q
        fi
        "$PYTHON" pipelines/mpra_baseline.py --out "$OUT" ;;
    *) echo "unknown recipe $NAME (mpra)" >&2; exit 2 ;;
esac
if [ -f "$OUT/run/last.pt" ]; then
    "$GENOMIX" train "$OUT/dataset.h5" --resume "$OUT/run" -q
else
    "$GENOMIX" train "$OUT/dataset.h5" --out "$OUT/run" --config "$CONFIG" -q "$@"
fi
"$GENOMIX" evaluate "$OUT/run/best.pt" "$OUT/dataset.h5" --split test -q
