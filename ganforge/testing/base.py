"""What every contract shares: the plugin under test, its registry, and the registration checks."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ValidationError

from ganforge import Registry
from ganforge.testing.runs import make_registry


class PluginContract:
    """Base of the contracts: set ``plugin`` (and ``plugin_name`` when it is not the module's name)."""

    #: the plugin object (usually the package module) whose hooks register the component
    plugin: ClassVar[Any]
    #: the name the plugin is registered under (default: the module's name)
    plugin_name: ClassVar[str | None] = None
    #: the component's recipe keys (besides ``kind``, and ``name``/``lambda`` for factors)
    options: ClassVar[dict[str, Any]] = {}
    #: the registry kind of the component, set by each contract (e.g. ``"latent_factor"``)
    component: ClassVar[str]

    def registered_name(self) -> str:
        """The name the component is registered under (each contract reads it from its own attribute)."""
        raise NotImplementedError

    def name_of_plugin(self) -> str:
        return self.plugin_name or getattr(self.plugin, "__name__", type(self.plugin).__name__)

    def registry(self) -> Registry:
        return make_registry([(self.name_of_plugin(), self.plugin)])

    def entry_and_options(self) -> tuple[Any, BaseModel]:
        """The registry entry and ``options`` validated by its options model, as a recipe would."""
        entry = self.registry().get(self.component, self.registered_name())
        return entry, entry.options.model_validate(self.options)

    def test_registers_through_the_registry(self) -> None:
        entry = self.registry().get(self.component, self.registered_name())
        assert entry.plugin == self.name_of_plugin()
        assert entry.help, "give register(...) a help= line: `ganforge plugins` shows it"

    def test_options_reject_unknown_keys(self) -> None:
        entry = self.registry().get(self.component, self.registered_name())
        with pytest.raises(ValidationError):
            entry.options.model_validate({**self.options, "surely_not_a_key": 1})
