"""Inputs of a run: tables, validation splits, image decoding, augmentations and the Dataset."""

from lookalike.data.checks import possible_matches
from lookalike.data.dataset import UNLABELED, ImageDataset
from lookalike.data.folds import (
    append_validation,
    assign_folds,
    holdout_mask,
    sample_frame,
    split_train_validation,
)
from lookalike.data.frames import read_frame, text_values
from lookalike.data.images import ImageChannelsError, ImageError, load_image
from lookalike.data.inputs import Inputs, Split, load_inputs
from lookalike.data.transforms import (
    build_transforms,
    check_transforms,
    normalize_batch,
    parse_pipeline,
    translate_v1,
)

__all__ = [
    "UNLABELED",
    "ImageChannelsError",
    "ImageDataset",
    "ImageError",
    "Inputs",
    "Split",
    "append_validation",
    "assign_folds",
    "build_transforms",
    "check_transforms",
    "holdout_mask",
    "load_image",
    "load_inputs",
    "normalize_batch",
    "parse_pipeline",
    "possible_matches",
    "read_frame",
    "sample_frame",
    "split_train_validation",
    "text_values",
    "translate_v1",
]
