"""The procedural shapes source: determinism, factor ranges, geometry of the renderer, options."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError

import ganforge.builtins
from ganforge.data.options import ShapesOptions
from ganforge.data.shapes import MAX_RADIUS, SHAPES, SYMMETRY_PERIOD, load, render, sample_factors
from ganforge.interfaces import DataContext
from ganforge.registry import load_registry

CTX = DataContext(seed=0, cache_dir="/tmp")
SQUARE, ELLIPSE, HEART = 0, 1, 2


def _one(shape: int, scale: float = 1.0, rotation: float = 0.0, pos_x: float = 0.5, pos_y: float = 0.5,
         n: int = 1) -> dict[str, torch.Tensor]:
    """``n`` copies of one factor tuple, as render's keyword arguments."""
    return {"shape": torch.full((n,), shape, dtype=torch.int64), "scale": torch.full((n,), scale),
            "rotation": torch.full((n,), rotation), "pos_x": torch.full((n,), pos_x), "pos_y": torch.full((n,), pos_y)}


def _sweep(name: str, values: torch.Tensor, shape: int, **fixed: float) -> dict[str, torch.Tensor]:
    f = _one(shape, n=len(values), **fixed)
    f[name] = values.float()
    return f


def _centre_of_mass(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) centre of mass in pixels of ``(N, 1, S, S)`` images; y grows downwards."""
    img = images[:, 0].double()
    s = img.shape[-1]
    coord = torch.arange(s, dtype=torch.float64) + 0.5
    mass = img.sum(dim=(1, 2))
    return (img.sum(1) * coord).sum(1) / mass, (img.sum(2) * coord).sum(1) / mass


def test_load_contract_and_determinism() -> None:
    options = ShapesOptions(size=300, image_size=32)
    a, b = load(options, CTX), load(options, CTX)
    other = load(options, DataContext(seed=1, cache_dir="/tmp"))
    assert a.images.shape == (300, 1, 32, 32) and a.images.dtype == torch.uint8
    assert a.num_classes == 3 and a.image_shape == (1, 32, 32)
    assert set(a.factors) == {"shape", "scale", "rotation", "pos_x", "pos_y"}
    assert a.factor_kinds == {"shape": "categorical", "scale": "continuous", "rotation": "continuous",
                              "pos_x": "continuous", "pos_y": "continuous"}
    assert a.factors["shape"].dtype == torch.int64 and torch.equal(a.labels, a.factors["shape"])
    for name in ("scale", "rotation", "pos_x", "pos_y"):
        assert a.factors[name].dtype == torch.float32 and a.factors[name].shape == (300,)
    assert a.images.numpy().tobytes() == b.images.numpy().tobytes()
    assert all(torch.equal(a.factors[k], b.factors[k]) for k in a.factors)
    assert not torch.equal(a.images, other.images)
    assert not torch.equal(a.factors["scale"], other.factors["scale"])
    # the global RNG is neither used nor disturbed
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    load(options, CTX)
    assert torch.equal(torch.rand(3), before)
    # the images are a function of the factors alone
    assert torch.equal(a.images, render(**a.factors, image_size=32, supersample=options.supersample))


def test_continuous_factor_ranges() -> None:
    f = sample_factors(6000, torch.Generator().manual_seed(0), ShapesOptions())
    counts = torch.bincount(f["shape"], minlength=3)
    assert len(counts) == 3 and counts.min() > 1800  # every shape, roughly uniform
    assert f["scale"].min() >= 0.5 and f["scale"].max() <= 1.0
    assert f["rotation"].min() >= 0 and f["rotation"].max() <= 2 * math.pi
    for k in ("pos_x", "pos_y"):
        assert f[k].min() >= 0 and f[k].max() <= 1
    # continuous, and they fill their ranges
    assert len(torch.unique(f["scale"])) > 5000
    assert f["rotation"].max() > 0.95 * 2 * math.pi and f["scale"].min() < 0.51


def test_symmetry_rotation_range() -> None:
    f = sample_factors(3000, torch.Generator().manual_seed(0), ShapesOptions(rotation_range="symmetry"))
    for kind, period in enumerate(SYMMETRY_PERIOD):
        rot = f["rotation"][f["shape"] == kind]
        assert rot.min() >= 0 and rot.max() <= period and rot.max() > 0.9 * period


def test_grid_factors_lie_on_the_grid() -> None:
    o = ShapesOptions(grid=True)
    f = sample_factors(5000, torch.Generator().manual_seed(0), o)
    assert torch.allclose(torch.unique(f["scale"]), torch.linspace(0.5, 1, 6))
    for k in ("pos_x", "pos_y"):
        assert torch.allclose(torch.unique(f[k]), torch.linspace(0, 1, 32))
    steps = f["rotation"].double() / (2 * math.pi) * 40
    assert torch.allclose(steps, steps.round(), atol=1e-4) and len(torch.unique(steps.round())) == 40
    assert steps.max() < 40 - 0.5  # 2π itself is not a grid point (it repeats 0)


def test_shapes_are_distinguishable() -> None:
    images = torch.cat([render(**_one(k, scale=1.0), image_size=64) for k in range(3)])
    mass = images.double().sum(dim=(1, 2, 3))
    # unit-circumradius areas: heart 2.34 > square 2.00 > ellipse 1.88
    assert mass[HEART] > mass[SQUARE] > mass[ELLIPSE]
    masks = images[:, 0] > 127
    for i in range(3):
        for j in range(i + 1, 3):
            iou = (masks[i] & masks[j]).sum() / (masks[i] | masks[j]).sum()
            assert iou < 0.85, (SHAPES[i], SHAPES[j], float(iou))
    # the heart is not mirror-symmetric top-to-bottom; the square and the ellipse are
    assert torch.equal(images[SQUARE], images[SQUARE].flip(-2))
    assert torch.equal(images[ELLIPSE], images[ELLIPSE].flip(-2))
    assert not torch.equal(images[HEART], images[HEART].flip(-2))
    # heart tip points down at rotation 0: more mass in the upper half (lobes)
    upper, lower = images[HEART, 0, :32].double().sum(), images[HEART, 0, 32:].double().sum()
    assert upper > lower


@pytest.mark.parametrize("kind", range(3))
def test_rotation_is_periodic(kind: int) -> None:
    rot = torch.tensor([0.3, 1.1, 2.5, 4.0])
    a = render(**_sweep("rotation", rot, kind, pos_x=0.37, pos_y=0.61, scale=0.8))
    b = render(**_sweep("rotation", rot + 2 * math.pi, kind, pos_x=0.37, pos_y=0.61, scale=0.8))
    diff = (a.int() - b.int()).abs()
    # float32 rounding of θ + 2π may flip a sub-pixel sample on an edge: at most one level, rarely
    assert diff.max() <= math.ceil(255 / 16) and (diff > 0).sum() <= 4
    # the symmetry periods: square π/2, ellipse π; the heart has none short of 2π
    for turn in (math.pi / 2, math.pi):
        c = render(**_sweep("rotation", rot + turn, kind, pos_x=0.37, pos_y=0.61, scale=0.8))
        d = (a.int() - c.int()).abs()
        if turn % SYMMETRY_PERIOD[kind] < 1e-9:
            assert d.max() <= math.ceil(255 / 16) and (d > 0).sum() <= 4, turn
        else:
            assert (d > 0).sum() > 100, turn


@pytest.mark.parametrize("kind", range(3))
def test_position_moves_the_centre_of_mass(kind: int) -> None:
    pos = torch.linspace(0, 1, 21)
    x, y = _centre_of_mass(render(**_sweep("pos_x", pos, kind, rotation=0.7, scale=0.75), image_size=64))
    assert (x.diff() > 0).all()
    assert (y - y[0]).abs().max() < 0.05  # only x moves (up to anti-aliasing quantisation)
    # the travel is (1 − 2·MAX_RADIUS)·S pixels
    assert float(x[-1] - x[0]) == pytest.approx((1 - 2 * MAX_RADIUS) * 64, abs=0.1)
    _, y = _centre_of_mass(render(**_sweep("pos_y", pos, kind, rotation=0.7, scale=0.75), image_size=64))
    assert (y.diff() > 0).all()  # pos_y grows downwards


@pytest.mark.parametrize("radius", [0.2, 0.35])
def test_max_radius_sets_the_size_and_the_travel(radius: float) -> None:
    """A larger max_radius draws a larger shape (area ∝ r²) whose centre travels (1 − 2r)·S pixels."""
    pos = torch.tensor([0.0, 1.0])
    x, _ = _centre_of_mass(render(**_sweep("pos_x", pos, SQUARE, rotation=0.7, scale=0.75), image_size=64,
                                  max_radius=radius))
    assert float(x[1] - x[0]) == pytest.approx((1 - 2 * radius) * 64, abs=0.1)
    mass = render(**_one(SQUARE, scale=1.0), image_size=64, max_radius=radius).double().sum() / 255
    # a square of circumradius r·S has side √2·r·S
    assert float(mass) == pytest.approx(2 * (radius * 64) ** 2, rel=0.02)
    with pytest.raises(ValueError, match="max_radius"):
        render(**_one(SQUARE), max_radius=0.5)


@pytest.mark.parametrize("kind", range(3))
def test_scale_increases_mass_smoothly(kind: int) -> None:
    scale = torch.linspace(0.5, 1.0, 26)
    images = render(**_sweep("scale", scale, kind, rotation=0.4, pos_x=0.3, pos_y=0.7), image_size=64)
    mass = images.double().sum(dim=(1, 2, 3)) / 255
    assert (mass.diff() > 0).all()
    # area ∝ scale²: scale 0.5 → 1 quadruples the mass
    assert float(mass[-1] / mass[0]) == pytest.approx(4.0, rel=0.03)


def test_anti_aliasing() -> None:
    # a sub-pixel shift changes the image, and pixel mass stays nearly constant
    pos = torch.linspace(0.5, 0.5 + 0.25 / (64 * (1 - 2 * MAX_RADIUS)), 6)  # a quarter pixel in 6 steps
    images = render(**_sweep("pos_x", pos, HEART, rotation=0.3), image_size=64, supersample=4)
    assert all(not torch.equal(images[i], images[i + 1]) for i in range(5))
    mass = images.double().sum(dim=(1, 2, 3))
    assert float((mass.max() - mass.min()) / mass.mean()) < 0.01
    x, _ = _centre_of_mass(images)
    assert (x.diff() > 0).all()
    # grey edge pixels only with supersampling
    assert len(torch.unique(images)) > 10
    assert set(torch.unique(render(**_one(HEART, rotation=0.3), supersample=1)).tolist()) <= {0, 255}


@pytest.mark.parametrize("size", [28, 32, 64])
def test_image_sizes_and_shapes_stay_inside_the_frame(size: int) -> None:
    data = load(ShapesOptions(size=60, image_size=size), CTX)
    assert data.images.shape == (60, 1, size, size) and data.images.dtype == torch.uint8
    # the most extreme factors (largest scale, corners, many rotations) clip nothing: each image
    # holds the same mass as the same shape moved by whole pixels into the middle of the frame
    n = 16
    rot = torch.linspace(0, 2 * math.pi, n + 1)[:-1]
    corner_x, corner_y = torch.tensor([0.0, 1.0, 0.0, 1.0]).repeat(4), torch.tensor([0.0, 0.0, 1.0, 1.0]).repeat(4)

    def whole_pixels_to_middle(pos: torch.Tensor) -> torch.Tensor:
        centre = (MAX_RADIUS + pos.double() * (1 - 2 * MAX_RADIUS)) * size  # pixels
        centre = centre + (size / 2 - centre).round()
        return ((centre / size - MAX_RADIUS) / (1 - 2 * MAX_RADIUS)).float()

    for kind in range(3):
        edge = render(**(_sweep("rotation", rot, kind) | {"pos_x": corner_x, "pos_y": corner_y}), image_size=size)
        middle = render(**(_sweep("rotation", rot, kind) | {"pos_x": whole_pixels_to_middle(corner_x),
                                                            "pos_y": whole_pixels_to_middle(corner_y)}),
                        image_size=size)
        mass_edge, mass_middle = edge.double().sum(dim=(1, 2, 3)), middle.double().sum(dim=(1, 2, 3))
        assert torch.allclose(mass_edge, mass_middle, rtol=1e-3), SHAPES[kind]


def test_window_matches_full_frame_render() -> None:
    f = sample_factors(90, torch.Generator().manual_seed(3), ShapesOptions())
    f["scale"][:3] = torch.tensor([1.4, 0.2, 0.05])  # out-of-range values are rendered alike
    f["pos_x"][3:6] = torch.tensor([-0.2, 1.3, 0.99])
    for size in (28, 32, 64):
        assert torch.equal(render(**f, image_size=size, supersample=3),
                           render(**f, image_size=size, supersample=3, window=False))


def test_render_rejects_bad_inputs() -> None:
    f = _one(SQUARE, n=2)
    with pytest.raises(ValueError, match="shape indices"):
        render(**(f | {"shape": torch.tensor([0, 3])}))
    with pytest.raises(ValueError, match="scale"):
        render(**(f | {"scale": torch.tensor([1.0, 0.0])}))
    with pytest.raises(ValueError, match="pos_x"):
        render(**(f | {"pos_x": torch.zeros(3)}))
    with pytest.raises(ValueError):
        render(**f, supersample=0)


@pytest.mark.parametrize("bad", [
    {"image_size": 48}, {"image_size": 16}, {"supersample": 0}, {"supersample": 9}, {"size": 0},
    {"rotation_range": "half"}, {"max_radius": 0.05}, {"max_radius": 0.5}, {"grid_positions": 1}, {"grid_scales": 1}, {"grid_rotations": 0},
    {"colour": "red"},
])
def test_invalid_options_rejected(bad: dict) -> None:
    with pytest.raises(ValidationError):
        ShapesOptions(**bad)


def test_options_documented_and_registered() -> None:
    for name, field in ShapesOptions.model_fields.items():
        assert field.description, name
    entry = load_registry(entry_points=False, extra=[("core", ganforge.builtins)]).get("dataset", "shapes")
    assert entry.options is ShapesOptions
    data = entry.build(ShapesOptions(size=8, image_size=28), CTX)
    assert data.images.shape == (8, 1, 28, 28)
