"""The procedural stroke-glyph source: factors, determinism, what each factor does to the image, options."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from pydantic import ValidationError

import ganforge.builtins
from ganforge.data.options import GlyphsOptions
from ganforge.data.glyphs import FACTOR_KINDS, NUM_DIGITS, RANGES, load, render, sample_factors
from ganforge.interfaces import DataContext
from ganforge.registry import load_registry

CTX = DataContext(seed=0, cache_dir="/tmp")


def _cell(digit: int, n: int = 1, slant: float = 0.0, width: float = 0.09, scale: float = 0.7) -> dict[str, torch.Tensor]:
    """``n`` copies of one factor tuple, as render's keyword arguments."""
    return {"digit": torch.full((n,), digit, dtype=torch.int64), "slant": torch.full((n,), slant),
            "width": torch.full((n,), width), "scale": torch.full((n,), scale)}


def _moments(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Ink mass, x–y covariance (shear) and row spread of ``(N, 1, S, S)`` images, y growing downwards."""
    img = images[:, 0].double()
    s = img.shape[-1]
    c = torch.arange(s, dtype=torch.float64) + 0.5
    mass = img.sum(dim=(1, 2))
    mx = (img.sum(1) * c).sum(1) / mass
    my = (img.sum(2) * c).sum(1) / mass
    dx, dy = c[None, None, :] - mx[:, None, None], c[None, :, None] - my[:, None, None]
    cov = (img * dx * dy).sum(dim=(1, 2)) / mass
    spread = (img * dy * dy).sum(dim=(1, 2)) / mass
    return mass, cov, spread


def test_load_contract_and_determinism() -> None:
    options = GlyphsOptions(size=500)
    a, b = load(options, CTX), load(options, CTX)
    other = load(options, DataContext(seed=1, cache_dir="/tmp"))
    assert a.images.shape == (500, 1, 28, 28) and a.images.dtype == torch.uint8
    assert a.num_classes == NUM_DIGITS and torch.equal(a.labels, a.factors["digit"])
    assert a.factor_kinds == FACTOR_KINDS and set(a.factors) == set(FACTOR_KINDS)
    assert torch.equal(a.images, b.images) and all(torch.equal(a.factors[k], b.factors[k]) for k in a.factors)
    assert not torch.equal(a.images, other.images)
    assert set(a.labels.tolist()) == set(range(NUM_DIGITS))
    for name, (lo, hi) in RANGES.items():
        v = a.factors[name]
        assert v.dtype == torch.float32 and lo <= float(v.min()) and float(v.max()) <= hi, name
        assert float(v.max() - v.min()) > 0.8 * (hi - lo), name  # the whole range is used


def test_render_factors_round_trip() -> None:
    """render_factors draws the same glyph for the same factors (up to the nuisance jitter), and with
    jitter 0 exactly what the data holds."""
    data = load(GlyphsOptions(size=40, jitter=0.0), CTX)
    assert torch.equal(data.render_factors(data.factors), data.images)
    jittered = load(GlyphsOptions(size=40), CTX)
    again = jittered.render_factors(jittered.factors)
    assert again.shape == jittered.images.shape
    diff = (again.float() - jittered.images.float()).abs().mean() / 255
    assert 0 < diff < 0.1  # same digits, other nuisance


def test_digits_are_distinct_and_jitter_only_perturbs() -> None:
    """Jittered glyphs stay nearest to their own digit's exact glyph, and no two draws are alike."""
    exact = torch.cat([render(**_cell(d), jitter=0.0) for d in range(NUM_DIGITS)]).float().flatten(1)
    for d in range(NUM_DIGITS):
        jittered = render(**_cell(d, n=40), seed=d).float().flatten(1)
        nearest = torch.cdist(jittered, exact).argmin(dim=1)
        assert (nearest == d).float().mean() >= 0.9, d
        assert len({tuple(x.tolist()) for x in jittered}) == 40


def test_each_factor_moves_its_own_statistic() -> None:
    slants = torch.tensor([-0.4, 0.0, 0.4])
    _, cov, _ = _moments(render(**(_cell(1, n=3) | {"slant": slants}), jitter=0.0))
    assert cov[0] > cov[1] > cov[2]  # leaning right = ink up-right: negative x–y covariance with y down
    widths = torch.tensor([0.05, 0.09, 0.13])
    mass, _, _ = _moments(render(**(_cell(7, n=3) | {"width": widths}), jitter=0.0))
    assert mass[0] < mass[1] < mass[2]
    scales = torch.tensor([0.6, 0.7, 0.8])
    _, _, spread = _moments(render(**(_cell(0, n=3) | {"scale": scales}), jitter=0.0))
    assert spread[0] < spread[1] < spread[2]


@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("slant", [-0.4, 0.4])
def test_glyphs_stay_inside_the_frame(size: int, slant: float) -> None:
    """At the largest scale and width, the strongest slant and the largest jitter, no ink on the border."""
    f = sample_factors(1000, torch.Generator().manual_seed(0))
    f["scale"][:], f["width"][:], f["slant"][:] = RANGES["scale"][1], RANGES["width"][1], slant
    images = render(**f, image_size=size, jitter=GlyphsOptions.model_fields["jitter"].metadata[1].le)
    border = torch.cat([images[:, 0, 0], images[:, 0, -1], images[:, 0, :, 0], images[:, 0, :, -1]], dim=1)
    assert int(border.max()) == 0
    assert images.float().mean() > 10  # ink is there


def test_anti_aliased_edges() -> None:
    values = set(render(**_cell(0), jitter=0.0).flatten().tolist())
    assert 0 in values and 255 in values and len(values) > 10


def test_render_rejects_bad_inputs() -> None:
    f = _cell(0, n=2)
    with pytest.raises(ValueError, match="digit"):
        render(**(f | {"digit": torch.tensor([0, 10])}))
    with pytest.raises(ValueError, match="width"):
        render(**(f | {"width": torch.tensor([0.1, 0.0])}))
    with pytest.raises(ValueError, match="slant"):
        render(**(f | {"slant": torch.zeros(3)}))


@pytest.mark.parametrize("bad", [{"image_size": 48}, {"size": 0}, {"jitter": -0.1}, {"jitter": 0.5},
                                 {"jitter": float("nan")}, {"colour": "red"}])
def test_invalid_options_rejected(bad: dict) -> None:
    with pytest.raises(ValidationError):
        GlyphsOptions(**bad)


def test_options_documented_and_registered() -> None:
    for name, field in GlyphsOptions.model_fields.items():
        assert field.description, name
    entry = load_registry(entry_points=False, extra=[("core", ganforge.builtins)]).get("dataset", "glyphs")
    assert entry.options is GlyphsOptions
    assert entry.build(GlyphsOptions(size=8, image_size=32), CTX).images.shape == (8, 1, 32, 32)


def test_bad_option_is_a_one_line_error(tmp_path) -> None:
    out = subprocess.run([sys.executable, "-m", "ganforge", "validate", "recipes/infogan_glyphs.toml",
                          "--set", "data.jitter=2"], capture_output=True, text=True)
    assert out.returncode != 0
    assert "data.jitter" in out.stderr and "Traceback" not in out.stderr
