"""End to end: a short InfoGAN run through the CLI, its L_I climbing; and the engine stepping Q with the optimizer the recipe names."""

from __future__ import annotations

import json
import math
from pathlib import Path

import tomli_w
import torch
from typer.testing import CliRunner

from ganforge.cli.app import app
from ganforge.training.state import Trainer
from ganforge.data.load import load_data
from ganforge.recipe.model import resolve
from ganforge.registry import load_registry
from ganforge.testing import tiny_recipe

NETS = {"kind": "mlp", "hidden": 64, "layers": 1}


def test_short_run_logs_a_rising_l_i_below_its_ceiling(tmp_path: Path) -> None:
    raw = tiny_recipe(
        "infogan", [{"name": "c1", "kind": "categorical", "k": 4}, {"name": "c2", "kind": "uniform", "lambda": 0.1}],
        generator=NETS, critic=NETS,
        train={"steps": 120, "log_every": 10, "sample_every": 120, "checkpoint_every": 120},
    )
    recipe = tmp_path / "info.toml"
    recipe.write_text("# ganforge run info.toml\n" + tomli_w.dumps(raw))
    result = CliRunner().invoke(app, ["run", str(recipe), "--out", str(tmp_path / "runs"), "--no-progress"])
    assert result.exit_code == 0, result.output
    (log,) = (tmp_path / "runs").glob("*/metrics.jsonl")
    l_i = [json.loads(line)["generator/mutual_information/L_I/c1"] for line in log.read_text().splitlines()]
    assert len(l_i) == 12
    assert max(l_i) <= math.log(4) + 1e-6  # a categorical code's bound never exceeds H(c1) = ln 4
    assert min(l_i[-3:]) > l_i[0] + 0.25 * math.log(4), l_i  # it climbs well above where it started


def test_q_on_the_generators_optimizer_is_stepped_by_it() -> None:
    """``optimizer = "generator"``: Q's parameters belong to G's Adam only, and one train step moves them."""
    raw = tiny_recipe("infogan", [{"name": "c1", "kind": "categorical", "k": 4}],
                      generator=NETS, critic=NETS, regularizers=[{"kind": "mutual_information", "optimizer": "generator"}])
    resolved = resolve(raw, load_registry())  # installed plugins, as the CLI sees them (the tiny nets are vanilla's)
    trainer = Trainer(resolved, load_data(resolved), torch.device("cpu"))
    (q,) = trainer.system.regularizers.values()
    owned = {group: {id(p) for g in opt.param_groups for p in g["params"]}
             for group, opt in (("generator", trainer.opt.generator), ("critic", trainer.opt.critic))}
    assert {id(p) for p in q.parameters()} <= owned["generator"]
    assert not {id(p) for p in q.parameters()} & owned["critic"]
    before = [p.detach().clone() for p in q.parameters()]
    trainer.train_step()
    assert any(not torch.equal(b, p) for b, p in zip(before, q.parameters()))
