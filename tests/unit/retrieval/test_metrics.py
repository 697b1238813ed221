"""Tests for lookalike.retrieval.metrics against hand-computed values and a loop reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lookalike.retrieval import (
    RetrievalMetrics,
    average_precision_at_k,
    count_relevant,
    retrieval_metrics,
)


def _ref_ap(rel: list[int], n: int, k: int) -> float:
    """Plain-loop AP@K, written independently of the vectorised implementation."""
    hits = 0
    total = 0.0
    for i, r in enumerate(rel[:k], start=1):
        if r:
            hits += 1
            total += hits / i
    return total / min(n, k)


def _ref_metrics(query_labels, neighbor_labels, k: int) -> tuple[float, float, int, int]:
    """Loop reference where n is counted directly from the full label list (leave-one-out)."""
    aps, top1, skipped = [], [], 0
    labels = list(query_labels)
    for q, (label, ranked) in enumerate(zip(labels, neighbor_labels, strict=True)):
        n = sum(1 for j, other in enumerate(labels) if j != q and other == label)
        if n == 0:
            skipped += 1
            continue
        rel = [1 if x == label else 0 for x in ranked]
        aps.append(_ref_ap(rel, n, k))
        top1.append(rel[0])
    if not aps:
        return math.nan, math.nan, 0, skipped
    return sum(aps) / len(aps), sum(top1) / len(top1), len(aps), skipped


def _random_ranking(rng: np.random.Generator, labels: np.ndarray, depth: int) -> np.ndarray:
    """Labels of a random ranking of the *other* items for each query (self excluded)."""
    n = len(labels)
    out = []
    for q in range(n):
        others = np.delete(np.arange(n), q)
        out.append(labels[rng.permutation(others)[:depth]])
    return np.stack(out)


# --- average_precision_at_k -------------------------------------------------------------------


def test_ap_docstring_example() -> None:
    assert average_precision_at_k(np.array([1, 0, 1]), 2, 3) == pytest.approx(5 / 6)


def test_ap_perfect_ranking_is_one() -> None:
    assert average_precision_at_k(np.array([1, 1, 1, 0, 0]), 3, 5) == 1.0


def test_ap_relevant_items_only_at_the_end() -> None:
    # hits at ranks 4 and 5: (1/4 + 2/5) / 2
    assert average_precision_at_k(np.array([0, 0, 0, 1, 1]), 2, 5) == pytest.approx(0.325)


def test_ap_denominator_is_k_when_n_exceeds_k() -> None:
    assert average_precision_at_k(np.array([1, 1, 1]), 10, 3) == 1.0
    assert average_precision_at_k(np.array([1, 1, 0]), 10, 3) == pytest.approx(2 / 3)
    assert average_precision_at_k(np.array([0, 1, 1]), 10, 3) == pytest.approx((1 / 2 + 2 / 3) / 3)


def test_ap_denominator_is_n_when_n_below_k() -> None:
    # one of two relevant items found at rank 1: 1 / min(2, 5)
    assert average_precision_at_k(np.array([1, 0, 0, 0, 0]), 2, 5) == pytest.approx(0.5)


def test_ap_only_first_k_count() -> None:
    # the hits at ranks 3 and 4 are beyond k=2
    assert average_precision_at_k(np.array([0, 1, 1, 1]), 3, 2) == pytest.approx(0.25)
    assert average_precision_at_k(np.array([0, 0, 1, 1]), 2, 2) == 0.0


def test_ap_shorter_list_than_k() -> None:
    assert average_precision_at_k(np.array([1]), 2, 5) == pytest.approx(0.5)
    assert average_precision_at_k(np.array([], dtype=int), 2, 5) == 0.0


def test_ap_accepts_bool() -> None:
    assert average_precision_at_k(np.array([True, False, True]), 2, 3) == pytest.approx(5 / 6)


@pytest.mark.parametrize("n", [0, -1])
def test_ap_rejects_non_positive_n(n: int) -> None:
    with pytest.raises(ValueError, match="n_relevant"):
        average_precision_at_k(np.array([1, 0]), n, 2)


def test_ap_rejects_more_hits_than_relevant() -> None:
    with pytest.raises(ValueError, match="own results"):
        average_precision_at_k(np.array([1, 1, 0]), 1, 3)


def test_ap_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError):
        average_precision_at_k(np.array([1, 2]), 2, 2)
    with pytest.raises(ValueError):
        average_precision_at_k(np.array([[1, 0]]), 2, 2)
    with pytest.raises(ValueError):
        average_precision_at_k(np.array([1, 0]), 2, 0)


@pytest.mark.parametrize("seed", range(5))
def test_ap_matches_loop_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(200):
        length = int(rng.integers(0, 12))
        rel = rng.integers(0, 2, length)
        k = int(rng.integers(1, 15))
        n = int(rel[:k].sum() + rng.integers(0, 5))
        if n == 0:
            continue
        assert average_precision_at_k(rel, n, k) == pytest.approx(_ref_ap(rel.tolist(), n, k))


# --- retrieval_metrics ------------------------------------------------------------------------


def test_metrics_hand_computed() -> None:
    labels = np.array([0, 0, 1, 1, 1, 2])
    neighbors = np.array([[1, 2], [2, 0], [1, 1], [0, 1], [1, 1], [0, 1]])
    m = retrieval_metrics(labels, neighbors, count_relevant(labels), k=2)
    # APs: q0 0, q1 (1/2)/1, q2 1, q3 (1/2)/2, q4 1; q5 is a singleton
    assert m == RetrievalMetrics(
        map_at_k=pytest.approx(2.75 / 5), recall_at_1=0.4, n_queries=5, n_skipped=1
    )


def test_metrics_perfect_ranking() -> None:
    labels = np.array(["a", "a", "a", "b", "b"])
    neighbors = np.array(
        [["a", "a", "b"], ["a", "a", "b"], ["a", "a", "b"], ["b", "a", "a"], ["b", "a", "a"]]
    )
    m = retrieval_metrics(labels, neighbors, count_relevant(labels), k=3)
    assert m.map_at_k == 1.0
    assert m.recall_at_1 == 1.0
    assert (m.n_queries, m.n_skipped) == (5, 0)


def test_metrics_n_larger_than_k_uses_k_denominator() -> None:
    labels = np.array([7] * 6)  # n = 5 for every query
    neighbors = np.array([[7, 7]] * 6)
    m = retrieval_metrics(labels, neighbors, count_relevant(labels), k=2)
    assert m.map_at_k == 1.0


def test_metrics_only_first_k_columns_used() -> None:
    labels = np.array([0, 0, 1])
    neighbors = np.array([[1, 0, 0], [1, 0, 1], [0, 0, 1]])
    m = retrieval_metrics(labels, neighbors, np.array([1, 1, 0]), k=1)
    assert m.map_at_k == 0.0
    assert m.recall_at_1 == 0.0
    assert (m.n_queries, m.n_skipped) == (2, 1)


def test_metrics_all_singletons_gives_nan() -> None:
    labels = np.array([1, 2, 3])
    m = retrieval_metrics(labels, np.array([[2], [3], [1]]), count_relevant(labels), k=5)
    assert math.isnan(m.map_at_k) and math.isnan(m.recall_at_1)
    assert (m.n_queries, m.n_skipped) == (0, 3)


def test_metrics_empty() -> None:
    m = retrieval_metrics(np.array([], dtype=int), np.zeros((0, 3), int), np.zeros(0, int), k=3)
    assert math.isnan(m.map_at_k)
    assert (m.n_queries, m.n_skipped) == (0, 0)


def test_metrics_detects_query_in_its_own_results() -> None:
    labels = np.array([0, 0, 1])
    # query 0 "found" two items labelled 0, but only one other item has label 0
    neighbors = np.array([[0, 0], [0, 1], [0, 0]])
    with pytest.raises(ValueError, match="own results"):
        retrieval_metrics(labels, neighbors, count_relevant(labels), k=2)


def test_metrics_rejects_bad_inputs() -> None:
    labels = np.array([0, 0])
    with pytest.raises(ValueError):
        retrieval_metrics(labels, np.array([0, 0]), np.array([1, 1]), k=1)
    with pytest.raises(ValueError):
        retrieval_metrics(labels, np.array([[0], [0], [0]]), np.array([1, 1]), k=1)
    with pytest.raises(ValueError):
        retrieval_metrics(labels, np.array([[0], [0]]), np.array([1.0, 1.0]), k=1)
    with pytest.raises(ValueError):
        retrieval_metrics(labels, np.array([[0], [0]]), np.array([1, -1]), k=1)
    with pytest.raises(ValueError):
        retrieval_metrics(labels, np.array([[0], [0]]), np.array([1, 1]), k=0)
    with pytest.raises(ValueError, match="incompatible"):
        retrieval_metrics(np.array(["0", "0"]), np.array([[0], [0]]), np.array([1, 1]), k=1)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("label_kind", ["int", "str", "object"])
def test_metrics_match_loop_reference(seed: int, label_kind: str) -> None:
    rng = np.random.default_rng(seed)
    n_items = int(rng.integers(2, 60))
    # few classes -> large n (often > k); many classes -> singletons
    n_classes = int(rng.integers(1, n_items + 1))
    labels = rng.integers(0, n_classes, n_items)
    if label_kind == "str":
        labels = np.array([f"class-{x}" for x in labels])
    elif label_kind == "object":
        labels = np.array([f"class-{x}" for x in labels], dtype=object)
    depth = int(rng.integers(1, n_items))
    neighbors = _random_ranking(rng, labels, depth)
    for k in (1, 3, depth, depth + 4):
        m = retrieval_metrics(labels, neighbors, count_relevant(labels), k)
        ref_map, ref_r1, ref_n, ref_skipped = _ref_metrics(labels, neighbors[:, :k], k)
        assert (m.n_queries, m.n_skipped) == (ref_n, ref_skipped)
        assert np.isclose(m.map_at_k, ref_map, equal_nan=True)
        assert np.isclose(m.recall_at_1, ref_r1, equal_nan=True)


# --- count_relevant ---------------------------------------------------------------------------


def test_count_relevant_hand() -> None:
    np.testing.assert_array_equal(count_relevant(np.array([3, 1, 3, 3, 2])), [2, 0, 2, 2, 0])
    out = count_relevant(np.array(["b", "a", "b"], dtype=object))
    np.testing.assert_array_equal(out, [1, 0, 1])
    assert out.dtype == np.int64
    assert count_relevant(np.array([], dtype=int)).shape == (0,)


@pytest.mark.parametrize("seed", range(3))
def test_count_relevant_matches_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = np.array([f"x{v}" for v in rng.integers(0, 20, 100)], dtype=object)
    expected = [
        sum(1 for j, o in enumerate(labels) if j != i and o == lab) for i, lab in enumerate(labels)
    ]
    np.testing.assert_array_equal(count_relevant(labels), expected)


def test_count_relevant_rejects_nan_and_2d() -> None:
    with pytest.raises(ValueError, match="NaN"):
        count_relevant(np.array([1.0, np.nan]))
    with pytest.raises(ValueError):
        count_relevant(np.array([[1, 2]]))
