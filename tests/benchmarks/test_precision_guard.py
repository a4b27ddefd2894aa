"""benchmarks/precision_guard.py: the guard's rule, and how often it would hold if precision made no difference."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def guard(load_benchmark):
    return load_benchmark("precision_guard")


def test_the_rule_wants_each_median_inside_the_other_groups_range(guard) -> None:
    assert guard.within_ranges([1.0, 2.0, 3.0], [1.5, 2.5, 3.5])
    assert not guard.within_ranges([1.0, 2.0, 3.0], [2.5, 3.5, 4.5])  # 2.0 is below the other range
    assert not guard.within_ranges([0.916, 0.986, 0.987], [0.9862, 0.9869, 0.987])  # fp32's median under bf16's


def test_splits_are_every_relabelling_of_the_pooled_runs(guard) -> None:
    every = guard.splits([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    assert len(every) == 20  # C(6, 3)
    assert all(sorted(a + b) == [1, 2, 3, 4, 5, 6] and len(a) == len(b) == 3 for a, b in every)
    assert len({tuple(a) for a, _ in every}) == 20


@pytest.mark.parametrize(("n", "chance"), [(3, 8 / 20), (5, 180 / 252)])
def test_with_no_effect_the_rule_holds_for_one_number_in_40_percent_of_cases_with_3_seeds(guard, n, chance) -> None:
    """Distinct values: every split is one ordering of the ranks, so this is the rule's chance for any continuous
    outcome whose distribution precision does not change (what the docstring quotes: 40 % and 71 %)."""
    a, b = [float(i) for i in range(n)], [float(i) for i in range(n, 2 * n)]
    assert guard.rule_by_chance(a, b) == pytest.approx(chance)


def test_permutation_p_of_the_mean_difference(guard) -> None:
    assert guard.permutation_p([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]) == pytest.approx(2 / 20)  # the least 3 seeds give
    assert guard.permutation_p([float(i) for i in range(5)], [float(i) for i in range(5, 10)]) == pytest.approx(2 / 252)
    assert guard.permutation_p([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == 1.0  # identical groups: nothing to explain
    # interleaved: means 3 and 4; the splits whose means differ by at least 1 are all but the 6 closer ones
    assert guard.permutation_p([1.0, 3.0, 5.0], [2.0, 4.0, 6.0]) == pytest.approx(14 / 20)
