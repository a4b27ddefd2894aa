"""Options models of the built-in data sources (pydantic only: importing them stays cheap)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

_STRICT = ConfigDict(extra="forbid")



def _existing_directory(value: str) -> str:
    """``ganforge validate`` (and every command) reports a data directory that is not there."""
    if not Path(value).expanduser().is_dir():
        raise ValueError(f"data directory not found: {value!r} (relative paths are from the working directory, {Path.cwd()})")
    return value


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

    _path = field_validator("path")(_existing_directory)


class TorchvisionOptions(BaseModel):
    """A torchvision dataset, kept in memory as uint8."""

    model_config = _STRICT
    root: str = Field("~/.cache/ganforge/datasets", description="Where torchvision stores the files.")
    split: Literal["train", "test"] = Field("train", description="Which split.")
    download: StrictBool = Field(True, description="Download when missing (needs network).")


class ImageFolderOptions(BaseModel):
    """Your own images, one sub-folder per class."""

    model_config = _STRICT
    path: str = Field(description="Root folder (torchvision ImageFolder layout).")
    image_size: int = Field(64, ge=8, le=1024, description="Images are resized and centre-cropped to this size.")
    grayscale: StrictBool = Field(False, description="Convert to one channel.")

    _path = field_validator("path")(_existing_directory)


class FlatImagesOptions(BaseModel):
    """A flat folder of images (no class sub-folders, e.g. CelebA's img_align_celeba), optional labels."""

    model_config = _STRICT
    path: str = Field(description="Folder whose image files (png, jpg, …) are the data set; sub-folders are ignored.")
    image_size: int = Field(32, ge=8, le=1024, description="Images are resized and centre-cropped to this size.")
    grayscale: StrictBool = Field(False, description="Convert to one channel.")
    labels: str | None = Field(None, description="Optional CSV file of 'filename,label' lines (labels for evaluation only).")
    max_files: int | None = Field(None, ge=1, description="Read only the first N files in name order (CelebA has 202,599; data.limit would read them all first).")

    _path = field_validator("path")(_existing_directory)


class SVHNOptions(BaseModel):
    """torchvision's SVHN (Street View House Numbers), 32×32 RGB, kept in memory as uint8."""

    model_config = _STRICT
    root: str = Field("~/.cache/ganforge/datasets/svhn", description="Where torchvision stores the .mat files.")
    split: Literal["train", "test", "extra"] = Field("train", description="Which split.")
    download: StrictBool = Field(True, description="Download when missing (needs network).")


class ShapesOptions(BaseModel):
    """dSprites-style procedural shapes (square, ellipse, heart) with known ground-truth factors."""

    model_config = _STRICT
    size: int = Field(20000, ge=1, le=2_000_000, description="Number of images pre-rendered into memory.")
    image_size: Literal[28, 32, 64] = Field(64, description="Height and width in pixels: 28, 32 or 64.")
    supersample: int = Field(
        4, ge=1, le=8,
        description="Anti-aliasing: each pixel averages supersample × supersample sub-pixel inside-tests.",
    )
    grid: StrictBool = Field(
        False,
        description="Draw scale, rotation and positions uniformly from dSprites-style grids instead of "
        "continuous uniform ranges.",
    )
    grid_scales: int = Field(
        6, ge=2, le=1000, description="Grid mode: number of scale values in [0.5, 1] (dSprites: 6)."
    )
    grid_rotations: int = Field(
        40, ge=1, le=10000,
        description="Grid mode: number of rotation values, evenly spaced over the rotation period without "
        "its endpoint (dSprites: 40, but over [0, 2π] with both ends).",
    )
    grid_positions: int = Field(
        32, ge=2, le=1000, description="Grid mode: number of pos_x and of pos_y values in [0, 1] (dSprites: 32)."
    )
    max_radius: float = Field(
        0.2, ge=0.1, le=0.45, allow_inf_nan=False,
        description="Circumradius of a scale-1 shape as a fraction of the frame side (0.2: the largest shape spans 40 % "
        "of the frame, as in dSprites); centres lie in [r, 1 − r]. Larger: bigger shapes, less travel.",
    )
    rotation_range: Literal["full", "symmetry"] = Field(
        "full",
        description="'full': rotation in [0, 2π) for every shape (as dSprites, so a square's rotation is only "
        "identifiable modulo π/2 and an ellipse's modulo π); 'symmetry': each shape's own period "
        "(square [0, π/2), ellipse [0, π), heart [0, 2π)), so every rotation value is identifiable from the image.",
    )


class GlyphsOptions(BaseModel):
    """Procedural stroke glyphs: the digits 0-9 drawn with a pen, with known digit, slant, width and scale."""

    model_config = _STRICT
    size: int = Field(20000, ge=1, le=2_000_000, description="Number of images pre-rendered into memory.")
    image_size: Literal[28, 32, 64] = Field(28, description="Height and width in pixels: 28, 32 or 64.")
    jitter: float = Field(
        0.03, ge=0, le=0.05, allow_inf_nan=False,
        description="Size of each stroke's random affine distortion per image (a nuisance, not a factor): "
        "0 draws every glyph of a factor cell identically.",
    )
