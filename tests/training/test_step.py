"""The step (ganforge/training/step.py) as the engine runs it: phase order, n_critic, frozen critic side in the
generator step, namespaced terms, lazy regularizers, checkpointed regularizer buffers."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import pytest
import torch
from pydantic import BaseModel, ConfigDict
from torch import nn

import ganforge
from ganforge.runs import checkpoint
from ganforge.training.state import Trainer
from ganforge.data.load import load_data
from ganforge.errors import PluginError, RecipeError
from ganforge.recipe.model import resolve
from ganforge.training.step import combine
from ganforge.testing import make_registry, tiny_recipe, train_steps

CALLS: list[tuple[str, str, int]] = []


class NoOpts(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Recorder(ganforge.Regularizer):
    """Records each phase call; owns a parameter p (trained by the critic's optimizer via p²) and a buffer."""

    def __init__(self, options: NoOpts, ctx: ganforge.BuildContext) -> None:
        super().__init__()
        self.p = nn.Parameter(torch.ones(3))
        self.register_buffer("calls", torch.zeros((), dtype=torch.int64))
        self.label = ""

    def critic_terms(self, view: ganforge.StepView) -> ganforge.Terms:
        CALLS.append(("critic", self.label, view.step))
        self.calls += 1
        return ganforge.Terms(losses={"penalty": self.p.square().sum()}, logs={"seen": torch.tensor(1.0)})

    def generator_terms(self, view: ganforge.StepView) -> ganforge.Terms:
        CALLS.append(("generator", self.label, view.step))
        return ganforge.Terms(losses={"penalty": view.fake.square().mean()})


class Clashing(Recorder):
    def critic_terms(self, view: ganforge.StepView) -> ganforge.Terms:
        return ganforge.Terms(losses={"x": self.p.sum()}, logs={"x": self.p.sum().detach()})


def _register(register: Any) -> None:
    register("recorder", Recorder, NoOpts, help="records phase calls")
    register("clashing", Clashing, NoOpts, help="a log named like its loss")


PLUGINS = [("steptest", types.SimpleNamespace(register_regularizers=ganforge.hookimpl(_register)))]


def _trainer(raw: dict[str, Any]) -> Trainer:
    registry = make_registry(PLUGINS)
    resolved = resolve(raw, registry)
    trainer = Trainer(resolved, load_data(resolved), torch.device("cpu"))
    for name, reg in trainer.system.regularizers.items():
        reg.label = name  # type: ignore[assignment]
    return trainer


@pytest.fixture(autouse=True)
def _clear() -> None:
    CALLS.clear()


def test_n_critic_critic_steps_then_one_generator_step_in_order() -> None:
    trainer = _trainer(tiny_recipe(regularizers=[{"kind": "recorder"}], train={"n_critic": 3}))
    trainer.train_step()
    trainer.train_step()
    phases = [phase for phase, _, _ in CALLS]
    assert phases == ["critic"] * 3 + ["generator"] + ["critic"] * 3 + ["generator"]
    assert [step for _, _, step in CALLS] == [0, 0, 0, 0, 1, 1, 1, 1]


@pytest.mark.parametrize("n_critic", [1, 3])
def test_one_generator_pass_per_critic_step_and_the_generator_step_reuses_the_last(n_critic: int) -> None:
    """As in the official InfoGAN code: G runs once per critic step, and the generator step scores the last critic
    step's fake batch (the same tensor, with its graph into G) instead of drawing and generating a new one."""
    trainer = _trainer(tiny_recipe(train={"n_critic": n_critic}))
    calls: list[torch.Tensor] = []
    trainer.system.generator.register_forward_hook(lambda m, args, out: calls.append(out))
    seen: dict[str, list[torch.Tensor]] = {"critic": [], "generator": []}
    critic_phase, generator_phase = trainer.phases.critic, trainer.phases.generator
    trainer.phases.critic = lambda real, labels, latent, fake, *a: (seen["critic"].append(fake), critic_phase(real, labels, latent, fake, *a))[1]  # type: ignore[assignment]
    trainer.phases.generator = lambda latent, fake, *a: (seen["generator"].append(fake), generator_phase(latent, fake, *a))[1]  # type: ignore[assignment]
    trainer.train_step()
    assert len(calls) == n_critic and seen["critic"] == calls and seen["generator"] == [calls[-1]]
    assert calls[-1].requires_grad and not any(c.requires_grad for c in calls[:-1])  # only the last keeps a graph


def test_generator_step_leaves_the_critic_and_q_untouched_and_moves_g() -> None:
    raw = tiny_recipe("infogan", [{"name": "c", "kind": "categorical", "k": 3}])
    trainer = _trainer(raw)
    trainer.train_step()  # Adam has state: a zero gradient would still move weights, so this is a real check
    critic_side = [trainer.system.critic, trainer.system.regularizers["mutual_information"]]
    before = [{k: v.clone() for k, v in m.state_dict().items()} for m in critic_side]
    g_before = {k: v.clone() for k, v in trainer.system.generator.state_dict().items()}
    for module in critic_side:
        module.zero_grad(set_to_none=True)  # what the critic step left
    latent = trainer._latent()
    trainer.descend("generator", trainer.phases.generator(latent, trainer.phases.generate(latent), trainer.step))
    for module, old in zip(critic_side, before, strict=True):
        assert all(torch.equal(v, old[k]) for k, v in module.state_dict().items() if "running" not in k and "num_batches" not in k)
        assert all(p.grad is None for p in module.parameters())  # not even computed
    assert any(not torch.equal(v, g_before[k]) for k, v in trainer.system.generator.state_dict().items())


def test_two_regularizers_with_the_same_term_names_both_train_and_log(tmp_path: Path) -> None:
    raw = tiny_recipe(regularizers=[{"kind": "recorder", "name": "a"}, {"kind": "recorder", "name": "b"}])
    trainer = _trainer(raw)
    regs = trainer.system.regularizers
    trainer.train_step()
    assert all(not torch.equal(regs[k].p.detach(), torch.ones(3)) for k in ("a", "b"))  # each p² reached its p
    metrics = trainer.pop_metrics()
    assert {"critic/a/penalty", "critic/b/penalty", "generator/a/penalty", "generator/b/penalty", "critic/adv"} <= set(metrics)
    log = train_steps(raw, 2, tmp_path, plugins=PLUGINS)
    assert log[-1]["critic/a/penalty"] == pytest.approx(log[-1]["critic/b/penalty"])


def test_two_regularizers_with_one_name_are_rejected_naming_both() -> None:
    raw = tiny_recipe(regularizers=[{"kind": "recorder"}, {"kind": "recorder"}])
    with pytest.raises(RecipeError, match=r"regularizers\[0\] and regularizers\[1\] are both named 'recorder'"):
        resolve(raw, make_registry(PLUGINS))


def test_a_log_named_like_a_loss_of_the_same_regularizer_is_an_error() -> None:
    trainer = _trainer(tiny_recipe(regularizers=[{"kind": "clashing"}]))
    latent = trainer._latent()
    with pytest.raises(PluginError, match=r"'clashing' returned 'x' both as a loss and as a log"):
        real, labels = trainer.stream.next()
        with torch.no_grad():
            fake = trainer.phases.generate(latent)
        trainer.phases.critic(real, labels, latent, fake, 0, 0)


def test_a_lazy_regularizer_runs_every_n_steps_scaled_by_n() -> None:
    trainer = _trainer(tiny_recipe(regularizers=[{"kind": "recorder", "every": 2}]))
    for _ in range(4):
        trainer.train_step()
    assert [(phase, step) for phase, _, step in CALLS] == [("critic", 0), ("generator", 0), ("critic", 2), ("generator", 2)]
    got = ganforge.Terms(losses={"t": torch.tensor(3.0)})
    result = combine("critic", torch.tensor(1.0), {"r": (got, 4)}, {})
    assert float(result.loss) == 1.0 + 4 * 3.0 and float(result.logs["critic/r/t"]) == 3.0  # logged unscaled
    metrics = trainer.pop_metrics()
    assert metrics["critic/recorder/seen"] == 1.0  # averaged over the steps it ran, not over all steps


def test_a_regularizers_buffer_is_checkpointed(tmp_path: Path) -> None:
    train_steps(tiny_recipe(regularizers=[{"kind": "recorder"}], train={"n_critic": 2}), 3, tmp_path, plugins=PLUGINS)
    tensors, _ = checkpoint.load_latest(tmp_path / "run" / "checkpoints")  # type: ignore[misc]
    assert int(tensors["regularizers.recorder.calls"]) == 6
