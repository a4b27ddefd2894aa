"""The numbers of a comparison: one row per headline number (median and range over each method's seeds),
the data's reference numbers, and the JSON form of both.

Rows come from the runs' typed results (:class:`ganforge.results.Headline`: display name, unit,
format, reference line), so any registered metric gets its rows, a third-party one included; the
core knows no metric's names. The one row of compare's own is each run's training wall time.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from ganforge.reporting.compare import Comparison, RunOutcome
from ganforge.results import Headline

WALL_KEY = "wall_s"


def run_numbers(outcome: RunOutcome) -> dict[str, Headline]:
    """The table's numbers for one run, keyed ``code_accuracy/c1``, ``domain_fid``, … (the headline keys)."""
    out = dict(outcome.results.numbers())
    if outcome.wall_s is not None:
        out[WALL_KEY] = Headline("wall time", outcome.wall_s, unit="s", higher_is_better=False, format="{:.1f}")
    return out


def spread(values: list[float], std: float | None = None) -> dict[str, Any]:
    """Median, min, max and the values themselves; with one value, its headline's ``std`` when it has one."""
    out = {"median": statistics.median(values), "min": min(values), "max": max(values), "values": values}
    if len(values) == 1 and std is not None:
        out["std"] = std
    return out


def headlines(comparison: Comparison) -> dict[str, Headline]:
    """Row key → the first run's headline for it (its display name, unit, format and reference line), in row order."""
    out: dict[str, Headline] = {}
    for o in comparison.outcomes:
        for key, head in run_numbers(o).items():
            out.setdefault(key, head)
    if WALL_KEY in out:  # the cost of a run goes last
        out[WALL_KEY] = out.pop(WALL_KEY)
    return out


def table(comparison: Comparison) -> dict[str, dict[str, dict[str, Any]]]:
    """Row key → column label → :func:`spread` of that number over the column's runs (absent: n/a)."""
    per_label = {label: [run_numbers(o) for o in comparison.of(label)] for label in comparison.labels}
    return {key: {label: spread(*_values(rows, key)) for label, rows in per_label.items() if any(key in n for n in rows)}
            for key in headlines(comparison)}


def _values(rows: list[dict[str, Headline]], key: str) -> tuple[list[float], float | None]:
    """The column's values of one row, and the ``std`` of the one run's headline when there is one run."""
    heads = [n[key] for n in rows if key in n]
    return [h.value for h in heads], heads[0].std if len(heads) == 1 else None


def row_name(key: str, comparison: Comparison) -> str:
    """The row's display name with its unit and reference line, e.g. ``L_I c1 (nats; ceiling H(c1) = 2.303)``."""
    return headlines(comparison)[key].title()


def cell(head: Headline, stat: dict[str, Any] | None) -> str:
    """``median`` alone (``value ± std`` for one run of a headline with a std), or ``median (min–max)`` over
    several seeds; ``–`` when the metric does not apply."""
    if stat is None:
        return "–"
    text = head.format.format(stat["median"])
    if "std" in stat:
        text += f" ± {head.format.format(stat['std'])}"
    if len(stat["values"]) > 1:
        text += f" ({head.format.format(stat['min'])}–{head.format.format(stat['max'])})"
    return text


def rows(comparison: Comparison) -> list[tuple[str, list[str]]]:
    """(row name, one cell per method) for every row of the table: what the terminal, Markdown and HTML tables show."""
    heads = headlines(comparison)
    return [(heads[key].title(), [cell(heads[key], by.get(label)) for label in comparison.labels])
            for key, by in table(comparison).items()]


def references(comparison: Comparison) -> dict[str, float]:
    """Properties of the data, not of a method (each metric's ``context``: evaluator accuracy, real-vs-real FID, …).

    One set per data set the runs used (named by the data when there are several, with --allow-mixed),
    since each data set has its own evaluator."""
    out: dict[str, float] = {}
    datasets = {o.results.data for o in comparison.outcomes}
    for o in comparison.outcomes:
        tag = f" ({o.results.data})" if len(datasets) > 1 else ""
        for result in o.results.results.values():
            for name, value in result.context.items():
                out.setdefault(f"{name}{tag}", value)
    return out


def notes(comparison: Comparison) -> list[str]:
    """What the numbers mean: each metric's note, once, then how cells read."""
    out: list[str] = []
    for o in comparison.outcomes:
        out += [r.note for r in o.results.results.values() if r.note and r.note not in out]
    return [*out, "Cells show the median over seeds, with (min–max) when there are several."]


def as_json(comparison: Comparison, report_dir: Path | None = None) -> dict[str, Any]:
    """The table (median, min, max, values per method) plus the runs behind it."""
    heads = headlines(comparison)
    return {
        "methods": comparison.labels,
        "seeds": comparison.seeds,
        "steps": comparison.steps,
        "overrides": comparison.overrides,
        "table": table(comparison),
        "rows": {key: {"title": h.title(), "unit": h.unit, "higher_is_better": h.higher_is_better}
                 for key, h in heads.items()},
        "references": references(comparison),
        "runs": [{"method": o.label, "seed": o.seed, "run_dir": str(o.run_dir), "wall_s": o.wall_s}
                 for o in comparison.outcomes],
        "report": None if report_dir is None else str(report_dir),
    }
