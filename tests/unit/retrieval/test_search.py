"""Tests for lookalike.retrieval.search, alone and end to end with the metrics."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from lookalike.retrieval import count_relevant, retrieval_metrics, top_k_neighbors


def _normalized(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _clustered(rng: np.random.Generator, labels: np.ndarray, dim: int) -> np.ndarray:
    """Embeddings near a per-label centre, so rankings mix relevant and irrelevant items."""
    _, inverse = np.unique(labels, return_inverse=True)
    centres = rng.standard_normal((inverse.max() + 1, dim))
    x = centres[inverse] + 1.2 * rng.standard_normal((len(labels), dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _tie_heavy(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    """Unit vectors with four entries of 0.5: dot products are exact, so ties are common."""
    x = np.zeros((n, dim), dtype=np.float32)
    for i in range(n):
        x[i, rng.choice(dim, 4, replace=False)] = 0.5
    return x


def _brute_force(embeddings: np.ndarray, labels: list, k: int):
    """Independent leave-one-out evaluation: full similarity matrix, Python loops, stable sort."""
    emb = embeddings.astype(np.float64)
    sim = emb @ emb.T
    n_items = len(labels)
    rankings, aps, top1, skipped = [], [], [], 0
    for q in range(n_items):
        others = [j for j in range(n_items) if j != q]
        ranked = sorted(others, key=lambda j: -sim[q, j])[:k]  # sorted() is stable
        rankings.append(ranked)
        n = sum(1 for j in others if labels[j] == labels[q])
        if n == 0:
            skipped += 1
            continue
        hits, total = 0, 0.0
        for i, j in enumerate(ranked, start=1):
            if labels[j] == labels[q]:
                hits += 1
                total += hits / i
        aps.append(total / min(n, k))
        top1.append(1.0 if labels[ranked[0]] == labels[q] else 0.0)
    mean_ap = sum(aps) / len(aps) if aps else float("nan")
    recall1 = sum(top1) / len(top1) if top1 else float("nan")
    return rankings, mean_ap, recall1, skipped


CASES = [
    # (n_items, dim, n_classes, k): k > some n, k > gallery size, many singletons, few classes
    (40, 8, 15, 5),
    (60, 16, 4, 10),
    (25, 4, 20, 3),
    (12, 8, 3, 50),
    (80, 32, 30, 1),
]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(("n_items", "dim", "n_classes", "k"), CASES)
@pytest.mark.parametrize("string_labels", [False, True])
def test_end_to_end_matches_brute_force(
    seed: int, n_items: int, dim: int, n_classes: int, k: int, string_labels: bool
) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n_items)
    labels[:3] = [-1, -2, -3]  # guaranteed singletons
    if string_labels:
        labels = np.array([f"sku-{v}" for v in labels], dtype=object)
    emb = _clustered(rng, labels, dim)

    idx, _ = top_k_neighbors(emb, k, batch_size=7)
    m = retrieval_metrics(labels, labels[idx], count_relevant(labels), k)

    rankings, ref_map, ref_r1, ref_skipped = _brute_force(emb, list(labels), k)
    np.testing.assert_array_equal(idx, np.array(rankings))
    assert m.n_skipped == ref_skipped >= 3
    assert m.n_queries == n_items - ref_skipped
    assert np.isclose(m.map_at_k, ref_map)
    assert np.isclose(m.recall_at_1, ref_r1)


def test_matches_numpy_argsort() -> None:
    rng = np.random.default_rng(0)
    emb = _normalized(rng, 300, 32)
    sim = emb.astype(np.float64) @ emb.T.astype(np.float64)
    for exclude_self in (False, True):
        full = sim.copy()
        if exclude_self:
            np.fill_diagonal(full, -np.inf)
        expected = np.argsort(-full, axis=1, kind="stable")[:, :10]
        idx, got_sim = top_k_neighbors(emb, 10, exclude_self=exclude_self)
        assert idx.dtype == np.int64 and got_sim.dtype == np.float32
        assert idx.shape == got_sim.shape == (300, 10)
        np.testing.assert_array_equal(idx, expected)
        np.testing.assert_allclose(got_sim, np.take_along_axis(sim, expected, 1), atol=1e-5)
        assert (np.diff(got_sim, axis=1) <= 0).all()


def test_without_exclude_self_query_is_first() -> None:
    emb = _normalized(np.random.default_rng(1), 50, 16)
    idx, sim = top_k_neighbors(emb, 3, exclude_self=False)
    np.testing.assert_array_equal(idx[:, 0], np.arange(50))
    np.testing.assert_allclose(sim[:, 0], 1.0, atol=1e-5)


def test_query_excluded_from_results() -> None:
    emb = _normalized(np.random.default_rng(2), 30, 8)
    idx, _ = top_k_neighbors(emb, 29)
    assert idx.shape == (30, 29)
    for q in range(30):
        assert q not in idx[q]
        assert sorted(idx[q]) == [j for j in range(30) if j != q]


@pytest.mark.parametrize("k", [1, 2, 5, 9, 10, 30])
@pytest.mark.parametrize("batch_size", [1, 3, 4096])
def test_duplicates_never_return_the_query(k: int, batch_size: int) -> None:
    rng = np.random.default_rng(3)
    emb = np.concatenate([np.tile(_normalized(rng, 1, 8), (10, 1)), _normalized(rng, 10, 8)])
    idx, sim = top_k_neighbors(emb, k, batch_size=batch_size)
    assert idx.shape == (20, min(k, 19))
    for q in range(20):
        assert q not in idx[q]
        assert len(set(idx[q].tolist())) == idx.shape[1]
    # a duplicate's nearest neighbours are the other copies (similarity 1)
    n_dup = min(k, 9)
    for q in range(10):
        assert set(idx[q, :n_dup].tolist()) <= set(range(10)) - {q}
        np.testing.assert_allclose(sim[q, :n_dup], 1.0, atol=1e-5)
    # identical copies share a label: perfect retrieval despite the exact ties
    labels = np.array([0] * 10 + list(range(1, 11)))
    m = retrieval_metrics(labels, labels[idx], count_relevant(labels), k)
    assert m.map_at_k == 1.0 and m.recall_at_1 == 1.0
    assert (m.n_queries, m.n_skipped) == (10, 10)


def test_all_identical_embeddings() -> None:
    emb = np.tile(np.array([[0.6, 0.8]], dtype=np.float32), (12, 1))
    idx, _ = top_k_neighbors(emb, 3, batch_size=5)
    for q in range(12):
        assert q not in idx[q]
        assert list(idx[q]) == sorted(idx[q])  # exact ties ordered by index


@pytest.mark.parametrize("batch_size", [1, 7, 64, 299, 300, 10_000])
def test_chunking_gives_identical_results(batch_size: int) -> None:
    emb = _normalized(np.random.default_rng(4), 300, 16)
    for exclude_self in (True, False):
        ref = top_k_neighbors(emb, 12, exclude_self=exclude_self)
        got = top_k_neighbors(emb, 12, exclude_self=exclude_self, batch_size=batch_size)
        np.testing.assert_array_equal(got[0], ref[0])
        np.testing.assert_array_equal(got[1], ref[1])


def test_deterministic_with_ties_across_threads_and_batches() -> None:
    emb = _tie_heavy(np.random.default_rng(5), 400, 8)
    ref_idx, ref_sim = top_k_neighbors(emb, 15)
    # canonical order inside exact ties: ascending index
    tied = ref_sim[:, 1:] == ref_sim[:, :-1]
    assert tied.any()
    assert (ref_idx[:, 1:][tied] > ref_idx[:, :-1][tied]).all()
    before = faiss.omp_get_max_threads()
    try:
        for threads in (1, 3):
            faiss.omp_set_num_threads(threads)
            for batch_size in (1, 13, 4096):
                idx, sim = top_k_neighbors(emb, 15, batch_size=batch_size)
                np.testing.assert_array_equal(idx, ref_idx)
                np.testing.assert_array_equal(sim, ref_sim)
    finally:
        faiss.omp_set_num_threads(before)


def test_gallery_mode() -> None:
    rng = np.random.default_rng(6)
    queries, gallery = _normalized(rng, 50, 16), _normalized(rng, 200, 16)
    sim = queries.astype(np.float64) @ gallery.T.astype(np.float64)
    expected = np.argsort(-sim, axis=1, kind="stable")[:, :7]
    for batch_size in (4096, 9):
        idx, got = top_k_neighbors(
            queries, 7, exclude_self=False, gallery=gallery, batch_size=batch_size
        )
        np.testing.assert_array_equal(idx, expected)
        np.testing.assert_allclose(got, np.take_along_axis(sim, expected, 1), atol=1e-5)
    # k larger than the gallery: every gallery item, in rank order
    idx, _ = top_k_neighbors(queries, 500, exclude_self=False, gallery=gallery)
    np.testing.assert_array_equal(idx, np.argsort(-sim, axis=1, kind="stable"))


def test_gallery_mode_rejects_exclude_self() -> None:
    emb = _normalized(np.random.default_rng(7), 5, 4)
    with pytest.raises(ValueError, match="exclude_self"):
        top_k_neighbors(emb, 2, gallery=emb)


def test_k_larger_than_gallery_is_clipped() -> None:
    emb = _normalized(np.random.default_rng(8), 6, 4)
    assert top_k_neighbors(emb, 100)[0].shape == (6, 5)
    assert top_k_neighbors(emb, 100, exclude_self=False)[0].shape == (6, 6)


def test_input_is_cast_to_contiguous_float32() -> None:
    emb = _normalized(np.random.default_rng(9), 40, 8)
    ref = top_k_neighbors(emb, 4)
    got = top_k_neighbors(np.asfortranarray(emb.astype(np.float64)), 4)
    np.testing.assert_array_equal(got[0], ref[0])


@pytest.mark.parametrize(
    ("n_items", "k", "exclude_self"), [(1, 1, True), (0, 1, True), (0, 1, False), (5, 0, True)]
)
def test_no_possible_neighbour_raises(n_items: int, k: int, exclude_self: bool) -> None:
    emb = np.ones((n_items, 4), dtype=np.float32) / 2
    with pytest.raises(ValueError, match="cannot return any neighbour"):
        top_k_neighbors(emb, k, exclude_self=exclude_self)


def test_rejects_bad_inputs() -> None:
    emb = _normalized(np.random.default_rng(10), 5, 4)
    bad = emb.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        top_k_neighbors(bad, 2)
    with pytest.raises(ValueError, match="2-D"):
        top_k_neighbors(emb[0], 2)
    with pytest.raises(ValueError, match="dim"):
        top_k_neighbors(emb, 2, exclude_self=False, gallery=emb[:, :3])
    with pytest.raises(ValueError, match="batch_size"):
        top_k_neighbors(emb, 2, batch_size=0)


def test_self_outside_candidates_drops_the_extra_last_candidate() -> None:
    # Not normalised, so other rows beat the query's own score and self is not among the k+1
    # candidates: the surplus candidate is the worst one, never the best.
    emb = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [4.0, 0.0]], dtype=np.float32)
    idx, sim = top_k_neighbors(emb, 2)
    np.testing.assert_array_equal(idx, [[3, 2], [3, 2], [3, 1], [2, 1]])
    np.testing.assert_array_equal(sim, [[4, 3], [8, 6], [12, 6], [12, 8]])
