"""The ``ganforge`` command with the tiny test networks registered, for torchrun in test_distributed.py.

``python -m torch.distributed.run --standalone --nproc-per-node 2 tests/distributed_worker.py run …``
is ``torchrun … -m ganforge run …`` plus the networks of :mod:`ganforge.testing`, which have no
batch norm (whose per-process statistics would make a 2-process run differ from a 1-process one).
"""

from __future__ import annotations

import sys

import ganforge.cli as cli
from ganforge.testing import make_registry

if __name__ == "__main__":
    cli._registry = make_registry  # type: ignore[assignment]  # the CLI's registry, plus the tiny networks
    cli.app(sys.argv[1:], prog_name="ganforge")
