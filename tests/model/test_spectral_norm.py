"""critic.norm = "spectral" in the vanilla critics: every layer's largest singular value is 1, the state dict
round trip is exact (power-iteration vectors included), and a run with it trains and resumes."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import tomli_w
import torch
from torch import nn
from typer.testing import CliRunner

from ganforge import BuildContext, LatentSpec
from ganforge.runs import checkpoint
from ganforge.cli.app import app
from ganforge_vanilla.networks import DCGANCritic, MLPCritic
from ganforge_vanilla.options import DCGANCriticOptions, MLPCriticOptions

runner = CliRunner()
CTX = BuildContext(image_shape=(1, 28, 28), spec=LatentSpec(noise_dim=4))


def _critics() -> list[nn.Module]:
    torch.manual_seed(0)
    return [DCGANCritic(DCGANCriticOptions(width=8, norm="spectral"), CTX),
            MLPCritic(MLPCriticOptions(hidden=16, layers=2, norm="spectral"), CTX)]


@pytest.mark.parametrize("index", [0, 1])
def test_spectral_norm_bounds_every_layer_and_round_trips(index: int) -> None:
    critic = _critics()[index]
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in critic.modules())
    x = torch.randn(4, 1, 28, 28)
    for _ in range(30):  # power iterations run in training-mode forwards
        critic.head(critic.features(x))
    critic.eval()
    for layer in critic.modules():
        if isinstance(layer, nn.Linear):  # a conv's operator norm is not its kernel matrix's; the matrix is what SN bounds
            assert torch.linalg.matrix_norm(layer.weight.detach(), ord=2).item() == pytest.approx(1.0, abs=1e-3)
    state = critic.state_dict()
    assert any(k.endswith("_u") for k in state) and any(k.endswith("original") for k in state)
    twin = _critics()[index].eval()
    twin.load_state_dict(copy.deepcopy(state), strict=True)
    assert torch.equal(twin.head(twin.features(x)), critic.head(critic.features(x)))


def test_a_spectral_norm_run_resumes_to_the_same_weights(tiny_raw: dict[str, Any], tmp_path: Path) -> None:
    tiny_raw["critic"]["norm"] = "spectral"
    dirs = []
    for name, steps in (("straight", 6), ("stopped", 3)):
        raw = copy.deepcopy(tiny_raw)
        raw["train"].update(steps=steps, checkpoint_every=3)
        (tmp_path / f"{name}.toml").write_text(tomli_w.dumps(raw))
        result = runner.invoke(app, ["run", str(tmp_path / f"{name}.toml"), "--out", str(tmp_path / name), "--no-progress"])
        assert result.exit_code == 0, result.output
        dirs.append(next((tmp_path / name).iterdir()))
    result = runner.invoke(app, ["run", "--resume", str(dirs[1]), "--no-progress", "--set", "train.steps=6"])
    assert result.exit_code == 0, result.output
    a, _ = checkpoint.load(dirs[0] / "checkpoints" / "step-00000006.json")
    b, _ = checkpoint.load(dirs[1] / "checkpoints" / "step-00000006.json")
    critic_keys = [k for k in a if k.startswith("critic.")]
    assert any(k.endswith("_u") for k in critic_keys)
    for k in critic_keys:
        assert torch.equal(a[k], b[k]), k
