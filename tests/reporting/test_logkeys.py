"""metrics.jsonl keys: namespaced terms are found, and so are the keys of runs written before namespacing."""

from __future__ import annotations

from ganforge.reporting.plots import series
from ganforge.reporting.logkeys import find

NEW = ["critic/adv", "critic/r1/adv", "generator/mutual_information/L_I", "generator/mutual_information/L_I/c1",
       "critic/a/penalty", "critic/b/penalty"]
OLD = ["critic/adv", "critic/mi", "generator/L_I", "generator/L_I/c1"]


def test_the_objectives_term_is_never_shadowed_by_a_regularizers_term_of_the_same_name() -> None:
    assert find(NEW, "critic", "adv") == "critic/adv"


def test_a_regularizers_term_is_found_under_its_owner() -> None:
    assert find(NEW, "generator", "L_I") == "generator/mutual_information/L_I"
    assert find(NEW, "generator", "L_I/c1") == "generator/mutual_information/L_I/c1"
    assert find(NEW, "critic", "penalty") == "critic/a/penalty"  # several owners: the first by name
    assert find(NEW, "critic", "L_I") is None


def test_older_runs_keys_still_read() -> None:
    assert find(OLD, "generator", "L_I/c1") == "generator/L_I/c1" and find(OLD, "critic", "mi") == "critic/mi"
    log = [{"step": 50, "generator/L_I/c1": 1.5}, {"step": 100, "generator/L_I/c1": 2.1}]
    assert series(log, [("generator", "L_I/c1")]) == {50: 1.5, 100: 2.1}
    new_log = [{"step": 50, "generator/mutual_information/L_I/c1": 1.7}]
    assert series(new_log, [("generator", "L_I/c1")]) == {50: 1.7}
