"""What ``ganforge run`` checks before its first step, and all that ``ganforge validate`` does.

One function, :func:`preflight`, used by both (``engine.train`` calls it where it reads the data), so
that ``validate`` answers "would ``run`` start?" with the very error ``run`` would give: it reads and
checks the data (files, headers, counts, shapes, labels), checks that one batch fits, and builds the
networks on PyTorch's ``meta`` device (shapes only, no memory), which runs every plugin's own checks
of the image shape and labels and sizes the networks before anything is allocated. The parent of the
run directories is checked by :func:`ganforge.runs.directory.check_out`, which ``run`` calls when it makes the
run directory.
"""

from __future__ import annotations

import os

import torch

from ganforge.data.stream import require_one_batch
from ganforge.training.distributed import World
from ganforge.errors import GanforgeError
from ganforge.interfaces import ImageData
from ganforge.recipe.model import Resolved
from ganforge.model.system import build_system
from ganforge.data.load import load_data

#: bytes per parameter while training: fp32 weights, their gradients and Adam's two moments
TRAINING_BYTES_PER_PARAMETER = 16


def physical_memory() -> int | None:
    """This machine's memory in bytes (None where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_networks(resolved: Resolved, data: ImageData) -> dict[str, int]:
    """Build every network for ``data`` on the meta device; returns each module's parameter count.

    A network that cannot take the data's images (a plugin's own check) fails here as in ``run``; networks
    whose weights, gradients and Adam state would not fit in this machine's memory are refused, naming them.
    """
    with torch.device("meta"):
        system = build_system(resolved, data.image_shape, data.num_classes)
    system.check_labels(data.labels is not None, data.description)
    sizes = {name: sum(p.numel() for p in module.parameters()) for name, module in system.modules().items()}
    need, memory = TRAINING_BYTES_PER_PARAMETER * sum(sizes.values()), physical_memory()
    if memory is not None and need > memory:
        largest = max(sizes, key=sizes.__getitem__)
        raise GanforgeError(f"the networks would hold {sum(sizes.values()):.3g} parameters (the largest, {largest}: "
                            f"{sizes[largest]:.3g}), {need / 2**30:.3g} GiB with gradients and Adam's state, more than "
                            f"this machine's {memory / 2**30:.3g} GiB; lower {largest}'s width options or the latent "
                            "size (latent.noise_dim, a factor's k)")
    return sizes


def preflight(resolved: Resolved, world: World | None = None) -> ImageData:
    """Read and check the recipe's data and build its networks on the meta device; returns the data.

    Raises the one-line error (``DataError``, ``PluginError``, ``GanforgeError``) that would stop the run.
    """
    world = world or World()
    data = load_data(resolved)
    require_one_batch(data, world.local_batch(resolved.recipe.data.batch_size), world.world_size)
    check_networks(resolved, data)
    return data
