"""``ganforge run``'s processes: one training process here (alone or one of torchrun's), or ``--nproc``
processes through torchrun's launcher; the end-of-run summary rank 0 prints.

The training itself is ``ganforge.training.loop.train``; this module only makes the run directory, starts
and ends the process group, runs ``train.final_eval`` and prints what the run left behind.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from ganforge.errors import GanforgeError
from ganforge.training.distributed import init_from_env
from ganforge.runs import checkpoint
from ganforge.runs.directory import METRICS_FILE
from ganforge.recipe.model import Resolved


def train_here(resolved: Any, registry: Any, *, resume: Path | None, out: str | None, device: str | None,
               backend: str | None, progress: bool, command: str, echo: Callable[[str], None],
               say: Callable[[str], None]) -> None:
    """``ganforge run`` in this process: alone, or as one of the processes torchrun started.

    Rank 0 makes the run directory (or resumes ``resume``) and tells the others; every rank trains; a
    start that failed before writing anything leaves no empty directory. After success all ranks leave
    the process group together and rank 0 prints the run's summary with ``echo``; ``say`` gets progress.
    """
    from ganforge.model.devices import select_device
    from ganforge.training.loop import train
    from ganforge.evaluation.run import check_metric_names, final_evaluation
    from ganforge.runs.directory import new_run_dir, remove_if_unused

    final_eval = resolved.recipe.train.final_eval
    check_metric_names(final_eval, registry, "train.final_eval")
    dev = select_device(device or resolved.recipe.run.device)
    world = init_from_env(dev, backend)
    try:
        run_dir = resume or world.broadcast_object(  # one run directory, made by rank 0
            new_run_dir(resolved.recipe.run.name, out or resolved.recipe.run.out, "--out" if out else "run.out")
            if world.is_main else None)
        if world.is_main:
            echo(f"run directory: {run_dir}")
        started = time.monotonic()
        try:
            result = train(resolved, registry, run_dir, resume=resume is not None, device=device, progress=progress,
                           command=command, say=say, world=world)
        except BaseException:
            if resume is None and world.is_main:
                remove_if_unused(run_dir)  # a start that failed before writing anything leaves no empty directory
            raise
    except BaseException:
        world.close()
        raise
    world.close(together=True)
    if world.is_main:
        lines: list[str] = []
        if final_eval:
            from ganforge.reporting.terminal import eval_lines

            lines = eval_lines(final_evaluation(run_dir, registry, final_eval, world.place(dev)))
        echo("\n".join(summary(run_dir, result.step, result.metrics, resolved, wall_s=time.monotonic() - started,
                               evaluation=lines)))
    if world.active:
        exit_now(0)


def exit_now(code: int) -> NoReturn:
    """End a training process of several, after it finished and left the process group together with its peers.

    ``os._exit`` after flushing stdout and stderr: every file of the run is already written (atomically,
    fsynced) and every rank has passed the closing barrier, so nothing is lost, while no C++ destructor
    of torch's gloo threads runs during interpreter shutdown, where one aborted a rank now and then
    ("terminate called without an active exception", SIGABRT, after a run that had succeeded).
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def launch(nproc: int, run_args: list[str]) -> int:
    """Run ``ganforge run RUN_ARGS`` in ``nproc`` processes on this machine through torchrun's launcher.

    The same as ``torchrun --standalone --nproc-per-node NPROC -m ganforge run RUN_ARGS``; returns
    the exit code of the first failed process (0 when all succeed).
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    if os.environ.get("WORLD_SIZE"):
        raise GanforgeError("--nproc inside a torchrun process; drop --nproc (torchrun already started the processes)")
    try:
        run(parse_args(["--standalone", f"--nproc-per-node={nproc}", "--module", "ganforge", "run", *run_args]))
    except ChildFailedError as exc:
        failures = sorted(exc.failures.items())
        return next((f.exitcode for _, f in failures if f.exitcode), 1) or 1
    return 0


def summary(run_dir: Path, step: int, metrics: dict[str, float], resolved: Resolved,
            wall_s: float | None = None, evaluation: list[str] = ()) -> list[str]:
    """The end-of-run report: headline numbers, the wall time of this process's training (start-up, data and
    ``train.final_eval`` included), that evaluation's lines, what the run directory holds, and the next commands."""
    from ganforge.training.progress import short_metrics

    took = f" in {round(wall_s) // 60} min {round(wall_s) % 60:02d} s" if wall_s is not None else ""
    rate = f" ({metrics['images_per_s']:.0f} images/s at the end)" if "images_per_s" in metrics else ""
    lines = [f"finished step {step}{took}{rate}"]
    if short_metrics(metrics):
        lines.append(f"  {short_metrics(metrics, limit=6)}")
    lines.extend(evaluation)
    lines.append(f"{run_dir} holds:")

    def count(folder: str, pattern: str) -> list[Path]:
        return sorted((run_dir / folder).glob(pattern)) if (run_dir / folder).is_dir() else []

    samples, traversals = count("samples", "step-*.png"), count("traversals", "*.png")
    kept = checkpoint.list_checkpoints(run_dir / "checkpoints")
    if samples:
        lines.append(f"  samples/      {len(samples)} grid{'s' if len(samples) != 1 else ''}, newest {samples[-1].name}")
    if traversals:
        import textwrap

        newest = max(p.stem.rsplit("-step-", 1)[-1] for p in traversals)
        names = " ".join(p.name for p in traversals if p.stem.endswith(f"-step-{newest}"))
        lines.append(f"  traversals/   {len(traversals)} grids, one per factor and sample step; newest:")
        lines.extend(textwrap.wrap(names, 80, initial_indent=" " * 16, subsequent_indent=" " * 16))
    if kept:
        lines.append(f"  checkpoints/  {len(kept)} kept, newest step {int(kept[-1].stem.removeprefix('step-'))}")
    if (run_dir / METRICS_FILE).is_file():
        n = sum(1 for _ in (run_dir / METRICS_FILE).open("rb"))
        lines.append(f"  {METRICS_FILE} {n} line{'s' if n != 1 else ''} (one per {resolved.recipe.train.log_every} steps)")
    factors = resolved.recipe.latent.factors
    lines.append("next:")
    lines.append(f"  ganforge eval {run_dir}")
    if factors:
        lines.append(f"  ganforge traverse {run_dir} --factor {factors[0].name}" +
                     (" --by-row" if factors[0].kind == "categorical" else ""))
    lines.append(f"  ganforge sample {run_dir} -n 64 --out samples.png")
    lines.append(f"  ganforge report {run_dir}")
    lines.append(f"  ganforge export {run_dir} --out exported-generator")
    return lines
