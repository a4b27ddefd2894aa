"""benchmarks/shapes_disentanglement.py: its success counts, and its refusal of a bad --jobs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "shapes_disentanglement.py"


@pytest.fixture(scope="module")
def bench(load_benchmark):
    return load_benchmark("shapes_disentanglement")


def _saved(tops: dict[str, str]) -> dict[str, Any]:
    """A saved evaluation whose factor_codes put each code on the given factor (c1 categorical)."""
    codes = {c: {"factor": f, "normalized_mi": 0.5, **({"accuracy": {"shape": 0.9}} if c == "c1" else {})}
             for c, f in tops.items()}
    return {"results": {"factor_codes": {"details": {"codes": codes}}}}


def test_continuous_codes_count_as_distinct_only_when_no_two_share_a_top_factor(bench) -> None:
    assert bench.continuous_distinct(_saved({"c1": "shape", "c2": "scale", "c3": "rotation", "c4": "pos_x",
                                             "c5": "pos_y"}))
    # the categorical code is left out: c1 on the scale beside a continuous code on the scale is not a clash
    assert bench.continuous_distinct(_saved({"c1": "scale", "c2": "scale", "c3": "shape", "c4": "pos_x",
                                             "c5": "pos_y"}))
    assert not bench.continuous_distinct(_saved({"c1": "shape", "c2": "pos_x", "c3": "shape", "c4": "pos_y",
                                                 "c5": "shape"}))


def test_the_scale_counts_as_kept_only_when_a_continuous_code_has_it_on_top(bench) -> None:
    assert bench.scale_kept(_saved({"c1": "shape", "c2": "pos_y", "c3": "scale", "c4": "pos_x", "c5": "shape"}))
    # c1 on the scale does not count: the question is whether a continuous code is left with it
    assert not bench.scale_kept(_saved({"c1": "scale", "c2": "pos_y", "c3": "shape", "c4": "pos_x", "c5": "shape"}))
    assert not bench.scale_kept(_saved({"c1": "shape", "c2": "pos_y", "c3": "shape", "c4": "pos_x", "c5": "shape"}))


def test_jobs_below_one_is_refused_in_one_line() -> None:
    proc = subprocess.run([sys.executable, str(BENCH), "--jobs", "0"], capture_output=True, text=True)
    assert proc.returncode == 2 and "--jobs must be at least 1" in proc.stderr and "Traceback" not in proc.stderr
