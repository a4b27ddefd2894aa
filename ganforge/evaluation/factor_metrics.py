"""Metrics against ground-truth generative factors, for runs whose data exposes ``factors``.

Procedural data (the ``shapes`` source) knows the factors behind every image, so it can measure
what InfoGAN claims: that each structured code captures one factor. Q is the encoder: a code's value
for an image is Q's point estimate on it (the posterior mean of a continuous code, the argmax class
of a categorical one), computed on the real images once (``EvalRun.real_posterior``).

* ``factor_codes``: for each code, the factor it is most informative about (normalised mutual
  information I(c; v) / H(v), and I in nats); for a categorical code, its Hungarian-matched accuracy
  against every categorical factor (e.g. which shape).
* ``mig``: the Mutual Information Gap (Chen et al. 2018).
* ``factor_vae``: the FactorVAE score (Kim & Mnih 2018). Its votes need images with one factor held
  fixed; a source that offers ``ImageData.render_factors`` gets them rendered exactly, any other is
  approximated by grouping its own images by (binned) factor value.

The math lives in :mod:`ganforge.evaluation.metrics.disentanglement`; this module only feeds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ganforge.evaluation.run import EvalRun
from ganforge.interfaces import Metric
from ganforge.results import Headline, MetricResult, ResultTable
from ganforge.evaluation.metrics import (
    best_factor_per_code,
    discretize,
    factor_entropies,
    factor_vae_score,
    fixed_factor_sampler,
    hungarian_accuracy,
    informativeness,
    mig,
)
from ganforge.evaluation.metrics.disentanglement import FixedFactorSampler
from ganforge.data.pixels import to_unit

BINS = 20  # equal-width bins for continuous codes and factors (disentanglement_lib's default)


@dataclass(frozen=True)
class GroundTruth:
    """The data's factors as one matrix: ``values`` ``(N, F)`` float64, columns in ``names`` order."""

    names: list[str]
    discrete: list[bool]
    values: np.ndarray

    def binned(self) -> np.ndarray:
        """``(N, F)`` int64: discrete factors as given, continuous ones in ``BINS`` equal-width bins."""
        cols = [self.values[:, k] if d else discretize(self.values[:, [k]], BINS)[:, 0]
                for k, d in enumerate(self.discrete)]
        return np.stack(cols, axis=1).astype(np.int64)


@dataclass(frozen=True)
class Codes:
    """Q's point estimates on the real images: ``values`` ``(N, C)``, columns in ``names`` order.

    ``classes`` is a categorical code's number of categories (``None`` for a continuous code).
    """

    names: list[str]
    classes: list[int | None]
    values: np.ndarray


def _read_ground_truth(run: EvalRun) -> GroundTruth:
    factors = run.data.factors or {}
    names = list(factors)
    kinds = [run.data.factor_kinds.get(n) for n in names]
    discrete = [kind == "categorical" if kind else not factors[n].is_floating_point()
                for n, kind in zip(names, kinds, strict=True)]
    values = np.stack([factors[n].double().numpy() for n in names], axis=1)  # (N, F)
    return GroundTruth(names, discrete, values)


def ground_truth(run: EvalRun) -> GroundTruth:
    """The data's factors; a factor is discrete when its kind is ``"categorical"`` (else by dtype)."""
    return run.once(_read_ground_truth)


def _point_estimates(run: EvalRun, posterior: dict[str, torch.Tensor]) -> np.ndarray:
    """``(M, C)`` Q point estimates from per-factor posterior parameters (codes Q has a head for)."""
    cols = [f.predict(posterior[f.name]).double().cpu() for f in run.spec.factors if f.name in posterior]
    return torch.stack(cols, dim=1).numpy()


def _encode_real(run: EvalRun) -> Codes:
    post = run.real_posterior
    factors = [f for f in run.spec.factors if f.name in post]
    values = _point_estimates(run, post) if factors else np.zeros((len(run.data), 0))
    classes = [len(f.traversal(0)) if f.discrete else None for f in factors]
    return Codes([f.name for f in factors], classes, values)


def real_codes(run: EvalRun) -> Codes:
    """Q's point estimate of every structured code on every real image (computed once per evaluated run)."""
    return run.once(_encode_real)


def encode(run: EvalRun, images: torch.Tensor) -> np.ndarray:
    """``(M, C)`` codes of ``uint8`` images ``(M, C, H, W)``, scaled to [−1, 1] like the real ones."""
    x = to_unit(images.to(run.device))
    return _point_estimates(run, run.posterior(x))


def _mig(run: EvalRun) -> dict[str, Any]:
    truth, codes = ground_truth(run), real_codes(run)
    return mig(codes.values, truth.values, bins=BINS, factor_is_discrete=truth.discrete)


def mig_result(run: EvalRun) -> dict[str, Any]:
    """:func:`ganforge.evaluation.metrics.mig` of the real codes against the factors (shared by two metrics)."""
    return run.once(_mig)


def _has_factors_and_codes(run: EvalRun, min_codes: int) -> bool:
    return bool(run.data.factors) and len(real_codes(run).names) >= min_codes


class FactorCodes(Metric):
    """Per code: the factor it is most informative about, and a categorical code's accuracy per categorical factor."""

    name = "factor_codes"
    requires = "needs data with ground-truth factors (e.g. shapes) and a Q head"

    def applies(self, run: EvalRun) -> bool:
        return _has_factors_and_codes(run, 1)

    def compute(self, run: EvalRun) -> MetricResult:
        truth, codes = ground_truth(run), real_codes(run)
        norm = informativeness(codes.values, truth.values, BINS, truth.discrete)  # (C, F) I(c; v) / H(v)
        h = factor_entropies(truth.binned())  # (F,) nats
        out: dict[str, Any] = {}
        for j, (code, k) in enumerate(zip(codes.names, best_factor_per_code(norm), strict=True)):
            if k < 0:  # every factor is constant: nothing to be informative about
                continue
            row: dict[str, Any] = {"factor": truth.names[k], "normalized_mi": float(norm[j, k]),
                                   "mi_nats": float(norm[j, k] * h[k])}
            n_classes = codes.classes[j]
            if n_classes is not None:
                row["accuracy"] = self._accuracies(codes.values[:, j], n_classes, truth)
            out[code] = row
        table = {code: {f: float(norm[j, k]) for k, f in enumerate(truth.names)} for j, code in enumerate(codes.names)}
        return MetricResult(details={"codes": out, "informativeness": table}, tables=(codes_table(out),))

    @staticmethod
    def _accuracies(pred: np.ndarray, n_classes: int, truth: GroundTruth) -> dict[str, float]:
        """Hungarian-matched accuracy of a categorical code's argmax against each categorical factor."""
        out = {}
        for k, name in enumerate(truth.names):
            if truth.discrete[k]:
                labels = np.unique(truth.values[:, k], return_inverse=True)[1].reshape(-1)  # (N,) 0..n-1
                out[name] = hungarian_accuracy(pred.astype(np.int64), labels, n_pred=n_classes)[0]
        return out


class MutualInformationGap(Metric):
    """MIG of Q's codes on real images against the ground-truth factors."""

    name = "mig"
    requires = "needs data with ground-truth factors and at least 2 codes read by Q"

    def applies(self, run: EvalRun) -> bool:
        return _has_factors_and_codes(run, 2)

    def compute(self, run: EvalRun) -> MetricResult:
        truth, codes, m = ground_truth(run), real_codes(run), mig_result(run)
        details = {
            "mig": m["mig"],
            "gaps": {f: float(g) for f, g in zip(truth.names, m["gaps"], strict=True)},
            "top_code": {f: codes.names[int(j)] for f, j in zip(truth.names, m["top_code"], strict=True)},
            "mi_nats": {c: {f: float(m["mutual_information"][j, k]) for k, f in enumerate(truth.names)}
                        for j, c in enumerate(codes.names)},
        }
        return MetricResult((Headline("MIG (ground-truth factors)", m["mig"]),), details, score=m["mig"])


class FactorVAEScore(Metric):
    """FactorVAE score of Q's codes: majority-vote accuracy of 'which code is stillest when factor k is fixed'."""

    name = "factor_vae"
    requires = "needs data with ground-truth factors and a Q head"
    n_train = 800  # votes for the majority-vote classifier (disentanglement_lib: 10 000)
    n_eval = 400  # held-out votes scored (disentanglement_lib: 5 000); 64 images each
    batch_size = 64  # images per vote, all sharing the fixed factor's value (the paper's L)

    def applies(self, run: EvalRun) -> bool:
        return _has_factors_and_codes(run, 1)

    def compute(self, run: EvalRun) -> MetricResult:
        truth, codes = ground_truth(run), real_codes(run)
        if run.data.render_factors is not None:
            sampler, how = rendered_sampler(run), "rendered"
        else:
            sampler, how = binned_sampler(codes, truth), f"data grouped by factor value ({BINS} bins if continuous)"
        r = factor_vae_score(sampler, codes.values, len(truth.names), n_train=self.n_train, n_eval=self.n_eval,
                             batch_size=self.batch_size, seed=run.seed)
        details = {
            "score": r["score"],
            "train_accuracy": r["train_accuracy"],
            "n_active": r["n_active"],
            "classifier": {c: (truth.names[int(k)] if k >= 0 else None) for c, k in zip(codes.names, r["classifier"],
                                                                                         strict=True)},
            "votes": {"train": self.n_train, "eval": self.n_eval, "images_per_vote": self.batch_size},
            "sampler": how,
        }
        return MetricResult((Headline("FactorVAE score (ground-truth factors)", r["score"]),), details, score=r["score"])


def codes_table(codes: dict[str, Any]) -> ResultTable:
    """Each code's most informative ground-truth factor (and a categorical code's accuracy per factor)."""
    rows = []
    for code, r in codes.items():
        acc = ", ".join(f"{f} {a:.3f}" for f, a in (r.get("accuracy") or {}).items()) or "–"
        rows.append((code, r["factor"], f"{r['normalized_mi']:.3f}", f"{r['mi_nats']:.3f}", acc))
    return ResultTable("codes vs ground-truth factors (Q on real images)",
                       ("code", "most informative factor", "I / H(factor)", "I (nats)", "accuracy (Hungarian)"), tuple(rows))


def rendered_sampler(run: EvalRun) -> FixedFactorSampler:
    """``sample_fixed(k, L, rng)``: L rendered images whose factor k shares one value, encoded by Q.

    The factor tuples are L random rows of the data's own factors (the source's prior, as sampled)
    with factor k overwritten by its value in one more random row: factor k is fixed, every other
    factor keeps its joint distribution.
    """
    factors = run.data.factors or {}
    names = list(factors)
    render = run.data.render_factors
    assert render is not None
    n = len(run.data)

    def sample_fixed(k: int, size: int, rng: np.random.Generator) -> np.ndarray:
        rows = torch.from_numpy(rng.integers(n, size=size))
        anchor = int(rng.integers(n))
        chosen = {name: t[rows] for name, t in factors.items()}
        chosen[names[k]] = factors[names[k]][anchor].expand(size).clone()
        return encode(run, render(chosen))  # (L, C)

    return sample_fixed


def binned_sampler(codes: Codes, truth: GroundTruth) -> FixedFactorSampler:
    """Data-driven ``sample_fixed`` for sources that cannot render: continuous factors binned, then grouped."""
    return fixed_factor_sampler(codes.values, truth.binned())
