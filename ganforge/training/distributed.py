"""Data-parallel training on torch.distributed: one process per device, started by torchrun.

Every rank builds the same networks from the same seed, draws the whole global batch of latents
from the shared seeded generator and keeps its rows, and reads its slice of the same global data
batch (``data.batch_size`` images over all ranks). Each module of the step (``training/step.py``'s
``Generate``, ``CriticStep`` and ``GeneratorStep``, whose ``forward`` runs all of its part's computation)
is wrapped in torch's ``DistributedDataParallel``: its backward pass averages the gradients of the
modules it trains over ranks (bucketed, overlapped with the backward computation), and each forward
first broadcasts rank 0's buffers (batch-norm running statistics), so every rank takes the same
optimizer step and holds the same weights. Only rank 0 writes the run directory (``cli/run.py`` starts
the processes). See ``docs/distributed.md``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import Tensor, nn

from ganforge.errors import GanforgeError

T = TypeVar("T")

BACKENDS = ("gloo", "nccl")


@dataclass(frozen=True)
class World:
    """This process's place among the training processes (``World()`` is a single process)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str = "gloo"

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes the run directory, metrics, samples and checkpoints."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def local_batch(self, global_batch: int) -> int:
        """Rows per process of a global batch; the world size must divide it."""
        if global_batch % self.world_size:
            raise GanforgeError(f"data.batch_size = {global_batch} does not split evenly over {self.world_size} "
                                f"processes; use a multiple of {self.world_size} (it is the global batch)")
        return global_batch // self.world_size

    def rows(self, global_batch: int) -> slice:
        """This process's rows of a global batch (contiguous: rank 0 first)."""
        n = self.local_batch(global_batch)
        return slice(self.rank * n, (self.rank + 1) * n)

    def place(self, device: torch.device) -> torch.device:
        """One CUDA device per local rank (``cuda`` → ``cuda:LOCAL_RANK``); other devices as they are."""
        if self.active and device.type == "cuda" and device.index is None:
            return torch.device("cuda", self.local_rank)
        return device

    def _comm_device(self) -> torch.device:
        return torch.device("cuda", self.local_rank) if self.backend == "nccl" else torch.device("cpu")

    def wrap(self, phase: nn.Module, find_unused_parameters: bool = False) -> nn.Module:
        """``phase`` itself in one process (or when it trains no parameters of its own); with several,
        wrapped in ``DistributedDataParallel``.

        The module's parameters and buffers are broadcast from rank 0 now, as DDP does when it wraps a
        module, and its buffers (batch-norm running statistics, ADA's probability) again before each of its
        forwards. ``find_unused_parameters`` is needed when some of the phase's parameters get no gradient
        in some steps (a lazy regularizer that owns parameters). The phases of ``step.py`` never share a
        module that keeps buffers, so no broadcast overwrites a buffer another phase's pending graph holds.
        """
        if not self.active or not any(p.requires_grad for p in phase.parameters()):
            return phase
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(phase, device_ids=None, find_unused_parameters=find_unused_parameters)

    def all_mean(self, values: Tensor) -> Tensor:
        """The mean of ``values`` over ranks (``values`` itself in a single process)."""
        if not self.active:
            return values
        out = values.detach().to(self._comm_device(), copy=True)
        dist.all_reduce(out)
        return out.div_(self.world_size).to(values.device)

    def any(self, flag: bool) -> bool:
        """True on every rank if ``flag`` is true on any rank (e.g. a signal that reached one process)."""
        if not self.active:
            return flag
        t = torch.tensor([int(flag)], device=self._comm_device())
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def broadcast_object(self, obj: T) -> T:
        """Rank 0's ``obj`` on every rank (a run directory, a loaded checkpoint); pickled between our own processes."""
        if not self.active:
            return obj
        box: list[Any] = [obj]
        dist.broadcast_object_list(box, src=0, device=self._comm_device())
        return box[0]

    def close(self, together: bool = False) -> None:
        """Leave the process group. ``together`` (after a run every rank finished) waits at a barrier first,
        so no rank tears gloo down while a peer still talks to it: a rank that left early aborted with
        "terminate called without an active exception". After a failure there is no barrier: the other
        ranks may be blocked in a collective, and torchrun ends them when this one exits."""
        if self.active and dist.is_initialized():
            try:
                if together:
                    dist.barrier()
            finally:
                dist.destroy_process_group()






def sync_batch_norm(modules: dict[str, nn.Module], device: torch.device) -> None:
    """Turn every batch-norm layer inside ``modules`` into a ``SyncBatchNorm`` (in place; same parameters).

    Statistics are then taken over the global batch of all processes, as in one process with the
    whole batch. torch implements the synchronised layer for CUDA only, so any other device is
    refused here, before training, rather than failing inside the first forward pass.
    """
    if device.type != "cuda":
        raise GanforgeError(f"train.sync_batch_norm needs CUDA devices (torch's SyncBatchNorm runs on GPUs only), "
                            f"but this run uses {device}; set train.sync_batch_norm = false")
    for name, module in modules.items():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            raise GanforgeError(f"train.sync_batch_norm: {name} is itself a batch-norm layer; wrap it in a module")
        nn.SyncBatchNorm.convert_sync_batchnorm(module)  # replaces the children in place


def default_backend(device: torch.device) -> str:
    """nccl for CUDA devices, gloo otherwise."""
    return "nccl" if device.type == "cuda" else "gloo"


def init_from_env(device: torch.device, backend: str | None = None) -> World:
    """Join the process group described by torchrun's environment (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``).

    Without ``WORLD_SIZE`` (or with 1) this is a single process and nothing is initialised.
    ``backend`` (gloo or nccl) overrides the one chosen from ``device``.
    """
    if backend is not None and backend not in BACKENDS:
        raise GanforgeError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return World()
    backend = backend or default_backend(device)
    if backend == "nccl" and device.type != "cuda":
        raise GanforgeError(f"backend 'nccl' needs CUDA devices, but the run uses {device}; use --backend gloo")
    world = World(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", "0")), backend)
    if device.type == "cuda":
        torch.cuda.set_device(world.place(device))
    dist.init_process_group(backend)
    return world


