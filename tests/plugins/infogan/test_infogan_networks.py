"""The paper's MNIST generator and critic: shapes, output range, layer sizes, rejected image sizes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganforge import BuildContext, Critic, Generator, LatentSpec
from ganforge_infogan.networks import InfoGANCritic, InfoGANGenerator, build_critic, build_generator


def ctx(shape: tuple[int, int, int]) -> BuildContext:
    return BuildContext(image_shape=shape, spec=LatentSpec(noise_dim=74))


@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 32, 32), (3, 64, 64), (1, 16, 16)])
def test_shapes_and_range(shape: tuple[int, int, int]) -> None:
    torch.manual_seed(0)
    g, d = build_generator(None, ctx(shape)), build_critic(None, ctx(shape))
    assert isinstance(g, Generator) and isinstance(d, Critic)
    x = g(torch.randn(4, 74))
    assert x.shape == (4, *shape)
    assert x.min() >= -1 and x.max() <= 1
    feats = d.features(x)
    assert feats.shape == (4, d.feature_width) == (4, 1024)
    assert d.head(feats).shape == (4,) and d(x).shape == (4,)
    assert d(x, cond=torch.zeros(4, dtype=torch.long)).shape == (4,)  # cond is accepted and ignored


def test_mnist_layers_are_the_papers() -> None:
    g, d = InfoGANGenerator(74, (1, 28, 28)), InfoGANCritic((1, 28, 28))
    linears = [m for m in g.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(74, 1024), (1024, 7 * 7 * 128)]
    ups = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [(m.in_channels, m.out_channels, m.kernel_size, m.stride) for m in ups] == [
        (128, 64, (4, 4), (2, 2)), (64, 1, (4, 4), (2, 2))
    ]
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert [(m.out_channels, m.kernel_size, m.stride) for m in convs] == [(64, (4, 4), (2, 2)), (128, (4, 4), (2, 2))]
    fcs = [m for m in d.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in fcs] == [(128 * 7 * 7, 1024), (1024, 1)]
    slopes = {m.negative_slope for m in d.modules() if isinstance(m, nn.LeakyReLU)}
    assert slopes == {0.1}
    assert sum(isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d) for m in d.modules()) == 2  # not on the input layer


@pytest.mark.parametrize("shape", [(1, 30, 30), (1, 28, 27), (3, 128, 128), (1, 36, 36)])
def test_unsupported_sizes_are_rejected_clearly(shape: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError, match="infogan_mnist networks take images"):
        build_critic(None, ctx(shape))
    with pytest.raises(ValueError, match="infogan_mnist networks take images"):
        build_generator(None, ctx(shape))
