"""Hungarian-matched clustering accuracy and the confusion matrix."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ganforge.evaluation.metrics import confusion_matrix, hungarian_accuracy


def test_confusion_matrix_counts_by_hand() -> None:
    pred = [0, 0, 1, 1, 1, 2]
    labels = [1, 1, 0, 0, 1, 2]
    expected = np.array([[0, 2, 0], [2, 1, 0], [0, 0, 1]])
    conf = confusion_matrix(pred, labels)
    assert conf.dtype == np.int64
    np.testing.assert_array_equal(conf, expected)


def test_confusion_matrix_declared_sizes_keep_empty_rows() -> None:
    conf = confusion_matrix([0, 1], [1, 0], n_pred=4, n_labels=3)
    assert conf.shape == (4, 3)
    assert conf.sum() == 2 and conf[0, 1] == 1 and conf[1, 0] == 1


def test_confusion_matrix_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        confusion_matrix([0, 1], [0])
    with pytest.raises(ValueError):
        confusion_matrix([0, -1], [0, 0])
    with pytest.raises(ValueError):
        confusion_matrix([0, 3], [0, 0], n_pred=2)
    with pytest.raises(ValueError):
        confusion_matrix([0.5, 1.0], [0, 0])


def test_permuted_perfect_clustering_is_fully_accurate() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, size=500)
    perm = rng.permutation(10)  # category perm[y] stands for label y
    acc, mapping, conf = hungarian_accuracy(perm[labels], labels)
    assert acc == 1.0
    assert mapping == {int(perm[y]): y for y in range(10)}
    assert conf.shape == (10, 10)


def test_hand_computed_case_beats_greedy() -> None:
    # confusion [[3, 2], [2, 0]]: greedy takes the 3 (total 3), the optimum is 0->1, 1->0 (total 4).
    pred = [0, 0, 0, 0, 0, 1, 1]
    labels = [0, 0, 0, 1, 1, 0, 0]
    acc, mapping, conf = hungarian_accuracy(pred, labels)
    np.testing.assert_array_equal(conf, [[3, 2], [2, 0]])
    assert acc == pytest.approx(4 / 7)
    assert mapping == {0: 1, 1: 0}


def test_three_way_hand_case() -> None:
    acc, mapping, _ = hungarian_accuracy([0, 0, 1, 1, 1, 2], [1, 1, 0, 0, 1, 2])
    assert acc == pytest.approx(5 / 6)
    assert mapping == {0: 1, 1: 0, 2: 2}


def test_more_categories_than_labels() -> None:
    # confusion [[2, 0], [0, 2], [1, 1]]: category 2 stays unmatched and its samples count as errors.
    acc, mapping, conf = hungarian_accuracy([0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 1, 0])
    assert conf.shape == (3, 2)
    assert acc == pytest.approx(4 / 6)
    assert mapping == {0: 0, 1: 1}


def test_fewer_categories_than_labels() -> None:
    acc, mapping, conf = hungarian_accuracy([0, 0, 0, 0, 0, 0], [0, 0, 0, 1, 1, 2])
    assert conf.shape == (1, 3)
    assert acc == pytest.approx(3 / 6)
    assert mapping == {0: 0}


def test_accepts_torch_tensors() -> None:
    torch = pytest.importorskip("torch")
    acc, _, _ = hungarian_accuracy(torch.tensor([1, 1, 0]), torch.tensor([0, 0, 1]))
    assert acc == 1.0


def test_empty_input_raises() -> None:
    with pytest.raises(ValueError):
        hungarian_accuracy(np.array([], dtype=int), np.array([], dtype=int))


def _brute_force(pred: np.ndarray, labels: np.ndarray, n_pred: int, n_labels: int) -> float:
    """Best accuracy over all one-to-one partial maps, by enumeration."""
    best = 0
    small, large = min(n_pred, n_labels), max(n_pred, n_labels)
    for chosen in itertools.permutations(range(large), small):
        if n_pred <= n_labels:
            m = dict(zip(range(n_pred), chosen))
        else:
            m = dict(zip(chosen, range(n_labels)))
        best = max(best, sum(m.get(int(p)) == int(y) for p, y in zip(pred, labels)))
    return best / len(pred)


@settings(max_examples=40, deadline=None)
@given(
    n_pred=st.integers(1, 4),
    n_labels=st.integers(1, 4),
    data=st.data(),
)
def test_matches_brute_force_and_is_permutation_invariant(n_pred: int, n_labels: int, data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 25))
    pred = np.array(data.draw(st.lists(st.integers(0, n_pred - 1), min_size=n, max_size=n)))
    labels = np.array(data.draw(st.lists(st.integers(0, n_labels - 1), min_size=n, max_size=n)))
    acc, mapping, _ = hungarian_accuracy(pred, labels, n_pred=n_pred, n_labels=n_labels)
    assert acc == pytest.approx(_brute_force(pred, labels, n_pred, n_labels))
    assert len(mapping) == min(n_pred, n_labels)
    assert len(set(mapping.values())) == len(mapping)  # one-to-one
    perm = np.array(data.draw(st.permutations(range(n_pred))))
    assert hungarian_accuracy(perm[pred], labels, n_pred=n_pred, n_labels=n_labels)[0] == pytest.approx(acc)
