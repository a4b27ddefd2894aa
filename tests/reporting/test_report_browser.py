"""The compare report as a person sees it: rendered by headless Chromium, with its table and plots.

Skipped, with the reason, where Debian's chromium is not installed (`.ci/run` installs it)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from PIL import Image, ImageStat

from ganforge.reporting.compare import run_comparison
from ganforge.reporting.html import write_report
from ganforge.testing import make_registry, tiny_recipe

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")
@pytest.mark.slow
def test_headless_chromium_renders_the_report_with_its_plots(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    raw = tiny_recipe("infogan", [{"name": "c1", "kind": "categorical", "k": 4}],
                      generator={"kind": "mlp", "hidden": 32, "layers": 1}, critic={"kind": "mlp", "hidden": 32, "layers": 1},
                      data={"size": 256}, train={"log_every": 1, "sample_every": 4})
    recipe = tmp_path / "info.toml"
    recipe.write_text(tomli_w.dumps(raw))
    comparison = run_comparison([str(recipe)], make_registry(), steps=4, out=tmp_path / "cmp", progress=False,
                                say=lambda m: None)
    page = write_report(comparison, tmp_path / "cmp" / "report")
    common = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,2000"]
    dom = subprocess.run([*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert "<table" in dom and dom.count('class="plot"') >= 3 and dom.count('class="grid"') >= 3, dom[:500]
    shot = tmp_path / "page.png"
    subprocess.run([*common, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120, check=True)
    with Image.open(shot) as img:
        assert img.size == (1400, 2000)
        stat = ImageStat.Stat(img.convert("L"))
        assert stat.stddev[0] > 20  # text, plots and grids drawn, not a blank or error page
