"""Device and precision choices, made once per run."""

from __future__ import annotations

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
