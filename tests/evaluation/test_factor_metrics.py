"""The registered ground-truth factor metrics (factor_codes, mig, factor_vae) wired through EvalRun.

Hand-made encoders on hand-made data: each image's three pixels *are* its factors (shape, a, b), a
stub critic passes the pixels through as features, and a stub Q reads them back (perfect, permuted)
or ignores them (random). So the expected values are known exactly: a perfect encoder scores ~1,
a random one ~0 (MIG) or chance (FactorVAE), and a permutation is reported as such.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from ganforge.evaluation.run import EvalRun
from ganforge.evaluation.factor_metrics import FactorCodes, FactorVAEScore, MutualInformationGap
from ganforge.interfaces import ImageData
from ganforge.latent import LatentSpec
from ganforge_infogan.factors import Categorical, Uniform
from ganforge_infogan.options import CategoricalOptions, UniformOptions

N = 3000
SHAPE_LEVEL = 100  # pixel value per shape class: 0, 100, 200


def _pixels(factors: dict[str, Tensor]) -> Tensor:
    """``uint8`` ``(M, 1, 1, 3)`` images whose pixels encode (shape, a, b)."""
    cols = [factors["shape"] * SHAPE_LEVEL, (factors["a"] * 255).round(), (factors["b"] * 255).round()]
    return torch.stack(cols, dim=1).to(torch.uint8).view(-1, 1, 1, 3)


def _data(render: bool = True, n: int = N) -> ImageData:
    g = torch.Generator().manual_seed(0)
    factors = {"shape": torch.randint(3, (n,), generator=g), "a": torch.rand(n, generator=g),
               "b": torch.rand(n, generator=g)}
    return ImageData(_pixels(factors), labels=factors["shape"].clone(), num_classes=3, factors=factors,
                     factor_kinds={"shape": "categorical", "a": "continuous", "b": "continuous"},
                     render_factors=_pixels if render else None)


class PixelCritic(nn.Module):
    """Trunk features = the image's pixels, in [−1, 1]."""

    def features(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        return x.flatten(1)  # (B, 3)


class StubQ(nn.Module):
    """Posterior parameters for c1 (3 logits), c2 and c3 (mean, log σ) from the pixels.

    ``mode``: "perfect" (c1 ← shape, c2 ← a, c3 ← b), "permuted" (c2 ← b, c3 ← a) or "random"
    (codes drawn independently of the image).
    """

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode
        self.g = torch.Generator().manual_seed(1)

    def encode(self, feats: Tensor, images: Tensor) -> dict[str, Tensor]:
        b = len(feats)
        if self.mode == "random":
            feats = torch.rand(b, 3, generator=self.g) * 2 - 1
        centres = torch.tensor([0.0, SHAPE_LEVEL, 2 * SHAPE_LEVEL]) / 127.5 - 1
        logits = -(feats[:, :1] - centres).square() * 100  # (B, 3): nearest shape level wins
        a, bb = (feats[:, 2], feats[:, 1]) if self.mode == "permuted" else (feats[:, 1], feats[:, 2])
        zeros = torch.zeros(b)
        return {"c1": logits, "c2": torch.stack([a, zeros], 1), "c3": torch.stack([bb, zeros], 1)}


def _run(mode: str, data: ImageData | None = None) -> EvalRun:
    spec = LatentSpec(2, factors=[Categorical("c1", 1.0, CategoricalOptions(k=3)),
                                  Uniform("c2", 1.0, UniformOptions()), Uniform("c3", 1.0, UniformOptions())])
    system = SimpleNamespace(spec=spec, critic=PixelCritic(), regularizers={"mi": StubQ(mode)})
    loaded: Any = SimpleNamespace(system=system, run_dir=Path("."))
    return EvalRun(loaded, data if data is not None else _data(), torch.device("cpu"), batch_size=1000)


@pytest.fixture(autouse=True)
def _fewer_votes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FactorVAEScore, "n_train", 200)
    monkeypatch.setattr(FactorVAEScore, "n_eval", 150)


def test_perfect_encoder_scores_near_one() -> None:
    run = _run("perfect")
    codes = FactorCodes().compute(run).details["codes"]
    assert {c: r["factor"] for c, r in codes.items()} == {"c1": "shape", "c2": "a", "c3": "b"}
    assert codes["c1"]["accuracy"] == {"shape": 1.0}
    assert codes["c2"]["normalized_mi"] > 0.95 and codes["c3"]["normalized_mi"] > 0.95
    assert codes["c2"]["mi_nats"] == pytest.approx(codes["c2"]["normalized_mi"] * np.log(20), rel=0.02)
    m = MutualInformationGap().compute(run).details
    assert m["mig"] > 0.9
    assert m["top_code"] == {"shape": "c1", "a": "c2", "b": "c3"}
    fv = FactorVAEScore().compute(run).details
    assert fv["score"] == 1.0 and fv["sampler"] == "rendered"
    assert fv["classifier"] == {"c1": "shape", "c2": "a", "c3": "b"}
    heads = [h for metric in (MutualInformationGap(), FactorVAEScore()) for h in metric.compute(run).headlines]
    assert [(h.label, h.higher_is_better) for h in heads] == [("MIG (ground-truth factors)", True),
                                                            ("FactorVAE score (ground-truth factors)", True)]
    assert FactorCodes().compute(run).tables[0].rows[0][:2] == ("c1", "shape")  # eval prints it as a table


def test_permuted_encoder_is_reported_as_permuted() -> None:
    run = _run("permuted")
    codes = FactorCodes().compute(run).details["codes"]
    assert (codes["c2"]["factor"], codes["c3"]["factor"]) == ("b", "a")
    assert MutualInformationGap().compute(run).details["mig"] > 0.9  # MIG does not care which code holds which factor
    assert FactorVAEScore().compute(run).details["classifier"] == {"c1": "shape", "c2": "b", "c3": "a"}


def test_random_encoder_scores_near_zero_or_chance() -> None:
    run = _run("random")
    codes = FactorCodes().compute(run).details["codes"]
    assert codes["c1"]["accuracy"]["shape"] < 0.4  # chance is 1/3
    assert all(r["normalized_mi"] < 0.1 for r in codes.values())
    assert MutualInformationGap().compute(run).details["mig"] < 0.05
    assert FactorVAEScore().compute(run).details["score"] < 0.6  # chance is 1/3 (three factors)


def test_without_a_renderer_factor_vae_groups_the_data() -> None:
    fv = FactorVAEScore().compute(_run("perfect", _data(render=False))).details
    assert fv["sampler"].startswith("data grouped")
    assert fv["score"] > 0.9  # binned continuous factors are only nearly fixed, still clearly the right code


def test_metrics_do_not_apply_without_factors_or_codes() -> None:
    plain = _data()
    plain.factors = None
    for metric in (FactorCodes(), MutualInformationGap(), FactorVAEScore()):
        assert not metric.applies(_run("perfect", plain))
    run = _run("perfect")
    run.loaded.system.regularizers = {}  # no Q head: no codes to score
    assert not FactorCodes().applies(run) and not MutualInformationGap().applies(run)


def test_shapes_render_factors_reproduces_its_own_images() -> None:
    from ganforge.data.options import ShapesOptions
    from ganforge.data.shapes import load
    from ganforge.interfaces import DataContext

    for radius in (0.2, 0.35):  # the data's own max_radius, not the default
        data = load(ShapesOptions(size=64, image_size=28, supersample=2, max_radius=radius), DataContext(seed=3, cache_dir="."))
        assert data.render_factors is not None and data.factors is not None
        again = data.render_factors({k: v[10:30] for k, v in data.factors.items()})
        assert torch.equal(again, data.images[10:30])
