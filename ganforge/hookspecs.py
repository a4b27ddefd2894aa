"""Every hook a ganforge plugin can implement, in one place.

Each ``register_*`` hook receives a ``register`` callable. Call it once per thing you provide::

    register(name, factory, options=OptionsModel, help="one line shown by `ganforge plugins`")

``name`` is what recipes use (``kind = "name"``); ``factory`` builds the object from the
validated ``options`` (a pydantic model instance) and a build context; ``options`` is a pydantic
model (use ``extra="forbid"``) whose fields document the recipe keys. The registry records which
plugin registered what and rejects duplicate names, naming both plugins.

A plugin implements only the hooks it needs, and may accept fewer arguments than a spec lists.
Hook names and argument names are stable API: they only ever gain optional arguments.
"""

from __future__ import annotations

from typing import Any

import pluggy

PROJECT = "ganforge"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- latent codes -------------------------------------------------------------------------
@hookspec
def register_latent_factors(register: Any) -> None:
    """Register latent-code factor types (``[[latent.factors]] kind = ...``).

    ``factory(name: str, lam: float, options) -> ganforge.LatentFactor``; ``lam`` is the factor's
    ``lambda`` key (its weight λ_i in the mutual-information loss).
    """


# --- networks -----------------------------------------------------------------------------
@hookspec
def register_generators(register: Any) -> None:
    """Register generator networks (``[generator] kind = ...``).

    ``factory(options, ctx: ganforge.BuildContext) -> ganforge.Generator``.
    """


@hookspec
def register_critics(register: Any) -> None:
    """Register critic (discriminator) networks (``[critic] kind = ...``).

    ``factory(options, ctx: ganforge.BuildContext) -> ganforge.Critic``.
    """


# --- training objective --------------------------------------------------------------------
@hookspec
def register_objectives(register: Any) -> None:
    """Register adversarial objectives (``[objective] kind = ...``).

    ``factory(options) -> ganforge.Objective``.
    """


@hookspec
def register_regularizers(register: Any) -> None:
    """Register regularizers that add loss terms and modules (``[[regularizers]] kind = ...``).

    ``factory(options, ctx: ganforge.BuildContext) -> ganforge.Regularizer``.
    """


@hookspec
def register_methods(register: Any) -> None:
    """Register methods: named presets that compose the pieces above (``[model] method = ...``).

    ``factory(options) -> ganforge.Method``; ``options`` is usually ``ganforge.NoOptions``.
    """


@hookspec
def register_augmentations(register: Any) -> None:
    """Register differentiable augmentations of the critic's inputs (``[augment] policy = ["name", …]``).

    ``factory(options) -> Callable[[Tensor], Tensor]``, called with the options model's defaults: it maps
    ``(B, C, H, W)`` images in ``[-1, 1]`` to the same shape, differentiably in the images (G is trained
    through it), drawing its randomness per image from torch's global generator.
    """


# --- data and evaluation --------------------------------------------------------------------
@hookspec
def register_datasets(register: Any) -> None:
    """Register data sources (``[data] source = ...``).

    ``factory(options, ctx: ganforge.DataContext) -> ganforge.ImageData``.
    """


@hookspec
def register_metrics(register: Any) -> None:
    """Register evaluation metrics shown by ``ganforge eval`` and ``ganforge compare``.

    ``factory(options) -> ganforge.Metric``.
    """


# --- observing a run -----------------------------------------------------------------------
@hookspec
def track_event(event: Any) -> None:
    """Observe a training run. ``event`` is one of the dataclasses in ``ganforge.events``.

    Called on rank 0 only. Must not modify the run; an exception stops the run with an error that
    names the plugin (the checkpoints already written stay valid). See docs/plugins/ for when each
    event fires.
    """
