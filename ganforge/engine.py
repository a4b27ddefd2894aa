"""The training loop around the step of ``step.py``: optimizers, precision, devices, logging, samples,
checkpoints, signals, divergence handling and exact resume.

The algorithm itself (what one critic and one generator step compute) is in ``ganforge/step.py``;
this module only feeds it batches, calls ``backward()`` and steps. Per-step numbers stay on the
device and are read once per logging interval, so there is no host synchronisation inside the step.
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
from torch import Tensor

from ganforge import __version__, checkpoint
from ganforge.data.stream import BatchStream
from ganforge.devices import autocast_dtype, deterministic_algorithms, select_device
from ganforge.distributed import World, sync_batch_norm
from ganforge.errors import CheckpointError, DivergenceError, GanforgeError, PluginError
from ganforge.events import CheckpointSaved, MetricsLogged, RunFinished, RunStarted, SamplesSaved
from ganforge.interfaces import DataContext, ImageData
from ganforge.latent import LatentBatch
from ganforge.recipe import Resolved
from ganforge.progress import progress, short_metrics
from ganforge.registry import Registry
from ganforge.safefiles import UnsafeFile, read_bounded
from ganforge.step import CriticStep, GeneratorStep, StepResult
from ganforge.system import System, blame, blame_step, build_system


def load_data(resolved: Resolved, cache_dir: str = "~/.cache/ganforge") -> ImageData:
    """Build the recipe's data source (and apply ``data.limit``)."""
    entry, options = resolved.data
    ctx = DataContext(seed=resolved.recipe.run.seed, cache_dir=cache_dir, recipe_dir=str(Path(resolved.source).parent))
    with blame(entry.plugin, f"loading data source {entry.name!r}"):
        data: ImageData = entry.build(options, ctx)
    limit = resolved.recipe.data.limit
    if limit is not None and limit < len(data):
        data = ImageData(data.images[:limit], None if data.labels is None else data.labels[:limit], data.num_classes,
                         None if data.factors is None else {k: v[:limit] for k, v in data.factors.items()},
                         data.factor_kinds, data.description + f", first {limit}", data.render_factors)
    return data


@dataclass
class Optimizers:
    generator: torch.optim.Adam
    critic: torch.optim.Adam


def make_optimizers(system: System, resolved: Resolved) -> Optimizers:
    """One Adam per network; each regularizer's parameters join the optimizer it names."""
    opt = resolved.recipe.optim
    g_params = list(system.generator.parameters())
    d_params = list(system.critic.parameters())
    for reg in system.regularizers.values():
        (g_params if reg.optimizer == "generator" else d_params).extend(reg.parameters())

    def adam(params: list, cfg: Any) -> torch.optim.Adam:
        return torch.optim.Adam(params, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)

    return Optimizers(adam(g_params, opt.generator), adam(d_params, opt.critic))


def speed_up(system: System, channels_last: bool, compile_: bool) -> None:
    """Layout and compilation choices that change speed, never the maths (up to float rounding).

    Channels-last conv weights make oneDNN/cuDNN produce channels-last activations, which batch norm
    and the next convolution process several times faster than NCHW on this kind of CPU
    (``benchmarks/throughput.py``). Parameters change layout in place, so optimizers keep them.
    Compiling wraps the generator's ``forward`` and the critic's ``features``/``head`` per instance,
    so state-dict keys (and checkpoints) stay the same.
    """
    if channels_last:
        for module in system.modules().values():
            module.to(memory_format=torch.channels_last)
    if compile_:
        system.generator.compile()
        critic = system.critic
        critic.features = torch.compile(critic.features)  # type: ignore[method-assign]
        critic.head = torch.compile(critic.head)  # type: ignore[method-assign]


class Trainer:
    """One run's state: networks, the two phases of ``step.py``, optimizers, data stream, RNGs, step counter.

    It supplies each phase with its data (a real batch, a latent batch from the run's seeded generator),
    runs ``backward()`` and the optimizer step, and keeps the logged terms' running sums on the device.
    """

    def __init__(self, resolved: Resolved, data: ImageData, device: torch.device, world: World | None = None) -> None:
        self.resolved = resolved
        self.world = world or World()  # a single process unless torchrun started several (ganforge/distributed.py)
        self.recipe = resolved.recipe
        self.device = device
        seed = self.recipe.run.seed
        torch.manual_seed(seed)  # weight initialisation
        self.system = build_system(resolved, data.image_shape, data.num_classes).to(device)
        if self.recipe.train.sync_batch_norm:
            sync_batch_norm(self.system.modules(), device)
        self.opt = make_optimizers(self.system, resolved)
        speed_up(self.system, self.recipe.train.channels_last, self.recipe.train.compile)
        if self.system.spec.condition is not None and data.labels is None:
            raise GanforgeError(f"latent factor {self.system.spec.condition.name!r} conditions the critic on labels, "
                                f"but the data ({data.description}) has none")
        # each phase's trainable modules; under torchrun, DistributedDataParallel averages their gradients
        lazy = {side: any(self.system.every[k] > 1 and any(True for _ in r.parameters())
                          for k, r in self.system.side(side).items()) for side in ("critic", "generator")}
        self.critic_phase = self.world.wrap(CriticStep(self.system, self.recipe.train.joint_critic_pass), lazy["critic"])
        self.generator_phase = self.world.wrap(GeneratorStep(self.system), lazy["generator"])
        self.stream = BatchStream(data, self.world.local_batch(self.recipe.data.batch_size), seed, device,
                                  self.world.rank, self.world.world_size)
        self.latent_rng = torch.Generator(device=device).manual_seed(seed + 1)
        self.autocast = autocast_dtype(self.recipe.train.precision, device)
        self.step = 0
        self.rollbacks = 0  # NaN/Inf rollbacks so far in this run (train.on_nonfinite = "rollback")
        self._acc: dict[str, Tensor] = {}  # running sums of the logged terms since the last log
        self._count: dict[str, int] = {}  # how many values each sum holds (lazy terms and n_critic differ)

    def _cast(self) -> Any:
        if self.autocast is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast)

    def _latent(self) -> LatentBatch:
        """The global batch of latents from the run's generator; with several processes, this process's rows."""
        latent = self.system.spec.sample(self.recipe.data.batch_size, self.latent_rng, self.device)
        return latent.rows(self.world.rows(len(latent))) if self.world.active else latent

    def _descend(self, optimizer: torch.optim.Optimizer, result: StepResult) -> dict[str, Tensor]:
        optimizer.zero_grad(set_to_none=True)
        result.loss.backward()  # under DDP this also averages the gradients over processes
        optimizer.step()
        return result.logs

    def critic_step(self, index: int | None = None) -> dict[str, Tensor]:
        """One update of D (``step.CriticStep``) on a fresh real and latent batch; returns its logs."""
        real, labels = self.stream.next()
        index = self.step * self.recipe.train.n_critic if index is None else index
        with self._cast():
            result = self.critic_phase(real, labels, self._latent(), self.step, index)
        return self._descend(self.opt.critic, result)

    def generator_step(self) -> dict[str, Tensor]:
        """One update of G (``step.GeneratorStep``) on a fresh latent batch; returns its logs."""
        with self._cast():
            result = self.generator_phase(self._latent(), self.step, self.step)
        return self._descend(self.opt.generator, result)

    def train_step(self) -> None:
        """One iteration: ``n_critic`` critic steps, then one generator step."""
        n = self.recipe.train.n_critic
        logs = [self.critic_step(self.step * n + i) for i in range(n)]
        logs.append(self.generator_step())
        for record in logs:
            for k, v in record.items():
                self._acc[k] = self._acc[k] + v if k in self._acc else v.clone()
                self._count[k] = self._count.get(k, 0) + 1
        self.step += 1

    def apply_optimizer_settings(self) -> list[str]:
        """Set every optimizer's lr, betas and weight decay from the recipe (after a resume: ``--set`` works there).

        The learning rate is the recipe's, times ``rollback_lr_factor`` once per rollback so far (the same
        multiplications a rollback made, so an unchanged recipe resumes bitwise). Returns what changed.
        """
        changes = []
        for name in ("generator", "critic"):
            cfg = getattr(self.recipe.optim, name)
            lr = cfg.lr
            for _ in range(self.rollbacks):
                lr *= self.recipe.train.rollback_lr_factor
            for group in getattr(self.opt, name).param_groups:
                wanted = {"lr": lr, "betas": tuple(cfg.betas), "weight_decay": cfg.weight_decay}
                for key, value in wanted.items():
                    old = tuple(group[key]) if key == "betas" else group[key]
                    if old != value:
                        changes.append(f"optim.{name}.{key} = {value} (the checkpoint had {old})")
                group.update(wanted)
        return sorted(set(changes))

    def peek_metrics(self) -> dict[str, float]:
        """Means over the steps since the last :meth:`pop_metrics` (one host sync)."""
        if not self._acc:
            return {}
        keys = sorted(self._acc)
        sums = self.world.all_mean(torch.stack([self._acc[k] for k in keys]))
        counts = torch.tensor([self._count[k] for k in keys], dtype=sums.dtype, device=sums.device)
        return dict(zip(keys, (sums / counts).tolist(), strict=True))

    def share_metrics(self) -> None:
        """Replace each process's running sums by their mean over processes (before a checkpoint stores them)."""
        if self.world.active and self._acc:
            keys = sorted(self._acc)
            self._acc = dict(zip(keys, self.world.all_mean(torch.stack([self._acc[k] for k in keys])).unbind(), strict=True))

    def pop_metrics(self) -> dict[str, float]:
        """Means over the steps since the last call (one host sync per logging interval)."""
        metrics = self.peek_metrics()
        self._acc, self._count = {}, {}
        return metrics

    # --- state ----------------------------------------------------------------------------------
    def state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        tensors: dict[str, Tensor] = {}
        for prefix, module in self.system.modules().items():
            tensors.update({f"{prefix}.{k}": v for k, v in module.state_dict().items()})
        meta: dict[str, Any] = {"optimizers": {}}
        for name in ("generator", "critic"):
            t, m = checkpoint.flatten_optimizer(f"optim.{name}", getattr(self.opt, name).state_dict())
            tensors.update(t)
            meta["optimizers"][name] = m
        tensors["rng.latent"] = self.latent_rng.get_state()
        tensors["rng.torch"] = torch.get_rng_state()
        if self.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        tensors.update({f"acc.{k}": v for k, v in self._acc.items()})
        meta.update(step=self.step, stream=self.stream.state_dict(), acc_counts=dict(self._count),
                    acc_count=max(self._count.values(), default=0), rollbacks=self.rollbacks)
        return tensors, meta

    def load_state(self, tensors: dict[str, Tensor], meta: dict[str, Any], restore_rng: bool = True) -> None:
        """Restore everything :meth:`state` saved; content that does not fit is a one-line CheckpointError."""
        try:
            self._load_state(tensors, meta, restore_rng)
        except GanforgeError:
            raise
        except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as exc:
            raise CheckpointError(f"the checkpoint of step {meta.get('step')} does not fit this run: "
                                  f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:200]}") from None

    def _load_state(self, tensors: dict[str, Tensor], meta: dict[str, Any], restore_rng: bool) -> None:
        for prefix, module in self.system.modules().items():
            sub = {k[len(prefix) + 1 :]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
            try:
                module.load_state_dict(sub, strict=True)
            except RuntimeError as exc:
                raise GanforgeError(f"checkpoint does not fit this recipe's {prefix}: {str(exc).splitlines()[0]}") from None
        for name in ("generator", "critic"):
            state = checkpoint.unflatten_optimizer(f"optim.{name}", tensors, meta["optimizers"][name])
            getattr(self.opt, name).load_state_dict(state)
        if restore_rng:
            self.latent_rng.set_state(tensors["rng.latent"])
            torch.set_rng_state(tensors["rng.torch"])
            if self.device.type == "cuda" and "rng.cuda" in tensors:
                torch.cuda.set_rng_state(tensors["rng.cuda"], self.device)
        self._acc = {k[4:]: v.to(self.device) for k, v in tensors.items() if k.startswith("acc.")}
        counts = meta.get("acc_counts")  # checkpoints before per-term counts held one count for every term
        self._count = {k: int(counts[k]) if isinstance(counts, dict) else int(meta["acc_count"]) for k in self._acc}
        self.stream.load_state_dict(meta["stream"])
        self.step = int(meta["step"])
        self.rollbacks = int(meta.get("rollbacks", 0))


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
                checkpoint.atomic_write(path.with_name(path.name + ".bak"), b"\n".join(lines))
            break
        if row["step"] <= last_step:
            kept.append(raw.decode("utf-8"))
    checkpoint.atomic_write(path, ("\n".join(kept) + "\n" if kept else "").encode())


class _Run:
    """One ``ganforge run`` in progress: the trainer plus what falls due between steps.

    Each method is one thing the loop does (log, sample, checkpoint, roll back, stop on a signal);
    :func:`train` sets it up and calls :meth:`loop`.
    """

    def __init__(self, trainer: Trainer, run_dir: Path, static_meta: dict[str, Any], track: Callable[[Any], None],
                 say: Callable[[str], None], registry: Registry) -> None:
        from ganforge.pictures import fixed_latent
        from ganforge.runs import METRICS_FILE

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
        from ganforge.evaluation import evaluate

        entry = self.registry.get("metric", cfg.keep_best)
        with blame(entry.plugin, f"metric {cfg.keep_best!r} (train.keep_best)"):
            metric = entry.build(entry.options())
        with torch.random.fork_rng(devices=[self.trainer.device] if self.trainer.device.type == "cuda" else []):
            result = evaluate(self.run_dir, self.registry, device=self.trainer.device, only=[cfg.keep_best], step=step)
        value = metric.headline(result[cfg.keep_best]) if cfg.keep_best in result else None
        if value is None:
            self.say(f"train.keep_best: {cfg.keep_best!r} does not apply to this run (or has no headline number)")
            return
        old = checkpoint.best(self.ckpt_dir)
        better = old is None or old.get("metric") != cfg.keep_best or (
            value > old["value"] if metric.higher_is_better else value < old["value"])
        if better:
            checkpoint.mark_best(self.ckpt_dir, {"step": step, "metric": cfg.keep_best, "value": value,
                                                 "higher_is_better": metric.higher_is_better})
        self.say(f"step {step}: {cfg.keep_best} = {value:.4g}" + (" (best so far)" if better else
                 f" (best: {old['value']:.4g} at step {old['step']})"))

    def save_real(self, data: ImageData) -> None:
        """``samples/real.png``: a grid of training images, to set beside the generated ones."""
        from ganforge.pictures import save_grid

        n = min(self.cfg.sample_grid, len(data))
        images = data.images[:n].float().div(127.5).sub(1)  # uint8 → [-1, 1]
        save_grid(images, self.run_dir / "samples" / "real.png", nrow=max(1, int(math.sqrt(self.cfg.sample_grid))))

    def save_samples(self) -> None:
        from ganforge.pictures import generate, save_grid, save_traversal

        s, system, seed = self.trainer.step, self.trainer.system, self.trainer.recipe.run.seed
        nrow = max(1, int(math.sqrt(self.cfg.sample_grid)))
        paths = [save_grid(generate(system.generator, system.spec, self.sample_latent),
                           self.run_dir / "samples" / f"step-{s:08d}.png", nrow=nrow)]
        for f in system.spec.factors:
            paths.append(save_traversal(system.generator, system.spec, f.name,
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
    from ganforge.runs import locked

    world = world or World()
    with locked(run_dir) if world.is_main else nullcontext():  # one training process per run directory
        return _train(resolved, registry, run_dir, resume, device, progress, command, say, restore_rng, world)


def _train(resolved: Resolved, registry: Registry, run_dir: Path, resume: bool, device: str | None, progress: bool,
           command: str, say: Callable[[str], None], restore_rng: bool, world: World) -> RunResult:
    from ganforge.runs import write_recipe

    if not world.is_main:
        say, progress = (lambda message: None), False
    track = registry.track if world.is_main else (lambda event: None)
    dev = world.place(select_device(device or resolved.recipe.run.device))
    data = load_data(resolved)
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
