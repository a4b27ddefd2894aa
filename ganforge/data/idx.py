"""MNIST-format idx files (``*.idx3-ubyte`` images, ``*.idx1-ubyte`` labels), plain or gzipped.

The format: a big-endian header (two zero bytes, a dtype code, the number of dimensions, then
one uint32 per dimension) followed by the data.
"""

from __future__ import annotations

import gzip
import math
import struct
from pathlib import Path

import numpy as np
import torch

from ganforge.data.options import IdxOptions
from ganforge.errors import DataError
from ganforge.interfaces import DataContext, ImageData

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path: Path) -> np.ndarray:
    """Parse one idx file; every malformation becomes a DataError naming the file."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: cannot read idx file: {exc}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise DataError(f"{path}: not an idx file (bad magic number)")
    ndim = raw[3]
    if ndim == 0 or len(raw) < 4 + 4 * ndim:
        raise DataError(f"{path}: truncated idx header")
    shape = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    dtype = np.dtype(_DTYPES[raw[2]])
    expected = math.prod(shape) * dtype.itemsize  # exact: np.prod would overflow on crafted dimensions
    body = raw[4 + 4 * ndim :]
    if len(body) != expected:
        raise DataError(f"{path}: expected {expected} data bytes for shape {shape}, found {len(body)} (truncated?)")
    try:
        return np.frombuffer(body, dtype=dtype).reshape(shape)
    except ValueError as exc:  # e.g. (0, 2**32-1, 2**32-1): no data, yet too large for numpy
        raise DataError(f"{path}: unusable idx shape {shape}: {exc}") from None


def _find(root: Path, pattern: str, what: str) -> Path:
    try:
        matches = sorted(p for p in root.glob(pattern) if p.is_file())
    except (ValueError, NotImplementedError) as exc:  # '' or an absolute pattern
        raise DataError(f"{root}: bad {what} file pattern {pattern!r}: {exc}") from None
    if not matches:
        raise DataError(f"{root}: no {what} file matching {pattern!r}")
    if len(matches) > 1:
        gz = [m for m in matches if m.suffix == ".gz"]
        if len(gz) != 1:
            raise DataError(f"{root}: several {what} files match {pattern!r}: {', '.join(m.name for m in matches)}")
        matches = gz
    return matches[0]


def load(options: IdxOptions, ctx: DataContext) -> ImageData:
    root = Path(options.path).expanduser()
    if not root.is_dir():
        raise DataError(f"{root}: data directory not found")
    images = read_idx(_find(root, options.images, "image"))
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4 or images.dtype != np.uint8:
        raise DataError(f"{root}: images must be uint8 (N, H, W) or (N, C, H, W), got {images.dtype} {images.shape}")
    labels = None
    if options.labels:
        label_path = _find(root, options.labels, "label")
        lab = read_idx(label_path)
        if lab.ndim != 1 or len(lab) != len(images):
            raise DataError(f"{label_path}: {lab.shape} labels do not match {len(images)} images")
        if lab.dtype.kind not in "iu" or (len(lab) and int(lab.min()) < 0):
            raise DataError(f"{label_path}: labels must be non-negative integers, got {lab.dtype}")
        labels = torch.from_numpy(lab.astype(np.int64))
    num_classes = int(labels.max()) + 1 if labels is not None and len(labels) else None
    return ImageData(
        torch.from_numpy(images.copy()),
        labels,
        num_classes=num_classes,
        description=f"idx files in {root} ({len(images)} images)",
    )
