"""generated_code_accuracy and class_coverage: does G draw one class per category of an unsupervised code, and
every class at all (on constructed samples)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
import torch.nn.functional as F

import ganforge.evaluation.sample_quality as sq
from ganforge.latent import OneHotFactor
from ganforge.evaluation.sample_quality import ClassCoverage, ClassifierScore, GeneratedCodeAccuracy

K, N, D = 3, 600, 4
CENTRES = 6.0 * torch.eye(K, D)  # (K, D) each class's mean evaluator feature


class Label(OneHotFactor):
    """A CGAN-style condition: a label the critic sees, not a code to discover."""

    conditions_critic = True


@dataclass
class _Spec:
    factors: list[Any]


@dataclass
class _Data:
    labels: torch.Tensor = field(default_factory=lambda: torch.arange(200) % K)
    num_classes: int | None = K

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class _Run:
    """What the metric reads of an EvalRun, with the real and generated samples already shared (``once``)."""

    spec: _Spec
    drawn: torch.Tensor  # (N,) the evaluator's class of each generated sample
    codes: torch.Tensor  # (N,) the categorical code each was generated with
    data: _Data = field(default_factory=_Data)
    shared: dict[Any, Any] = field(default_factory=dict)

    noise: torch.Tensor | None = None  # (N,) bool: samples whose features are far from every class's

    def __post_init__(self) -> None:
        g = torch.Generator().manual_seed(1)
        probs = F.one_hot(self.drawn, K).float()  # (N, K)
        fake = CENTRES[self.drawn] + torch.randn(N, D, generator=g)  # (N, D) the drawn class's feature cloud
        if self.noise is not None:
            fake[self.noise] = 40.0 + torch.randn(int(self.noise.sum()), D, generator=g)  # called a class, unlike it
        real_labels = torch.arange(N) % K  # (N,)
        real = CENTRES[real_labels] + torch.randn(N, D, generator=g)
        self.shared[sq._embed_real] = sq.RealSample(real, F.one_hot(real_labels, K), real_labels)
        self.shared[sq._embed_generated] = sq.GeneratedSample(fake, probs, None, {"c1": self.codes})

    def once(self, make: Any) -> Any:
        return self.shared[make]


def _accuracy(drawn: torch.Tensor, codes: torch.Tensor) -> float:
    run = _Run(_Spec([OneHotFactor("c1", 1.0, K)]), drawn, codes)
    metric = GeneratedCodeAccuracy()
    assert metric.applies(run)  # type: ignore[arg-type]
    result = metric.compute(run)  # type: ignore[arg-type]
    assert result.score == result.details["c1"]["accuracy"]
    return result.details["c1"]["accuracy"]


def test_one_class_per_category_scores_one_whatever_the_order() -> None:
    codes = torch.arange(N) % K
    assert _accuracy((codes + 1) % K, codes) == pytest.approx(1.0)  # category k draws class k+1: a permutation


def test_a_code_g_ignores_or_a_collapsed_g_scores_one_in_k() -> None:
    codes = torch.arange(N) % K
    assert _accuracy(torch.zeros(N, dtype=torch.long), codes) == pytest.approx(1 / K)  # every sample one class
    ignored = torch.randint(K, (N,), generator=torch.Generator().manual_seed(0))  # class independent of the code
    assert _accuracy(ignored, codes) < 0.45


def test_two_categories_drawing_one_class_lose_that_share() -> None:
    codes = torch.arange(N) % K
    drawn = codes.clone()
    drawn[codes == 2] = 1  # categories 1 and 2 both draw class 1: class 2 never appears
    assert _accuracy(drawn, codes) == pytest.approx(2 / 3)


def test_it_applies_only_to_labelled_data_with_an_unsupervised_categorical_code() -> None:
    metric = GeneratedCodeAccuracy()
    codes = torch.arange(N) % K
    assert not metric.applies(_Run(_Spec([Label("y", 1.0, K)]), codes, codes))  # type: ignore[arg-type]
    assert not metric.applies(_Run(_Spec([OneHotFactor("c1", 1.0, K)]), codes, codes,  # type: ignore[arg-type]
                                   _Data(num_classes=None)))


def test_a_category_called_a_class_but_drawing_something_else_has_a_large_fid() -> None:
    """The evaluator names every sample some class: category 2 drawing noise it calls class 2 keeps accuracy 1,
    and its FID to class 2's real images gives it away."""
    codes = torch.arange(N) % K
    metric = GeneratedCodeAccuracy()
    clean = metric.compute(_Run(_Spec([OneHotFactor("c1", 1.0, K)]), codes, codes))  # type: ignore[arg-type]
    noisy = metric.compute(_Run(_Spec([OneHotFactor("c1", 1.0, K)]), codes, codes, noise=codes == 2))  # type: ignore[arg-type]
    assert clean.details["c1"]["accuracy"] == noisy.details["c1"]["accuracy"] == pytest.approx(1.0)
    floor = clean.details["c1"]["class_halves_fid"]
    assert max(clean.details["c1"]["category_fid"].values()) < 1.0 and floor < 1.0
    fids = noisy.details["c1"]["category_fid"]
    assert fids[0] < 1.0 and fids[1] < 1.0 and fids[2] > 1000  # ≈ ‖(40,…) − centre‖² over D = 4 dims
    worst = {h.key: h for h in noisy.headlines}["c1/worst_fid"]
    assert worst.value == fids[2] and worst.higher_is_better is False and worst.reference == noisy.details["c1"]["class_halves_fid"]


def _coverage(drawn: torch.Tensor, noise: torch.Tensor | None = None) -> Any:
    run = _Run(_Spec([]), drawn, torch.zeros(N, dtype=torch.long), noise=noise)
    metric = ClassCoverage()
    assert metric.applies(run)  # type: ignore[arg-type]  (no code needed: a vanilla GAN has none)
    return metric.compute(run)  # type: ignore[arg-type]


def test_class_coverage_of_a_generator_drawing_the_real_mix_is_zero_kl() -> None:
    result = _coverage(torch.arange(N) % K)  # each class a third, as the real images
    assert result.details["share_kl"] == pytest.approx(0.0, abs=1e-9)
    assert result.details["generated_share"] == pytest.approx([1 / K] * K)
    assert max(result.details["class_fid"].values()) < 1.0
    assert {h.key: h.value for h in result.headlines}["smallest_share"] == pytest.approx(1 / K)


def test_class_coverage_shows_a_dropped_class() -> None:
    drawn = torch.arange(N) % 2  # classes 0 and 1 half each, class 2 never drawn
    result = _coverage(drawn)
    assert result.details["generated_share"][2] == 0.0
    assert result.details["share_kl"] == pytest.approx(math.log(3 / 2))  # Σ ½ log(½ / ⅓)
    assert 2 not in result.details["class_fid"]  # no sample of class 2 to compare
    assert result.score == result.details["share_kl"] and result.higher_is_better is False


def test_class_coverage_gives_away_samples_merely_called_a_class() -> None:
    drawn = torch.arange(N) % K
    fids = _coverage(drawn, noise=drawn == 2).details["class_fid"]
    assert fids[0] < 1.0 and fids[1] < 1.0 and fids[2] > 1000


def test_class_coverage_needs_labelled_data() -> None:
    codes = torch.arange(N) % K
    assert not ClassCoverage().applies(_Run(_Spec([]), codes, codes, _Data(num_classes=None)))  # type: ignore[arg-type]


def test_classifier_score_says_whether_unsure_samples_or_uneven_classes_hold_it_down() -> None:
    drawn = torch.arange(N) % K
    run = _Run(_Spec([]), drawn, drawn)
    sample = run.shared[sq._embed_generated]
    unsure = sample.probs.clone()
    unsure[: N // 2] = 1.0 / K  # half the samples between every class, the classes still drawn evenly
    run.shared[sq._embed_generated] = sq.GeneratedSample(sample.features, unsure, None, sample.codes)
    result = ClassifierScore().compute(run)  # type: ignore[arg-type]
    d = result.details
    assert d["generated_marginal_entropy"] == pytest.approx(math.log(K))
    assert d["generated_mean_entropy"] == pytest.approx(0.5 * math.log(K))
    assert d["generated"] == pytest.approx(math.exp(d["generated_marginal_entropy"] - d["generated_mean_entropy"]))
    assert d["real_mean_entropy"] == pytest.approx(0.0)  # the real samples' one-hot probabilities
    assert result.context["classifier's mean entropy on real images (nats)"] == pytest.approx(0.0)
