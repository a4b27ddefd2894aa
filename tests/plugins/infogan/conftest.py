"""Shared fixtures of the InfoGAN plugin's tests.

The plugin is imported as an installed package when it is one; from a plain checkout the repository
root and ``plugins/`` are put on ``sys.path`` so ``pytest tests/plugins/infogan`` works either way.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.find_spec("ganforge_infogan")
if _spec is None or _spec.origin is None:  # not installed, or an editable install made before __init__.py existed
    sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]  # (it then maps the folder as a namespace): use the checkout

import ganforge  # noqa: E402
import ganforge.builtins  # noqa: E402
import ganforge_infogan  # noqa: E402
from ganforge.registry import Registry, load_registry  # noqa: E402


@pytest.fixture(scope="session")
def registry() -> Registry:
    """A fresh registry with only the core and the InfoGAN plugin (no entry points), strict."""
    return load_registry(
        strict=True, entry_points=False, extra=[("infogan", ganforge_infogan), ("core", ganforge.builtins)]
    )


@pytest.fixture
def make_recipe() -> Callable[..., dict[str, Any]]:
    """Builds the smallest raw recipe the ``infogan`` method accepts, with the given ``[[latent.factors]]``."""

    def make(*factors: dict[str, Any]) -> dict[str, Any]:
        return {
            "data": {"source": "synthetic"},
            "model": {"method": "infogan"},
            "latent": {"noise_dim": 8, "factors": list(factors)},
        }

    return make
