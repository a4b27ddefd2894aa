"""Data-parallel training on torch.distributed: one process per device, started by torchrun.

Every rank builds the same networks from the same seed, draws the whole global batch of latents
from the shared seeded generator and keeps its rows, and reads its slice of the same global data
batch (``data.batch_size`` images over all ranks). After each backward pass the gradients are
averaged over ranks with one all-reduce, so every rank takes the same optimizer step and holds the
same weights: the single-process algorithm, with the batch sums taken in a different order. Only
rank 0 writes the run directory. See ``docs/distributed.md``.

The gradients are all-reduced by hand rather than through ``DistributedDataParallel``: the critic
is called through ``features``/``head`` (not ``forward``, which DDP's wrapper intercepts), and the
generator step freezes the critic, so one explicit all-reduce between ``backward()`` and
``step()`` is both what DDP does and easier to read.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
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

    def average_gradients(self, params: Iterable[Tensor]) -> None:
        """Replace each parameter's gradient by its mean over ranks (one all-reduce; ``None`` stays ``None``)."""
        if self.active:
            grads = [p.grad for p in params if p.grad is not None]
            _flat_collective(grads, lambda flat: (dist.all_reduce(flat), flat.div_(self.world_size)))

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

    def broadcast_modules(self, modules: Iterable[nn.Module]) -> None:
        """Copy rank 0's parameters and buffers to every rank, as DDP does when it wraps a module."""
        if self.active:
            tensors = [t.data for m in modules for t in [*m.parameters(), *m.buffers()] if t.is_floating_point()]
            _flat_collective(tensors, lambda flat: dist.broadcast(flat, src=0))

    def close(self) -> None:
        if self.active and dist.is_initialized():
            dist.destroy_process_group()


def _flat_collective(tensors: list[Tensor], op: Any) -> None:
    """Run ``op`` on one flat copy of ``tensors`` (one message, any memory layout), then copy back."""
    if not tensors:
        return
    flat = torch.cat([t.reshape(-1) for t in tensors])
    op(flat)
    offset = 0
    for t in tensors:
        t.copy_(flat[offset : offset + t.numel()].view_as(t))
        offset += t.numel()


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
