"""benchmarks/gan_toolbox_ablation.py: every variant it trains is a valid recipe that adds what it names,
and its summary is the median and range over seeds."""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path

import pytest

from ganforge.recipe.model import resolve
from ganforge.registry import load_registry


@pytest.fixture(scope="module")
def bench(load_benchmark):
    return load_benchmark("gan_toolbox_ablation")


def test_every_variant_is_a_valid_recipe_with_its_techniques(bench, tmp_path: Path) -> None:
    base = bench.base_recipe(bench.RECIPE, [])
    assert "ema" in tomllib.loads(bench.RECIPE.read_text())["train"]  # the shipped recipe's, dropped from the base
    assert bench.base_recipe(bench.RECIPE, ["train.ema.half_life_kimg=2"])["train"]["ema"] == {"half_life_kimg": 2}
    args = argparse.Namespace(data=tmp_path, ema_kimg=5.0, lecam=0.3)
    registry = load_registry()
    for name in bench.EDITS:
        r = resolve(bench.variant_recipe(base, name, args), registry).recipe
        assert r.data.source == "idx"
        assert (r.train.ema.half_life_kimg == 5.0) == (name in ("ema", "all"))
        assert (r.critic.model_extra or {}).get("norm") == ("spectral" if name in ("sn", "all") else None)
        assert (r.augment.policy == bench.POLICY) == (name in ("diffaug", "ada", "all"))
        assert (r.augment.ada_target == 0.6) == (name == "ada")
        assert any(g.kind == "lecam" for g in r.regularizers) == (name in ("lecam", "all"))
        assert (r.objective.kind == "hinge") == (name in ("hinge", "all"))
    assert "lecam" not in {g.get("kind") for g in base.get("regularizers", [])}  # the base recipe is not edited


def test_summary_is_median_and_range_over_seeds(bench) -> None:
    rows = [{"variant": "ema", "step": 1000, "domain_fid": f, "classifier_score": c, "domain_kid": k,
             "precision_recall/precision": p, "precision_recall/recall": r, "wall_s": 60.0 * w}
            for f, c, k, p, r, w in ((10.0, 9.0, 0.5, 0.7, 0.8, 2), (30.0, 8.0, 1.5, 0.6, 0.9, 4),
                                     (20.0, 9.5, 1.0, 0.8, 0.7, 3))]
    assert bench.summary(rows)[-1] == ("| ema | 1000 | 3 | 20.0 [10.0, 30.0] | 9.00 [8.00, 9.50] | 1.000 [0.500, 1.500] | "
                                       "0.700 [0.600, 0.800] | 0.800 [0.700, 0.900] | 3.0 |")
    assert bench.summary(rows)[0].count("|") == bench.summary(rows)[1].count("|")  # header and rule agree
