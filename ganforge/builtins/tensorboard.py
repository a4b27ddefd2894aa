"""``train.loggers = ["tensorboard"]``: scalars, sample grids and traversals as TensorBoard events.

An observer like any other plugin's (the ``track_event`` hook): on ``RunStarted`` it opens a
``SummaryWriter`` on ``RUN_DIR/tensorboard`` when the run's recipe asks for it, then writes every
logged metric as a scalar and every saved PNG as an image, and closes on ``RunFinished``. View with
``tensorboard --logdir runs``. Needs the optional extra: ``pip install -e ".[tensorboard]"``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ganforge.events import MetricsLogged, RunFinished, RunStarted, SamplesSaved

NAME = "tensorboard"
_writer: Any = None  # the open writer of the run in progress (one run at a time per process)


def wanted(recipe: dict[str, Any]) -> bool:
    train = recipe.get("train") if isinstance(recipe, dict) else None
    return isinstance(train, dict) and NAME in (train.get("loggers") or [])


def observe(event: Any) -> None:
    global _writer
    if isinstance(event, RunStarted):
        if _writer is not None:
            _writer.close()
        _writer = None
        if wanted(event.recipe):
            from torch.utils.tensorboard import SummaryWriter

            _writer = SummaryWriter(log_dir=str(event.run_dir / NAME), purge_step=event.step or None)
    elif _writer is None:
        return
    elif isinstance(event, MetricsLogged):
        for key, value in event.metrics.items():
            _writer.add_scalar(key, value, event.step)
    elif isinstance(event, SamplesSaved):
        import numpy as np
        from PIL import Image

        for path in event.paths:
            with Image.open(path) as img:
                array = np.asarray(img.convert("RGB"))
            tag = "samples" if Path(path).parent.name == "samples" else f"traversals/{Path(path).name.split('-step-')[0]}"
            _writer.add_image(tag, array, event.step, dataformats="HWC")
    elif isinstance(event, RunFinished):
        _writer.close()
        _writer = None
