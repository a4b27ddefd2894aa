"""torchvision datasets, loaded once into memory as uint8 tensors.

Downloading stays torchvision's job (``download = true``, the default); offline, point ``root``
at existing files or use the ``idx`` source.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge.builtins.options import ImageFolderOptions, TorchvisionOptions
from ganforge.errors import DataError
from ganforge.interfaces import DataContext, ImageData


def _load(cls_name: str, options: TorchvisionOptions) -> ImageData:
    import torchvision

    cls: Any = getattr(torchvision.datasets, cls_name)
    root = Path(options.root).expanduser()
    try:
        ds = cls(str(root), train=options.split == "train", download=options.download)
    except RuntimeError as exc:  # torchvision: "Dataset not found. You can use download=True ..."
        raise DataError(f"{cls_name} not found under {root} ({exc}); set download = true or use the 'idx' source") from None
    except OSError as exc:  # no network, or a half-written file
        raise DataError(f"{cls_name}: could not download or read under {root}: {exc}") from None
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
        raise DataError(f"{root}: {exc}") from None
    images = torch.stack([ds[i][0] for i in range(len(ds))])
    labels = torch.tensor(ds.targets, dtype=torch.int64)
    return ImageData(images, labels, num_classes=len(ds.classes), description=f"image folder {root} ({len(ds)} images)")
