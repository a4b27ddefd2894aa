"""Image data sources beyond idx: a flat folder of images (CelebA-style), SVHN's conversion, and
switching data.source with --set on a recipe written for another source."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ganforge.data.options import FlatImagesOptions, ImageFolderOptions, SVHNOptions
from ganforge.data.torchvision_sources import load_image_folder, load_images, load_svhn
from ganforge.errors import DataError
from ganforge.interfaces import DataContext
from ganforge.recipe.model import load_recipe
from ganforge.registry import load_registry
from ganforge.testing import train_steps

CTX = DataContext(seed=0, cache_dir="/tmp")
ROOT = Path(__file__).resolve().parents[2]


def _faces(folder: Path, n: int = 6, size: int = 40) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(n):
        rgb = np.full((size, size + 8, 3), (30 * i) % 256, dtype=np.uint8)
        names.append(f"{i:06d}.jpg" if i % 2 else f"{i:06d}.png")
        Image.fromarray(rgb).save(folder / names[-1])
    (folder / "notes.txt").write_text("not an image")
    return names


def test_a_flat_folder_loads_resized_with_optional_labels(tmp_path: Path) -> None:
    names = _faces(tmp_path / "img")
    (tmp_path / "labels.csv").write_text("filename,label\n" + "".join(f"{n},{'smile' if i % 3 else 'plain'}\n"
                                                                     for i, n in enumerate(names)))
    data = load_images(FlatImagesOptions(path=str(tmp_path / "img"), image_size=32, labels=str(tmp_path / "labels.csv")), CTX)
    assert tuple(data.images.shape) == (6, 3, 32, 32) and data.num_classes == 2
    assert data.labels is not None and data.labels.tolist() == [0, 1, 1, 0, 1, 1]  # plain < smile
    unlabelled = load_images(FlatImagesOptions(path=str(tmp_path / "img"), image_size=16, grayscale=True, max_files=4), CTX)
    assert tuple(unlabelled.images.shape) == (4, 1, 16, 16) and unlabelled.labels is None


def test_flat_folder_errors_say_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no image files .* use data.source = 'image_folder'"):
        load_images(FlatImagesOptions(path=str(tmp_path / "empty")), CTX)
    names = _faces(tmp_path / "img")
    (tmp_path / "labels.csv").write_text(f"{names[0]},a\n")
    with pytest.raises(DataError, match="no label for"):
        load_images(FlatImagesOptions(path=str(tmp_path / "img"), labels=str(tmp_path / "labels.csv")), CTX)
    with pytest.raises(DataError, match="use data.source = 'images'"):  # the class-folder source, given a flat folder
        load_image_folder(ImageFolderOptions(path=str(tmp_path / "img")), CTX)


def test_svhn_arrives_as_uint8_nchw_with_digit_0_labelled_0(monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision

    def fake(root: str, split: str, download: bool) -> Any:  # SVHN's .mat layout: (N, 3, 32, 32), label 10 for "0"
        return SimpleNamespace(data=np.zeros((5, 3, 32, 32), dtype=np.uint8), labels=np.array([10, 1, 2, 9, 10]))

    monkeypatch.setattr(torchvision.datasets, "SVHN", fake)
    data = load_svhn(SVHNOptions(download=False), CTX)
    assert tuple(data.images.shape) == (5, 3, 32, 32) and data.labels.tolist() == [0, 1, 2, 9, 0]  # type: ignore[union-attr]


def test_setting_another_source_drops_the_previous_sources_options(tmp_path: Path) -> None:
    recipe = ROOT / "recipes" / "infogan_mnist.toml"  # source = "mnist" with its own keys in the file
    registry = load_registry()
    resolved = load_recipe(recipe, registry, ["data.source=idx", f"data.path={ROOT.parent / 'shared' / 'data' / 'mnist-t10k'}"])
    assert resolved.recipe.data.source == "idx" and resolved.recipe.data.batch_size == 64  # core keys are kept
    shapes = load_recipe(ROOT / "recipes" / "infogan_shapes.toml", registry, ["data.source=synthetic", "data.size=64"])
    assert set(shapes.raw["data"]) == {"source", "size", "batch_size"}


def test_the_paper_svhn_and_celeba_recipes_train_on_small_generated_images(tmp_path: Path) -> None:
    _faces(tmp_path / "faces", n=20)
    celeba = train_steps(ROOT / "recipes" / "infogan_celeba.toml", 2, tmp_path / "celeba",
                         overrides=[f"data.path={tmp_path / 'faces'}", "data.batch_size=8"])
    assert "generator/mutual_information/L_I/c10" in celeba[-1]
    svhn = train_steps(ROOT / "recipes" / "infogan_svhn.toml", 2, tmp_path / "svhn",
                       overrides=["data.source=synthetic", "data.size=32", "data.image_size=32", "data.channels=3",
                                  "data.batch_size=8"])
    assert {"generator/mutual_information/L_I/c4", "generator/mutual_information/L_I/c8"} <= set(svhn[-1])
