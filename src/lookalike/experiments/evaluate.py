"""Embed a split and search it against itself: top-K neighbours and retrieval metrics."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import albumentations as A
import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader

from lookalike.config.schema import Config
from lookalike.data.dataset import ImageDataset
from lookalike.data.inputs import Split
from lookalike.data.loader import make_loader
from lookalike.model.embed import compute_embeddings
from lookalike.retrieval import RetrievalMetrics, count_relevant, retrieval_metrics, top_k_neighbors
from lookalike.train.progress import progress_bar

log = logging.getLogger("lookalike")


@dataclass
class Retrieval:
    """Each image of a split searched among the others of the same split (itself excluded)."""

    embeddings: np.ndarray  # (N, D), unit norm, row order of the split
    indices: np.ndarray  # (N, K) row numbers of the most similar other images, best first
    similarities: np.ndarray  # (N, K) cosine similarities, same order
    metrics: RetrievalMetrics | None  # None when the split has no labels

    def metrics_dict(self) -> dict[str, float | int]:
        if self.metrics is None:
            return {}
        m = self.metrics
        return {
            "mAP": m.map_at_k,
            "recall@1": m.recall_at_1,
            "queries": m.n_queries,
            "queries_without_match": m.n_skipped,
        }


@dataclass
class Evaluator:
    """Embeds a split with the inference transform and searches it against itself."""

    cfg: Config
    model: nn.Module
    transform: A.Compose
    device: torch.device
    dtype: torch.dtype | None  # autocast dtype for inference, None for float32
    loaders: dict[tuple[int, int], DataLoader] = field(default_factory=dict)

    def __call__(self, split: Split, title: str, batch_size: int) -> Retrieval:
        embeddings = self.embed(split, title, batch_size)
        result = retrieve(embeddings, split.labels, self.cfg.prediction.top_k_similar)
        if result.metrics is not None:
            m = result.metrics
            log.info(
                "%s: mAP@%d %.4f, recall@1 %.4f (%d queries; %d without a possible match are "
                "left out).",
                title, result.indices.shape[1], m.map_at_k, m.recall_at_1, m.n_queries,
                m.n_skipped,
            )  # fmt: skip
        return result

    def embed(self, split: Split, title: str, batch_size: int) -> np.ndarray:
        cfg = self.cfg
        key = (id(split), batch_size)  # validation is embedded again and again: keep its workers
        if key not in self.loaders:
            dataset = ImageDataset(split.paths, None, self.transform, cfg.image.image_channels)
            self.loaders[key] = make_loader(
                dataset,
                batch_size=batch_size,
                workers=cfg.environment.number_of_workers,
                pin_memory=self.device.type == "cuda",
                persistent=True,
            )
        loader = self.loaders[key]
        started, done = time.perf_counter(), 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            bar.update(speed=done / max(time.perf_counter() - started, 1e-9))

        with progress_bar(f"embedding {title.lower()}", len(loader)) as bar:
            return compute_embeddings(
                self.model,
                loader,
                device=self.device,
                normalization=cfg.image.image_normalization,
                test_time_augmentations=cfg.prediction.test_time_augmentations,
                autocast_dtype=self.dtype,
                on_batch=advance,
            )


def retrieve(embeddings: np.ndarray, labels: np.ndarray | None, k: int) -> Retrieval:
    """Top-k among the split's other images; metrics when labels are known."""
    indices, similarities = top_k_neighbors(embeddings, k, exclude_self=True)
    metrics = None
    if labels is not None:
        metrics = retrieval_metrics(
            labels, labels[indices], count_relevant(labels), k=indices.shape[1]
        )
    return Retrieval(embeddings, indices, similarities, metrics)


def predictions_frame(cfg: Config, split: Split, result: Retrieval) -> pd.DataFrame:
    """One row per image: its name and label, then its top-K images, labels and similarities."""
    image_column, label_column = cfg.dataset.image_column, cfg.dataset.label_columns
    names = split.frame[image_column].astype(str).to_numpy()
    out = pd.DataFrame({image_column: names})
    if split.labels is not None:
        out[label_column] = split.labels
    out["top_k_images"] = _join(names[result.indices])
    if split.labels is not None:
        out["top_k_labels"] = _join(np.asarray(split.labels, dtype=object)[result.indices])
    out["top_k_similarities"] = _join(np.char.mod("%.6f", result.similarities))
    return out


def _join(rows: np.ndarray) -> list[str]:
    return [" ".join(map(str, row)) for row in rows]
