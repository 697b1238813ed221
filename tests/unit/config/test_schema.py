"""The schema: every reference setting has a field with its metadata; YAML round-trips exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lookalike.config import LEVELS, config_to_yaml, field_info, load_config, save_config

EXPORTED = Path(__file__).parent / "hydrogen_torch_export.yaml"

# The settings the reference document marks "Grid search hyperparameter".
REFERENCE_GRID = {
    "image.image_normalization", "augmentation.augmentations_strategy",
    "architecture.pretrained", "architecture.embedding_size", "architecture.backbone",
    "architecture.pool", "architecture.dropout", "training.loss_function",
    "training.arcface_margin", "training.arcface_scale", "training.optimizer",
    "training.learning_rate", "training.batch_size", "training.epochs", "training.schedule",
    "training.warmup_epochs", "training.weight_decay", "training.gradient_clip",
    "training.grad_accumulation",
}  # fmt: skip

# Every setting of the reference that applies to image metric learning (snake_case of its title).
REFERENCE_SETTINGS = {
    "experiment_name", "dataset.train_dataframe", "dataset.data_folder",
    "dataset.validation_strategy", "dataset.validation_dataframe", "dataset.folds",
    "dataset.test_dataframe", "dataset.data_folder_test", "dataset.label_columns",
    "dataset.image_column", "dataset.data_sample", "image.image_width", "image.image_height",
    "image.image_channels", "image.image_normalization", "augmentation.augmentations_strategy",
    "architecture.pretrained", "architecture.embedding_size", "architecture.backbone",
    "architecture.pool", "architecture.dropout", "training.loss_function",
    "training.arcface_margin", "training.arcface_scale", "training.optimizer",
    "training.learning_rate", "training.differential_learning_rate_layers",
    "training.batch_size", "training.automatically_adjust_batch_size",
    "training.drop_last_batch", "training.epochs", "training.schedule",
    "training.warmup_epochs", "training.weight_decay", "training.gradient_clip",
    "training.grad_accumulation", "training.save_best_checkpoint",
    "training.evaluation_epochs", "training.evaluate_before_training",
    "training.calculate_train_metric", "training.train_validation_data",
    "training.build_scoring_pipelines", "prediction.metric", "prediction.top_k_similar",
    "prediction.test_time_augmentations", "environment.gpus",
    "environment.number_of_seeds_per_run", "environment.number_of_gpus_per_run",
    "environment.mixed_precision_training", "environment.mixed_precision_inference",
    "environment.sync_batch_normalization", "environment.number_of_workers",
    "environment.seed", "logging.logger", "logging.neptune_api_token",
    "logging.neptune_project", "logging.log_grad_norm", "logging.number_of_images",
}  # fmt: skip


def test_every_reference_setting_has_a_field_with_metadata():
    infos = {info.path: info for info in field_info()}
    assert set(infos) >= REFERENCE_SETTINGS, REFERENCE_SETTINGS - set(infos)
    for info in infos.values():
        assert info.help.strip(), info.path
        assert info.level in LEVELS, info.path


def test_grid_flags_match_the_reference():
    assert {i.path for i in field_info() if i.grid} == REFERENCE_GRID


def test_enumerations_are_spelled_as_in_the_reference():
    def allowed(path):
        (info,) = [i for i in field_info() if i.path == path]
        return set(info.choices)

    assert allowed("architecture.pool") == {
        "Average", "CatAverageMax", "GeM", "Max", "MeanAverageMax"
    }  # fmt: skip
    assert allowed("training.schedule") == {"Constant", "Cosine", "Linear"}
    assert allowed("augmentation.augmentations_strategy") == {"Soft", "Medium", "Hard", "Custom"}
    assert allowed("image.image_normalization") == {
        "Channel", "Image", "ImageNet", "Inception", "Min_Max", "No", "Simple"
    }  # fmt: skip
    assert allowed("training.differential_learning_rate_layers") == {"Backbone", "Neck", "Loss"}
    assert allowed("dataset.validation_strategy") == {
        "kfold", "grouped_kfold", "custom_holdout_validation", "automatic_holdout_validation"
    }  # fmt: skip
    assert allowed("prediction.test_time_augmentations") == {"horizontal_flip", "vertical_flip"}
    assert allowed("training.epochs") == set()


def test_exported_hydrogen_torch_file_loads_unchanged():
    cfg = load_config(EXPORTED)
    assert cfg.experiment_name == "53_bicycle_image_metric_learning"
    assert cfg.dataset.folds == [0]
    assert cfg.environment.gpus == [0]
    assert cfg.environment.seed == -1
    assert cfg.dataset.data_folder_test is None
    assert cfg.dataset.test_dataframe is None
    assert cfg.dataset.label_columns == "label"
    assert cfg.dataset.validation_strategy == "kfold"
    assert cfg.logging.logger == "None"
    assert "IMAGE_HEIGHT" in cfg.augmentation.custom_train_augmentations
    assert cfg.training.arcface_scale == 45


def test_save_keeps_the_exported_spelling_and_values(tmp_path):
    original = yaml.safe_load(EXPORTED.read_text())
    saved = yaml.safe_load(config_to_yaml(load_config(EXPORTED)))

    def same(a, b, path=""):
        for key, value in a.items():
            if isinstance(value, dict):
                same(value, b[key], f"{path}{key}.")
            else:
                assert (b[key] == value and type(b[key]) is type(value)) or (
                    isinstance(value, int | float) and b[key] == value
                ), f"{path}{key}: {value!r} became {b[key]!r}"

    same(original, saved)
    assert saved["dataset"]["folds"] == ["0"]
    assert saved["dataset"]["data_folder_test"] == "None"


@pytest.mark.parametrize(
    "overrides",
    [
        [],
        ["architecture.pool=GeM", "training.learning_rate=3e-4", "dataset.folds=[1,2]",
         "prediction.test_time_augmentations=[horizontal_flip]", "environment.gpus=[]",
         "dataset.validation_strategy=automatic_holdout_validation",
         "dataset.data_sample_choice=[Train]", "architecture.pretrained_weights=w.safetensors"],
    ],
)  # fmt: skip
def test_save_then_load_round_trips_exactly(tmp_path, overrides):
    cfg = load_config(EXPORTED, overrides)
    save_config(cfg, tmp_path / "cfg.yaml")
    again = load_config(tmp_path / "cfg.yaml")
    assert again == cfg
    save_config(again, tmp_path / "again.yaml")
    assert (tmp_path / "again.yaml").read_text() == (tmp_path / "cfg.yaml").read_text()


def test_screen_labels_are_accepted_and_saved_in_the_exported_spelling():
    cfg = load_config(
        None,
        ["dataset.validation_strategy=Grouped k-fold cross validation",
         "prediction.test_time_augmentations=[Horizontal flip, Vertical flip]"],
    )  # fmt: skip
    assert cfg.dataset.validation_strategy == "grouped_kfold"
    assert cfg.prediction.test_time_augmentations == ["horizontal_flip", "vertical_flip"]


def test_label_columns_accepts_a_one_element_list():
    assert load_config(None, ["dataset.label_columns=[sku]"]).dataset.label_columns == "sku"
