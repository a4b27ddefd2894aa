"""Contract tests and helpers for plugin authors: subclass a contract, name your plugin, run pytest.

``ganforge.testing`` is public API, like the names in ``ganforge.__all__`` (it needs pytest)::

    import ganforge_vonmises
    from ganforge.testing import LatentFactorContract

    class TestVonMises(LatentFactorContract):
        plugin = ganforge_vonmises
        kind = "vonmises"

- :class:`LatentFactorContract`, :class:`RegularizerContract`, :class:`MethodContract`,
  :class:`DatasetContract`, :class:`CriticContract`, :class:`MetricContract`: every check the engine
  relies on, built through the registry;
- :func:`train_steps`: train a recipe a few real steps on the CPU and get its metrics log;
- :func:`tiny_recipe`, :class:`TinyGenerator`, :class:`TinyCritic`: a recipe and networks that make
  a step take milliseconds (generator, critic and method ``"tiny"``);
- :func:`make_registry`: the installed plugins plus yours, installed or not;
- :func:`kill_after_checkpoints`: ``kill -9`` a ``ganforge run`` process after its n-th checkpoint (resume tests).

See docs/plugins/tutorial.md for a walk-through.
"""

from __future__ import annotations

from ganforge.testing.base import PluginContract
from ganforge.testing.components import (
    CriticContract,
    DatasetContract,
    MethodContract,
    MetricContract,
    RegularizerContract,
)
from ganforge.testing.factors import LatentFactorContract, fit_posterior
from ganforge.testing.networks import TINY, TINY_PLUGIN, TinyCritic, TinyGenerator, TinyOptions
from ganforge.testing.runs import TESTING_PLUGIN, kill_after_checkpoints, make_registry, tiny_recipe, train_steps

__all__ = [
    "LatentFactorContract",
    "RegularizerContract",
    "MethodContract",
    "DatasetContract",
    "CriticContract",
    "MetricContract",
    "PluginContract",
    "fit_posterior",
    "train_steps",
    "tiny_recipe",
    "make_registry",
    "kill_after_checkpoints",
    "TinyGenerator",
    "TinyCritic",
    "TinyOptions",
    "TINY",
    "TINY_PLUGIN",
    "TESTING_PLUGIN",
]
