"""Device and precision choices, made once per run."""

from __future__ import annotations

import functools
import math
import os
import time
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


def native_bf16_cpu() -> bool:
    """Whether this CPU computes bf16 natively: AVX-512-BF16 or AMX tiles (detected at run time).

    oneDNN also runs bf16 on plain AVX-512 (and slower paths elsewhere) by converting to fp32, which
    costs more than it saves, so 'auto' asks for the native instructions, not for bf16 to work at all.
    A process whose kernels are restricted below AVX-512 (``ATEN_CPU_CAPABILITY=avx2``, as on an AVX2-only
    CPU) does not count either, whatever the CPU has.
    """
    if not torch.backends.cpu.get_cpu_capability().upper().startswith(("AVX512", "AMX")):
        return False
    cpu = getattr(torch, "cpu", None)
    checks = [getattr(cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    if any(callable(c) for c in checks):
        return any(bool(c()) for c in checks if callable(c))
    try:  # older torch: the kernel's flags (Linux)
        flags = open("/proc/cpuinfo", encoding="ascii", errors="replace").read()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def bf16_supported(device: torch.device) -> bool:
    """Whether bf16 autocast runs at all on ``device`` (natively or emulated)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


#: 'auto' takes bf16 on a CPU only where its matrix products run at least this much faster than fp32's
BF16_MIN_SPEEDUP = 1.25


@functools.cache
def bf16_gemm_speedup() -> float:
    """bf16 over fp32 matrix-product rate on this CPU, measured once per process (512² products, ~50 ms).

    Native instructions are not enough: an Intel Xeon with AVX-512-BF16 but no AMX (as cloud VMs of
    Sapphire / Emerald Rapids expose it) multiplies bf16 at about 0.55× its fp32 rate, an AMD EPYC with
    AVX-512-BF16 at several times (docs/performance.md). The two are far apart, so the choice is stable.
    Its inputs come from a private generator: the first run in a process must draw the same random numbers
    as a later one (which finds the measurement cached) or a resumed one.
    """
    noise = torch.Generator().manual_seed(0)  # not the global RNG: measuring must not move a run's random stream

    def rate(dtype: torch.dtype) -> float:
        a, b = (torch.randn(512, 512, generator=noise).to(dtype) for _ in range(2))
        for _ in range(2):
            a @ b
        best = math.inf
        for _ in range(5):
            t = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - t)
        return 1.0 / best

    return rate(torch.bfloat16) / rate(torch.float32)


def bf16_native(device: torch.device) -> bool:
    """Whether bf16 is *faster* on ``device``: a CUDA GPU with bf16 support, or a CPU with native bf16 instructions
    whose bf16 matrix products measure at least :data:`BF16_MIN_SPEEDUP` times fp32's."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return (device.type == "cpu" and native_bf16_cpu() and bf16_supported(device)
            and bf16_gemm_speedup() >= BF16_MIN_SPEEDUP)


#: a resolved precision's name (what checkpoints record) → its autocast dtype (None: plain fp32)
AUTOCAST: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16}


def precision_name(dtype: torch.dtype | None) -> str:
    """'fp32' or 'bf16' for an autocast dtype (the inverse of :data:`AUTOCAST`)."""
    return "fp32" if dtype is None else "bf16"


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for 'fp32' | 'bf16' | 'auto' (None means plain fp32).

    'auto' is bf16 where the hardware runs it natively and faster (:func:`bf16_native`), fp32 elsewhere; 'bf16'
    insists and is an error where bf16 does not run at all.
    """
    if precision == "fp32":
        return None
    if precision == "auto":
        return torch.bfloat16 if bf16_native(device) else None
    if not bf16_supported(device):
        raise GanforgeError(f"precision 'bf16' is not supported on {device}; use train.precision = 'fp32' or 'auto'")
    return torch.bfloat16


def fast_cuda_math(device: torch.device) -> None:
    """TF32 tensor cores for fp32 matrix products and convolutions on CUDA (Ampere and newer): about 10 bits of
    mantissa in the products, accumulated in fp32, as PyTorch Lightning and most GAN code bases run."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


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
