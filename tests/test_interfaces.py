"""The optional encoder protocol: what eval reads Q through, and the deprecated ``evaluate`` it replaces."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import Tensor

from ganforge import Encoder, Regularizer


class _Plain(Regularizer):
    pass


def test_a_regularizer_without_encode_is_not_an_encoder() -> None:
    assert not isinstance(_Plain(), Encoder)


def test_a_regularizer_with_encode_is_an_encoder() -> None:
    class Q(Regularizer):
        def encode(self, features: Tensor, images: Tensor) -> dict[str, Tensor]:
            return {"c1": features[:, :3]}

    assert isinstance(Q(), Encoder)


def test_the_old_evaluate_api_still_encodes_with_a_deprecation_warning() -> None:
    with pytest.warns(DeprecationWarning, match="define encode"):
        class Old(Regularizer):
            def evaluate(self, features: Tensor) -> dict[str, Tensor]:
                return {"c1": features * 2}

    with pytest.warns(DeprecationWarning, match="define encode"):
        class OldWithImages(Regularizer):
            evaluate_reads_images = True

            def evaluate(self, features: Tensor, images: Tensor) -> dict[str, Tensor]:
                return {"c1": images.flatten(1)}

    f, x = torch.ones(2, 3), torch.zeros(2, 1, 2, 2)
    assert isinstance(Old(), Encoder)
    assert torch.equal(Old().encode(f, x)["c1"], f * 2)
    assert torch.equal(OldWithImages().encode(f, x)["c1"], x.flatten(1))


def test_defining_encode_raises_no_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")

        class New(Regularizer):
            def encode(self, features: Tensor, images: Tensor) -> dict[str, Tensor]:
                return {}

    assert isinstance(New(), Encoder)
