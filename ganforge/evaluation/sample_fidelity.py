"""Distribution metrics in the evaluator's feature space, beside the domain FID: KID, precision and recall,
density and coverage.

They read the same evaluator features of the same real and generated images as ``domain_fid``
(``ganforge.evaluation.sample_quality``: up to 5,000 of each, cached per evaluation), so all of them count the same
samples. Each also reports its value for two disjoint halves of the real images, the level a generator
is read against. The math is ``ganforge.evaluation.metrics.kernel`` (torchmetrics' KID) and
``ganforge.evaluation.metrics.manifold``; docs/evaluation.md says how to read them.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

from torch import Tensor

from ganforge.evaluation.run import EvalRun
from ganforge.interfaces import Metric
from ganforge.results import Headline, MetricResult
from ganforge.evaluation.sample_quality import generated_embedding, labelled, real_embedding

REQUIRES = "needs labelled data, at least 100 images"
PR_K = 3  # Kynkäänniemi et al. 2019
DC_K = 5  # Naeem et al. 2020
REAL_HALVES = "real vs real halves"


def _features(run: EvalRun) -> tuple[Tensor, Tensor, tuple[Tensor, Tensor]]:
    """Real and generated evaluator features ``(N, D)``, ``(N, D)``, and two disjoint halves of the real ones."""
    real, _ = real_embedding(run)
    fake, _, _ = generated_embedding(run)
    half = len(real) // 2
    return real, fake, (real[:half], real[half : 2 * half])


class DomainKID(Metric):
    """Kernel Inception Distance (unbiased MMD², cubic polynomial kernel) in the evaluator's feature space."""

    name = "domain_kid"
    requires = REQUIRES

    def applies(self, run: EvalRun) -> bool:
        return labelled(run)

    def compute(self, run: EvalRun) -> MetricResult:
        from ganforge.evaluation.metrics.kernel import SUBSET_SIZE, SUBSETS, kid_details

        details = kid_details(*_features(run), seed=run.seed)
        mean = details["kid"]
        head = Headline("domain KID", mean, std=details["std"], higher_is_better=False, format="{:.3f}")
        return MetricResult((head,), details, score=mean, higher_is_better=False,
                            context={f"domain KID, {REAL_HALVES}": details["real_vs_real"]},
                            note=f"Domain KID: unbiased squared MMD between real and generated evaluator features "
                                 f"(cubic polynomial kernel), mean ± std over {SUBSETS} subsets of up to "
                                 f"{SUBSET_SIZE} (at most half the samples); about 0 when the two match, and unbiased in the sample count.")


class _ManifoldPair(Metric):
    """Two numbers from k-nearest-neighbour manifolds of real and generated features, each headline read against
    the same number for two halves of the real images."""

    requires = REQUIRES
    k: ClassVar[int]
    keys: ClassVar[tuple[str, str]]
    score_key: ClassVar[str | None] = None  # the number ``train.keep_best`` ranks by (None: neither)
    note: ClassVar[str]

    def applies(self, run: EvalRun) -> bool:
        return labelled(run)

    @abstractmethod
    def pair(self, real: Tensor, fake: Tensor) -> tuple[float, float]:
        """The two numbers for ``(N, D)`` real and ``(M, D)`` generated features."""

    def compute(self, run: EvalRun) -> MetricResult:
        real, fake, halves = _features(run)
        values, floor = dict(zip(self.keys, self.pair(real, fake))), dict(zip(self.keys, self.pair(*halves)))
        details = {**values, "k": self.k, "samples": len(fake), "real_vs_real": floor}
        heads = tuple(Headline(key, values[key], key=key, reference=floor[key], reference_label=REAL_HALVES)
                      for key in self.keys)
        return MetricResult(heads, details, score=None if self.score_key is None else values[self.score_key],
                            note=self.note)


class PrecisionRecall(_ManifoldPair):
    """Improved precision (fidelity) and recall (diversity) of k-NN manifolds (Kynkäänniemi et al. 2019)."""

    name = "precision_recall"
    k = PR_K
    keys = ("precision", "recall")
    note = (f"Precision: share of samples inside the real images' {PR_K}-nearest-neighbour manifold in evaluator "
            "features (fidelity); recall: share of real images inside the samples' manifold (diversity: a dropped "
            "class lowers it).")

    def pair(self, real: Tensor, fake: Tensor) -> tuple[float, float]:
        from ganforge.evaluation.metrics import precision_recall

        return precision_recall(real, fake, k=self.k)


class DensityCoverage(_ManifoldPair):
    """Density (fidelity) and coverage (diversity) against the real k-NN balls (Naeem et al. 2020)."""

    name = "density_coverage"
    k = DC_K
    keys = ("density", "coverage")
    score_key = "coverage"
    note = (f"Density: how many real images' {DC_K}-nearest-neighbour balls hold a sample, over k, averaged (about 1 "
            "when samples lie like the real images, above 1 where they crowd dense regions); coverage: share of real "
            "images whose ball holds a sample.")

    def pair(self, real: Tensor, fake: Tensor) -> tuple[float, float]:
        from ganforge.evaluation.metrics import density_coverage

        return density_coverage(real, fake, k=self.k)
