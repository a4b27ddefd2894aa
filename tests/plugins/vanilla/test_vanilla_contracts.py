"""The vanilla plugin's critics pass ganforge's critic contract, spectral normalisation included."""

from __future__ import annotations

import ganforge_vanilla

from ganforge.testing import CriticContract


class TestDCGANCritic(CriticContract):
    plugin = ganforge_vanilla
    kind = "dcgan"


class TestSpectralDCGANCritic(CriticContract):
    plugin = ganforge_vanilla
    kind = "dcgan"
    options = {"norm": "spectral"}


class TestMLPCritic(CriticContract):
    plugin = ganforge_vanilla
    kind = "mlp"
