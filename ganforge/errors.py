"""One error family for everything a user can get wrong.

The CLI turns any :class:`GanforgeError` into a single line on stderr and a non-zero exit;
set ``GANFORGE_DEBUG=1`` to see the traceback as well.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class GanforgeError(Exception):
    """Base class: a problem the user can fix, with a message that says how."""

    exit_code: int = 1


class RecipeError(GanforgeError):
    """A recipe that cannot be read or does not validate.

    ``problems`` holds one ``(key_path, message)`` pair per problem so that every one is
    reported, not just the first.
    """

    exit_code = 2

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        lines = [f"{source}: {path}: {msg}" if path else f"{source}: {msg}" for path, msg in problems]
        super().__init__("\n".join(printable(line) for line in lines))


def printable(text: str) -> str:
    """``text`` with control characters escaped (``\\r``, ``\\x1e``), so that a message stays on one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class PluginError(GanforgeError):
    """A plugin failed to load, registered something invalid, or raised inside a hook."""

    exit_code = 3


class DataError(GanforgeError):
    """A data source could not be read (missing files, bad shapes, mismatched labels)."""

    exit_code = 4


class CheckpointError(GanforgeError):
    """A checkpoint or exported model is missing, truncated, corrupted or unsafe."""

    exit_code = 5


class DivergenceError(GanforgeError):
    """Training produced a NaN or Inf; the message names the step and the loss term."""

    exit_code = 6


def plugin_failure(plugin: str, what: str, exc: Exception) -> PluginError:
    """The one-line error for an exception that plugin code raised: the plugin, what it was doing, the cause."""
    first = (str(exc).strip().splitlines() or [""])[0]
    return PluginError(f"plugin {plugin!r} failed in {what}: {type(exc).__name__}: {first}")


@contextmanager
def blame(plugin: str, what: str) -> Iterator[None]:
    """Report an exception raised by plugin code with the plugin's name (ganforge's own errors pass unchanged)."""
    try:
        yield
    except GanforgeError:
        raise
    except Exception as exc:
        raise plugin_failure(plugin, what, exc) from exc
