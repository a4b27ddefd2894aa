"""torchvision datasets, loaded once into memory as uint8 tensors.

Downloading stays torchvision's job (``download = true``, the default); offline, point ``root``
at existing files or use the ``idx`` source.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge.data.options import FlatImagesOptions, ImageFolderOptions, SVHNOptions, TorchvisionOptions
from ganforge.errors import DataError
from ganforge.interfaces import DataContext, ImageData


def _load(cls_name: str, options: TorchvisionOptions) -> ImageData:
    import torchvision

    cls: Any = getattr(torchvision.datasets, cls_name)
    root = Path(options.root).expanduser()
    try:
        ds = cls(str(root), train=options.split == "train", download=options.download)
    except RuntimeError as exc:  # torchvision: "Dataset not found. You can use download=True ..."
        fix = "set data.download = true where there is network" if not options.download else "no network here?"
        raise DataError(f"{cls_name} not found under {root} and could not be downloaded ({fix}); for local idx "
                        "files use --set data.source=idx --set data.path=DIR") from None
    except OSError as exc:  # no network, or a half-written file
        raise DataError(f"{cls_name} could not be downloaded or read under {root} ({exc.strerror or exc}); for "
                        "local idx files use --set data.source=idx --set data.path=DIR") from None
    data = ds.data if isinstance(ds.data, torch.Tensor) else torch.from_numpy(np.asarray(ds.data))
    images = data[:, None] if data.dim() == 3 else data.permute(0, 3, 1, 2)  # (N, C, H, W)
    labels = torch.as_tensor(np.asarray(ds.targets), dtype=torch.int64)
    return ImageData(images.contiguous().to(torch.uint8), labels, num_classes=len(ds.classes),
                     description=f"{cls_name} {options.split} ({len(images)} images)")


def load_mnist(options: TorchvisionOptions, ctx: DataContext) -> ImageData:
    return _load("MNIST", options)


def load_fashion_mnist(options: TorchvisionOptions, ctx: DataContext) -> ImageData:
    return _load("FashionMNIST", options)


def load_cifar10(options: TorchvisionOptions, ctx: DataContext) -> ImageData:
    return _load("CIFAR10", options)


def load_image_folder(options: ImageFolderOptions, ctx: DataContext) -> ImageData:
    import torchvision
    from torchvision.transforms import v2

    root = Path(options.path).expanduser()
    if not root.is_dir():
        raise DataError(f"{root}: image folder not found")
    steps: list[Any] = [v2.Resize(options.image_size), v2.CenterCrop(options.image_size)]
    if options.grayscale:
        steps.append(v2.Grayscale())
    steps.append(v2.PILToTensor())
    try:
        ds = torchvision.datasets.ImageFolder(str(root), transform=v2.Compose(steps))
    except (FileNotFoundError, OSError) as exc:
        hint = ("; for a flat folder of images without class sub-folders (CelebA-style) use data.source = 'images'"
                if "class folder" in str(exc) or "Found no valid file" in str(exc) else "")
        raise DataError(f"{root}: {(str(exc).splitlines() or [''])[0]}{hint}") from None
    images = torch.stack([ds[i][0] for i in range(len(ds))])
    labels = torch.tensor(ds.targets, dtype=torch.int64)
    return ImageData(images, labels, num_classes=len(ds.classes), description=f"image folder {root} ({len(ds)} images)")


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def load_images(options: FlatImagesOptions, ctx: DataContext) -> ImageData:
    """Every image file directly inside ``path`` (CelebA's ``img_align_celeba/``), resized and centre-cropped;
    labels, when given, from a CSV of ``filename,label`` lines."""
    from PIL import Image, UnidentifiedImageError
    from torchvision.transforms import v2

    root = Path(options.path).expanduser()
    files = sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if options.max_files is not None:
        files = files[: options.max_files]
    if not files:
        raise DataError(f"{root}: no image files ({', '.join(IMAGE_SUFFIXES)}) directly inside; for one sub-folder "
                        "per class use data.source = 'image_folder'")
    transform = v2.Compose([v2.Resize(options.image_size), v2.CenterCrop(options.image_size), v2.PILToTensor()])
    images = []
    for path in files:
        try:
            with Image.open(path) as img:
                images.append(transform(img.convert("L" if options.grayscale else "RGB")))
        except (UnidentifiedImageError, OSError) as exc:
            raise DataError(f"{path}: not a readable image ({exc})") from None
    labels, num_classes = None, None
    if options.labels:
        table = _read_labels(Path(options.labels).expanduser())
        missing = [p.name for p in files if p.name not in table]
        if missing:
            raise DataError(f"{options.labels}: no label for {missing[0]} ({len(missing)} images unlabelled)")
        names = sorted(set(table[p.name] for p in files))
        index = {n: i for i, n in enumerate(names)}
        labels = torch.tensor([index[table[p.name]] for p in files], dtype=torch.int64)
        num_classes = len(names)
    return ImageData(torch.stack(images), labels, num_classes=num_classes,
                     description=f"images in {root} ({len(files)}, {options.image_size} px)")


def _read_labels(path: Path) -> dict[str, str]:
    import csv

    try:
        with path.open(newline="") as f:
            rows = [r for r in csv.reader(f) if r and not r[0].startswith("#")]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: cannot read the labels file: {exc}") from None
    if rows and rows[0][:2] == ["filename", "label"]:
        rows = rows[1:]
    bad = next((r for r in rows if len(r) != 2), None)
    if bad is not None:
        raise DataError(f"{path}: expected 'filename,label' lines, got {','.join(bad)[:60]!r}")
    return {name: label for name, label in rows}


def load_svhn(options: SVHNOptions, ctx: DataContext) -> ImageData:
    """torchvision's SVHN (the .mat files, read by scipy: no pickle), digit 0 labelled 0."""
    import torchvision

    root = Path(options.root).expanduser()
    try:
        ds = torchvision.datasets.SVHN(str(root), split=options.split, download=options.download)
    except RuntimeError as exc:
        raise DataError(f"SVHN not found under {root} ({exc}); set download = true where there is network, or "
                        f"copy {options.split}_32x32.mat into {root}") from None
    except OSError as exc:
        raise DataError(f"SVHN: could not download or read under {root}: {exc}") from None
    images = torch.from_numpy(np.asarray(ds.data)).to(torch.uint8)  # (N, 3, 32, 32)
    labels = torch.as_tensor(np.asarray(ds.labels), dtype=torch.int64) % 10
    return ImageData(images.contiguous(), labels, num_classes=10, description=f"SVHN {options.split} ({len(images)} images)")
