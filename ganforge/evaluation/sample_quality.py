"""Sample-quality metrics in the evaluator's feature space: domain FID, classifier score, label accuracy, how
well each unsupervised categorical code picks the evaluator's class of what G draws (generated code accuracy),
and which classes G draws at all, and how well (class coverage).

All of them share one evaluator (``ganforge.evaluation.evaluator``, trained on the run's labelled real data and
cached) and one set of generated samples per evaluation, shared through ``EvalRun.once``. The math is in
``ganforge.evaluation.metrics.frechet``. These are domain-specific numbers: docs/evaluation.md explains why
they are not comparable with ImageNet-Inception FID / IS values from papers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ganforge.evaluation.run import EvalRun
from ganforge.data.pixels import to_unit
from ganforge.evaluation.evaluator import Evaluator, evaluator_for
from ganforge.interfaces import Metric
from ganforge.latent import OneHotFactor
from ganforge.model.pictures import generate
from ganforge.results import Headline, MetricResult

SAMPLES = 5000  # generated images per evaluation, and at most as many real ones (FID is biased by N)
MIN_IMAGES = 100  # fewer labelled images cannot train an evaluator worth the name
EVALUATOR_NOTE = ("Domain FID and classifier score are computed in the feature space of ganforge's evaluator, a small "
                  "CNN trained on this data's labelled images: they compare methods on the same data, and are not "
                  "ImageNet-Inception FID / IS values (docs/evaluation.md).")


def _train_evaluator(run: EvalRun) -> Evaluator:
    return evaluator_for(run.data, run.device)


def _evaluator(run: EvalRun) -> Evaluator:
    """The data's evaluator, trained (or read from its cache) once per evaluated run."""
    return run.once(_train_evaluator)


def labelled(run: EvalRun) -> bool:
    """Whether the run has labelled data with enough images to train an evaluator."""
    return run.data.labels is not None and run.data.num_classes is not None and len(run.data) >= MIN_IMAGES


@dataclass(frozen=True)
class RealSample:
    """The evaluator's view of ``min(N, SAMPLES)`` real images (a seeded subset): features (N, D),
    class probabilities (N, K) and the images' labels (N,) or ``None``."""

    features: Tensor
    probs: Tensor
    labels: Tensor | None


@dataclass(frozen=True)
class GeneratedSample:
    """The evaluator's view of as many generated images: features (M, D), probabilities (M, K), the
    condition values they were drawn with (M,) or ``None``, and each categorical code's values (M,)."""

    features: Tensor
    probs: Tensor
    cond: Tensor | None
    codes: dict[str, Tensor]


def real_indices(run: EvalRun) -> Tensor:
    """Which real images the sample-quality metrics read: a seeded subset of ``min(N, SAMPLES)`` indices."""
    n = min(len(run.data), SAMPLES)
    return torch.randperm(len(run.data), generator=torch.Generator().manual_seed(run.seed))[:n]


def generated_batches(run: EvalRun, n: int) -> Iterator[tuple[Tensor, Tensor | None, dict[str, Tensor]]]:
    """``n`` images from the run's generator (the EMA weights when it kept them), in batches of
    ``run.batch_size``, from the one seeded latent draw every sample-quality metric reads: each batch's
    images ``(B, C, H, W)`` in [-1, 1] on ``run.device``, the condition values ``(B,)`` (or ``None``) and
    each categorical code's values ``(B,)`` they were drawn with, on the CPU. Call it under ``torch.no_grad()``."""
    g = torch.Generator().manual_seed(run.seed + 4321)
    categorical = _categorical_codes(run)
    for start in range(0, n, run.batch_size):
        latent = run.spec.sample(min(run.batch_size, n - start), g, "cpu")
        cond = run.spec.condition_values(latent)
        codes = {f.name: latent.codes[f.name].clone() for f in categorical}
        latent.noise = latent.noise.to(run.device)
        latent.codes = {k: v.to(run.device) for k, v in latent.codes.items()}
        yield generate(run.system.generator, run.spec, latent), cond, codes


def _embed_real(run: EvalRun) -> RealSample:
    idx = real_indices(run)
    feats, probs = _evaluator(run).embed(to_unit(run.data.images[idx]))
    return RealSample(feats, probs, None if run.data.labels is None else run.data.labels[idx])


def _embed_generated(run: EvalRun) -> GeneratedSample:
    n = len(real_sample(run).features)  # first, outside no_grad: it may train the evaluator
    feats, probs, conds, codes = [], [], [], []
    categorical = _categorical_codes(run)
    with torch.no_grad():
        for images, cond, drawn in generated_batches(run, n):
            f, p = _evaluator(run).embed(images)
            feats.append(f)
            probs.append(p)
            conds.append(cond)
            codes.append(drawn)
    cond_all = None if conds[0] is None else torch.cat(conds)  # type: ignore[arg-type]
    return GeneratedSample(torch.cat(feats), torch.cat(probs), cond_all,
                           {f.name: torch.cat([c[f.name] for c in codes]) for f in categorical})


def real_sample(run: EvalRun) -> RealSample:
    """The real images' embedding, computed once per evaluated run."""
    return run.once(_embed_real)


def generated_sample(run: EvalRun) -> GeneratedSample:
    """The generated images' embedding, computed once per evaluated run."""
    return run.once(_embed_generated)


def real_embedding(run: EvalRun) -> tuple[Tensor, Tensor]:
    """Evaluator features (N, D) and probabilities (N, K) of the real sample."""
    sample = real_sample(run)
    return sample.features, sample.probs


def generated_embedding(run: EvalRun) -> tuple[Tensor, Tensor, Tensor | None]:
    """Features, probabilities and condition values (or ``None``) of the generated sample."""
    sample = generated_sample(run)
    return sample.features, sample.probs, sample.cond


def _categorical_codes(run: EvalRun) -> list[OneHotFactor]:
    """The spec's unsupervised categorical codes (a CGAN's condition is a label, not a code)."""
    return [f for f in run.spec.factors if isinstance(f, OneHotFactor) and not f.conditions_critic]


class DomainFID(Metric):
    """Fréchet distance between real and generated images in the evaluator's 128-d feature space."""

    name = "domain_fid"
    requires = "needs labelled data, at least 100 images"

    def applies(self, run: EvalRun) -> bool:
        return labelled(run)

    def compute(self, run: EvalRun) -> MetricResult:
        from ganforge.evaluation.metrics import feature_statistics, frechet_distance

        real, _ = real_embedding(run)
        fake, _, _ = generated_embedding(run)
        half = len(real) // 2
        details = {
            "fid": frechet_distance(*feature_statistics(real), *feature_statistics(fake)),
            # the floor: two disjoint halves of the real images (half the samples each, so slightly higher bias)
            "real_vs_real": frechet_distance(*feature_statistics(real[:half]), *feature_statistics(real[half:])),
            "samples": len(fake),
            "evaluator_heldout_accuracy": _evaluator(run).heldout_accuracy,
        }
        head = Headline("domain FID", details["fid"], higher_is_better=False, format="{:.2f}")
        return MetricResult((head,), details, score=details["fid"], higher_is_better=False,
                            context={"evaluator held-out accuracy": details["evaluator_heldout_accuracy"],
                                     "domain FID, real vs real halves": details["real_vs_real"]},
                            note=EVALUATOR_NOTE)


class ClassifierScore(Metric):
    """exp(E KL(p(y|x) ‖ p(y))) under the evaluator: the Inception-Score analogue, in [1, K]."""

    name = "classifier_score"
    requires = "needs labelled data, at least 100 images"

    def applies(self, run: EvalRun) -> bool:
        return labelled(run)

    def compute(self, run: EvalRun) -> MetricResult:
        from ganforge.evaluation.metrics import classifier_score, score_entropies

        _, real = real_embedding(run)
        _, fake, _ = generated_embedding(run)
        # the score is exp(H(p(y)) − E H(p(y|x))): which of the two holds it down (uneven classes or unsure samples)
        fake_marginal, fake_each = score_entropies(fake)
        real_marginal, real_each = score_entropies(real)
        details = {"generated": classifier_score(fake), "real": classifier_score(real), "classes": run.data.num_classes,
                   "generated_marginal_entropy": fake_marginal, "generated_mean_entropy": fake_each,
                   "real_marginal_entropy": real_marginal, "real_mean_entropy": real_each}
        head = Headline("classifier score", details["generated"], format="{:.2f}")
        return MetricResult((head,), details, score=details["generated"],
                            context={"classifier score of real images": details["real"],
                                     "classifier's mean entropy on real images (nats)": real_each},
                            note=EVALUATOR_NOTE)


class LabelAccuracy(Metric):
    """Conditional models: share of samples generated for class y that the evaluator classifies as y."""

    name = "label_accuracy"
    requires = "needs labelled data and a conditioning factor (CGAN)"

    def applies(self, run: EvalRun) -> bool:
        return labelled(run) and run.spec.condition is not None

    def compute(self, run: EvalRun) -> MetricResult:
        _, probs, cond = generated_embedding(run)
        assert cond is not None  # applies() checked the spec has a condition
        accuracy = float((probs.argmax(dim=1) == cond.long()).float().mean())
        details = {"accuracy": accuracy, "factor": run.spec.condition.name, "samples": len(cond)}
        return MetricResult((Headline("label accuracy", accuracy),), details, score=accuracy,
                            note="Label accuracy (conditional models): share of samples generated for class y that "
                                 "the evaluator classifies as y.")


def category_fids(real: Tensor, real_labels: Tensor, fake: Tensor, codes: Tensor,
                  mapping: dict[int, int]) -> dict[int, float]:
    """Domain FID of each category's samples to the real images of the class it is matched to.

    ``real`` (N, D) and ``fake`` (M, D) are evaluator features, ``real_labels`` (N,) and ``codes`` (M,) their
    class and category; ``mapping``: category → class. Categories (or classes) with fewer than 2 samples are
    left out. The evaluator must call every sample *some* class, so a category drawing noise still gets one;
    its FID to that class's real images says whether it looks like them.
    """
    from ganforge.evaluation.metrics import feature_statistics, frechet_distance

    out: dict[int, float] = {}
    for category, cls in mapping.items():
        drawn, matched = fake[codes == category], real[real_labels == cls]  # (m, D), (n, D)
        if len(drawn) >= 2 and len(matched) >= 2:
            out[category] = frechet_distance(*feature_statistics(matched), *feature_statistics(drawn))
    return out


def class_halves_fid(real: Tensor, real_labels: Tensor) -> float | None:
    """Median over classes of the FID between two halves of one class's real images: the floor a category's
    FID is read against (the halves are smaller than a category's samples, so this floor is, if anything, high)."""
    from ganforge.evaluation.metrics import feature_statistics, frechet_distance

    fids = []
    for cls in real_labels.unique():
        own = real[real_labels == cls]  # (n, D)
        half = len(own) // 2
        if half >= 2:
            fids.append(frechet_distance(*feature_statistics(own[:half]), *feature_statistics(own[half:2 * half])))
    return float(torch.tensor(fids).median()) if fids else None


class GeneratedCodeAccuracy(Metric):
    """Unsupervised categorical codes: how well each code's value predicts the evaluator's class of G(z, c).

    ``code_accuracy`` and ``factor_codes`` ask whether *Q* sorts real images by class; this asks whether *G*
    draws one class per category: the evaluator classifies the generated samples, and each category of the
    code is matched one-to-one to a class (Hungarian). 1: every category draws one class; 1/K for a code G
    ignores. A Q that reads G's categories off something else (a size, a texture) while sorting real
    images by class scores high on the former and low here.

    The evaluator has no "none of these" class, so a category drawing noise is still called some class;
    each category's domain FID to its matched class's real images (``category_fid``, and the worst of them
    as a headline) tells a category that draws the class from one that is merely called it.
    """

    name = "generated_code_accuracy"
    requires = "needs labelled data, at least 100 images, and a categorical code"

    def applies(self, run: EvalRun) -> bool:
        return labelled(run) and bool(_categorical_codes(run))

    def compute(self, run: EvalRun) -> MetricResult:
        from ganforge.evaluation.metrics import hungarian_accuracy

        real, _ = real_embedding(run)  # (N, D)
        real_labels = real_sample(run).labels  # (N,)
        fake, probs, _ = generated_embedding(run)  # (M, D), (M, classes)
        drawn = probs.argmax(1).numpy()  # (M,) the evaluator's class of each sample
        floor = class_halves_fid(real, real_labels)
        details: dict[str, Any] = {}
        heads: list[Headline] = []
        categorical = _categorical_codes(run)
        for f in categorical:
            codes = generated_sample(run).codes[f.name]  # (M,)
            accuracy, mapping, confusion = hungarian_accuracy(codes.numpy(), drawn, n_pred=f.k,
                                                              n_labels=run.data.num_classes)
            fids = category_fids(real, real_labels, fake, codes, mapping)
            details[f.name] = {"accuracy": accuracy, "mapping": mapping, "confusion": confusion.tolist(),
                               "samples": len(drawn), "category_fid": fids, "class_halves_fid": floor}
            heads.append(Headline(f"generated code accuracy {f.name}", accuracy))
            if fids:
                heads.append(Headline(f"worst category FID {f.name}", max(fids.values()), key=f"{f.name}/worst_fid",
                                      higher_is_better=False, format="{:.1f}", reference=floor,
                                      reference_label="one class's real halves"))
        first = categorical[0].name
        return MetricResult(tuple(heads), details, score=details[first]["accuracy"], note=EVALUATOR_NOTE)


class ClassCoverage(Metric):
    """Any generator on labelled data: which classes G draws, in what shares, and how much like the real ones.

    The evaluator classifies G's samples; each class's share is set beside its share of the real images (their
    KL divergence, 0 when G draws the classes as often as the data holds them), and the samples it calls class
    y get their domain FID to class y's real images. A GAN that never draws a class (mode dropping) shows a
    share near 0; one that draws something the evaluator merely calls y (it must call everything some class)
    shows a large FID for y beside the floor of two halves of one class's real images. Needs no code, so it
    answers for a vanilla GAN too whether this generator and critic can draw every class.
    """

    name = "class_coverage"
    requires = "needs labelled data, at least 100 images"

    def applies(self, run: EvalRun) -> bool:
        return labelled(run)

    def compute(self, run: EvalRun) -> MetricResult:
        real, _ = real_embedding(run)  # (N, D)
        real_labels = real_sample(run).labels  # (N,)
        fake, probs, _ = generated_embedding(run)  # (M, D), (M, K)
        classes = run.data.num_classes
        assert classes is not None  # applies() checked
        drawn = probs.argmax(1)  # (M,) the evaluator's class of each sample
        fake_share = torch.bincount(drawn, minlength=classes).double() / len(drawn)  # (K,)
        real_share = torch.bincount(real_labels.long(), minlength=classes).double() / len(real_labels)  # (K,)
        seen = fake_share > 0
        kl = float((fake_share[seen] * (fake_share[seen] / real_share[seen]).log()).sum())  # KL(generated ‖ real)
        fids = category_fids(real, real_labels, fake, drawn, {k: k for k in range(classes)})
        details = {"generated_share": fake_share.tolist(), "real_share": real_share.tolist(), "share_kl": kl,
                   "class_fid": fids, "class_halves_fid": class_halves_fid(real, real_labels), "samples": len(drawn)}
        heads = [Headline("class share KL", kl, key="share_kl", higher_is_better=False, format="{:.3f}"),
                 Headline("smallest class share", float(fake_share.min()), key="smallest_share",
                          reference=float(real_share.min()), reference_label="the real images'")]
        if fids:
            heads.append(Headline("worst class FID", max(fids.values()), key="worst_fid", higher_is_better=False,
                                  format="{:.1f}", reference=details["class_halves_fid"],
                                  reference_label="one class's real halves"))
        return MetricResult(tuple(heads), details, score=kl, higher_is_better=False, note=EVALUATOR_NOTE)
