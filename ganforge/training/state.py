"""A run's trainable state: networks, the phases of ``step.py`` (DDP-wrapped under torchrun), optimizers,
the data stream, the RNGs, the step counter, running metric sums, and exact save / restore.

``Trainer.train_step`` runs one iteration of ``step.iteration`` and supplies what the algorithm leaves to
the caller: the latent and data batches, the precision, and descending (``backward()``, the optimizer's
step). The loop around it (logging, samples, checkpoints, signals, resume rules) is ``loop.py``.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ganforge.runs import checkpoint
from ganforge.data.stream import BatchStream
from ganforge.model.devices import AUTOCAST, autocast_dtype, fast_cuda_math, precision_name
from ganforge.training.distributed import World, sync_batch_norm
from ganforge.model.ema import GeneratorEMA
from ganforge.errors import CheckpointError, GanforgeError
from ganforge.interfaces import ImageData
from ganforge.latent import LatentBatch
from ganforge.recipe.model import Resolved
from ganforge.training.step import CriticStep, Generate, GeneratorStep, Phases, StepResult, iteration
from ganforge.model.system import System, build_system




@dataclass
class Optimizers:
    generator: torch.optim.Adam
    critic: torch.optim.Adam


FUSED_ADAM_DEVICES = ("cpu", "cuda")  # where torch has a fused Adam kernel


def make_optimizers(system: System, resolved: Resolved) -> Optimizers:
    """One Adam per network; each regularizer's parameters join the optimizer it names."""
    opt = resolved.recipe.optim
    g_params = list(system.generator.parameters())
    d_params = list(system.critic.parameters())
    for reg in system.regularizers.values():
        (g_params if reg.optimizer == "generator" else d_params).extend(reg.parameters())

    def adam(params: list, cfg: Any) -> torch.optim.Adam:
        # one fused kernel per update instead of several element-wise passes per tensor: the same Adam, about
        # 11× faster for InfoGAN's 13 M parameters on this project's CPU (benchmarks/adam_update.py)
        fused = bool(params) and all(p.device.type in FUSED_ADAM_DEVICES for p in params)
        return torch.optim.Adam(params, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay,
                                fused=fused or None)

    return Optimizers(adam(g_params, opt.generator), adam(d_params, opt.critic))


def joint_pass(critic: nn.Module, setting: bool | str) -> bool:
    """Whether the critic step sends real and fake through the critic as one batch (``train.joint_critic_pass``).

    'auto' does where that changes nothing but speed: a critic without batch norm computes each image's
    output from that image alone, so one batch of 2B equals two of B (up to float rounding).
    """
    if setting != "auto":
        return bool(setting)
    return not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in critic.modules())


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


def match_parameter_layout(optimizer: torch.optim.Optimizer) -> None:
    """Give each restored optimizer-state tensor its parameter's memory layout (strides).

    Checkpoints hold contiguous (NCHW) tensors, and ``Optimizer.load_state_dict`` keeps that layout,
    while Adam creates its moments like the parameter (channels-last under ``train.channels_last``).
    The fused CPU Adam kernel walks parameter, gradient and moments as flat memory, so moments in
    another layout than their parameter are updated with the wrong elements: a resumed run then left
    the uninterrupted run's trajectory at its first step (issue 40, ``tests/training/test_resume_networks.py``).
    """
    for param, state in optimizer.state.items():
        for key, value in state.items():
            if isinstance(value, Tensor) and value.shape == param.shape and value.stride() != param.stride():
                state[key] = torch.empty_like(param, dtype=value.dtype).copy_(value)


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
        ema = self.recipe.train.ema  # the average is built before speed_up: a plain copy, never compiled
        self.ema = (GeneratorEMA(self.system.generator, ema.half_life_kimg, ema.rampup, self.recipe.data.batch_size)
                    if ema.half_life_kimg > 0 else None)
        speed_up(self.system, self.recipe.train.channels_last, self.recipe.train.compile)
        self.system.check_labels(data.labels is not None, data.description)
        # each phase's trainable modules; under torchrun, DistributedDataParallel averages their gradients
        lazy = {side: any(self.system.every[k] > 1 and any(True for _ in r.parameters())
                          for k, r in self.system.side(side).items()) for side in ("critic", "generator")}
        critic_step = CriticStep(self.system, joint_pass(self.system.critic, self.recipe.train.joint_critic_pass))
        self.phases = Phases(generate=self.world.wrap(Generate(self.system)),
                             critic=self.world.wrap(critic_step, lazy["critic"]),
                             generator=self.world.wrap(GeneratorStep(self.system), lazy["generator"]))
        self.stream = BatchStream(data, self.world.local_batch(self.recipe.data.batch_size), seed, device,
                                  self.world.rank, self.world.world_size)
        self.latent_rng = torch.Generator(device=device).manual_seed(seed + 1)
        # 'auto' measures the hardware in each process: every process trains at rank 0's choice
        chosen = self.world.broadcast_object(precision_name(autocast_dtype(self.recipe.train.precision, device)))
        self.autocast = AUTOCAST[chosen]
        fast_cuda_math(device)
        self.step = 0
        self.rollbacks = 0  # NaN/Inf rollbacks so far in this run (train.on_nonfinite = "rollback")
        self._acc: dict[str, Tensor] = {}  # running sums of the logged terms since the last log
        self._count: dict[str, int] = {}  # how many values each sum holds (lazy terms and n_critic differ)

    @property
    def precision(self) -> str:
        """The precision this run trains at, 'fp32' or 'bf16' ('auto' resolved)."""
        return precision_name(self.autocast)

    def cast(self) -> Any:
        """The autocast context every forward of the step runs in (a no-op in fp32)."""
        if self.autocast is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast)

    def _latent(self) -> LatentBatch:
        """The global batch of latents from the run's generator; with several processes, this process's rows."""
        latent = self.system.spec.sample(self.recipe.data.batch_size, self.latent_rng, self.device)
        return latent.rows(self.world.rows(len(latent))) if self.world.active else latent

    def descend(self, phase: str, result: StepResult) -> dict[str, Tensor]:
        """Backpropagate ``result.loss`` and step ``phase``'s optimizer ("critic" or "generator"); its logs."""
        optimizer = getattr(self.opt, phase)
        optimizer.zero_grad(set_to_none=True)
        result.loss.backward()  # under DDP this also averages the gradients over processes
        optimizer.step()
        return result.logs

    def train_step(self) -> None:
        """One iteration of the algorithm (``step.iteration``), then the EMA of G and the running log sums."""
        logs = iteration(self.phases, self.step, self.recipe.train.n_critic, self._latent, self.stream.next,
                         self.descend, self.cast)
        if self.ema is not None:
            self.ema.update(self.system.generator, self.step + 1)
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
        if self.ema is not None:
            tensors.update(self.ema.state())
        tensors["rng.latent"] = self.latent_rng.get_state()
        tensors["rng.torch"] = torch.get_rng_state()
        if self.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        tensors.update({f"acc.{k}": v for k, v in self._acc.items()})
        meta.update(step=self.step, stream=self.stream.state_dict(), acc_counts=dict(self._count),
                    acc_count=max(self._count.values(), default=0), rollbacks=self.rollbacks,
                    precision=self.precision)
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
        if self.ema is not None and not self.ema.load(tensors):  # a checkpoint from before train.ema was set
            self.ema.module.load_state_dict(self.system.generator.state_dict())
        for name in ("generator", "critic"):
            state = checkpoint.unflatten_optimizer(f"optim.{name}", tensors, meta["optimizers"][name])
            optimizer = getattr(self.opt, name)
            optimizer.load_state_dict(state)
            match_parameter_layout(optimizer)
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
        if self.recipe.train.precision == "auto" and meta.get("precision") in AUTOCAST:
            # a resumed run keeps the precision 'auto' chose when it started (the same machine decides the same,
            # another one might not), so the resumed run is the run that went straight on
            self.autocast = AUTOCAST[meta["precision"]]
