"""The built-in metrics pass the metric contract a third party's metric is held to."""

from __future__ import annotations

import ganforge.builtins
from ganforge.testing import MetricContract


class TestTrainingSummaryMetric(MetricContract):
    plugin = ganforge.builtins
    plugin_name = "core"
    name = "training"
