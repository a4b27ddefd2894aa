"""Fault injection for the reliability tests and ``benchmarks/fault_campaign.py``.

Each injector is a context manager that patches one thing for the length of a ``with`` block, so a
test can make a real training run meet a full disk, a NaN or a kill in the middle of a checkpoint
write. Training never uses this module; ``docs/reliability.md`` lists the tests that do.
"""

from __future__ import annotations

import errno
import os
import signal
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal
from unittest import mock

import torch


def _fd_path(fd: int) -> str:
    """The path an open file descriptor refers to ('' where /proc is unavailable)."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


@contextmanager
def disk_full(free_bytes: int = 0) -> Iterator[list[str]]:
    """A disk with ``free_bytes`` left: once the regular files fsynced inside the block add up to more,
    ``os.fsync`` fails with ``ENOSPC`` (where a real full disk reports delayed allocation failures).

    Yields the list of paths whose write failed.
    """
    real_fsync = os.fsync
    used = 0
    failed: list[str] = []

    def fsync(fd: int) -> None:
        nonlocal used
        info = os.fstat(fd)
        if stat.S_ISREG(info.st_mode):
            used += info.st_size
            if used > free_bytes:
                failed.append(_fd_path(fd))
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    with mock.patch.object(os, "fsync", fsync):
        yield failed


@contextmanager
def sigkill_during_write(name_fragment: str) -> Iterator[None]:
    """SIGKILL this process while it writes a file whose name contains ``name_fragment``: the temporary
    file is cut to half its length first, as a kill in the middle of ``write`` would leave it."""
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if name_fragment in os.path.basename(_fd_path(fd)):
            os.ftruncate(fd, os.fstat(fd).st_size // 2)
            os.kill(os.getpid(), signal.SIGKILL)
        real_fsync(fd)

    with mock.patch.object(os, "fsync", fsync):
        yield


@contextmanager
def nonfinite_at(step: int, where: Literal["loss", "weights"] = "loss", value: float = float("nan"),
                 times: int = 1) -> Iterator[list[int]]:
    """Right after training step ``step`` (at most ``times`` times in the block, e.g. again after a
    rollback replays it), put ``value`` into the critic's adversarial loss term's running sum (``"loss"``) or
    into the generator's first weight (``"weights"``). Yields the list of steps it fired at."""
    from ganforge.training.state import Trainer

    real_step = Trainer.train_step
    fired: list[int] = []

    def train_step(self: Trainer) -> None:
        real_step(self)
        if self.step != step or len(fired) >= times:
            return
        fired.append(step)
        if where == "loss":
            key = min(self._acc, key=lambda k: (not k.endswith("/adv"), k))  # a loss term, the critic's first
            self._acc[key] = self._acc[key] + value
        else:
            with torch.no_grad():
                next(self.system.generator.parameters()).view(-1)[0] = value

    with mock.patch.object(Trainer, "train_step", train_step):
        yield fired


def main(argv: list[str] | None = None) -> None:
    """``python -m ganforge.testing.faults FRAGMENT ARGS...``: run ``ganforge ARGS`` and SIGKILL it while it
    writes a file whose name contains FRAGMENT (e.g. ``step-00000020.json``)."""
    import sys

    from ganforge.cli.app import app

    fragment, *args = sys.argv[1:] if argv is None else argv
    with sigkill_during_write(fragment):
        app(args=args, prog_name="ganforge")


if __name__ == "__main__":
    main()
