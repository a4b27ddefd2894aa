"""generator.hidden of the vanilla plugin's DCGAN generator: 0 keeps the DCGAN network (and its checkpoint keys);
1024 at width 64 is the InfoGAN paper's MNIST generator, layer for layer."""

from __future__ import annotations

import torch

from ganforge import BuildContext, LatentSpec
from ganforge_infogan.networks import InfoGANGenerator
from ganforge_vanilla.networks import DCGANGenerator
from ganforge_vanilla.options import DCGANGeneratorOptions

CTX = BuildContext(image_shape=(1, 28, 28), spec=LatentSpec(noise_dim=74))


def test_no_hidden_layer_keeps_the_dcgan_state_dict() -> None:
    keys = list(DCGANGenerator(DCGANGeneratorOptions(width=8), CTX).state_dict())
    assert [k for k in keys if k.startswith("fc.")][:2] == ["fc.0.weight", "fc.1.weight"]
    assert not any(k.startswith(("fc.3.", "fc.4.")) for k in keys)


def test_hidden_1024_is_the_infogan_mnist_generator() -> None:
    torch.manual_seed(0)
    ours = DCGANGenerator(DCGANGeneratorOptions(width=64, hidden=1024), CTX)
    torch.manual_seed(0)
    paper = InfoGANGenerator(74, (1, 28, 28))
    assert [v.shape for v in ours.state_dict().values()] == [v.shape for v in paper.state_dict().values()]
    z = torch.rand(8, 74) * 2 - 1
    assert torch.equal(ours.eval()(z), paper.eval()(z))  # same layers, same initial weights for the same seed
