"""InfoGAN vs a GAN without MI reward on procedural shapes, several seeds: ``python benchmarks/shapes_disentanglement.py``.

Both methods train ``recipes/infogan_shapes.toml`` unchanged but for two keys: ``vanilla`` sets
``model.method = "vanilla"`` and ``regularizers[0].generator_reward = false``, so it has the same
networks, latent codes and Q head, and Q is trained to read the codes off generated images, but the
generator gets no reward for making them readable (the InfoGAN paper's Figure-1 baseline). Each run
is timed (wall clock, and CPU time, which does not depend on what else the machine runs) and evaluated
with the registered ground-truth metrics (Q's codes on the real images): shape accuracy of the
categorical code (Hungarian), MIG, FactorVAE score, each code's most informative factor, and the
generator's side: whether each category of c1 *draws* one shape (the evaluator classifier's shape of
G's samples, Hungarian-matched to c1: "G shape accuracy") and, whatever the codes, whether G draws every
shape at all (the share of its samples the evaluator calls its least drawn shape, and the worst shape's
domain FID to that shape's real images: metric ``class_coverage``). Prints
markdown tables: median (min–max) over seeds per method, then every run.

``--jobs N`` trains N runs at once (each child should then get one thread: ``OMP_NUM_THREADS=1``). Two
processes can also share the work, e.g. ``--methods infogan`` and ``--methods vanilla`` side by side; a last
call without ``--methods`` reuses both and prints the table. The last line counts the seeds on which the
categorical code found the shape (shape accuracy ≥ 0.9, issue 17's bar) and on which the continuous codes'
top factors are all distinct (and on how many one of them is the scale): how often the recipe works, which a
median over a few seeds hides.

Finished runs under ``--out`` are reused (``--fresh`` retrains), and so are their saved evaluations,
so an interrupted benchmark resumes. Flags after ``--`` go to ``ganforge run`` as is, e.g.
``-- --set train.steps=500``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ganforge.reporting import logkeys

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "infogan_shapes.toml"
METHODS: dict[str, list[str]] = {
    "infogan": [],
    "vanilla": ["model.method=vanilla", "regularizers[0].generator_reward=false"],
}
METRICS = ["code_accuracy", "mutual_information", "factor_codes", "mig", "factor_vae", "generated_code_accuracy",
           "class_coverage"]
DONE, EVAL = "finished.json", "eval.json"
SHAPE_FOUND = 0.9  # shape accuracy from which a run counts as having found the shape (issue 17's median target)


def train(method: str, seed: int, out: Path, extra: list[str], fresh: bool, recipe: Path = RECIPE,
          sets: list[str] | None = None) -> Path:
    """Train one (method, seed) of ``recipe`` into ``out/method/seed-N`` unless it already finished there
    (``sets``: the method's ``--set`` overrides, by default those of :data:`METHODS`)."""
    run_dir = out / method / f"seed-{seed}"
    if (run_dir / DONE).exists() and not fresh:
        return run_dir
    shutil.rmtree(run_dir, ignore_errors=True)
    parent = out / method / f"_training-{seed}"  # one per run, so runs of one method can train side by side
    shutil.rmtree(parent, ignore_errors=True)
    overrides = METHODS[method] if sets is None else sets
    args = [a for o in [*overrides, f"run.seed={seed}"] for a in ("--set", o)]
    cmd = [sys.executable, "-m", "ganforge", "run", str(recipe), *args, "--out", str(parent), "--no-progress", *extra]
    print("$", " ".join(cmd), flush=True)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    stdout = proc.stdout.read()
    proc.stdout.close()
    # reaped here, not by Popen, for that child's own user + system CPU seconds: the training cost, whatever
    # else runs beside it (RUSAGE_CHILDREN would mix in the runs of other jobs)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall, cpu = time.perf_counter() - start, usage.ru_utime + usage.ru_stime
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, cmd)
    made = Path(next(line for line in stdout.splitlines() if line.startswith("run directory: "))
                .removeprefix("run directory: "))
    made.rename(run_dir)
    parent.rmdir()
    (run_dir / DONE).write_text(json.dumps({"wall_s": wall, "cpu_s": cpu, "command": cmd}))
    return run_dir


def evaluate_run(run_dir: Path, fresh: bool, metrics: list[str] | None = None) -> dict[str, Any]:
    """The registered ``metrics`` (default :data:`METRICS`) of one run's newest checkpoint (saved next to it,
    reused unless ``fresh``)."""
    metrics = METRICS if metrics is None else metrics
    saved = run_dir / EVAL
    if saved.exists() and not fresh:
        got = json.loads(saved.read_text())
        if set(metrics) <= set(got["results"]):  # an evaluation saved before a metric was added is redone
            return got
    from ganforge.evaluation.run import evaluate
    from ganforge.registry import load_registry

    results = evaluate(run_dir, load_registry(), device="cpu", only=metrics).to_json()
    results["timing"] = json.loads((run_dir / DONE).read_text())
    saved.write_text(json.dumps(results, indent=1, default=str))
    return results


def last_logged(run_dir: str, phase: str, term: str) -> float:
    """``term`` of ``phase`` in the last row of the run's metrics.jsonl that has it (any run's key format)."""
    rows = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]
    key = logkeys.find({k for row in rows for k in row}, phase, term)
    return next(row[key] for row in reversed(rows) if key in row)


def details(r: dict[str, Any], metric: str) -> dict[str, Any]:
    """The details of ``metric`` in a saved evaluation (``Evaluation.to_json()``)."""
    return r["results"][metric]["details"]


def numbers(r: dict[str, Any]) -> dict[str, float]:
    """The summary columns of one run. L_I is the training log's (last 100 steps, train-mode Q), as the
    InfoGAN paper's Figure 1; ``eval.json`` also holds eval's own estimate, made with Q in eval mode."""
    return {
        "shape accuracy": details(r, "factor_codes")["codes"]["c1"]["accuracy"]["shape"],
        "G shape accuracy": details(r, "generated_code_accuracy")["c1"]["accuracy"],
        # the least shape-like of G's categories: its domain FID to the real shape it is matched to
        "G worst category FID": max(details(r, "generated_code_accuracy")["c1"].get("category_fid", {}).values(),
                                    default=float("nan")),
        # whatever the codes: does G draw every shape (its least drawn shape's share, 0.33 in the data), and how
        # like a real one is its least real-looking shape (domain FID to that shape's real images; floor ~1.7)
        "G smallest shape share": min(details(r, "class_coverage")["generated_share"]),
        "G worst shape FID": max(details(r, "class_coverage")["class_fid"].values(), default=float("nan")),
        "MIG": details(r, "mig")["mig"],
        "FactorVAE": details(r, "factor_vae")["score"],
        "L_I total, training (nats)": last_logged(r["run"], "generator", "L_I"),
        "train wall min": r["timing"]["wall_s"] / 60,
        "train CPU min": r["timing"]["cpu_s"] / 60,
    }


def spread(values: list[float]) -> str:
    """``median (min–max)``, or the value alone for one run."""
    med = f"{statistics.median(values):.3f}"
    return med if len(values) == 1 else f"{med} ({min(values):.3f}–{max(values):.3f})"


def continuous_tops(r: dict[str, Any]) -> list[str]:
    """Each continuous code's most informative factor (the categorical codes, which carry an accuracy, left out)."""
    codes = details(r, "factor_codes")["codes"]
    return [row["factor"] for row in codes.values() if "accuracy" not in row]


def continuous_distinct(r: dict[str, Any]) -> bool:
    """Whether every continuous code's most informative factor is a different one (issue 17's criterion)."""
    tops = continuous_tops(r)
    return len(tops) == len(set(tops))


def scale_kept(r: dict[str, Any]) -> bool:
    """Whether some continuous code has the scale as its most informative factor: the levers that take the size
    away from the categorical code can leave it to no code at all (docs/results.md, "Shapes")."""
    return "scale" in continuous_tops(r)


def code_cell(row: dict[str, Any]) -> str:
    return f"{row['factor']} {row['normalized_mi']:.2f}"


def sweep_parser(doc: str | None, seeds: list[int], out: Path) -> argparse.ArgumentParser:
    """The flags every seed-sweep benchmark takes: --seeds, --out, --fresh, --jobs (and ``--`` for ganforge run)."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=seeds)
    parser.add_argument("--out", type=Path, default=out)
    parser.add_argument("--fresh", action="store_true", help="retrain and re-evaluate runs that already finished")
    parser.add_argument("--jobs", type=int, default=1, help="runs trained (and evaluated) at once")
    return parser


def parse_sweep(parser: argparse.ArgumentParser) -> tuple[argparse.Namespace, list[str]]:
    """The parsed flags and the rest, which go to ``ganforge run`` as is."""
    args, extra = parser.parse_known_args()
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    return args, [a for a in extra if a != "--"]


def main() -> None:
    parser = sweep_parser(__doc__, [0, 1, 2], Path("bench-runs/shapes"))
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    args, extra = parse_sweep(parser)

    def one(seed: int, method: str) -> dict[str, Any]:
        r = evaluate_run(train(method, seed, args.out, extra, args.fresh), args.fresh)
        print(f"{method} seed {seed}: " + "  ".join(f"{k} {v:.3f}" for k, v in numbers(r).items()), flush=True)
        return r

    # seeds outermost: an interrupted benchmark still has both methods per seed
    pairs = [(seed, method) for seed in args.seeds for method in args.methods]
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:  # the work is in child processes
        done = list(pool.map(lambda p: one(*p), pairs))
    results: dict[str, list[tuple[int, dict[str, Any]]]] = {m: [] for m in args.methods}
    for (seed, method), r in zip(pairs, done, strict=True):
        results[method].append((seed, r))

    columns = list(numbers(results[args.methods[0]][0][1]))
    print(f"\n| method | seeds | {' | '.join(columns)} |")
    print("|---|---|" + "---|" * len(columns))
    for method, runs in results.items():
        cells = [spread([numbers(r)[c] for _, r in runs]) for c in columns]
        print(f"| {method} | {len(runs)} | {' | '.join(cells)} |")

    codes = list(details(results[args.methods[0]][0][1], "factor_codes")["codes"])
    print("\nEach code's most informative factor and I(code; factor) / H(factor), per run:\n")
    print(f"| method | seed | MIG | FactorVAE | shape acc. | G shape acc. | {' | '.join(codes)} |")
    print("|---|---|---|---|---|---|" + "---|" * len(codes))
    for method, runs in results.items():
        for seed, r in runs:
            n = numbers(r)
            cells = [code_cell(details(r, "factor_codes")["codes"][c]) for c in codes]
            print(f"| {method} | {seed} | {n['MIG']:.3f} | {n['FactorVAE']:.3f} | {n['shape accuracy']:.3f} | "
                  f"{n['G shape accuracy']:.3f} | "
                  f"{' | '.join(cells)} |")

    print()
    for method, runs in results.items():
        found = sum(numbers(r)["shape accuracy"] >= SHAPE_FOUND for _, r in runs)
        distinct = sum(continuous_distinct(r) for _, r in runs)
        scale = sum(scale_kept(r) for _, r in runs)
        print(f"{method}: the categorical code found the shape (shape accuracy ≥ {SHAPE_FOUND}) on {found} of "
              f"{len(runs)} seeds; the continuous codes' top factors all distinct on {distinct} of {len(runs)}; "
              f"the scale some continuous code's top factor on {scale} of {len(runs)}")


if __name__ == "__main__":
    main()
