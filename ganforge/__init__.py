"""ganforge: a plugin-based GAN framework on PyTorch.

The public API is exactly ``__all__``. Names backed by torch are imported lazily so that the
CLI's light commands (``--help``, ``plugins``, ``validate``) start without importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from ganforge.hookspecs import hookimpl

__version__ = "0.1.0"

_LAZY = {
    # interfaces (torch)
    "LatentFactor": "ganforge.latent",
    "OneHotFactor": "ganforge.latent",
    "InferableFactor": "ganforge.latent",
    "Generator": "ganforge.interfaces",
    "Critic": "ganforge.interfaces",
    "Objective": "ganforge.interfaces",
    "Regularizer": "ganforge.interfaces",
    "Encoder": "ganforge.interfaces",
    "StepView": "ganforge.interfaces",
    "CriticAccess": "ganforge.interfaces",
    "Terms": "ganforge.interfaces",
    "Method": "ganforge.methods",
    "BuildContext": "ganforge.interfaces",
    "ImageData": "ganforge.interfaces",
    "DataContext": "ganforge.interfaces",
    "Metric": "ganforge.interfaces",
    "MetricResult": "ganforge.results",
    "Headline": "ganforge.results",
    "ResultTable": "ganforge.results",
    "Evaluation": "ganforge.results",
    "EvalRun": "ganforge.evaluation.run",
    "hungarian_accuracy": "ganforge.evaluation.metrics",
    "LatentSpec": "ganforge.latent",
    "LatentBatch": "ganforge.latent",
    # registry, recipes, errors (no torch)
    "NoOptions": "ganforge.registry",
    "Registry": "ganforge.registry",
    "load_registry": "ganforge.registry",
    "Recipe": "ganforge.recipe.model",
    "load_recipe": "ganforge.recipe.model",
    "GanforgeError": "ganforge.errors",
    "RecipeError": "ganforge.errors",
    "PluginError": "ganforge.errors",
    "DataError": "ganforge.errors",
    "CheckpointError": "ganforge.errors",
    "DivergenceError": "ganforge.errors",
    # running
    "train": "ganforge.training.loop",
    "evaluate": "ganforge.evaluation.run",
    "load_run": "ganforge.runs.loaded",
    "load_generator": "ganforge.runs.export",
}

__all__ = ["__version__", "hookimpl", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ganforge' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
