"""Building a run's pieces from a resolved recipe: latent spec, networks, objective, regularizers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn

from ganforge.model.augment import AugmentStage
from ganforge.errors import GanforgeError, PluginError, blame, plugin_failure
from ganforge.interfaces import BuildContext, Critic, Generator, Objective, Regularizer
from ganforge.latent import LatentFactor
from ganforge.latent import LatentSpec
from ganforge.recipe.model import Resolved


@contextmanager
def blame_step(system: System, what: str) -> Iterator[None]:
    """Like :func:`blame` for code that runs several plugins (a training step): the traceback tells
    which plugin raised. An exception from no plugin's code (a ganforge bug) passes unchanged."""
    try:
        yield
    except GanforgeError:
        raise
    except Exception as exc:
        plugin = system.culprit(exc)
        if plugin is None:
            raise
        raise plugin_failure(plugin, what, exc) from exc


@dataclass
class System:
    """Everything a GAN step needs, with the plugin that provided each part."""

    spec: LatentSpec
    generator: Generator
    critic: Critic
    objective: Objective
    regularizers: dict[str, Regularizer] = field(default_factory=dict)  # recipe name -> regularizer
    owners: dict[str, str] = field(default_factory=dict)  # part -> plugin name
    every: dict[str, int] = field(default_factory=dict)  # regularizer name -> run every N steps of a phase
    augment: AugmentStage | None = None  # the [augment] policy every critic input goes through, if any

    def side(self, optimizer: str) -> dict[str, Regularizer]:
        """The regularizers whose parameters the ``"critic"`` or ``"generator"`` optimizer trains."""
        return {k: r for k, r in self.regularizers.items() if r.optimizer == optimizer}

    def culprit(self, exc: BaseException) -> str | None:
        """The plugin whose code raised ``exc``: the innermost traceback frame inside a package that
        provided one of the parts (the package of the part's class; ``ganforge`` itself never counts)."""
        parts: dict[str, object] = {"generator": self.generator, "critic": self.critic, "objective": self.objective,
                                    **{f"regularizers.{k}": v for k, v in self.regularizers.items()},
                                    **{f"latent.{f.name}": f for f in self.spec.factors}}
        packages = {type(obj).__module__.rpartition(".")[0] or type(obj).__module__: self.owners[part]
                    for part, obj in parts.items() if part in self.owners}
        packages.pop("ganforge", None)
        frames = []
        tb = exc.__traceback__
        while tb is not None:
            frames.append(str(tb.tb_frame.f_globals.get("__name__", "")))
            tb = tb.tb_next
        for module in reversed(frames):
            for package, plugin in packages.items():
                if module == package or module.startswith(package + "."):
                    return plugin
        return None

    def modules(self) -> dict[str, nn.Module]:
        return {"generator": self.generator, "critic": self.critic,
                **{f"regularizers.{k}": v for k, v in self.regularizers.items()},
                **({"augment": self.augment} if self.augment is not None else {})}

    def check_labels(self, has_labels: bool, description: str) -> None:
        """A latent factor that conditions the critic on the data's labels needs data that has them."""
        if self.spec.condition is not None and not has_labels:
            raise GanforgeError(f"latent factor {self.spec.condition.name!r} conditions the critic on labels, "
                                f"but the data ({description}) has none")

    def to(self, device: torch.device) -> System:
        for m in self.modules().values():
            m.to(device)
        return self


def build_latent_spec(resolved: Resolved) -> LatentSpec:
    factors: list[LatentFactor] = []
    for spec, entry, options in resolved.factors:
        with blame(entry.plugin, f"building latent factor {spec.name!r}"):
            factor = entry.build(spec.name, spec.lam, options)
        if not isinstance(factor, LatentFactor):
            raise PluginError(f"plugin {entry.plugin!r}: factor kind {entry.name!r} did not build a LatentFactor")
        factors.append(factor)
    latent = resolved.recipe.latent
    return LatentSpec(latent.noise_dim, latent.noise_prior, factors)


def build_system(resolved: Resolved, image_shape: tuple[int, int, int], num_classes: int | None) -> System:
    """Construct every part; weights are initialised from the global torch RNG (seed it first)."""
    spec = build_latent_spec(resolved)
    ctx = BuildContext(image_shape=image_shape, spec=spec, num_classes=num_classes)
    owners: dict[str, str] = {f"latent.{f.name}": entry.plugin for f, entry, _ in resolved.factors}

    def make(part: str, pair: tuple, expected: type, *args: object) -> object:
        entry, options = pair
        with blame(entry.plugin, f"building {part} {entry.name!r}"):
            obj = entry.build(options, *args)
        if not isinstance(obj, expected):
            raise PluginError(f"plugin {entry.plugin!r}: {part} {entry.name!r} built a {type(obj).__name__}, "
                              f"not a ganforge.{expected.__name__}")
        owners[part] = entry.plugin
        return obj

    generator = make("generator", resolved.generator, Generator, ctx)
    critic = make("critic", resolved.critic, Critic, ctx)
    objective = make("objective", resolved.objective, Objective)
    reg_ctx = BuildContext(image_shape, spec, num_classes, critic_feature_width=critic.feature_width)  # type: ignore[attr-defined]
    regularizers: dict[str, Regularizer] = {}
    every: dict[str, int] = {}
    # recipe.resolve() made every name unique and resolved every entry, so the two lists line up
    for table, (entry, options) in zip(resolved.recipe.regularizers, resolved.regularizers, strict=True):
        name = table.instance_name
        regularizers[name] = make(f"regularizers.{name}", (entry, options), Regularizer, reg_ctx)  # type: ignore[assignment]
        every[name] = table.every
    augment = None
    if resolved.augmentations:
        fns = []
        for entry, options in resolved.augmentations:
            with blame(entry.plugin, f"building augmentation {entry.name!r}"):
                fns.append((entry.name, entry.build(options)))
            owners[f"augment.{entry.name}"] = entry.plugin
        augment = AugmentStage(fns, resolved.recipe.augment)
    return System(spec, generator, critic, objective, regularizers, owners, every, augment)  # type: ignore[arg-type]
