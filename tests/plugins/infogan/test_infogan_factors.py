"""Latent code factors: priors, encodings, exact posteriors, entropies, option validation."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from pydantic import ValidationError
from torch import distributions as D

from ganforge import LatentSpec
from ganforge_infogan.factors import LOG_STD_ABOVE, LOG_STD_BELOW, Categorical, Gaussian, Uniform, soft_clamp
from ganforge_infogan.options import CategoricalOptions, GaussianOptions, UniformOptions

B = 512


def cat(k: int = 10, probs: list[float] | None = None) -> Categorical:
    return Categorical("c1", 1.0, CategoricalOptions(k=k, probs=probs))


def uni(low: float = -1.0, high: float = 1.0, **kw: object) -> Uniform:
    return Uniform("c2", 0.1, UniformOptions(low=low, high=high, **kw))


def gau(mean: float = 0.0, std: float = 1.0, **kw: object) -> Gaussian:
    return Gaussian("c3", 0.1, GaussianOptions(mean=mean, std=std, **kw))


ALL = [
    cat(), cat(4, [0.1, 0.2, 0.3, 0.4]), uni(), uni(2.0, 5.0, posterior="fixed"), gau(), gau(3.0, 0.5, posterior="fixed")
]
IDS = ["cat", "cat-probs", "uniform", "uniform-fixed", "gaussian", "gaussian-fixed"]


# --- sampling -----------------------------------------------------------------------------------
@pytest.mark.parametrize("factor", ALL, ids=IDS)
def test_sampling_is_reproducible_with_a_seeded_generator(factor) -> None:
    a = factor.sample(B, torch.Generator().manual_seed(3))
    b = factor.sample(B, torch.Generator().manual_seed(3))
    c = factor.sample(B, torch.Generator().manual_seed(4))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_sampling_ignores_the_global_rng() -> None:
    for factor in ALL:
        torch.manual_seed(0)
        a = factor.sample(64, torch.Generator().manual_seed(1))
        torch.manual_seed(123)
        assert torch.equal(a, factor.sample(64, torch.Generator().manual_seed(1)))


@pytest.mark.parametrize("factor", ALL, ids=IDS)
def test_shapes_and_dtypes(factor) -> None:
    v = factor.sample(B, torch.Generator().manual_seed(0))
    assert v.shape == (B,)
    assert v.dtype == (torch.int64 if factor.discrete else torch.float32)
    enc = factor.encode(v)
    assert enc.shape == (B, factor.input_width) and enc.dtype == torch.float32
    params = torch.randn(B, factor.posterior_width)
    assert factor.nll(params, v).shape == (B,)
    assert factor.predict(params).shape == (B,)


def test_categorical_values_encoding_and_widths() -> None:
    f = cat(10)
    v = f.sample(B, torch.Generator().manual_seed(0))
    assert v.min() >= 0 and v.max() <= 9 and len(v.unique()) == 10
    enc = f.encode(v)
    assert torch.equal(enc.sum(1), torch.ones(B)) and torch.equal(enc.argmax(1), v)
    assert (f.input_width, f.posterior_width, f.discrete) == (10, 10, True)


def test_categorical_samples_follow_probs() -> None:
    probs = [0.1, 0.2, 0.3, 0.4]
    v = cat(4, probs).sample(40_000, torch.Generator().manual_seed(0))
    freq = torch.bincount(v, minlength=4).double() / len(v)
    assert torch.allclose(freq, torch.tensor(probs, dtype=torch.float64), atol=0.01)


def test_uniform_samples_stay_in_range_and_cover_it() -> None:
    v = uni(2.0, 5.0).sample(20_000, torch.Generator().manual_seed(0))
    assert v.min() >= 2.0 and v.max() < 5.0
    assert abs(v.mean().item() - 3.5) < 0.03 and abs(v.std().item() - 3 / math.sqrt(12)) < 0.02


def test_gaussian_samples_have_the_prior_moments() -> None:
    v = gau(3.0, 0.5).sample(20_000, torch.Generator().manual_seed(0))
    assert abs(v.mean().item() - 3.0) < 0.02 and abs(v.std().item() - 0.5) < 0.02


def test_continuous_widths() -> None:
    assert (uni().input_width, uni().posterior_width, uni().discrete) == (1, 2, False)
    assert uni(posterior="fixed").posterior_width == 1
    assert gau().posterior_width == 2 and gau(posterior="fixed").posterior_width == 1


def test_spec_concatenates_noise_and_codes_in_order() -> None:
    spec = LatentSpec(noise_dim=5, factors=[cat(10), uni(), gau()])
    batch = spec.sample(7, torch.Generator().manual_seed(0))
    x = spec.generator_input(batch)  # (7, 5 + 10 + 1 + 1)
    assert x.shape == (7, 17) and spec.posterior_width == 14
    assert torch.equal(x[:, 5:15].argmax(1), batch.codes["c1"])
    assert torch.equal(x[:, 15], batch.codes["c2"]) and torch.equal(x[:, 16], batch.codes["c3"])


# --- posteriors --------------------------------------------------------------------------------------
def test_categorical_nll_is_cross_entropy_on_raw_logits() -> None:
    f = cat(10)
    logits = torch.randn(B, 10, generator=torch.Generator().manual_seed(0)) * 3
    v = f.sample(B, torch.Generator().manual_seed(1))
    expected = -D.Categorical(logits=logits).log_prob(v)
    assert torch.allclose(f.nll(logits, v), expected, atol=1e-5)


def test_categorical_nll_applies_exactly_one_softmax() -> None:
    """Feeding probabilities instead of logits must change the value: no softmax hides inside Q's loss."""
    f = cat(10)
    logits = torch.randn(B, 10, generator=torch.Generator().manual_seed(0)) * 3
    v = f.sample(B, torch.Generator().manual_seed(1))
    assert not torch.allclose(f.nll(logits.softmax(1), v), f.nll(logits, v), atol=1e-2)
    # a near-certain correct prediction costs ~0 nats; a double softmax would floor it at ln(1 + (K−1)/e)
    sure = F.one_hot(v, 10).float() * 50
    assert f.nll(sure, v).max() < 1e-6
    assert torch.allclose(f.nll(sure.softmax(1), v), torch.full((B,), math.log(1 + 9 / math.e)))


@pytest.mark.parametrize("factor", [uni(), uni(2.0, 5.0), gau(), gau(3.0, 0.5)], ids=["u", "u25", "g", "g3"])
def test_learned_gaussian_posterior_nll_is_exact(factor) -> None:
    g = torch.Generator().manual_seed(0)
    params = torch.randn(B, 2, generator=g)  # (mean, log σ), well inside the clamp
    v = factor.sample(B, g)
    mean, log_std = factor.mean_log_std(params)
    assert torch.equal(mean, params[:, 0])
    expected = -D.Normal(mean, log_std.exp()).log_prob(v)
    assert torch.allclose(factor.nll(params, v), expected, atol=1e-5)


@pytest.mark.parametrize("factor", [uni(posterior="fixed"), gau(posterior="fixed", fixed_std=0.3)], ids=["u", "g"])
def test_fixed_std_posterior_nll_is_exact(factor) -> None:
    g = torch.Generator().manual_seed(0)
    mean = torch.randn(B, 1, generator=g)
    v = factor.sample(B, g)
    expected = -D.Normal(mean[:, 0], factor.fixed_std).log_prob(v)
    assert torch.allclose(factor.nll(mean, v), expected, atol=1e-5)


def test_fixed_unit_std_nll_is_half_mse_plus_constant() -> None:
    f = uni(posterior="fixed")
    mean, v = torch.zeros(4, 1), torch.tensor([0.0, 0.5, -1.0, 0.25])
    assert torch.allclose(f.nll(mean, v), 0.5 * v**2 + 0.5 * math.log(2 * math.pi))


def test_log_std_soft_clamp_is_near_identity_inside_and_bounded_outside() -> None:
    lo, hi = -6.0, 2.0
    inside = torch.linspace(-3.0, 0.0, 31)
    assert (soft_clamp(inside, lo, hi) - inside).abs().max() < 0.15
    far = soft_clamp(torch.tensor([-1e4, 1e4]), lo, hi)
    assert torch.allclose(far, torch.tensor([lo, hi]))
    x = torch.tensor([lo - 3, hi + 3], requires_grad=True)  # past a bound: torch.clamp's gradient would be 0
    soft_clamp(x, lo, hi).sum().backward()
    assert x.grad.gt(0.01).all()


def test_learned_std_is_bounded_relative_to_the_prior_and_keeps_gradients() -> None:
    f = gau(std=10.0)
    params = torch.tensor([[0.0, -100.0], [0.0, 100.0], [0.0, 4.0]], requires_grad=True)
    _, log_std = f.mean_log_std(params)
    lo, hi = math.log(10.0) - LOG_STD_BELOW, math.log(10.0) + LOG_STD_ABOVE
    assert log_std[0] >= lo - 1e-5 and log_std[1] <= hi + 1e-5
    f.nll(params, torch.zeros(3)).sum().backward()
    assert params.grad[2, 1] != 0  # a log σ near the top still learns


def test_predict() -> None:
    logits = torch.tensor([[0.1, 2.0, -1.0], [3.0, 0.0, 0.0]])
    assert torch.equal(cat(3).predict(logits), torch.tensor([1, 0]))
    params = torch.tensor([[0.3, -1.0], [-0.7, 0.5]])
    assert torch.equal(uni().predict(params), torch.tensor([0.3, -0.7]))
    assert torch.equal(gau(posterior="fixed").predict(params[:, :1]), torch.tensor([0.3, -0.7]))


def test_nll_is_computed_in_float32_for_bf16_params() -> None:
    f = uni()
    params = torch.randn(8, 2).to(torch.bfloat16)
    assert f.nll(params, torch.zeros(8)).dtype == torch.float32
    assert cat(4).nll(torch.randn(8, 4).to(torch.bfloat16), torch.zeros(8, dtype=torch.long)).dtype == torch.float32


# --- entropies and the bound ---------------------------------------------------------------------------
def test_entropies_match_closed_forms_and_torch_distributions() -> None:
    assert cat(10).entropy() == pytest.approx(math.log(10))
    assert cat(10).entropy() == pytest.approx(D.Categorical(logits=torch.zeros(10)).entropy().item())
    p = [0.1, 0.2, 0.3, 0.4]
    assert cat(4, p).entropy() == pytest.approx(-sum(q * math.log(q) for q in p))
    assert cat(4, p).entropy() == pytest.approx(D.Categorical(probs=torch.tensor(p)).entropy().item(), rel=1e-6)
    assert uni().entropy() == pytest.approx(math.log(2))
    assert uni(2.0, 5.0).entropy() == pytest.approx(D.Uniform(2.0, 5.0).entropy().item(), rel=1e-6)
    assert gau(0.0, 1.0).entropy() == pytest.approx(0.5 * math.log(2 * math.pi * math.e))
    assert gau(3.0, 0.5).entropy() == pytest.approx(D.Normal(3.0, 0.5).entropy().item(), rel=1e-6)


def test_categorical_bound_never_exceeds_ln_k() -> None:
    f = cat(10)
    v = f.sample(B, torch.Generator().manual_seed(0))
    for logits in (torch.randn(B, 10), F.one_hot(v, 10).float() * 30, torch.zeros(B, 10)):
        li = f.entropy() - f.nll(logits, v).mean().item()
        assert li <= math.log(10) + 1e-6
    assert f.entropy() - f.nll(torch.zeros(B, 10), v).mean().item() == pytest.approx(0.0, abs=1e-6)


# --- traversals -----------------------------------------------------------------------------------------
def test_traversals() -> None:
    assert torch.equal(cat(10).traversal(5), torch.arange(10))
    t = uni().traversal(5)
    assert torch.allclose(t, torch.tensor([-2.0, -1.0, 0.0, 1.0, 2.0]))  # the paper's −2..2 for Unif(−1, 1)
    assert torch.allclose(uni(2.0, 5.0).traversal(2), torch.tensor([0.5, 6.5]))
    assert torch.allclose(gau(3.0, 0.5).traversal(3), torch.tensor([2.0, 3.0, 4.0]))
    assert torch.allclose(uni().traversal(3, span=(-1.0, 1.0)), torch.tensor([-1.0, 0.0, 1.0]))


# --- options -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "values", "field"),
    [
        (CategoricalOptions, {"k": 1}, "k"),
        (CategoricalOptions, {}, "k"),
        (CategoricalOptions, {"k": 3, "probs": [0.5, 0.5]}, "probs"),
        (CategoricalOptions, {"k": 2, "probs": [1.2, -0.2]}, "probs"),
        (CategoricalOptions, {"k": 2, "probs": [0.0, 1.0]}, "probs"),
        (CategoricalOptions, {"k": 2, "probs": [0.3, 0.3]}, "probs"),
        (CategoricalOptions, {"k": 2, "probs": [float("nan"), 1.0]}, "probs"),
        (CategoricalOptions, {"k": 2, "colour": "red"}, "colour"),
        (UniformOptions, {"low": 1.0, "high": 1.0}, "high"),
        (UniformOptions, {"low": 2.0, "high": -2.0}, "high"),
        (UniformOptions, {"low": float("-inf")}, "low"),
        (UniformOptions, {"posterior": "exact"}, "posterior"),
        (UniformOptions, {"posterior": "fixed", "fixed_std": 0.0}, "fixed_std"),
        (GaussianOptions, {"std": 0.0}, "std"),
        (GaussianOptions, {"std": -1.0}, "std"),
        (GaussianOptions, {"fixed_std": -1.0}, "fixed_std"),
    ],
)
def test_invalid_options_are_rejected_at_the_key(model, values, field) -> None:
    with pytest.raises(ValidationError) as info:
        model.model_validate(values)
    assert any(err["loc"][:1] == (field,) for err in info.value.errors()), info.value.errors()


def test_option_messages_say_what_is_wrong() -> None:
    with pytest.raises(ValidationError, match="probs has 2 entries but k = 3"):
        CategoricalOptions(k=3, probs=[0.5, 0.5])
    with pytest.raises(ValidationError, match="sum to 1, they sum to 0.6"):
        CategoricalOptions(k=2, probs=[0.3, 0.3])
    with pytest.raises(ValidationError, match=r"high \(-2.0\) must be greater than low \(2.0\)"):
        UniformOptions(low=2.0, high=-2.0)


def test_valid_probs_tolerate_rounding() -> None:
    assert CategoricalOptions(k=10, probs=[0.1] * 10).probs == [0.1] * 10
