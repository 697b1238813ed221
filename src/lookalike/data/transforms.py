"""Image augmentations per augmentations_strategy, and the batch normalization of pixel values.

Augmentations run per image on the CPU (albumentations, HWC numpy); normalization runs per
batch on the device, after the images were stacked, because Channel and Min_Max need batch
statistics.
"""

from __future__ import annotations

import warnings
from typing import Any

import albumentations as A
import cv2
import numpy as np
import torch

from lookalike.config.problems import Problem, ProblemsFound, errors
from lookalike.config.schema import Config
from lookalike.data.pipelines import parse_pipeline, translate_v1

__all__ = [
    "EPSILON",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "RangeBrightnessContrast",
    "build_transforms",
    "check_transforms",
    "imagenet_constants",
    "normalize_batch",
    "parse_pipeline",
    "translate_v1",
]

EPSILON = 1e-6  # smallest divisor: a constant batch or image normalizes to 0 instead of NaN
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Medium/Hard: Affine with the defaults of albumentations 1.x's ShiftScaleRotate (shift 6.25 %,
# scale ±10 %, rotate ±45°, mirrored border), and CoarseDropout of 1-8 holes each 5-10 % of the
# image side, so the strength does not depend on image_height / image_width.
AFFINE = dict(
    translate_percent=(-0.0625, 0.0625),
    scale=(0.9, 1.1),
    rotate=(-45, 45),
    border_mode=cv2.BORDER_REFLECT_101,
    p=0.5,
)
COARSE_DROPOUT = dict(
    num_holes_range=(1, 8), hole_height_range=(0.05, 0.1), hole_width_range=(0.05, 0.1), p=0.5
)


# --- normalization ---------------------------------------------------------------------------


def normalize_batch(x: torch.Tensor, mode: str) -> torch.Tensor:
    """Normalize a (B, C, H, W) batch of raw pixel values (uint8 or float) to float32.

    With ε = EPSILON guarding every division (``max(divisor, ε)``):

    - Channel: ``(x - mean_c) / std_c``, mean and (population) std of channel c over all
      images and pixels of the batch.
    - Image: ``(x - mean_b) / std_b``, mean and (population) std of image b over all its
      pixels and channels.
    - ImageNet: ``(x / 255 - mean_c) / std_c`` with mean (0.485, 0.456, 0.406) and std
      (0.229, 0.224, 0.225); see `imagenet_constants` for C != 3.
    - Inception: ``(x / 255 - 0.5) / 0.5``.
    - Min_Max: ``(x - min) / (max - min)``, min and max over the whole batch.
    - No: ``x`` as float32.
    - Simple: ``x / 255``.

    >>> normalize_batch(torch.tensor([[[[0, 255]]]], dtype=torch.uint8), "Simple")
    tensor([[[[0., 1.]]]])
    """
    x = x.to(torch.float32)
    if mode == "No":
        return x
    if mode == "Simple":
        return x / 255.0
    if mode == "Inception":
        return (x / 255.0 - 0.5) / 0.5
    if mode == "ImageNet":
        mean, std = imagenet_constants(x.shape[1])
        shape = (1, -1, 1, 1)
        return (x / 255.0 - mean.to(x.device).view(shape)) / std.to(x.device).view(shape)
    if mode == "Channel":
        return _standardize(x, dims=(0, 2, 3))
    if mode == "Image":
        return _standardize(x, dims=(1, 2, 3))
    if mode == "Min_Max":
        low, high = x.min(), x.max()
        return (x - low) / (high - low).clamp_min(EPSILON)
    raise ValueError(f"unknown image normalization {mode!r}")


def _standardize(x: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    mean = x.mean(dim=dims, keepdim=True)
    std = x.std(dim=dims, keepdim=True, correction=0)
    return (x - mean) / std.clamp_min(EPSILON)


def imagenet_constants(channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """ImageNet mean and std for `channels` channels.

    One channel takes the mean of the three constants (a gray image is the average of R, G and
    B); more channels repeat (R, G, B) cyclically, so the first three of an RGB+X image keep
    their own constants. This matches how timm adapts pretrained first-layer weights to
    ``in_chans`` (summed for 1 channel, repeated for more than 3).

    >>> imagenet_constants(1)[0]
    tensor([0.4490])
    >>> imagenet_constants(4)[1]
    tensor([0.2290, 0.2240, 0.2250, 0.2290])
    """
    mean, std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
    if channels == 1:
        return mean.mean().reshape(1), std.mean().reshape(1)
    index = torch.arange(channels) % 3
    return mean[index], std[index]


# --- augmentation pipelines ------------------------------------------------------------------


class RangeBrightnessContrast(A.RandomBrightnessContrast):
    """RandomBrightnessContrast that keeps float images in their own value range.

    uint8 images are changed exactly as by albumentations. albumentations clips float images
    to [0, 1], which would wipe out 16-bit and .npy values; here a float image becomes
    ``alpha * x + beta * peak`` (peak = its largest absolute value, standing in for the dtype
    maximum) and is not clipped.
    """

    def apply(self, img: np.ndarray, alpha: float, beta: float, **params: Any) -> np.ndarray:
        if img.dtype == np.uint8:
            return super().apply(img, alpha, beta, **params)
        if self.brightness_by_max:
            beta = beta * float(np.abs(img).max())  # beta arrived scaled by 1.0, the float max
        return (img.astype(np.float32) * alpha + beta).astype(np.float32)


def build_transforms(cfg: Config, seed: int | None = None) -> tuple[A.Compose, A.Compose]:
    """(train, inference) pipelines for ``augmentation.augmentations_strategy``.

    Soft: Resize + HorizontalFlip for training. Medium: Soft + Affine + CoarseDropout. Hard:
    RandomResizedCrop + HorizontalFlip + Affine + CoarseDropout + RandomBrightnessContrast.
    Inference is a plain Resize for all three. Custom: the serialized pipelines of
    ``custom_train_augmentations`` / ``custom_inference_augmentations``. Raises ProblemsFound
    for a Custom pipeline that albumentations cannot build as written. `seed` seeds both.
    """
    height, width = cfg.image.image_height, cfg.image.image_width
    strategy = cfg.augmentation.augmentations_strategy
    if strategy == "Custom":
        train, train_problems = parse_pipeline(
            cfg.augmentation.custom_train_augmentations,
            "augmentation.custom_train_augmentations",
            height,
            width,
        )
        inference, inference_problems = parse_pipeline(
            cfg.augmentation.custom_inference_augmentations,
            "augmentation.custom_inference_augmentations",
            height,
            width,
        )
        found = errors(train_problems + inference_problems)
        if found:
            raise ProblemsFound(found)
        assert train is not None and inference is not None
    else:
        train = A.Compose(_train_steps(strategy, height, width))
        inference = A.Compose([A.Resize(height, width)])
    if seed is not None:
        train.set_random_seed(seed)
        inference.set_random_seed(seed)
    return train, inference


def _train_steps(strategy: str, height: int, width: int) -> list[A.BasicTransform]:
    if strategy == "Soft":
        return [A.Resize(height, width), A.HorizontalFlip(p=0.5)]
    if strategy == "Medium":
        return [
            A.Resize(height, width),
            A.HorizontalFlip(p=0.5),
            A.Affine(**AFFINE),
            A.CoarseDropout(**COARSE_DROPOUT),
        ]
    if strategy == "Hard":
        return [
            A.RandomResizedCrop(size=(height, width)),
            A.HorizontalFlip(p=0.5),
            A.Affine(**AFFINE),
            A.CoarseDropout(**COARSE_DROPOUT),
            RangeBrightnessContrast(p=0.5),
        ]
    raise ValueError(f"unknown augmentations strategy {strategy!r}")


def check_transforms(cfg: Config, image: np.ndarray | None = None) -> list[Problem]:
    """Problems of the augmentation settings, and of running both pipelines on `image` (a
    decoded sample of the data, HWC) when given: a failure, a size other than image_height ×
    image_width, or a channel count other than image_channels."""
    height, width = cfg.image.image_height, cfg.image.image_width
    channels = cfg.image.image_channels
    custom = cfg.augmentation.augmentations_strategy == "Custom"
    problems: list[Problem] = []
    if custom:
        for name in ("custom_train_augmentations", "custom_inference_augmentations"):
            _, found = parse_pipeline(
                getattr(cfg.augmentation, name), f"augmentation.{name}", height, width
            )
            problems += found
    if errors(problems) or image is None:
        return problems
    pipelines = zip(("train", "inference"), build_transforms(cfg, seed=0), strict=True)
    for role, pipeline in pipelines:
        setting = (
            f"augmentation.custom_{role}_augmentations"
            if custom
            else ("augmentation.augmentations_strategy")
        )
        problems += _try_pipeline(pipeline, image, setting, (height, width, channels))
    return problems


def _try_pipeline(
    pipeline: A.Compose, image: np.ndarray, setting: str, expected: tuple[int, int, int]
) -> list[Problem]:
    sample = f"a {image.shape[1]}×{image.shape[0]} {image.dtype} image with {image.shape[2]} "
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = pipeline(image=image)["image"]
    except Exception as error:
        text = " ".join(str(error).split())[:300]
        return [
            Problem(
                "error",
                setting,
                f"fails on {sample}channel(s): {text}",
                "use transforms that support this image type",
            )
        ]
    if not isinstance(out, np.ndarray):
        return [
            Problem(
                "error",
                setting,
                f"returns {type(out).__name__}, not a numpy image",
                "remove ToTensorV2 and Normalize; lookalike converts and normalizes "
                "(image.image_normalization)",
            )
        ]
    shape = out.shape if out.ndim == 3 else (*out.shape, 1)
    if shape[2] != expected[2]:
        return [
            Problem(
                "error",
                setting,
                f"turns {sample}channel(s) into {shape[2]} channel(s)",
                f"image.image_channels is {expected[2]}",
            )
        ]
    if shape[:2] != expected[:2]:
        return [
            Problem(
                "warning",
                setting,
                f"makes {shape[0]}×{shape[1]} (height×width) images, not "
                f"{expected[0]}×{expected[1]}: images of other sizes cannot be batched",
                "end the pipeline with a Resize to IMAGE_HEIGHT × IMAGE_WIDTH",
            )
        ]
    return []
