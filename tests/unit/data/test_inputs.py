"""load_inputs: the happy path, and one Problem for every kind of bad input."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
from tests.conftest import make_image_dataset

from lookalike.config.problems import errors
from lookalike.data.inputs import load_inputs

SEED = 11


def one(problems, severity="error"):
    found = [p for p in problems if p.severity == severity]
    assert len(found) == 1, problems
    return found[0]


def test_kfold_inputs_and_summary(image_dataset, make_config):
    cfg = make_config(image_dataset)
    inputs, problems = load_inputs(cfg, 0, SEED)
    assert inputs is not None, problems
    assert len(inputs.train.paths) + len(inputs.validation.paths) == 24
    assert all(p.is_absolute() and p.is_file() for p in inputs.train.paths)
    assert inputs.classes == ["class_0", "class_1", "class_2", "class_3"]
    assert list(inputs.train.frame.columns) == ["image", "label"]
    assert list(inputs.validation.frame.index) == list(range(len(inputs.validation.paths)))
    ids = inputs.class_ids(inputs.train)
    assert ids.dtype == np.int64 and set(ids.tolist()) == {0, 1, 2, 3}
    assert [inputs.classes[i] for i in ids] == inputs.train.labels.tolist()
    summary = inputs.summary()
    assert summary["strategy"] == "kfold" and summary["fold"] == 0
    assert summary["n_classes"] == 4 and summary["n_test"] == 0
    assert summary["n_train"] == len(inputs.train.paths)
    with_match = summary["validation_queries_with_match"]
    assert with_match + summary["validation_queries_without_match"] == summary["n_validation"]


def test_same_seed_same_split_other_fold_other_rows(image_dataset, make_config):
    cfg = make_config(image_dataset)
    first = load_inputs(cfg, 0, SEED)[0].validation.paths
    assert load_inputs(cfg, 0, SEED)[0].validation.paths == first
    assert not set(load_inputs(cfg, 1, SEED)[0].validation.paths) & set(first)


def test_grouped_kfold_on_the_label_is_open_set(tmp_path, make_config):
    csv = make_image_dataset(tmp_path, n_classes=10, per_class=3)
    cfg = make_config(
        csv, dataset={"validation_strategy": "grouped_kfold", "group_fold_column": "label"}
    )
    inputs, problems = load_inputs(cfg, 2, SEED)
    assert inputs is not None and problems == []
    assert not set(inputs.validation.labels) & set(inputs.classes)
    assert (inputs.class_ids(inputs.validation) == -1).all()
    assert inputs.summary()["validation_queries_with_training_label"] == 0
    assert inputs.summary()["validation_queries_without_match"] == 0


def test_custom_holdout_and_test_frame_without_labels(tmp_path, make_config):
    train = make_image_dataset(tmp_path, n_classes=3)
    validation = make_image_dataset(tmp_path, n_classes=2, name="valid", label_offset=5)
    test = make_image_dataset(tmp_path, n_classes=2, name="test")
    pd.read_csv(test)[["image"]].to_parquet(tmp_path / "test.parquet")
    cfg = make_config(
        train,
        dataset={
            "validation_strategy": "custom_holdout_validation",
            "validation_dataframe": str(validation),
            "test_dataframe": str(tmp_path / "test.parquet"),
        },
    )
    inputs, problems = load_inputs(cfg, 0, SEED)
    assert inputs is not None, problems
    assert len(inputs.train.paths) == 18 and len(inputs.validation.paths) == 12
    assert inputs.fold is None and inputs.test is not None
    assert inputs.test.labels is None and len(inputs.test.paths) == 12
    assert (inputs.class_ids(inputs.test) == -1).all()


def test_train_validation_data_trains_on_both(image_dataset, make_config):
    cfg = make_config(image_dataset, training={"train_validation_data": True})
    inputs, _ = load_inputs(cfg, 0, SEED)
    both = inputs.training_split()
    assert len(both.paths) == 24 == len(both.frame) == len(both.labels)
    assert len(inputs.training_split(False).paths) == len(inputs.train.paths) < 24
    assert inputs.summary()["n_train"] == 24


def test_paths_resolve_from_the_current_directory_without_data_folder(
    image_dataset, make_config, monkeypatch
):
    cfg = make_config(image_dataset, dataset={"data_folder": None})
    monkeypatch.chdir(image_dataset.parent / "images")
    inputs, problems = load_inputs(cfg, 0, SEED)
    assert inputs is not None, problems
    assert inputs.train.paths[0].parent == image_dataset.parent / "images"


def test_missing_train_file(tmp_path, make_config):
    inputs, problems = load_inputs(make_config(tmp_path / "none.csv"), 0, SEED)
    problem = one(problems)
    assert inputs is None and problem.where == "dataset.train_dataframe"
    assert "does not exist" in problem.message


def test_missing_column_names_existing_columns_and_the_closest(image_dataset, make_config):
    inputs, problems = load_inputs(
        make_config(image_dataset, dataset={"label_columns": "lable"}), 0, SEED
    )
    problem = one(problems)
    assert inputs is None and problem.where == "dataset.label_columns"
    assert "'lable'" in problem.message and str(image_dataset) in problem.message
    assert "image, label" in problem.hint and "did you mean 'label'" in problem.hint


def test_empty_labels_are_counted_with_rows(image_dataset, make_config):
    frame = pd.read_csv(image_dataset)
    frame.loc[[3, 8], "label"] = ""
    frame.to_csv(image_dataset, index=False)
    inputs, problems = load_inputs(make_config(image_dataset), 0, SEED)
    problem = one(problems)
    assert inputs is None and problem.where == f"{image_dataset}: label"
    assert "2 of 24 rows are empty" in problem.message and "rows 3, 8" in problem.message


def test_missing_image_files_count_and_examples(image_dataset, make_config):
    frame = pd.read_csv(image_dataset)
    for name in frame["image"][:7]:
        (image_dataset.parent / "images" / name).unlink()
    inputs, problems = load_inputs(make_config(image_dataset), 0, SEED)
    problem = one(problems)
    assert inputs is None and problem.where == f"{image_dataset}: image"
    assert "7 of 24 image files are missing" in problem.message
    assert all(name in problem.message for name in frame["image"][:5])
    assert frame["image"][5] not in problem.message  # only the first five examples


def test_missing_data_folder(image_dataset, make_config):
    cfg = make_config(image_dataset, dataset={"data_folder": str(image_dataset.parent / "x")})
    inputs, problems = load_inputs(cfg, 0, SEED)
    problem = one(problems)
    assert inputs is None and problem.where == "dataset.data_folder"


def test_corrupt_images_are_found_unless_decoding_is_off(image_dataset, make_config):
    names = pd.read_csv(image_dataset)["image"]
    for name in names[[2, 9]]:
        (image_dataset.parent / "images" / name).write_bytes(b"broken")
    inputs, problems = load_inputs(make_config(image_dataset), 0, SEED)
    problem = one(problems)
    assert inputs is None and problem.where == f"{image_dataset}: image"
    assert "2 of 24 images cannot be decoded" in problem.message
    assert "rows 2, 9" in problem.message and names[2] in problem.message
    inputs, problems = load_inputs(make_config(image_dataset), 0, SEED, check_images=False)
    assert inputs is not None and errors(problems) == []


def test_channel_count_that_does_not_fit(image_dataset, make_config):
    cfg = make_config(image_dataset, image={"image_channels": 4})
    inputs, problems = load_inputs(cfg, 0, SEED)
    problem = one(problems)
    assert inputs is None and problem.where == f"{image_dataset}: image"
    assert "24 of 24 images do not fit image.image_channels=4" in problem.message
    assert "3 channel(s)" in problem.message


def test_fold_column_without_the_selected_fold(image_dataset, make_config):
    frame = pd.read_csv(image_dataset)
    frame["fold"] = np.arange(24) % 3 + 1
    frame.to_csv(image_dataset, index=False)
    cfg = make_config(image_dataset, dataset={"folds": [0, 2]})
    inputs, problems = load_inputs(cfg, 2, SEED)
    problem = one(problems)
    assert inputs is None and problem.where == "dataset.folds"
    assert "[0]" in problem.message and "`fold` column" in problem.message
    assert "[1, 2, 3]" in problem.hint
    cfg.dataset.folds = [3]
    inputs, _ = load_inputs(cfg, 3, SEED)
    assert set(inputs.validation.frame["fold"]) == {"3"}


def test_folds_out_of_range_for_the_automatic_split(image_dataset, make_config):
    cfg = make_config(image_dataset, dataset={"folds": [0, 7]})
    inputs, problems = load_inputs(cfg, 0, SEED)
    problem = one(problems)
    assert inputs is None and problem.where == "dataset.folds"
    assert "[7]" in problem.message and "0..4" in problem.hint


def test_validation_queries_without_a_match_warn(tmp_path, make_config):
    csv = make_image_dataset(tmp_path, n_classes=4, per_class=6)
    frame = pd.read_csv(csv)
    frame.loc[:4, "label"] = [f"alone_{i}" for i in range(5)]
    frame.to_csv(csv, index=False)
    cfg = make_config(
        csv, dataset={"validation_strategy": "automatic_holdout_validation", "validation_size": 0.5}
    )
    inputs, problems = load_inputs(cfg, 0, SEED)
    problem = one(problems, "warning")
    assert inputs is not None and problem.where == f"{csv}: label"
    lonely = inputs.summary()["validation_queries_without_match"]
    assert lonely > 0 and f"{lonely} of 12 validation queries" in problem.message
    assert "left out of the metric" in problem.message


def test_no_validation_query_with_a_match_is_an_error(tmp_path, make_config):
    csv = make_image_dataset(tmp_path, n_classes=24, per_class=1)
    inputs, problems = load_inputs(make_config(csv), 0, SEED)
    problem = one(problems)
    assert inputs is None and problem.where == f"{csv}: label"
    assert "none of the 5 validation queries" in problem.message


def test_test_images_found_in_data_folder_instead_of_data_folder_test(tmp_path, make_config):
    train = make_image_dataset(tmp_path)
    test = make_image_dataset(tmp_path, name="test")
    (tmp_path / "test_images").mkdir()
    cfg = make_config(
        train,
        dataset={"test_dataframe": str(test), "data_folder_test": str(tmp_path / "test_images")},
    )
    inputs, problems = load_inputs(cfg, 0, SEED)
    problem = one(problems)
    assert inputs is None and problem.where == f"{test}: image"
    assert "24 of 24 image files are missing from" in problem.message
    assert str(tmp_path / "test_images") in problem.message
    assert "dataset.data_folder" in problem.hint and "data_folder_test" in problem.hint
    for name in pd.read_csv(test)["image"]:
        shutil.move(tmp_path / "images" / name, tmp_path / "test_images" / name)
    inputs, problems = load_inputs(cfg, 0, SEED)
    assert inputs is not None and errors(problems) == [] and inputs.test.paths[0].is_file()


def test_batch_larger_than_the_training_split(image_dataset, make_config):
    cfg = make_config(image_dataset, training={"batch_size": 64})
    inputs, problems = load_inputs(cfg, 0, SEED)
    problem = one(problems)
    assert inputs is None and problem.where == "training.batch_size"
    assert "no training step" in problem.message and "drop_last_batch" in problem.hint
    cfg.training.drop_last_batch = False
    assert load_inputs(cfg, 0, SEED)[0] is not None


def test_a_single_training_class_is_an_error(tmp_path, make_config):
    csv = make_image_dataset(tmp_path, n_classes=1, per_class=10)
    inputs, problems = load_inputs(make_config(csv), 0, SEED)
    problem = one(problems)
    assert inputs is None and problem.where == f"{csv}: label"
    assert "1 class(es); ArcFace needs at least 2" in problem.message


def test_invalid_custom_augmentations_are_reported(image_dataset, make_config):
    cfg = make_config(
        image_dataset,
        augmentation={"augmentations_strategy": "Custom", "custom_train_augmentations": "{oops"},
    )
    inputs, problems = load_inputs(cfg, 0, SEED)
    problem = one(problems)
    assert inputs is None and problem.where == "augmentation.custom_train_augmentations"


def test_every_problem_is_reported_at_once(tmp_path, make_config):
    csv = make_image_dataset(tmp_path)
    frame = pd.read_csv(csv)
    frame.loc[0, "label"] = ""
    frame.to_csv(csv, index=False)
    (tmp_path / "images" / frame["image"][5]).unlink()
    (tmp_path / "images" / frame["image"][6]).write_bytes(b"x")
    test = tmp_path / "test.csv"
    frame.rename(columns={"image": "file"}).to_csv(test, index=False)
    cfg = make_config(csv, dataset={"test_dataframe": str(test)}, training={"batch_size": 64})
    inputs, problems = load_inputs(cfg, 0, SEED)
    assert inputs is None
    messages = " | ".join(str(p) for p in problems)
    assert "no training step" not in messages  # the train labels are not usable yet
    frame.loc[0, "label"] = "class_0"
    frame.to_csv(csv, index=False)
    inputs, problems = load_inputs(cfg, 0, SEED)
    messages = " | ".join(str(p) for p in problems)
    assert "no training step" in messages  # a broken test frame hides no train problem
    assert "rows are empty" in messages
    assert "image files are missing" in messages
    assert "cannot be decoded" in messages
    assert "'image' is not in" in messages and str(test) in messages


def test_npy_and_mixed_extensions_load(tmp_path, make_config):
    csv = make_image_dataset(tmp_path, extensions=(".jpg", ".png", ".bmp", ".tif", ".webp", ".npy"))
    inputs, problems = load_inputs(make_config(csv), 0, SEED)
    assert inputs is not None and errors(problems) == []
    used = inputs.training_split(True).paths + inputs.validation.paths
    assert {p.suffix for p in used} == {".jpg", ".png", ".bmp", ".tif", ".webp", ".npy"}
