"""Embeddings for a whole dataset: normalise each batch, average test-time flips, L2-normalise."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lookalike.data.transforms import normalize_batch
from lookalike.runtime import autocast

# Test-time augmentations as flips of a (B, C, H, W) batch.
FLIPS = {"horizontal_flip": (3,), "vertical_flip": (2,)}


def tta_views(x: torch.Tensor, augmentations: Sequence[str]) -> list[torch.Tensor]:
    """The batch itself followed by one flipped copy per test-time augmentation."""
    return [x, *(torch.flip(x, dims=FLIPS[name]) for name in augmentations)]


@torch.inference_mode()
def compute_embeddings(
    model: nn.Module,
    batches: Iterable,
    *,
    device: torch.device,
    normalization: str,
    test_time_augmentations: Sequence[str] = (),
    autocast_dtype: torch.dtype | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Float32 (N, D) unit-norm embeddings in the order of `batches` (pairs of images, labels).

    With test-time augmentations, each view's unit embedding is averaged and the mean is
    normalised again, so every view counts equally.
    """
    model.eval()
    chunks = []
    for images, _ in batches:
        x = normalize_batch(images.to(device, non_blocking=True), normalization)
        views = []
        for view in tta_views(x, test_time_augmentations):
            with autocast(device, autocast_dtype):
                views.append(F.normalize(model(view).float(), dim=1))
        mean = torch.stack(views).mean(dim=0)
        chunks.append(F.normalize(mean, dim=1).cpu().numpy())
        if on_batch:
            on_batch(len(x))
    if not chunks:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(chunks).astype(np.float32, copy=False)
