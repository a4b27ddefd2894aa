"""k-nearest-neighbour manifold metrics of generated against real features: precision, recall, density, coverage.

Each set's manifold is the union of balls around its points, a ball's radius being the distance to that
point's k-th nearest neighbour in its own set (the point itself not counted).

* Precision and recall (Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric for Assessing
  Generative Models", Sec. 2): precision is the share of generated points inside the real manifold
  (fidelity); recall the share of real points inside the generated manifold (diversity). The paper uses k = 3.
* Density and coverage (Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for Generative Models",
  Sec. 3): density counts, per generated point, how many real balls contain it, divided by k and averaged
  (about 1 when both sets come from one distribution, above 1 where samples crowd the dense parts of the
  real data); coverage is the share of real points whose ball holds at least one generated point, which,
  unlike recall, outliers among the generated points cannot inflate. The paper uses k = 5.

Distances are Euclidean, computed in row chunks so 5,000 × 5,000 sets stay within a few tens of MB.
No maintained library computes these on given features with the PyTorch stack ganforge uses (torchmetrics
has none; ``prdc``, the second paper's reference code, is unmaintained since 2020 and needs scikit-learn).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ganforge.evaluation.metrics._arrays import as_matrix

CHUNK = 1024  # rows of a distance matrix computed at once


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances ``(len(a), len(b))`` between the rows of ``a`` and of ``b`` (float64)."""
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)  # (n, m)
    return np.sqrt(np.maximum(sq, 0.0))


def _row_chunks(a: np.ndarray, b: np.ndarray) -> Iterator[tuple[slice, np.ndarray]]:
    """``(rows, distances of a[rows] to every row of b)`` for consecutive chunks of ``a``'s rows."""
    for start in range(0, len(a), CHUNK):
        rows = slice(start, start + CHUNK)
        yield rows, _distances(a[rows], b)


def knn_radii(features: Any, k: int) -> np.ndarray:
    """Distance ``(N,)`` from each row of ``(N, D)`` features to its k-th nearest other row."""
    f = as_matrix(features, "features", np.float64)
    if not 1 <= k < len(f):
        raise ValueError(f"k must be at least 1 and below the number of points ({len(f)}), got {k}")
    out = np.empty(len(f))
    for rows, d in _row_chunks(f, f):
        out[rows] = np.partition(d, k, axis=1)[:, k]  # index 0 is the point itself (distance 0)
    return out


def _pair(real: Any, fake: Any) -> tuple[np.ndarray, np.ndarray]:
    r, f = as_matrix(real, "real", np.float64), as_matrix(fake, "fake", np.float64)
    if r.shape[1] != f.shape[1]:
        raise ValueError(f"real and fake features must have the same width, got {r.shape[1]} and {f.shape[1]}")
    return r, f


def precision_recall(real: Any, fake: Any, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) of ``(M, D)`` fake against ``(N, D)`` real features.

    Precision: share of fake points within the k-NN radius of some real point; recall: share of real
    points within the k-NN radius of some fake point. Both in [0, 1].
    """
    r, f = _pair(real, fake)
    real_radii, fake_radii = knn_radii(r, k), knn_radii(f, k)  # (N,), (M,)
    in_real = np.zeros(len(f), dtype=bool)  # (M,) fake point inside the real manifold
    in_fake = np.zeros(len(r), dtype=bool)  # (N,) real point inside the fake manifold
    for rows, d in _row_chunks(f, r):  # d: (chunk of M, N)
        in_real[rows] = (d <= real_radii[None, :]).any(axis=1)
        in_fake |= (d <= fake_radii[rows, None]).any(axis=0)
    return float(in_real.mean()), float(in_fake.mean())


def density_coverage(real: Any, fake: Any, k: int = 5) -> tuple[float, float]:
    """Density and coverage (Naeem et al. 2020) of ``(M, D)`` fake against ``(N, D)`` real features.

    Density: (1 / kM) Σ_fake #{real balls containing it}, in [0, N/k]; coverage: share of real points
    whose k-NN ball contains at least one fake point, in [0, 1]. Only the real points' radii are used.
    """
    r, f = _pair(real, fake)
    radii = knn_radii(r, k)  # (N,)
    inside = 0
    covered = np.zeros(len(r), dtype=bool)  # (N,)
    for _, d in _row_chunks(f, r):  # d: (chunk of M, N)
        hits = d <= radii[None, :]
        inside += int(hits.sum())
        covered |= hits.any(axis=0)
    return inside / (k * len(f)), float(covered.mean())
