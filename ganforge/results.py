"""Typed evaluation results: what a metric returns and what ``eval``, ``compare`` and the reports render.

A metric's :meth:`~ganforge.interfaces.Metric.compute` returns a :class:`MetricResult`: its
headline numbers (:class:`Headline`: display name, unit, direction, format, an optional reference
line), optional small tables (:class:`ResultTable`, e.g. a confusion matrix) and free-form
``details`` (JSON-serialisable, written to ``eval --json`` and the compare report's results.json).
Every table, plot and report renders these fields and nothing else, so a third-party metric is shown
like a built-in one; the core knows no metric's names. ``evaluate()`` returns an :class:`Evaluation`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Headline:
    """One number a metric reports, with what a table needs to show it.

    ``key`` names the number within its metric ("c1" for a per-code number; "" for the metric's one
    number): compare's row for it is ``<metric>/<key>``. ``reference`` is a line to read the value
    against: a ceiling (H(c) of a discrete code), or the same number for real data (real-vs-real
    FID); ``reference_label`` says which. ``log_term`` names the ``metrics.jsonl`` term that tracks
    the same quantity during training (e.g. ``L_I/c1``): reports plot it over steps beside the
    reference line. ``std`` is the standard deviation of the estimate itself (KID over its subsets),
    shown as ``value ± std`` for one run.
    """

    label: str
    value: float
    key: str = ""
    unit: str = ""
    #: ``True``: larger is better; ``False``: smaller is better; ``None``: no direction (a description)
    higher_is_better: bool | None = True
    format: str = "{:.3f}"
    reference: float | None = None
    reference_label: str = ""
    log_term: str = ""
    std: float | None = None

    def text(self, value: float | None = None) -> str:
        """``value`` (this headline's own by default, then ``± std`` when it has one) in its format, with its unit."""
        v = self.value if value is None else value
        shown = self.format.format(v) if math.isfinite(v) else str(v)
        if value is None and self.std is not None:
            shown += f" ± {self.format.format(self.std)}"
        return f"{shown} {self.unit}".rstrip()

    def title(self) -> str:
        """The display name with the unit and the reference line: ``L_I c1 (nats; ceiling H(c1) = 2.303)``."""
        extra = [self.unit] if self.unit else []
        if self.reference is not None:
            extra.append(f"{self.reference_label or 'reference'} = {self.format.format(self.reference)}")
        return f"{self.label} ({'; '.join(extra)})" if extra else self.label


@dataclass(frozen=True)
class ResultTable:
    """A small table of text cells (a confusion matrix, codes against factors); ``bold`` marks cells (row, column)."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    bold: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class MetricResult:
    """What one metric computed for one run.

    ``score`` is the one number ``train.keep_best`` ranks checkpoints by (``None``: the metric has
    none), larger being better when ``higher_is_better``. ``context`` holds numbers about the data or
    the evaluator rather than the method (an evaluator's held-out accuracy), shown once per data set.
    ``note`` says in a sentence what the numbers mean, for the report.
    """

    headlines: tuple[Headline, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    tables: tuple[ResultTable, ...] = ()
    score: float | None = None
    higher_is_better: bool = True
    context: dict[str, float] = field(default_factory=dict)
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> MetricResult:
        return cls(headlines=tuple(Headline(**h) for h in raw.get("headlines", ())), details=raw.get("details", {}),
                   tables=tuple(ResultTable(t["title"], tuple(t["columns"]), tuple(tuple(r) for r in t["rows"]),
                                            tuple(tuple(b) for b in t.get("bold", ()))) for t in raw.get("tables", ())),
                   score=raw.get("score"), higher_is_better=raw.get("higher_is_better", True),
                   context=raw.get("context", {}), note=raw.get("note", ""))


@dataclass(frozen=True)
class Evaluation:
    """``evaluate()``'s answer for one run at one checkpoint: each metric's result, and why others were not computed."""

    run: str
    step: int
    data: str
    results: dict[str, MetricResult] = field(default_factory=dict)
    not_applicable: dict[str, str] = field(default_factory=dict)
    generator: str = "raw"  # which generator weights drew the images: "ema" (train.ema's average) or "raw"

    def details(self, name: str) -> dict[str, Any]:
        """The free-form details of metric ``name`` (empty when it was not computed)."""
        got = self.results.get(name)
        return got.details if got is not None else {}

    def numbers(self) -> dict[str, Headline]:
        """Every headline, keyed ``<metric>`` or ``<metric>/<key>`` (compare's row keys), in metric order."""
        return {f"{name}/{h.key}" if h.key else name: h for name, r in self.results.items() for h in r.headlines}

    def to_json(self) -> dict[str, Any]:
        return {"run": self.run, "step": self.step, "data": self.data,
                "results": {k: v.to_json() for k, v in self.results.items()}, "not_applicable": self.not_applicable,
                "generator": self.generator}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Evaluation:
        return cls(raw["run"], int(raw["step"]), raw.get("data", ""),
                   {k: MetricResult.from_json(v) for k, v in raw.get("results", {}).items()}, raw.get("not_applicable", {}),
                   str(raw.get("generator", "raw")))
