"""build_transforms per augmentations_strategy, Custom pipelines from Hydrogen Torch JSON."""

from __future__ import annotations

import json
import warnings

import albumentations as A
import cv2
import numpy as np
import pytest

from lookalike.config.problems import ProblemsFound
from lookalike.config.schema import Config
from lookalike.data.transforms import (
    RangeBrightnessContrast,
    build_transforms,
    check_transforms,
    parse_pipeline,
    translate_v1,
)

# Exactly as in a Hydrogen Torch export (hydrogen-torch-exported-config-example.yaml).
HT_PIPELINE = (
    '{"__version__": "1.1.0", "transform": {"__class_fullname__": "Compose", "p": 1.0, '
    '"transforms": [{"__class_fullname__": "Resize", "always_apply": true, "p": 1, "height": '
    'IMAGE_HEIGHT, "width": IMAGE_WIDTH, "interpolation": 1}], "bbox_params": null, '
    '"keypoint_params": null, "additional_targets": {}}}'
)
H, W = 24, 20


def config(strategy: str = "Soft", channels: int = 3, **augmentation: str) -> Config:
    cfg = Config()
    cfg.image.image_height, cfg.image.image_width = H, W
    cfg.image.image_channels = channels
    cfg.augmentation.augmentations_strategy = strategy
    for name, value in augmentation.items():
        setattr(cfg.augmentation, name, value)
    return cfg


def images(channels: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [
        rng.integers(0, 256, (40, 30, channels), dtype=np.uint8),
        (rng.random((40, 30, channels)) * 4000).astype(np.float32),
    ]


def pipeline(steps: list[dict]) -> str:
    return json.dumps(
        {
            "__version__": "1.1.0",
            "transform": {"__class_fullname__": "Compose", "p": 1.0, "transforms": steps},
        }
    )


@pytest.mark.parametrize("strategy", ["Soft", "Medium", "Hard", "Custom"])
@pytest.mark.parametrize("channels", [1, 3, 5])
def test_every_strategy_gives_the_image_size_and_keeps_dtype(strategy, channels):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train, inference = build_transforms(config(strategy, channels), seed=0)
        for image in images(channels):
            for transform in (train, inference):
                for _ in range(3):  # random steps fire with p = 0.5
                    out = transform(image=image)["image"]
                    assert out.shape == (H, W, channels)
                    assert out.dtype == image.dtype


def names(compose: A.Compose) -> list[str]:
    return [type(t).__name__ for t in compose.transforms]


def test_strategies_contain_their_steps():
    assert names(build_transforms(config("Soft"))[0]) == ["Resize", "HorizontalFlip"]
    assert names(build_transforms(config("Medium"))[0]) == [
        "Resize",
        "HorizontalFlip",
        "Affine",
        "CoarseDropout",
    ]
    assert names(build_transforms(config("Hard"))[0]) == [
        "RandomResizedCrop",
        "HorizontalFlip",
        "Affine",
        "CoarseDropout",
        "RangeBrightnessContrast",
    ]
    for strategy in ("Soft", "Medium", "Hard"):
        assert names(build_transforms(config(strategy))[1]) == ["Resize"]


def test_medium_affine_matches_old_shift_scale_rotate_defaults():
    affine = build_transforms(config("Medium"))[0].transforms[2]
    assert affine.border_mode == cv2.BORDER_REFLECT_101
    assert affine.rotate == (-45, 45)
    assert affine.scale == {"x": (0.9, 1.1), "y": (0.9, 1.1)}


def test_soft_inference_is_exactly_a_plain_resize():
    image = images(3)[0]
    _, inference = build_transforms(config("Soft"))
    expected = cv2.resize(image, (W, H), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(inference(image=image)["image"], expected)
    np.testing.assert_array_equal(A.Resize(H, W)(image=image)["image"], expected)


def test_soft_training_flips_horizontally_sometimes():
    image = images(3)[0]
    train, _ = build_transforms(config("Soft"), seed=3)
    resized = cv2.resize(image, (W, H), interpolation=cv2.INTER_LINEAR)
    outs = [train(image=image)["image"] for _ in range(20)]
    assert any(np.array_equal(o, resized[:, ::-1]) for o in outs)
    assert any(np.array_equal(o, resized) for o in outs)


def test_seed_makes_training_augmentations_repeatable():
    image = images(3)[0]
    first = build_transforms(config("Hard"), seed=7)[0]
    second = build_transforms(config("Hard"), seed=7)[0]
    for _ in range(3):
        np.testing.assert_array_equal(first(image=image)["image"], second(image=image)["image"])


def test_hydrogen_torch_json_builds_without_warnings():
    cfg = config(
        "Custom", custom_train_augmentations=HT_PIPELINE, custom_inference_augmentations=HT_PIPELINE
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train, inference = build_transforms(cfg)
    resize = train.transforms[0]
    assert isinstance(resize, A.Resize)
    assert (resize.height, resize.width, resize.p) == (H, W, 1)
    image = images(3)[0]
    np.testing.assert_array_equal(
        inference(image=image)["image"], cv2.resize(image, (W, H), interpolation=1)
    )


def test_translate_v1_rewrites_old_arguments():
    spec = {
        "transform": {
            "__class_fullname__": "Compose",
            "p": 1.0,
            "transforms": [
                {
                    "__class_fullname__": "CoarseDropout",
                    "always_apply": False,
                    "p": 0.5,
                    "max_holes": 8,
                    "max_height": 8,
                    "max_width": 6,
                    "min_holes": None,
                    "min_height": 2,
                    "min_width": None,
                    "fill_value": 0,
                    "mask_fill_value": None,
                },
                {"__class_fullname__": "RandomResizedCrop", "p": 1, "height": 16, "width": 12},
                {
                    "__class_fullname__": "PadIfNeeded",
                    "p": 1,
                    "min_height": 8,
                    "min_width": 8,
                    "value": 3,
                    "mask_value": None,
                    "border_mode": 0,
                },
            ],
        }
    }
    steps = translate_v1(spec)["transform"]["transforms"]
    assert steps[0] == {
        "__class_fullname__": "CoarseDropout",
        "p": 0.5,
        "num_holes_range": [8, 8],
        "hole_height_range": [2, 8],
        "hole_width_range": [6, 6],
        "fill": 0,
    }
    assert steps[1] == {"__class_fullname__": "RandomResizedCrop", "p": 1, "size": [16, 12]}
    assert steps[2]["fill"] == 3 and "value" not in steps[2]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        built = A.from_dict(translate_v1(spec))
    assert built.transforms[0].num_holes_range == (8, 8)
    assert built.transforms[1].size == (16, 12)


def custom(train: str, inference: str = HT_PIPELINE) -> Config:
    return config(
        "Custom", custom_train_augmentations=train, custom_inference_augmentations=inference
    )


@pytest.mark.parametrize(
    ("train", "inference", "setting", "words"),
    [
        ("{not json", HT_PIPELINE, "custom_train_augmentations", "not valid JSON"),
        ('{"a": 1}', HT_PIPELINE, "custom_train_augmentations", "'transform'"),
        (
            HT_PIPELINE,
            pipeline([{"__class_fullname__": "NoSuchThing", "p": 1}]),
            "custom_inference_augmentations",
            "unknown transform",
        ),
        (
            pipeline(
                [{"__class_fullname__": "Resize", "p": 1, "height": 8, "width": 8, "widht": 8}]
            ),
            HT_PIPELINE,
            "custom_train_augmentations",
            "'widht'",
        ),
        (
            pipeline([{"__class_fullname__": "Resize", "p": 1, "height": 8}]),
            HT_PIPELINE,
            "custom_train_augmentations",
            "Resize: width: Field required",
        ),
        (
            pipeline([{"__class_fullname__": "HorizontalFlip"}]),
            HT_PIPELINE,
            "custom_train_augmentations",
            "'p'",
        ),
        (
            pipeline([{"__class_fullname__": "Resize", "p": 1, "height": -3, "width": 8}]),
            HT_PIPELINE,
            "custom_train_augmentations",
            "Resize: height: Input should be greater",
        ),
    ],
)
def test_invalid_custom_pipelines_name_their_setting(train, inference, setting, words):
    with pytest.raises(ProblemsFound) as raised:
        build_transforms(custom(train, inference))
    (problem,) = raised.value.problems
    assert problem.severity == "error"
    assert problem.where == f"augmentation.{setting}"
    assert words in problem.message


def test_albumentations_notices_become_warnings():
    text = pipeline([{"__class_fullname__": "ShiftScaleRotate", "p": 0.5}])
    built, problems = parse_pipeline(text, "augmentation.custom_train_augmentations", H, W)
    assert built is not None
    assert [p.severity for p in problems] == ["warning"]
    assert "Affine" in problems[0].message


def test_range_brightness_contrast_keeps_float_range():
    image = np.full((4, 4, 5), 1000.0, dtype=np.float32)
    step = RangeBrightnessContrast(brightness_limit=(0.1, 0.1), contrast_limit=(0, 0), p=1)
    np.testing.assert_allclose(step(image=image)["image"], 1100.0)
    uint8 = np.full((4, 4, 3), 100, dtype=np.uint8)
    plain = A.RandomBrightnessContrast(brightness_limit=(0.1, 0.1), contrast_limit=(0, 0), p=1)
    np.testing.assert_array_equal(step(image=uint8)["image"], plain(image=uint8)["image"])


def test_check_transforms_runs_the_pipelines_on_a_sample():
    sample = images(3)[0]
    assert check_transforms(config("Hard"), sample) == []
    no_resize = pipeline([{"__class_fullname__": "HorizontalFlip", "p": 0.5}])
    (problem,) = check_transforms(custom(no_resize), sample)
    assert problem.severity == "warning"
    assert problem.where == "augmentation.custom_train_augmentations"
    assert "40×30" in problem.message
    gray = pipeline(
        [
            {"__class_fullname__": "Resize", "p": 1, "height": H, "width": W},
            {"__class_fullname__": "ToGray", "p": 1, "num_output_channels": 1},
        ]
    )
    (problem,) = check_transforms(custom(HT_PIPELINE, gray), sample)
    assert problem.severity == "error"
    assert problem.where == "augmentation.custom_inference_augmentations"
    assert "1 channel" in problem.message
    tensor = pipeline([{"__class_fullname__": "ToTensorV2", "p": 1}])
    (problem,) = check_transforms(custom(tensor), sample)
    assert problem.severity == "error" and "ToTensorV2" in problem.hint
