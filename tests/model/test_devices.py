"""Precision and device choices: 'auto' bf16 only where the hardware runs it natively, TF32 on CUDA, fused Adam on CUDA."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from ganforge.model import devices
from ganforge.errors import GanforgeError
from ganforge.recipe.model import resolve
from ganforge.testing import make_registry, tiny_recipe
from ganforge.training.state import Trainer, joint_pass, make_optimizers
from ganforge.data.load import load_data

CPU = torch.device("cpu")


@pytest.mark.parametrize(("native", "speedup", "expected"),
                         [(True, 4.0, torch.bfloat16), (True, 0.55, None), (False, 4.0, None)])
def test_auto_precision_is_bf16_exactly_where_the_cpu_has_native_and_faster_bf16(
        monkeypatch: pytest.MonkeyPatch, native: bool, speedup: float, expected: torch.dtype | None) -> None:
    """Native bf16 instructions that multiply slower than fp32 (a Xeon with AVX-512-BF16, no AMX: 0.55×) mean fp32."""
    monkeypatch.setattr(devices, "native_bf16_cpu", lambda: native)
    monkeypatch.setattr(devices, "bf16_gemm_speedup", lambda: speedup)
    monkeypatch.setattr(devices, "bf16_supported", lambda device: True)  # oneDNN emulates bf16 on any AVX-512
    assert devices.autocast_dtype("auto", CPU) == expected
    assert devices.autocast_dtype("fp32", CPU) is None
    assert devices.autocast_dtype("bf16", CPU) == torch.bfloat16  # asked for: emulated is still bf16


def test_explicit_bf16_where_it_does_not_run_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(devices, "bf16_supported", lambda device: False)
    with pytest.raises(GanforgeError, match="precision 'bf16' is not supported on cpu"):
        devices.autocast_dtype("bf16", CPU)
    assert devices.autocast_dtype("auto", CPU) is None  # auto never fails


def test_native_bf16_detection_matches_the_cpu_flags() -> None:
    """The run-time check agrees with the kernel's view of the CPU (AVX-512-BF16 or AMX)."""
    try:
        flags = set(open("/proc/cpuinfo").read().split())
    except OSError:
        pytest.skip("no /proc/cpuinfo on this system")
    assert devices.native_bf16_cpu() == bool({"avx512_bf16", "amx_bf16", "amx_tile"} & flags)


def test_kernels_restricted_below_avx512_mean_no_native_bf16() -> None:
    """ATEN_CPU_CAPABILITY=avx2 (how benchmarks/throughput.py --isa avx2 stands in for an AVX2-only CPU) → fp32."""
    code = "from ganforge.model import devices; print(devices.native_bf16_cpu())"
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "avx2"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_the_bf16_speedup_is_measured_once_and_positive() -> None:
    first = devices.bf16_gemm_speedup()
    assert first > 0 and devices.bf16_gemm_speedup() == first  # cached: one measurement per process


@pytest.mark.parametrize("started", ["fp32", "bf16"])
def test_a_resumed_auto_run_keeps_the_precision_it_started_with(monkeypatch: pytest.MonkeyPatch, started: str) -> None:
    """The machine (or its measurement) may decide differently on resume; the checkpoint's precision wins."""
    raw = tiny_recipe()
    raw["train"]["precision"] = "auto"
    resolved = resolve(raw, make_registry())
    monkeypatch.setattr(devices, "bf16_native", lambda device: started == "bf16")
    before = Trainer(resolved, load_data(resolved), CPU)
    tensors, meta = before.state()
    assert meta["precision"] == started
    import ganforge.training.state as trainer_module
    monkeypatch.setattr(trainer_module, "autocast_dtype", lambda p, d: torch.bfloat16 if started == "fp32" else None)
    after = Trainer(resolved, load_data(resolved), CPU)
    assert after.autocast != before.autocast  # this process alone would choose the other precision ...
    after.load_state(tensors, meta)
    assert after.autocast == before.autocast  # ... the resumed run keeps the checkpoint's


def test_auto_is_the_shipped_default() -> None:
    raw = tiny_recipe()
    del raw["train"]["precision"]
    assert resolve(raw, make_registry()).recipe.train.precision == "auto"


def test_fast_cuda_math_touches_nothing_on_the_cpu() -> None:
    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    devices.fast_cuda_math(CPU)
    assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == before


def test_adam_is_fused_on_the_cpu_and_steps_like_the_plain_one() -> None:
    resolved = resolve(tiny_recipe(), make_registry())
    trainer = Trainer(resolved, load_data(resolved), CPU)
    opt = make_optimizers(trainer.system, resolved)
    assert opt.generator.defaults["fused"] and opt.critic.defaults["fused"]
    p = torch.nn.Parameter(torch.randn(50))
    q = torch.nn.Parameter(p.detach().clone())
    plain, fused = torch.optim.Adam([p], lr=1e-2, betas=(0.5, 0.999)), torch.optim.Adam([q], lr=1e-2, betas=(0.5, 0.999), fused=True)
    for i in range(5):
        for param, o in ((p, plain), (q, fused)):
            param.grad = torch.full_like(param, float(i + 1)).sin()
            o.step()
    torch.testing.assert_close(p, q)


def test_joint_pass_auto_joins_only_critics_without_batch_norm() -> None:
    plain = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.LayerNorm(2))
    normed = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Sequential(torch.nn.BatchNorm2d(2)))
    assert joint_pass(plain, "auto") and not joint_pass(normed, "auto")
    assert joint_pass(normed, True) and not joint_pass(plain, False)  # an explicit choice is kept


def test_a_joint_pass_of_a_norm_free_critic_computes_the_same_step() -> None:
    """For a critic without batch norm, 'auto' joins real and fake into one batch: the same update (to rounding)."""
    weights = []
    for joint in (False, True):
        resolved = resolve(tiny_recipe(train={"joint_critic_pass": joint}), make_registry())
        trainer = Trainer(resolved, load_data(resolved), CPU)
        for _ in range(2):
            trainer.train_step()
        weights.append({k: v.clone() for k, v in trainer.system.critic.state_dict().items()})
    assert weights[0].keys() == weights[1].keys()
    for k in weights[0]:
        torch.testing.assert_close(weights[0][k], weights[1][k], atol=1e-6, rtol=1e-5)
