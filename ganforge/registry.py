"""The plugin registry: pluggy underneath, provenance and validation on top.

Built-in plugins and third-party packages are discovered the same way, through the
``ganforge`` entry-point group. Each plugin is loaded inside a guard: a plugin that fails to
import, implements an unknown hook, or raises while registering is reported by name and the
others keep working. ``strict=True`` (or ``GANFORGE_STRICT_PLUGINS=1``) re-raises instead,
which is what plugin authors want while developing.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import inspect
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy
from pydantic import BaseModel, ConfigDict

from ganforge import hookspecs
from ganforge.errors import PluginError

ENTRY_POINT_GROUP = "ganforge"

#: component kind -> the hook that registers it
KINDS: dict[str, str] = {
    "latent_factor": "register_latent_factors",
    "generator": "register_generators",
    "critic": "register_critics",
    "objective": "register_objectives",
    "regularizer": "register_regularizers",
    "augmentation": "register_augmentations",
    "method": "register_methods",
    "dataset": "register_datasets",
    "metric": "register_metrics",
}


class NoOptions(BaseModel):
    """Options model for components that take no recipe keys besides ``kind``."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Entry:
    """One registered component: what recipes call it, how to build it, who provided it."""

    kind: str
    name: str
    factory: Callable[..., Any] | str
    options: type[BaseModel]
    help: str
    plugin: str

    def build(self, *args: Any, **kwargs: Any) -> Any:
        """Call the factory, resolving a lazy ``"module:attr"`` reference first."""
        return _resolve(self.factory)(*args, **kwargs)


@dataclass
class PluginInfo:
    """What ``ganforge plugins`` shows for one plugin."""

    name: str
    distribution: str | None = None
    version: str | None = None
    source: str = "entry point"
    provides: list[Entry] = field(default_factory=list)
    error: str | None = None

    @property
    def label(self) -> str:
        """How messages name the plugin: ``'name'``, plus its distribution when it has one."""
        return f"{self.name!r}" + (f" (distribution {self.distribution!r})" if self.distribution else "")


def _resolve(factory: Callable[..., Any] | str) -> Callable[..., Any]:
    if callable(factory):
        return factory
    module, _, attr = factory.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


class Registry:
    """Registered components by kind and name, with the plugin that registered each."""

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.entries: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
        self.plugins: dict[str, PluginInfo] = {}
        self.warnings: list[str] = []
        self.clashes: list[str] = []  # a name registered by two plugins: the first keeps it

    # --- loading ------------------------------------------------------------------------------
    def add_plugin(self, plugin: object, name: str, info: PluginInfo | None = None) -> None:
        """Register one plugin object (module or instance) and collect what it provides."""
        info = info or PluginInfo(name=name, source="explicit")
        self.plugins[name] = info
        try:
            _check_hooks(plugin)
            self.pm.register(plugin, name=name)
        except Exception as exc:  # noqa: BLE001 - any failure is reported with the plugin's name
            detail = str(exc) if isinstance(exc, PluginError) else _one_line(exc)
            self._fail(info, f"plugin {info.label} could not be registered: {detail}", exc)
            return
        for kind, hook in KINDS.items():
            for impl in getattr(self.pm.hook, hook).get_hookimpls():
                if impl.plugin_name == name:
                    self._call_register(info, kind, impl)
        if not self.pm.get_hookcallers(plugin) and info.error is None:
            self._fail(info, f"plugin {info.label} implements no ganforge hook (is it the right module?)", PluginError())

    def _call_register(self, info: PluginInfo, kind: str, impl: Any) -> None:
        def register(
            name: str,
            factory: Callable[..., Any] | str,
            options: type[BaseModel] = NoOptions,
            help: str = "",  # noqa: A002 - mirrors the documented keyword
        ) -> None:
            if not isinstance(name, str) or not name:
                raise PluginError(f"plugin {info.label} registered a {kind} without a name")
            if not (isinstance(options, type) and issubclass(options, BaseModel)):
                raise PluginError(f"plugin {info.label}: options of {kind} {name!r} must be a pydantic model class")
            if not (callable(factory) or (isinstance(factory, str) and ":" in factory)):
                raise PluginError(f"plugin {info.label}: factory of {kind} {name!r} must be callable or 'module:attr'")
            existing = self.entries[kind].get(name)
            if existing is not None:
                clash = (f"{kind} {name!r} is registered twice: by plugin {self.plugins[existing.plugin].label} "
                         f"and by plugin {info.label}")
                self.clashes.append(clash)
                self.warnings.append(clash)
                info.error = "; ".join(filter(None, [info.error, clash]))
                if self.strict:
                    raise PluginError(clash)
                return
            entry = Entry(kind, name, factory, options, help or (options.__doc__ or "").strip().split("\n")[0], info.name)
            self.entries[kind][name] = entry
            info.provides.append(entry)

        try:
            impl.function(**({"register": register} if "register" in impl.argnames else {}))
        except PluginError as exc:
            if "registered twice" in str(exc):
                raise
            self._fail(info, str(exc), exc)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - a plugin's sys.exit() must not end ganforge
            self._fail(info, f"plugin {info.label} failed in {KINDS[kind]}: {_one_line(exc)}", exc)

    def _fail(self, info: PluginInfo, message: str, exc: BaseException) -> None:
        info.error = message
        self.warnings.append(message)
        if self.strict:
            raise PluginError(message) from exc

    # --- lookup -------------------------------------------------------------------------------
    def names(self, kind: str) -> list[str]:
        return sorted(self.entries[kind])

    def get(self, kind: str, name: str) -> Entry:
        """The entry for ``name``, or an error that lists the names that do exist."""
        try:
            return self.entries[kind][name]
        except KeyError:
            available = ", ".join(self.names(kind)) or "none (is a plugin missing?)"
            raise PluginError(f"unknown {kind.replace('_', ' ')} {name!r}; available: {available}") from None

    def track(self, event: Any) -> None:
        """Send a training event to every plugin that observes runs."""
        for impl in self.pm.hook.track_event.get_hookimpls():
            try:
                impl.function(event=event)
            except Exception as exc:  # noqa: BLE001
                info = self.plugins.get(impl.plugin_name) or PluginInfo(impl.plugin_name)
                raise PluginError(f"plugin {info.label} failed in track_event: {_one_line(exc)}") from exc


def _check_hooks(plugin: object) -> None:
    """Raise a PluginError naming a misspelt hook, or a hook argument its spec does not have."""
    impls = {attr: fn for attr in dir(plugin)
             if getattr(fn := getattr(plugin, attr, None), f"{hookspecs.PROJECT}_impl", None) is not None}
    known = sorted(n for n, f in vars(hookspecs).items() if hasattr(f, f"{hookspecs.PROJECT}_spec"))
    unknown = sorted(attr for attr in impls if attr not in known)
    if unknown:
        raise PluginError(f"implements unknown hook(s): {', '.join(unknown)} (the hooks are: {', '.join(known)})")
    for attr, fn in sorted(impls.items()):
        spec_args = list(inspect.signature(getattr(hookspecs, attr)).parameters)
        args = list(inspect.signature(fn).parameters)  # bound methods come without self
        extra = [a for a in args if a not in spec_args]
        if extra:
            raise PluginError(f"{attr}({', '.join(args)}) takes {', '.join(map(repr, extra))}, which the hook spec "
                              f"{attr}({', '.join(spec_args)}) does not have")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _split_env(var: str) -> set[str] | None:
    value = os.environ.get(var, "").strip()
    return {v.strip() for v in value.split(",") if v.strip()} if value else None


def load_registry(
    strict: bool | None = None,
    allow: Iterable[str] | None = None,
    deny: Iterable[str] | None = None,
    extra: Iterable[tuple[str, object]] = (),
    entry_points: bool = True,
    clashes_fatal: bool = True,
) -> Registry:
    """Discover plugins through the ``ganforge`` entry-point group and build a registry.

    ``allow``/``deny`` filter by entry-point or distribution name; they default to the
    comma-separated ``GANFORGE_PLUGINS`` and ``GANFORGE_DISABLE_PLUGINS`` variables.
    ``extra`` registers ``(name, plugin_object)`` pairs explicitly (tests use this). A name that two
    plugins register is a :class:`PluginError` naming both, unless ``clashes_fatal`` is false (``ganforge
    plugins``, which must still list them): then the first keeps it and ``Registry.clashes`` says so.
    """
    if strict is None:
        strict = os.environ.get("GANFORGE_STRICT_PLUGINS", "") not in ("", "0")
    allow_set = set(allow) if allow is not None else _split_env("GANFORGE_PLUGINS")
    deny_set = set(deny) if deny is not None else (_split_env("GANFORGE_DISABLE_PLUGINS") or set())
    registry = Registry(strict=strict)
    if entry_points:
        for ep in sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = ep.dist.name if ep.dist is not None else None
            keys = {ep.name, dist} - {None}
            if (allow_set is not None and not keys & allow_set) or keys & deny_set:
                continue
            info = PluginInfo(
                name=ep.name,
                distribution=dist,
                version=ep.dist.version if ep.dist is not None else None,
                source="built-in" if dist == "ganforge" else "entry point",
            )
            if ep.name in registry.plugins:
                first = registry.plugins[ep.name].label
                registry._fail(info, f"two plugins are named {ep.name!r}: {first} and {info.label}; "
                               "only the first is loaded", PluginError())
                continue
            try:
                plugin = ep.load()
            except (Exception, SystemExit) as exc:  # noqa: BLE001 - SystemExit too: report the plugin, go on
                registry.plugins[ep.name] = info
                registry._fail(info, f"plugin {info.label} failed to import: {_one_line(exc)}", exc)
                continue
            registry.add_plugin(plugin, ep.name, info)
    for name, plugin in extra:
        registry.add_plugin(plugin, name)
    if registry.clashes and clashes_fatal:
        raise PluginError(f"{registry.clashes[0]}; rename one, or disable one with GANFORGE_DISABLE_PLUGINS "
                          "(`ganforge plugins` lists both)")
    return registry
