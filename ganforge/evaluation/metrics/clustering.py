"""Clustering accuracy of an unsupervised categorical code against ground-truth labels.

InfoGAN (Chen et al. 2016, "InfoGAN: Interpretable Representation Learning by Information
Maximizing GANs") reports that its 10-way categorical code ``c1`` on MNIST classifies digits with
about 5% error. The code's categories carry no fixed label order, so the accuracy is taken under
the best one-to-one assignment of categories to labels, the standard unsupervised clustering
accuracy ACC = max_m (1/N) Σ_i 1[label_i = m(pred_i)] over one-to-one maps m (as in Xie et al.
2016, "Unsupervised Deep Embedding for Clustering Analysis"), solved with the Hungarian algorithm
(``scipy.optimize.linear_sum_assignment``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from ganforge.evaluation.metrics._arrays import as_index_vector


def _count(x: np.ndarray, n: int | None, name: str) -> int:
    needed = int(x.max()) + 1 if x.size else 0
    if n is None:
        return needed
    if n < needed:
        raise ValueError(f"{name} holds index {needed - 1} but only {n} categories were declared")
    return int(n)


def confusion_matrix(
    pred: Any, labels: Any, n_pred: int | None = None, n_labels: int | None = None
) -> np.ndarray:
    """Counts ``C[i, j]`` = number of samples with predicted category ``i`` and label ``j``.

    ``pred`` and ``labels`` are ``(N,)`` non-negative integer indices. ``n_pred`` / ``n_labels``
    default to ``max + 1``; pass them to keep rows/columns for categories that never occur.
    Returns an ``(n_pred, n_labels)`` int64 array.
    """
    p = as_index_vector(pred, "pred")  # (N,)
    y = as_index_vector(labels, "labels")  # (N,)
    if p.shape != y.shape:
        raise ValueError(f"pred and labels differ in length: {p.shape[0]} vs {y.shape[0]}")
    rows = _count(p, n_pred, "pred")
    cols = _count(y, n_labels, "labels")
    flat = np.bincount(p * cols + y, minlength=rows * cols)  # (rows * cols,)
    return flat.reshape(rows, cols).astype(np.int64)  # (n_pred, n_labels)


def hungarian_accuracy(
    pred: Any, labels: Any, *, n_pred: int | None = None, n_labels: int | None = None
) -> tuple[float, dict[int, int], np.ndarray]:
    """Best one-to-one matching accuracy of predicted categories to labels.

    Maximises the number of samples whose matched label equals their true label, i.e. the
    assignment maximising the trace of the permuted confusion matrix (Kuhn's Hungarian method via
    ``scipy.optimize.linear_sum_assignment(..., maximize=True)``).

    Rectangular cases: with more categories than labels, only ``n_labels`` categories are matched
    and samples in the unmatched categories count as errors; with fewer categories than labels,
    only ``n_pred`` labels can ever be hit, so accuracy is bounded by their share of the data.

    Returns ``(accuracy, mapping, confusion)``: accuracy in [0, 1]; ``mapping`` from each matched
    predicted category to its label (unmatched categories are absent); the ``(n_pred, n_labels)``
    confusion matrix from :func:`confusion_matrix`.
    """
    conf = confusion_matrix(pred, labels, n_pred, n_labels)  # (n_pred, n_labels)
    total = int(conf.sum())
    if total == 0:
        raise ValueError("hungarian_accuracy needs at least one sample")
    rows, cols = linear_sum_assignment(conf, maximize=True)  # min(n_pred, n_labels) pairs
    matched = int(conf[rows, cols].sum())
    mapping = {int(r): int(c) for r, c in zip(rows, cols)}
    return matched / total, mapping, conf
