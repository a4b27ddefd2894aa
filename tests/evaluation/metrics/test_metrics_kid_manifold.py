"""KID, precision / recall and density / coverage, pinned on constructed features: hand-worked small cases,
identical sets, one distribution sampled twice, disjoint sets and a dropped mode."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganforge.evaluation.metrics import density_coverage, kernel_distance, knn_radii, precision_recall

MODES, PER_MODE, D = 4, 150, 8
CENTRES = 12.0 * np.eye(MODES, D)  # (MODES, D) well-separated modes


def _mixture(seed: int, modes: int = MODES) -> np.ndarray:
    """``MODES * PER_MODE`` points, spread evenly over the first ``modes`` modes (unit Gaussian around each)."""
    rng = np.random.default_rng(seed)
    which = np.arange(MODES * PER_MODE) % modes  # (N,)
    return CENTRES[which] + rng.normal(size=(len(which), D))


def _all(real: np.ndarray, fake: np.ndarray) -> dict[str, float]:
    p, r = precision_recall(real, fake)
    dens, cov = density_coverage(real, fake)
    kid, std = kernel_distance(real, fake, subsets=20, subset_size=300)
    return {"precision": p, "recall": r, "density": dens, "coverage": cov, "kid": kid, "kid_std": std}


def test_hand_worked_one_dimensional_case() -> None:
    real = np.array([[0.0], [1.0], [2.0], [3.0]])  # each real point's nearest other point is 1 away
    fake = np.array([[0.5], [10.0]])  # one inside the real manifold, one far out
    assert knn_radii(real, 1).tolist() == [1.0, 1.0, 1.0, 1.0]
    assert knn_radii(real, 2).tolist() == [2.0, 1.0, 1.0, 2.0]
    precision, recall = precision_recall(real, fake, k=1)
    assert precision == 0.5  # 0.5 is within 1 of a real point, 10 is not
    assert recall == 1.0  # each fake ball has radius 9.5 (the other fake point): it holds every real point
    density, coverage = density_coverage(real, fake, k=1)
    assert density == 1.0  # 0.5 lies in the balls of 0 and 1: 2 hits / (k=1 · 2 fakes)
    assert coverage == 0.5  # the balls of 0 and 1 hold a fake point, those of 2 and 3 do not


def test_kid_of_one_subset_is_the_unbiased_mmd_by_hand() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(40, 5)), rng.normal(0.5, 1.0, size=(30, 5))
    kernel = lambda a, b: (a @ b.T / 5 + 1.0) ** 3  # noqa: E731
    m = 15  # subsets hold at most half of each set: 15 of x's 40 and 15 of y's 30 points
    torch.manual_seed(7)
    xs, ys = x[torch.randperm(40)[:m].numpy()], y[torch.randperm(30)[:m].numpy()]  # the first subset's draws
    kxx, kyy, kxy = kernel(xs, xs), kernel(ys, ys), kernel(xs, ys)
    by_hand = ((kxx.sum() - np.trace(kxx)) + (kyy.sum() - np.trace(kyy))) / (m * (m - 1)) - 2 * kxy.mean()
    mean, std = kernel_distance(x, y, subsets=1, subset_size=1000, seed=7)
    assert mean == pytest.approx(by_hand, rel=1e-9) and std == 0.0  # one subset: no spread
    assert kernel_distance(x, y, subsets=10, seed=7)[1] > 0  # subsets differ


def test_kid_is_seeded_and_leaves_the_callers_rng_alone() -> None:
    real, fake = _mixture(0), _mixture(1, modes=3)
    torch.manual_seed(5)
    before = torch.rand(1)
    torch.manual_seed(5)
    first = kernel_distance(real, fake, subsets=5, subset_size=100, seed=2)
    assert torch.rand(1) == before
    assert kernel_distance(real, fake, subsets=5, subset_size=100, seed=2) == first
    assert kernel_distance(real, fake, subsets=5, subset_size=100, seed=3) != first


def test_identical_sets() -> None:
    real = _mixture(0)
    got = _all(real, real.copy())
    assert got["precision"] == got["recall"] == got["coverage"] == 1.0
    assert got["density"] == pytest.approx(6 / 5, abs=0.01)  # each real ball holds its own point and its 5 nearest
    assert abs(got["kid"]) < got["kid_std"] + 0.05 * _all(real, _mixture(1, modes=MODES - 1))["kid"]  # ≈ 0


def test_one_distribution_sampled_twice() -> None:
    got = _all(_mixture(0), _mixture(1))
    assert got["precision"] > 0.8 and got["recall"] > 0.8 and got["coverage"] > 0.9  # k = 3 balls miss a few
    assert got["density"] == pytest.approx(1.0, abs=0.15)
    assert abs(got["kid"]) < 3 * got["kid_std"]  # ≈ 0 within the spread over subsets


def test_disjoint_sets() -> None:
    real = _mixture(0)
    got = _all(real, _mixture(1) + 100.0)
    assert got["precision"] == got["recall"] == got["density"] == got["coverage"] == 0.0
    same = _all(real, _mixture(1))
    assert got["kid"] > 1000 * max(abs(same["kid"]), same["kid_std"])


def test_a_dropped_mode_lowers_recall_and_coverage_not_precision() -> None:
    real, same = _mixture(0), _all(_mixture(0), _mixture(1))
    got = _all(real, _mixture(1, modes=MODES - 1))  # as many points, none in the last mode
    # a quarter of the real points lose their generated neighbours: recall and coverage fall by a quarter
    assert got["recall"] == pytest.approx(0.75 * same["recall"], abs=0.05)
    assert got["coverage"] == pytest.approx(0.75 * same["coverage"], abs=0.05)
    # every sample still lies on the real data: fidelity is unchanged
    assert got["precision"] == pytest.approx(same["precision"], abs=0.05)
    assert got["density"] == pytest.approx(same["density"], abs=0.15)
    assert got["kid"] > same["kid"] + 5 * got["kid_std"]


@pytest.mark.parametrize("bad", ["width", "k"])
def test_bad_inputs_are_refused(bad: str) -> None:
    real = _mixture(0)
    with pytest.raises(ValueError, match="same width" if bad == "width" else "k must be"):
        if bad == "width":
            precision_recall(real, real[:, :3])
        else:
            density_coverage(real[:5], real[:5], k=5)
