"""The evaluator: a small CNN classifier that ganforge trains on the run's own labelled real images.

Sample-quality metrics need a network that knows the domain. ImageNet's Inception network (what FID
and the Inception Score use) was never shown a 28×28 gray digit and its weights must be downloaded,
so ganforge trains a LeNet-style classifier on the labelled real data instead, once per dataset:
its penultimate features give a domain-specific Fréchet distance, its class probabilities a
classifier score (the Inception-Score analogue) and a conditional GAN's label accuracy
(``ganforge.evaluation.sample_quality``; docs/evaluation.md says why these are not ImageNet numbers).

Trained weights are cached as safetensors plus a JSON sidecar under ``$GANFORGE_CACHE`` (default
``$XDG_CACHE_HOME/ganforge``, ``~/.cache/ganforge`` without it) ``/evaluators/``, keyed by a hash of the
images, the labels and the training setup, so every run on the same data reuses one evaluator. A missing,
stale or corrupt cache entry is simply retrained; both files are written atomically, the sidecar last.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import Tensor, nn

from ganforge.runs.checkpoint import check_safetensors_header
from ganforge.safefiles import atomic_write
from ganforge.errors import CheckpointError, DataError
from ganforge.interfaces import ImageData
from ganforge.data.pixels import to_unit

FORMAT = "ganforge-evaluator/1"  # part of the cache key: change it when the network or training changes


@dataclass(frozen=True)
class TrainSetup:
    """How the evaluator is trained (part of the cache key)."""

    epochs: int = 6
    batch_size: int = 64
    lr: float = 2e-3
    holdout: float = 0.1  # share of the labelled images held out to measure accuracy
    shift: int = 2  # random translation of up to ±shift pixels (augmentation)
    seed: int = 0


class EvaluatorNet(nn.Module):
    """Two conv blocks (5×5, 16 and 32 channels, max-pool) → FC 128 (the features) → FC K logits (LeNet-sized)."""

    feature_width = 128

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int) -> None:
        super().__init__()
        c = image_shape[0]
        self.trunk = nn.Sequential(
            nn.Conv2d(c, 16, 5, padding=2, bias=False), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 5, padding=2, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(7), nn.Flatten(),  # (B, 32·7·7) whatever the image size
            nn.Linear(32 * 49, self.feature_width), nn.ReLU(),
        )
        self.classify = nn.Sequential(nn.Dropout(0.3), nn.Linear(self.feature_width, num_classes))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Images in [−1, 1] ``(B, C, H, W)`` → features ``(B, 128)`` and logits ``(B, K)``."""
        f = self.trunk(x)
        return f, self.classify(f)


@dataclass
class Evaluator:
    """A trained evaluator (eval mode) and its sidecar (held-out accuracy, data, timing)."""

    net: EvaluatorNet
    info: dict[str, Any]

    @property
    def heldout_accuracy(self) -> float:
        return float(self.info["heldout_accuracy"])

    @torch.no_grad()
    def embed(self, images: Tensor, batch_size: int = 500) -> tuple[Tensor, Tensor]:
        """Features ``(N, 128)`` and class probabilities ``(N, K)`` on the CPU, for images in [−1, 1]."""
        device = next(self.net.parameters()).device
        feats, probs = [], []
        for start in range(0, len(images), batch_size):
            f, logits = self.net(images[start : start + batch_size].to(device).float())
            feats.append(f.float().cpu())
            probs.append(logits.float().softmax(dim=1).cpu())
        return torch.cat(feats), torch.cat(probs)


def cache_root() -> Path:
    """``$GANFORGE_CACHE``, else ``ganforge`` in the user's cache folder: ``$XDG_CACHE_HOME``, by default ``~/.cache``."""
    if os.environ.get("GANFORGE_CACHE"):
        return Path(os.environ["GANFORGE_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "ganforge"


def cache_key(data: ImageData, setup: TrainSetup) -> str:
    """SHA-256 over the images, labels, class count and training setup (first 24 hex digits)."""
    if data.labels is None:
        raise DataError(f"the evaluator needs labelled images; the data ({data.description}) has no labels")
    h = hashlib.sha256()
    h.update(json.dumps([FORMAT, list(data.images.shape), data.num_classes, asdict(setup)]).encode())
    h.update(data.images.contiguous().numpy().tobytes())
    h.update(data.labels.to(torch.int64).contiguous().numpy().tobytes())
    return h.hexdigest()[:24]


def _shift(x: Tensor, pixels: int, g: torch.Generator) -> Tensor:
    """Translate each image by up to ±``pixels`` (zero padding at the background value −1)."""
    if pixels == 0:
        return x
    _, _, h, w = x.shape
    padded = F.pad(x, (pixels,) * 4, value=-1.0)
    dy, dx = torch.randint(0, 2 * pixels + 1, (2,), generator=g).tolist()  # one offset per batch: cheap
    return padded[:, :, dy : dy + h, dx : dx + w]


def _accuracy(net: EvaluatorNet, x: Tensor, y: Tensor) -> float:
    net.eval()
    with torch.no_grad():
        pred = torch.cat([net(x[i : i + 500])[1].argmax(1) for i in range(0, len(x), 500)])
    return float((pred == y).float().mean())


def train_evaluator(data: ImageData, setup: TrainSetup = TrainSetup(), device: torch.device | str = "cpu"
                    ) -> tuple[EvaluatorNet, dict[str, Any]]:
    """Train on a seeded (1 − holdout) share of the labelled images; measure accuracy on the rest."""
    if data.labels is None or data.num_classes is None:
        raise DataError(f"the evaluator needs labelled images; the data ({data.description}) has no labels")
    n = len(data)
    n_hold = max(1, round(n * setup.holdout))
    if n - n_hold < setup.batch_size:
        raise DataError(f"the evaluator needs more than {n_hold + setup.batch_size} labelled images, got {n}")
    start = time.perf_counter()
    g = torch.Generator().manual_seed(setup.seed)
    perm = torch.randperm(n, generator=g)
    x = to_unit(data.images).to(device)
    y = data.labels.to(torch.int64).to(device)
    hold, train = perm[:n_hold].to(device), perm[n_hold:].to(device)
    with torch.random.fork_rng(devices=[]):  # weight init and dropout must not disturb the caller's RNG
        torch.manual_seed(setup.seed)
        net = EvaluatorNet(data.image_shape, data.num_classes).to(device)
        opt = torch.optim.Adam(net.parameters(), lr=setup.lr)
        steps = setup.epochs * (len(train) // setup.batch_size)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=setup.lr, total_steps=steps)
        for _ in range(setup.epochs):
            net.train()
            order = train[torch.randperm(len(train), generator=g).to(device)]
            for i in range(len(train) // setup.batch_size):
                idx = order[i * setup.batch_size : (i + 1) * setup.batch_size]
                loss = F.cross_entropy(net(_shift(x[idx], setup.shift, g))[1], y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
    accuracy = _accuracy(net, x[hold], y[hold])
    info = {"format": FORMAT, "heldout_accuracy": accuracy, "heldout_size": n_hold, "train_size": len(train),
            "train_seconds": round(time.perf_counter() - start, 2), "image_shape": list(data.image_shape),
            "num_classes": data.num_classes, "data": data.description, "setup": asdict(setup)}
    return net.eval(), info


def save_evaluator(directory: Path, key: str, net: EvaluatorNet, info: dict[str, Any]) -> Path:
    """Write ``<key>.safetensors`` then ``<key>.json`` (with the tensor file's SHA-256), atomically."""
    blob = st_save({k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()},
                   metadata={"format": FORMAT})
    atomic_write(directory / f"{key}.safetensors", blob)
    sidecar = directory / f"{key}.json"
    atomic_write(sidecar, json.dumps({**info, "key": key, "size": len(blob),
                                      "sha256": hashlib.sha256(blob).hexdigest()}, indent=1).encode())
    return sidecar


def load_evaluator(directory: Path, key: str, device: torch.device | str = "cpu") -> Evaluator:
    """Load and verify a cached evaluator; any problem is a CheckpointError."""
    sidecar, tensor_file = directory / f"{key}.json", directory / f"{key}.safetensors"
    try:
        info = json.loads(sidecar.read_text())
        blob = tensor_file.read_bytes()
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{sidecar}: unreadable evaluator cache: {exc}") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT or info.get("key") != key:
        raise CheckpointError(f"{sidecar}: not a {FORMAT} sidecar for key {key}")
    if len(blob) != info.get("size") or hashlib.sha256(blob).hexdigest() != info.get("sha256"):
        raise CheckpointError(f"{tensor_file}: truncated or corrupted (size or checksum does not match its sidecar)")
    check_safetensors_header(blob, str(tensor_file))
    net = EvaluatorNet(tuple(info["image_shape"]), int(info["num_classes"]))  # type: ignore[arg-type]
    try:
        net.load_state_dict(st_load(blob), strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{tensor_file}: does not fit the evaluator network: {str(exc).splitlines()[0]}") from None
    return Evaluator(net.to(device).eval(), info)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def evaluator_for(data: ImageData, device: torch.device | str = "cpu", setup: TrainSetup = TrainSetup(),
                  directory: Path | None = None, say: Callable[[str], None] = _stderr) -> Evaluator:
    """The cached evaluator for ``data``, trained (and cached) first when there is none or it is broken."""
    directory = directory or cache_root() / "evaluators"
    key = cache_key(data, setup)
    if (directory / f"{key}.json").exists():
        try:
            return load_evaluator(directory, key, device)
        except CheckpointError as exc:
            say(f"retraining the evaluator: {exc}")
    say(f"training the evaluator classifier on {data.description} (cached in {directory}) ...")
    net, info = train_evaluator(data, setup, device)
    save_evaluator(directory, key, net, {**info, "key": key})
    say(f"evaluator: {info['heldout_accuracy']:.2%} held-out accuracy on {info['heldout_size']} images, "
        f"trained in {info['train_seconds']:.0f} s")
    return Evaluator(net, {**info, "key": key})
