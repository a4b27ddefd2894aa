"""train.ema: the moving average of G's weights is the average a hand computation gives, resumes bitwise,
and is what sample / eval / export use by default (--raw-generator for the trained weights)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import tomli_w
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from ganforge.runs import checkpoint
from ganforge.cli.app import app
from ganforge.model.ema import PREFIX, ema_beta, pick_generator
from ganforge.recipe.model import resolve
from ganforge.registry import Registry
from ganforge.training.state import Trainer
from ganforge.data.load import load_data

runner = CliRunner()
HALF_LIFE_KIMG = 0.05  # 50 images: about three batches of 16, so a few steps move the average visibly


def _ema_raw(tiny_raw: dict[str, Any], rampup: float = 0.0) -> dict[str, Any]:
    tiny_raw["train"]["ema"] = {"half_life_kimg": HALF_LIFE_KIMG, "rampup": rampup}
    return tiny_raw


def test_beta_is_half_per_half_life_and_ramps_up() -> None:
    assert ema_beta(10.0, 0.0, 32, 64) ** (10_000 / 32) == pytest.approx(0.5)
    assert ema_beta(10.0, 0.05, 32, 640) == pytest.approx(0.5 ** (32 / 32))  # ramp-up: half-life 0.05·640 = 32 images
    assert ema_beta(10.0, 0.05, 32, 10**9) == ema_beta(10.0, 0.0, 32, 10**9)  # the cap no longer binds


def test_ema_equals_the_hand_computed_average(tiny_raw: dict[str, Any], registry: Registry) -> None:
    resolved = resolve(_ema_raw(tiny_raw), registry)
    trainer = Trainer(resolved, load_data(resolved), torch.device("cpu"))
    assert trainer.ema is not None
    gen = trainer.system.generator
    expected = {k: v.detach().clone().double() for k, v in gen.named_parameters()}  # the average starts at θ_0
    beta = 0.5 ** (16 / (HALF_LIFE_KIMG * 1000))
    for _ in range(4):
        trainer.train_step()
        expected = {k: beta * expected[k] + (1 - beta) * p.detach().double() for k, p in gen.named_parameters()}
    got = dict(trainer.ema.module.named_parameters())
    for k, v in expected.items():
        torch.testing.assert_close(got[k].double(), v, rtol=0, atol=1e-6)
        assert not torch.equal(got[k], dict(gen.named_parameters())[k])  # an average, not a copy
    for (k, b), (_, raw_b) in zip(trainer.ema.module.named_buffers(), gen.named_buffers(), strict=True):
        assert torch.equal(b, raw_b), k  # batch-norm statistics are copied


def _train(raw: dict[str, Any], tmp_path: Path, name: str, steps: int) -> Path:
    raw["train"].update(steps=steps, checkpoint_every=3)
    recipe = tmp_path / f"{name}.toml"
    recipe.write_text(tomli_w.dumps(raw))
    result = runner.invoke(app, ["run", str(recipe), "--out", str(tmp_path / name), "--no-progress"])
    assert result.exit_code == 0, result.output
    return next((tmp_path / name).iterdir())


def test_ema_ada_p_and_lecam_anchors_survive_a_resume_bitwise(tiny_raw: dict[str, Any], tmp_path: Path) -> None:
    # with the rest of the toolbox, whose state is buffers too: ADA's p and LeCam's anchors
    tiny_raw["augment"] = {"policy": ["translation", "cutout", "color"], "p": 0.0, "ada_target": 0.6,
                           "ada_interval": 1, "ada_kimg": 0.5}
    tiny_raw["regularizers"] = [{"kind": "lecam"}]
    straight = _train(_ema_raw(copy.deepcopy(tiny_raw), rampup=0.05), tmp_path, "straight", 6)
    stopped = _train(_ema_raw(copy.deepcopy(tiny_raw), rampup=0.05), tmp_path, "stopped", 3)
    result = runner.invoke(app, ["run", "--resume", str(stopped), "--no-progress", "--set", "train.steps=6"])
    assert result.exit_code == 0, result.output
    a, _ = checkpoint.load(straight / "checkpoints" / "step-00000006.json")
    b, _ = checkpoint.load(stopped / "checkpoints" / "step-00000006.json")
    assert any(k.startswith(PREFIX + ".") for k in a) and "augment.p" in a and "regularizers.lecam.anchor_real" in a
    assert a["augment.p"].item() > 0
    for k in a:
        if not k.startswith("acc."):
            assert torch.equal(a[k], b[k]), k


def test_commands_use_the_ema_weights_by_default(tiny_raw: dict[str, Any], tmp_path: Path) -> None:
    run_dir = _train(_ema_raw(tiny_raw), tmp_path, "run", 6)
    tensors, _ = checkpoint.load(run_dir / "checkpoints" / "step-00000006.json")
    for flags, weights in (([], "ema"), (["--raw-generator"], "raw")):
        out = tmp_path / f"export-{weights}"
        result = runner.invoke(app, ["export", str(run_dir), "--out", str(out), *flags])
        assert result.exit_code == 0, result.output
        assert ("EMA generator" in result.output) == (weights == "ema"), result.output
        exported = load_file(out / "generator.safetensors")
        source = PREFIX if weights == "ema" else "generator"
        for k, v in exported.items():
            assert torch.equal(v, tensors[f"{source}.{k}"]), k
        assert json.loads((out / "generator.json").read_text())["weights"] == weights
        result = runner.invoke(app, ["eval", str(run_dir), "--json", "--metric", "training", *flags])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["generator"] == weights
        result = runner.invoke(app, ["sample", str(run_dir), "-n", "4", "--out", str(tmp_path / "s.png"), *flags])
        assert result.exit_code == 0 and ("EMA generator" in result.output) == (weights == "ema"), result.output


def test_a_run_without_ema_loads_its_trained_weights() -> None:
    tensors = {"generator.w": torch.zeros(1), "critic.w": torch.ones(1)}
    assert pick_generator(tensors, raw=False) == (tensors, "raw")
    with_ema = {**tensors, f"{PREFIX}.w": torch.full((1,), 2.0)}
    picked, weights = pick_generator(with_ema, raw=False)
    assert weights == "ema" and picked["generator.w"].item() == 2.0 and f"{PREFIX}.w" not in picked


def test_the_average_leaves_training_unchanged(tiny_raw: dict[str, Any], registry: Registry) -> None:
    # why a recipe can take train.ema without re-measuring what it trains: G, D and every other trained
    # weight after a few steps are bitwise those of the same run without the average
    def trained(raw: dict[str, Any]) -> dict[str, torch.Tensor]:
        torch.manual_seed(0)
        resolved = resolve(raw, registry)
        trainer = Trainer(resolved, load_data(resolved), torch.device("cpu"))
        for _ in range(4):
            trainer.train_step()
        tensors, _ = trainer.state()  # weights, optimizer moments, RNG: all a checkpoint holds
        return {k: v.clone() for k, v in tensors.items() if not k.startswith(PREFIX + ".")}

    plain = trained(copy.deepcopy(tiny_raw))
    averaged = trained(_ema_raw(copy.deepcopy(tiny_raw), rampup=0.05))
    assert plain.keys() == averaged.keys() and any(k.startswith("critic.") for k in plain)
    for k, v in plain.items():
        assert torch.equal(v, averaged[k]), k
