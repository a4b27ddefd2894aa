"""The mutual-information regularizer: where its gradients go, what it logs, and that it learns."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn

from ganforge import BuildContext, Critic, Encoder, LatentSpec, Regularizer, StepView
from ganforge_infogan.factors import Categorical, Gaussian, Uniform
from ganforge_infogan.options import (
    CategoricalOptions,
    GaussianOptions,
    MutualInformationOptions,
    UniformOptions,
)
from ganforge_infogan.regularizer import MutualInformation

B, FEAT = 32, 16


class TinyGenerator(nn.Module):
    def __init__(self, latent_width: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent_width, 32), nn.ReLU(), nn.Linear(32, 16), nn.Tanh())

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).view(-1, 1, 4, 4)  # (B, 1, 4, 4)


class TinyCritic(Critic):
    feature_width = FEAT

    def __init__(self) -> None:
        super().__init__()
        self.trunk = nn.Sequential(nn.Flatten(), nn.Linear(16, FEAT), nn.LeakyReLU(0.1))
        self.out = nn.Linear(FEAT, 1)

    def features(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        return self.trunk(x)  # (B, FEAT)

    def head(self, features: Tensor, cond: Tensor | None = None) -> Tensor:
        return self.out(features).squeeze(1)  # (B,)


def make_spec() -> LatentSpec:
    return LatentSpec(
        noise_dim=4,
        factors=[
            Categorical("c1", 1.0, CategoricalOptions(k=5)),
            Uniform("c2", 0.1, UniformOptions()),
            Gaussian("c3", 0.5, GaussianOptions(posterior="fixed")),
        ],
    )


def setup(spec: LatentSpec | None = None, **options: bool):
    torch.manual_seed(0)
    spec = spec or make_spec()
    ctx = BuildContext(image_shape=(1, 4, 4), spec=spec, critic_feature_width=FEAT)
    return spec, TinyGenerator(spec.width), TinyCritic(), MutualInformation(MutualInformationOptions(**options), ctx)


def view(phase: str, spec: LatentSpec, gen: nn.Module, critic: Critic, seed: int = 0) -> StepView:
    """What the engine hands a regularizer: in the critic phase the fakes are detached from G."""
    latent = spec.sample(B, torch.Generator().manual_seed(seed))
    fake = gen(spec.generator_input(latent))  # (B, 1, 4, 4)
    if phase == "critic":
        fake = fake.detach()
    return StepView(phase=phase, step=0, spec=spec, latent=latent, fake=fake, fake_features=critic.features(fake))  # type: ignore[arg-type]


def grads(module: nn.Module) -> list[Tensor | None]:
    return [p.grad for p in module.parameters()]


def has_grad(module: nn.Module) -> bool:
    return any(g is not None and g.abs().sum() > 0 for g in grads(module))


def test_it_is_a_critic_side_module() -> None:
    _, _, _, reg = setup()
    assert isinstance(reg, Regularizer) and isinstance(reg, nn.Module)
    assert reg.optimizer == "critic"
    assert sum(p.numel() for p in reg.parameters()) > 0


def test_q_head_follows_the_paper() -> None:
    _, _, _, reg = setup()
    linear1, bn, act, linear2 = reg.q
    assert (linear1.in_features, linear1.out_features) == (FEAT, 128)
    assert isinstance(bn, nn.BatchNorm1d) and act.negative_slope == 0.1
    assert linear2.out_features == 5 + 2 + 1  # logits, (mean, log σ), mean


def test_generator_phase_loss_reaches_generator_and_q() -> None:
    spec, gen, critic, reg = setup()
    terms = reg.generator_terms(view("generator", spec, gen, critic))
    assert set(terms.losses) == {"mi"} and terms.losses["mi"].requires_grad
    terms.losses["mi"].backward()
    assert all(g is not None and g.abs().sum() > 0 for g in grads(gen)), "the MI gradient must reach every G layer"
    assert has_grad(reg.q)


def test_without_generator_reward_there_is_no_generator_loss_but_still_logs() -> None:
    spec, gen, critic, reg = setup(generator_reward=False)
    terms = reg.generator_terms(view("generator", spec, gen, critic))
    assert terms.losses == {}
    assert {"L_I", "L_I/c1", "L_I/c2", "L_I/c3"} <= set(terms.logs)
    # ... while Q itself is still trained in the critic phase (the paper's Figure-1 baseline)
    reg.critic_terms(view("critic", spec, gen, critic)).losses["mi"].backward()
    assert has_grad(reg.q)


@pytest.mark.parametrize("trunk_gradient", [True, False])
def test_trunk_gradient_switch_in_the_critic_phase(trunk_gradient: bool) -> None:
    spec, gen, critic, reg = setup(trunk_gradient=trunk_gradient)
    reg.critic_terms(view("critic", spec, gen, critic)).losses["mi"].backward()
    assert has_grad(reg.q)
    assert has_grad(critic.trunk) is trunk_gradient
    assert not has_grad(gen), "fakes are detached in the critic phase"


def test_trunk_gradient_off_still_lets_g_learn_through_the_trunk() -> None:
    spec, gen, critic, reg = setup(trunk_gradient=False)
    reg.generator_terms(view("generator", spec, gen, critic)).losses["mi"].backward()
    assert has_grad(gen)


def test_q_on_the_generators_optimizer_learns_only_in_the_generator_step() -> None:
    spec, gen, critic, reg = setup(optimizer="generator")
    assert reg.optimizer == "generator"
    assert reg.critic_terms(view("critic", spec, gen, critic)).losses == {}
    reg.generator_terms(view("generator", spec, gen, critic)).losses["mi"].backward()
    assert has_grad(reg.q) and has_grad(gen)


def test_q_on_the_generators_optimizer_without_reward_trains_q_but_not_g() -> None:
    spec, gen, critic, reg = setup(optimizer="generator", generator_reward=False)
    terms = reg.generator_terms(view("generator", spec, gen, critic))
    terms.losses["mi"].backward()
    assert has_grad(reg.q)
    assert not has_grad(gen) and not has_grad(critic.trunk)


def test_loss_is_the_lambda_weighted_nll_and_logs_are_l_i_in_nats() -> None:
    spec, gen, critic, reg = setup()
    v = view("critic", spec, gen, critic)
    terms = reg.critic_terms(v)
    params = reg.posterior(v.fake_features)
    nll = {f.name: f.nll(params[f.name], v.latent.codes[f.name]).mean() for f in spec.factors}
    expected = sum(f.lam * nll[f.name] for f in spec.factors)
    assert torch.allclose(terms.losses["mi"], expected)
    for f in spec.factors:
        assert torch.allclose(terms.logs[f"L_I/{f.name}"], f.entropy() - nll[f.name])
    assert torch.allclose(terms.logs["L_I"], sum(terms.logs[f"L_I/{f.name}"] for f in spec.factors))
    assert not any(t.requires_grad for t in terms.logs.values())


def test_q_is_an_encoder_returning_each_factors_posterior_params() -> None:
    spec, _, _, reg = setup()
    assert isinstance(reg, Encoder)
    reg.eval()
    with torch.no_grad():
        out = reg.encode(torch.randn(7, FEAT), torch.zeros(7, 1, 28, 28))
    assert {k: tuple(v.shape) for k, v in out.items()} == {"c1": (7, 5), "c2": (7, 2), "c3": (7, 1)}
    assert spec.factor("c1").predict(out["c1"]).shape == (7,)


def test_q_head_runs_in_float32_under_bf16_autocast() -> None:
    """Under bf16 autocast the trunk's features arrive in bf16; Q's head still computes its posteriors in fp32,
    the same values (to fp32 rounding) as without autocast, and the gradient reaches the bf16 trunk."""
    _, _, _, reg = setup()
    features = torch.randn(B, FEAT).bfloat16().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        params = reg.posterior(features)
        assert reg.q is not None and reg.q[0](features).dtype == torch.bfloat16  # autocast is on around Q
    plain = reg.posterior(features.detach().float())
    for name, p in params.items():
        assert p.dtype == torch.float32, name
        assert torch.allclose(p, plain[name], atol=1e-6), name
    sum(p.sum() for p in params.values()).backward()
    assert features.grad is not None and features.grad.abs().sum() > 0


def test_build_errors_say_what_is_missing() -> None:
    with pytest.raises(ValueError, match=r"\[\[latent.factors\]\]"):
        MutualInformation(MutualInformationOptions(), BuildContext((1, 4, 4), LatentSpec(4), critic_feature_width=8))
    with pytest.raises(ValueError, match="critic_feature_width"):
        MutualInformation(MutualInformationOptions(), BuildContext((1, 4, 4), make_spec()))


def test_mi_training_drives_categorical_l_i_towards_ln_k_and_never_past_it() -> None:
    """End to end: G, trunk and Q trained on the MI loss alone recover a 5-way code (L_I → ln 5)."""
    spec = LatentSpec(noise_dim=4, factors=[Categorical("c1", 1.0, CategoricalOptions(k=5))])
    spec, gen, critic, reg = setup(spec)
    params = [*gen.parameters(), *critic.trunk.parameters(), *reg.parameters()]
    opt = torch.optim.Adam(params, lr=3e-3)
    history = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny ops: one thread is fastest and immune to a busy machine
    try:
        for step in range(150):
            opt.zero_grad()
            terms = reg.generator_terms(view("generator", spec, gen, critic, seed=step))
            terms.losses["mi"].backward()
            opt.step()
            history.append(terms.logs["L_I/c1"].item())
    finally:
        torch.set_num_threads(threads)
    assert max(history) <= math.log(5) + 1e-6
    assert history[0] < 0.5 * math.log(5) < 0.9 * math.log(5) < min(history[-10:])
