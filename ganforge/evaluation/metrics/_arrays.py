"""Array coercion shared by the metric modules (numpy in, numpy out; torch tensors accepted)."""

from __future__ import annotations

from typing import Any

import numpy as np


def as_array(x: Any, dtype: Any = None) -> np.ndarray:
    """Return ``x`` as a numpy array; a torch tensor is detached and moved to the CPU first.

    Duck-typed (``.detach()``) so this module never imports torch.
    """
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def as_index_vector(x: Any, name: str) -> np.ndarray:
    """A 1-D array of non-negative integer indices as int64; integral floats are accepted."""
    a = as_array(x)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or not np.all(a == np.round(a)):
            raise ValueError(f"{name} must hold integer indices")
    elif a.dtype.kind not in "iub":
        raise ValueError(f"{name} must hold integer indices, got dtype {a.dtype}")
    a = a.astype(np.int64)
    if a.size and a.min() < 0:
        raise ValueError(f"{name} must be non-negative, got min {a.min()}")
    return a


def as_matrix(x: Any, name: str, dtype: Any = None) -> np.ndarray:
    """A 2-D array ``(N, D)``; raises otherwise."""
    a = as_array(x, dtype)
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D (N, D), got shape {a.shape}")
    return a
