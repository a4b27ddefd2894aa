"""The CGAN plugin's conditional critic passes ganforge's critic contract."""

from __future__ import annotations

import ganforge_cgan
from ganforge_cgan.factors import Label
from ganforge_cgan.options import LabelOptions

from ganforge import LatentSpec
from ganforge.testing import CriticContract


class TestConditionalCritic(CriticContract):
    plugin = ganforge_cgan
    kind = "cgan_mnist"
    num_classes = 10

    def make_spec(self) -> LatentSpec:
        return LatentSpec(noise_dim=4, factors=[Label("y", 1.0, LabelOptions(k=10))])
