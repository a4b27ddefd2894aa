"""Fréchet distance between Gaussians (FID) and the Inception-Score analogue from class probabilities.

* FID (Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
  Equilibrium", Sec. "Fréchet Inception Distance"): fit a Gaussian to the features of real and of
  generated samples and report the squared Fréchet (2-Wasserstein) distance between the two,
  d² = ||μ1 − μ2||² + Tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^{1/2}). The numerics follow pytorch-fid
  (``fid_score.calculate_frechet_distance``) so that values are comparable with it.
* Inception Score (Salimans et al. 2016, "Improved Techniques for Training GANs", Sec. 4):
  IS = exp(E_x KL(p(y|x) || p(y))), here computed from any classifier's class probabilities.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.linalg
from scipy.special import entr, rel_entr

from ganforge.evaluation.metrics._arrays import as_array, as_matrix


def feature_statistics(features: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(D,)`` and unbiased covariance ``(D, D)`` (ddof=1, like pytorch-fid) of ``(N, D)`` features."""
    f = as_matrix(features, "features", np.float64)  # (N, D)
    if f.shape[0] < 2:
        raise ValueError(f"need at least 2 feature vectors for a covariance, got {f.shape[0]}")
    mu = f.mean(axis=0)  # (D,)
    sigma = np.atleast_2d(np.cov(f, rowvar=False))  # (D, D)
    return mu, sigma


def frechet_distance(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any, eps: float = 1e-6) -> float:
    """Squared Fréchet distance ||μ1 − μ2||² + Tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^{1/2}) (Heusel et al. 2017).

    ``mu*`` are ``(D,)`` means and ``sigma*`` ``(D, D)`` covariances. The matrix square root is
    ``scipy.linalg.sqrtm``; if it is not finite (singular product, e.g. fewer samples than feature
    dimensions), it is recomputed with ``eps·I`` added to both covariances. A numerically complex
    result has its imaginary part dropped when negligible; a diagonal imaginary component larger
    than 1e-3 raises ``ValueError`` (same tolerance as pytorch-fid). Like pytorch-fid, tiny
    negative values from round-off are returned as is, not clipped.
    """
    m1 = np.atleast_1d(as_array(mu1, np.float64))  # (D,)
    m2 = np.atleast_1d(as_array(mu2, np.float64))  # (D,)
    s1 = np.atleast_2d(as_array(sigma1, np.float64))  # (D, D)
    s2 = np.atleast_2d(as_array(sigma2, np.float64))  # (D, D)
    d = m1.shape[0]
    if m1.shape != (d,) or m2.shape != (d,):
        raise ValueError(f"means must both be (D,), got {m1.shape} and {m2.shape}")
    if s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(f"covariances must both be ({d}, {d}), got {s1.shape} and {s2.shape}")

    diff = m1 - m2  # (D,)
    covmean = _sqrtm(s1 @ s2)  # (D, D), possibly complex
    if not np.isfinite(covmean).all():
        offset = np.eye(d) * eps  # (D, D)
        covmean = _sqrtm((s1 + offset) @ (s2 + offset))
        if not np.isfinite(covmean).all():
            raise ValueError("matrix square root of sigma1 @ sigma2 is not finite, even with eps offset")
    if np.iscomplexobj(covmean):
        imag = np.max(np.abs(np.diagonal(covmean).imag))
        if imag > 1e-3:
            raise ValueError(f"matrix square root has a large imaginary component ({imag:.3g})")
        covmean = covmean.real
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))


def _sqrtm(a: np.ndarray) -> np.ndarray:
    """``scipy.linalg.sqrtm`` without its singular-matrix warning (callers check finiteness)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        return scipy.linalg.sqrtm(a)


def classifier_score(probs: Any, splits: int = 1) -> float:
    """Inception-Score analogue exp(E_x KL(p(y|x) || p(y))) from ``(N, K)`` class probabilities.

    Salimans et al. (2016): high when each sample is confidently classified (low-entropy p(y|x))
    and the classes are used evenly (high-entropy marginal p(y)); it ranges over [1, K]. p(y) is the
    mean of the rows within each split. As in the reference Inception Score code, the N rows are cut
    into ``splits`` consecutive chunks (chunk i is rows ``i*N//splits`` to ``(i+1)*N//splits``), the
    score is computed per chunk and the mean over chunks is returned. Rows must be probability
    vectors (non-negative, summing to 1 within 1e-3); 0·log 0 is taken as 0.
    """
    p = as_matrix(probs, "probs", np.float64)  # (N, K)
    n = p.shape[0]
    if splits < 1 or n < splits:
        raise ValueError(f"need 1 <= splits <= N, got splits={splits}, N={n}")
    if not np.isfinite(p).all() or p.min() < 0 or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("probs rows must be finite, non-negative and sum to 1")
    scores = []
    for i in range(splits):
        part = p[i * n // splits : (i + 1) * n // splits]  # (n_i, K)
        marginal = part.mean(axis=0, keepdims=True)  # (1, K) = p(y)
        kl = rel_entr(part, marginal).sum(axis=1)  # (n_i,) = KL(p(y|x) || p(y))
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores))


def score_entropies(probs: Any) -> tuple[float, float]:
    """The classifier score's two parts from ``(N, K)`` class probabilities, in nats: the entropy of the
    marginal H(p(y)) and the mean entropy E_x H(p(y|x)), so that with one split the score is
    exp(H(p(y)) − E_x H(p(y|x))). A low score from classes drawn unevenly (dropped modes) shows in the first,
    one from samples the classifier is unsure of (images between two classes) in the second."""
    p = as_matrix(probs, "probs", np.float64)  # (N, K)
    h_each = entr(p).sum(axis=1)  # (N,) H(p(y|x)), with 0·log 0 = 0
    return float(entr(p.mean(axis=0)).sum()), float(h_each.mean())
