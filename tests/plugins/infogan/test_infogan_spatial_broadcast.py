"""The spatial-broadcast generator: output shapes and range, its coordinate grid, registration, bad sizes."""

from __future__ import annotations

import pytest
import torch

from ganforge import BuildContext, Generator, LatentSpec
from ganforge.registry import Registry
from ganforge_infogan.spatial_broadcast import SpatialBroadcastGenerator, build_generator
from ganforge_infogan.options import SpatialBroadcastOptions


def ctx(shape: tuple[int, int, int]) -> BuildContext:
    return BuildContext(image_shape=shape, spec=LatentSpec(noise_dim=9))


@pytest.mark.parametrize(("shape", "base"), [((1, 28, 28), (7, 7)), ((1, 32, 32), (8, 8)), ((3, 64, 64), (8, 8))])
def test_shapes_range_and_grid(shape: tuple[int, int, int], base: tuple[int, int]) -> None:
    torch.manual_seed(0)
    g = build_generator(SpatialBroadcastOptions(channels=8), ctx(shape))
    assert isinstance(g, Generator) and g.base == base
    x = g(torch.randn(5, 9))
    assert x.shape == (5, *shape) and x.min() >= -1 and x.max() <= 1
    xs, ys = g.coords[0]  # (b, b) each: x grows along columns, y along rows, both over [-1, 1]
    assert torch.equal(xs[0], torch.linspace(-1, 1, base[1])) and torch.equal(ys[:, 0], torch.linspace(-1, 1, base[0]))
    assert "coords" not in g.state_dict()  # rebuilt from the image size, never checkpointed


def test_every_grid_cell_sees_the_whole_latent_and_its_position() -> None:
    g = SpatialBroadcastGenerator(4, (1, 28, 28), channels=8)
    first = g.net[0]
    assert first.in_channels == 4 + 2  # the latent plus x and y
    z = torch.randn(2, 4)
    seen: list[torch.Tensor] = []
    first.register_forward_hook(lambda m, inp, out: seen.append(inp[0]))
    g.eval()(z)
    tiled = seen[0]  # (2, 6, 7, 7)
    assert torch.equal(tiled[:, :4], z[:, :, None, None].expand(-1, -1, 7, 7))
    assert torch.equal(tiled[0, 4:], tiled[1, 4:])  # the same coordinates for every sample


def test_registered_with_its_options(registry: Registry) -> None:
    entry = registry.get("generator", "spatial_broadcast")
    assert entry.options is SpatialBroadcastOptions and entry.plugin == "infogan"


def test_unsupported_sizes_are_rejected_clearly() -> None:
    with pytest.raises(ValueError, match="infogan_mnist networks take images"):
        build_generator(SpatialBroadcastOptions(), ctx((1, 30, 30)))


def test_eval_mode_samples_equal_training_mode_samples() -> None:
    """No batch norm: samples, traversals and eval (eval mode) show what the generator trained as."""
    torch.manual_seed(0)
    g = SpatialBroadcastGenerator(9, (1, 28, 28), channels=8)
    z = torch.randn(6, 9)
    with torch.no_grad():
        assert torch.equal(g.train()(z), g.eval()(z))
