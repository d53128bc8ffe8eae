# The quality suite of docs/quality.md: for each real shipped task, build the dataset, fit the k-mer
# baseline, train ChordMixer with `genomix train` defaults (only the task's facts overridden), score test
# once, and print one table of ChordMixer beside the baseline, with metrics by length quintile; plus one
# generated task (order: pipelines/order_task.py) where only the order of two motifs tells the classes apart.
# Run from the repository root:  .venv/bin/python pipelines/bench_quality.py [--tasks insects,enhancers]
#                                    [--minutes 30] [--out runs/quality]
"""Model quality against the k-mer baseline of the same run, on real shipped tasks, end to end.

Every step is the genomix command a user would type (``build-dataset``, ``baseline kmer``, ``train``,
``evaluate``), so the table measures the tool as shipped. Training uses the defaults plus a time
limit (``max_minutes``), the only override every task gets; ``--set KEY=VALUE`` adds overrides for
an experiment. A finished step is not rerun: rerunning the script reuses datasets, baselines and
finished runs (delete ``OUT/TASK`` to redo a task).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"


def _taxonomy(name: str, folder: str = "taxonomy") -> list[str]:
    return ["taxonomy", "--fasta", str(DATA / folder / f"{name}.fasta.gz"), "--labels",
            str(DATA / folder / f"{name}.labels.tsv"), "--dedup", "--split", "0.8,0.1,0.1", "--seed", "0"]


def _order_task(folder: Path) -> list[str]:
    """Writes the order-only task (pipelines/order_task.py: 20,000 sequences of 500 bp, class = which of two
    planted motifs comes first) into ``folder``; returns its ``build-dataset`` arguments."""
    subprocess.run([sys.executable, str(REPO / "pipelines" / "order_task.py"), "--n", "20000", "--out", str(folder)],
                   check=True, cwd=REPO)
    return ["taxonomy", "--fasta", str(folder / "order.fasta.gz"), "--labels", str(folder / "order.labels.tsv"),
            "--split", "0.8,0.1,0.1", "--seed", "0"]


TASKS: dict[str, dict] = {
    "insects": {"build": _taxonomy("Insects"), "k": 4},
    "fungi": {"build": _taxonomy("Fungi"), "k": 4},
    "protists": {"build": _taxonomy("Protists"), "k": 4},
    "cyprinidae": {"build": _taxonomy("FamilyToGenus_Cyprinidae"), "k": 4},
    "primates": {"build": _taxonomy("Primates"), "k": 4},
    "plants": {"build": _taxonomy("Plants"), "k": 4},
    "enhancers": {"build": _taxonomy("human_enhancers_cohn", "benchmarks"), "k": 4},
    "austen": {"build": ["text", "--tsv", str(DATA / "text" / "austen_chapters.tsv.gz"), "--text-column", "text",
                         "--label-column", "novel", "--split", "0.7,0.15,0.15", "--seed", "0"], "k": 3},
    "mpra": {"build": None, "k": None},  # built by pipelines/mpra_baseline.py (ridge on alt - ref k-mers)
    "order": {"build": _order_task, "k": 4},  # generated: only order tells the classes apart
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(TASKS), help="comma-separated tasks (default: all)")
    parser.add_argument("--minutes", type=float, default=30.0, help="training time limit per task")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "quality")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a training override for every task (repeatable)")
    args = parser.parse_args()
    names = [name.strip() for name in args.tasks.split(",") if name.strip()]
    unknown = [name for name in names if name not in TASKS]
    if unknown:
        parser.error(f"unknown task(s) {', '.join(unknown)}; known: {', '.join(TASKS)}")
    if not DATA.is_dir():
        parser.error(f"the shared data folder {DATA} is missing")
    rows = []
    for name in names:
        started = time.time()
        row = run_task(name, args.out / name, minutes=args.minutes, overrides=args.set)
        row["wall_minutes"] = round((time.time() - started) / 60, 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    report = {"machine": machine(), "minutes": args.minutes, "overrides": args.set, "tasks": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "quality.json").write_text(json.dumps(report, indent=2))
    print(table(report))


def genomix(*arguments: str) -> None:
    command = [str(Path(sys.executable).with_name("genomix")), *arguments]
    if not Path(command[0]).exists():
        command = [sys.executable, "-m", "genomix.cli", *arguments]
    subprocess.run(command, check=True, cwd=REPO)


def run_task(name: str, folder: Path, *, minutes: float, overrides: list[str]) -> dict:
    task = TASKS[name]
    folder.mkdir(parents=True, exist_ok=True)
    dataset = folder / "dataset.h5"
    if name == "mpra":
        return run_mpra(folder, minutes=minutes, overrides=overrides)
    if not dataset.exists():
        build = task["build"](folder) if callable(task["build"]) else task["build"]
        genomix("build-dataset", *build, "--out", str(dataset), "-q")
    baseline_file = folder / f"baseline_kmer{task['k']}.json"
    if not baseline_file.exists():
        genomix("baseline", "kmer", str(dataset), "-k", str(task["k"]), "--out", str(baseline_file), "-q")
    run = train_and_evaluate(dataset, folder / "run", minutes=minutes, overrides=overrides)
    baseline = json.loads(baseline_file.read_text())
    return summarise(name, run, baseline["test"], baseline_name=f"{task['k']}-mer logistic regression")


def run_mpra(folder: Path, *, minutes: float, overrides: list[str]) -> dict:
    baseline_file = folder / "baseline_kmer_ridge.json"
    if not baseline_file.exists():
        subprocess.run([sys.executable, str(REPO / "pipelines" / "mpra_baseline.py"), "--out", str(folder)],
                       check=True, cwd=REPO)
    run = train_and_evaluate(folder / "dataset.h5", folder / "run", minutes=minutes, overrides=overrides)
    baseline = json.loads(baseline_file.read_text())
    return summarise("mpra", run, baseline["test"], baseline_name="k-mer ridge (alt - ref)")


def train_and_evaluate(dataset: Path, run: Path, *, minutes: float, overrides: list[str]) -> dict:
    if not (run / "best.pt").exists() or not (run / "train_summary.json").exists():
        if run.exists():
            shutil.rmtree(run)
        started = time.time()
        genomix("train", str(dataset), "--out", str(run), f"max_minutes={minutes:g}", *overrides, "-q")
        (run / "train_summary.json").write_text(json.dumps({"seconds": time.time() - started}))
    evaluation = run / "evaluation_test.json"
    if not evaluation.exists():
        genomix("evaluate", str(run / "best.pt"), str(dataset), "--split", "test", "-q")
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    planned = json.loads((run / "config.json").read_text())
    return {"evaluation": json.loads(evaluation.read_text()),
            "train_seconds": json.loads((run / "train_summary.json").read_text())["seconds"],
            "steps": max((record.get("step", 0) for record in history), default=0),
            "planned_steps": planned["total_steps"], "max_tokens": planned["config"]["max_tokens"]}


def summarise(name: str, run: dict, baseline: dict, *, baseline_name: str) -> dict:
    metrics = run["evaluation"]["metrics"]
    keys = ("accuracy", "balanced_accuracy", "roc_auc") if "accuracy" in metrics else ("spearman", "pearson")
    by_quintile = [{"bin": part["bin"], "n": part.get("n"), **{key: part.get(key) for key in keys}}
                   for part in run["evaluation"].get("by_length_quintile", [])]
    return {"task": name, "baseline": baseline_name,
            "chordmixer": {key: metrics.get(key) for key in keys},
            "kmer": {key: baseline.get(key) for key in keys},
            "difference": {key: _difference(metrics.get(key), baseline.get(key)) for key in keys},
            "n_test": metrics.get("n"), "train_minutes": round(run["train_seconds"] / 60, 1),
            "steps": run["steps"], "planned_steps": run["planned_steps"],
            "tokens_per_s": round(run["steps"] * run["max_tokens"] / max(run["train_seconds"], 1e-9)),
            "by_quintile": by_quintile}


def _difference(a, b):
    return None if a is None or b is None else round(a - b, 4)


def machine() -> str:
    import torch

    from genomix.precision import cpu_model

    return f"{cpu_model()}, {torch.get_num_threads()} threads, torch {torch.__version__}"


def table(report: dict) -> str:
    def cell(values: dict, key: str) -> str:
        value = values.get(key)
        return "-" if value is None else f"{value:.3f}"

    lines = [f"machine: {report['machine']}; training limit {report['minutes']:g} min per task",
             "| task | n test | ChordMixer | k-mer baseline | difference | quintiles (shortest .. longest) | "
             "train min | steps (planned) | tokens/s (at most) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in report["tasks"]:
        keys = list(row["chordmixer"])
        show = lambda values: ", ".join(f"{key} {cell(values, key)}" for key in keys)  # noqa: E731
        first = keys[0]
        quintiles = " / ".join(cell(part, first) for part in row["by_quintile"])
        speed = row["tokens_per_s"]
        lines.append(f"| {row['task']} | {row['n_test']} | {show(row['chordmixer'])} | {show(row['kmer'])} | "
                     f"{show(row['difference'])} | {first}: {quintiles} | {row['train_minutes']} | {row['steps']} ({row['planned_steps']}) | "
                     f"{'-' if speed is None else f'{speed / 1000:.0f}k'} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
