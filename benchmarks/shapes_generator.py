"""Can this generator and critic draw the shapes at all? A plain GAN on the shapes: ``python benchmarks/shapes_generator.py``.

InfoGAN's categorical code can only mean the shape if G can draw squares, ellipses and hearts in the first
place. This benchmark asks that without any code being rewarded: it takes a recipe (by default
``recipes/infogan_shapes.toml``), keeps its data, latent, networks, objective and optimisers, drops every
regularizer and sets ``model.method = "vanilla"``, so G learns only to fool the critic. Each seed trains
to the largest of ``--steps``, keeping a checkpoint at each listed step, and each is evaluated with the
``class_coverage`` and ``domain_fid`` metrics: the share of G's samples the evaluator classifier calls each
shape (the data hold a third of each), the KL of those shares to the real ones, each shape's domain FID to
its real images (two halves of one shape's real images: about 1.7) and the domain FID of all samples.
Prints one markdown row per (seed, step) and, for several seeds, the median per step.

``--generator KIND`` / ``--critic KIND`` replace a network by that kind with its defaults (set its keys with
``--set generator.width=32`` etc.); ``--r1 GAMMA`` adds the core R1 penalty. A finished run under ``--out``
is reused when it was trained from the same recipe and command (``--fresh`` retrains); ``--jobs N`` trains N
seeds at once (give each one thread: ``OMP_NUM_THREADS=1``).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import math
import shutil
import statistics
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "infogan_shapes.toml"
METRICS = ["class_coverage", "domain_fid"]
DONE = "finished.json"


def plain_recipe(recipe: dict[str, Any], generator: str | None, critic: str | None, r1: float | None) -> dict[str, Any]:
    """``recipe`` without its regularizers and method ``vanilla``; networks swapped and R1 added if asked."""
    out = {k: v for k, v in recipe.items() if k != "regularizers"}
    run = recipe.get("run", {})
    out["run"] = {**run, "name": f"{run.get('name', 'shapes')}-plain"}
    out["model"] = {**recipe.get("model", {}), "method": "vanilla"}
    if generator:
        out["generator"] = {"kind": generator}
    if critic:
        out["critic"] = {"kind": critic}
    if r1 is not None:
        out["regularizers"] = [{"kind": "r1", "gamma": r1}]
    return out


def train(recipe: Path, seed: int, steps: list[int], out: Path, extra: list[str], fresh: bool) -> Path:
    """Train one seed into ``out/seed-N`` with a checkpoint at every step of ``steps``, unless a run of the same
    recipe and command finished there (another ``--generator``, ``--steps`` or ``--set`` into the same ``--out``
    retrains rather than reading back a different GAN)."""
    run_dir = out / f"seed-{seed}"
    parent = out / f"_training-{seed}"
    every = math.gcd(*steps)  # a checkpoint at every listed step (and between them, if they are not multiples)
    sets = [f"run.seed={seed}", f"train.steps={max(steps)}", f"train.checkpoint_every={every}",
            f"train.sample_every={every}", f"train.keep_checkpoints={max(steps) // every + 1}"]
    cmd = [sys.executable, "-m", "ganforge", "run", str(recipe), *[a for s in sets for a in ("--set", s)],
           "--out", str(parent), "--no-progress", *extra]
    what = {"command": cmd[1:], "recipe": recipe.read_text()}  # the interpreter's path may differ between calls
    if (run_dir / DONE).exists() and not fresh and json.loads((run_dir / DONE).read_text()) == what:
        return run_dir
    shutil.rmtree(run_dir, ignore_errors=True)
    shutil.rmtree(parent, ignore_errors=True)
    print("$", " ".join(cmd), flush=True)
    stdout = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    made = Path(next(line for line in stdout.splitlines() if line.startswith("run directory: "))
                .removeprefix("run directory: "))
    made.rename(run_dir)
    parent.rmdir()
    (run_dir / DONE).write_text(json.dumps(what))
    return run_dir


def evaluate_at(run_dir: Path, step: int, fresh: bool) -> dict[str, Any]:
    """``class_coverage`` and ``domain_fid`` of the run's checkpoint at ``step`` (saved beside it, reused)."""
    saved = run_dir / f"eval-{step}.json"
    if saved.exists() and not fresh:
        return json.loads(saved.read_text())
    from ganforge.evaluation.run import evaluate
    from ganforge.registry import load_registry

    text = json.dumps(evaluate(run_dir, load_registry(), device="cpu", only=METRICS, step=step).to_json(),
                      indent=1, default=str)
    saved.write_text(text)
    return json.loads(text)  # as a later call reads it back (class keys become strings)


def numbers(r: dict[str, Any], shapes: list[str]) -> dict[str, float]:
    """One evaluation's columns: each shape's share and FID, the share KL and the domain FID."""
    cov = r["results"]["class_coverage"]["details"]
    row = {f"{name} share": cov["generated_share"][i] for i, name in enumerate(shapes)}
    row["share KL"] = cov["share_kl"]
    row |= {f"{name} FID": cov["class_fid"].get(str(i), float("nan")) for i, name in enumerate(shapes)}
    row["domain FID"] = r["results"]["domain_fid"]["details"]["fid"]
    return row


def cells(row: dict[str, float]) -> str:
    """A table row's cells: shares and KL to three decimals, FIDs to one."""
    return " | ".join(f"{v:.3f}" if "share" in c or "KL" in c else f"{v:.1f}" for c, v in row.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipe", type=Path, default=RECIPE, help="the recipe whose networks are tested")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[6000, 12000, 18000, 24000],
                        help="evaluate at these steps (one run to the largest)")
    parser.add_argument("--generator", help="replace the recipe's generator by this kind (its defaults)")
    parser.add_argument("--critic", help="replace the recipe's critic by this kind (its defaults)")
    parser.add_argument("--r1", type=float, help="add the core R1 penalty with this gamma")
    parser.add_argument("--out", type=Path, default=Path("bench-runs/shapes-generator"))
    parser.add_argument("--fresh", action="store_true", help="retrain and re-evaluate finished runs")
    parser.add_argument("--jobs", type=int, default=1, help="seeds trained at once")
    args, extra = parser.parse_known_args()
    extra = [a for a in extra if a != "--"]
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if min(args.steps) < 1:
        parser.error("--steps must be positive")
    try:
        base = tomllib.loads(args.recipe.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        parser.error(f"--recipe {args.recipe}: {e}")
    steps = sorted(set(args.steps))

    args.out.mkdir(parents=True, exist_ok=True)
    recipe = args.out / "plain.toml"
    recipe.write_text(tomli_w.dumps(plain_recipe(base, args.generator, args.critic, args.r1)))

    def one(seed: int) -> list[dict[str, Any]]:
        run_dir = train(recipe, seed, steps, args.out, extra, args.fresh)
        return [evaluate_at(run_dir, step, args.fresh) for step in steps]

    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:  # the training is in child processes
        done = dict(zip(args.seeds, pool.map(one, args.seeds), strict=True))

    from ganforge.data.shapes import SHAPES

    shapes = list(SHAPES)
    rows = {seed: [numbers(r, shapes) for r in evals] for seed, evals in done.items()}  # per seed, per step
    first = done[args.seeds[0]][0]
    columns = list(rows[args.seeds[0]][0])
    real = ", ".join(f"{v:.3f}" for v in first["results"]["class_coverage"]["details"]["real_share"])
    floor = first["results"]["class_coverage"]["details"]["class_halves_fid"]
    print(f"\nA plain GAN with {args.recipe.name}'s networks"
          f"{' (generator ' + args.generator + ')' if args.generator else ''}"
          f"{' (critic ' + args.critic + ')' if args.critic else ''}{f' + R1 {args.r1:g}' if args.r1 else ''}"
          f"{' ' + ' '.join(extra) if extra else ''}; real shares {real}, two halves of one shape's real images FID {floor:.1f}:\n")
    print(f"| seed | step | {' | '.join(columns)} |")
    print("|---|---|" + "---|" * len(columns))
    for seed, per_step in rows.items():
        for step, row in zip(steps, per_step, strict=True):
            print(f"| {seed} | {step} | {cells(row)} |")
    if len(args.seeds) > 1:
        for i, step in enumerate(steps):
            print(f"| median | {step} | {cells({c: statistics.median(rows[s][i][c] for s in args.seeds) for c in columns})} |")


if __name__ == "__main__":
    main()
