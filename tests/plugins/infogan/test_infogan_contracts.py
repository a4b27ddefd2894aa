"""The InfoGAN plugin's critics and metrics pass ganforge's own contracts, unchanged."""

from __future__ import annotations

import ganforge_infogan

from ganforge.testing import CriticContract, MetricContract, tiny_recipe


class TestInfoganMnistCritic(CriticContract):
    plugin = ganforge_infogan
    kind = "infogan_mnist"


class TestInfoganRgb32Critic(CriticContract):
    plugin = ganforge_infogan
    kind = "infogan_rgb32"
    image_shape = (3, 32, 32)


class TestCodeAccuracyMetric(MetricContract):
    plugin = ganforge_infogan
    name = "code_accuracy"
    recipe = tiny_recipe("infogan", [{"name": "c", "kind": "categorical", "k": 3}],
                         data={"source": "synthetic", "size": 120, "image_size": 8, "batch_size": 8})
