"""ganforge-vonmises: a von Mises (angle) latent code for ganforge's InfoGAN.

A plugin is a module with ``@hookimpl`` functions, found through the ``ganforge`` entry-point group
(see ``pyproject.toml``). The factory is a ``"module:attr"`` string, so ``ganforge plugins`` and
``ganforge validate`` import this module without importing torch.
"""

from __future__ import annotations

from typing import Any

from ganforge import hookimpl
from ganforge_vonmises.options import VonMisesOptions

__version__ = "0.1.0"


@hookimpl
def register_latent_factors(register: Any) -> None:
    """Register ``kind = "vonmises"``: an angle code, (cos, sin) into G, a von Mises posterior in Q."""
    register("vonmises", "ganforge_vonmises.factor:VonMises", VonMisesOptions,
             help="Angle code on the circle (uniform or von Mises prior): (cos, sin) into G, von Mises posterior in Q.")
