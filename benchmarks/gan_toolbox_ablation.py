"""What each piece of the plain-GAN toolbox does for a recipe on MNIST: ``python benchmarks/gan_toolbox_ablation.py``.

Trains a base recipe (default ``recipes/vanilla_mnist.toml``, the plain non-saturating GAN) without a moving
average of G (the ``vanilla`` variant: the shipped recipe less its ``[train.ema]``) and with each technique
added on its own, then with all of them: ``ema`` (train.ema, half-life ``--ema-kimg``),
``sn`` (critic.norm = "spectral"), ``diffaug`` (augment.policy translation + cutout), ``ada`` (the same policy,
ADA's adaptive p from 0 towards r = 0.6), ``lecam`` (the lecam regularizer, λ ``--lecam``), ``hinge`` (the
hinge objective), and ``all`` (ema + sn + diffaug + lecam + hinge); ``--set KEY=VALUE`` changes the base
recipe of every variant (e.g. ``--set optim.generator.lr=1e-3``). ``--variants`` picks some; each trains
``--seeds`` to the largest of ``--steps`` with a checkpoint at every listed step, one run at a time (give it
one thread: ``OMP_NUM_THREADS=1``), and each checkpoint is evaluated with the domain FID, the classifier score,
the domain KID and precision / recall on the data given by ``--data`` (a folder of MNIST idx files; the
10k test digits by default).

Prints one markdown row per (variant, seed, step) as it goes and, at the end, the median and the range over
seeds per (variant, step), with the training wall time. Results land in ``--out`` (one folder per variant
and seed, and ``results.jsonl``); a finished run there is reused unless ``--fresh``.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import shutil
import statistics
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomli_w

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "vanilla_mnist.toml"
DATA = ROOT.parent / "shared" / "data" / "mnist-t10k"
METRICS = ["domain_fid", "classifier_score", "domain_kid", "precision_recall"]  # the metrics evaluated
#: the figures reported: a key of ``Evaluation.numbers()``, its column title and format
COLUMNS = [("domain_fid", "domain FID", "{:.1f}"), ("classifier_score", "classifier score", "{:.2f}"),
           ("domain_kid", "domain KID", "{:.3f}"), ("precision_recall/precision", "precision", "{:.3f}"),
           ("precision_recall/recall", "recall", "{:.3f}")]
DONE = "finished.json"
POLICY = ["translation", "cutout"]

Edit = Callable[[dict[str, Any], argparse.Namespace], None]


def _ema(raw: dict[str, Any], args: argparse.Namespace) -> None:
    raw.setdefault("train", {})["ema"] = {"half_life_kimg": args.ema_kimg}


def _sn(raw: dict[str, Any], args: argparse.Namespace) -> None:
    raw.setdefault("critic", {})["norm"] = "spectral"


def _diffaug(raw: dict[str, Any], args: argparse.Namespace) -> None:
    raw["augment"] = {"policy": POLICY}


def _ada(raw: dict[str, Any], args: argparse.Namespace) -> None:
    raw["augment"] = {"policy": POLICY, "p": 0.0, "ada_target": 0.6}


def _lecam(raw: dict[str, Any], args: argparse.Namespace) -> None:
    raw.setdefault("regularizers", []).append({"kind": "lecam", "weight": args.lecam})


def _hinge(raw: dict[str, Any], args: argparse.Namespace) -> None:
    raw["objective"] = {"kind": "hinge"}


EDITS: dict[str, list[Edit]] = {
    "vanilla": [], "ema": [_ema], "sn": [_sn], "diffaug": [_diffaug], "ada": [_ada], "lecam": [_lecam],
    "hinge": [_hinge], "all": [_ema, _sn, _diffaug, _lecam, _hinge],
}


def base_recipe(path: Path, sets: list[str]) -> dict[str, Any]:
    """The recipe file less its ``[train.ema]`` (the shipped vanilla recipe averages G: here EMA is one of the
    variants), then the ``--set`` overrides (which may add an EMA to every variant)."""
    from ganforge.recipe.model import apply_overrides

    base = tomllib.loads(path.read_text())
    base.get("train", {}).pop("ema", None)
    apply_overrides(base, sets)
    return base


def variant_recipe(base: dict[str, Any], name: str, args: argparse.Namespace) -> dict[str, Any]:
    """The base recipe with the variant's techniques added (and the data pointed at ``--data``)."""
    raw = copy.deepcopy(base)
    for edit in EDITS[name]:
        edit(raw, args)
    raw["data"] = {**raw.get("data", {}), "source": "idx", "path": str(args.data)}
    raw["run"] = {**raw.get("run", {}), "name": f"ablation-{name}"}
    return raw


def train(raw: dict[str, Any], seed: int, steps: list[int], run_dir: Path, fresh: bool) -> float | None:
    """Train into ``run_dir`` (a checkpoint at every listed step); the wall time, or None when reused."""
    every = math.gcd(*steps)
    sets = [f"run.seed={seed}", f"train.steps={max(steps)}", f"train.checkpoint_every={every}",
            f"train.sample_every={every}", f"train.keep_checkpoints={max(steps) // every + 1}"]
    what = {"recipe": raw, "sets": sets}
    if (run_dir / DONE).exists() and not fresh and json.loads((run_dir / DONE).read_text())["what"] == what:
        return json.loads((run_dir / DONE).read_text())["wall_s"]
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    recipe = run_dir.parent / f"{run_dir.name}.toml"
    recipe.write_text(tomli_w.dumps(raw))
    parent = run_dir.parent / f"_training-{run_dir.name}"
    shutil.rmtree(parent, ignore_errors=True)
    cmd = [sys.executable, "-m", "ganforge", "run", str(recipe), *[a for s in sets for a in ("--set", s)],
           "--out", str(parent), "--no-progress"]
    print("$", " ".join(cmd[1:]), flush=True)
    start = time.perf_counter()
    stdout = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    wall = time.perf_counter() - start
    made = Path(next(line for line in stdout.splitlines() if line.startswith("run directory: "))
                .removeprefix("run directory: "))
    made.rename(run_dir)
    parent.rmdir()
    (run_dir / DONE).write_text(json.dumps({"what": what, "wall_s": wall}))
    return wall


def evaluate_at(run_dir: Path, step: int, data: Path) -> dict[str, float]:
    """The figures of ``COLUMNS`` for the checkpoint of ``step`` (the EMA generator when the run kept one)."""
    from ganforge import load_registry
    from ganforge.evaluation.run import evaluate

    got = evaluate(run_dir, load_registry(), ["data.source=idx", f"data.path={data}"], "cpu", only=METRICS, step=step)
    numbers = got.numbers()
    out = {key: float(numbers[key].value) for key, _, _ in COLUMNS}
    out["generator"] = got.generator  # type: ignore[assignment]
    return out


def summary(rows: list[dict[str, Any]]) -> list[str]:
    """Median [min, max] over seeds per (variant, step)."""
    lines = ["| variant | step | seeds | " + " | ".join(f"{title} median [range]" for _, title, _ in COLUMNS) + " | wall (min) |",
             "|---" * (len(COLUMNS) + 4) + "|"]
    keys = list(dict.fromkeys((r["variant"], r["step"]) for r in rows))
    for variant, step in keys:
        group = [r for r in rows if r["variant"] == variant and r["step"] == step]
        cells = []
        for key, _, fmt in COLUMNS:
            values = [r[key] for r in group]
            cells.append(f"{fmt.format(statistics.median(values))} [{fmt.format(min(values))}, {fmt.format(max(values))}]")
        walls = [r["wall_s"] / 60 for r in group if r.get("wall_s")]
        wall = f"{statistics.median(walls):.1f}" if walls else "-"
        lines.append(f"| {variant} | {step} | {len(group)} | {' | '.join(cells)} | {wall} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", type=Path, default=RECIPE)
    parser.add_argument("--variants", nargs="+", default=list(EDITS), choices=list(EDITS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", nargs="+", type=int, default=[2500, 5000, 7500, 10000])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--ema-kimg", type=float, default=5.0, help="train.ema.half_life_kimg of the ema variant")
    parser.add_argument("--lecam", type=float, default=0.3, help="λ of the lecam variant")
    parser.add_argument("--set", dest="sets", action="append", default=[],
                        help="extra KEY=VALUE for the base recipe, as `ganforge run --set` (repeatable)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-runs" / "toolbox")
    parser.add_argument("--fresh", action="store_true")
    args = parser.parse_args()
    base = base_recipe(args.recipe, args.sets)
    rows: list[dict[str, Any]] = []
    print("| variant | seed | step | generator | " + " | ".join(title for _, title, _ in COLUMNS) + " |\n"
          + "|---" * (len(COLUMNS) + 4) + "|", flush=True)
    for variant in args.variants:
        for seed in args.seeds:
            run_dir = args.out / variant / f"seed-{seed}"
            wall = train(variant_recipe(base, variant, args), seed, sorted(args.steps), run_dir, args.fresh)
            for step in sorted(args.steps):
                got = evaluate_at(run_dir, step, args.data)
                row = {"variant": variant, "seed": seed, "step": step, "wall_s": wall if step == max(args.steps) else None,
                       **got}
                rows.append(row)
                with (args.out / "results.jsonl").open("a") as f:
                    f.write(json.dumps(row) + "\n")
                figures = " | ".join(fmt.format(got[key]) for key, _, fmt in COLUMNS)
                print(f"| {variant} | {seed} | {step} | {got['generator']} | {figures} |", flush=True)
    print("\n".join(["", *summary(rows)]))


if __name__ == "__main__":
    main()
