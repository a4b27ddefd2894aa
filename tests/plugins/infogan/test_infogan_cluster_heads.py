"""mutual_information_plus with several categorical heads: the choice by real-image loss, G's code on the chosen head,
the over-clustering head's shapes, and the default left as it was."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pydantic
import pytest
import torch
from safetensors.torch import load_file
from torch import Tensor

from ganforge import BuildContext, CriticAccess, LatentSpec, StepView
from ganforge.testing import TinyCritic
from ganforge_infogan.cluster_heads import HeadChoice, align
from ganforge_infogan.factors import Categorical, Uniform
from ganforge_infogan.options import CategoricalOptions, MutualInformationPlusOptions, UniformOptions
from ganforge_infogan.plus_regularizer import MutualInformationPlus

B, FEAT, K = 32, 16, 4
PERM = torch.tensor([2, 0, 3, 1])


def _setup(**options: Any) -> tuple[LatentSpec, MutualInformationPlus, TinyCritic]:
    torch.manual_seed(0)
    spec = LatentSpec(noise_dim=4, factors=[Categorical("c1", 1.0, CategoricalOptions(k=K)), Uniform("c2", 0.1, UniformOptions())])
    ctx = BuildContext(image_shape=(1, 8, 8), spec=spec, critic_feature_width=FEAT)
    return spec, MutualInformationPlus(MutualInformationPlusOptions(**options), ctx), TinyCritic((1, 8, 8), FEAT)


def _view(spec: LatentSpec, critic: TinyCritic, phase: str = "critic", step: int = 0) -> StepView:
    latent = spec.sample(B, torch.Generator().manual_seed(1))
    fake, real = torch.rand(B, 1, 8, 8) * 2 - 1, torch.rand(B, 1, 8, 8) * 2 - 1
    return StepView(phase=phase, step=step, spec=spec, latent=latent, fake=fake, fake_features=critic.features(fake),
                    real=real, real_features=critic.features(real), critic=CriticAccess(critic))


def _confident(labels: Tensor) -> Tensor:
    """Logits (B, K) that put each image clearly in its category of ``labels`` (B,)."""
    return torch.nn.functional.one_hot(labels, K).float() * 20


def test_align_recovers_the_permutation_of_a_joint() -> None:
    joint = torch.eye(K)[PERM] / K + 0.01  # G's category k is the new head's category PERM[k]
    assert torch.equal(align(joint), PERM)


def test_choice_moves_to_the_head_of_lowest_running_loss_beyond_the_margin_and_matches_its_categories() -> None:
    choice = HeadChoice(3, K, decay=0.5)
    probs = _confident(torch.arange(B) % K).softmax(1)  # (B, K) the chosen head, balanced and confident
    heads = [probs, probs, probs[:, PERM.argsort()]]  # head 2: the same clusters, its categories numbered otherwise
    choice.update(torch.tensor([1.0, 0.995, 1.0]), probs, heads)
    assert not choice.select() and int(choice.chosen) == 0  # 0.005 nats lower: within the margin, no change
    choice.update(torch.tensor([1.0, 0.9, 0.2]), probs, heads)  # running: 1.0, 0.9475, 0.6
    assert choice.select() and int(choice.chosen) == 2
    assert torch.equal(choice.perm, PERM)  # G's category k is head 2's category PERM[k]: the same images
    assert torch.equal(heads[2][:, choice.perm], probs)


def test_running_figures_stay_fp32_under_bf16_autocast() -> None:
    choice = HeadChoice(2, K, decay=0.5)
    probs = _confident(torch.arange(B) % K).softmax(1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        choice.update(torch.tensor([1.0, 0.5]), probs, [probs, probs])
    assert choice.joint.dtype == torch.float32 and choice.joint[0].trace() == pytest.approx(1.0, abs=1e-4)


def test_critic_step_chooses_the_head_a_constructed_loss_favours_and_the_posterior_follows_it() -> None:
    _, reg, _ = _setup(heads=3, select_every=5, pairs=1.0)  # the plus recipe's pair term
    labels = torch.arange(B) % K
    good = _confident(labels)[:, PERM.argsort()]  # balanced, confident, the same on the augmented copy: loss ≈ 0
    flat = torch.zeros(B, K)  # no information: the pair term's log K
    unstable = _confident(labels.roll(1))  # head 0 (chosen): the same clusters, but another one for the copy
    for step in range(1, 6):
        reg._other_heads("c1", ([_confident(labels), flat, good], None), ([unstable, flat, good], None), step)
    choice = reg.heads.choice["c1"]
    assert int(choice.chosen) == 2 and torch.equal(choice.perm, PERM)  # G's category k: head 2's PERM[k]
    assert choice.loss[2] < 1e-3 and choice.loss[1] == pytest.approx(math.log(K), rel=1e-4) and choice.loss[0] > 1
    features = torch.randn(B, FEAT)
    reg.eval()
    with torch.no_grad():
        params, every = reg._every_head(features)
        assert torch.equal(params["c1"], every["c1"][0][2][:, PERM])  # the posterior is head 2's, in G's order
        encoded = reg.encode(features, torch.zeros(B, 1, 8, 8))
        assert torch.equal(encoded["c1"], params["c1"])  # and so is every evaluation


def test_the_generator_s_code_trains_only_the_chosen_head() -> None:
    spec, reg, critic = _setup(heads=3)
    reg.heads.choice["c1"].chosen.fill_(2)
    reg.heads.choice["c1"].perm.copy_(PERM)
    reg.generator_terms(_view(spec, critic, "generator")).losses["mi"].backward()
    rows = reg.heads.extra["c1"].weight.grad  # (2K, hidden): head 1's rows, then head 2's
    assert rows is not None and rows[K:].abs().sum() > 0 and rows[:K].abs().sum() == 0
    own = reg.q[-1].weight.grad  # Q's own output: c1's K rows (head 0), then c2's
    assert own is not None and own[:K].abs().sum() == 0 and own[K:].abs().sum() > 0


def test_overclustering_head_has_its_own_width_and_learns_the_real_terms() -> None:
    spec, reg, critic = _setup(overcluster=3 * K)
    assert reg.heads is not None and reg.heads.extra["c1"].out_features == 3 * K
    hidden = torch.randn(B, 128)
    heads, over = reg.heads.split("c1", torch.zeros(B, K), hidden)
    assert len(heads) == 1 and over is not None and over.shape == (B, 3 * K)
    terms = reg.critic_terms(_view(spec, critic))
    x = torch.zeros(2, 1, 8, 8)
    assert reg.encode(critic.features(x), x)["c1"].shape == (2, K)  # the code keeps K categories
    terms.losses["real"].backward()
    assert reg.heads.extra["c1"].weight.grad is not None and reg.heads.extra["c1"].weight.grad.abs().sum() > 0
    assert "heads/chosen/c1" in terms.logs and "heads/loss/c1/0" in terms.logs


def test_one_head_and_no_overclustering_build_nothing_new() -> None:
    _, reg, _ = _setup()
    assert reg.heads is None and not any(k.startswith("heads.") for k in reg.state_dict())
    with pytest.raises(pydantic.ValidationError, match="heads needs categorical_head = 'trunk'"):
        MutualInformationPlusOptions(categorical_head="conv", heads=3)


def test_the_plus_recipe_with_heads_trains_end_to_end_and_checkpoints_the_choice(tmp_path: Path) -> None:
    """recipes/infogan_plus_mnist.toml with three heads and an over-clustering head on synthetic 28-px data."""
    from ganforge.recipe.model import read_toml
    from ganforge.testing import train_steps

    recipe = read_toml(Path(__file__).resolve().parents[3] / "recipes" / "infogan_plus_mnist.toml")
    regs = [{**recipe["regularizers"][0], "heads": 3, "overcluster": 20, "select_every": 2}]
    raw = {**recipe, "regularizers": regs, "data": {"source": "synthetic", "size": 64, "image_size": 28, "batch_size": 16},
           "run": {"name": "heads", "seed": 0, "device": "cpu"},
           "train": {"steps": 4, "log_every": 1, "sample_every": 4, "checkpoint_every": 4, "precision": "fp32"}}
    log = train_steps(raw, 4, tmp_path)
    assert any(k.endswith("heads/chosen/c1") for k in log[-1])
    saved = load_file(next((tmp_path / "run" / "checkpoints").glob("step-*.safetensors")))
    assert any(k.endswith("heads.choice.c1.chosen") for k in saved)  # a resumed run or an evaluation reads the same head
    assert any(k.endswith("heads.choice.c1.perm") for k in saved)
