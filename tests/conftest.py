"""Shared fixtures: a registry of the built-in plugins and tiny recipes that train in seconds."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import ganforge.builtins
import ganforge_vanilla
from ganforge.registry import Registry, load_registry

TINY: dict[str, Any] = {
    "run": {"name": "tiny", "seed": 0, "device": "cpu"},
    "data": {"source": "synthetic", "size": 64, "batch_size": 16},
    "model": {"method": "vanilla"},
    "latent": {"noise_dim": 8},
    "generator": {"kind": "mlp", "hidden": 32, "layers": 1},
    "critic": {"kind": "mlp", "hidden": 32, "layers": 1},
    "train": {"steps": 6, "log_every": 2, "sample_every": 3, "checkpoint_every": 3, "sample_grid": 4, "precision": "fp32"},
}


@pytest.fixture
def tiny_raw() -> dict[str, Any]:
    """A raw recipe dict for a vanilla MLP GAN on 64 synthetic images (trains in well under a second)."""
    return copy.deepcopy(TINY)


@pytest.fixture
def registry() -> Registry:
    """A fresh registry of the core and vanilla plugins, registered explicitly."""
    return load_registry(entry_points=False, extra=[("core", ganforge.builtins), ("vanilla", ganforge_vanilla)])
