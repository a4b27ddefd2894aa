"""mutual_information_plus: the real-image terms' values on constructed inputs, where their gradients go, a short run."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge import BuildContext, CriticAccess, LatentSpec, StepView
from ganforge_infogan.factors import Categorical, Uniform
from ganforge_infogan.options import CategoricalOptions, MutualInformationPlusOptions, UniformOptions
from ganforge.testing import TinyCritic
from ganforge_infogan.image_ops import NORMAL_RADIUS, augment, gaussian_blur, normalize_size, object_moments, shrink_blur
from ganforge_infogan.plus_regularizer import (MutualInformationPlus, balance_kl, consistency_kl, mean_entropy,
                                               pair_information_gap, size_mismatch)

B, FEAT, K = 32, 16, 4


def test_balance_is_zero_for_a_balanced_marginal_and_log_k_for_a_collapsed_one() -> None:
    balanced = torch.eye(K).repeat(B // K, 1)  # every category used B/K times, each row confident
    collapsed = torch.zeros(B, K)
    collapsed[:, 0] = 1  # every image in category 0
    assert balance_kl(balanced).item() == pytest.approx(0.0, abs=1e-6)
    assert balance_kl(collapsed).item() == pytest.approx(math.log(K), rel=1e-5)
    uniform_rows = torch.full((B, K), 1 / K)  # balanced too, but unsure: balance 0, entropy log K
    assert balance_kl(uniform_rows).item() == pytest.approx(0.0, abs=1e-6)
    assert mean_entropy(uniform_rows).item() == pytest.approx(math.log(K), rel=1e-5)
    assert mean_entropy(balanced).item() == pytest.approx(0.0, abs=1e-6)


def test_consistency_is_zero_for_identical_predictions_and_positive_for_different_ones() -> None:
    logits = torch.randn(B, K, generator=torch.Generator().manual_seed(0))
    assert consistency_kl(logits, logits.clone()).item() == pytest.approx(0.0, abs=1e-6)
    assert consistency_kl(logits, logits.roll(1, dims=1)).item() > 0.1
    aug = logits.clone().requires_grad_(True)
    clean = logits.clone().requires_grad_(True)
    consistency_kl(clean, aug + 1e-3 * torch.randn_like(aug)).backward()
    assert clean.grad is None and aug.grad is not None  # the clean side is the fixed target


def test_pair_gap_is_zero_for_agreeing_balanced_pairs_and_log_k_for_collapsed_or_independent_ones() -> None:
    balanced = torch.eye(K).repeat(B // K, 1)  # (B, K) one-hot, every category B/K times
    assert pair_information_gap(balanced, balanced.clone()).item() == pytest.approx(0.0, abs=1e-5)
    collapsed = torch.zeros(B, K)
    collapsed[:, 0] = 1  # agreeing and confident, but one category: no information
    assert pair_information_gap(collapsed, collapsed.clone()).item() == pytest.approx(math.log(K), rel=1e-5)
    unsure = torch.full((B, K), 1 / K)  # the augmented copy says nothing about the clean image's code
    assert pair_information_gap(balanced, unsure).item() == pytest.approx(math.log(K), rel=1e-5)
    shuffled = balanced.roll(1, dims=0)  # balanced and confident, but each copy in another category
    assert pair_information_gap(balanced, shuffled).item() > 0.5
    merged = torch.zeros(B, K)
    merged[:, :2] = torch.eye(2).repeat(B // 2, 1)  # two of K categories used: at best log 2 of log K
    assert pair_information_gap(merged, merged.clone()).item() == pytest.approx(math.log(K) - math.log(2), rel=1e-4)


def test_pair_gap_trains_both_sides() -> None:
    g = torch.Generator().manual_seed(0)
    clean = torch.randn(B, K, generator=g).requires_grad_(True)
    aug = torch.randn(B, K, generator=g).requires_grad_(True)
    pair_information_gap(clean.softmax(1), aug.softmax(1)).backward()
    assert clean.grad is not None and clean.grad.abs().sum() > 0
    assert aug.grad is not None and aug.grad.abs().sum() > 0


def test_augment_moves_images_a_little_and_keeps_the_background() -> None:
    x = -torch.ones(8, 1, 28, 28)
    x[:, :, 10:18, 10:18] = 1.0  # a white square on black
    g = torch.Generator().manual_seed(0)
    out = augment(x, g, shift=2, rotation=15, scale=0.1)
    assert out.shape == x.shape and out.min() >= -1 - 1e-5 and out.max() <= 1 + 1e-5
    assert torch.allclose(out[:, :, :3, :], torch.full_like(out[:, :, :3, :], -1.0), atol=1e-5)  # border stays black
    assert not torch.allclose(out, x)  # something moved
    same = augment(x, g, shift=0, rotation=0, scale=0)
    assert torch.allclose(same, x, atol=1e-5)  # no augmentation: the identity


def test_shear_slants_a_vertical_bar_and_zero_shear_keeps_the_old_draws() -> None:
    x = -torch.ones(64, 1, 28, 28)
    x[:, :, 4:24, 13:15] = 1.0  # a vertical bar
    sheared = augment(x, torch.Generator().manual_seed(0), shift=0, rotation=0, scale=0, shear=0.5)
    top, bottom = sheared[:, 0, 6].argmax(1).float(), sheared[:, 0, 21].argmax(1).float()  # (64,) bar's column
    lean = top - bottom  # the bar's horizontal travel between two rows: 0 for an upright bar
    assert lean.abs().max() > 4 and (lean > 0).any() and (lean < 0).any()  # leans both ways, by up to |s|·15 px
    old = augment(x, torch.Generator().manual_seed(3), shift=2, rotation=15, scale=0.1)
    assert torch.equal(augment(x, torch.Generator().manual_seed(3), shift=2, rotation=15, scale=0.1, shear=0.0), old)


def _setup(**options: Any) -> tuple[LatentSpec, MutualInformationPlus, TinyCritic]:
    torch.manual_seed(0)
    spec = LatentSpec(noise_dim=4, factors=[Categorical("c1", 1.0, CategoricalOptions(k=K)), Uniform("c2", 0.1, UniformOptions())])
    ctx = BuildContext(image_shape=(1, 8, 8), spec=spec, critic_feature_width=FEAT)
    return spec, MutualInformationPlus(MutualInformationPlusOptions(**options), ctx), TinyCritic((1, 8, 8), FEAT)


def _critic_view(spec: LatentSpec, critic: TinyCritic, step: int = 0) -> StepView:
    latent = spec.sample(B, torch.Generator().manual_seed(1))
    fake = torch.rand(B, 1, 8, 8) * 2 - 1
    real = torch.rand(B, 1, 8, 8) * 2 - 1
    return StepView(phase="critic", step=step, spec=spec, latent=latent, fake=fake, fake_features=critic.features(fake), real=real, real_features=critic.features(real),
                    critic=CriticAccess(critic))


def _has_grad(module: nn.Module) -> bool:
    return any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())


@pytest.mark.parametrize("real_trunk_gradient", [False, True])
def test_real_terms_train_q_and_reach_the_trunk_only_when_asked(real_trunk_gradient: bool) -> None:
    spec, reg, critic = _setup(real_trunk_gradient=real_trunk_gradient, confidence=0.5, trunk_gradient=False)
    terms = reg.critic_terms(_critic_view(spec, critic))
    assert set(terms.losses) == {"mi", "real"}
    assert {"real/balance/c1", "real/confidence/c1", "real/consistency/c1", "L_I/c1"} <= set(terms.logs)
    assert not any(k.endswith("/c2") and k.startswith("real/") for k in terms.logs)  # continuous codes take no part
    terms.losses["real"].backward()
    assert _has_grad(reg.q)
    assert _has_grad(critic.trunk) is real_trunk_gradient


def test_until_step_turns_the_real_terms_off_and_leaves_the_paper_loss() -> None:
    spec, reg, critic = _setup(until_step=10)
    assert "real" in reg.critic_terms(_critic_view(spec, critic, step=9)).losses
    late = reg.critic_terms(_critic_view(spec, critic, step=10))
    assert set(late.losses) == {"mi"} and not any(k.startswith("real/") for k in late.logs)


def test_categorical_from_step_drops_the_categorical_mi_loss_until_then_and_keeps_logging_it() -> None:
    spec, reg, critic = _setup(categorical_from_step=10)
    c1, c2 = spec.factors
    early = reg.critic_terms(_critic_view(spec, critic, step=9))
    late = reg.critic_terms(_critic_view(spec, critic, step=10))
    nll_c2 = c2.entropy() - early.logs["L_I/c2"]  # L_I = H(c) − NLL
    assert early.losses["mi"].item() == pytest.approx((c2.lam * nll_c2).item(), rel=1e-5)  # c1 weighs nothing yet
    assert "L_I/c1" in early.logs  # ... but is still measured
    nll_c1, nll_c2 = (f.entropy() - late.logs[f"L_I/{f.name}"] for f in (c1, c2))  # (another fake batch)
    assert late.losses["mi"].item() == pytest.approx((c1.lam * nll_c1 + c2.lam * nll_c2).item(), rel=1e-5)
    assert reg.weight(c1, 9) == 0.0 and reg.weight(c1, 10) == c1.lam and reg.weight(c2, 0) == c2.lam


def test_weights_scale_the_real_loss_as_documented() -> None:
    spec, reg, critic = _setup(balance=2.0, confidence=3.0, consistency=0.0)
    terms = reg.critic_terms(_critic_view(spec, critic))
    expected = 2.0 * terms.logs["real/balance/c1"] + 3.0 * terms.logs["real/confidence/c1"]
    assert terms.losses["real"].item() == pytest.approx(expected.item(), rel=1e-5)
    assert "real/consistency/c1" not in terms.logs  # weight 0: no augmented pass at all
    assert "real/pairs/c1" not in terms.logs


def test_pairs_alone_makes_the_augmented_pass_and_adds_its_weighted_gap() -> None:
    spec, reg, critic = _setup(balance=0.0, consistency=0.0, pairs=2.0, real_trunk_gradient=True, trunk_gradient=False)
    terms = reg.critic_terms(_critic_view(spec, critic))
    assert "real/consistency/c1" not in terms.logs
    gap = terms.logs["real/pairs/c1"]
    assert 0 <= gap.item() <= math.log(K) + 1e-5
    assert terms.losses["real"].item() == pytest.approx(2.0 * gap.item(), rel=1e-5)
    terms.losses["real"].backward()
    assert _has_grad(reg.q) and _has_grad(critic.trunk)


def test_it_needs_a_categorical_code_and_q_on_the_critic_optimizer() -> None:
    spec = LatentSpec(noise_dim=4, factors=[Uniform("c2", 0.1, UniformOptions())])
    ctx = BuildContext(image_shape=(1, 8, 8), spec=spec, critic_feature_width=FEAT)
    with pytest.raises(ValueError, match="needs a categorical code"):
        MutualInformationPlus(MutualInformationPlusOptions(), ctx)
    _, _, _ = _setup()
    spec2 = LatentSpec(noise_dim=4, factors=[Categorical("c1", 1.0, CategoricalOptions(k=K))])
    ctx2 = BuildContext(image_shape=(1, 8, 8), spec=spec2, critic_feature_width=FEAT)
    with pytest.raises(ValueError, match="optimizer must be 'critic'"):
        MutualInformationPlus(MutualInformationPlusOptions(optimizer="generator"), ctx2)


def test_the_plus_recipe_trains_end_to_end_and_logs_the_real_terms(tmp_path: Path) -> None:
    """recipes/infogan_plus_mnist.toml's regularizer on synthetic 28-px data, a few steps through the engine."""
    from ganforge.recipe.model import read_toml
    from ganforge.testing import train_steps

    recipe = read_toml(Path(__file__).resolve().parents[3] / "recipes" / "infogan_plus_mnist.toml")
    raw = {**recipe, "data": {"source": "synthetic", "size": 64, "image_size": 28, "batch_size": 16},
           "run": {"name": "plus", "seed": 0, "device": "cpu"},
           "train": {"steps": 3, "log_every": 1, "sample_every": 3, "checkpoint_every": 3, "precision": "fp32"}}
    log = train_steps(raw, 3, tmp_path)
    keys = set(log[-1])
    assert any(k.endswith("real/balance/c1") for k in keys) and any(k.endswith("L_I/c1") for k in keys)
    assert all(math.isfinite(v) for row in log for k, v in row.items() if isinstance(v, float))


# --- categorical_head = "conv": the categorical codes read off the image, wherever the object lies ---------------
def _conv_setup(**options: Any) -> tuple[LatentSpec, MutualInformationPlus, TinyCritic]:
    torch.manual_seed(0)
    spec = LatentSpec(noise_dim=4, factors=[Categorical("c1", 1.0, CategoricalOptions(k=K)), Uniform("c2", 0.1, UniformOptions())])
    ctx = BuildContext(image_shape=(1, 28, 28), spec=spec, critic_feature_width=FEAT)
    reg = MutualInformationPlus(MutualInformationPlusOptions(categorical_head="conv", conv_width=8, **options), ctx)
    return spec, reg, TinyCritic((1, 28, 28), FEAT)


def _conv_view(spec: LatentSpec, critic: TinyCritic, phase: str = "critic") -> StepView:
    g = torch.Generator().manual_seed(1)
    latent = spec.sample(B, g)
    fake = (torch.rand(B, 1, 28, 28, generator=g) * 2 - 1).requires_grad_(phase == "generator")
    real = torch.rand(B, 1, 28, 28, generator=g) * 2 - 1
    if phase == "generator":
        return StepView(phase="generator", step=0, spec=spec, latent=latent, fake=fake, fake_features=critic.features(fake), critic=CriticAccess(critic))
    return StepView(phase="critic", step=0, spec=spec, latent=latent, fake=fake, fake_features=critic.features(fake), real=real, real_features=critic.features(real),
                    critic=CriticAccess(critic))


def test_conv_head_gives_the_same_category_wherever_the_object_lies() -> None:
    _, reg, _ = _conv_setup()
    x = -torch.ones(2, 1, 28, 28)
    x[0, :, 9:14, 9:12] = 1.0  # an L-shaped blob ...
    x[0, :, 12:14, 12:14] = 1.0
    x[1] = x[0].roll((4, 4), dims=(1, 2))  # ... and the same blob 4 px lower and 4 px to the right (both away
    # from the edges by more than half the encoder's 17-px field of view)
    with torch.no_grad():
        logits = reg.encode(torch.zeros(2, FEAT), x)["c1"]  # (2, K)
    assert logits.shape == (2, K)
    assert torch.allclose(logits[0], logits[1], atol=1e-5)  # shifts by multiples of the stride: the same answer
    y = x.clone()
    y[1] = -1.0
    y[1, :, 14:20, 14:20] = 1.0  # another shape: another answer
    with torch.no_grad():
        other = reg.encode(torch.zeros(2, FEAT), y)["c1"]
    assert not torch.allclose(other[0], other[1], atol=1e-3)


def test_conv_head_reads_categories_off_the_image_and_continuous_codes_off_the_trunk() -> None:
    spec, reg, critic = _conv_setup()
    assert reg.q is not None and reg.q[-1].out_features == 2  # c2's mean and log σ only: c1 has no trunk columns
    features, images = torch.randn(B, FEAT), torch.rand(B, 1, 28, 28) * 2 - 1
    params = reg.encode(features, images)
    assert params["c1"].shape == (B, K) and params["c2"].shape == (B, 2)
    # the paper's MI loss on fakes trains the encoder and Q in the critic step ...
    terms = reg.critic_terms(_conv_view(spec, critic))
    terms.losses["mi"].backward(retain_graph=True)
    assert _has_grad(reg.encoder) and _has_grad(reg.q)
    # ... and rewards G through the encoder in the generator step (the gradient reaches the fake images)
    view = _conv_view(spec, critic, "generator")
    reg.generator_terms(view).losses["mi"].backward()
    assert view.fake.grad is not None and view.fake.grad.abs().sum() > 0


def test_conv_head_real_terms_train_the_encoder_and_never_the_trunk() -> None:
    spec, reg, critic = _conv_setup(balance=0.0, consistency=0.0, pairs=1.0, real_trunk_gradient=True)
    terms = reg.critic_terms(_conv_view(spec, critic))
    assert 0 <= terms.logs["real/pairs/c1"].item() <= math.log(K) + 1e-5
    terms.losses["real"].backward()
    assert _has_grad(reg.encoder)
    assert not _has_grad(critic.trunk) and not _has_grad(reg.q)  # the categorical code lives on the image alone


def test_trunk_head_keeps_every_code_on_q_and_builds_no_encoder() -> None:
    spec, reg, _ = _setup()
    assert reg.encoder is None and reg.q is not None and reg.q[-1].out_features == spec.posterior_width
    features = torch.randn(B, FEAT)
    assert torch.equal(reg.encode(features, torch.zeros(B, 1, 8, 8))["c1"], reg.encode(features, torch.ones(B, 1, 8, 8))["c1"])


def test_conv_head_trains_end_to_end_and_eval_reads_the_images(tmp_path: Path) -> None:
    """The shapes first run with the 'conv' head, a few steps through the engine, then ganforge's evaluation."""
    from ganforge.evaluation.run import evaluate
    from ganforge.recipe.model import read_toml
    from ganforge.registry import load_registry
    from ganforge.testing import train_steps

    recipe = read_toml(Path(__file__).resolve().parents[3] / "recipes" / "infogan_shapes.toml")
    reg = {**recipe["regularizers"][0], "kind": "mutual_information_plus", "categorical_head": "conv",
           "conv_width": 8, "balance": 0.0, "consistency": 0.0, "pairs": 1.0}
    raw = {**recipe, "data": {**recipe["data"], "size": 128, "batch_size": 16}, "regularizers": [reg],
           "generator": {**recipe["generator"], "channels": 8}, "critic": {**recipe["critic"], "hidden": 32},
           "run": {"name": "conv", "seed": 0, "device": "cpu"},
           "train": {"steps": 3, "log_every": 1, "sample_every": 3, "checkpoint_every": 3, "precision": "fp32"}}
    log = train_steps(raw, 3, tmp_path)
    assert any(k.endswith("real/pairs/c1") for k in log[-1]) and any(k.endswith("L_I/c1") for k in log[-1])
    result = evaluate(tmp_path / "run", load_registry(), device="cpu", only=["factor_codes"])
    codes = result.details("factor_codes")["codes"]
    assert set(codes) == {"c1", "c2", "c3", "c4", "c5"} and "shape" in codes["c1"]["accuracy"]


def test_fake_augmentation_reads_the_categories_off_a_warped_copy_and_rewards_g_through_it() -> None:
    spec, plain, critic = _conv_setup()
    _, still, _ = _conv_setup(fake_augmentation=True, shift=0.0, rotation=0.0, scale=0.0)  # the identity warp
    _, warped, _ = _conv_setup(fake_augmentation=True, shift=4.0, rotation=90.0, scale=0.3)
    view = _conv_view(spec, critic)
    torch.manual_seed(3)
    base = plain.critic_terms(view).logs["L_I/c1"]
    assert still.critic_terms(view).logs["L_I/c1"].item() == pytest.approx(base.item(), abs=1e-5)
    assert abs(warped.critic_terms(view).logs["L_I/c1"].item() - base.item()) > 1e-4  # another image, another answer
    assert warped.critic_terms(view).logs["L_I/c2"].item() == pytest.approx(plain.critic_terms(view).logs["L_I/c2"].item())
    gen = _conv_view(spec, critic, "generator")
    warped.generator_terms(gen).losses["mi"].backward()
    assert gen.fake.grad is not None and gen.fake.grad.abs().sum() > 0


def test_fake_augmentation_without_the_conv_head_is_refused_at_its_key() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="fake_augmentation needs categorical_head = 'conv'") as err:
        MutualInformationPlusOptions(fake_augmentation=True)
    assert err.value.errors()[0]["loc"] == ("fake_augmentation",)
    assert MutualInformationPlusOptions(categorical_head="conv", fake_augmentation=True).fake_augmentation
    with pytest.raises(ValidationError, match="normalize_size needs categorical_head = 'conv'") as err:
        MutualInformationPlusOptions(normalize_size=True)
    assert err.value.errors()[0]["loc"] == ("normalize_size",)


def _disk(cx: float, cy: float, radius: float, size: int = 28) -> Tensor:
    """A white disk on black, (1, 1, size, size) in [-1, 1]; centre and radius in pixels."""
    yy, xx = torch.meshgrid(torch.arange(size) + 0.5, torch.arange(size) + 0.5, indexing="ij")
    return torch.where((xx - cx) ** 2 + (yy - cy) ** 2 <= radius**2, 1.0, -1.0)[None, None]


def _moments(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Centre (x, y) and RMS radius, in pixels, of the bright mass of each image (B, 1, H, W)."""
    m = ((x + 1) / 2).clamp_min(0)[:, 0]
    yy, xx = torch.meshgrid(torch.arange(x.shape[2]) + 0.5, torch.arange(x.shape[3]) + 0.5, indexing="ij")
    total = m.sum((1, 2))
    cx, cy = (m * xx).sum((1, 2)) / total, (m * yy).sum((1, 2)) / total
    rms = ((m * ((xx - cx[:, None, None]) ** 2 + (yy - cy[:, None, None]) ** 2)).sum((1, 2)) / total).sqrt()
    return cx, cy, rms


def test_normalize_size_centres_objects_and_gives_them_one_size() -> None:
    x = torch.cat([_disk(8, 9, 3), _disk(18, 16, 7), _disk(14, 14, 5)])  # small off-centre, large, mid
    cx, cy, rms = _moments(normalize_size(x))
    assert torch.allclose(cx, torch.full_like(cx, 14.0), atol=0.3) and torch.allclose(cy, torch.full_like(cy, 14.0), atol=0.3)
    assert torch.allclose(rms, torch.full_like(rms, NORMAL_RADIUS * 14), rtol=0.08)  # 0.4 grid units = 5.6 px
    before = _moments(x)[2]
    assert before.max() / before.min() > 2  # they did differ
    empty = -torch.ones(1, 1, 28, 28)
    assert torch.equal(normalize_size(empty), empty)  # nothing bright: left alone
    y = x.clone().requires_grad_(True)
    normalize_size(y).sum().backward()
    assert y.grad is not None and y.grad.abs().sum() > 0  # differentiable in the pixels (G's reward passes)


def test_normalize_size_makes_the_conv_head_read_the_normalised_image() -> None:
    _, plain, _ = _conv_setup()
    _, normal, _ = _conv_setup(normalize_size=True)
    normal.load_state_dict(plain.state_dict())  # the same weights: only the option differs
    x = torch.cat([_disk(9, 10, 4), _disk(16, 15, 8)])  # a disk, and the same disk twice as large elsewhere
    with torch.no_grad():
        seen = normal.encode(torch.zeros(2, FEAT), x)["c1"]
        assert torch.allclose(seen, plain.encode(torch.zeros(2, FEAT), normalize_size(x))["c1"], atol=1e-6)
        assert not torch.allclose(seen, plain.encode(torch.zeros(2, FEAT), x)["c1"], atol=1e-3)
    normalised = normalize_size(x)  # the two disks become one, up to the small one's blur
    assert (normalised[0] - normalised[1]).abs().mean() < 0.25 * (x[0] - x[1]).abs().mean()


def test_gaussian_blur_keeps_mass_and_background_and_removes_fine_texture() -> None:
    x = _disk(14, 14, 6)
    blurred = gaussian_blur(x, 1.0)
    assert blurred.shape == x.shape
    assert torch.allclose((blurred + 1).sum(), (x + 1).sum(), rtol=1e-4)  # the brightness is moved, not lost
    assert torch.allclose(blurred[..., :3, :], torch.full_like(blurred[..., :3, :], -1.0))  # background stays −1
    dotted = torch.where((torch.arange(28)[:, None] + torch.arange(28)[None, :]) % 2 == 0, x, -1.0)  # a checkered disk
    flat = torch.where(x > 0, torch.zeros_like(x), x)  # the same mean brightness, no texture
    inside = (slice(None), slice(None), slice(10, 18), slice(10, 18))
    assert (dotted - flat)[inside].abs().mean() == 1.0
    assert (gaussian_blur(dotted, 1.0) - gaussian_blur(flat, 1.0))[inside].abs().mean() < 0.05  # the dots are gone


def test_normalize_blur_blurs_what_the_conv_head_reads_and_needs_normalize_size() -> None:
    from pydantic import ValidationError

    _, plain, _ = _conv_setup()
    _, blurred, _ = _conv_setup(normalize_size=True, normalize_blur=1.0)
    blurred.load_state_dict(plain.state_dict())
    x = torch.cat([_disk(9, 10, 4), _disk(16, 15, 8)])
    with torch.no_grad():
        seen = blurred.encode(torch.zeros(2, FEAT), x)["c1"]
        want = plain.encode(torch.zeros(2, FEAT), gaussian_blur(normalize_size(x), 1.0))["c1"]
        assert torch.allclose(seen, want, atol=1e-6)
    with pytest.raises(ValidationError, match="normalize_blur needs normalize_size = true") as err:
        MutualInformationPlusOptions(categorical_head="conv", normalize_blur=1.0)
    assert err.value.errors()[0]["loc"] == ("normalize_blur",)
    with pytest.raises(ValidationError):
        MutualInformationPlusOptions(categorical_head="conv", normalize_size=True, normalize_blur=-0.5)


# --- cluster_critic: G's category k must look like the real images Q puts in category k ---------------------------
def test_cluster_critic_starts_neutral_and_is_off_by_default() -> None:
    spec, off, critic = _conv_setup()
    assert len(off.projection) == 0
    assert "cluster" not in off.critic_terms(_conv_view(spec, critic)).losses
    _, on, _ = _conv_setup(cluster_critic=2.0)
    terms = on.critic_terms(_conv_view(spec, critic))
    assert terms.logs["cluster/c1"].item() == pytest.approx(2 * math.log(2), rel=1e-5)  # every score 0 at the start
    assert terms.losses["cluster"].item() == pytest.approx(2.0 * 2 * math.log(2), rel=1e-5)  # weighted
    assert on.generator_terms(_conv_view(spec, critic, "generator")).logs["cluster/c1"].item() == pytest.approx(math.log(2))


def test_cluster_critic_scores_reals_in_q_s_category_and_fakes_in_their_code(monkeypatch: pytest.MonkeyPatch) -> None:
    spec, reg, critic = _conv_setup(cluster_critic=1.0, pairs=0.0, balance=0.0, consistency=0.0)
    with torch.no_grad():
        reg.projection["c1"].weight.zero_()
        reg.projection["c1"].weight[:, :K] = 3 * torch.eye(K)  # e_k picks feature k: score = 3 · φ(x)_k
    view = _conv_view(spec, critic)
    real_k, fake_k = torch.arange(B) % K, view.latent.codes["c1"]
    real_f, fake_f = torch.zeros(B, FEAT), torch.zeros(B, FEAT)
    real_f[torch.arange(B), real_k] = 1.0  # real image i shows feature real_k[i] ...
    fake_f[torch.arange(B), (fake_k + 1) % K] = 1.0  # ... a fake shows another feature than its code's
    view = StepView(phase="critic", step=0, spec=spec, latent=view.latent, fake=view.fake, fake_features=fake_f, real=view.real, real_features=real_f, critic=view.critic)

    def q_says(categories: Tensor):  # noqa: ANN202
        return lambda *_: {"c1": 10 * F.one_hot(categories, K).float()}

    monkeypatch.setattr(reg, "_categorical_logits", q_says(real_k))  # Q agrees with the features: reals score 3
    agree = reg.critic_terms(view).logs["cluster/c1"].item()
    assert agree == pytest.approx(F.softplus(torch.tensor(-3.0)).item() + math.log(2), rel=1e-4)  # fakes score 0
    monkeypatch.setattr(reg, "_categorical_logits", q_says((real_k + 1) % K))  # Q puts them elsewhere: score 0
    assert reg.critic_terms(view).logs["cluster/c1"].item() == pytest.approx(2 * math.log(2), rel=1e-4)
    fake_f = torch.zeros(B, FEAT)
    fake_f[torch.arange(B), fake_k] = 1.0  # the fakes now show their own code's feature: they score 3
    gen = StepView(phase="generator", step=0, spec=spec, latent=view.latent, fake=view.fake, fake_features=fake_f, critic=view.critic)
    assert reg.generator_terms(gen).logs["cluster/c1"].item() == pytest.approx(F.softplus(torch.tensor(-3.0)).item(),
                                                                             rel=1e-4)


def test_cluster_critic_trains_the_projection_and_trunk_and_rewards_g() -> None:
    spec, reg, critic = _conv_setup(cluster_critic=1.0, pairs=0.0, balance=0.0, consistency=0.0, until_step=1)
    view = _conv_view(spec, critic)
    view = StepView(phase="critic", step=5, spec=spec, latent=view.latent, fake=view.fake, fake_features=view.fake_features, real=view.real, real_features=view.real_features,
                    critic=view.critic)  # past until_step: the real-image terms are off, the cluster critic is not
    terms = reg.critic_terms(view)
    assert "real" not in terms.losses and "cluster" in terms.losses
    with torch.no_grad():
        reg.projection["c1"].weight.normal_()  # away from the neutral start, so the trunk gets a gradient
    reg.critic_terms(view).losses["cluster"].backward()
    assert _has_grad(reg.projection) and _has_grad(critic.trunk)
    assert not _has_grad(reg.encoder)  # Q's answer only labels the reals (argmax): the cluster term does not train Q
    gen = _conv_view(spec, critic, "generator")
    reg.generator_terms(gen).losses["cluster"].backward()
    assert gen.fake.grad is not None and gen.fake.grad.abs().sum() > 0


def test_conv_cluster_critic_scores_the_conv_head_features_and_trains_them_not_the_trunk() -> None:
    spec, reg, critic = _conv_setup(cluster_critic=1.0, cluster_features="conv", pairs=0.0, balance=0.0,
                                    consistency=0.0, until_step=1)
    assert reg.projection["c1"].weight.shape == (K, 2 * 8 + 1)  # the pooled features of a width-8 head, and b_k
    with torch.no_grad():
        reg.projection["c1"].weight.normal_()
    view = _conv_view(spec, critic)
    view = StepView(phase="critic", step=5, spec=spec, latent=view.latent, fake=view.fake, fake_features=view.fake_features, real=view.real, real_features=view.real_features,
                    critic=view.critic)  # past until_step: only the cluster critic trains the head
    reg.critic_terms(view).losses["cluster"].backward()
    assert _has_grad(reg.projection) and _has_grad(reg.encoder) and not _has_grad(critic.trunk)
    with torch.no_grad():  # the fakes' scores are ⟨e_k, φ_conv(x)⟩ + b_k of their own code
        row = reg.projection["c1"](view.latent.codes["c1"])
        want = (reg.encoder[:-1](view.fake) * row[:, :-1]).sum(1) + row[:, -1]
        got = reg._category_scores("c1", reg._conv_features(view.fake), view.latent.codes["c1"])
        assert torch.allclose(got, want, atol=1e-6)
    gen = _conv_view(spec, critic, "generator")
    reg.generator_terms(gen).losses["cluster"].backward()
    assert gen.fake.grad is not None and gen.fake.grad.abs().sum() > 0  # G is rewarded through the conv head


def test_conv_cluster_features_need_the_conv_head() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="cluster_features needs categorical_head = 'conv'") as err:
        MutualInformationPlusOptions(cluster_critic=1.0, cluster_features="conv")
    assert err.value.errors()[0]["loc"] == ("cluster_features",)
    assert MutualInformationPlusOptions(cluster_critic=1.0).cluster_features == "trunk"


def test_object_moments_give_each_object_s_centre_and_rms_radius() -> None:
    x = torch.cat([_disk(8, 9, 3), _disk(18, 16, 7), -torch.ones(1, 1, 28, 28)])  # small, large, nothing
    cx, cy, rms, empty = object_moments(x)
    px_cx, px_cy, px_rms = _moments(x[:2])
    assert torch.allclose((cx[:2] + 1) * 14, px_cx, atol=1e-3) and torch.allclose((cy[:2] + 1) * 14, px_cy, atol=1e-3)
    assert torch.allclose(rms[:2] * 14, px_rms, rtol=1e-3)  # grid units (half-width 1) = 14 px here
    assert empty.tolist() == [False, False, True]
    y = x[:2].clone().requires_grad_(True)
    object_moments(y)[2].sum().backward()
    assert y.grad is not None and y.grad.abs().sum() > 0  # G can be told how large to draw


def test_size_mismatch_is_zero_for_shared_sizes_and_large_for_categories_that_split_them() -> None:
    g = torch.Generator().manual_seed(0)
    category = torch.arange(300) % 3
    shared = torch.randn(300, generator=g)  # every category draws the same sizes
    split = category.float() + 0.1 * torch.randn(300, generator=g)  # category k is size k
    spread = torch.where(category == 0, 0.0, torch.where(category == 1, -1.0, 1.0)) * (category > 0)  # same means
    assert size_mismatch(shared, category, 3) < 0.05
    assert size_mismatch(split, category, 3) > 1.0
    assert size_mismatch(spread + 0.01 * torch.randn(300, generator=g), category, 3) > 0.3  # a spread is a size too
    lonely = torch.tensor([0, 0, 0, 1])  # category 1 has one image, category 2 none: only category 0 counts
    sizes = torch.tensor([1.0, 2.0, 3.0, 10.0])
    expected = ((sizes[:3].mean() - sizes.mean()) ** 2 + (sizes[:3].std(unbiased=False) - sizes.std(unbiased=False)) ** 2)
    assert torch.allclose(size_mismatch(sizes, lonely, 3), expected / sizes.var(unbiased=False))


def test_size_match_is_a_generator_term_that_reaches_g_and_is_off_by_default() -> None:
    assert MutualInformationPlusOptions().size_match == 0.0
    spec, reg, critic = _conv_setup(size_match=2.0)
    gen = _conv_view(spec, critic, "generator")
    terms = reg.generator_terms(gen)
    _, _, rms, _ = object_moments(gen.fake.detach())
    expected = size_mismatch(rms.log(), gen.latent.codes["c1"].long(), K)
    assert torch.allclose(terms.losses["size"], 2.0 * expected) and torch.allclose(terms.logs["size/c1"], expected)
    terms.losses["size"].backward()
    assert gen.fake.grad is not None and gen.fake.grad.abs().sum() > 0
    assert "size" not in reg.critic_terms(_conv_view(spec, critic)).losses  # the critic has nothing to learn from it
    _, plain, _ = _conv_setup()
    assert "size" not in plain.generator_terms(_conv_view(spec, critic, "generator")).losses


def _soft_disk(cx: float, cy: float, radius: float, size: int = 28) -> Tensor:
    """A disk drawn as the shapes data draw theirs: 4× supersampled, then averaged, (1, 1, size, size) in [-1, 1]."""
    fine = _disk(4 * cx, 4 * cy, 4 * radius, 4 * size)
    return F.avg_pool2d(fine, 4)


def _soft_edge_pixels(x: Tensor) -> Tensor:
    """Per image (B, 1, H, W): how many pixels are edge, neither background nor full brightness."""
    return ((x > -0.95) & (x < 0.95)).float().sum((1, 2, 3))


def test_normalize_radius_sets_the_size_every_object_is_zoomed_to() -> None:
    x = torch.cat([_disk(8, 9, 3), _disk(18, 16, 7)])
    rms = _moments(normalize_size(x, radius=0.2))[2]
    assert torch.allclose(rms, torch.full_like(rms, 0.2 * 14), rtol=0.1)


def test_antialiased_shrinking_leaves_no_trace_of_the_size_in_the_edges() -> None:
    small, large = _soft_disk(14, 14, 3.5), _soft_disk(14, 14, 7.0)  # the same disk drawn at two sizes
    plain = normalize_size(torch.cat([small, large]), radius=0.15)  # both shrunk (by 1.2 and 2.4)
    smooth = normalize_size(torch.cat([small, large]), radius=0.15, antialias=True)
    gap_plain = (_soft_edge_pixels(plain)[0] - _soft_edge_pixels(plain)[1]).abs()
    gap_smooth = (_soft_edge_pixels(smooth)[0] - _soft_edge_pixels(smooth)[1]).abs()
    assert gap_smooth < 0.5 * gap_plain  # shrunk without a low-pass the large disk's edges come out too sharp
    assert (smooth[0] - smooth[1]).abs().mean() < (plain[0] - plain[1]).abs().mean()


def test_shrink_blur_blurs_only_what_is_shrunk_and_keeps_mass_and_gradient() -> None:
    x = torch.cat([_disk(14, 14, 5), _disk(14, 14, 5)]).requires_grad_(True)
    out = shrink_blur(x, torch.tensor([0.7, 2.0]))  # the first is blown up (no blur), the second halved
    assert torch.equal(out[0], x[0].detach())
    assert not torch.allclose(out[1], x[1]) and torch.allclose((out[1] + 1).sum(), (x[1] + 1).sum(), rtol=1e-3)
    between = shrink_blur(x[1:].detach(), torch.tensor([((0.375 / 0.42) ** 2 + 1) ** 0.5]))  # σ = 0.375 px
    assert torch.allclose(between, (gaussian_blur(x[1:].detach(), 0.25) + gaussian_blur(x[1:].detach(), 0.5)) / 2,
                          atol=1e-5)  # interpolated between the two nearest blurs
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_normalize_radius_and_antialias_reach_the_conv_head_and_need_normalize_size() -> None:
    from pydantic import ValidationError

    _, plain, _ = _conv_setup()
    _, small, _ = _conv_setup(normalize_size=True, normalize_radius=0.2, normalize_antialias=True)
    small.load_state_dict(plain.state_dict())
    x = torch.cat([_disk(9, 10, 4), _disk(16, 15, 8)])
    with torch.no_grad():
        seen = small.encode(torch.zeros(2, FEAT), x)["c1"]
        want = plain.encode(torch.zeros(2, FEAT), normalize_size(x, 0.2, antialias=True))["c1"]
        assert torch.allclose(seen, want, atol=1e-6)
    for key, value in (("normalize_radius", 0.2), ("normalize_antialias", True)):
        with pytest.raises(ValidationError, match=f"{key} needs normalize_size = true") as err:
            MutualInformationPlusOptions(categorical_head="conv", **{key: value})
        assert err.value.errors()[0]["loc"] == (key,)
    with pytest.raises(ValidationError):
        MutualInformationPlusOptions(categorical_head="conv", normalize_size=True, normalize_radius=0.0)
