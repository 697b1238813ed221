"""Loading settings: precedence, dotted overrides, and clear messages for bad configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from lookalike.config import ProblemsFound, check_config, errors, load_config, warnings

EXPORTED = Path(__file__).parent / "hydrogen_torch_export.yaml"


def problems_of(path=None, overrides=()):
    with pytest.raises(ProblemsFound) as raised:
        load_config(path, list(overrides))
    return raised.value.problems


def test_precedence_defaults_then_yaml_then_overrides(tmp_path):
    file = tmp_path / "cfg.yaml"
    file.write_text("training:\n  learning_rate: 0.01\n  epochs: 7\n")
    cfg = load_config(file, ["training.learning_rate=3e-4", "architecture.pool=GeM"])
    assert cfg.training.learning_rate == pytest.approx(3e-4)  # override beats YAML
    assert cfg.training.epochs == 7  # YAML beats default
    assert cfg.training.batch_size == 16  # default
    assert cfg.architecture.pool == "GeM"


def test_unknown_key_names_the_closest_valid_one():
    (problem,) = problems_of(EXPORTED, ["training.arcface_margn=0.2"])
    assert problem.where == "training.arcface_margn"
    assert "did you mean `training.arcface_margin`?" in problem.hint


def test_unknown_key_in_a_yaml_file_and_a_setting_in_the_wrong_section(tmp_path):
    file = tmp_path / "cfg.yaml"
    file.write_text("training:\n  backbone: resnet18\n  epohcs: 3\n")
    found = {p.where: p for p in problems_of(file)}
    assert "section `architecture`" in found["training.backbone"].hint
    assert "training.epochs" in found["training.epohcs"].hint


def test_unknown_section_in_an_override():
    (problem,) = problems_of(None, ["trainig.epochs=3"])
    assert "did you mean `training`" in problem.hint


def test_bad_value_names_field_value_and_allowed_values():
    (problem,) = problems_of(None, ["architecture.pool=gem"])
    assert problem.where == "architecture.pool"
    assert "'gem'" in problem.message and "GeM" in problem.message and "Average" in problem.message


def test_every_bad_value_is_reported_at_once():
    found = problems_of(None, ["training.epochs=abc", "dataset.validation_size=1.5",
                               "image.image_normalization=Z"])  # fmt: skip
    assert {p.where for p in found} == {
        "training.epochs", "dataset.validation_size", "image.image_normalization"
    }  # fmt: skip


def test_malformed_override_and_yaml(tmp_path):
    (problem,) = problems_of(None, ["training.epochs"])
    assert "section.key=value" in problem.message
    bad = tmp_path / "bad.yaml"
    bad.write_text("training:\n  epochs: [1\n")
    (problem,) = problems_of(bad)
    assert "not valid YAML" in problem.message and str(bad) in problem.where
    (problem,) = problems_of(tmp_path / "missing.yaml")
    assert "not found" in problem.message
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00training")
    (problem,) = problems_of(binary)
    assert "UTF-8" in problem.message


def test_cross_field_problems_are_reported_together_errors_apart_from_warnings():
    cfg = load_config(
        EXPORTED,
        ["dataset.validation_dataframe=val.csv", "training.save_best_checkpoint=true",
         "training.evaluation_epochs=2", "dataset.data_folder_test=test_images",
         "training.differential_learning_rate_layers=[Backbone]",
         "training.differential_learning_rate=0.001"],
    )  # fmt: skip
    problems = check_config(cfg)
    assert {p.where for p in errors(problems)} == {
        "dataset.validation_dataframe", "training.evaluation_epochs"
    }  # fmt: skip
    assert {p.where for p in warnings(problems)} == {
        "dataset.data_folder_test", "training.differential_learning_rate"
    }  # fmt: skip
    (val,) = [p for p in problems if p.where == "dataset.validation_dataframe"]
    assert "custom_holdout_validation" in val.hint


@pytest.mark.parametrize(
    ("overrides", "where", "words"),
    [
        (["dataset.validation_strategy=custom_holdout_validation"],
         "dataset.validation_dataframe", "required"),
        (["dataset.validation_strategy=grouped_kfold", "dataset.group_fold_column=None"],
         "dataset.group_fold_column", "required"),
        (["training.warmup_epochs=9"], "training.warmup_epochs", "longer"),
        (["training.save_best_checkpoint=true", "training.train_validation_data=true"],
         "training.train_validation_data", "cannot be combined"),
        (["augmentation.augmentations_strategy=Custom",
          "augmentation.custom_train_augmentations={not json"],
         "augmentation.custom_train_augmentations", "not valid JSON"),
        (["dataset.train_dataframe=None"], "dataset.train_dataframe", "required"),
    ],
)  # fmt: skip
def test_each_cross_field_error(overrides, where, words):
    problems = errors(check_config(load_config(EXPORTED, overrides)))
    assert any(p.where == where and words in p.message for p in problems), problems


def test_settings_of_features_to_come_are_warned_about_not_ignored():
    cfg = load_config(EXPORTED, ["environment.number_of_gpus_per_run=2",
                                 "environment.number_of_seeds_per_run=3",
                                 "environment.sync_batch_normalization=true"])  # fmt: skip
    problems = check_config(cfg)
    assert not errors(problems)
    assert {p.where for p in warnings(problems)} == {
        "environment.number_of_gpus_per_run", "environment.number_of_seeds_per_run",
        "environment.sync_batch_normalization",
    }  # fmt: skip
    (neptune,) = errors(check_config(load_config(EXPORTED, ["logging.logger=Neptune"])))
    assert neptune.where == "logging.logger"


def test_exported_file_has_no_configuration_problems():
    assert check_config(load_config(EXPORTED)) == []
