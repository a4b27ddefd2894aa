"""The training loop around the iteration of ``training/step.py``: logging, samples, checkpoints, signals,
divergence handling, the resume rules and ``train()``.

The algorithm itself (one iteration: the n_critic critic steps and the generator step) is in
``ganforge/training/step.py``; the state it trains (optimizers, precision, devices, save / restore) in
``ganforge/training/state.py``. Per-step numbers stay on the device and are read once per logging interval,
so there is no host synchronisation inside the step.
"""

from __future__ import annotations

import json
import math
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ganforge import __version__
from ganforge.runs import checkpoint
from ganforge.model.devices import deterministic_algorithms, select_device
from ganforge.training.distributed import World
from ganforge.errors import CheckpointError, DivergenceError, GanforgeError, PluginError
from ganforge.events import CheckpointSaved, MetricsLogged, RunFinished, RunStarted, SamplesSaved
from ganforge.interfaces import ImageData
from ganforge.training.preflight import preflight
from ganforge.recipe.model import Resolved
from ganforge.training.progress import progress, short_metrics
from ganforge.registry import Registry
from ganforge.safefiles import UnsafeFile, atomic_write, read_bounded
from ganforge.model.system import System, blame_step
from ganforge.training.state import Trainer
from ganforge.data.pixels import to_unit


# --- the run ----------------------------------------------------------------------------------
class _Interrupts:
    """First SIGINT/SIGTERM asks the loop to checkpoint and stop; a second SIGINT stops at once."""

    def __init__(self) -> None:
        self.requested: str | None = None
        self._old: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum).name

    @contextmanager
    def installed(self) -> Iterator[_Interrupts]:
        try:
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        except ValueError:  # not the main thread: leave signals alone
            pass
        try:
            yield self
        finally:
            for sig, old in self._old.items():
                signal.signal(sig, old)


class Interrupted(GanforgeError):
    """SIGINT or SIGTERM stopped the run after a checkpoint; the exit code is 128 + the signal (130, 143)."""

    def __init__(self, message: str, signal_name: str = "SIGINT") -> None:
        super().__init__(message)
        self.exit_code = 128 + signal.Signals[signal_name].value


def check_finite(step: int, metrics: dict[str, float], system: System) -> None:
    """Raise DivergenceError naming the step and the loss term (or weights) that went NaN/Inf (the
    adversarial losses first: when a step blows up, every term goes with them)."""
    for key, value in sorted(metrics.items(), key=lambda kv: (not kv[0].endswith("/adv"), kv[0])):
        if not math.isfinite(value):
            raise DivergenceError(f"training diverged at step {step}: loss term {key!r} is {value}; "
                                  "the last checkpoint is intact (lower the learning rate: `ganforge run --resume "
                                  "RUN_DIR --set optim.critic.lr=…`; or let train.on_nonfinite = 'rollback' do it)")
    for prefix, module in system.modules().items():
        params = [p for p in module.parameters()]
        if params and not bool(torch.isfinite(torch.stack([p.detach().float().sum() for p in params])).all()):
            bad = next(n for n, p in module.named_parameters() if not torch.isfinite(p).all())
            raise DivergenceError(f"training diverged at step {step}: weights {prefix}.{bad} contain NaN/Inf; "
                                  "the last checkpoint is intact")


def _tell_failure(track: Any, event: RunFinished) -> None:
    """Tell observers how a failed run ended; an observer that fails again must not replace the first error."""
    try:
        track(event)
    except PluginError:
        pass


def roll_back(trainer: Trainer, ckpt_dir: Path, error: DivergenceError, lr_factor: float) -> None:
    """Reload the newest good checkpoint into ``trainer`` and scale every learning rate by ``lr_factor``."""
    world = trainer.world  # rank 0 reads the checkpoint; every process loads the same state
    found = world.broadcast_object(checkpoint.load_latest(ckpt_dir, check=checkpoint.check_training_state)
                                   if world.is_main else None)
    if found is None:
        raise DivergenceError(f"{error}; no checkpoint to roll back to") from error
    rollbacks = trainer.rollbacks + 1
    trainer.load_state(*found)
    trainer.rollbacks = rollbacks
    for optimizer in (trainer.opt.generator, trainer.opt.critic):
        for group in optimizer.param_groups:
            group["lr"] *= lr_factor


@dataclass
class RunResult:
    run_dir: Path
    step: int
    reason: str
    metrics: dict[str, float]


def _versions(registry: Registry) -> dict[str, Any]:
    return {"ganforge": __version__, "torch": torch.__version__,
            "plugins": {n: p.version for n, p in sorted(registry.plugins.items())}}


def _append_line(path: Path, line: str) -> None:
    """Append one line (opened per write, so a rollback may rewrite the file in between)."""
    with path.open("a") as f:
        f.write(line + "\n")


MAX_METRICS_FILE = 1 << 30  # metrics.jsonl is read to at most this many bytes on resume


def _truncate_metrics(path: Path, last_step: int) -> None:
    """Keep only the lines a resumed run will not write again (no duplicates, no gaps).

    Reading stops at the first line that is not a metrics record (a torn last line from a kill, or
    damage); when that drops more than a torn last line, the file as it was is kept beside it
    (``metrics.jsonl.bak``), so nothing is lost.
    """
    if not path.exists():
        return
    try:
        lines = read_bounded(path, MAX_METRICS_FILE).split(b"\n")
    except UnsafeFile as exc:
        raise GanforgeError(f"{path}: {exc}; move it away to resume") from None
    kept: list[str] = []
    for i, raw in enumerate(lines):
        try:
            row = json.loads(raw.decode("utf-8"))
            if type(row["step"]) is not int:
                raise TypeError
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, RecursionError):
            if any(x.strip() for x in lines[i + 1 :]):  # more than a torn last line: keep the original
                atomic_write(path.with_name(path.name + ".bak"), b"\n".join(lines))
            break
        if row["step"] <= last_step:
            kept.append(raw.decode("utf-8"))
    atomic_write(path, ("\n".join(kept) + "\n" if kept else "").encode())


class _Run:
    """One ``ganforge run`` in progress: the trainer plus what falls due between steps.

    Each method is one thing the loop does (log, sample, checkpoint, roll back, stop on a signal);
    :func:`train` sets it up and calls :meth:`loop`.
    """

    def __init__(self, trainer: Trainer, run_dir: Path, static_meta: dict[str, Any], track: Callable[[Any], None],
                 say: Callable[[str], None], registry: Registry) -> None:
        from ganforge.model.pictures import fixed_latent
        from ganforge.runs.directory import METRICS_FILE

        self.trainer, self.run_dir, self.static_meta, self.track, self.say = trainer, run_dir, static_meta, track, say
        self.registry = registry
        self.cfg = trainer.recipe.train
        self.main = trainer.world.is_main
        self.ckpt_dir = run_dir / "checkpoints"
        self.metrics_path = run_dir / METRICS_FILE
        self.saved_step = -1  # the step of the newest checkpoint on disk (never written twice)
        self.last: dict[str, float] = {}
        self.t_log, self.step_log = time.perf_counter(), trainer.step
        self.sample_latent = fixed_latent(trainer.system.spec, self.cfg.sample_grid, trainer.recipe.run.seed, trainer.device)
        self.info = ""  # the progress line's short metrics
        self.logged = False  # whether the last step wrote a metrics line

    def resume(self, restore_rng: bool) -> None:
        """Load the newest valid checkpoint (rank 0 reads it, every process loads it) and trim the metrics log."""
        world, trainer = self.trainer.world, self.trainer
        found = world.broadcast_object(checkpoint.load_latest(self.ckpt_dir, warn=self.say, check=checkpoint.check_training_state)
                                       if self.main else None)
        if found is None:
            existing = checkpoint.list_checkpoints(self.ckpt_dir)
            if existing:  # never restart from zero over checkpoints: they may be repairable, and the log is history
                raise CheckpointError(
                    f"{self.ckpt_dir}: none of the {len(existing)} checkpoint(s) verifies (the reasons are above); "
                    f"nothing was changed. To start over deliberately, train the recipe again in a new run directory: "
                    f"`ganforge run {self.run_dir / 'recipe.toml'}`")
            self.say(f"no checkpoint in {self.ckpt_dir} yet; starting from step 0")
        else:
            trainer.load_state(*found, restore_rng=restore_rng)
            self.say(f"resuming from step {trainer.step}")
            for change in trainer.apply_optimizer_settings():
                self.say(f"from the recipe: {change}")
            self.saved_step = trainer.step
        if self.main:
            _truncate_metrics(self.metrics_path, trainer.step)
        self.t_log, self.step_log = time.perf_counter(), trainer.step

    def save_checkpoint(self) -> None:
        trainer = self.trainer
        if self.saved_step == trainer.step:
            return
        check_finite(trainer.step, trainer.peek_metrics(), trainer.system)  # never checkpoint a diverged state
        trainer.share_metrics()  # the stored running sums are the mean over processes
        if self.main:
            tensors, meta = trainer.state()
            path = checkpoint.save(self.ckpt_dir, trainer.step, tensors, {**meta, **self.static_meta},
                                   self.cfg.keep_checkpoints)
            self.track(CheckpointSaved(trainer.step, path))
            self.keep_best()
        self.saved_step = trainer.step

    def keep_best(self) -> None:
        """``train.keep_best``: evaluate the checkpoint just written; if it is the best so far, mark it kept."""
        cfg, step = self.cfg, self.trainer.step
        if cfg.keep_best is None or not (step % (cfg.eval_every or cfg.checkpoint_every) == 0 or step == cfg.steps):
            return
        from ganforge.evaluation.run import evaluate_apart

        result = evaluate_apart(self.run_dir, self.registry, self.trainer.device, [cfg.keep_best], step)
        got = result.results.get(cfg.keep_best)
        value, higher = (None, True) if got is None else (got.score, got.higher_is_better)
        if value is None:
            self.say(f"train.keep_best: {cfg.keep_best!r} does not apply to this run (or has no headline number)")
            return
        old = checkpoint.best(self.ckpt_dir)
        better = old is None or old.get("metric") != cfg.keep_best or (
            value > old["value"] if higher else value < old["value"])
        if better:
            checkpoint.mark_best(self.ckpt_dir, {"step": step, "metric": cfg.keep_best, "value": value,
                                                 "higher_is_better": higher})
        self.say(f"step {step}: {cfg.keep_best} = {value:.4g}" + (" (best so far)" if better else
                 f" (best: {old['value']:.4g} at step {old['step']})"))

    def save_real(self, data: ImageData) -> None:
        """``samples/real.png``: a grid of training images, to set beside the generated ones."""
        from ganforge.model.pictures import save_grid

        n = min(self.cfg.sample_grid, len(data))
        images = to_unit(data.images[:n])
        save_grid(images, self.run_dir / "samples" / "real.png", nrow=max(1, int(math.sqrt(self.cfg.sample_grid))))

    def save_samples(self) -> None:
        from ganforge.model.pictures import generate, save_grid, save_traversal

        s, system, seed = self.trainer.step, self.trainer.system, self.trainer.recipe.run.seed
        nrow = max(1, int(math.sqrt(self.cfg.sample_grid)))
        gen = system.generator if self.trainer.ema is None else self.trainer.ema.module  # train.ema: the average draws
        paths = [save_grid(generate(gen, system.spec, self.sample_latent),
                           self.run_dir / "samples" / f"step-{s:08d}.png", nrow=nrow)]
        for f in system.spec.factors:
            paths.append(save_traversal(gen, system.spec, f.name,
                                        self.run_dir / "traversals" / f"{f.name}-step-{s:08d}.png", seed=seed))
        self.track(SamplesSaved(s, paths))

    def log(self) -> None:
        """Means since the last log to ``metrics.jsonl`` and the observers; stop on NaN/Inf."""
        s = self.trainer.step
        metrics = self.trainer.pop_metrics()
        check_finite(s, metrics, self.trainer.system)
        now = time.perf_counter()
        rate = (s - self.step_log) * self.trainer.recipe.data.batch_size / max(now - self.t_log, 1e-9)
        self.t_log, self.step_log = now, s
        self.last = {**metrics, "images_per_s": rate}
        if self.main:
            _append_line(self.metrics_path, json.dumps({"step": s, **metrics, "images_per_s": round(rate, 1),
                                                        "time": round(time.time(), 3)}))  # wall clock, Unix seconds
        self.track(MetricsLogged(s, self.last))
        self.info = short_metrics(metrics)
        self.logged = True

    def advance(self) -> None:
        """One step, then whatever falls due at it: metrics (and the NaN/Inf check), samples, checkpoint."""
        self.trainer.train_step()
        s, cfg = self.trainer.step, self.cfg
        if s % cfg.log_every == 0 or s == cfg.steps:
            self.log()
        if self.main and (s % cfg.sample_every == 0 or s == cfg.steps):
            self.save_samples()
        if s % cfg.checkpoint_every == 0 or s == cfg.steps:
            self.save_checkpoint()

    def recover(self, exc: DivergenceError) -> None:
        """``train.on_nonfinite``: re-raise, or roll back to the last checkpoint at lower learning rates."""
        trainer, cfg = self.trainer, self.cfg
        if cfg.on_nonfinite == "stop":
            raise exc
        if trainer.rollbacks >= cfg.max_rollbacks:
            raise DivergenceError(f"{exc} (after {trainer.rollbacks} rollbacks, train.max_rollbacks)") from exc
        roll_back(trainer, self.ckpt_dir, exc, cfg.rollback_lr_factor)
        if self.main:
            _truncate_metrics(self.metrics_path, trainer.step)
        self.saved_step, self.t_log, self.step_log = trainer.step, time.perf_counter(), trainer.step
        self.say(f"{str(exc).partition(';')[0]}; rolled back to step {trainer.step} with learning rates "
                 f"x{cfg.rollback_lr_factor} (rollback {trainer.rollbacks} of {cfg.max_rollbacks})")

    def loop(self, interrupts: _Interrupts, show: bool) -> str:
        """Train to ``train.steps``; returns ``"completed"`` or ``"interrupted"`` (after a checkpoint)."""
        trainer = self.trainer
        reporter = progress(show, trainer.recipe.run.name, self.cfg.steps, trainer.step)
        with reporter as live, deterministic_algorithms(trainer.recipe.run.deterministic):
            while trainer.step < self.cfg.steps:
                self.logged = False
                try:
                    with blame_step(trainer.system, f"training step {trainer.step + 1}"):
                        self.advance()
                except DivergenceError as exc:
                    self.recover(exc)
                live.update(trainer.step, self.info, self.logged)
                if trainer.world.any(interrupts.requested is not None):  # every process stops at the same step
                    interrupts.requested = interrupts.requested or "SIGTERM"
                    self.save_checkpoint()
                    self.say(f"{interrupts.requested}: checkpoint saved at step {trainer.step}; continue with "
                             f"`ganforge run --resume {self.run_dir}`")
                    return "interrupted"
        return "completed"


def train(
    resolved: Resolved,
    registry: Registry,
    run_dir: Path,
    *,
    resume: bool = False,
    device: str | None = None,
    progress: bool = True,
    command: str = "ganforge run",
    say: Callable[[str], None] = print,
    restore_rng: bool = True,
    world: World | None = None,
) -> RunResult:
    """Train (or continue) the run in ``run_dir``; returns when done, interrupted or failed.

    With a ``world`` of several processes (torchrun; ``ganforge/distributed.py``) every process
    trains and only rank 0 writes to ``run_dir``, reports events or speaks through ``say``.
    """
    from ganforge.runs.directory import locked

    world = world or World()
    with locked(run_dir) if world.is_main else nullcontext():  # one training process per run directory
        return _train(resolved, registry, run_dir, resume, device, progress, command, say, restore_rng, world)


def _train(resolved: Resolved, registry: Registry, run_dir: Path, resume: bool, device: str | None, progress: bool,
           command: str, say: Callable[[str], None], restore_rng: bool, world: World) -> RunResult:
    from ganforge.runs.directory import write_recipe

    if not world.is_main:
        say, progress = (lambda message: None), False
    track = registry.track if world.is_main else (lambda event: None)
    dev = world.place(select_device(device or resolved.recipe.run.device))
    data = preflight(resolved, world)  # what `ganforge validate` checks too
    trainer = Trainer(resolved, data, dev, world)
    static_meta = {"image_shape": list(data.image_shape), "num_classes": data.num_classes,
                   "versions": _versions(registry), "recipe": resolved.raw}
    run = _Run(trainer, run_dir, static_meta, track, say, registry)
    if resume:
        run.resume(restore_rng)
    elif world.is_main:
        write_recipe(run_dir, resolved.raw, command)
        run.save_real(data)
    track(RunStarted(run_dir, trainer.step, resolved.raw))
    interrupts = _Interrupts()
    with interrupts.installed():
        try:
            reason = run.loop(interrupts, progress)
        except DivergenceError:
            _tell_failure(track, RunFinished(run_dir, trainer.step, "diverged"))
            raise
        except GanforgeError:  # a plugin raised, or a checkpoint could not be written: the last one is kept
            if run.saved_step >= 0:
                say(f"the checkpoint of step {run.saved_step} is kept; fix the cause, then `ganforge run --resume {run_dir}`")
            _tell_failure(track, RunFinished(run_dir, trainer.step, "failed"))
            raise
    track(RunFinished(run_dir, trainer.step, reason))
    if reason == "interrupted":
        raise Interrupted(f"interrupted at step {trainer.step}; resume with `ganforge run --resume {run_dir}`",
                          interrupts.requested or "SIGINT")
    return RunResult(run_dir, trainer.step, reason, run.last)
