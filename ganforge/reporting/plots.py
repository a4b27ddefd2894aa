"""The comparison's plots (matplotlib, object API, no display needed): headline numbers over training, loss
curves, the critic's scores.

Any headline that names the training-log term tracking it (``Headline.log_term``) is plotted over
steps, one line per method (median over seeds, shaded min–max), with its reference line dashed: for
InfoGAN's L_I this is the paper's Figure 1, H(c) being a discrete code's ceiling. Curves come from
each run's metrics.jsonl (the generator phase's logs where there are some, else the critic phase's).
"""

from __future__ import annotations

import io
import statistics
from pathlib import Path
from typing import Any

from ganforge.reporting import logkeys
from ganforge.safefiles import atomic_write

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f"]


def series(log: list[dict[str, Any]], terms: list[tuple[str, str]]) -> dict[int, float]:
    """step → value of the first of ``terms`` (``(phase, term)``, found by :func:`ganforge.reporting.logkeys.find`) that the run logged."""
    keys = {k for row in log for k in row}
    for phase, term in terms:
        key = logkeys.find(keys, phase, term)
        points = {int(row["step"]): float(row[key]) for row in log if key in row} if key else {}
        if points:
            return points
    return {}


def band(runs: list[dict[int, float]]) -> tuple[list[int], list[float], list[float], list[float]]:
    """Steps every run logged, with the median, min and max over runs at each."""
    steps = sorted(set.intersection(*(set(r) for r in runs)))
    values = [[r[s] for r in runs] for s in steps]
    return steps, [statistics.median(v) for v in values], [min(v) for v in values], [max(v) for v in values]


def _tracked(comparison: Any) -> dict[str, Any]:
    """``log_term`` → the first headline that names it (its label, unit, reference line), in row order."""
    out: dict[str, Any] = {}
    for o in comparison.outcomes:
        for head in o.results.numbers().values():
            if head.log_term:
                out.setdefault(head.log_term, head)
    return out


def _save(fig: Any, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    atomic_write(path, buf.getvalue())
    return path


def _lines(ax: Any, comparison: Any, keys: list[tuple[str, str]]) -> bool:
    """One line per method (median over its seeds, min–max shaded); whether anything was drawn."""
    drawn = False
    for i, label in enumerate(comparison.labels):
        runs = [s for s in (series(o.log, keys) for o in comparison.of(label)) if s]
        if not runs:
            continue
        steps, med, lo, hi = band(runs)
        color = COLORS[i % len(COLORS)]
        ax.plot(steps, med, label=label, color=color, linewidth=1.8)
        if len(runs) > 1:
            ax.fill_between(steps, lo, hi, color=color, alpha=0.2, linewidth=0)
        drawn = True
    return drawn


def plot_tracked(comparison: Any, path: Path) -> Path | None:
    """Each headline's ``log_term`` over steps (the training log's values), one line per method, with the
    headline's reference line dashed (for InfoGAN's L_I of a discrete code: its ceiling H(c), the paper's
    Figure 1); ``None`` when no headline names a logged term."""
    from matplotlib.figure import Figure

    tracked = {term: head for term, head in _tracked(comparison).items()
               if any(series(o.log, [("generator", term), ("critic", term)]) for o in comparison.outcomes)}
    if not tracked:
        return None
    fig = Figure(figsize=(4.6 * len(tracked), 3.8), layout="constrained")
    axes = fig.subplots(1, len(tracked), squeeze=False)[0]
    for ax, (term, head) in zip(axes, tracked.items(), strict=True):
        _lines(ax, comparison, [("generator", term), ("critic", term)])  # the generator phase's value where logged
        if head.reference is not None:
            ax.axhline(head.reference, color="gray", linestyle="--", linewidth=1,
                       label=f"{head.reference_label or 'reference'} = {head.format.format(head.reference)}")
        ax.set_title(f"{head.label} (training log: {term})", fontsize=10)
        ax.set_xlabel("generator step")
        ax.set_ylabel(head.unit)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _save(fig, path)


def plot_scores(comparison: Any, path: Path) -> Path | None:
    """The critic's mean output on real images, D(x), and on generated ones, D(G(z)), over steps."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.2, 3.6), layout="constrained")
    axes = fig.subplots(1, 2)
    drawn = False
    for ax, term in zip(axes, ("D(x)", "D(G(z))"), strict=True):
        if not _lines(ax, comparison, [("critic", term)]):
            continue  # runs from before these were logged
        drawn = True
        ax.set_title(f"{term}: the critic on {'real' if term == 'D(x)' else 'generated'} images")
        ax.set_xlabel("generator step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _save(fig, path) if drawn else None


def plot_checkpoints(comparison: Any, path: Path) -> Path | None:
    """The headlines of the metrics evaluated at every kept checkpoint (``Metric.over_checkpoints``, e.g. each
    discrete code's accuracy), one line per method (median over seeds, min–max shaded)."""
    from matplotlib.figure import Figure

    heads: dict[str, Any] = {}
    for o in comparison.outcomes:
        for numbers in o.by_checkpoint.values():
            for key, head in numbers.items():
                heads.setdefault(key, head)
    if not heads:
        return None
    fig = Figure(figsize=(4.6 * len(heads), 3.6), layout="constrained")
    for ax, (key, head) in zip(fig.subplots(1, len(heads), squeeze=False)[0], heads.items(), strict=True):
        for i, label in enumerate(comparison.labels):
            runs = [{s: n[key].value for s, n in o.by_checkpoint.items() if key in n} for o in comparison.of(label)]
            runs = [r for r in runs if r]
            if runs:
                steps, med, lo, hi = band(runs)
                ax.plot(steps, med, marker="o", label=label, color=COLORS[i % len(COLORS)])
                if len(runs) > 1:
                    ax.fill_between(steps, lo, hi, color=COLORS[i % len(COLORS)], alpha=0.2, linewidth=0)
        ax.set_title(f"{head.label} at the kept checkpoints", fontsize=10)
        ax.set_xlabel("generator step")
        ax.set_ylabel(head.unit)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _save(fig, path)


def plot_losses(comparison: Any, path: Path) -> Path:
    """The critic's and the generator's adversarial loss over steps, one line per method."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.2, 3.6), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, phase in zip(axes, ("critic", "generator"), strict=True):
        _lines(ax, comparison, [(phase, "adv")])
        ax.set_title(f"{phase} adversarial loss")
        ax.set_xlabel("generator step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _save(fig, path)
