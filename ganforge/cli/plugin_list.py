"""What ``ganforge plugins`` shows: every plugin's distribution, version, source, what it registers, its error.

No torch here: listing plugins must start fast.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table


def plugin_rows(registry: Any) -> list[dict[str, Any]]:
    """One JSON-ready row per plugin, by name: ``provides`` maps each kind to the names registered."""
    return [
        {
            "name": p.name,
            "distribution": p.distribution,
            "version": p.version,
            "source": p.source,
            "provides": {kind: sorted(e.name for e in p.provides if e.kind == kind)
                         for kind in sorted({e.kind for e in p.provides})},
            "error": p.error,
        }
        for p in sorted(registry.plugins.values(), key=lambda p: p.name)
    ]


def plugin_table(rows: list[dict[str, Any]]) -> Table:
    """The rows as a rich table; a plugin's error in red above what it still registers."""
    table = Table(title="ganforge plugins")
    for col in ("plugin", "distribution", "version", "source", "provides"):
        table.add_column(col)
    for r in rows:
        provides = "\n".join(f"{k}: {', '.join(v)}" for k, v in r["provides"].items())
        if r["error"]:
            provides = f"[red]{r['error']}[/red]" + ("\n" + provides if provides else "")
        table.add_row(r["name"], r["distribution"] or "-", r["version"] or "-", r["source"], provides)
    return table
