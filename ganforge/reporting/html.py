"""The comparison's report directory: ``report.html`` (self-contained), ``report.md``, plots and grids.

``report.html`` embeds every picture as base64, so the one file can be mailed or archived; the
PNGs also sit beside it for ``report.md`` and for reuse. Layout: the table, the reference numbers of
the data, the headline numbers logged over training (InfoGAN's Figure 1 for L_I) and at every kept
checkpoint, loss curves, then each method's final sample grid and
latent traversals side by side.
"""

from __future__ import annotations

import base64
import json
import shutil
import time
from pathlib import Path

from ganforge.safefiles import atomic_write
from ganforge.reporting.compare import Comparison
from ganforge.reporting.table import as_json, notes, references, rows
from ganforge.reporting.plots import plot_checkpoints, plot_losses, plot_scores, plot_tracked
from ganforge.recipe.model import read_toml
from ganforge.runs.directory import RECIPE_FILE



def _newest(folder: Path, pattern: str) -> Path | None:
    found = sorted(folder.glob(pattern))
    return found[-1] if found else None


def pictures(comparison: Comparison, report_dir: Path) -> dict[str, list[tuple[str, Path]]]:
    """Per method (its first run): the final sample grid and traversal grids, copied into the report."""
    out: dict[str, list[tuple[str, Path]]] = {}
    for label in comparison.labels:
        runs = comparison.of(label)
        if not runs:
            continue
        run_dir = runs[0].run_dir
        items: list[tuple[str, Path]] = []
        real = run_dir / "samples" / "real.png"
        if real.is_file():
            items.append(("real training images", real))
        grid = _newest(run_dir / "samples", "step-*.png")
        recipe = read_toml(run_dir / RECIPE_FILE)
        ema = recipe.get("train", {}).get("ema", {}).get("half_life_kimg", 0) > 0  # training grids drawn by the average
        if grid is not None:
            items.append((f"samples (seed {runs[0].seed}, {grid.stem}{', EMA generator' if ema else ''})", grid))
        factors = recipe.get("latent", {}).get("factors", [])
        for f in factors:
            trav = _newest(run_dir / "traversals", f"{f['name']}-step-*.png")
            if trav is not None:
                items.append((f"traversal of {f['name']} ({f['kind']}): one column per value", trav))
        copied = []
        for i, (caption, src) in enumerate(items):
            dst = report_dir / f"{label}-{i}-{src.name}"
            shutil.copyfile(src, dst)
            copied.append((caption, dst))
        out[label] = copied
    return out


def _display_width(path: Path) -> int:
    """A grid's width on the page: up to 4× its pixels (nearest neighbour: CSS pixelated), at most 1200 px."""
    from PIL import Image

    with Image.open(path) as img:
        width = img.width
    return width * max(1, min(4, 1200 // max(width, 1)))


def _b64(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def render_markdown(comparison: Comparison, plots: dict[str, Path | None], pics: dict[str, list[tuple[str, Path]]],
                    command: str) -> str:
    lines = ["# ganforge compare: " + ", ".join(comparison.labels), ""]
    if comparison.mixed:
        lines += ["**Mixed data (--allow-mixed): these runs trained on different data, so their numbers are not "
                  "comparable:** " + "; ".join(comparison.mixed), ""]
    lines += [f"`{command}`", ""]
    lines += ["| metric | " + " | ".join(comparison.labels) + " |", "|---|" + "---:|" * len(comparison.labels)]
    lines += [f"| {name} | " + " | ".join(cells) + " |" for name, cells in rows(comparison)]
    lines += [""] + [f"- {k}: {v:.4g}" for k, v in references(comparison).items()]
    lines += [""] + [f"- {n}" for n in notes(comparison)] + [""]
    for title, path in plots.items():
        if path is not None:
            lines += [f"## {title}", "", f"![{title}]({path.name})", ""]
    lines += ["## Samples and traversals", ""]
    for label, items in pics.items():
        lines += [f"### {label}", ""] + [f"![{c}]({p.name})  \n{c}\n" for c, p in items]
    lines += ["## Runs", ""] + [f"- {o.label} seed {o.seed}: `{o.run_dir}`" for o in comparison.outcomes]
    return "\n".join(lines) + "\n"


def render_html(comparison: Comparison, plots: dict[str, Path | None], pics: dict[str, list[tuple[str, Path]]],
                command: str) -> str:
    """``report.html`` from the Jinja2 template ``templates/report/report.html.j2`` (autoescaped)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("ganforge", "templates/report"),
                             autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.get_template("report.html.j2").render(
        labels=comparison.labels, mixed=comparison.mixed, command=command,
        data=comparison.outcomes[0].results.data if comparison.outcomes else "",
        written=time.strftime("%Y-%m-%d %H:%M"), rows=rows(comparison), references=list(references(comparison).items()),
        notes=notes(comparison), plots=[(title, _b64(path)) for title, path in plots.items() if path is not None],
        pictures=[(label, [(c, _b64(p), _display_width(p)) for c, p in items]) for label, items in pics.items()],
        outcomes=[{"label": o.label, "seed": o.seed, "run_dir": str(o.run_dir)} for o in comparison.outcomes],
    )


def write_report(comparison: Comparison, report_dir: Path) -> Path:
    """Write the report directory; returns the path of ``report.html``."""
    report_dir.mkdir(parents=True, exist_ok=True)
    plots = {
        "Headline numbers over training steps": plot_tracked(comparison, report_dir / "tracked.png"),
        "Loss curves": plot_losses(comparison, report_dir / "losses.png"),
        "D(x) and D(G(z)) over training": plot_scores(comparison, report_dir / "critic_scores.png"),
        "Headline numbers at the kept checkpoints": plot_checkpoints(comparison, report_dir / "checkpoints.png"),
    }
    pics = pictures(comparison, report_dir)
    atomic_write(report_dir / "results.json", json.dumps(as_json(comparison, report_dir), indent=2, default=str).encode())
    atomic_write(report_dir / "report.md", render_markdown(comparison, plots, pics, comparison.command).encode())
    atomic_write(report_dir / "report.html", render_html(comparison, plots, pics, comparison.command).encode())
    return report_dir / "report.html"
