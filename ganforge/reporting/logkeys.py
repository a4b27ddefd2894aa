"""The keys of ``metrics.jsonl`` and how to find a term in them, for runs of any ganforge version.

The step (``ganforge/training/step.py``) logs ``<phase>/adv`` for the objective and ``<phase>/<regularizer>/<term>``
for a regularizer's terms (``generator/mutual_information/L_I/c1``). Runs written before loss terms
were namespaced have ``<phase>/<term>`` (``generator/L_I/c1``); readers go through :func:`find` so
both keep working.
"""

from __future__ import annotations

from collections.abc import Iterable


def find(keys: Iterable[str], phase: str, term: str) -> str | None:
    """The key that holds ``term`` of ``phase``: ``<phase>/<term>`` where it exists (the objective's ``adv``;
    any term of an older run), else ``<phase>/<owner>/<term>`` (the first owner in name order when several
    regularizers log the same term); ``None`` when neither is there."""
    keys = set(keys)
    exact = f"{phase}/{term}"
    if exact in keys:
        return exact
    owned = sorted(k for k in keys if k.startswith(f"{phase}/") and k.endswith(f"/{term}")
                   and len(k) > len(exact) + 1 and "/" not in k[len(phase) + 1 : -len(term) - 1])
    return owned[0] if owned else None


def phase_of(key: str) -> str:
    """``critic`` or ``generator`` (the first part of every logged loss key)."""
    return key.partition("/")[0]
