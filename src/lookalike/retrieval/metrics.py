"""Retrieval metrics (mAP@K, Recall@1) computed from ranked neighbour labels with plain numpy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "RetrievalMetrics",
    "average_precision_at_k",
    "count_relevant",
    "retrieval_metrics",
]


@dataclass(frozen=True)
class RetrievalMetrics:
    """Aggregate retrieval metrics over the queries that have at least one relevant item.

    Attributes:
        map_at_k: Mean of AP@K over the counted queries (NaN when ``n_queries == 0``).
        recall_at_1: Fraction of counted queries whose top-1 neighbour is relevant
            (NaN when ``n_queries == 0``).
        n_queries: Number of queries that entered the metrics.
        n_skipped: Number of queries left out because they have no relevant item
            (``n_relevant == 0``), for which AP is undefined.
    """

    map_at_k: float
    recall_at_1: float
    n_queries: int
    n_skipped: int


def _check_k(k: int) -> int:
    # bool is an int subclass; rejecting it avoids silently computing AP@1 for ``k=True``.
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise TypeError(f"k must be an int, got {type(k).__name__}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return int(k)


def average_precision_at_k(relevant: np.ndarray, n_relevant: int, k: int) -> float:
    """Average precision at K of one ranked result list.

    .. math::

        AP@K = \\frac{1}{\\min(n, K)} \\sum_{i=1}^{K} P@i \\cdot rel(i),
        \\qquad P@i = \\frac{1}{i} \\sum_{j=1}^{i} rel(j)

    where ``rel(i)`` is 1 if the i-th ranked gallery item has the query's label and ``n`` is
    the number of relevant gallery items for the query (the query itself excluded). Dividing by
    ``min(n, K)`` instead of ``n`` means a query with more than K relevant items can still
    reach 1.0 when its first K results are all relevant.

    Args:
        relevant: 0/1 (or bool) vector of the ranked results, best first. It may be longer or
            shorter than ``k``; only the first ``k`` entries count and missing positions count
            as not relevant.
        n_relevant: Number of relevant gallery items for the query (``n`` above).
        k: Cut-off K (>= 1).

    Returns:
        AP@K in [0, 1].

    Raises:
        ValueError: If ``n_relevant <= 0`` (AP is undefined), if ``relevant`` is not a 1-D
            0/1 vector, or if it has more hits in its first ``k`` entries than
            ``n_relevant`` (typically the query was not excluded from its own results).

    >>> round(average_precision_at_k(np.array([1, 0, 1]), n_relevant=2, k=3), 6)
    0.833333
    >>> average_precision_at_k(np.array([0, 0, 1, 1]), n_relevant=2, k=3)
    0.16666666666666666
    >>> average_precision_at_k(np.array([1, 1]), n_relevant=5, k=2)
    1.0
    """
    k = _check_k(k)
    if n_relevant <= 0:
        raise ValueError(f"n_relevant must be > 0 for AP to be defined, got {n_relevant}")
    rel = np.asarray(relevant)
    if rel.ndim != 1:
        raise ValueError(f"relevant must be 1-D, got shape {rel.shape}")
    rel = rel[:k]
    if not np.isin(rel, (0, 1)).all():
        raise ValueError("relevant must contain only 0/1 (or bool) values")
    rel = rel.astype(np.float64)
    hits = np.cumsum(rel)
    if rel.size and hits[-1] > n_relevant:
        raise ValueError(
            f"{int(hits[-1])} relevant results in the top {k} but n_relevant={n_relevant}; "
            "is the query included in its own results?"
        )
    precision = hits / np.arange(1, rel.size + 1)
    return float(np.sum(precision * rel) / min(n_relevant, k))


def retrieval_metrics(
    query_labels: np.ndarray,
    neighbor_labels: np.ndarray,
    n_relevant: np.ndarray,
    k: int,
) -> RetrievalMetrics:
    """Compute mAP@K and Recall@1 for a batch of ranked queries, vectorised over queries.

    With ``rel[q, i] = 1`` iff ``neighbor_labels[q, i] == query_labels[q]`` and
    ``n_q = n_relevant[q]``:

    .. math::

        AP_q@K = \\frac{1}{\\min(n_q, K)} \\sum_{i=1}^{K}
                 \\frac{\\sum_{j \\le i} rel[q, j]}{i} \\, rel[q, i]

        mAP@K = \\frac{1}{|C|} \\sum_{q \\in C} AP_q@K, \\qquad
        Recall@1 = \\frac{1}{|C|} \\sum_{q \\in C} rel[q, 1]

    where ``C`` is the set of counted queries, those with ``n_q > 0``. Queries with
    ``n_q == 0`` have no relevant item, so AP is undefined for them; they are reported in
    ``n_skipped`` instead of being scored 0 (which would bias mAP by the share of singletons).

    Args:
        query_labels: Labels of the Q queries, shape (Q,). Ints or strings (object arrays work).
        neighbor_labels: Labels of each query's ranked neighbours, shape (Q, K'), best first,
            K' >= 1. Only the first ``k`` columns are used; if K' < k the missing positions
            count as not relevant (which is exact when the gallery has fewer than K items,
            because then ``n_q <= K'``).
        n_relevant: Number of relevant gallery items per query (query itself excluded),
            shape (Q,), non-negative integers. See :func:`count_relevant`.
        k: Cut-off K (>= 1).

    Returns:
        A :class:`RetrievalMetrics`; the metrics are NaN with ``n_queries == 0`` when no
        query has a relevant item.

    Raises:
        ValueError: On inconsistent shapes, negative ``n_relevant``, or a query with more
            relevant neighbours in its top K than ``n_relevant`` (typically the query was not
            excluded from its own results, or ``n_relevant`` was counted on another set).

    >>> labels = np.array([0, 0, 1, 1, 1, 2])
    >>> neighbors = np.array([[1, 2], [2, 0], [1, 1], [0, 1], [1, 1], [0, 1]])
    >>> m = retrieval_metrics(labels, neighbors, count_relevant(labels), k=2)
    >>> m.n_queries, m.n_skipped
    (5, 1)
    >>> round(m.map_at_k, 6), round(m.recall_at_1, 6)
    (0.55, 0.4)
    """
    k = _check_k(k)
    query_labels = np.asarray(query_labels)
    neighbor_labels = np.asarray(neighbor_labels)
    n_relevant = np.asarray(n_relevant)
    if query_labels.ndim != 1:
        raise ValueError(f"query_labels must be 1-D, got shape {query_labels.shape}")
    n_q = query_labels.shape[0]
    if neighbor_labels.ndim != 2 or neighbor_labels.shape[0] != n_q:
        raise ValueError(
            f"neighbor_labels must have shape ({n_q}, K'), got {neighbor_labels.shape}"
        )
    if neighbor_labels.shape[1] < 1 and n_q > 0:
        raise ValueError("neighbor_labels must have at least one column")
    if n_relevant.shape != (n_q,):
        raise ValueError(f"n_relevant must have shape ({n_q},), got {n_relevant.shape}")
    if n_relevant.dtype.kind not in "iub":
        # Silently truncating e.g. 1.5 would change the AP denominator.
        raise ValueError(f"n_relevant must be integers, got dtype {n_relevant.dtype}")
    n_relevant = n_relevant.astype(np.int64)
    if (n_relevant < 0).any():
        raise ValueError("n_relevant must be non-negative")

    numeric, text = set("iubf"), set("US")
    kinds = {query_labels.dtype.kind, neighbor_labels.dtype.kind}
    if kinds & numeric and kinds & text:
        # numpy 2 compares str with int as all-False, which would silently give mAP = 0.
        raise ValueError(
            f"query_labels ({query_labels.dtype}) and neighbor_labels "
            f"({neighbor_labels.dtype}) have incompatible label types"
        )

    # Elementwise == works for int, string and object (e.g. Python str) label arrays alike.
    rel = np.asarray(neighbor_labels[:, :k] == query_labels[:, None], dtype=bool)
    if rel.shape != (n_q, min(k, neighbor_labels.shape[1])):
        # numpy returns a scalar for comparisons it cannot do elementwise (e.g. str vs int).
        raise ValueError("query_labels and neighbor_labels cannot be compared elementwise")
    rel_f = rel.astype(np.float64)
    hits = np.cumsum(rel_f, axis=1)
    if n_q and (hits[:, -1] > n_relevant).any():
        bad = int(np.flatnonzero(hits[:, -1] > n_relevant)[0])
        raise ValueError(
            f"query {bad} has {int(hits[bad, -1])} relevant neighbours in its top {k} but "
            f"n_relevant={int(n_relevant[bad])}; is the query included in its own results?"
        )

    counted = n_relevant > 0
    n_counted = int(counted.sum())
    n_skipped = n_q - n_counted
    if n_counted == 0:
        return RetrievalMetrics(float("nan"), float("nan"), 0, n_skipped)

    precision = hits / np.arange(1, rel.shape[1] + 1)
    ap = (precision * rel_f).sum(axis=1)[counted] / np.minimum(n_relevant[counted], k)
    return RetrievalMetrics(
        map_at_k=float(ap.mean()),
        recall_at_1=float(rel_f[counted, 0].mean()),
        n_queries=n_counted,
        n_skipped=n_skipped,
    )


def count_relevant(labels: np.ndarray) -> np.ndarray:
    """For each item, count how many OTHER items share its label.

    This is ``n_relevant`` for leave-one-out retrieval where every item is searched against
    all the others.

    Args:
        labels: Labels, shape (N,). Ints or strings (object arrays of str work).

    Returns:
        int64 array of shape (N,).

    Raises:
        ValueError: If ``labels`` is not 1-D or contains NaN (NaN never equals itself, so it
            would be counted here but never matched by :func:`retrieval_metrics`).

    >>> count_relevant(np.array([3, 1, 3, 3, 2]))
    array([2, 0, 2, 2, 0])
    >>> count_relevant(np.array(["cat", "dog", "cat"], dtype=object))
    array([1, 0, 1])
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {labels.shape}")
    if labels.size == 0:
        return np.zeros(0, dtype=np.int64)
    if labels.dtype.kind in "fc" and np.isnan(labels).any():
        raise ValueError("labels must not contain NaN")
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    return (counts[inverse.reshape(-1)] - 1).astype(np.int64)
