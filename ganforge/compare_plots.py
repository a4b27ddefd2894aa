"""The comparison's plots (matplotlib, object API, no display needed): L_I over steps and loss curves.

The L_I plot is the InfoGAN paper's Figure 1: the variational bound L_I per latent factor over
training, one line per method (median over seeds, shaded min–max), with H(c) dashed as its
ceiling. Curves come from each run's metrics.jsonl (the generator phase's logs, measured on fresh
samples with the current Q; the critic phase's where a run has no generator-phase value).
"""

from __future__ import annotations

import io
import statistics
from pathlib import Path
from typing import Any

from ganforge import logkeys
from ganforge.checkpoint import atomic_write

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f"]


def series(log: list[dict[str, Any]], terms: list[tuple[str, str]]) -> dict[int, float]:
    """step → value of the first of ``terms`` (``(phase, term)``, found by :func:`ganforge.logkeys.find`) that the run logged."""
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


def _factors(comparison: Any) -> list[str]:
    names: list[str] = []
    for o in comparison.outcomes:
        for row in o.log:
            for key in row:
                prefix, _, rest = key.partition("/L_I/")  # <phase>/<regularizer>/L_I/<factor> (or <phase>/L_I/…)
                if rest and logkeys.phase_of(prefix) in ("generator", "critic") and rest not in names:
                    names.append(rest)
    return names


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


def plot_mutual_information(comparison: Any, entropies: dict[str, float], path: Path) -> Path | None:
    """L_I per factor over steps for every method that logs it; ``None`` when none does."""
    from matplotlib.figure import Figure

    factors = _factors(comparison)
    if not factors:
        return None
    fig = Figure(figsize=(4.6 * len(factors), 3.8), layout="constrained")
    axes = fig.subplots(1, len(factors), squeeze=False)[0]
    for ax, f in zip(axes, factors, strict=True):
        _lines(ax, comparison, [("generator", f"L_I/{f}"), ("critic", f"L_I/{f}")])
        if f in entropies:  # discrete codes only: H(c) is their ceiling
            ax.axhline(entropies[f], color="gray", linestyle="--", linewidth=1, label=f"H({f}) = {entropies[f]:.3f}")
        ax.set_title(f"L_I for {f}")
        ax.set_xlabel("generator step")
        ax.set_ylabel("nats")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Mutual-information bound L_I over training (InfoGAN paper, Figure 1)")
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


def plot_code_accuracy(comparison: Any, path: Path) -> Path | None:
    """Each discrete code's accuracy at every kept checkpoint, one line per method (median over seeds)."""
    from matplotlib.figure import Figure

    factors = sorted({f for o in comparison.outcomes for acc in o.accuracy_by_step.values() for f in acc})
    if not factors:
        return None
    fig = Figure(figsize=(4.6 * len(factors), 3.6), layout="constrained")
    for ax, f in zip(fig.subplots(1, len(factors), squeeze=False)[0], factors, strict=True):
        for i, label in enumerate(comparison.labels):
            runs = [{s: a[f] for s, a in o.accuracy_by_step.items() if f in a} for o in comparison.of(label)]
            runs = [r for r in runs if r]
            if runs:
                steps, med, lo, hi = band(runs)
                ax.plot(steps, med, marker="o", label=label, color=COLORS[i % len(COLORS)])
                if len(runs) > 1:
                    ax.fill_between(steps, lo, hi, color=COLORS[i % len(COLORS)], alpha=0.2, linewidth=0)
        ax.set_title(f"code accuracy of {f} at the kept checkpoints")
        ax.set_xlabel("generator step")
        ax.set_ylim(0, 1)
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
