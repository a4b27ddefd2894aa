"""The ``ganforge`` command with the tiny test networks registered, for torchrun in test_distributed.py.

``python -m torch.distributed.run --standalone --nproc-per-node 2 tests/training/distributed_worker.py run …``
is ``torchrun … -m ganforge run …`` plus the networks of :mod:`ganforge.testing`. With
``GANFORGE_TEST_DUMP`` set to a directory, every rank also writes its final parameters there
(``rank-N.safetensors``), so a test can check that the ranks ended with the same weights.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import ganforge.cli.app as cli
import ganforge.training.loop as engine
from ganforge.testing import make_registry


def _dumping(loop: Any) -> Any:
    def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
        from safetensors.torch import save_file

        reason = loop(self, *args, **kwargs)
        params = {f"{prefix}.{k}": p.detach().contiguous() for prefix, m in self.trainer.system.modules().items()
                  for k, p in m.named_parameters()}
        save_file(params, str(Path(os.environ["GANFORGE_TEST_DUMP"]) / f"rank-{self.trainer.world.rank}.safetensors"))
        return reason

    return wrapped


if __name__ == "__main__":
    cli._registry = make_registry  # type: ignore[assignment]  # the CLI's registry, plus the tiny networks
    if os.environ.get("GANFORGE_TEST_DUMP"):
        engine._Run.loop = _dumping(engine._Run.loop)  # type: ignore[method-assign]
    cli.app(sys.argv[1:], prog_name="ganforge")
