"""benchmarks/glyphs_first_run.py: its per-run figures and the acceptance counts, on constructed evaluations."""

from __future__ import annotations

from typing import Any


def _run(c1: float, g: float, shares: list[float], c2: str = "slant", c3: str = "width") -> dict[str, Any]:
    def result(details: dict[str, Any], score: float | None = None) -> dict[str, Any]:
        return {"details": details, "score": score}

    codes = {"c1": {"factor": "digit", "normalized_mi": 0.9, "accuracy": {"digit": c1}},
             "c2": {"factor": c2, "normalized_mi": 0.3}, "c3": {"factor": c3, "normalized_mi": 0.2}}
    return {"run": "r", "timing": {"wall_s": 120.0, "cpu_s": 230.0}, "results": {
        "factor_codes": result({"codes": codes}),
        "generated_code_accuracy": result({"c1": {"accuracy": g}}),
        "class_coverage": result({"generated_share": shares, "real_share": [0.1] * 10}),
        "mig": result({"mig": 0.2}), "factor_vae": result({"score": 0.8}), "domain_fid": result({}, 5.0)}}


def test_numbers_and_success_counts(load_benchmark: Any) -> None:
    bench = load_benchmark("glyphs_first_run")
    good = _run(0.99, 0.97, [0.1] * 10)
    n = bench.numbers(good)
    assert n["c1 accuracy"] == 0.99 and n["G accuracy"] == 0.97 and n["train wall min"] == 2.0
    assert abs(n["G smallest share / real"] - 1.0) < 1e-9
    assert bench.tops(good) == {"c2": "slant 0.30", "c3": "width 0.20"}
    merged = _run(0.90, 0.93, [0.04] + [0.96 / 9] * 9)
    same_code = _run(0.99, 0.99, [0.1] * 10, c2="width", c3="width")
    assert bench.slant_and_width_apart(good) and not bench.slant_and_width_apart(same_code)
    line = bench.successes([good, merged, same_code])
    assert "c1 accuracy ≥ 0.95 on 2 of 3 seeds" in line
    assert "slant and width on distinct codes on 2 of 3" in line
    assert "G accuracy ≥ 0.95 on 2 of 3" in line
    assert "every digit drawn at ≥ 0.5 × its real share on 2 of 3" in line
