"""``ganforge compare``: argument plumbing, the table's statistics, and one end-to-end run on tiny data."""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from typer.testing import CliRunner

from ganforge.cli.app import app
from ganforge.reporting.compare import (
    Comparison,
    RunOutcome,
    base_recipe,
    preset_recipe,
    named_recipes,
    plan_targets,
    Target,
    run_overrides,
    split_seeds,
    train_target,
)
from ganforge.reporting.table import cell, headlines, row_name, table
from ganforge.reporting.table import rows as compare_rows
from ganforge.reporting.plots import band
from ganforge.errors import GanforgeError
from ganforge.registry import Registry, load_registry
from ganforge.results import Evaluation, Headline, MetricResult

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()

#: tiny InfoGAN, its Figure-1 baseline (Q trained, no reward to G) and a CGAN on 256 synthetic blobs
SMALL_NETS = {"generator": {"kind": "mlp", "hidden": 32, "layers": 1}, "critic": {"kind": "mlp", "hidden": 32, "layers": 1}}
BASE: dict[str, Any] = {
    "run": {"device": "cpu"}, "data": {"source": "synthetic", "size": 256, "batch_size": 32},
    "latent": {"noise_dim": 8, "factors": [{"name": "c1", "kind": "categorical", "k": 4}]},
    "train": {"steps": 6, "log_every": 2, "sample_every": 6, "checkpoint_every": 6, "sample_grid": 4, "precision": "fp32"},
}
RECIPES: dict[str, dict[str, Any]] = {
    "info": {**BASE, **SMALL_NETS, "model": {"method": "infogan"}},
    "plain": {**BASE, **SMALL_NETS, "model": {"method": "vanilla"},
              "regularizers": [{"kind": "mutual_information", "generator_reward": False}]},
    "cond": {**BASE, "model": {"method": "cgan"},
             "latent": {"noise_dim": 8, "factors": [{"name": "y", "kind": "label", "k": 4}]},
             "generator": {"kind": "cgan_mnist", "hidden": 32, "channels": 8},
             "critic": {"kind": "cgan_mnist", "hidden": 32, "channels": 8}},
}


@pytest.fixture(scope="module")
def full_registry() -> Registry:
    return load_registry()


def _recipes(tmp_path: Path) -> list[str]:
    paths = []
    for name, raw in RECIPES.items():
        path = tmp_path / f"{name}.toml"
        path.write_text(f"# ganforge run {name}.toml\n" + tomli_w.dumps(raw))
        paths.append(str(path))
    return paths


def test_seeds_from_option_and_trailing_integers() -> None:
    assert split_seeds(None, ["infogan"]) == ([0], ["infogan"])
    assert split_seeds(["0"], ["infogan", "1", "vanilla", "2"]) == ([0, 1, 2], ["infogan", "vanilla"])
    assert split_seeds(["3,4"], ["cgan"]) == ([3, 4], ["cgan"])
    with pytest.raises(GanforgeError, match="non-negative integers"):
        split_seeds(["x"], [])
    with pytest.raises(GanforgeError, match="a seed twice"):
        split_seeds(["1", "1"], [])


def test_targets_are_methods_recipes_or_run_dirs(full_registry: Registry, tmp_path: Path) -> None:
    assert base_recipe("infogan") == ROOT / "recipes" / "infogan_mnist.toml"
    targets = plan_targets(["cgan", "vanilla", _recipes(tmp_path)[0]], full_registry)
    assert [(t.label, t.recipe) for t in targets] == [
        ("cgan", ROOT / "recipes" / "cgan_mnist.toml"), ("vanilla", ROOT / "recipes" / "vanilla_mnist.toml"),
        ("info", tmp_path / "info.toml")]
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "recipe.toml").write_text(tomli_w.dumps(RECIPES["info"]))
    reused = plan_targets([str(run_dir)], full_registry)
    assert reused[0].label == "infogan" and reused[0].runs == [run_dir] and reused[0].recipe is None
    (plus,) = plan_targets(["infogan_plus"], full_registry)  # a named recipe: recipes/infogan_plus_mnist.toml
    assert (plus.label, plus.recipe) == ("infogan_plus", ROOT / "recipes" / "infogan_plus_mnist.toml")
    assert "infogan_plus" in named_recipes() and "infogan_plus" not in named_recipes("shapes")
    for names, message in [(["nosuch"], r"neither a method .* named recipe for --data mnist \(.*infogan_plus"),
                           (["infogan_plus", "infogan_plus"], "named twice"), (["infogan", "infogan"], "named twice"),
                           ([str(tmp_path / "gone.toml")], "recipe file not found"), ([], "at least one"),
                           ([str(tmp_path)], "not a ganforge run directory")]:
        with pytest.raises(GanforgeError, match=message):
            plan_targets(names, full_registry)


def test_fashion_mnist_uses_a_method_s_own_recipe_else_its_mnist_recipe_on_fashion_mnist(tmp_path: Path) -> None:
    (tmp_path / "m_mnist.toml").write_text("")
    (tmp_path / "m_plus_mnist.toml").write_text("")
    (tmp_path / "m_plus_fashion_mnist.toml").write_text("")
    search = (tmp_path,)
    assert preset_recipe("m_plus", "fashion-mnist", search) == (tmp_path / "m_plus_fashion_mnist.toml", [])
    assert preset_recipe("m", "fashion-mnist", search) == (tmp_path / "m_mnist.toml", ["data.source=fashion_mnist"])
    assert preset_recipe("m_plus", "mnist", search) == (tmp_path / "m_plus_mnist.toml", [])
    # the Fashion recipe is not a method of its own for --data mnist
    assert named_recipes("mnist", search) == named_recipes("fashion-mnist", search) == ["m", "m_plus"]
    with pytest.raises(GanforgeError, match=r"m_shapes\.toml.*m has: cifar10, fashion-mnist, mnist"):
        preset_recipe("m", "shapes", search)
    assert preset_recipe("infogan_plus", "fashion-mnist")[0] == ROOT / "recipes" / "infogan_plus_fashion_mnist.toml"


def test_run_overrides_share_steps_and_seed_and_keep_user_keys() -> None:
    raw = {"train": {"log_every": 50}}
    assert run_overrides(raw, ["data.limit=5"], 300, 2) == ["data.limit=5", "train.steps=300", "train.log_every=10", "run.seed=2"]
    assert run_overrides(raw, ["train.log_every=7"], 300, 0) == ["train.log_every=7", "train.steps=300", "run.seed=0"]
    assert run_overrides(raw, [], None, 1) == ["run.seed=1"]


def test_out_dir_never_mixes_runs_of_different_recipes(full_registry: Registry, tmp_path: Path) -> None:
    recipe = Path(_recipes(tmp_path)[0])
    run_dir = tmp_path / "out" / "runs" / "info-seed0"
    run_dir.mkdir(parents=True)
    (run_dir / "compare.json").write_text(json.dumps({"recipe": {"other": 1}, "wall_s": 1.0}))
    args = (Target("info", recipe), 0, [], 4, tmp_path / "out", full_registry, "cpu", False, lambda m: None)
    with pytest.raises(GanforgeError, match="a run of a different recipe"):
        train_target(*args)
    (run_dir / "compare.json").unlink()
    (run_dir / "metrics.jsonl").write_text("")
    with pytest.raises(GanforgeError, match="an unfinished run.*--resume"):
        train_target(*args)


def _outcome(label: str, seed: int, results: dict[str, MetricResult], wall: float | None = 1.0) -> RunOutcome:
    return RunOutcome(label, seed, Path(f"/runs/{label}-{seed}"), wall, Evaluation(f"/runs/{label}-{seed}", 4, "data", results), [])


def _one(name: str, value: float, key: str = "", **head: Any) -> dict[str, MetricResult]:
    return {name: MetricResult((Headline(name if not key else f"{name} {key}", value, key=key, **head),))}


def test_table_reports_median_and_range_over_seeds() -> None:
    mi = lambda v: _one("mutual_information", v, "c1", unit="nats")  # noqa: E731
    outcomes = [_outcome("a", 0, mi(2.0)), _outcome("a", 1, mi(2.2)), _outcome("a", 2, mi(1.0), wall=None),
                _outcome("b", 0, _one("label_accuracy", 0.5))]
    comparison = Comparison(Path("."), ["a", "b"], outcomes, 10, [0, 1, 2], [])
    rows = table(comparison)
    assert list(rows) == ["mutual_information/c1", "label_accuracy", "wall_s"]
    assert rows["mutual_information/c1"]["a"] == {"median": 2.0, "min": 1.0, "max": 2.2, "values": [2.0, 2.2, 1.0]}
    assert "b" not in rows["mutual_information/c1"] and "a" not in rows["label_accuracy"]
    assert rows["wall_s"]["a"]["values"] == [1.0, 1.0]  # the run without a wall time is left out
    heads = headlines(comparison)
    assert cell(heads["mutual_information/c1"], rows["mutual_information/c1"]["a"]) == "2.000 (1.000–2.200)"
    assert cell(heads["label_accuracy"], rows["label_accuracy"]["b"]) == "0.500"
    assert cell(heads["label_accuracy"], None) == "–"
    assert cell(heads["wall_s"], rows["wall_s"]["a"]) == "1.0 (1.0–1.0)"  # each row in its headline's format
    assert compare_rows(comparison)[0] == ("mutual_information c1 (nats)", ["2.000 (1.000–2.200)", "–"])


def test_a_headlines_std_is_shown_for_one_run_and_the_range_for_several() -> None:
    kid = lambda v: _one("domain_kid", v, std=0.01, format="{:.4f}", higher_is_better=False)  # noqa: E731
    outcomes = [_outcome("a", 0, kid(0.1)), _outcome("b", 0, kid(0.3)), _outcome("b", 1, kid(0.2))]
    comparison = Comparison(Path("."), ["a", "b"], outcomes, 10, [0, 1], [])
    rows = table(comparison)
    assert rows["domain_kid"]["a"]["std"] == 0.01 and "std" not in rows["domain_kid"]["b"]
    assert compare_rows(comparison)[0] == ("domain_kid", ["0.1000 ± 0.0100", "0.2500 (0.2000–0.3000)"])
    assert headlines(comparison)["domain_kid"].text() == "0.1000 ± 0.0100"  # eval's table


def test_table_shows_ground_truth_disentanglement_scores() -> None:
    shapes = lambda mig, fv: {**_one("mig", mig), **_one("factor_vae", fv)}  # noqa: E731
    outcomes = [_outcome("info", 0, shapes(0.3, 0.8)), _outcome("info", 1, shapes(0.1, 0.6)),
                _outcome("plain", 0, shapes(0.01, 0.3))]
    comparison = Comparison(Path("."), ["info", "plain"], outcomes, 10, [0, 1], [])
    rows = table(comparison)
    assert list(rows) == ["mig", "factor_vae", "wall_s"]
    assert rows["mig"]["info"]["values"] == [0.3, 0.1] and rows["factor_vae"]["plain"]["median"] == 0.3
    assert cell(headlines(comparison)["factor_vae"], rows["factor_vae"]["info"]) == "0.700 (0.600–0.800)"


def test_curve_band_uses_steps_all_seeds_logged() -> None:
    assert band([{1: 1.0, 2: 2.0, 3: 3.0}, {2: 4.0, 3: 5.0}, {2: 0.0, 3: 1.0}]) == ([2, 3], [2.0, 3.0], [0.0, 1.0], [4.0, 5.0])


def test_unknown_target_is_a_one_line_error() -> None:
    result = runner.invoke(app, ["compare", "nosuch"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "error: 'nosuch' is neither a method" in result.output


@pytest.mark.slow
def test_compare_end_to_end(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "cmp"
    result = runner.invoke(app, ["compare", *_recipes(tmp_path), "--steps", "4", "--seeds", "0", "1",
                                 "--out", str(out), "--json", "--set", "train.sample_every=2"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{\n"):])
    rows = report["table"]
    assert report["methods"] == ["info", "plain", "cond"] and report["seeds"] == [0, 1]
    assert set(rows["mutual_information/c1"]) == {"info", "plain"} and set(rows["label_accuracy"]) == {"cond"}
    assert report["rows"]["mutual_information/c1"]["title"] == "L_I c1 (nats; ceiling H(c1) = 1.386)"
    assert set(rows["domain_fid"]) == set(rows["classifier_score"]) == {"info", "plain", "cond"}
    assert len(rows["domain_fid"]["cond"]["values"]) == 2  # two seeds
    for key in ("domain_kid", "precision_recall/precision", "precision_recall/recall", "density_coverage/density",
                "density_coverage/coverage"):  # beside the domain FID
        assert set(rows[key]) == {"info", "plain", "cond"}, key
    assert sorted(p.name for p in (out / "runs").iterdir()) == [
        "cond-seed0", "cond-seed1", "info-seed0", "info-seed1", "plain-seed0", "plain-seed1"]
    assert '"step": 4' in (out / "runs" / "info-seed1" / "metrics.jsonl").read_text()  # --steps reached every run
    html = (out / "report" / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 2 + 3 * 2  # two plots, a grid and a traversal per method
    assert "Headline numbers at the kept checkpoints" in html and (out / "report" / "checkpoints.png").is_file()
    assert "domain KID" in html and "coverage (real vs real halves = " in html
    assert "code accuracy (c1) at the kept checkpoints" not in html  # titles are in the plot, not the page
    assert 'src="http' not in html and 'src="/' not in html  # self-contained
    for name in ("report.md", "tracked.png", "losses.png", "results.json"):
        assert (out / "report" / name).is_file(), name
    # finished runs can be compared again by path, without training
    again = runner.invoke(app, ["compare", str(out / "runs" / "info-seed0"), str(out / "runs" / "cond-seed0"),
                                "--out", str(tmp_path / "again")])
    assert again.exit_code == 0, again.output
    assert not [line for line in again.output.splitlines() if line.startswith("training ")]  # nothing trained
    assert "label accuracy" in again.output and "infogan" in again.output


def test_data_presets_pick_each_methods_recipe(full_registry: Registry) -> None:
    (shapes_info, shapes_plain) = plan_targets(["infogan", "vanilla"], full_registry, data="shapes")
    assert shapes_info.recipe == ROOT / "recipes" / "infogan_shapes.toml" and shapes_info.preset == []
    assert shapes_plain.recipe == ROOT / "recipes" / "vanilla_shapes.toml"
    glyphs = plan_targets(["infogan", "vanilla", "cgan"], full_registry, data="glyphs")
    assert [t.recipe.name for t in glyphs] == ["infogan_glyphs.toml", "vanilla_glyphs.toml", "cgan_glyphs.toml"]
    (fashion,) = plan_targets(["cgan"], full_registry, data="fashion-mnist")
    assert fashion.recipe == ROOT / "recipes" / "cgan_mnist.toml" and fashion.preset == ["data.source=fashion_mnist"]
    (plus,) = plan_targets(["infogan_plus"], full_registry, data="fashion-mnist")  # named recipes take presets too
    assert plus.recipe == ROOT / "recipes" / "infogan_plus_fashion_mnist.toml" and plus.preset == []  # its own
    (paper,) = plan_targets(["wgan_gp"], full_registry, data="fashion-mnist")
    assert paper.recipe == ROOT / "recipes" / "wgan_gp_mnist.toml" and paper.preset == ["data.source=fashion_mnist"]
    with pytest.raises(GanforgeError, match=r"no recipe for method 'cgan' with --data shapes .* cgan has: cifar10, "
                                            r"fashion-mnist, glyphs, mnist"):
        plan_targets(["cgan"], full_registry, data="shapes")


def test_runs_on_different_data_are_refused_naming_both(tmp_path: Path) -> None:
    info, plain, _ = _recipes(tmp_path)
    other = dict(RECIPES["plain"], data={"source": "synthetic", "size": 128, "batch_size": 32})
    (tmp_path / "other.toml").write_text("# ganforge run other.toml\n" + tomli_w.dumps(other))
    result = runner.invoke(app, ["compare", info, str(tmp_path / "other.toml"), "--out", str(tmp_path / "cmp")])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert ("refusing to compare runs on different data: info trains on synthetic (size=256), other on "
            "synthetic (size=128)") in " ".join(result.output.split())
    assert not (tmp_path / "cmp" / "runs").exists()  # refused before any training


@pytest.mark.slow
def test_allow_mixed_compares_anyway_and_the_report_says_so(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    info = _recipes(tmp_path)[0]
    other = dict(RECIPES["plain"], data={"source": "synthetic", "size": 128, "batch_size": 32})
    (tmp_path / "other.toml").write_text("# ganforge run other.toml\n" + tomli_w.dumps(other))
    result = runner.invoke(app, ["compare", info, str(tmp_path / "other.toml"), "--steps", "2", "--allow-mixed",
                                 "--out", str(tmp_path / "cmp")])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "cmp" / "report" / "report.html").read_text()
    assert html.index("Mixed data (--allow-mixed)") < html.index("<table")
    assert html.count("evaluator held-out accuracy (") == 2  # one evaluator per data set, each named
    assert "Mixed data" in (tmp_path / "cmp" / "report" / "report.md").read_text().splitlines()[2]


def test_offline_mnist_fails_in_one_line_with_both_ways_out(tmp_path: Path, monkeypatch: Any) -> None:
    import torchvision

    def offline(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("Dataset not found. You can use download=True to download it")

    monkeypatch.setattr(torchvision.datasets, "MNIST", offline)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["compare", "infogan", "vanilla", "--steps", "2", "--out", str(tmp_path / "cmp")])
    assert result.exit_code == 4 and "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.output
    assert "`ganforge compare infogan vanilla --data glyphs`" in errors[0]
    assert "--set data.source=idx --set data.path=DIR" in errors[0]
    assert "set download = true" not in errors[0]  # download already was true: no wrong advice


def test_h_is_shown_as_a_ceiling_only_for_discrete_codes(tmp_path: Path) -> None:
    """InfoGAN's L_I headlines carry H(c) as their reference line for a discrete code only: the table's row
    names say so, and the L_I plot draws the ceiling for c1 alone."""
    from ganforge_infogan.metrics import MutualInformationBound

    from ganforge.reporting.plots import _tracked

    class Factor:
        def __init__(self, name: str, discrete: bool, h: float) -> None:
            self.name, self.discrete, self._h = name, discrete, h

        def entropy(self) -> float:
            return self._h

    spec = types.SimpleNamespace(factors=[Factor("c1", True, 2.303), Factor("c2", False, 0.693)])
    run = types.SimpleNamespace(spec=spec, batch_size=8, seed=0,
                                loaded=types.SimpleNamespace(resolved=types.SimpleNamespace(
                                    recipe=types.SimpleNamespace(data=types.SimpleNamespace(batch_size=8)))))
    metric = MutualInformationBound()
    metric._bound = lambda run, batch, seed, train_mode=False: {"c1": 2.2, "c2": 1.5}  # type: ignore[method-assign]
    result = metric.compute(run)  # type: ignore[arg-type]
    comparison = Comparison(Path("."), ["infogan"], [_outcome("infogan", 0, {"mutual_information": result})], None, [0], [])
    assert row_name("mutual_information/c1", comparison) == "L_I c1 (nats; ceiling H(c1) = 2.303)"
    assert row_name("mutual_information/c2", comparison) == "L_I c2 (nats)"
    assert {term: h.reference for term, h in _tracked(comparison).items()} == {"L_I/c1": 2.303, "L_I/c2": None}


def test_run_dirs_of_one_method_but_different_recipes_get_their_own_columns(full_registry: Registry, tmp_path: Path) -> None:
    dirs = []
    for recipe_name in ("vanilla_mnist", "wgan_gp_mnist", "vanilla_mnist"):
        d = tmp_path / f"{recipe_name}-{len(dirs)}"
        d.mkdir()
        (d / "recipe.toml").write_text(tomli_w.dumps({"run": {"name": recipe_name}, "model": {"method": "vanilla"}}))
        dirs.append(str(d))
    targets = plan_targets(dirs, full_registry)
    assert [(t.label, len(t.runs)) for t in targets] == [("vanilla_mnist", 2), ("wgan_gp_mnist", 1)]
    same = plan_targets([dirs[0], dirs[2]], full_registry)
    assert [(t.label, len(t.runs)) for t in same] == [("vanilla", 2)]  # one recipe: the method names the column


def test_a_third_party_metric_appears_in_eval_the_compare_table_and_the_html(tmp_path: Path, monkeypatch: Any) -> None:
    """Metrics registered through register_metrics, with no change to the core: a typed result's headline is a
    row of the compare table (terminal and HTML) with its unit and format, its context a reference number and its
    note a line under the table; a headline without a key is a row under the metric's name."""
    import ganforge
    from ganforge.reporting.compare import run_comparison
    from ganforge.reporting.terminal import print_comparison
    from ganforge.reporting.html import write_report
    from ganforge.testing import make_registry

    class Sharpness(ganforge.Metric):
        name = "sharpness"

        def applies(self, run: Any) -> bool:
            return True

        def compute(self, run: Any) -> ganforge.MetricResult:  # a headline with no key: a row under the metric's name
            return ganforge.MetricResult((ganforge.Headline("sharpness", 0.42, format="{:.4g}"),), {"mean_abs_pixel": 0.42},
                                         score=0.42)

    class Contrast(ganforge.Metric):
        name = "contrast"

        def applies(self, run: Any) -> bool:
            return True

        def compute(self, run: Any) -> ganforge.MetricResult:
            head = ganforge.Headline("pixel contrast", 1.25, unit="sd", format="{:.2f}", higher_is_better=False)
            return ganforge.MetricResult((head,), {"raw": [1.25]}, score=1.25, higher_is_better=False,
                                         context={"pixel contrast of real images": 2.5},
                                         note="Pixel contrast: the standard deviation of the samples' pixels.")

    def register_metrics(register: Any) -> None:
        register("sharpness", Sharpness, help="mean |pixel| of the samples")
        register("contrast", Contrast, help="pixel contrast of the samples")

    plugin = types.SimpleNamespace(register_metrics=ganforge.hookimpl(register_metrics))
    registry = make_registry([("sharp", plugin)])
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    info = _recipes(tmp_path)[0]
    comparison = run_comparison([info], registry, steps=2, out=tmp_path / "cmp", progress=False, say=lambda m: None)
    assert comparison.outcomes[0].results.details("sharpness") == {"mean_abs_pixel": 0.42}
    assert table(comparison)["sharpness"]["info"]["median"] == 0.42
    html = write_report(comparison, tmp_path / "cmp" / "report").read_text()
    assert "<td>sharpness</td>" in html and ">0.42<" in html
    assert "<td>pixel contrast (sd)</td>" in html and ">1.25<" in html
    assert "pixel contrast of real images: 2.5" in html and "Pixel contrast: the standard deviation" in html
    from rich.console import Console

    console = Console(record=True, width=200)
    print_comparison(comparison, console=console)
    text = console.export_text()
    assert "pixel contrast (sd)" in text and "1.25" in text and "sharpness" in text
