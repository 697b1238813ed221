"""Shared test setup: offline libraries and a factory for small synthetic image datasets."""

from __future__ import annotations

import os

# Tests never reach the internet.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["NO_ALBUMENTATIONS_UPDATE"] = "1"

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

PALETTE = np.array(
    [
        (230, 25, 75),
        (60, 180, 75),
        (255, 225, 25),
        (0, 130, 200),
        (245, 130, 48),
        (145, 30, 180),
        (70, 240, 240),
        (240, 50, 230),
        (210, 245, 60),
        (250, 190, 212),
    ],
    dtype=np.uint8,
)


def class_image(label: int, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """An RGB image whose colour and stripe direction identify its class, plus noise."""
    image = np.empty((size, size, 3), dtype=np.float32)
    image[:] = PALETTE[label % len(PALETTE)]
    stripes = (np.arange(size) // 4) % 2 == 0
    if (label // len(PALETTE)) % 2:
        image[:, stripes] *= 0.4
    else:
        image[stripes, :] *= 0.4
    image += rng.normal(0, 12, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def make_image_dataset(
    root: Path,
    n_classes: int = 4,
    per_class: int = 6,
    size: int = 32,
    extensions: tuple[str, ...] = (".png",),
    seed: int = 0,
    name: str = "train",
    label_offset: int = 0,
) -> Path:
    """Write images under root/images and root/<name>.csv (columns image, label); return the csv."""
    rng = np.random.default_rng(seed)
    folder = root / "images"
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for c in range(n_classes):
        label = c + label_offset
        for i in range(per_class):
            ext = extensions[(c * per_class + i) % len(extensions)]
            file = f"{name}_{label}_{i}{ext}"
            image = class_image(label, rng, size)
            if ext == ".npy":
                np.save(folder / file, image)
            else:
                cv2.imwrite(str(folder / file), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            rows.append({"image": file, "label": f"class_{label}"})
    csv = root / f"{name}.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    return csv


@pytest.fixture
def image_dataset(tmp_path: Path) -> Path:
    """A small 4-class PNG dataset: returns the train csv path (images in its folder/images)."""
    return make_image_dataset(tmp_path)
