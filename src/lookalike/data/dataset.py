"""A torch Dataset that decodes, augments and tensorizes one image per item."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, get_worker_info

from lookalike.data.images import ImageError, load_image

__all__ = ["UNLABELED", "ImageDataset"]

UNLABELED = -1


class ImageDataset(Dataset):
    """Items are ``(image, label)``: image a CHW tensor (uint8 for uint8 images, else float32,
    not normalized: see `normalize_batch`), label an int64 scalar tensor, -1 when unlabeled.

    The transform's random state follows torch's: it is reseeded from the worker's seed in
    DataLoader workers (so workers do not repeat each other's augmentations) and from
    ``torch.initial_seed()`` in the main process, so ``torch.manual_seed(seed)`` makes the
    augmentations repeatable. albumentations 2 draws its own seed from the OS otherwise.
    """

    def __init__(
        self,
        paths: Sequence[Path],
        labels: Sequence[int] | np.ndarray | None,
        transform: Callable[..., dict[str, Any]] | None,
        channels: int,
    ):
        if labels is not None and len(labels) != len(paths):
            raise ValueError(f"{len(paths)} paths but {len(labels)} labels")
        self.paths = [Path(p) for p in paths]
        self.labels = None if labels is None else np.asarray(labels, dtype=np.int64)
        self.transform = transform
        self.channels = channels
        self._torch_seed: int | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        path = self.paths[index]
        image = load_image(path, self.channels)
        if self.transform is not None:
            self._follow_torch_seed()
            try:
                image = self.transform(image=image)["image"]
            except Exception as error:
                raise ImageError(f"{path}: augmentation failed ({error})") from error
        if image.ndim == 2:  # some transforms drop a single channel axis
            image = image[:, :, None]
        if image.dtype != np.uint8:
            image = image.astype(np.float32, copy=False)
        tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))
        label = UNLABELED if self.labels is None else int(self.labels[index])
        return tensor, torch.tensor(label, dtype=torch.int64)

    def _follow_torch_seed(self) -> None:
        info = get_worker_info()
        seed = info.seed if info is not None else torch.initial_seed()
        if seed == self._torch_seed:
            return
        self._torch_seed = seed
        reseed = getattr(self.transform, "set_random_seed", None)
        if reseed is not None:
            reseed(seed % 2**32)
