"""The ``vanilla`` method: networks and loss defaults for a plain GAN."""

from __future__ import annotations

from typing import Any

import ganforge


def _defaults(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "generator": {"kind": "dcgan"},
        "critic": {"kind": "dcgan"},
        "objective": {"kind": "nonsaturating"},
        "optim": {"generator": {"lr": 2e-4, "betas": [0.5, 0.999]}, "critic": {"lr": 2e-4, "betas": [0.5, 0.999]}},
    }


def vanilla(options: ganforge.NoOptions) -> ganforge.Method:
    return ganforge.Method("vanilla", "Non-saturating GAN (Goodfellow et al. 2014) with DCGAN networks.", _defaults)
