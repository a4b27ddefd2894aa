"""Shared fixtures of the CGAN plugin's tests.

The plugin is imported as an installed package when it is one; from a plain checkout the repository
root and ``plugins/`` are put on ``sys.path`` so ``pytest tests/plugins/cgan`` works either way.
"""

from __future__ import annotations

import copy
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.find_spec("ganforge_cgan")
if _spec is None or _spec.origin is None:  # not installed, or installed before __init__.py existed (a namespace)
    sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]

import ganforge.builtins  # noqa: E402
import ganforge_cgan  # noqa: E402
from ganforge.registry import Registry, load_registry  # noqa: E402

#: a CGAN on 512 synthetic blobs whose label is the quadrant of the blob (4 classes), with small networks
TINY_CGAN: dict[str, Any] = {
    "run": {"name": "tiny-cgan", "seed": 0, "device": "cpu"},
    "data": {"source": "synthetic", "size": 512, "batch_size": 32},
    "model": {"method": "cgan"},
    "latent": {"noise_dim": 8, "factors": [{"name": "y", "kind": "label", "k": 4}]},
    "generator": {"kind": "cgan_mnist", "hidden": 64, "channels": 16},
    "critic": {"kind": "cgan_mnist", "hidden": 64, "channels": 16},
    "train": {"steps": 4, "log_every": 2, "sample_every": 4, "checkpoint_every": 4, "sample_grid": 4},
}


@pytest.fixture(scope="session")
def registry() -> Registry:
    """A fresh registry with only the core and the CGAN plugin (no entry points), strict."""
    return load_registry(strict=True, entry_points=False, extra=[("cgan", ganforge_cgan), ("core", ganforge.builtins)])


@pytest.fixture
def cgan_raw() -> dict[str, Any]:
    return copy.deepcopy(TINY_CGAN)
