"""The seeded batch stream: an in-memory dataset drawn in a new permutation each epoch.

Images stay on the training device as ``uint8`` and become floats in ``[-1, 1]`` one batch at a
time. The order depends only on ``(seed, epoch)``, so the stream's whole state is two integers
and a resumed run sees exactly the batches an uninterrupted one would. Incomplete last batches
are dropped so every step has the same shape (kind to BN statistics and to compiled graphs).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ganforge.errors import DataError
from ganforge.interfaces import ImageData
from ganforge.data.pixels import to_unit


@dataclass
class StreamState:
    epoch: int = 0
    position: int = 0  # index of the next batch within the epoch


def require_one_batch(data: ImageData, batch_size: int, world_size: int = 1) -> int:
    """Each process's share of ``data`` (images), which must hold at least one batch of ``batch_size``."""
    n = len(data) // world_size
    if n < batch_size:
        raise DataError(f"{data.description}: {len(data)} images, fewer than one batch of {batch_size} per process; "
                        "lower data.batch_size")
    return n


class BatchStream:
    """Yields ``(images (B, C, H, W) float in [-1, 1], labels (B,) or None)``."""

    def __init__(self, data: ImageData, batch_size: int, seed: int, device: torch.device | str = "cpu",
                 rank: int = 0, world_size: int = 1) -> None:
        n = require_one_batch(data, batch_size, world_size)
        self.images = data.images.to(device)
        self.labels = data.labels.to(device) if data.labels is not None else None
        self.batch_size = batch_size
        self.seed = seed
        self.rank, self.world_size = rank, world_size
        self.batches_per_epoch = n // batch_size
        self.state = StreamState()
        self._order: Tensor | None = None
        self._order_epoch = -1

    def _epoch_order(self, epoch: int) -> Tensor:
        if self._order_epoch != epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            perm = torch.randperm(len(self.images), generator=g)
            self._order = perm[self.rank :: self.world_size].to(self.images.device)  # this process's shard
            self._order_epoch = epoch
        assert self._order is not None
        return self._order

    def next(self) -> tuple[Tensor, Tensor | None]:
        if self.state.position >= self.batches_per_epoch:
            self.state = StreamState(self.state.epoch + 1, 0)
        order = self._epoch_order(self.state.epoch)
        start = self.state.position * self.batch_size
        idx = order[start : start + self.batch_size]
        self.state.position += 1
        x = to_unit(self.images[idx])  # batch-level transform
        y = self.labels[idx] if self.labels is not None else None
        return x, y

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.state.epoch, "position": self.state.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.state = StreamState(int(state["epoch"]), int(state["position"]))
