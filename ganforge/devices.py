"""Device and precision choices, made once per run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from ganforge.errors import GanforgeError


def select_device(name: str = "auto") -> torch.device:
    """'auto' picks cuda, then mps, then cpu; an explicit device must exist."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GanforgeError(f"device {name!r} requested but CUDA is not available; use --device cpu or auto")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise GanforgeError(f"device {name!r} requested but MPS is not available; use --device cpu or auto")
    return device


def bf16_supported(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for 'fp32' | 'bf16' | 'auto' (None means plain fp32)."""
    if precision == "fp32":
        return None
    if precision == "bf16" or bf16_supported(device):
        if not bf16_supported(device):
            raise GanforgeError(f"precision 'bf16' is not supported on {device}; use train.precision = 'fp32'")
        return torch.bfloat16
    return None


@contextmanager
def deterministic_algorithms(enabled: bool) -> Iterator[None]:
    """While training, use only deterministic kernels (``run.deterministic``); restored afterwards.

    cuBLAS needs ``CUBLAS_WORKSPACE_CONFIG`` for deterministic matrix products on CUDA >= 10.2; it is
    set here unless the user set it already. CPU kernels are deterministic either way.
    """
    if not enabled:
        yield
        return
    before = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0])
        torch.backends.cudnn.benchmark = before[1]
