# Masked-nucleotide pretraining, then fine-tuning with few labels (docs/pretraining.md): pretrain on the shipped
# DNA that no test split uses (E. coli, lambda, the train splits of five mitochondrial taxonomy sets and the
# train split of human_enhancers_cohn, all unlabelled), then fine-tune on 20% of a task's train split beside
# the same model trained from scratch with the same budget and seed, and beside the k-mer baseline on the same 20%.
# Run from the repository root:  .venv/bin/python pipelines/pretrain_recipe.py [--stage all|data|pretrain|sources|finetune|table]
#                                    [--tasks insects,enhancers] [--seeds 0] [--minutes 44] [--out runs/pretrain]
"""The pretraining recipe, end to end, as the genomix commands a user would type.

Stages (each skips what is already done, so rerunning continues):

1. ``data``: ``build-dataset taxonomy`` for every set (``--dedup --split 0.8,0.1,0.1 --seed 0``, the
   splits of docs/quality.md and pipelines/bench_quality.py); each set's *train* split written as FASTA;
   ``build-dataset pretrain`` over those FASTA files plus E. coli and lambda (4,096-bp windows, the
   500-bp enhancer records whole, held out by record); each task's train split subsampled to 20%
   (stratified, seeded), valid and test unchanged.
2. ``pretrain``: ``genomix pretrain`` for at most ``--minutes`` at 1 thread, the human file's share of each
   epoch raised by ``source_weights`` (:data:`SOURCE_WEIGHTS`).
3. ``sources``: the checkpoint's masked accuracy on each source file's valid windows, beside the unigram and
   context predictors fitted on that file's train windows (``by_source.json``; ``--checkpoint`` for another run).
4. ``finetune``: per task and seed, ``baseline kmer``, ``train`` from scratch and ``train --init
   best.pt``, each scored once on test (``final_test=true``); ``--set freeze_backbone_steps=200 --arms
   pretrained`` is the LP-FT arm (its own run folder and table row).
5. ``table``: the markdown tables of docs/pretraining.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
SETS = {"primates": ("taxonomy", "Primates"), "protists": ("taxonomy", "Protists"),
        "cyprinidae": ("taxonomy", "FamilyToGenus_Cyprinidae"), "insects": ("taxonomy", "Insects"),
        "fungi": ("taxonomy", "Fungi"), "enhancers": ("benchmarks", "human_enhancers_cohn")}
"""Labelled sets (folder and name under ``shared/data``) whose train splits, unlabelled, feed the pretraining
corpus: five mitochondrial sets (Plants, 48 Mb of organelles, is left out) and the human enhancers (2.8 Mb of
500-bp human nuclear sequences: the in-domain DNA a user of that task has)."""
FINETUNE_ONLY = {"plants": ("taxonomy", "Plants")}
"""Labelled sets fine-tuned on but kept out of the corpus (Plants: 48 Mb of chloroplast and mitochondrial
genomes would be 60% of it): a task whose train split the backbone never saw."""
GENOMES = ("genomes/NC_008253.fna.gz", "genomes/lambda_virus.fa.gz")
WINDOW = 4096
"""Pretraining windows: the crop ``genomix train`` uses for these genomes (AUTO_CROP), so the backbone's
shape (``max_seq_len`` 4,096: 12 blocks, 13 tracks) is the fine-tuned model's."""
MIN_LEN = 500
"""Shortest record or last window kept in the corpus: the enhancer records (all 500 bp) go in whole, one window
each; the last windows of the genomes down to 500 bp are kept too."""
FRACTION = 0.2
SOURCE_WEIGHTS = {"enhancers.train.fa.gz": 4}
"""Corpus mixing (``source_weights``): the human file, 7.9% of the corpus' training bases, is 25.6% of each epoch's
tokens; chosen by the short check of docs/pretraining.md's fourth round (masked accuracy on the human valid
windows against weights 1 and 8)."""
PRETRAIN = ["epochs=3", "eval_every=500", "num_threads=1", "final_test=true",
            "source_weights={" + ", ".join(f'"{name}" = {weight}' for name, weight in SOURCE_WEIGHTS.items()) + "}"]
"""Pretraining options beyond the defaults: 3 epochs of the weighted corpus (7,380 steps of 16,384 tokens), more
than ``--minutes`` 44 allow at 1 thread on the 2-vCPU machines of docs/pretraining.md, so time is the limit;
an evaluation every 500 steps."""
FINETUNE = ["num_threads=1", "final_test=true", f"train_crop={WINDOW}", f"model.max_seq_len={WINDOW}"]
"""Both arms (scratch and --init): the defaults, with the crop and model length the backbone was built for."""


def genomix(*arguments: str) -> None:
    command = [str(Path(sys.executable).with_name("genomix")), *arguments]
    subprocess.run(command, check=True, cwd=REPO)


def stage_data(out: Path, tasks: list[str]) -> None:
    from genomix.datasets.subset import subsample_split, write_split_fasta

    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    fastas = []
    for key, (folder, name) in {**SETS, **{key: FINETUNE_ONLY[key] for key in tasks if key in FINETUNE_ONLY}}.items():
        dataset = data / f"{key}.h5"
        if not dataset.exists():
            genomix("build-dataset", "taxonomy", "--fasta", str(DATA / folder / f"{name}.fasta.gz"), "--labels",
                    str(DATA / folder / f"{name}.labels.tsv"), "--dedup", "--split", "0.8,0.1,0.1", "--seed", "0",
                    "--out", str(dataset), "-q")
        if key in FINETUNE_ONLY:
            continue
        fasta = data / f"{key}.train.fa.gz"
        if not fasta.exists():
            write_split_fasta(dataset, fasta, split="train")
        fastas.append(str(fasta))
    fastas.sort()  # the corpus' records in file-name order (the split of records depends on it)
    corpus = data / "corpus.h5"
    if not corpus.exists():
        genomix("build-dataset", "pretrain", "--fasta", *(str(DATA / g) for g in GENOMES), *fastas,
                "--window", str(WINDOW), "--min-len", str(MIN_LEN), "--split", "0.9,0.05,0.05", "--seed", "0",
                "--out", str(corpus), "-q")
    for key in tasks:
        few = data / f"{key}.train{int(FRACTION * 100)}.h5"
        if not few.exists():
            print(key, subsample_split(data / f"{key}.h5", few, fraction=FRACTION, seed=0), flush=True)


def stage_pretrain(out: Path, minutes: float) -> None:
    run = out / "pretrain"
    if (run / "test_metrics.json").exists():
        return
    started = time.time()
    genomix("pretrain", str(out / "data" / "corpus.h5"), "--out", str(run), f"max_minutes={minutes:g}", *PRETRAIN, "-q")
    (run / "wall.json").write_text(json.dumps({"seconds": time.time() - started}))


def stage_sources(out: Path, checkpoint: Path | None = None) -> dict:
    """Masked accuracy of a pretrained checkpoint on each source file's valid windows, beside the unigram
    and context predictors fitted on that file's train windows only (``by_source.json`` beside it)."""
    from genomix.checkpoint import load_model
    from genomix.datasets.store import open_dataset
    from genomix.training.loop import masking_plan
    from genomix.training.config import from_dict
    from genomix.training.pretrain_sources import evaluate_by_source

    checkpoint = checkpoint or out / "pretrain" / "best.pt"
    written = checkpoint.parent / "by_source.json"
    if written.exists():
        return json.loads(written.read_text())
    import torch

    torch.set_num_threads(1)
    model, info = load_model(checkpoint)
    config = from_dict(info["config"])
    scores = evaluate_by_source(model, open_dataset(out / "data" / "corpus.h5"), plan=masking_plan(config),
                                seed=config.seed, precision=config.precision)
    written.write_text(json.dumps(scores, indent=1))
    return scores


def sources_table(scores: dict) -> str:
    lines = ["| valid windows of | windows | masked bases | ChordMixer masked accuracy | unigram | context (k) |",
             "|---|---|---|---|---|---|"]
    for name, m in scores.items():
        lines.append(f"| {name} | {m['windows']:,} | {m['n_masked']:,} | {m['masked_accuracy']:.4f} | "
                     f"{m['unigram_accuracy']:.4f} | {m['context_accuracy']:.4f} ({m['context_k']}) |")
    return "\n".join(lines)


VARIANTS = {"": [], "_nofolds": ["profile_folds=0"], "_network": ["model.kmer_profile=off"]}
"""Fine-tuning comparisons: ``""`` the default classification model; ``_nofolds`` the profile head fitted on all of
train (the default before main bb0ebc9: measured with that code); ``_network`` the network alone (no k-mer
profile head), where what the backbone learned is all the model has."""


def stage_finetune(out: Path, tasks: list[str], seeds: list[int], extra: list[str], arms: list[str],
                   variant: str = "") -> None:
    checkpoint = out / "pretrain" / "best.pt"
    for key in tasks:
        few = out / "data" / f"{key}.train{int(FRACTION * 100)}.h5"
        folder = out / key
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / "baseline_kmer4.json").exists():
            genomix("baseline", "kmer", str(few), "-k", "4", "--out", str(folder / "baseline_kmer4.json"), "-q")
        for seed in seeds:
            for arm, options in (("scratch", []), ("pretrained", ["--init", str(checkpoint)])):
                run = folder / f"{arm}{variant}{tag(extra)}_seed{seed}"
                if arm not in arms or (run / "test_metrics.json").exists():
                    continue
                started = time.time()
                genomix("train", str(few), "--out", str(run), f"seed={seed}", *FINETUNE, *VARIANTS[variant], *extra,
                        *options, "-q")
                (run / "wall.json").write_text(json.dumps({"seconds": time.time() - started}))


def tag(extra: list[str]) -> str:
    """The run-folder suffix of an arm with extra options (``--set``): its own row, never a plain arm's folder."""
    return "".join(f"_{option}" for option in extra)


def stage_table(out: Path, tasks: list[str], seeds: list[int]) -> str:
    lines = [f"machine: {machine()}"]
    pre = out / "pretrain"
    if (pre / "metrics.jsonl").exists():
        history = [json.loads(line) for line in (pre / "metrics.jsonl").read_text().splitlines() if line.strip()]
        best = max(history, key=lambda r: r["valid"]["masked_accuracy"] or 0)
        wall = json.loads((pre / "wall.json").read_text())["seconds"] / 60 if (pre / "wall.json").exists() else None
        lines += ["", "| split | step | ChordMixer masked accuracy | perplexity | unigram accuracy | unigram perplexity | "
                  "context accuracy (k) | context perplexity |", "|---|---|---|---|---|---|---|---|"]
        rows = [("valid", best["step"], best["valid"])]
        if (pre / "test_metrics.json").exists():
            rows.append(("test", best["step"], json.loads((pre / "test_metrics.json").read_text())["metrics"]))
        for split, step, m in rows:
            lines.append(f"| {split} | {step} | {m['masked_accuracy']:.4f} | {m['perplexity']:.3f} | "
                         f"{m['unigram_accuracy']:.4f} | {m['unigram_perplexity']:.3f} | {m['context_accuracy']:.4f} "
                         f"({m['context_k']}) | {m['context_perplexity']:.3f} |")
        if wall is not None:
            lines.append(f"\npretraining wall time {wall:.1f} min, {history[-1]['step']} steps")
    lines += ["", "| task | model | seed | n test | arm | steps | best.pt step | test accuracy | test ROC AUC | train min |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for key in tasks:
        folder = out / key
        baseline = folder / "baseline_kmer4.json"
        if baseline.exists():
            test = json.loads(baseline.read_text())["test"]
            lines.append(f"| {key} | 4-mer logistic regression | - | {test.get('n')} | baseline (20% train) | - | - | "
                         f"{test['accuracy']:.4f} | {test['roc_auc']:.4f} | - |")
        for variant, model in (("", "default"), ("_nofolds", "profile head fitted in-sample (profile_folds=0)"),
                               ("_network", "network alone (kmer_profile=off)")):
            for seed in seeds:
                for arm in ("scratch", "pretrained"):
                    plain = folder / f"{arm}{variant}_seed{seed}"
                    tagged = sorted(run for run in folder.glob(f"{arm}{variant}_*=*_seed{seed}")  # arms with --set
                                    if not any(run.name.startswith(f"{arm}{other}_") for other in VARIANTS if other != variant
                                               and other.startswith(variant) and other))
                    for run in [plain, *tagged]:
                        if not (run / "test_metrics.json").exists():
                            continue
                        options = run.name[len(f"{arm}{variant}_"):-len(f"_seed{seed}")]
                        label = f"{arm}, {options}" if run != plain else arm
                        metrics = json.loads((run / "test_metrics.json").read_text())["metrics"]
                        steps = json.loads((run / "config.json").read_text())["total_steps"]
                        wall = (f"{json.loads((run / 'wall.json').read_text())['seconds'] / 60:.1f}"
                                if (run / "wall.json").exists() else "-")  # "-": a reused run timed elsewhere
                        lines.append(f"| {key} | {model} | {seed} | {metrics.get('n')} | {label} | {steps} | "
                                     f"{best_step(run)} | {metrics['accuracy']:.4f} | {metrics['roc_auc']:.4f} | {wall} |")
    return "\n".join(lines)


def best_step(run: Path) -> int | None:
    """The step of the run's best.pt: its last evaluation marked best."""
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return max((r["step"] for r in history if r.get("best")), default=None)


def machine() -> str:
    import torch

    from genomix.precision import cpu_model

    return f"{cpu_model()}, torch {torch.__version__}, 1 thread per run"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=("all", "data", "pretrain", "sources", "finetune", "table"), default="all")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="the pretrained checkpoint of --stage sources (default OUT/pretrain/best.pt)")
    parser.add_argument("--tasks", default="insects,enhancers",
                        help=f"comma-separated, of {', '.join([*SETS, *FINETUNE_ONLY])}")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds of the fine-tuning runs")
    parser.add_argument("--minutes", type=float, default=44.0, help="pretraining time limit")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="extra options for both fine-tuning arms (e.g. backbone_lr_scale=0.5)")
    parser.add_argument("--arms", default="scratch,pretrained", help="which fine-tuning arms to run")
    parser.add_argument("--variant", choices=tuple(VARIANTS), default="",
                        help="'' (the default model) or _network (no k-mer profile head)")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "pretrain")
    args = parser.parse_args()
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    unknown = [t for t in tasks if t not in SETS and t not in FINETUNE_ONLY]
    if unknown:
        parser.error(f"unknown task(s) {', '.join(unknown)}; known: {', '.join([*SETS, *FINETUNE_ONLY])}")
    if not DATA.is_dir():
        parser.error(f"the shared data folder {DATA} is missing")
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.stage in ("all", "data"):
        stage_data(args.out, tasks)
    if args.stage in ("all", "pretrain"):
        stage_pretrain(args.out, args.minutes)
    if args.stage in ("all", "sources"):
        print(sources_table(stage_sources(args.out, args.checkpoint)))
    if args.stage in ("all", "finetune"):
        stage_finetune(args.out, tasks, seeds, args.set, [a.strip() for a in args.arms.split(",")], args.variant)
    if args.stage in ("all", "table"):
        print(stage_table(args.out, tasks, seeds))


if __name__ == "__main__":
    main()
