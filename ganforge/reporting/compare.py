"""``ganforge compare``: several methods on the same data, seeds and step budget, side by side.

Each target is a method name (trained from ``recipes/<method>_mnist.toml`` plus the shared ``--set``
overrides, seed and step budget), the name of another recipe for the data preset (``infogan_plus``:
``recipes/infogan_plus_mnist.toml``), a recipe file, or a finished run directory (reused as it is).
Every run is evaluated with the registered metrics (``ganforge.evaluation.run.evaluate``), so code
accuracy, L_I per factor, the evaluator-based sample quality and throughput come from the same
code as ``ganforge eval``; this module only plans, trains, gathers and summarises (median and range
over seeds). The table's numbers are ``ganforge.reporting.table``; the terminal table is
``ganforge.reporting.terminal.print_comparison``; the report directory is written by ``ganforge.reporting.html``.
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganforge.runs.checkpoint import list_checkpoints
from ganforge.safefiles import atomic_write
from ganforge.model.ema import weights_note
from ganforge.errors import DataError, GanforgeError
from ganforge.recipe.model import apply_overrides, read_toml, resolve
from ganforge.registry import Registry
from ganforge.results import Evaluation, Headline
from ganforge.runs.directory import METRICS_FILE, RECIPE_FILE, new_run_dir

REPO_RECIPES = Path(__file__).resolve().parents[2] / "recipes"
MARKER = "compare.json"  # written into each run compare trains: its seed, wall time and resolved recipe
LOG_POINTS = 30  # with --steps, log often enough for about this many points on the L_I curve


@dataclass
class Target:
    """One column of the comparison: a base recipe to train from, or finished runs to reuse."""

    label: str
    recipe: Path | None = None
    runs: list[Path] = field(default_factory=list)
    preset: list[str] = field(default_factory=list)  # the --data preset's overrides, applied before the user's


@dataclass
class RunOutcome:
    """One evaluated run: its column, seed, directory, training wall time and ``evaluate()`` results."""

    label: str
    seed: int
    run_dir: Path
    wall_s: float | None
    results: Evaluation
    log: list[dict[str, Any]]
    #: kept checkpoint → headline key → value, for the metrics with ``Metric.over_checkpoints`` (code accuracy)
    by_checkpoint: dict[int, dict[str, Headline]] = field(default_factory=dict)


@dataclass
class Comparison:
    """Everything a table or report needs."""

    out_dir: Path
    labels: list[str]
    outcomes: list[RunOutcome]
    steps: int | None
    seeds: list[int]
    overrides: list[str]
    command: str = "ganforge compare"
    mixed: list[str] = field(default_factory=list)  # with --allow-mixed: the different data sets, one line each

    def of(self, label: str) -> list[RunOutcome]:
        return [o for o in self.outcomes if o.label == label]


# --- arguments ----------------------------------------------------------------------------------------
def split_seeds(seeds: list[str] | None, targets: list[str]) -> tuple[list[int], list[str]]:
    """Seeds from ``--seeds`` values (``0,1,2`` or repeated) and, when ``--seeds`` was given, from bare
    integers among the targets: ``--seeds 0 1 2`` reaches the CLI as seed 0 plus targets "1" and "2"."""
    if not seeds:
        return [0], targets
    out: list[int] = []
    for value in seeds:
        for part in value.replace(",", " ").split():
            if not part.isdigit():
                raise GanforgeError(f"--seeds takes non-negative integers, got {part!r}")
            out.append(int(part))
    rest = []
    for t in targets:
        if t.isdigit() and not Path(t).exists():
            out.append(int(t))
        else:
            rest.append(t)
    if len(set(out)) != len(out):
        raise GanforgeError(f"--seeds lists a seed twice: {' '.join(map(str, out))}")
    return out, rest


#: ``--data NAME`` → the recipe suffixes to try, in order, each with the overrides it needs. A method supports
#: a preset when one of its ``recipes/<method>_<suffix>.toml`` exists. Fashion-MNIST uses a method's own
#: ``<method>_fashion_mnist.toml`` where there is one, else its MNIST recipe on torchvision's Fashion-MNIST;
#: cifar10 the MNIST recipe on CIFAR-10 (the networks size themselves from the images).
PRESETS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "mnist": (("mnist", ()),),
    "glyphs": (("glyphs", ()),),
    "shapes": (("shapes", ()),),
    "fashion-mnist": (("fashion_mnist", ()), ("mnist", ("data.source=fashion_mnist",))),
    "cifar10": (("mnist", ("data.source=cifar10",)),),
}


def _candidates(data: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return PRESETS.get(data, ((data, ()),))


def preset_recipe(method: str, data: str = "mnist", search: tuple[Path, ...] | None = None) -> tuple[Path, list[str]]:
    """The recipe ``method`` trains from with ``--data data`` and the overrides the preset adds to it: the first
    ``recipes/<method>_<suffix>.toml`` of the preset's candidates, from the working directory, else ganforge's own
    checkout."""
    search = search or (Path.cwd() / "recipes", REPO_RECIPES)
    for suffix, overrides in _candidates(data):
        for folder in search:
            path = folder / f"{method}_{suffix}.toml"
            if path.is_file():
                return path, list(overrides)
    has = sorted(p for p in PRESETS if any((f / f"{method}_{s}.toml").is_file() for s, _ in _candidates(p) for f in search))
    wanted = " or ".join(f"recipes/{method}_{s}.toml" for s, _ in _candidates(data))
    raise GanforgeError(f"no recipe for method {method!r} with --data {data} ({wanted}); "
                        f"{method} has: {', '.join(has) or 'none'}; or pass a recipe file")


def base_recipe(method: str, search: tuple[Path, ...] | None = None, data: str = "mnist") -> Path:
    """``recipes/<method>_<data>.toml`` (see :func:`preset_recipe`)."""
    return preset_recipe(method, data, search)[0]


def named_recipes(data: str = "mnist", search: tuple[Path, ...] | None = None) -> list[str]:
    """Every NAME with a recipe for ``data`` (``recipes/NAME_<suffix>.toml`` for one of the preset's suffixes): the
    methods' base recipes and named variants of them (``infogan_plus`` for recipes/infogan_plus_mnist.toml),
    which compare trains like a method."""
    search = search or (Path.cwd() / "recipes", REPO_RECIPES)
    suffixes = {s for candidates in PRESETS.values() for s, _ in candidates} | {s for s, _ in _candidates(data)}

    def suffix_of(file: str) -> str:  # infogan_plus_fashion_mnist.toml: "fashion_mnist", not "mnist"
        return max((s for s in suffixes if file.endswith(f"_{s}.toml")), key=len, default="")

    return sorted({p.name.removesuffix(f"_{suffix}.toml") for suffix, _ in _candidates(data)
                   for folder in search if folder.is_dir() for p in folder.glob(f"*_{suffix}.toml")
                   if suffix_of(p.name) == suffix})


def run_method(run_dir: Path) -> str:
    """The method a run directory was trained with (from its recipe.toml)."""
    if not (run_dir / RECIPE_FILE).is_file():
        raise GanforgeError(f"{run_dir}: not a ganforge run directory (no {RECIPE_FILE})")
    method = read_toml(run_dir / RECIPE_FILE).get("model", {}).get("method")
    if not isinstance(method, str):
        raise GanforgeError(f"{run_dir / RECIPE_FILE}: no model.method")
    return method


def run_name(run_dir: Path) -> str:
    """The ``run.name`` a run directory's recipe was trained under."""
    name = read_toml(run_dir / RECIPE_FILE).get("run", {}).get("name", "run")
    return name if isinstance(name, str) else "run"


def plan_targets(names: list[str], registry: Registry, data: str = "mnist") -> list[Target]:
    """Targets in the order given. Run directories of the same method share a column (its seeds), unless
    they were trained from differently named recipes (vanilla_mnist vs wgan_gp_mnist, both method
    ``vanilla``): then each recipe name is a column of its own."""
    if not names:
        raise GanforgeError("name at least one method (e.g. infogan vanilla cgan), recipe file or run directory")
    targets: dict[str, Target] = {}
    dirs = [Path(n) for n in names if Path(n).is_dir()]
    recipe_names: dict[str, set[str]] = {}
    for d in dirs:
        recipe_names.setdefault(run_method(d), set()).add(run_name(d))
    for name in names:
        path = Path(name)
        if path.is_dir():
            method = run_method(path)
            label = method if len(recipe_names[method]) == 1 else run_name(path)
            target = targets.setdefault(label, Target(label))
            if target.recipe is not None:
                raise GanforgeError(f"{name}: method {label!r} is also to be trained; compare one or the other")
            target.runs.append(path)
            continue
        if path.suffix == ".toml":
            if not path.is_file():
                raise GanforgeError(f"{name}: recipe file not found")
            label, recipe = path.stem, path
        elif name in registry.names("method") or name in named_recipes(data):
            label, (recipe, preset) = name, preset_recipe(name, data)
        else:
            methods = ", ".join(registry.names("method")) or "none"
            variants = ", ".join(n for n in named_recipes(data) if n not in registry.names("method"))
            raise GanforgeError(f"{name!r} is neither a method ({methods}), a named recipe for --data {data} "
                                f"({variants or 'none'}) nor a run directory or recipe file")
        if label in targets:
            raise GanforgeError(f"{name}: {label!r} is named twice")
        targets[label] = Target(label, recipe=recipe, preset=preset if path.suffix != ".toml" else [])
    return list(targets.values())


# --- training ------------------------------------------------------------------------------------------
def run_overrides(raw: dict[str, Any], overrides: list[str], steps: int | None, seed: int) -> list[str]:
    """The ``--set`` list that turns a base recipe into one run of the comparison (user overrides win,
    except the seed and ``--steps``, which every run of the comparison shares)."""
    out = list(overrides)
    if steps is not None:
        out.append(f"train.steps={steps}")
        if not any(o.split("=", 1)[0].strip() == "train.log_every" for o in overrides):
            every = raw.get("train", {}).get("log_every", 50)
            out.append(f"train.log_every={max(1, min(int(every), steps // LOG_POINTS))}")
    out.append(f"run.seed={seed}")
    return out


def train_target(target: Target, seed: int, overrides: list[str], steps: int | None, out_dir: Path,
                 registry: Registry, device: str | None, progress: bool, say: Callable[[str], None]
                 ) -> tuple[Path, float | None]:
    """Train one seed of ``target`` into ``out_dir/runs/<label>-seed<seed>`` (reused when finished there)."""
    from ganforge.training.loop import train

    assert target.recipe is not None
    raw = read_toml(target.recipe)
    sets = run_overrides(raw, [*target.preset, *overrides], steps, seed)
    apply_overrides(raw, sets)
    resolved = resolve(raw, registry, str(target.recipe))
    run_dir = out_dir / "runs" / f"{target.label}-seed{seed}"
    done = read_marker(run_dir)
    if done:
        if done.get("recipe") == resolved.raw:
            say(f"{target.label} seed {seed}: reusing the finished run in {run_dir}")
            return run_dir, done.get("wall_s")
        raise GanforgeError(f"{run_dir} holds a run of a different recipe; pick another --out")
    if run_dir.exists() and any(run_dir.iterdir()):
        raise GanforgeError(f"{run_dir} holds an unfinished run; pick another --out (or finish it: "
                            f"ganforge run --resume {run_dir})")
    run_dir.mkdir(parents=True, exist_ok=True)
    command = shlex.join(["ganforge", "run", str(target.recipe), *(a for s in sets for a in ("--set", s))])
    say(f"training {target.label} seed {seed} ({resolved.recipe.train.steps} steps) in {run_dir}")
    start = time.perf_counter()
    train(resolved, registry, run_dir, device=device, progress=progress, command=command, say=say)
    wall = time.perf_counter() - start
    atomic_write(run_dir / MARKER, json.dumps({"label": target.label, "seed": seed, "wall_s": round(wall, 2),
                                     "recipe": resolved.raw}, indent=1).encode())
    return run_dir, wall


def read_marker(run_dir: Path) -> dict[str, Any]:
    """What compare recorded about a run it trained (seed, wall time, recipe); empty when absent or unreadable."""
    try:
        done = json.loads((run_dir / MARKER).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return done if isinstance(done, dict) else {}


def read_log(run_dir: Path) -> list[dict[str, Any]]:
    """The rows of a run's metrics.jsonl (up to a torn last line)."""
    rows = []
    path = run_dir / METRICS_FILE
    for line in path.read_text().splitlines() if path.is_file() else []:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return rows


def run_comparison(names: list[str], registry: Registry, *, overrides: list[str] | None = None,
                   steps: int | None = None, seeds: list[int] | None = None, out: Path | None = None,
                   device: str | None = None, progress: bool = True,
                   say: Callable[[str], None] = print, data: str = "mnist", allow_mixed: bool = False,
                   raw_generator: bool = False) -> Comparison:
    """Train (or reuse) every target for every seed, then evaluate each run.

    Runs that kept a moving average of G's weights (``train.ema``) are evaluated with it, unless ``raw_generator``.

    Every run must train on the same data (source, its options, ``limit``): otherwise a one-line error
    names two that differ, unless ``allow_mixed`` (the report then says so at the top).
    """
    from ganforge.model.devices import select_device
    from ganforge.evaluation.run import evaluate, tracked_over_checkpoints

    if data not in PRESETS:
        raise GanforgeError(f"--data {data!r}: use one of {', '.join(PRESETS)}")
    targets = plan_targets(names, registry, data)
    seeds = seeds if seeds is not None else [0]
    overrides = list(overrides or [])
    datasets: dict[str, str] = {}  # the data each column trains on (its resolved data table) → the first column
    for target in targets:  # fail on a bad override, or on mixed data, before any training starts
        if target.recipe is not None:
            raw = read_toml(target.recipe)
            apply_overrides(raw, run_overrides(raw, [*target.preset, *overrides], steps, seeds[0]))
            resolve(raw, registry, str(target.recipe))
            tables = [raw.get("data", {})]
        else:
            tables = []
            for run_dir in target.runs:
                raw = read_toml(run_dir / RECIPE_FILE)
                apply_overrides(raw, overrides)
                tables.append(raw.get("data", {}))
        for table_ in tables:
            key = describe_data(table_)
            datasets.setdefault(key, target.label)
    mixed = [f"{label}: {key}" for key, label in datasets.items()]
    if len(datasets) > 1 and not allow_mixed:
        (a, la), (b, lb) = list(datasets.items())[:2]
        raise GanforgeError(f"refusing to compare runs on different data: {la} trains on {a}, {lb} on {b}; "
                            "compare like with like, or pass --allow-mixed to put them in one report anyway")
    out_dir = out if out is not None else new_run_dir("compare", "runs")
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs: list[tuple[str, int, Path, float | None]] = []
    for target in targets:
        if target.recipe is None:
            for run_dir in target.runs:
                wall = read_marker(run_dir).get("wall_s")
                seed = int(read_toml(run_dir / RECIPE_FILE).get("run", {}).get("seed", 0))
                jobs.append((target.label, seed, run_dir, wall))
        else:
            for seed in seeds:
                try:
                    run_dir, wall = train_target(target, seed, overrides, steps, out_dir, registry, device, progress, say)
                except DataError as exc:
                    raise DataError(f"{exc}. Offline: `ganforge compare {' '.join(names)} --data glyphs` trains on the "
                                    "embedded stroke-drawn digits, or use local MNIST idx files: "
                                    "--set data.source=idx --set data.path=DIR") from None
                jobs.append((target.label, seed, run_dir, wall))
    eval_device = select_device(device or "auto")
    outcomes = []
    reused = {r for t in targets for r in t.runs}
    for label, seed, run_dir, wall in jobs:
        say(f"evaluating {label} seed {seed} ({run_dir})")
        # a finished run given by its directory is evaluated with the --set overrides (e.g. its data's new path),
        # as `ganforge eval` would; runs trained here already hold them in their recipe
        sets = overrides if run_dir in reused else ()
        results = evaluate(run_dir, registry, sets, device=eval_device, raw_generator=raw_generator)
        if results.generator == "ema":
            say(f"  {label} seed {seed}: images from the {weights_note('ema')}")
        tracked = [m for m in tracked_over_checkpoints(registry) if m in results.results]
        by_step: dict[int, dict[str, Headline]] = {}
        for sidecar in list_checkpoints(run_dir / "checkpoints") if tracked else []:  # e.g. code accuracy over training
            step = int(sidecar.stem.removeprefix("step-"))
            got = results if step == results.step else evaluate(run_dir, registry, sets, device=eval_device,
                                                                only=tracked, step=step, raw_generator=raw_generator)
            by_step[step] = {k: h for k, h in got.numbers().items() if k.split("/")[0] in tracked}
        outcomes.append(RunOutcome(label, seed, run_dir, wall, results, read_log(run_dir), by_step))
    command = shlex.join(["ganforge", "compare", *names, *(a for o in overrides for a in ("--set", o)),
                          *(["--steps", str(steps)] if steps else []), "--seeds", *map(str, seeds), "--out", str(out_dir)])
    return Comparison(out_dir, [t.label for t in targets], outcomes, steps, seeds, overrides, command,
                      mixed if len(datasets) > 1 else [])


def describe_data(table: dict[str, Any]) -> str:
    """A data table as one comparable line: the source and every option but the batch size."""
    items = {k: v for k, v in sorted(table.items()) if k != "batch_size"}
    source = items.pop("source", "?")
    return f"{source}" + (f" ({', '.join(f'{k}={v}' for k, v in items.items())})" if items else "")
