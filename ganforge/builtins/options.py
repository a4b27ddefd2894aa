"""Options models of the core's data sources (pydantic only: importing them stays cheap)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

_STRICT = ConfigDict(extra="forbid")


class SyntheticOptions(BaseModel):
    """Gaussian blobs at random positions; label = which quadrant the blob is in."""

    model_config = _STRICT
    size: int = Field(512, ge=1, description="Number of images.")
    image_size: int = Field(28, ge=8, le=256, description="Height and width in pixels.")
    channels: int = Field(1, ge=1, le=4, description="Image channels.")


class IdxOptions(BaseModel):
    """MNIST-format idx files (plain or .gz), e.g. the official t10k files."""

    model_config = _STRICT
    path: str = Field(description="Directory holding the files (relative paths are from the working directory).")
    images: str = Field("*images-idx3-ubyte*", description="Glob (inside path) of the image file.")
    labels: str | None = Field("*labels-idx1-ubyte*", description="Glob of the label file; '' for none.")


class TorchvisionOptions(BaseModel):
    """A torchvision dataset, kept in memory as uint8."""

    model_config = _STRICT
    root: str = Field("~/.cache/ganforge/datasets", description="Where torchvision stores the files.")
    split: Literal["train", "test"] = Field("train", description="Which split.")
    download: bool = Field(True, description="Download when missing (needs network).")


class ImageFolderOptions(BaseModel):
    """Your own images, one sub-folder per class."""

    model_config = _STRICT
    path: str = Field(description="Root folder (torchvision ImageFolder layout).")
    image_size: int = Field(64, ge=8, le=1024, description="Images are resized and centre-cropped to this size.")
    grayscale: bool = Field(False, description="Convert to one channel.")
