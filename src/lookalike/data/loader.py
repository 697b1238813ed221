"""DataLoaders for training and inference, seeded so a run with a fixed seed repeats itself."""

from __future__ import annotations

import random

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset


def _seed_worker(worker_id: int) -> None:
    # Each worker seeds numpy/random from torch's per-worker seed (derived from the run seed).
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def make_loader(
    dataset: Dataset,
    *,
    batch_size: int,
    workers: int,
    shuffle: bool = False,
    drop_last: bool = False,
    seed: int = 0,
    pin_memory: bool = False,
    persistent: bool = False,
) -> DataLoader:
    """A DataLoader whose shuffling and worker seeds follow `seed`.

    persistent keeps the worker processes alive between passes (epochs, repeated evaluations),
    so each pass does not pay for starting them again; each pass still shuffles anew, drawing
    its order from the seeded generator.
    """
    generator = torch.Generator()
    generator.manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        drop_last=drop_last,
        num_workers=workers,
        pin_memory=pin_memory,
        worker_init_fn=_seed_worker,
        generator=generator,
        persistent_workers=persistent and workers > 0,
    )
