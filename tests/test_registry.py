"""The plugin registry: discovery, provenance, duplicates, broken plugins, strict mode."""

from __future__ import annotations

import types
from typing import Any

import pytest

import ganforge
import ganforge.builtins
from ganforge.errors import PluginError
from ganforge.registry import load_registry


def _plugin(**hooks: Any) -> types.SimpleNamespace:
    return types.SimpleNamespace(**{name: ganforge.hookimpl(fn) for name, fn in hooks.items()})


def _objective_plugin(name: str) -> types.SimpleNamespace:
    def register_objectives(register: Any) -> None:
        register(name, "ganforge.builtins.objectives:Hinge")

    return _plugin(register_objectives=register_objectives)


def test_builtins_register_through_entry_points() -> None:
    registry = load_registry()
    assert {"core", "vanilla", "infogan"} <= set(registry.plugins)
    assert registry.plugins["vanilla"].source == "built-in"
    assert registry.get("method", "vanilla").plugin == "vanilla"
    assert registry.get("objective", "hinge").plugin == "core"


def test_provenance_and_sorted_names(registry: Any) -> None:
    assert registry.names("objective") == sorted(registry.names("objective"))
    assert {e.name for e in registry.plugins["core"].provides if e.kind == "dataset"} >= {"idx", "synthetic", "mnist"}


def test_duplicate_names_fail_naming_both_plugins() -> None:
    with pytest.raises(PluginError, match="by plugin 'first' and by plugin 'second'"):
        load_registry(entry_points=False, extra=[("first", _objective_plugin("x")), ("second", _objective_plugin("x"))])


def test_broken_plugin_is_reported_and_others_keep_working() -> None:
    def register_objectives(register: Any) -> None:
        raise RuntimeError("boom")

    registry = load_registry(entry_points=False, extra=[("broken", _plugin(register_objectives=register_objectives)),
                                                        ("core", ganforge.builtins)])
    assert any("'broken'" in w and "boom" in w for w in registry.warnings)
    assert "hinge" in registry.names("objective")


def test_strict_mode_reraises() -> None:
    def register_objectives(register: Any) -> None:
        raise RuntimeError("boom")

    with pytest.raises(PluginError, match="broken"):
        load_registry(strict=True, entry_points=False, extra=[("broken", _plugin(register_objectives=register_objectives))])


def test_unknown_hook_name_is_reported() -> None:
    def register_objectivs(register: Any) -> None:  # misspelt on purpose
        pass

    registry = load_registry(entry_points=False, extra=[("typo", _plugin(register_objectivs=register_objectivs))])
    assert any("typo" in w and "register_objectivs" in w for w in registry.warnings)


def test_wrong_hook_argument_is_reported() -> None:
    def register_objectives(registr: Any) -> None:
        pass

    registry = load_registry(entry_points=False, extra=[("badargs", _plugin(register_objectives=register_objectives))])
    assert any("badargs" in w for w in registry.warnings)


def test_invalid_registration_is_reported() -> None:
    def register_objectives(register: Any) -> None:
        register("x", "ganforge.builtins.objectives:Hinge", options=dict)

    registry = load_registry(entry_points=False, extra=[("badopts", _plugin(register_objectives=register_objectives))])
    assert any("badopts" in w and "pydantic" in w for w in registry.warnings)


def test_unknown_name_lists_available(registry: Any) -> None:
    with pytest.raises(PluginError, match="available: hinge, nonsaturating, wasserstein"):
        registry.get("objective", "nope")


def test_deny_list_skips_a_plugin() -> None:
    registry = load_registry(deny=["vanilla"])
    assert "vanilla" not in registry.plugins and "core" in registry.plugins


def test_allow_list_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANFORGE_PLUGINS", "core")
    registry = load_registry()
    assert set(registry.plugins) == {"core"}


def test_track_event_failure_names_the_plugin(registry: Any) -> None:
    def track_event(event: Any) -> None:
        raise ValueError("observer broke")

    registry.add_plugin(_plugin(track_event=track_event), "observer")
    with pytest.raises(PluginError, match="'observer' failed in track_event"):
        registry.track(object())
