"""ImageDataset: tensors, dtypes and labels for every kind of image file."""

from __future__ import annotations

import albumentations as A
import numpy as np
import pytest
import torch

import lookalike.data.dataset as dataset_module
from lookalike.config.schema import Config
from lookalike.data.dataset import ImageDataset
from lookalike.data.images import ImageError
from lookalike.data.transforms import build_transforms, normalize_batch


def transforms(strategy: str, channels: int):
    cfg = Config()
    cfg.image.image_height, cfg.image.image_width, cfg.image.image_channels = 16, 12, channels
    cfg.augmentation.augmentations_strategy = strategy
    return build_transforms(cfg, seed=0)


@pytest.mark.parametrize("channels", [1, 3, 5])
@pytest.mark.parametrize("strategy", ["Soft", "Medium", "Hard"])
def test_npy_images_run_through_the_dataset(tmp_path, channels, strategy):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "f.npy", (rng.random((20, 18, channels)) * 3000).astype(np.float32))
    np.save(tmp_path / "u.npy", rng.integers(0, 256, (20, 18, channels), dtype=np.uint8))
    train, _ = transforms(strategy, channels)
    data = ImageDataset([tmp_path / "f.npy", tmp_path / "u.npy"], [3, 1], train, channels)
    (floats, label), (uint8, _) = data[0], data[1]
    assert floats.shape == (channels, 16, 12) and floats.dtype == torch.float32
    assert uint8.shape == (channels, 16, 12) and uint8.dtype == torch.uint8
    assert label.dtype == torch.int64 and label.item() == 3
    batch = torch.stack([floats, uint8.float()])
    assert normalize_batch(batch, "Image").shape == (2, channels, 16, 12)


def test_png_dataset_is_unlabeled_with_minus_one(image_dataset):
    paths = sorted((image_dataset.parent / "images").glob("*.png"))[:3]
    data = ImageDataset(paths, None, transforms("Soft", 3)[1], 3)
    assert len(data) == 3
    image, label = data[2]
    assert image.shape == (3, 16, 12) and image.dtype == torch.uint8
    assert label.item() == -1 and label.dtype == torch.int64


def test_without_transform_the_image_is_returned_as_is(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(6, dtype=np.uint8).reshape(2, 3))
    image, _ = ImageDataset([tmp_path / "a.npy"], [0], None, 1)[0]
    assert image.tolist() == [[[0, 1, 2], [3, 4, 5]]]


def test_errors_name_the_file(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"nope")
    data = ImageDataset([tmp_path / "bad.png"], None, None, 3)
    with pytest.raises(ImageError, match=r"bad\.png"):
        data[0]
    with pytest.raises(ValueError, match="2 paths but 1 labels"):
        ImageDataset([tmp_path / "a", tmp_path / "b"], [0], None, 3)


def test_workers_reseed_the_transform(tmp_path, monkeypatch):
    np.save(tmp_path / "a.npy", np.zeros((4, 4, 3), dtype=np.uint8))
    transform = A.Compose([A.HorizontalFlip(p=0.5)])
    seeds = []
    monkeypatch.setattr(transform, "set_random_seed", seeds.append)
    data = ImageDataset([tmp_path / "a.npy"], None, transform, 3)

    class Info:
        seed = 2**32 + 11

    monkeypatch.setattr(dataset_module, "get_worker_info", lambda: Info)
    data[0]
    data[0]  # the same worker seed: no second reseed
    Info.seed = 12
    data[0]
    assert seeds == [11, 12]
    monkeypatch.setattr(dataset_module, "get_worker_info", lambda: None)
    torch.manual_seed(5)
    data[0]
    assert seeds == [11, 12, 5]


def test_torch_seed_makes_augmentations_repeatable_in_the_main_process(tmp_path):
    np.save(tmp_path / "a.npy", np.random.default_rng(0).integers(0, 255, (30, 30, 3), np.uint8))

    def epoch(seed: int) -> list[torch.Tensor]:
        torch.manual_seed(seed)
        train = transforms("Hard", 3)[0]
        train.set_random_seed(None)  # as built without a seed: OS entropy
        data = ImageDataset([tmp_path / "a.npy"] * 6, None, train, 3)
        return [data[i][0] for i in range(6)]

    first, again, other = epoch(1), epoch(1), epoch(2)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, other, strict=True))
