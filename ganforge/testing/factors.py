"""The latent-factor contract: every check a ``register_latent_factors`` kind must pass.

Subclass it in a test module, name the plugin and the kind, and pytest runs every check::

    class TestVonMises(LatentFactorContract):
        plugin = ganforge_vonmises
        kind = "vonmises"
        options = {"prior": "uniform"}

Override :meth:`in_support`, :meth:`prior` and :meth:`posterior` to add checks against the exact
support and against ``torch.distributions`` (NLL, entropy, sample mean). The generic checks need no
help: they fit Q's posterior parameters by gradient descent through ``nll`` and hold the factor to
what InfoGAN relies on: ``nll`` is a proper −log density whose best fit recovers the value, and the
best *constant* posterior cannot beat the prior's entropy (Gibbs' inequality), so L_I = H(c) − NLL
is a true lower bound.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import pytest
import torch
from torch import Tensor
from torch.distributions import Distribution

from ganforge import InferableFactor, LatentFactor, LatentSpec
from ganforge.testing.base import PluginContract

#: name the contract gives the factor it builds
FACTOR_NAME = "c"


def fit_posterior(factor: LatentFactor, values: Tensor, shared: bool, steps: int = 300) -> Tensor:
    """Posterior parameters minimising ``nll(params, values)``: one row per value, or one ``shared`` row.

    Adam with a cosine-decayed learning rate from 0.1, starting near zero (small seeded noise, as a
    freshly initialised Q head outputs: exactly zero can be a singular point, e.g. a direction); deterministic.
    """
    rows = 1 if shared else len(values)
    start = 0.1 * torch.randn(rows, factor.posterior_width, generator=torch.Generator().manual_seed(0))
    raw = start.requires_grad_(True)
    opt = torch.optim.Adam([raw], lr=0.1)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(steps):
        params = raw.expand(len(values), -1)  # (B, P)
        loss = factor.nll(params, values).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return raw.detach().expand(len(values), -1)


def _needs_posterior(factor: LatentFactor) -> None:
    """Skip a check of Q's side for a plain factor (one that is not an :class:`~ganforge.InferableFactor`)."""
    if not isinstance(factor, InferableFactor):
        pytest.skip("a plain factor: Q does not infer it (subclass ganforge.InferableFactor for Q's checks)")


class LatentFactorContract(PluginContract):
    """Checks for one latent-factor kind, built through the registry exactly as a recipe builds it; the checks
    of Q's side (posterior, NLL, entropy) run for an :class:`~ganforge.InferableFactor` only."""

    component = "latent_factor"
    #: the registered factor kind (``[[latent.factors]] kind = ...``)
    kind: ClassVar[str]
    lam: ClassVar[float] = 0.5
    batch: ClassVar[int] = 512

    # --- hooks a subclass may override ----------------------------------------------------------
    def in_support(self, factor: LatentFactor, values: Tensor) -> Tensor:
        """Boolean mask: which ``values`` lie in the prior's support (default: finite; ``prior().support``)."""
        prior = self.prior(factor)
        if prior is not None:
            return prior.support.check(values)
        return torch.isfinite(values.float())

    def prior(self, factor: LatentFactor) -> Distribution | None:
        """The prior as a ``torch.distributions`` object, to check samples and entropy against (optional)."""
        return None

    def posterior(self, factor: LatentFactor, params: Tensor) -> Distribution | None:
        """Q's posterior for ``params`` as a ``torch.distributions`` object, to check ``nll`` against (optional)."""
        return None

    # --- building -----------------------------------------------------------------------------------
    def registered_name(self) -> str:
        return self.kind

    def make_factor(self, options: dict[str, Any] | None = None) -> LatentFactor:
        """Validate ``options`` with the kind's options model and call its factory, as a recipe does."""
        entry = self.registry().get(self.component, self.kind)
        values = self.options if options is None else options
        return entry.build(FACTOR_NAME, self.lam, entry.options.model_validate(values))

    def draw(self, factor: LatentFactor, n: int | None = None, seed: int = 0) -> Tensor:
        return factor.sample(n or self.batch, torch.Generator().manual_seed(seed), "cpu")

    # --- registration ---------------------------------------------------------------------------------
    def test_factory_builds_a_factor_with_its_name_and_lambda(self) -> None:
        factor = self.make_factor()
        assert isinstance(factor, LatentFactor)
        assert (factor.name, factor.lam) == (FACTOR_NAME, self.lam), "pass name and lam on to LatentFactor.__init__"

    def test_widths_and_flags(self) -> None:
        f = self.make_factor()
        assert isinstance(f.input_width, int) and f.input_width >= 1
        assert isinstance(f.discrete, bool) and isinstance(f.conditions_critic, bool)
        if isinstance(f, InferableFactor):
            assert isinstance(f.posterior_width, int) and f.posterior_width >= 1
            assert isinstance(f.posterior_meaning, str) and f.posterior_meaning

    # --- sampling -------------------------------------------------------------------------------------------
    def test_sample_encode_predict_nll_shapes_and_dtypes(self) -> None:
        f = self.make_factor()
        v = self.draw(f)
        assert v.shape[0] == self.batch
        assert not (f.discrete and v.is_floating_point()), "discrete values are integer class indices"
        enc = f.encode(v)
        assert enc.shape == (self.batch, f.input_width) and enc.dtype == torch.float32
        assert torch.isfinite(enc).all()
        if not isinstance(f, InferableFactor):
            return
        params = torch.randn(self.batch, f.posterior_width, generator=torch.Generator().manual_seed(1))
        nll = f.nll(params, v)
        assert nll.shape == (self.batch,) and nll.is_floating_point()
        pred = f.predict(params)
        assert pred.shape == v.shape and pred.is_floating_point() == v.is_floating_point()

    def test_sampling_is_reproducible_with_a_seeded_generator(self) -> None:
        f = self.make_factor()
        torch.manual_seed(0)
        a = self.draw(f, seed=3)
        torch.manual_seed(123)  # the global RNG must not matter
        assert torch.equal(a, self.draw(f, seed=3))
        assert not torch.equal(a, self.draw(f, seed=4))

    def test_samples_lie_in_the_support(self) -> None:
        f = self.make_factor()
        v = self.draw(f)
        assert bool(self.in_support(f, v).all()), f"values outside the support: {v[~self.in_support(f, v)][:5]}"

    def test_samples_and_entropy_match_the_reference_prior(self) -> None:
        f = self.make_factor()
        _needs_posterior(f)
        prior = self.prior(f)
        if prior is None:
            pytest.skip("no reference prior: override prior() to compare with torch.distributions")
        v = self.draw(f, 8192)
        surprise = -prior.log_prob(v).double()  # (N,) −log p(c); its mean estimates H(c)
        assert torch.isfinite(surprise).all()
        slack = 5 * surprise.std().item() / math.sqrt(len(v)) + 1e-4
        assert abs(surprise.mean().item() - f.entropy()) <= slack, (
            f"samples' mean −log p(c) = {surprise.mean().item():.4f} but entropy() = {f.entropy():.4f}: "
            "sample() does not draw from the prior, or entropy() is not the prior's"
        )
        reference = _entropy(prior)
        if reference is not None:
            assert f.entropy() == pytest.approx(reference, abs=1e-4)

    # --- the posterior -------------------------------------------------------------------------------------
    def test_nll_matches_the_reference_posterior(self) -> None:
        f = self.make_factor()
        _needs_posterior(f)
        params = 0.5 * torch.randn(self.batch, f.posterior_width, generator=torch.Generator().manual_seed(2))
        posterior = self.posterior(f, params)
        if posterior is None:
            pytest.skip("no reference posterior: override posterior() to compare with torch.distributions")
        v = self.draw(f)
        torch.testing.assert_close(f.nll(params, v).double(), -posterior.log_prob(v).double(), rtol=1e-4, atol=1e-4)

    def test_nll_is_finite_and_gradients_reach_the_posterior_parameters(self) -> None:
        f = self.make_factor()
        _needs_posterior(f)
        params = (3 * torch.randn(self.batch, f.posterior_width, generator=torch.Generator().manual_seed(5)))
        params.requires_grad_(True)
        nll = f.nll(params, self.draw(f))
        assert torch.isfinite(nll).all(), "nll must stay finite for any posterior parameters Q can output"
        nll.sum().backward()
        assert params.grad is not None and torch.isfinite(params.grad).all()
        assert (params.grad.abs().sum(0) > 0).all(), "every posterior column should get a gradient"

    def test_best_posterior_recovers_the_value_and_beats_a_wrong_one(self) -> None:
        f = self.make_factor()
        _needs_posterior(f)
        v = self.draw(f, 256)
        fitted = fit_posterior(f, v, shared=False)
        wrong = v[torch.randperm(len(v), generator=torch.Generator().manual_seed(0))]
        right_nll, wrong_nll = f.nll(fitted, v).mean().item(), f.nll(fitted, wrong).mean().item()
        assert right_nll < wrong_nll, (
            f"NLL of the values Q was fitted to ({right_nll:.3f}) ≥ NLL of other values ({wrong_nll:.3f})")
        got, want = f.encode(f.predict(fitted)), f.encode(v)
        close = ((got - want).abs() <= 0.05 * (1 + want.abs())).all(dim=1).float().mean().item()
        assert close >= 0.95, f"predict() of the best-fitting posterior recovers only {close:.0%} of the values"

    def test_entropy_is_finite_and_bounds_the_best_constant_posterior(self) -> None:
        f = self.make_factor()
        _needs_posterior(f)
        h = f.entropy()
        assert isinstance(h, float) and math.isfinite(h)
        if f.discrete:
            assert h >= 0, "a discrete entropy is never negative"
        v = self.draw(f, 4096)
        nll = f.nll(fit_posterior(f, v, shared=True), v)
        slack = 0.02 + 3 * nll.std().item() / math.sqrt(len(v))
        assert nll.mean().item() >= h - slack, (
            f"a posterior that ignores the image reaches E[NLL] = {nll.mean().item():.4f} < H(c) = {h:.4f}: "
            "entropy() is too large or nll() is missing a constant, so L_I would overstate the information"
        )

    # --- traversals and the latent spec ---------------------------------------------------------------
    def test_traversal_values_can_be_generated_from(self) -> None:
        f = self.make_factor()
        for steps in (2, 7):
            t = f.traversal(steps)
            assert t.dim() >= 1 and len(t) >= 2
            assert t.shape[1:] == self.draw(f, 2).shape[1:]
            assert torch.isfinite(f.encode(t)).all() and f.encode(t).shape == (len(t), f.input_width)
            if not f.discrete:
                assert len(t) == steps
        if not f.discrete:
            lo, hi = (float(x) for x in f.traversal(5)[[0, -1]].sort().values)
            lo, hi = (lo, hi) if hi > lo else (lo - 1, lo + 1)
            t = f.traversal(6, (lo, hi)).double()
            assert t[0].item() == pytest.approx(lo) and t[-1].item() == pytest.approx(hi)
            assert bool(((t >= lo - 1e-6) & (t <= hi + 1e-6)).all()), "an explicit span bounds the traversal"

    def test_works_inside_a_latent_spec(self) -> None:
        f = self.make_factor()
        spec = LatentSpec(noise_dim=3, factors=[f])
        batch = spec.sample(8, torch.Generator().manual_seed(0))
        assert spec.generator_input(batch).shape == (8, 3 + f.input_width)
        if not isinstance(f, InferableFactor):
            assert spec.posterior_width == 0 and spec.split_posterior(torch.zeros(8, 0)) == {}
            return
        params = spec.split_posterior(torch.zeros(8, spec.posterior_width))[FACTOR_NAME]
        assert f.nll(params, batch.codes[FACTOR_NAME]).shape == (8,)


def _entropy(dist: Distribution) -> float | None:
    """The entropy of a scalar ``dist``, or None where torch does not implement it (e.g. ``VonMises``)."""
    try:
        value = dist.entropy()
    except NotImplementedError:
        return None
    return float(value) if value.numel() == 1 else None
