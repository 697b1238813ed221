"""Cross-field problems in a configuration, found without reading any data."""

from __future__ import annotations

import json

from lookalike.config.problems import Problem
from lookalike.config.schema import Config

AUTOMATIC_FOLDS = 5  # the automatic K-fold and grouped K-fold splits have five folds


def substitute_image_size(pipeline: str, height: int, width: int) -> str:
    """Hydrogen Torch writes IMAGE_HEIGHT / IMAGE_WIDTH where the image size goes."""
    return pipeline.replace("IMAGE_HEIGHT", str(height)).replace("IMAGE_WIDTH", str(width))


def check_config(cfg: Config) -> list[Problem]:
    """Every problem between settings, errors and warnings together (the caller sorts them)."""
    return [
        *_check_validation(cfg),
        *_check_training(cfg),
        *_check_augmentation(cfg),
        *_check_environment(cfg),
        *_check_logging(cfg),
    ]


def _check_validation(cfg: Config) -> list[Problem]:
    d = cfg.dataset
    problems = []
    if d.train_dataframe is None:
        problems.append(
            Problem(
                "error",
                "dataset.train_dataframe",
                "is required to train",
                hint="point it at a .csv or .parquet file with image and label columns",
            )
        )
    if d.validation_dataframe is not None and d.validation_strategy != "custom_holdout_validation":
        problems.append(
            Problem(
                "error",
                "dataset.validation_dataframe",
                f"is set but validation_strategy is {d.validation_strategy}",
                hint="set dataset.validation_strategy=custom_holdout_validation, or "
                "dataset.validation_dataframe=None",
            )
        )
    if d.validation_strategy == "custom_holdout_validation" and d.validation_dataframe is None:
        problems.append(
            Problem(
                "error",
                "dataset.validation_dataframe",
                "is required by custom_holdout_validation",
                hint="give a validation .csv/.parquet, or choose another validation_strategy",
            )
        )
    if d.validation_strategy == "grouped_kfold" and not d.group_fold_column:
        problems.append(
            Problem(
                "error",
                "dataset.group_fold_column",
                "is required by grouped_kfold",
                hint=f"e.g. dataset.group_fold_column={d.label_columns} to validate on "
                "classes never seen in training",
            )
        )
    if d.validation_strategy in ("kfold", "grouped_kfold") and not d.folds:
        problems.append(
            Problem(
                "error",
                "dataset.folds",
                "select at least one validation fold",
                hint="e.g. dataset.folds=[0]",
            )
        )
    if d.data_folder_test is not None and d.test_dataframe is None:
        problems.append(
            Problem("warning", "dataset.data_folder_test", "is set but there is no test_dataframe")
        )
    return problems


def _check_training(cfg: Config) -> list[Problem]:
    t = cfg.training
    problems = []
    if t.save_best_checkpoint and t.evaluation_epochs != 1:
        problems.append(
            Problem(
                "error",
                "training.evaluation_epochs",
                f"is {t.evaluation_epochs:g} but save_best_checkpoint evaluates every epoch",
                hint="set training.evaluation_epochs=1 or training.save_best_checkpoint=false",
            )
        )
    if t.save_best_checkpoint and t.train_validation_data:
        problems.append(
            Problem(
                "error",
                "training.train_validation_data",
                "cannot be combined with save_best_checkpoint (the best epoch would be chosen "
                "on data it trained on)",
                hint="turn one of them off",
            )
        )
    if t.epochs and t.warmup_epochs > t.epochs:
        problems.append(
            Problem(
                "error",
                "training.warmup_epochs",
                f"{t.warmup_epochs:g} is longer than training.epochs={t.epochs}",
                hint="use fewer warmup epochs than epochs",
            )
        )
    if t.epochs and t.evaluation_epochs > t.epochs:
        problems.append(
            Problem(
                "warning",
                "training.evaluation_epochs",
                f"{t.evaluation_epochs:g} is more than training.epochs={t.epochs}: "
                "validation runs once, at the end",
            )
        )
    layers = set(t.differential_learning_rate_layers)
    if layers == {"Backbone", "Neck", "Loss"}:
        problems.append(
            Problem(
                "warning",
                "training.differential_learning_rate_layers",
                "every part uses the differential learning rate, so learning_rate is unused",
            )
        )
    if layers and t.differential_learning_rate == t.learning_rate:
        problems.append(
            Problem(
                "warning",
                "training.differential_learning_rate",
                "equals learning_rate, so differential_learning_rate_layers has no effect",
            )
        )
    if cfg.architecture.pretrained_weights and not cfg.architecture.pretrained:
        problems.append(
            Problem(
                "warning",
                "architecture.pretrained_weights",
                "is set but architecture.pretrained is false: the file is not used",
            )
        )
    if t.epochs == 0 and not t.evaluate_before_training:
        problems.append(
            Problem(
                "warning",
                "training.epochs",
                "is 0: the model is not trained; set training.evaluate_before_training=true "
                "to measure it",
            )
        )
    return problems


def _check_augmentation(cfg: Config) -> list[Problem]:
    if cfg.augmentation.augmentations_strategy != "Custom":
        return []
    problems = []
    for name in ("custom_train_augmentations", "custom_inference_augmentations"):
        text = substitute_image_size(
            getattr(cfg.augmentation, name), cfg.image.image_height, cfg.image.image_width
        )
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            problems.append(
                Problem(
                    "error",
                    f"augmentation.{name}",
                    f"is not valid JSON ({error.msg} at character {error.pos})",
                    hint="paste a pipeline saved with albumentations.to_dict / save(..., "
                    "data_format='json')",
                )
            )
            continue
        if not isinstance(data, dict) or "transform" not in data:
            problems.append(
                Problem(
                    "error",
                    f"augmentation.{name}",
                    "is not a serialized albumentations pipeline (no 'transform' key)",
                )
            )
    return problems


def _check_environment(cfg: Config) -> list[Problem]:
    """Settings whose feature is not in this version: said, never silently ignored."""
    e = cfg.environment
    problems = []
    if e.number_of_gpus_per_run > 1:
        problems.append(
            Problem(
                "warning",
                "environment.number_of_gpus_per_run",
                f"is {e.number_of_gpus_per_run}, but a run uses one GPU in this version",
            )
        )
    if e.sync_batch_normalization:
        problems.append(
            Problem(
                "warning",
                "environment.sync_batch_normalization",
                "has no effect: a run uses one GPU in this version",
            )
        )
    if e.number_of_seeds_per_run > 1:
        problems.append(
            Problem(
                "warning",
                "environment.number_of_seeds_per_run",
                f"is {e.number_of_seeds_per_run}, but each run trains once in this version",
                hint="start the run again with other environment.seed values",
            )
        )
    return problems


def _check_logging(cfg: Config) -> list[Problem]:
    if cfg.logging.logger != "Neptune":
        return []
    return [
        Problem(
            "error",
            "logging.logger",
            "Neptune tracking is not available in this version of lookalike",
            hint="use logging.logger=None; every run writes logs.log and charts.json",
        )
    ]
