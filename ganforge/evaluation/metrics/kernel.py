"""Kernel Inception Distance (KID, Bińkowski et al. 2018, "Demystifying MMD GANs", Sec. 4) on given features.

KID is the unbiased estimate of the squared maximum mean discrepancy between real and generated
features under the cubic polynomial kernel k(x, y) = (xᵀy / d + 1)³. Unlike FID it has an unbiased
estimator, so values from different sample counts can be compared, and it assumes no Gaussian shape. As
in the paper (and StyleGAN's metrics), it is averaged over random subsets of at most 1,000 points each;
the standard deviation over subsets says how much of a difference between two values is noise.

The computation is torchmetrics' ``KernelInceptionDistance``, given an identity feature extractor so
that it takes features already computed (ganforge's evaluator, or any other network).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ganforge.evaluation.metrics._arrays import as_matrix

SUBSETS = 100  # as Bińkowski et al. and StyleGAN's metrics
SUBSET_SIZE = 1000


def subset_points(n_real: int, n_fake: int, subset_size: int = SUBSET_SIZE) -> int:
    """Points of each set in one KID subset: ``subset_size``, at most half of either set."""
    return min(subset_size, n_real // 2, n_fake // 2)


def kernel_distance(real: Any, fake: Any, subsets: int = SUBSETS, subset_size: int = SUBSET_SIZE,
                    seed: int = 0) -> tuple[float, float]:
    """Mean and standard deviation (over ``subsets`` random subsets) of the unbiased polynomial-kernel MMD².

    ``real`` ``(N, D)`` and ``fake`` ``(M, D)`` are features; each subset draws ``min(subset_size, N // 2,
    M // 2)`` points of each set without replacement (at most half, so that subsets differ and their spread
    means something), seeded by ``seed`` (the caller's torch RNG is left as it was). Computed in float64: KID is a small difference of large kernel sums. About 0 (and possibly
    slightly negative) when both sets come from one distribution.
    """
    import torch
    from torchmetrics.image.kid import KernelInceptionDistance

    r, f = as_matrix(real, "real", np.float64), as_matrix(fake, "fake", np.float64)
    if r.shape[1] != f.shape[1]:
        raise ValueError(f"real and fake features must have the same width, got {r.shape[1]} and {f.shape[1]}")
    size = subset_points(len(r), len(f), subset_size)
    if size < 2:
        raise ValueError(f"KID needs at least 4 points in each set, got {len(r)} real and {len(f)} fake")
    with warnings.catch_warnings():  # it warns that it keeps every feature in memory: that is what we give it
        warnings.simplefilter("ignore", UserWarning)
        kid = KernelInceptionDistance(feature=torch.nn.Identity(), subsets=subsets, subset_size=size)
    kid.update(torch.from_numpy(r), real=True)
    kid.update(torch.from_numpy(f), real=False)
    with torch.random.fork_rng(devices=[]):  # its subsets come from the global torch RNG
        torch.default_generator.manual_seed(seed)
        mean, std = kid.compute()
    return float(mean), float(std)


def kid_details(real: Any, fake: Any, halves: tuple[Any, Any], seed: int = 0) -> dict[str, float | int]:
    """KID of ``real`` against ``fake`` (mean and std over subsets) beside its floor, the KID of two disjoint
    ``halves`` of the real features, and the sample counts: what a KID metric reports as its details."""
    mean, std = kernel_distance(real, fake, seed=seed)
    floor, floor_std = kernel_distance(*halves, seed=seed)
    return {"kid": mean, "std": std, "subsets": SUBSETS, "subset_size": subset_points(len(real), len(fake)),
            "samples": len(fake), "real_vs_real": floor, "real_vs_real_std": floor_std}
