"""Fréchet distance, feature statistics and the classifier (Inception) score."""

from __future__ import annotations

import numpy as np
import pytest

from ganforge.evaluation.metrics import classifier_score, feature_statistics, frechet_distance, score_entropies


def _psd_sqrt(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(a)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def _reference_fd(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """Independent route via eigendecomposition: Tr((S1 S2)^½) = Tr((S1^½ S2 S1^½)^½)."""
    r1 = _psd_sqrt(s1)
    inner = np.linalg.eigvalsh(r1 @ s2 @ r1)
    tr_covmean = np.sum(np.sqrt(np.clip(inner, 0, None)))
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)


def _random_cov(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.normal(size=(d, d))
    return a @ a.T + 0.1 * np.eye(d)


def test_identical_gaussians_have_zero_distance() -> None:
    rng = np.random.default_rng(0)
    mu, sigma = rng.normal(size=6), _random_cov(rng, 6)
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-8)


def test_diagonal_covariances_closed_form() -> None:
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.0])
    v1, v2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 0.25])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(v1 + v2 - 2 * np.sqrt(v1 * v2))
    # by hand: ||Δμ||² = 1 + 0 + 4 = 5; traces: (1+4-4) + (4+1-4) + (9+0.25-3) = 1 + 1 + 6.25
    assert expected == pytest.approx(13.25)
    assert frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2)) == pytest.approx(13.25, rel=1e-10)


def test_non_diagonal_matches_eigendecomposition_reference() -> None:
    rng = np.random.default_rng(1)
    for d in (2, 5, 16):
        mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
        s1, s2 = _random_cov(rng, d), _random_cov(rng, d)
        got = frechet_distance(mu1, s1, mu2, s2)
        assert got == pytest.approx(_reference_fd(mu1, s1, mu2, s2), rel=1e-8)
        assert got == pytest.approx(frechet_distance(mu2, s2, mu1, s1), rel=1e-8)  # symmetric


def test_rank_deficient_covariances_from_few_samples() -> None:
    rng = np.random.default_rng(2)
    mu1, s1 = feature_statistics(rng.normal(size=(5, 12)))  # rank <= 4 < 12
    mu2, s2 = feature_statistics(rng.normal(size=(6, 12)) + 0.5)
    got = frechet_distance(mu1, s1, mu2, s2)
    assert np.isfinite(got)
    assert got == pytest.approx(_reference_fd(mu1, s1, mu2, s2), rel=1e-4)


def test_large_imaginary_part_raises() -> None:
    with pytest.raises(ValueError, match="imaginary"):
        frechet_distance(np.zeros(2), np.diag([1.0, -1.0]), np.zeros(2), np.eye(2))


def test_shape_mismatch_raises() -> None:
    with pytest.raises(ValueError):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))


def test_feature_statistics_unbiased() -> None:
    f = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 8.0]])
    mu, sigma = feature_statistics(f)
    np.testing.assert_allclose(mu, [2.0, 4.0])
    centred = f - mu
    np.testing.assert_allclose(sigma, centred.T @ centred / 2)  # ddof = 1
    mu1, sigma1 = feature_statistics(f[:, :1])
    assert mu1.shape == (1,) and sigma1.shape == (1, 1)
    with pytest.raises(ValueError):
        feature_statistics(f[:1])


def test_classifier_score_uniform_one_hot_is_k() -> None:
    k = 7
    probs = np.eye(k)[np.tile(np.arange(k), 10)]  # (70, 7), every class 10 times
    assert classifier_score(probs) == pytest.approx(k)
    assert classifier_score(probs, splits=10) == pytest.approx(k)  # each split holds each class once


def test_classifier_score_single_class_is_one() -> None:
    probs = np.tile([0.0, 1.0, 0.0], (20, 1))
    assert classifier_score(probs) == pytest.approx(1.0)
    assert classifier_score(np.full((20, 4), 0.25)) == pytest.approx(1.0)  # uninformative p(y|x)


def test_classifier_score_hand_case() -> None:
    probs = np.array([[1.0, 0.0], [0.5, 0.5]])  # p(y) = (0.75, 0.25)
    kl1 = np.log(1 / 0.75)
    kl2 = 0.5 * np.log(0.5 / 0.75) + 0.5 * np.log(0.5 / 0.25)
    assert classifier_score(probs) == pytest.approx(np.exp((kl1 + kl2) / 2))


def test_classifier_score_rejects_non_probabilities() -> None:
    with pytest.raises(ValueError):
        classifier_score(np.array([[0.5, 0.6]]))
    with pytest.raises(ValueError):
        classifier_score(np.eye(3), splits=4)


def test_matches_torchmetrics_fid_on_the_same_features() -> None:
    """The hand-written Fréchet distance agrees with torchmetrics' FrechetInceptionDistance fed the same features."""
    import torch
    from torchmetrics.image.fid import FrechetInceptionDistance

    class Features(torch.nn.Identity):
        num_features = 6  # torchmetrics reads the width from here instead of running a dummy image through

    rng = np.random.default_rng(4)
    real, fake = rng.normal(size=(300, 6)), rng.normal(0.3, 1.5, size=(200, 6)) @ _random_cov(rng, 6)
    fid = FrechetInceptionDistance(feature=Features())
    fid.update(torch.from_numpy(real), real=True)
    fid.update(torch.from_numpy(fake), real=False)
    ours = frechet_distance(*feature_statistics(real), *feature_statistics(fake))
    assert ours == pytest.approx(float(fid.compute()), rel=1e-6)


def test_score_entropies_split_the_score() -> None:
    probs = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.0, 0.0, 1.0], [1 / 3, 1 / 3, 1 / 3]])  # (4, 3)
    h_marginal, h_each = score_entropies(probs)
    assert classifier_score(probs) == pytest.approx(np.exp(h_marginal - h_each))
    marginal = probs.mean(axis=0)
    assert h_marginal == pytest.approx(-(marginal * np.log(marginal)).sum())
    # one-hot rows: nothing unsure; one class only: nothing spread
    assert score_entropies(np.eye(3)[[0, 1, 2, 0]])[1] == pytest.approx(0.0)
    assert score_entropies(np.tile([0.0, 1.0, 0.0], (5, 1))) == pytest.approx((0.0, 0.0))
    # unsure samples raise the mean entropy and leave the marginal's alone
    assert score_entropies(np.full((6, 3), 1 / 3)) == pytest.approx((np.log(3), np.log(3)))
