"""benchmarks/seed_sweep.py: per-seed figures, time to the target and the success share, on constructed evaluations."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "seed_sweep.py"


def _evaluation(accuracy: float, fid: float, wall_s: float = 600.0) -> dict[str, Any]:
    return {"timing": {"wall_s": wall_s, "cpu_s": wall_s},
            "results": {"code_accuracy": {"details": {"c1": {"accuracy": accuracy}}, "score": accuracy},
                        "domain_fid": {"details": {"fid": fid}, "score": fid}}}


def _steps(*accuracies: float, every: int = 500) -> list[dict[str, Any]]:
    return [{"step": every * (i + 1), "accuracy": a} for i, a in enumerate(accuracies)]


@pytest.fixture(scope="module")
def bench(load_benchmark):
    return load_benchmark("seed_sweep")


def test_step_and_minutes_to_the_target(bench) -> None:
    by_step = _steps(0.62, 0.94, 0.951, 0.93, 0.99)  # passes at 1500, dips, ends above: the first pass counts
    assert bench.first_step(by_step, 0.95) == 1500
    assert bench.first_step(by_step, 0.995) is None
    r = bench.seed_result(3, _evaluation(0.99, 6.5, wall_s=1500.0), by_step, 0.95, "bf16")
    assert (r.seed, r.accuracy, r.domain_fid, r.step_to_target, r.precision) == (3, 0.99, 6.5, 1500, "bf16")
    assert r.train_minutes == pytest.approx(25.0) and r.minutes_to_target == pytest.approx(25.0 * 1500 / 2500)
    never = bench.seed_result(4, _evaluation(0.897, 7.0), _steps(0.8, 0.897), 0.95, "bf16")
    assert never.step_to_target is None and never.minutes_to_target is None


def test_table_reports_median_worst_and_the_share_of_seeds_at_the_target(bench) -> None:
    results = [bench.seed_result(s, _evaluation(a, f), _steps(a), 0.95, p)
               for s, a, f, p in [(0, 0.989, 6.9, "bf16"), (1, 0.990, 7.5, "bf16"), (11, 0.897, 8.0, "fp32")]]
    lines = bench.table(results, 0.95)
    assert lines[2].startswith("| 0 | 0.9890 | 6.90 | 500 |") and "| 11 | 0.8970 | 8.00 | never | never |" in lines[4]
    summary = "\n".join(lines[5:])
    assert "median 0.9890, worst 0.8970, best 0.9900; ≥ 0.95 on 2 of 3 seeds (67%)" in summary
    assert "domain FID: median 7.50, worst 8.00" in summary
    assert "step to 0.95: median 500 over the 2 seed(s)" in summary
    assert "precision: bf16, fp32" in summary


def test_a_held_out_split_gets_its_column_and_the_gap_to_the_training_images(bench) -> None:
    results = [bench.seed_result(s, _evaluation(a, 11.0), _steps(a), 0.7, "bf16", t)
               for s, a, t in [(0, 0.75, 0.742), (1, 0.80, 0.79), (2, 0.78, 0.775)]]
    lines = bench.table(results, 0.7)
    assert lines[0].startswith("| seed | code accuracy | held-out accuracy | domain FID |")
    assert lines[1].count("---") == 8 and lines[2].startswith("| 0 | 0.7500 | 0.7420 | 11.00 |")
    summary = "\n".join(lines)
    assert "held-out code accuracy: median 0.7750, worst 0.7420; training minus held-out: median +0.0080, " \
           "largest +0.0100" in summary
    assert "held-out" not in "\n".join(bench.table(results[:1] + [bench.seed_result(5, _evaluation(0.7, 9.0), _steps(0.7),
                                                                                      0.7, "bf16")], 0.7))


@pytest.mark.parametrize(("args", "message"), [(["--jobs", "0"], "--jobs must be at least 1"),
                                               (["--every", "0"], "--every and --threads must be at least 1"),
                                               (["--test-images", "t10k-images*"], "go together, with --data"),
                                               (["--images", "train-images*"], "--images and --labels need --data")])
def test_bad_flags_are_refused_in_one_line(args: list[str], message: str) -> None:
    proc = subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
