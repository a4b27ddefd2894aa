"""Disentanglement metrics against known generative factors: MIG, FactorVAE score, informativeness.

Conventions: ``codes`` are ``(N, C)`` learned representations (e.g. InfoGAN's Q outputs) and
``factors`` are ``(N, F)`` ground-truth generative factors of the same N samples. Mutual
information and entropies are in nats and use the plug-in (empirical histogram) estimator on
discretised values, as disentanglement_lib does (Locatello et al. 2019, "Challenging Common
Assumptions in the Unsupervised Learning of Disentangled Representations"); with N samples the
plug-in MI of independent variables is biased upward by about (a−1)(b−1)/(2N) for a, b bins.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ganforge.evaluation.metrics._arrays import as_array, as_matrix


def discretize(values: Any, bins: int = 20) -> np.ndarray:
    """Equal-width histogram binning of each column of ``(N, D)`` values into ``0..bins-1``.

    Per column, the range [min, max] is cut into ``bins`` equal-width bins (``np.histogram`` edges)
    and each value gets its bin index, the maximum falling in the last bin. This is
    disentanglement_lib's ``_histogram_discretize`` shifted to start at 0.
    """
    x = as_matrix(values, "values", np.float64)  # (N, D)
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    if not np.isfinite(x).all():
        raise ValueError("values must be finite to discretize")
    out = np.zeros(x.shape, dtype=np.int64)  # (N, D)
    for j in range(x.shape[1]):
        edges = np.histogram_bin_edges(x[:, j], bins=bins)  # (bins + 1,)
        out[:, j] = np.digitize(x[:, j], edges[1:-1])  # inner edges -> 0..bins-1
    return out


def _relabel(column: np.ndarray) -> tuple[np.ndarray, int]:
    """Map the distinct values of a ``(N,)`` column to ``0..n-1``; returns (labels, n)."""
    uniq, inverse = np.unique(column, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64), len(uniq)


def _mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    """Plug-in I(a; b) in nats of two ``(N,)`` discrete columns, from their contingency table."""
    a, na = _relabel(a)
    b, nb = _relabel(b)
    joint = np.bincount(a * nb + b, minlength=na * nb).reshape(na, nb) / a.size  # (na, nb)
    outer = joint.sum(axis=1, keepdims=True) * joint.sum(axis=0, keepdims=True)  # (na, nb) = p(a)p(b)
    nz = joint > 0
    mi = np.sum(joint[nz] * (np.log(joint[nz]) - np.log(outer[nz])))
    return max(float(mi), 0.0)  # clip round-off below zero


def mutual_information_matrix(codes_discrete: Any, factors_discrete: Any) -> np.ndarray:
    """``(C, F)`` matrix of plug-in I(c_j; v_k) in nats between discrete code and factor columns."""
    c = as_matrix(codes_discrete, "codes_discrete")  # (N, C)
    v = as_matrix(factors_discrete, "factors_discrete")  # (N, F)
    if c.shape[0] != v.shape[0]:
        raise ValueError(f"codes and factors differ in N: {c.shape[0]} vs {v.shape[0]}")
    if c.shape[0] == 0:
        raise ValueError("need at least one sample")
    mi = np.zeros((c.shape[1], v.shape[1]))  # (C, F)
    for j in range(c.shape[1]):
        for k in range(v.shape[1]):
            mi[j, k] = _mutual_information(c[:, j], v[:, k])
    return mi


def factor_entropies(factors_discrete: Any) -> np.ndarray:
    """``(F,)`` plug-in entropies H(v_k) = −Σ p log p in nats of discrete factor columns."""
    v = as_matrix(factors_discrete, "factors_discrete")  # (N, F)
    h = np.zeros(v.shape[1])  # (F,)
    for k in range(v.shape[1]):
        labels, _ = _relabel(v[:, k])
        p = np.bincount(labels) / labels.size  # (n_values,), all > 0
        h[k] = -np.sum(p * np.log(p))
    return h


def _discrete_factors(factors: Any, bins: int, factor_is_discrete: Sequence[bool] | None) -> np.ndarray:
    """``(N, F)`` discrete factors: discrete columns relabelled to 0..n-1, continuous ones binned.

    ``factor_is_discrete=None`` infers it from the dtype: integer/bool arrays are discrete, float
    arrays continuous. Pass it explicitly for float-valued discrete factors (e.g. dSprites scale).
    """
    v = as_matrix(factors, "factors")  # (N, F)
    if factor_is_discrete is None:
        factor_is_discrete = [v.dtype.kind in "iub"] * v.shape[1]
    if len(factor_is_discrete) != v.shape[1]:
        raise ValueError(f"factor_is_discrete has {len(factor_is_discrete)} entries for {v.shape[1]} factors")
    out = np.zeros(v.shape, dtype=np.int64)  # (N, F)
    for k, is_discrete in enumerate(factor_is_discrete):
        col = v[:, k]
        out[:, k] = _relabel(col)[0] if is_discrete else discretize(col.astype(np.float64)[:, None], bins)[:, 0]
    return out


def _normalized_mi(
    codes: Any, factors: Any, bins: int, factor_is_discrete: Sequence[bool] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns MI ``(C, F)``, H ``(F,)`` and MI / H ``(C, F)`` (NaN for constant factors, H = 0)."""
    c = discretize(codes, bins)  # (N, C)
    v = _discrete_factors(factors, bins, factor_is_discrete)  # (N, F)
    mi = mutual_information_matrix(c, v)  # (C, F)
    h = factor_entropies(v)  # (F,)
    norm = np.full_like(mi, np.nan)
    np.divide(mi, h[None, :], out=norm, where=h[None, :] > 0)
    return mi, h, norm


def mig(
    codes: Any, factors: Any, bins: int = 20, factor_is_discrete: Sequence[bool] | None = None
) -> dict[str, Any]:
    """Mutual Information Gap (Chen et al. 2018, "Isolating Sources of Disentanglement in VAEs").

    MIG = (1/F) Σ_k (I(c_{j(k)}; v_k) − max_{j ≠ j(k)} I(c_j; v_k)) / H(v_k), with
    j(k) = argmax_j I(c_j; v_k). For each factor it measures how much more the single most
    informative code knows about it than the runner-up, normalised by H(v_k) to lie in [0, 1]:
    1 means one code captures the factor and no other code shares it (axis alignment); a code
    that mixes factors, or factors spread over codes, lowers it.

    Estimation follows disentanglement_lib's ``discrete_mig``: codes are histogram-discretised
    (``bins`` equal-width bins) and MI uses the plug-in estimator; Chen et al. instead estimate
    I from the encoder distribution q(z|x), so values are comparable to disentanglement_lib, not to
    that paper's tables. Factors are used as given when discrete (relabelled to 0..n−1) and
    discretised like the codes when continuous (see ``factor_is_discrete``; default: integer dtype
    means discrete). Needs C ≥ 2 codes. Constant factors (H = 0) get a NaN gap and are left out of
    the mean.

    Returns ``{"mig": float, "gaps": (F,), "top_code": (F,) j(k), "mutual_information": (C, F),
    "entropies": (F,)}``.
    """
    mi, h, _ = _normalized_mi(codes, factors, bins, factor_is_discrete)  # (C, F), (F,)
    if mi.shape[0] < 2:
        raise ValueError("MIG needs at least 2 code dimensions (gap between the top two codes)")
    top2 = np.sort(mi, axis=0)[::-1][:2]  # (2, F) largest then second-largest MI per factor
    gaps = np.full(h.shape, np.nan)  # (F,)
    np.divide(top2[0] - top2[1], h, out=gaps, where=h > 0)
    valid = np.isfinite(gaps)
    return {
        "mig": float(gaps[valid].mean()) if valid.any() else float("nan"),
        "gaps": gaps,
        "top_code": np.argmax(mi, axis=0),
        "mutual_information": mi,
        "entropies": h,
    }


def informativeness(
    codes: Any, factors: Any, bins: int = 20, factor_is_discrete: Sequence[bool] | None = None
) -> np.ndarray:
    """``(C, F)`` normalised mutual information I(c_j; v_k) / H(v_k) in [0, 1].

    The share of factor k's entropy that code j captures (the per-pair term inside MIG, Chen et
    al. 2018); same estimator and factor handling as :func:`mig`. NaN for constant factors.
    """
    return _normalized_mi(codes, factors, bins, factor_is_discrete)[2]


def best_factor_per_code(informativeness_matrix: Any) -> np.ndarray:
    """``(C,)`` index of the factor each code is most informative about (−1 if its row is all NaN)."""
    m = as_matrix(informativeness_matrix, "informativeness_matrix", np.float64)  # (C, F)
    filled = np.where(np.isnan(m), -np.inf, m)  # (C, F)
    best = np.argmax(filled, axis=1) if m.shape[1] else np.zeros(m.shape[0], np.int64)  # (C,)
    return np.where(np.isfinite(filled).any(axis=1), best, -1).astype(np.int64)


FixedFactorSampler = Callable[[int, int, np.random.Generator], Any]
"""``sample_fixed(k, L, rng) -> (L, C) codes`` of L samples sharing one value of factor k."""


def factor_vae_score(
    sample_fixed: FixedFactorSampler,
    global_codes: Any,
    n_factors: int,
    n_train: int = 800,
    n_eval: int = 400,
    batch_size: int = 64,
    seed: int = 0,
    min_std: float = 0.0,
) -> dict[str, Any]:
    """FactorVAE disentanglement metric (Kim & Mnih 2018, "Disentangling by Factorising", Sec. 4).

    1. Scale: s_j = std of code j over ``global_codes`` ``(N, C)`` (codes of samples with all
       factors random; ddof=1). Dims with s_j <= ``min_std`` are pruned as collapsed (the paper
       prunes dims of very small variance; disentanglement_lib's default keeps all). The default 0.0
       prunes only constant dims, which cannot be normalised; the threshold is absolute because
       code scales are arbitrary per dim (a relative one would prune small-scale informative dims).
    2. One vote: draw a factor k uniformly, get ``sample_fixed(k, batch_size, rng)`` = ``(L, C)``
       codes of L samples whose factor k shares one random value while the other factors vary
       randomly, take the variance of each normalised code z_j / s_j over the L samples, and record
       (d = argmin_j over active dims, k). A disentangled code puts factor k's variation in one dim,
       which then has (near) zero variance when k is fixed.
    3. Majority-vote classifier from ``n_train`` votes: dim d predicts the factor it was most often
       paired with, argmax_k V_train[d, k]. Dims without training votes predict nothing (-1, their
       eval votes count as errors; disentanglement_lib's argmax would map them to factor 0).
    4. Score = accuracy of that classifier on ``n_eval`` fresh votes, Σ_d V_eval[d, C(d)] / n_eval
       (the paper's held-out votes; disentanglement_lib's ``eval_accuracy``). Chance level for an
       uninformative code is about 1/n_factors.

    ``sample_fixed(k, L, rng)`` is supplied by the caller and must draw all randomness from
    ``rng``, e.g. render L images with factor k held at a value drawn from its prior and the other
    factors drawn at random, and encode them with the same encoder (InfoGAN's Q) that produced
    ``global_codes``. :func:`fixed_factor_sampler` builds one from a labelled, encoded data set.

    Returns ``{"score", "train_accuracy", "votes_train": (C, n_factors), "votes_eval": (C,
    n_factors), "classifier": (C,) factor per dim or -1, "active_dims": (C,) bool, "n_active"}``.
    Score 0.0 when every dim is pruned (as disentanglement_lib).
    """
    g = as_matrix(global_codes, "global_codes", np.float64)  # (N, C)
    if g.shape[0] < 2 or batch_size < 2 or n_factors < 1 or n_train < 1 or n_eval < 1:
        raise ValueError("need >= 2 global codes, batch_size >= 2, n_factors, n_train, n_eval >= 1")
    n_codes = g.shape[1]
    scale = g.std(axis=0, ddof=1)  # (C,) s_j
    active = (scale > min_std) & (scale > 0)  # (C,) bool, not collapsed
    result: dict[str, Any] = {"active_dims": active, "n_active": int(active.sum())}
    if not active.any():
        empty = np.zeros((n_codes, n_factors), np.int64)
        return result | {"score": 0.0, "train_accuracy": 0.0, "votes_train": empty, "votes_eval": empty,
                         "classifier": np.full(n_codes, -1, np.int64)}
    active_idx = np.flatnonzero(active)  # (C_active,) original dim indices
    rng = np.random.default_rng(seed)

    def votes(n: int) -> np.ndarray:
        v = np.zeros((n_codes, n_factors), np.int64)  # (C, F) V[d, k]
        for _ in range(n):
            k = int(rng.integers(n_factors))
            z = as_array(sample_fixed(k, batch_size, rng), np.float64)  # (L, C)
            if z.shape != (batch_size, n_codes):
                raise ValueError(f"sample_fixed returned {z.shape}, expected ({batch_size}, {n_codes})")
            local = np.var(z[:, active_idx] / scale[active_idx], axis=0, ddof=1)  # (C_active,)
            v[active_idx[np.argmin(local)], k] += 1
        return v

    v_train = votes(n_train)  # (C, F)
    v_eval = votes(n_eval)  # (C, F)
    has_votes = v_train.sum(axis=1) > 0  # (C,)
    classifier = np.where(has_votes, np.argmax(v_train, axis=1), -1)  # (C,) dim -> factor
    rows = np.flatnonzero(has_votes)

    def accuracy(v: np.ndarray) -> float:
        return float(v[rows, classifier[rows]].sum() / v.sum())

    return result | {"score": accuracy(v_eval), "train_accuracy": accuracy(v_train), "votes_train": v_train,
                     "votes_eval": v_eval, "classifier": classifier.astype(np.int64)}


def fixed_factor_sampler(codes: Any, factors: Any) -> FixedFactorSampler:
    """Data-driven ``sample_fixed`` for :func:`factor_vae_score` from an encoded, labelled data set.

    ``codes`` ``(N, C)`` are the encoder outputs for N data points whose discrete ground-truth
    factors are ``factors`` ``(N, F)``. A call ``(k, L, rng)`` picks a random data point, takes its
    value of factor k, and returns the codes of L points drawn (with replacement) among those that
    share it. The other factors then follow their empirical distribution given v_k, which is the
    independent random draw the metric assumes for full-factorial data sets (dSprites, 3D Shapes).
    """
    z = as_matrix(codes, "codes", np.float64)  # (N, C)
    v = as_matrix(factors, "factors")  # (N, F)
    if z.shape[0] != v.shape[0]:
        raise ValueError(f"codes and factors differ in N: {z.shape[0]} vs {v.shape[0]}")
    labels = []  # labels[k]: (N,) factor k relabelled to 0..n_k-1
    groups = []  # groups[k][value]: (n_value,) rows with that value of factor k
    for k in range(v.shape[1]):
        lab, n_values = _relabel(v[:, k])
        order = np.argsort(lab, kind="stable")  # (N,) rows sorted by value
        labels.append(lab)
        groups.append(np.split(order, np.cumsum(np.bincount(lab, minlength=n_values))[:-1]))

    def sample_fixed(k: int, n: int, rng: np.random.Generator) -> np.ndarray:
        value = labels[k][rng.integers(z.shape[0])]  # value of a random data point
        rows = groups[k][value]  # (n_value,)
        return z[rng.choice(rows, size=n, replace=True)]  # (L, C)

    return sample_fixed
