"""The idx data source: parsing, malformed files, and the real MNIST t10k files."""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from ganforge.data.options import IdxOptions
from ganforge.data.idx import load, read_idx
from ganforge.errors import DataError
from ganforge.interfaces import DataContext

MNIST = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist-t10k"
CTX = DataContext(seed=0, cache_dir="/tmp")


def _idx(array: np.ndarray) -> bytes:
    return bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def _write(tmp_path: Path, images: np.ndarray, labels: np.ndarray | None, gz: bool = True) -> None:
    opener = gzip.compress if gz else (lambda b: b)
    suffix = ".gz" if gz else ""
    (tmp_path / f"train-images-idx3-ubyte{suffix}").write_bytes(opener(_idx(images)))
    if labels is not None:
        (tmp_path / f"train-labels-idx1-ubyte{suffix}").write_bytes(opener(_idx(labels)))


@pytest.mark.parametrize("gz", [True, False])
def test_round_trip(tmp_path: Path, gz: bool) -> None:
    images = np.arange(5 * 4 * 4, dtype=np.uint8).reshape(5, 4, 4)
    _write(tmp_path, images, np.array([0, 1, 2, 1, 0], dtype=np.uint8), gz)
    data = load(IdxOptions(path=str(tmp_path)), CTX)
    assert data.images.shape == (5, 1, 4, 4) and (data.images[:, 0].numpy() == images).all()
    assert data.labels.tolist() == [0, 1, 2, 1, 0] and data.num_classes == 3  # type: ignore[union-attr]


def test_mismatched_labels(tmp_path: Path) -> None:
    _write(tmp_path, np.zeros((5, 4, 4), np.uint8), np.zeros(4, np.uint8))
    with pytest.raises(DataError, match="do not match 5 images"):
        load(IdxOptions(path=str(tmp_path)), CTX)


def test_truncated_and_garbage_files(tmp_path: Path) -> None:
    good = _idx(np.zeros((5, 4, 4), np.uint8))
    bad = tmp_path / "x-idx3-ubyte"
    bad.write_bytes(good[:-3])
    with pytest.raises(DataError, match="truncated"):
        read_idx(bad)
    bad.write_bytes(b"hello world")
    with pytest.raises(DataError, match="not an idx file"):
        read_idx(bad)
    gz = tmp_path / "y.gz"
    gz.write_bytes(gzip.compress(good)[:20])
    with pytest.raises(DataError):
        read_idx(gz)


def test_missing_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no image file"):
        load(IdxOptions(path=str(tmp_path)), CTX)
    with pytest.raises(ValidationError, match="data directory not found"):  # refused when the recipe is validated
        load(IdxOptions(path=str(tmp_path / "nope")), CTX)


@pytest.mark.skipif(not MNIST.is_dir(), reason="shared MNIST t10k files not present")
def test_real_mnist_t10k() -> None:
    sums = dict(line.split()[::-1] for line in (MNIST / "MD5SUMS").read_text().splitlines() if line.strip())
    for name, digest in sums.items():
        assert hashlib.md5((MNIST / name).read_bytes()).hexdigest() == digest
    data = load(IdxOptions(path=str(MNIST)), CTX)
    assert data.images.shape == (10000, 1, 28, 28) and data.num_classes == 10
    assert np.bincount(data.labels.numpy()).min() > 800  # type: ignore[union-attr]
