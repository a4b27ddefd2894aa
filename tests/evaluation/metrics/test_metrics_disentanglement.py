"""Discretisation, plug-in mutual information, MIG, informativeness and the FactorVAE score."""

from __future__ import annotations

import numpy as np
import pytest

from ganforge.evaluation.metrics import (
    best_factor_per_code,
    discretize,
    factor_entropies,
    factor_vae_score,
    fixed_factor_sampler,
    informativeness,
    mig,
    mutual_information_matrix,
)

N = 4000
N_VALUES = 8  # values per synthetic factor


def _factors(rng: np.random.Generator, n: int = N, f: int = 2) -> np.ndarray:
    return rng.integers(0, N_VALUES, size=(n, f))  # (n, f) independent uniform discrete factors


# --- discretisation, MI, entropy ---------------------------------------------------------------


def test_discretize_equal_width_bins() -> None:
    x = np.arange(20.0)[:, None]  # (20, 1): one value per bin
    np.testing.assert_array_equal(discretize(x, bins=20)[:, 0], np.arange(20))
    y = np.array([[0.0, 5.0], [0.49, 5.0], [0.5, 5.0], [1.0, 5.0]])
    d = discretize(y, bins=2)
    np.testing.assert_array_equal(d[:, 0], [0, 0, 1, 1])  # edges 0, 0.5, 1; the max is in the last bin
    assert np.all(d[:, 1] == d[0, 1])  # constant column -> one bin
    with pytest.raises(ValueError):
        discretize(np.array([[np.nan]]))


def test_mutual_information_hand_cases() -> None:
    a = np.array([0, 0, 1, 1])
    b = np.array([0, 1, 0, 1])
    mi = mutual_information_matrix(np.stack([a, b], 1), np.stack([a, 7 * a + 3], 1))
    np.testing.assert_allclose(mi, [[np.log(2), np.log(2)], [0.0, 0.0]], atol=1e-12)


def test_entropy_and_self_information() -> None:
    rng = np.random.default_rng(0)
    v = rng.integers(0, 5, size=(1000, 2))
    h = factor_entropies(v)
    p = np.bincount(v[:, 0]) / 1000
    assert h[0] == pytest.approx(-np.sum(p * np.log(p)))
    np.testing.assert_allclose(np.diag(mutual_information_matrix(v, v)), h)  # I(X; X) = H(X)
    assert factor_entropies(np.array([[0], [0], [1], [1]]))[0] == pytest.approx(np.log(2))


# --- MIG ---------------------------------------------------------------------------------------


def test_mig_disentangled_codes_near_one() -> None:
    rng = np.random.default_rng(0)
    v = _factors(rng)
    codes = np.column_stack([v[:, 0] + 0.01 * rng.normal(size=N), v[:, 1] + 0.01 * rng.normal(size=N),
                             rng.normal(size=N)])  # (N, 3): one code per factor plus pure noise
    out = mig(codes, v)
    assert out["mig"] > 0.95
    np.testing.assert_array_equal(out["top_code"], [0, 1])
    assert out["gaps"].shape == (2,) and out["mutual_information"].shape == (3, 2)
    np.testing.assert_allclose(out["entropies"], np.log(N_VALUES), atol=0.01)


def test_mig_random_codes_near_zero() -> None:
    rng = np.random.default_rng(1)
    v = _factors(rng)
    assert mig(rng.normal(size=(N, 3)), v)["mig"] < 0.03


def test_mig_mixed_codes_lower_than_disentangled() -> None:
    rng = np.random.default_rng(2)
    v = _factors(rng)
    noise = 0.01 * rng.normal(size=(N, 2))
    disentangled = mig(v + noise, v)["mig"]
    mixed = mig(np.column_stack([v[:, 0] + v[:, 1], v[:, 0] - v[:, 1]]) + noise, v)["mig"]
    assert mixed < disentangled - 0.5


def test_mig_continuous_factors_and_constant_factor() -> None:
    rng = np.random.default_rng(3)
    u = rng.uniform(-1, 1, size=(N, 2))  # float dtype -> continuous, discretised
    codes = np.column_stack([3 * u[:, 0], -u[:, 1], rng.normal(size=N)])
    assert mig(codes, u)["mig"] > 0.9
    with_constant = np.column_stack([rng.integers(0, 4, N), np.zeros(N, int)])
    out = mig(np.column_stack([with_constant[:, 0], rng.normal(size=N)]).astype(float), with_constant)
    assert np.isnan(out["gaps"][1]) and np.isfinite(out["mig"])
    with pytest.raises(ValueError):
        mig(codes[:, :1], u)
    with pytest.raises(ValueError):
        mig(codes, u, factor_is_discrete=[True])


def test_informativeness_and_best_factor() -> None:
    rng = np.random.default_rng(4)
    v = _factors(rng, f=3)
    codes = np.column_stack([v[:, 2], v[:, 0] + 0.01 * rng.normal(size=N), rng.normal(size=N)]).astype(float)
    info = informativeness(codes, v)
    assert info.shape == (3, 3)
    assert info[0, 2] > 0.95 and info[1, 0] > 0.95 and info[2].max() < 0.03
    np.testing.assert_array_equal(best_factor_per_code(info)[:2], [2, 0])
    np.testing.assert_array_equal(best_factor_per_code(np.array([[np.nan, np.nan], [0.1, np.nan]])), [-1, 0])


# --- FactorVAE ---------------------------------------------------------------------------------

F = 3


def _fixed_sampler(encode):  # type: ignore[no-untyped-def]
    def sample_fixed(k: int, n: int, rng: np.random.Generator) -> np.ndarray:
        v = rng.integers(0, N_VALUES, size=(n, F))  # (n, F) all factors random
        v[:, k] = rng.integers(0, N_VALUES)  # ... except factor k, shared
        return encode(v, rng)

    return sample_fixed


def _disentangled(v: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    scales = np.array([100.0, 1.0, 0.01])  # arbitrary per-dim scales: the metric normalises them
    codes = v * scales + 1e-3 * scales * rng.normal(size=v.shape)
    return np.column_stack([codes, rng.normal(size=len(v)), np.full(len(v), 2.0)])  # + noise, + dead dim


def test_factor_vae_disentangled_is_perfect() -> None:
    rng = np.random.default_rng(5)
    global_codes = _disentangled(_factors(rng, f=F), rng)
    out = factor_vae_score(_fixed_sampler(_disentangled), global_codes, F, seed=0)
    assert out["score"] >= 0.99 and out["train_accuracy"] >= 0.99
    np.testing.assert_array_equal(out["active_dims"], [True, True, True, True, False])
    np.testing.assert_array_equal(out["classifier"][:3], [0, 1, 2])
    assert out["votes_train"].sum() == 800 and out["votes_eval"].sum() == 400
    assert out["votes_eval"].shape == (5, F) and out["votes_eval"][4].sum() == 0


def test_factor_vae_random_codes_at_chance() -> None:
    rng = np.random.default_rng(6)

    def encode(v: np.ndarray, r: np.random.Generator) -> np.ndarray:
        return r.normal(size=(len(v), F))

    out = factor_vae_score(_fixed_sampler(encode), rng.normal(size=(N, F)), F, seed=1)
    assert abs(out["score"] - 1 / F) < 0.1


def test_factor_vae_from_dataset_sampler() -> None:
    rng = np.random.default_rng(7)
    v = _factors(rng, n=N, f=F)
    codes = _disentangled(v, rng)
    out = factor_vae_score(fixed_factor_sampler(codes, v), codes, F, n_train=200, n_eval=200, seed=2)
    assert out["score"] >= 0.99


def test_factor_vae_all_dims_collapsed_and_bad_sampler() -> None:
    out = factor_vae_score(_fixed_sampler(lambda v, r: np.zeros((len(v), 2))), np.zeros((10, 2)), F)
    assert out["score"] == 0.0 and out["n_active"] == 0
    with pytest.raises(ValueError, match="sample_fixed returned"):
        factor_vae_score(_fixed_sampler(lambda v, r: np.ones((3, 2))), np.eye(2), F)


def test_factor_vae_pruning_keeps_original_dim_indices() -> None:
    rng = np.random.default_rng(8)
    global_codes = _disentangled(_factors(rng, f=F), rng)  # stds about [230, 2.3, 0.023, 1, 0]
    out = factor_vae_score(_fixed_sampler(_disentangled), global_codes, F, n_train=100, n_eval=100, min_std=1.5)
    np.testing.assert_array_equal(out["active_dims"], [True, True, False, False, False])
    assert out["votes_train"][:2].sum() == 100 and out["votes_train"][2:].sum() == 0
    np.testing.assert_array_equal(out["classifier"], [0, 1, -1, -1, -1])
