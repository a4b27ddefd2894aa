"""Inception-v3 FID and KID for RGB data, when the standard weights are on disk (nothing is downloaded).

The domain FID and KID (``ganforge.sample_quality``, ``ganforge.sample_fidelity``) use ganforge's own
evaluator; papers on RGB data report FID and KID in the 2048-d pool features of the TensorFlow
Inception-v3 of 2015-12-05. This metric computes those with torchmetrics' ``NoTrainInceptionV3`` (the
feature extractor of its ``FrechetInceptionDistance``, from torch-fidelity: images resized to 299 px
as TensorFlow did) on the same real and generated images as the domain FID; the Fréchet distance is
``ganforge.metrics.frechet`` (pytorch-fid's numerics) and KID ``ganforge.metrics.kernel``.

The weights file is torch-fidelity's ``weights-inception-2015-12-05-6726825d.pth`` (what torchmetrics'
FID downloads into torch hub's cache on first use). ganforge looks for it in
``$GANFORGE_CACHE/inception/`` (default ``~/.cache/ganforge/inception/``), then in torch hub's
``checkpoints/`` folder; without it (or without the ``torch-fidelity`` package) the metric is listed as
not computed, with a line saying where to put the file.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import torch
from torch import Tensor, nn

from ganforge.errors import CheckpointError
from ganforge.evaluation import EvalRun
from ganforge.evaluator import cache_root
from ganforge.interfaces import Metric
from ganforge.results import Headline, MetricResult
from ganforge.sample_quality import generated_batches, real_subset

WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"
WEIGHTS_SHA256_PREFIX = "6726825d"  # torch hub's convention: the file name carries its SHA-256's first digits
RGB = "needs RGB images"


def weights_dir() -> Path:
    """Where ganforge looks first for the Inception weights: ``$GANFORGE_CACHE/inception``."""
    return cache_root() / "inception"


def find_weights() -> Path | None:
    """The weights file in :func:`weights_dir` or torch hub's ``checkpoints/``, or ``None``."""
    for folder in (weights_dir(), Path(torch.hub.get_dir()) / "checkpoints"):
        if (folder / WEIGHTS_FILE).is_file():
            return folder / WEIGHTS_FILE
    return None


def unavailable() -> str | None:
    """Why Inception features cannot be computed on this machine (one line), or ``None`` when they can."""
    if importlib.util.find_spec("torch_fidelity") is None:
        return "needs the torch-fidelity package (pip install 'ganforge[inception]')"
    if find_weights() is None:
        return (f"needs Inception-v3's FID weights: put {WEIGHTS_FILE} (torch-fidelity's, which torchmetrics' FID "
                f"downloads) in {weights_dir()}/; nothing is downloaded at run time")
    return None


def load_inception(path: Path, device: torch.device | str = "cpu") -> nn.Module:
    """The Inception-v3 pool-feature extractor ``(N, 3, H, W)`` uint8 → ``(N, 2048)``, from a verified weights file.

    The file must carry the standard SHA-256 prefix and hold plain tensors (``torch.load(weights_only=True)``),
    checked before torch-fidelity loads it; anything else is a one-line CheckpointError.
    """
    from torchmetrics.image.fid import NoTrainInceptionV3

    blob = path.read_bytes()
    if not hashlib.sha256(blob).hexdigest().startswith(WEIGHTS_SHA256_PREFIX):
        raise CheckpointError(f"{path}: not the standard Inception weights (its SHA-256 does not start with "
                              f"{WEIGHTS_SHA256_PREFIX})")
    try:  # plain tensors only: torch-fidelity then reads the same verified bytes without weights_only
        torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means the same: not a plain weights file
        raise CheckpointError(f"{path}: not a plain tensor file: {str(exc).splitlines()[0]}") from None
    net = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"],
                             feature_extractor_weights_path=str(path))
    return net.to(device)


def to_uint8(images: Tensor) -> Tensor:
    """Images in [−1, 1] → uint8 in [0, 255] (what the Inception extractor takes, like stored real images)."""
    return images.add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8)


@torch.no_grad()
def inception_features(net: nn.Module, images: Tensor, device: torch.device | str = "cpu",
                       batch_size: int = 50) -> Tensor:
    """Pool features ``(N, 2048)`` (float64, CPU) of uint8 RGB images ``(N, 3, H, W)``."""
    out = [net(images[i : i + batch_size].to(device)).double().cpu() for i in range(0, len(images), batch_size)]
    return torch.cat(out)


class InceptionFIDKID(Metric):
    """FID and KID in Inception-v3 pool features (RGB data, local weights), on the domain FID's images."""

    name = "inception"
    requires = RGB

    def applies(self, run: EvalRun) -> bool:
        if run.data.image_shape[0] != 3:
            return False
        why = unavailable()
        if why is not None:
            self.requires = f"{RGB} and {why}"  # read by eval's "not computed" line
        return why is None

    def compute(self, run: EvalRun) -> MetricResult:
        from ganforge.metrics import feature_statistics, frechet_distance, kernel_distance

        path = find_weights()
        assert path is not None  # applies() checked
        net = load_inception(path, run.device)
        real = inception_features(net, run.data.images[real_subset(run)], run.device)  # (N, 2048)
        fake = torch.cat([inception_features(net, to_uint8(images), run.device)
                          for _, _, images in generated_batches(run, len(real))])  # (N, 2048)
        fid = frechet_distance(*feature_statistics(real), *feature_statistics(fake))
        kid, std = kernel_distance(real, fake, seed=run.seed)
        details = {"fid": fid, "kid": kid, "kid_std": std, "samples": len(fake), "weights": str(path)}
        heads = (Headline("Inception FID", fid, key="fid", higher_is_better=False, format="{:.2f}"),
                 Headline("Inception KID", kid, key="kid", std=std, higher_is_better=False, format="{:.4f}"))
        return MetricResult(heads, details, score=fid, higher_is_better=False,
                            note=f"Inception FID / KID: in the 2048-d pool features of the standard Inception-v3 "
                                 f"(TensorFlow's 2015 weights, images resized to 299 px), on {len(fake)} samples; "
                                 "comparable with published values only at the same sample count (FID grows as "
                                 "it shrinks) and the same real images.")
