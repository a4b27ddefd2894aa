"""An exponential moving average of the generator's weights (``train.ema``), as StyleGAN and BigGAN keep.

After every generator step each EMA parameter moves towards the trained one,
``θ_ema ← β·θ_ema + (1 − β)·θ`` with ``β = 0.5^(B / h)``: ``h`` is the half-life in images
(``train.ema.half_life_kimg`` · 1000) and ``B`` the global batch, so the average forgets half of its
past every ``h`` images whatever the batch size. With ``rampup`` > 0 the half-life is at most
``rampup`` × the images seen so far, so the early average does not drag the random initial weights
along. Buffers (batch-norm running statistics, spectral norm's power-iteration vectors) are copied,
not averaged: they describe the trained network's activations.

Checkpoints store the average under ``generator_ema.*`` beside ``generator.*``; :func:`pick_generator`
is how every command that draws images (sample, traverse, eval, compare, report, export) chooses it.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

PREFIX = "generator_ema"  # checkpoint key prefix of the averaged generator


def ema_beta(half_life_kimg: float, rampup: float, batch: int, images_seen: int) -> float:
    """β of one update after ``images_seen`` images (this step's included) at global batch ``batch``."""
    half_life = half_life_kimg * 1000.0
    if rampup > 0:
        half_life = min(half_life, images_seen * rampup)
    return 0.5 ** (batch / max(half_life, 1e-8))


class GeneratorEMA:
    """A frozen copy of the generator whose weights follow the trained one's (see the module docstring)."""

    def __init__(self, generator: nn.Module, half_life_kimg: float, rampup: float, batch: int) -> None:
        self.module = copy.deepcopy(generator).eval().requires_grad_(False)
        self.half_life_kimg, self.rampup, self.batch = half_life_kimg, rampup, batch

    @torch.no_grad()
    def update(self, generator: nn.Module, step: int) -> None:
        """Average in ``generator``'s weights after generator step number ``step`` (1 for the first)."""
        beta = ema_beta(self.half_life_kimg, self.rampup, self.batch, step * self.batch)
        for avg, new in zip(self.module.parameters(), generator.parameters(), strict=True):
            avg.lerp_(new.detach().to(avg.dtype), 1.0 - beta)  # β·avg + (1 − β)·new
        for avg_b, new_b in zip(self.module.buffers(), generator.buffers(), strict=True):
            avg_b.copy_(new_b)

    def state(self) -> dict[str, Tensor]:
        """The averaged generator's state dict under ``generator_ema.``, for a checkpoint."""
        return {f"{PREFIX}.{k}": v for k, v in self.module.state_dict().items()}

    def load(self, tensors: dict[str, Tensor]) -> bool:
        """Restore from checkpoint ``tensors``; False when they hold no average (the run had none then)."""
        sub = {k[len(PREFIX) + 1 :]: v for k, v in tensors.items() if k.startswith(PREFIX + ".")}
        if not sub:
            return False
        self.module.load_state_dict(sub, strict=True)
        return True


def weights_note(weights: str) -> str:
    """What a command prints about the generator it drew from: ``weights`` is "ema" or "raw"."""
    return "EMA generator (--raw-generator for the trained one)" if weights == "ema" else "raw generator"


def pick_generator(tensors: dict[str, Tensor], raw: bool) -> tuple[dict[str, Tensor], str]:
    """The checkpoint's tensors with ``generator.*`` replaced by the average when there is one and ``raw`` is
    false, and which weights they are: ``"ema"`` or ``"raw"``."""
    if raw or not any(k.startswith(PREFIX + ".") for k in tensors):
        return tensors, "raw"
    out = {k: v for k, v in tensors.items() if not k.startswith(("generator.", PREFIX + "."))}
    out.update({"generator." + k[len(PREFIX) + 1 :]: v for k, v in tensors.items() if k.startswith(PREFIX + ".")})
    return out, "ema"
