"""FID and KID in the standard Inception-v3's features, for RGB data: the numbers papers report.

The domain metrics (``sample_quality``, ``sample_fidelity``) read ganforge's own evaluator; for colour images
papers report FID (Heusel et al. 2017) and KID (Bińkowski et al. 2018) in the 2048-d pool features of
TensorFlow's Inception-v3 of 2015-12-05. The network is torch-fidelity's port of it (through torchmetrics'
``NoTrainInceptionV3``, with torch-fidelity's TensorFlow-1 resize to 299 px), on the same real images and the
same seeded generated images as the domain FID. The Fréchet distance and KID are ``ganforge.evaluation.metrics``
(pytorch-fid's numerics, torchmetrics' KID), fed features computed once for both metrics.

Nothing is downloaded at run time: the weights file is ``$GANFORGE_INCEPTION_WEIGHTS``, else
``weights-inception-2015-12-05-6726825d.pth`` in ganforge's cache folder; without it (or without
torch-fidelity), asking for these metrics is a one-line error saying what to fetch and where to put it.

Nothing is unpickled either. torch-fidelity (0.4.0) reads a weights path with torch's full unpickler
(``weights_only`` off), so ganforge never hands it one: it checks the file's SHA-256, reads it itself with
``torch.load(..., weights_only=True)`` (torch's restricted unpickler, which rebuilds tensors and plain containers
and refuses any other object) and hands the tensors to torch-fidelity in place of its download
(``load_state_dict_from_url``), so that torch-fidelity's own ``torch.load`` is never called.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path
from typing import Any
from unittest import mock

import torch
from torch import Tensor

from ganforge.data.pixels import to_uint8
from ganforge.errors import CheckpointError, GanforgeError, printable
from ganforge.evaluation.evaluator import cache_root
from ganforge.evaluation.run import EvalRun
from ganforge.evaluation.sample_quality import generated_batches, real_indices
from ganforge.interfaces import Metric
from ganforge.results import Headline, MetricResult

WEIGHTS_NAME = "weights-inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{WEIGHTS_NAME}"
WEIGHTS_ENV = "GANFORGE_INCEPTION_WEIGHTS"
WEIGHTS_SHA256 = "6726825d"  # the first hex digits of the file's SHA-256, as in its name (torch hub's convention)
INSTALL = 'pip install "ganforge[inception]"'
REQUIRES = ("needs RGB (3-channel) images, and torch-fidelity and the Inception weights in place "
            "(`--metric {name}` says where)")
BATCH = 50  # images per Inception forward: at 299 px its activations take about 10 MB an image
REAL_HALVES = "real vs real halves"


def weights_path() -> Path:
    """Where the weights file is looked for: ``$GANFORGE_INCEPTION_WEIGHTS``, else the cache folder."""
    return Path(os.environ.get(WEIGHTS_ENV) or cache_root() / WEIGHTS_NAME).expanduser()


def available() -> bool:
    """Whether torch-fidelity is installed and the weights file is in place (a plain ``eval`` then runs these)."""
    return importlib.util.find_spec("torch_fidelity") is not None and weights_path().is_file()


def load_state(path: Path) -> dict[str, Tensor]:
    """The tensors in ``path``, read by torch's restricted unpickler (``weights_only=True``): a file that holds
    anything but tensors in plain containers is refused (CheckpointError) before any of its code could run."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError for a forbidden object, RuntimeError for a damaged archive
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(f"{path}: refused, not a file of plain tensors: {printable(first)}") from None
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, Tensor) for k, v in state.items()):
        raise CheckpointError(f"{path}: refused, not a state dict (names to tensors)")
    return state


def extractor() -> torch.nn.Module:
    """Inception-v3 returning ``(B, 2048)`` pool features of ``uint8`` RGB images ``(B, 3, H, W)`` (any size:
    resized to 299 px inside), built from the verified weights file; one-line errors for what is missing."""
    try:
        import torch_fidelity.feature_extractor_inceptionv3 as port
        from torchmetrics.image.fid import NoTrainInceptionV3
    except ImportError:
        raise GanforgeError(f"Inception FID/KID needs the torch-fidelity package: {INSTALL}") from None
    path = weights_path()
    if not path.is_file():
        raise GanforgeError(f"Inception FID/KID needs the Inception-v3 weights at {path} (or a path in ${WEIGHTS_ENV}); "
                            f"nothing is downloaded at run time: fetch {WEIGHTS_URL} and put it there")
    with path.open("rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    if not digest.startswith(WEIGHTS_SHA256):
        raise CheckpointError(f"{path}: not the standard FID Inception weights (SHA-256 does not start with "
                              f"{WEIGHTS_SHA256}); fetch {WEIGHTS_URL}")
    state = load_state(path)
    handed: list[bool] = []

    def hand_over(*_: Any, **__: Any) -> dict[str, Tensor]:  # stands in for torch-fidelity's download
        handed.append(True)
        return state

    with mock.patch.object(port, "load_state_dict_from_url", hand_over):
        net = NoTrainInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=None, antialias=False)
    if not handed:  # a torch-fidelity that no longer loads through this function: refuse rather than guess
        raise GanforgeError(f"the installed torch-fidelity ({port.__file__}) built its Inception-v3 without the tensors "
                            "ganforge read; install torch-fidelity 0.4")
    return net


def _features(run: EvalRun) -> tuple[Tensor, Tensor]:
    """Inception features ``(N, 2048)`` of the domain FID's real images and as many generated ones (CPU)."""
    net = extractor().to(run.device)
    idx = real_indices(run)
    with torch.no_grad():
        real = [net(run.data.images[part].to(run.device)) for part in idx.split(BATCH)]
        fake = [net(to_uint8(part)) for images, _, _ in generated_batches(run, len(idx)) for part in images.split(BATCH)]
    return torch.cat(real).float().cpu(), torch.cat(fake).float().cpu()


class _Inception(Metric):
    """Computed on RGB data when the weights are in place, or when asked for by name (then missing weights are an
    error saying where they go); the features are shared by both metrics through ``EvalRun.once``."""

    def applies(self, run: EvalRun) -> bool:
        return run.data.images.shape[1] == 3 and (self.name in run.named or available())

    def features(self, run: EvalRun) -> tuple[Tensor, Tensor, tuple[Tensor, Tensor]]:
        """Real and generated features, and two disjoint halves of the real ones (the floor a generator meets)."""
        if run.data.images.shape[1] != 3:
            raise GanforgeError(f"{self.name}: the data has {run.data.images.shape[1]}-channel images; Inception "
                                "FID/KID is for RGB data (the domain metrics cover the rest)")
        real, fake = run.once(_features)
        half = len(real) // 2
        return real, fake, (real[:half], real[half : 2 * half])


NOTE = ("Inception {what}: in the 2048-d pool features of TensorFlow's Inception-v3 (2015-12-05, torch-fidelity's "
        "port), on {n} real and {n} generated images; comparable with torch-fidelity's values at the same sample count "
        "and real images only (FID grows as the count shrinks).")


class InceptionFID(_Inception):
    """Fréchet distance between real and generated images in the standard Inception-v3's pool features."""

    name = "inception_fid"
    requires = REQUIRES.format(name=name)

    def compute(self, run: EvalRun) -> MetricResult:
        from ganforge.evaluation.metrics import feature_statistics, frechet_distance

        real, fake, halves = self.features(run)
        fid = frechet_distance(*feature_statistics(real), *feature_statistics(fake))
        floor = frechet_distance(*feature_statistics(halves[0]), *feature_statistics(halves[1]))
        details = {"fid": fid, "real_vs_real": floor, "samples": len(fake)}
        return MetricResult((Headline("Inception FID", fid, higher_is_better=False, format="{:.2f}"),), details,
                            score=fid, higher_is_better=False, context={f"Inception FID, {REAL_HALVES}": floor},
                            note=NOTE.format(what="FID", n=len(fake)))


class InceptionKID(_Inception):
    """KID (unbiased MMD², cubic kernel; mean ± std over subsets) in the standard Inception-v3's pool features."""

    name = "inception_kid"
    requires = REQUIRES.format(name=name)

    def compute(self, run: EvalRun) -> MetricResult:
        from ganforge.evaluation.metrics.kernel import kid_details

        details = kid_details(*self.features(run), seed=run.seed)
        mean = details["kid"]
        return MetricResult((Headline("Inception KID", mean, std=details["std"], higher_is_better=False, format="{:.4f}"),),
                            details, score=mean, higher_is_better=False,
                            context={f"Inception KID, {REAL_HALVES}": details["real_vs_real"]},
                            note=NOTE.format(what="KID", n=details["samples"]))
