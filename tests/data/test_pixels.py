"""The pixel convention every reader of images shares."""

import torch

from ganforge.data.pixels import to_uint8, to_unit


def test_uint8_maps_onto_minus_one_to_one_and_the_input_is_left_alone() -> None:
    images = torch.tensor([[0, 51, 255]], dtype=torch.uint8)
    out = to_unit(images)
    assert out.dtype == torch.float32 and torch.allclose(out, torch.tensor([[-1.0, -0.6, 1.0]]))
    floats = images.float()
    to_unit(floats)
    assert torch.equal(floats, images.float())  # float input: a new tensor, never changed in place


def test_to_uint8_inverts_to_unit_rounds_and_clips() -> None:
    every = torch.arange(256, dtype=torch.uint8)
    assert torch.equal(to_uint8(to_unit(every)), every)  # all 256 levels survive the round trip
    got = to_uint8(torch.tensor([-3.0, -1.0, -0.999, 0.0, 0.999, 2.0]))
    assert got.dtype == torch.uint8 and got.tolist() == [0, 0, 0, 128, 255, 255]
