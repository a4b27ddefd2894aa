"""The pixel convention every reader of images shares."""

import torch

from ganforge.data.pixels import to_unit


def test_uint8_maps_onto_minus_one_to_one_and_the_input_is_left_alone() -> None:
    images = torch.tensor([[0, 51, 255]], dtype=torch.uint8)
    out = to_unit(images)
    assert out.dtype == torch.float32 and torch.allclose(out, torch.tensor([[-1.0, -0.6, 1.0]]))
    floats = images.float()
    to_unit(floats)
    assert torch.equal(floats, images.float())  # float input: a new tensor, never changed in place
