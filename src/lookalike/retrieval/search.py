"""Exact top-K inner-product neighbour search over embeddings with faiss."""

from __future__ import annotations

import faiss
import numpy as np

__all__ = ["top_k_neighbors"]


def _as_matrix(x: np.ndarray, name: str) -> np.ndarray:
    # faiss only accepts C-contiguous float32; convert once here rather than per chunk.
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n, dim), got shape {x.shape}")
    if not np.isfinite(x).all():
        # faiss returns arbitrary neighbours (or -1) for NaN/inf rows instead of failing.
        raise ValueError(f"{name} contains NaN or inf values")
    return x


def top_k_neighbors(
    embeddings: np.ndarray,
    k: int,
    exclude_self: bool = True,
    gallery: np.ndarray | None = None,
    batch_size: int = 4096,
) -> tuple[np.ndarray, np.ndarray]:
    """Find the ``k`` gallery items with the largest inner product for every query.

    Search is exact (``faiss.IndexFlatIP``), so on L2-normalised embeddings the similarity is
    the cosine similarity. Queries are searched ``batch_size`` at a time, so memory stays
    O(N·k) plus one (batch_size, k) block; no N×N matrix is ever built.

    Rows are in rank order: similarity descending, exactly tied items by ascending gallery
    index. When exactly tied candidates straddle the k-th position, faiss decides which of them
    are returned (not necessarily the lowest indices). The output is deterministic: the same
    input gives the same result whatever the number of faiss threads and whatever
    ``batch_size`` below ``faiss.cvar.distance_compute_blas_threshold`` (above it faiss
    switches to a BLAS kernel whose rounding differs slightly).

    Args:
        embeddings: Query embeddings, shape (N, dim), expected L2-normalised; cast to
            C-contiguous float32 if needed.
        k: Number of neighbours wanted per query (>= 1).
        exclude_self: Only for self-search (``gallery is None``): remove each query's own row
            from its results, so an item never retrieves itself, not even when other rows
            have identical embeddings. Must be False when ``gallery`` is given, because the
            gallery rows are not the query rows.
        gallery: Optional gallery embeddings, shape (G, dim). When None, ``embeddings`` are
            searched against themselves.
        batch_size: Number of queries per faiss search call (>= 1).

    Returns:
        ``(indices, similarities)``: int64 and float32 arrays of shape (N, k_eff) with
        ``k_eff = min(k, G - 1)`` when excluding self and ``min(k, G)`` otherwise, where G is
        the gallery size (N in self-search).

    Raises:
        ValueError: If ``k_eff < 1`` (the gallery is too small for any neighbour), on bad
            shapes, non-finite values, ``batch_size < 1``, or ``exclude_self`` with a
            separate gallery.

    >>> emb = np.eye(3, dtype=np.float32)[[0, 0, 1]]
    >>> idx, sim = top_k_neighbors(emb, k=2)
    >>> idx
    array([[1, 2],
           [0, 2],
           [0, 1]])
    >>> sim
    array([[1., 0.],
           [1., 0.],
           [0., 0.]], dtype=float32)
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise TypeError(f"k must be an int, got {type(k).__name__}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    queries = _as_matrix(embeddings, "embeddings")
    if gallery is None:
        base = queries
    else:
        if exclude_self:
            raise ValueError(
                "exclude_self=True only applies when searching embeddings against themselves "
                "(gallery=None); pass exclude_self=False with a separate gallery"
            )
        base = _as_matrix(gallery, "gallery")
        if base.shape[1] != queries.shape[1]:
            raise ValueError(f"embeddings dim {queries.shape[1]} != gallery dim {base.shape[1]}")

    n_gallery = base.shape[0]
    k_eff = min(int(k), n_gallery - (1 if exclude_self else 0))
    if k_eff < 1:
        raise ValueError(
            f"cannot return any neighbour: k={k}, gallery size={n_gallery}, "
            f"exclude_self={exclude_self} (need k >= 1 and a gallery with at least "
            f"{2 if exclude_self else 1} item(s))"
        )
    # One extra candidate so that dropping the query's own row still leaves k_eff results.
    k_search = k_eff + 1 if exclude_self else k_eff

    index = faiss.IndexFlatIP(base.shape[1])
    index.add(base)

    n_queries = queries.shape[0]
    out_idx = np.empty((n_queries, k_eff), dtype=np.int64)
    out_sim = np.empty((n_queries, k_eff), dtype=np.float32)
    for start in range(0, n_queries, batch_size):
        stop = min(start + batch_size, n_queries)
        sim, idx = index.search(queries[start:stop], k_search)
        if (idx < 0).any():
            # Cannot happen with k_search <= gallery size; guard so -1 never leaks as an index.
            raise RuntimeError("faiss returned fewer neighbours than requested")
        # Canonical order (similarity desc, index asc): faiss orders exact ties arbitrarily.
        order = np.lexsort((idx, -sim), axis=1)
        idx = np.take_along_axis(idx, order, axis=1)
        sim = np.take_along_axis(sim, order, axis=1)
        if exclude_self:
            rows = np.arange(start, stop)[:, None]
            drop = idx == rows
            # With exact ties (duplicate embeddings) the query's own row may rank past
            # k_search; then every returned item is a genuine neighbour and the last is extra.
            drop[~drop.any(axis=1), -1] = True
            keep = ~drop
            idx = idx[keep].reshape(stop - start, k_eff)
            sim = sim[keep].reshape(stop - start, k_eff)
        out_idx[start:stop] = idx
        out_sim[start:stop] = sim
    return out_idx, out_sim
