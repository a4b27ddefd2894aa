"""The ``ganforge`` command line: a thin Typer layer over library functions.

Heavy imports (torch) happen inside the commands that train or sample, so ``--help``,
``plugins`` and ``validate`` start fast. Every user error ends in one line per problem on
stderr and a non-zero exit; ``GANFORGE_DEBUG=1`` shows the traceback too.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from ganforge.cli.options import RawGeneratorOption, SetOption, StepOption, device_arg, parse_codes
from ganforge.errors import GanforgeError

app = typer.Typer(
    name="ganforge",
    help="A plugin-based GAN framework: train, sample, evaluate and compare GANs from TOML recipes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

F = TypeVar("F", bound=Callable[..., Any])


def _err(message: str) -> None:
    for line in str(message).splitlines() or [""]:
        typer.echo(f"error: {line}", err=True)


def guarded(fn: F) -> F:
    """Turn ganforge's errors (and a few OS ones) into one-line messages and exit codes."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except GanforgeError as exc:
            if os.environ.get("GANFORGE_DEBUG"):
                raise
            _err(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            _err("interrupted")
            raise typer.Exit(130) from None
        except OSError as exc:
            if os.environ.get("GANFORGE_DEBUG"):
                raise
            _err(f"{exc.filename or ''}{': ' if exc.filename else ''}{exc.strerror or exc}")
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def _registry(clashes_fatal: bool = True) -> Any:
    from ganforge.registry import load_registry

    registry = load_registry(clashes_fatal=clashes_fatal)
    for warning in registry.warnings:
        typer.echo(f"warning: {warning}", err=True)
    return registry


def _version(value: bool) -> None:
    if value:
        from ganforge import __version__

        typer.echo(f"ganforge {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print ganforge's version and exit.")] = False,
) -> None:
    """A plugin-based GAN framework: train, sample, evaluate and compare GANs from TOML recipes."""


# --- plugins -----------------------------------------------------------------------------------
@app.command()
@guarded
def plugins(
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """List every plugin: distribution, version, source, and what it registers (and any name two plugins share)."""
    from ganforge.cli.plugin_list import plugin_rows, plugin_table

    rows = plugin_rows(_registry(clashes_fatal=False))
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console

    Console().print(plugin_table(rows))


# --- validate ------------------------------------------------------------------------------------
@app.command()
@guarded
def validate(
    recipe: Annotated[Path, typer.Argument(help="Recipe TOML file.", show_default=False)],
    set_: SetOption = None,
) -> None:
    """Check that `ganforge run` would start, without training.

    It checks what run checks before its first step, with the same error lines: the recipe and --set overrides,
    the device, run.out, the data (read as the run reads it) and the networks (built on the meta device: no memory).
    """
    from ganforge.model.devices import select_device
    from ganforge.training.preflight import preflight
    from ganforge.recipe.model import load_recipe
    from ganforge.runs.directory import check_out

    registry = _registry()
    resolved = load_recipe(recipe, registry, set_ or [])
    r = resolved.recipe
    from ganforge.evaluation.run import check_metric_names

    check_metric_names(r.train.final_eval, registry, "train.final_eval")  # as run does, before anything else
    select_device(r.run.device)  # the order `run` checks in: device, run.out, data, networks
    check_out(r.run.out)
    data = preflight(resolved)
    factors = ", ".join(f"{f.name}:{f.kind}" for f in r.latent.factors) or "none"
    typer.echo(f"{recipe}: OK — method {r.model.method}, data {r.data.source} ({len(data)} images "
               f"{'×'.join(map(str, data.image_shape))}), generator {r.generator.kind}, critic {r.critic.kind}, "
               f"objective {r.objective.kind}, factors {factors}, {r.train.steps} steps")


# --- run -------------------------------------------------------------------------------------------
@app.command()
@guarded
def run(
    recipe: Annotated[Path | None, typer.Argument(help="Recipe TOML file (omit with --resume).", show_default=False)] = None,
    set_: SetOption = None,
    out: Annotated[str | None, typer.Option(help="Parent directory for the run directory \\[default: run.out].")] = None,
    device: Annotated[str | None, typer.Option(callback=device_arg, help="cpu, cuda, cuda:N, mps or auto \\[default: run.device].")] = None,
    resume: Annotated[Path | None, typer.Option(help="Continue the run in this directory from its latest checkpoint.")] = None,
    progress: Annotated[bool, typer.Option(help="Show the progress bar.")] = True,
    nproc: Annotated[int | None, typer.Option(min=1, help="Train data-parallel in N processes on this machine (starts them with torchrun's launcher; see docs/distributed.md).", show_default=False)] = None,
    backend: Annotated[str | None, typer.Option(help="torch.distributed backend with several processes: gloo or nccl \\[default: nccl on CUDA, else gloo].", show_default=False)] = None,
) -> None:
    """Train a GAN from a recipe; prints the run directory it creates.

    Under torchrun (or with --nproc N) each process trains on its slice of every batch and rank 0 alone writes the run directory; data.batch_size is the global batch.
    """
    from ganforge.cli import run as launcher
    from ganforge.training import distributed
    from ganforge.recipe.model import load_recipe
    from ganforge.runs.loaded import run_recipe

    registry = _registry()
    command = "ganforge run " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else "ganforge run"
    if resume is not None:
        if recipe is not None:
            raise GanforgeError("give either a RECIPE or --resume RUN_DIR, not both")
        resolved = run_recipe(resume, registry, set_ or [])
    else:
        if recipe is None:
            raise GanforgeError("missing RECIPE (or --resume RUN_DIR); see `ganforge run --help`")
        resolved = load_recipe(recipe, registry, set_ or [])
    if nproc is not None:
        distributed.World(0, nproc).local_batch(resolved.recipe.data.batch_size)  # fail once here, not in N processes
        args = [*([str(recipe)] if recipe else []), *(f"--set={a}" for a in set_ or []), *([f"--out={out}"] if out else []),
                *([f"--device={device}"] if device else []), *([f"--resume={resume}"] if resume else []),
                *([f"--backend={backend}"] if backend else []), *([] if progress else ["--no-progress"])]
        raise typer.Exit(launcher.launch(nproc, args))
    launcher.train_here(resolved, registry, resume=resume, out=out, device=device, backend=backend, progress=progress,
                           command=command, echo=typer.echo, say=lambda m: typer.echo(m, err=True))


# --- sample -----------------------------------------------------------------------------------------
@app.command()
@guarded
def sample(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.", show_default=False)],
    n: Annotated[int, typer.Option("-n", min=1, max=4096, help="Number of images.")] = 64,
    out: Annotated[Path, typer.Option(help="PNG file to write.")] = Path("samples.png"),
    seed: Annotated[int, typer.Option(min=0, max=2**63 - 1, help="Seed for the latent draw.")] = 0,
    code: Annotated[list[str] | None, typer.Option(help="Fix a latent factor in every image, e.g. --code c1=3 (a category) or --code c2=0.5 (repeatable).", show_default=False)] = None,
    step: StepOption = None,
    device: Annotated[str, typer.Option(callback=device_arg, help="cpu, cuda, mps or auto.")] = "auto",
    raw_generator: RawGeneratorOption = False,
) -> None:
    """Draw a grid of samples from a trained run's generator (optionally with some codes fixed)."""
    import math

    from ganforge.model.devices import select_device
    from ganforge.model.pictures import sample_with_codes, save_grid
    from ganforge.runs.loaded import load_run

    fixed = parse_codes(code)
    loaded = load_run(run_dir, _registry(), select_device(device), step=step, raw_generator=raw_generator)
    spec = loaded.system.spec
    unknown = sorted(set(fixed) - {f.name for f in spec.factors})
    if unknown:
        raise GanforgeError(f"--code {unknown[0]}: the run has no such factor; factors: "
                            f"{', '.join(f.name for f in spec.factors) or 'none'}")
    try:
        images = sample_with_codes(loaded.system.generator, spec, n, seed, fixed)
    except ValueError as exc:
        raise GanforgeError(f"--code: {exc}") from None
    save_grid(images, out, nrow=max(1, int(math.sqrt(n))))
    what = ", ".join(f"{k} = {v:g}" for k, v in fixed.items())
    typer.echo(f"wrote {n} samples from step {loaded.step}{' with ' + what if what else ''} to {out} "
               f"({loaded.generator_note})")


# --- eval -----------------------------------------------------------------------------------------
@app.command(name="eval")
@guarded
def eval_(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.", show_default=False)],
    set_: SetOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
    device: Annotated[str, typer.Option(callback=device_arg, help="cpu, cuda, mps or auto.")] = "auto",
    metric: Annotated[list[str] | None, typer.Option(help="Only this metric (repeatable).")] = None,
    step: StepOption = None,
    raw_generator: RawGeneratorOption = False,
) -> None:
    """Evaluate a trained run: code accuracy, L_I per factor, throughput, and other metrics.

    Override the data like `run` does, e.g. --set data.source=idx --set data.path=DIR.
    """
    from ganforge.model.devices import select_device
    from ganforge.evaluation.run import evaluate

    results = evaluate(run_dir, _registry(), set_ or [], select_device(device), metric, step, raw_generator)
    if as_json:
        typer.echo(json.dumps(results.to_json(), indent=2, default=str))
        return
    from ganforge.reporting.terminal import print_eval

    print_eval(results)


# --- compare ------------------------------------------------------------------------------------
@app.command()
@guarded
def compare(
    targets: Annotated[list[str], typer.Argument(help="Methods (e.g. infogan vanilla cgan), other recipes by name (infogan_plus: recipes/infogan_plus_<preset>.toml), recipe files or finished run directories.", show_default=False)],
    set_: SetOption = None,
    steps: Annotated[int | None, typer.Option(min=1, help="Generator steps for every trained run \\[default: each base recipe's].", show_default=False)] = None,
    seeds: Annotated[list[str] | None, typer.Option(help="Seeds to train each method with: --seeds 0 1 2 (or 0,1,2) \\[default: 0].", show_default=False)] = None,
    out: Annotated[Path | None, typer.Option(help="Directory for the runs and the report \\[default: runs/compare-<timestamp>].", show_default=False)] = None,
    device: Annotated[str | None, typer.Option(callback=device_arg, help="cpu, cuda, cuda:N, mps or auto \\[default: run.device].", show_default=False)] = None,
    data: Annotated[str, typer.Option(help="Data preset: mnist, glyphs or shapes (embedded, offline), fashion-mnist or cifar10; each method trains from recipes/<method>_<preset>.toml (fashion-mnist: else its MNIST recipe on Fashion-MNIST).")] = "mnist",
    allow_mixed: Annotated[bool, typer.Option("--allow-mixed", help="Compare runs trained on different data anyway (the report says so at the top).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the table as JSON.")] = False,
    progress: Annotated[bool, typer.Option(help="Show training progress bars.")] = True,
    raw_generator: RawGeneratorOption = False,
) -> None:
    """Train methods on the same data, seeds and steps (or reuse runs); print a table and write a report.

    Each method starts from recipes/<method>_<preset>.toml (--data, default mnist); --set overrides apply to
    all, e.g. --set data.source=idx --set data.path=DIR. Runs on different data are refused.
    """
    from ganforge.reporting.table import as_json as table_json
    from ganforge.reporting.compare import run_comparison, split_seeds
    from ganforge.reporting.html import write_report

    seed_list, names = split_seeds(seeds, targets)
    comparison = run_comparison(names, _registry(), overrides=set_ or [], steps=steps, seeds=seed_list, out=out,
                                device=device, progress=progress and not as_json,
                                say=lambda m: typer.echo(m, err=True), data=data, allow_mixed=allow_mixed,
                                raw_generator=raw_generator)
    report = write_report(comparison, comparison.out_dir / "report")
    if as_json:
        typer.echo(json.dumps(table_json(comparison, report.parent), indent=2, default=str))
        return
    from ganforge.reporting.terminal import print_comparison

    print_comparison(comparison, report.parent)


# --- report --------------------------------------------------------------------------------------
@app.command()
@guarded
def report(
    run_dir: Annotated[Path, typer.Argument(help="A finished run directory.", show_default=False)],
    set_: SetOption = None,
    out: Annotated[Path | None, typer.Option(help="Directory for report.html and its pictures \\[default: report-<run directory name> in the working directory].", show_default=False)] = None,
    device: Annotated[str | None, typer.Option(callback=device_arg, help="cpu, cuda, cuda:N, mps or auto \\[default: run.device].", show_default=False)] = None,
    raw_generator: RawGeneratorOption = False,
) -> None:
    """Write a one-run HTML report: metrics table, loss and L_I curves, samples and traversals.

    The run is evaluated as `ganforge eval` does (its data must be readable: --set data.path=DIR otherwise).
    """
    from ganforge.reporting.compare import run_comparison
    from ganforge.reporting.html import write_report

    folder = out or Path(f"report-{run_dir.resolve().name}")
    comparison = run_comparison([str(run_dir)], _registry(), overrides=set_ or [], out=folder, device=device,
                                progress=False, say=lambda m: typer.echo(m, err=True), raw_generator=raw_generator)
    path = write_report(comparison, folder)
    typer.echo(f"wrote {path}")


# --- traverse ------------------------------------------------------------------------------------
@app.command()
@guarded
def traverse(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.", show_default=False)],
    factor: Annotated[str, typer.Option(help="Latent factor to walk (see the run's recipe).", show_default=False)],
    range_: Annotated[tuple[float, float] | None, typer.Option("--range", help="Span of a continuous factor, e.g. --range -2 2.", show_default=False)] = None,
    steps: Annotated[int, typer.Option(min=2, max=64, help="Columns for a continuous factor.")] = 10,
    rows: Annotated[int, typer.Option(min=1, max=64, help="Rows (each a fixed noise and other codes).")] = 8,
    seed: Annotated[int, typer.Option(help="Seed for the fixed rows.")] = 0,
    out: Annotated[Path | None, typer.Option(help="PNG file \\[default: traverse-FACTOR.png in the working directory].", show_default=False)] = None,
    by_row: Annotated[bool, typer.Option("--by-row", help="Rows are the factor's values (one category per row, as in the paper's figures); columns the fixed noises.")] = False,
    step: StepOption = None,
    device: Annotated[str, typer.Option(callback=device_arg, help="cpu, cuda, mps or auto.")] = "auto",
    raw_generator: RawGeneratorOption = False,
) -> None:
    """Write a latent traversal grid (rows: fixed noise; columns: the factor's values; --by-row transposes it)."""
    from ganforge.model.devices import select_device
    from ganforge.model.pictures import save_traversal
    from ganforge.runs.loaded import load_run

    loaded = load_run(run_dir, _registry(), select_device(device), step=step, raw_generator=raw_generator)
    spec = loaded.system.spec
    if factor not in {f.name for f in spec.factors}:
        names = ", ".join(f.name for f in spec.factors) or "none"
        raise GanforgeError(f"run has no latent factor {factor!r}; factors: {names}")
    f = spec.factor(factor)
    if range_ is not None and f.discrete:
        raise GanforgeError(f"--range does not apply to {factor!r}: it is discrete, and a traversal shows every class")
    if range_ is not None and range_[0] >= range_[1]:
        raise GanforgeError(f"--range must be increasing, got {range_[0]} {range_[1]}")
    path = out or Path(f"traverse-{factor}.png")
    save_traversal(loaded.system.generator, spec, factor, path, rows=rows, steps=steps, span=range_, seed=seed,
                   by_row=by_row)
    values = f.traversal(steps, range_)
    drawn = (f"all {len(values)} classes" if f.discrete else
             f"{float(values[0]):g} to {float(values[-1]):g} in {len(values)} steps")
    layout = "rows" if by_row else "columns"
    typer.echo(f"wrote {path}: {factor} {drawn} along the {layout}, {rows} fixed noises, step {loaded.step} "
               f"({loaded.generator_note})")


# --- export ---------------------------------------------------------------------------------------
@app.command()
@guarded
def export(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.", show_default=False)],
    out: Annotated[Path, typer.Option(help="Directory to write generator.safetensors and generator.json into.", show_default=False)],
    step: StepOption = None,
    raw_generator: RawGeneratorOption = False,
) -> None:
    """Export a run's generator (weights + a JSON spec) to load later with ganforge.load_generator(DIR)."""
    from ganforge.runs.export import export_generator

    path, weights = export_generator(run_dir, out, _registry(), step=step, raw_generator=raw_generator)
    from ganforge.model.ema import weights_note

    typer.echo(f"wrote {path / 'generator.safetensors'} and {path / 'generator.json'} ({weights_note(weights)})\n"
               f"load it: python -c \"import ganforge; g = ganforge.load_generator('{path}'); print(g.sample(4).shape)\"")


# --- new-plugin ------------------------------------------------------------------------------------
@app.command(name="new-plugin")
@guarded
def new_plugin(
    name: Annotated[str, typer.Argument(help="Factor kind to create, a lowercase identifier, e.g. laplace.", show_default=False)],
    dir_: Annotated[Path, typer.Option("--dir", help="Parent directory of the new package.")] = Path("."),
) -> None:
    """Scaffold a latent-factor plugin package (entry point, factor, recipe, contract tests) that passes its tests."""
    from ganforge.cli.scaffold import scaffold

    path = scaffold(name, dir_, taken=set(_registry().names("latent_factor")))
    typer.echo(f"created {path}\nnext: pip install -e {path} && python -m pytest -q {path}")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
