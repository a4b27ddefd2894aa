"""Typed events sent to the ``track_event`` hook (observers only; they cannot change a run)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RunStarted:
    run_dir: Path
    step: int  # 0, or the step a resumed run continues from
    recipe: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricsLogged:
    step: int
    metrics: dict[str, float]


@dataclass(frozen=True)
class SamplesSaved:
    step: int
    paths: list[Path]


@dataclass(frozen=True)
class CheckpointSaved:
    step: int
    path: Path


@dataclass(frozen=True)
class RunFinished:
    run_dir: Path
    step: int
    reason: str  # "completed", "interrupted", "diverged", "failed"
