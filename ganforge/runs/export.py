"""A trained generator on its own: ``ganforge export`` writes it, :func:`load_generator` reads it back.

The export is two files in a directory: ``generator.safetensors`` (the generator's weights and
batch-norm buffers) and ``generator.json`` (the format, the generator's and the latent factors' kinds
and options, the image shape, the step, and the ganforge and plugin versions). Loading needs the
plugins that provide those kinds, nothing else of the run (no critic, no data, no optimizer state)::

    import ganforge
    g = ganforge.load_generator("exports/infogan-mnist")
    images = g.sample(25, codes={"c1": 3}, seed=0)   # (25, 1, 28, 28) in [0, 1]: 25 samples of category 3
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save as st_save
from torch import Tensor

from ganforge import __version__
from ganforge.runs import checkpoint
from ganforge.errors import CheckpointError, GanforgeError
from ganforge.interfaces import BuildContext, Generator
from ganforge.latent import LatentSpec
from ganforge.registry import Registry, load_registry
from ganforge.safefiles import UnsafeFile, atomic_write, loads_json, read_bounded

FORMAT = "ganforge-generator/1"
WEIGHTS, SPEC = "generator.safetensors", "generator.json"
_OFFLINE_DATA = {"source": "synthetic"}  # stands in for the run's data when the export is rebuilt elsewhere


def export_generator(run_dir: Path, out: Path, registry: Registry, step: int | None = None,
                     raw_generator: bool = False) -> tuple[Path, str]:
    """Write the generator of ``run_dir`` (its newest valid checkpoint, or that of ``step``) to ``out``: the
    moving average of its weights when the run kept one (``train.ema``) unless ``raw_generator``. Returns the
    directory and which weights were written ("ema" or "raw", also in ``generator.json``)."""
    from ganforge.runs.loaded import load_run

    loaded = load_run(run_dir, registry, "cpu", step=step, raw_generator=raw_generator)
    gen = loaded.system.generator
    raw = copy.deepcopy(loaded.resolved.raw)
    used = {"generator", *(f"latent.{f.name}" for f in loaded.system.spec.factors)}
    spec = {
        "format": FORMAT,
        "recipe": {k: v for k, v in raw.items() if k not in ("data", "run", "train")},  # what builds G and its latent
        "image_shape": list(loaded.meta["image_shape"]),
        "num_classes": loaded.meta.get("num_classes"),
        "step": loaded.step,
        "weights": loaded.weights,
        "run": str(run_dir),
        "versions": {"ganforge": __version__, "torch": torch.__version__,
                     "plugins": {name: registry.plugins[name].version for name in
                                 sorted({loaded.system.owners[p] for p in used if p in loaded.system.owners})}},
    }
    tensors = {k: v.detach().cpu().contiguous() for k, v in gen.state_dict().items()}
    atomic_write(out / WEIGHTS, st_save(tensors))
    atomic_write(out / SPEC, (json.dumps(spec, indent=2) + "\n").encode())
    return out, loaded.weights


@dataclass
class ExportedGenerator:
    """A loaded generator and its latent spec; :meth:`sample` draws images."""

    generator: Generator
    spec: LatentSpec
    image_shape: tuple[int, int, int]
    step: int

    @torch.no_grad()
    def sample(self, n: int, codes: dict[str, float] | None = None, seed: int = 0) -> Tensor:
        """``n`` images ``(n, C, H, W)`` in ``[0, 1]``; ``codes`` fixes factors by name (a class index for a
        categorical code, a value for a continuous one); the rest of the latent comes from ``seed``."""
        from ganforge.model.pictures import sample_with_codes

        unknown = sorted(set(codes or {}) - {f.name for f in self.spec.factors})
        if unknown:
            raise ValueError(f"no latent factor {unknown[0]!r}; factors: {', '.join(f.name for f in self.spec.factors)}")
        images = sample_with_codes(self.generator, self.spec, n, seed, dict(codes or {}))  # (n, C, H, W) in [-1, 1]
        return images.add(1).div(2).clamp(0, 1).cpu()


def load_generator(path: str | Path, registry: Registry | None = None, device: str = "cpu") -> ExportedGenerator:
    """Load a directory written by ``ganforge export`` (or its ``generator.json``)."""
    from ganforge.recipe.model import resolve
    from ganforge.errors import blame
    from ganforge.model.system import build_latent_spec

    folder = Path(path)
    folder = folder.parent if folder.name == SPEC else folder
    try:
        spec = loads_json(read_bounded(folder / SPEC, 16 * 1024 * 1024))
    except (OSError, UnsafeFile, ValueError) as exc:
        raise GanforgeError(f"{folder / SPEC}: not a readable generator export: {exc}") from None
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        raise GanforgeError(f"{folder / SPEC}: not a ganforge generator export (format {FORMAT!r})")
    registry = registry or load_registry()
    raw = {**spec["recipe"], "data": dict(_OFFLINE_DATA)}
    resolved = resolve(raw, registry, str(folder / SPEC))
    latent = build_latent_spec(resolved)
    shape = tuple(int(x) for x in spec["image_shape"])
    entry, options = resolved.generator
    with blame(entry.plugin, f"building generator {entry.name!r}"):
        generator = entry.build(options, BuildContext(shape, latent, spec.get("num_classes")))  # type: ignore[arg-type]
    tensors = checkpoint.load_tensors(folder / WEIGHTS)
    try:
        generator.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{folder / WEIGHTS}: weights do not fit the generator: {str(exc).splitlines()[0]}") from None
    generator.to(device).eval()
    return ExportedGenerator(generator, latent, shape, int(spec.get("step", 0)))  # type: ignore[arg-type]
