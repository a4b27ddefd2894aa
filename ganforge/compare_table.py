"""The numbers of a comparison: one row per metric (median and range over each method's seeds), the
data's reference numbers, and the JSON form of both. Any metric's headline number gets a row; the
core's own metrics have display names and formats in ``ROWS``."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from ganforge.compare import Comparison, RunOutcome

#: row key → (display name, number format); rows appear in this order, then any others
ROWS: dict[str, tuple[str, str]] = {
    "code_accuracy": ("code accuracy ({f})", "{:.3f}"),
    "L_I": ("L_I {f} (nats; H = {h:.3f})", "{:.3f}"),
    "domain_fid": ("domain FID", "{:.2f}"),
    "classifier_score": ("classifier score", "{:.2f}"),
    "label_accuracy": ("label accuracy", "{:.3f}"),
    "mig": ("MIG (ground-truth factors)", "{:.3f}"),
    "factor_vae": ("FactorVAE score (ground-truth factors)", "{:.3f}"),
    "images_per_s": ("images/s (median)", "{:.0f}"),
    "wall_s": ("wall time (s)", "{:.1f}"),
}


def run_numbers(outcome: RunOutcome) -> dict[str, float]:
    """The table's numbers for one run, keyed ``code_accuracy/c1``, ``L_I/c1``, ``domain_fid``, …"""
    r = outcome.results
    out: dict[str, float] = {}
    for f, v in r.get("code_accuracy", {}).items():
        out[f"code_accuracy/{f}"] = v["accuracy"]
    for f, v in (r.get("mutual_information") or {}).get("L_I", {}).items():
        out[f"L_I/{f}"] = v
    if "domain_fid" in r:
        out["domain_fid"] = r["domain_fid"]["fid"]
    if "classifier_score" in r:
        out["classifier_score"] = r["classifier_score"]["generated"]
    if "label_accuracy" in r:
        out["label_accuracy"] = r["label_accuracy"]["accuracy"]
    if "mig" in r:
        out["mig"] = r["mig"]["mig"]
    if "factor_vae" in r:
        out["factor_vae"] = r["factor_vae"]["score"]
    if (r.get("training") or {}).get("images_per_s_median") is not None:
        out["images_per_s"] = r["training"]["images_per_s_median"]
    if outcome.wall_s is not None:
        out["wall_s"] = outcome.wall_s
    shown = {"code_accuracy", "mutual_information", *ROWS}
    for name, head in (r.get("headlines") or {}).items():  # any other metric (a plugin's): its headline number
        if name not in shown:
            out[name] = head["value"]
    return out


def spread(values: list[float]) -> dict[str, Any]:
    """Median, min, max and the values themselves."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "values": values}


def table(comparison: Comparison) -> dict[str, dict[str, dict[str, Any]]]:
    """Row key → column label → :func:`spread` of that number over the column's runs (absent: n/a)."""
    per_label = {label: [run_numbers(o) for o in comparison.of(label)] for label in comparison.labels}
    keys: list[str] = []
    for prefix in ROWS:
        for numbers in (n for rows in per_label.values() for n in rows):
            keys += [key for key in numbers if key.split("/")[0] == prefix and key not in keys]
    for numbers in (n for rows in per_label.values() for n in rows):  # then any other metric, in name order
        keys += sorted(key for key in numbers if key.split("/")[0] not in ROWS and key not in keys)
    return {key: {label: spread([n[key] for n in rows if key in n])
                  for label, rows in per_label.items() if any(key in n for n in rows)}
            for key in keys}


def entropies(comparison: Comparison) -> dict[str, float]:
    """H(c) per *discrete* factor name, from the runs' mutual-information results: the ceiling of L_I.
    (For a continuous code the prior's differential entropy is no bound on L_I, so it is not shown.)"""
    out: dict[str, float] = {}
    for o in comparison.outcomes:
        mi = o.results.get("mutual_information") or {}
        discrete = mi.get("discrete", {})
        out.update({f: h for f, h in mi.get("H", {}).items() if discrete.get(f, True)})
    return out


def row_name(key: str, comparison: Comparison) -> str:
    prefix, _, factor = key.partition("/")
    if prefix not in ROWS:
        return key  # a metric the core has no display name for (a plugin's): its registered name
    name = ROWS[prefix][0]
    ceilings = entropies(comparison)
    if prefix == "L_I" and factor not in ceilings:
        return f"L_I {factor} (nats)"
    return name.format(f=factor, h=ceilings.get(factor, float("nan")))


def cell(key: str, stat: dict[str, Any] | None) -> str:
    """``median`` alone, or ``median (min–max)`` over several seeds; ``–`` when the metric does not apply."""
    if stat is None:
        return "–"
    fmt = ROWS.get(key.split("/")[0], ("", "{:.4g}"))[1]
    text = fmt.format(stat["median"])
    if len(stat["values"]) > 1:
        text += f" ({fmt.format(stat['min'])}–{fmt.format(stat['max'])})"
    return text


def references(comparison: Comparison) -> dict[str, float]:
    """Properties of the data, not of a method: evaluator accuracy, real-vs-real FID, real classifier score.

    One set per data set the runs used (named by the data when there are several, with --allow-mixed),
    since each data set has its own evaluator."""
    out: dict[str, float] = {}
    datasets = {o.results.get("data", "") for o in comparison.outcomes}
    for o in comparison.outcomes:
        r = o.results
        tag = f" ({r.get('data', '')})" if len(datasets) > 1 else ""
        if "domain_fid" in r:
            out[f"evaluator held-out accuracy{tag}"] = r["domain_fid"]["evaluator_heldout_accuracy"]
            out[f"domain FID, real vs real halves{tag}"] = r["domain_fid"]["real_vs_real"]
        if "classifier_score" in r:
            out[f"classifier score of real images{tag}"] = r["classifier_score"]["real"]
    return out


def as_json(comparison: Comparison, report_dir: Path | None = None) -> dict[str, Any]:
    """The table (median, min, max, values per method) plus the runs behind it."""
    return {
        "methods": comparison.labels,
        "seeds": comparison.seeds,
        "steps": comparison.steps,
        "overrides": comparison.overrides,
        "table": table(comparison),
        "references": references(comparison),
        "runs": [{"method": o.label, "seed": o.seed, "run_dir": str(o.run_dir), "wall_s": o.wall_s}
                 for o in comparison.outcomes],
        "report": None if report_dir is None else str(report_dir),
    }
