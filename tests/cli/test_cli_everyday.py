"""Everyday commands on a tiny trained InfoGAN run: fixed-code samples, traversals by row, export and
load_generator (the README's example, run as written), --version, and help texts that keep their defaults."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import tomli_w
import typer
from PIL import Image
from typer.testing import CliRunner

from ganforge.cli.app import app
from ganforge.testing import tiny_recipe

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An InfoGAN run with a 4-way categorical code and a uniform code; checkpoints at steps 2 and 4."""
    tmp = tmp_path_factory.mktemp("everyday")
    raw = tiny_recipe("infogan", [{"name": "c1", "kind": "categorical", "k": 4}, {"name": "c2", "kind": "uniform"}],
                      generator={"kind": "mlp", "hidden": 32, "layers": 1}, critic={"kind": "mlp", "hidden": 32, "layers": 1},
                      train={"steps": 4, "checkpoint_every": 2, "sample_every": 4, "log_every": 2})
    (tmp / "r.toml").write_text(tomli_w.dumps(raw))
    result = runner.invoke(app, ["run", str(tmp / "r.toml"), "--out", str(tmp / "runs"), "--no-progress"])
    assert result.exit_code == 0, result.output
    return next((tmp / "runs").iterdir())


def test_sample_with_a_fixed_category(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.png"
    result = runner.invoke(app, ["sample", str(run_dir), "--code", "c1=2", "-n", "16", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "with c1 = 2" in result.output and "step 4" in result.output
    assert Image.open(out).size == (4 * 10 + 2, 4 * 10 + 2)  # 4×4 grid of 8-px images, 2-px padding


def test_sample_from_an_older_step_and_with_a_continuous_code(run_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["sample", str(run_dir), "--step", "2", "--code", "c2=0.5", "-n", "4",
                                 "--out", str(tmp_path / "y.png")])
    assert result.exit_code == 0 and "from step 2 with c2 = 0.5" in result.output, result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--code", "c1=7"], "must be one of 0..3"),
    (["--code", "c1=1.5"], "must be one of 0..3"),
    (["--code", "nope=1"], "--code nope: the run has no such factor"),
    (["--code", "c1"], "expected FACTOR=NUMBER"),
    (["--code", "c2=inf"], "expected FACTOR=NUMBER"),
    (["--step", "3"], "no checkpoint for step 3 (kept: 2, 4)"),
])
def test_sample_refuses_bad_codes_and_steps_in_one_line(run_dir: Path, tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["sample", str(run_dir), *args, "--out", str(tmp_path / "z.png")])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert message in result.output, result.output
    assert not (tmp_path / "z.png").exists()


def test_traverse_by_row_writes_to_the_working_directory_and_says_what_it_drew(run_dir: Path, tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["traverse", str(run_dir), "--factor", "c1", "--by-row", "--rows", "5"])
    assert result.exit_code == 0, result.output
    assert "wrote traverse-c1.png: c1 all 4 classes along the rows, 5 fixed noises, step 4" in result.output
    assert Image.open(tmp_path / "traverse-c1.png").size == (5 * 10 + 2, 4 * 10 + 2)  # 5 columns, 4 rows
    assert not (run_dir / "traverse-c1.png").exists()
    cont = runner.invoke(app, ["traverse", str(run_dir), "--factor", "c2", "--range", "-1", "1", "--steps", "5",
                               "--step", "2"])
    assert "c2 -1 to 1 in 5 steps along the columns" in cont.output and "step 2" in cont.output, cont.output


def test_traverse_refuses_a_range_for_a_categorical_code(run_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["traverse", str(run_dir), "--factor", "c1", "--range", "0", "3",
                                 "--out", str(tmp_path / "t.png")])
    assert result.exit_code != 0 and "--range does not apply to 'c1': it is discrete" in result.output


def test_export_then_the_readme_example_loads_and_samples(run_dir: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["export", str(run_dir), "--out", "exported-generator"])
    assert result.exit_code == 0, result.output
    readme = (ROOT / "README.md").read_text()
    (example,) = re.findall(r"```python\n(import ganforge\n.*?load_generator.*?)```", readme, re.S)
    assert len(example.strip().splitlines()) <= 5
    namespace: dict[str, Any] = {}
    exec(compile(example, "README.md", "exec"), namespace)  # noqa: S102 - the documented example, as written
    images = namespace["images"]
    assert tuple(images.shape) == (25, 1, 8, 8) and float(images.min()) >= 0 and float(images.max()) <= 1
    import ganforge

    g = ganforge.load_generator("exported-generator")
    assert g.step == 4 and [f.name for f in g.spec.factors] == ["c1", "c2"]
    same = g.sample(3, codes={"c1": 1}, seed=5)
    assert (same == g.sample(3, codes={"c1": 1}, seed=5)).all()  # seeded
    with pytest.raises(ValueError, match="no latent factor 'c9'"):
        g.sample(2, codes={"c9": 0})


def test_export_files_follow_the_umask(run_dir: Path, tmp_path: Path) -> None:
    import os

    old = os.umask(0o022)
    try:
        assert runner.invoke(app, ["export", str(run_dir), "--out", str(tmp_path / "e")]).exit_code == 0
    finally:
        os.umask(old)
    assert {oct((tmp_path / "e" / n).stat().st_mode & 0o777) for n in ("generator.json", "generator.safetensors")} == {"0o644"}


def test_version() -> None:
    from ganforge import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"ganforge {__version__}"


def _commands() -> list[str]:
    return sorted(c.name for c in typer.main.get_command(app).commands.values())  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", _commands())
def test_help_keeps_every_default_written_in_it(command: str) -> None:
    """A help text's "[default: …]" must reach the screen (rich markup swallowed unescaped brackets)."""
    click_command = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    written = [re.sub(r"\\\\?\[", "[", p.help) for p in click_command.params if getattr(p, "help", None) and "[default" in p.help]
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "250"})
    shown = " ".join(result.output.split())
    for text in written:
        tail = " ".join(text[text.index("[default"):].split())
        assert tail in shown, (command, tail)


def test_keep_best_keeps_the_best_checkpoint_besides_the_newest(tmp_path: Path) -> None:
    """train.keep_best = "code_accuracy": evaluated every eval_every steps, the best one survives pruning,
    and --step best reaches it in sample / eval / export."""
    import json

    from ganforge.runs import checkpoint

    raw = tiny_recipe("infogan", [{"name": "c1", "kind": "categorical", "k": 4}],
                      generator={"kind": "mlp", "hidden": 32, "layers": 1}, critic={"kind": "mlp", "hidden": 32, "layers": 1},
                      train={"steps": 8, "checkpoint_every": 2, "sample_every": 8, "log_every": 2, "keep_checkpoints": 1,
                             "keep_best": "code_accuracy", "eval_every": 2})
    (tmp_path / "r.toml").write_text(tomli_w.dumps(raw))
    result = runner.invoke(app, ["run", str(tmp_path / "r.toml"), "--out", str(tmp_path / "runs"), "--no-progress"])
    assert result.exit_code == 0, result.output
    run = next((tmp_path / "runs").iterdir())
    reported = re.findall(r"step (\d): code_accuracy = ([0-9.]+)", result.output)
    assert [int(s) for s, _ in reported] == [2, 4, 6, 8]
    values = {int(s): float(v) for s, v in reported}
    best = json.loads((run / "checkpoints" / "best.json").read_text())
    assert best["metric"] == "code_accuracy" and best["higher_is_better"] is True
    assert best["step"] == min((s for s in values if values[s] == max(values.values())))  # the first of the best
    kept = {int(p.stem.removeprefix("step-")) for p in checkpoint.list_checkpoints(run / "checkpoints")}
    assert kept == {8, best["step"]}
    for command in (["sample", str(run), "--step", "best", "-n", "4", "--out", str(tmp_path / "b.png")],
                    ["export", str(run), "--step", "best", "--out", str(tmp_path / "best-export")]):
        done = runner.invoke(app, command)
        assert done.exit_code == 0, done.output
    assert json.loads((tmp_path / "best-export" / "generator.json").read_text())["step"] == best["step"]


def test_keep_best_names_a_registered_metric_and_a_written_checkpoint() -> None:
    from ganforge.errors import RecipeError
    from ganforge.recipe.model import resolve
    from ganforge.testing import make_registry

    with pytest.raises(RecipeError, match=r"train\.keep_best: unknown metric 'nope'"):
        resolve(tiny_recipe(train={"keep_best": "nope"}), make_registry())
    with pytest.raises(RecipeError, match=r"train\.eval_every: 3 is not a multiple of train\.checkpoint_every"):
        resolve(tiny_recipe(train={"keep_best": "code_accuracy", "eval_every": 3, "checkpoint_every": 2}), make_registry())


def test_step_best_without_keep_best_is_a_one_line_error(run_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["sample", str(run_dir), "--step", "best", "--out", str(tmp_path / "n.png")])
    assert result.exit_code != 0 and "no best checkpoint recorded" in result.output and "Traceback" not in result.output


def test_report_writes_a_one_run_html_report(run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["report", str(run_dir)])
    assert result.exit_code == 0, result.output
    page = (tmp_path / f"report-{run_dir.name}" / "report.html").read_text()
    assert page.count("<img") >= 6  # losses, L_I, D(x)/D(G(z)), real images, samples, traversals
    assert "D(x) and D(G(z)) over training" in page and "real training images" in page
    assert "mutual" in page.lower() and "traversal of c1" in page
    assert not (run_dir / "report").exists()  # nothing written into the run directory
    bad = runner.invoke(app, ["report", str(tmp_path)])
    assert bad.exit_code != 0 and "not a ganforge run directory" in bad.output


def test_eval_names_unknown_metrics_lists_those_that_do_not_apply_and_both_l_i_modes(run_dir: Path) -> None:
    bad = runner.invoke(app, ["eval", str(run_dir), "--metric", "nosuch"])
    assert bad.exit_code != 0 and "--metric 'nosuch': no such metric; the metrics are: " in bad.output
    assert "code_accuracy" in bad.output and "Traceback" not in bad.output
    import json

    result = runner.invoke(app, ["eval", str(run_dir), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    assert report["not_applicable"]["domain_fid"] == "needs labelled data, at least 100 images"  # 64 images here
    mi = report["results"]["mutual_information"]["details"]
    assert mi["discrete"] == {"c1": True, "c2": False} and set(mi["L_I_batch_statistics"]) == {"c1", "c2"}
    shown = runner.invoke(app, ["eval", str(run_dir)], env={"COLUMNS": "200"}).output
    assert "L_I c1 (nats; ceiling H(c1) = 1.386)" in shown and "L_I c2 (nats)" in shown  # no ceiling: continuous
    assert "L_I c2, batch statistics (as the training log) (nats)" in shown and "not computed: domain_fid" in shown
