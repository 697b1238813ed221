"""Retrieval evaluation: exact top-K neighbour search and mAP@K / Recall@1 metrics."""

from lookalike.retrieval.metrics import (
    RetrievalMetrics,
    average_precision_at_k,
    count_relevant,
    retrieval_metrics,
)
from lookalike.retrieval.search import top_k_neighbors

__all__ = [
    "RetrievalMetrics",
    "average_precision_at_k",
    "count_relevant",
    "retrieval_metrics",
    "top_k_neighbors",
]
