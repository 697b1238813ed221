"""Validation strategies: sizes, disjointness, partitions, groups, determinism, data_sample."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lookalike.config.schema import Dataset
from lookalike.data.folds import (
    append_validation,
    assign_folds,
    holdout_mask,
    sample_frame,
    split_train_validation,
)

N = 60


def frame(n: int = N, fold: bool = False) -> pd.DataFrame:
    data = {"image": [f"{i}.png" for i in range(n)], "label": [f"c{i // 4}" for i in range(n)]}
    if fold:
        data["fold"] = [str(i % 3) for i in range(n)]  # as read from a CSV: text
    return pd.DataFrame(data)


def settings(**values) -> Dataset:
    return Dataset(**values)


def test_kfold_partitions_rows_into_five_folds():
    folds = assign_folds(frame(), "kfold", seed=1)
    assert sorted(np.unique(folds).tolist()) == [0, 1, 2, 3, 4]
    assert np.bincount(folds).tolist() == [12] * 5


def test_kfold_is_deterministic_given_the_seed_and_differs_between_seeds():
    a = assign_folds(frame(), "kfold", seed=1)
    np.testing.assert_array_equal(a, assign_folds(frame(), "kfold", seed=1))
    assert not np.array_equal(a, assign_folds(frame(), "kfold", seed=2))


def test_kfold_respects_the_fold_column():
    folds = assign_folds(frame(fold=True), "kfold", seed=1)
    np.testing.assert_array_equal(folds, np.arange(N) % 3)


def test_grouped_kfold_keeps_each_group_in_one_fold():
    data = frame()
    folds = assign_folds(data, "grouped_kfold", group_column="label", seed=3)
    per_group = pd.Series(folds).groupby(data["label"]).nunique()
    assert (per_group == 1).all()
    assert sorted(np.unique(folds).tolist()) == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(
        folds, assign_folds(data, "grouped_kfold", group_column="label", seed=3)
    )
    assert not np.array_equal(
        folds, assign_folds(data, "grouped_kfold", group_column="label", seed=4)
    )


def test_grouped_kfold_rejects_empty_groups():
    data = frame()
    data.loc[3, "label"] = None
    with pytest.raises(ValueError, match="empty"):
        assign_folds(data, "grouped_kfold", group_column="label", seed=0)


def check_disjoint(train: pd.DataFrame, validation: pd.DataFrame) -> None:
    assert not set(train["image"]) & set(validation["image"])
    assert list(train.index) == list(range(len(train)))
    assert list(validation.index) == list(range(len(validation)))


@pytest.mark.parametrize("strategy", ["kfold", "grouped_kfold"])
def test_fold_strategies_validate_on_one_fold_and_train_on_the_rest(strategy):
    d = settings(validation_strategy=strategy, group_fold_column="label")
    seen = []
    for fold in range(5):
        train, validation = split_train_validation(d, frame(), None, fold, seed=5)
        check_disjoint(train, validation)
        assert len(train) + len(validation) == N
        seen += list(validation["image"])
    assert sorted(seen) == sorted(frame()["image"])  # the folds partition the data


def test_grouped_split_validates_on_unseen_labels():
    d = settings(validation_strategy="grouped_kfold", group_fold_column="label")
    train, validation = split_train_validation(d, frame(), None, 0, seed=5)
    assert not set(train["label"]) & set(validation["label"])


def test_kfold_split_uses_the_fold_column():
    d = settings(validation_strategy="kfold")
    train, validation = split_train_validation(d, frame(fold=True), None, 2, seed=5)
    assert (validation["fold"] == "2").all() and len(validation) == N // 3
    assert not (train["fold"] == "2").any()


def test_custom_holdout_trains_on_the_whole_train_frame():
    d = settings(validation_strategy="custom_holdout_validation")
    holdout = frame(10).assign(image=lambda f: "v" + f["image"])
    train, validation = split_train_validation(d, frame(), holdout, 3, seed=5)
    pd.testing.assert_frame_equal(train, frame())
    pd.testing.assert_frame_equal(validation, holdout)
    with pytest.raises(ValueError, match="validation frame"):
        split_train_validation(d, frame(), None, 0, seed=5)


def test_automatic_holdout_draws_validation_size_with_the_seed():
    d = settings(validation_strategy="automatic_holdout_validation", validation_size=0.25)
    train, validation = split_train_validation(d, frame(), None, 0, seed=5)
    check_disjoint(train, validation)
    assert len(validation) == math.ceil(0.25 * N) and len(train) == N - len(validation)
    again = split_train_validation(d, frame(), None, 0, seed=5)[1]
    other = split_train_validation(d, frame(), None, 0, seed=6)[1]
    assert list(again["image"]) == list(validation["image"])
    assert list(other["image"]) != list(validation["image"])


def test_holdout_mask_keeps_one_row_on_each_side():
    assert holdout_mask(2, 0.9, seed=0).sum() == 1
    assert holdout_mask(3, 0.01, seed=0).sum() == 1


@pytest.mark.parametrize(
    ("choice", "train_rows", "validation_rows"),
    [(["Train"], 24, 12), (["Validation"], 48, 6), (["Train", "Validation"], 24, 6)],
)
def test_data_sample_applies_to_the_chosen_frames(choice, train_rows, validation_rows):
    d = settings(validation_strategy="kfold", data_sample=0.5, data_sample_choice=choice)
    train, validation = split_train_validation(d, frame(), None, 0, seed=5)
    assert (len(train), len(validation)) == (train_rows, validation_rows)
    full_train, full_validation = split_train_validation(
        settings(validation_strategy="kfold"), frame(), None, 0, seed=5
    )
    assert set(train["image"]) <= set(full_train["image"])
    assert set(validation["image"]) <= set(full_validation["image"])


def test_sample_frame_keeps_order_and_is_seeded():
    sample = sample_frame(frame(), 0.1, seed=1)
    assert len(sample) == 6
    assert list(sample["image"]) == sorted(sample["image"], key=lambda s: int(s.split(".")[0]))
    assert sample.equals(sample_frame(frame(), 0.1, seed=1))
    assert not sample.equals(sample_frame(frame(), 0.1, seed=2))


def test_append_validation_puts_validation_after_train():
    both = append_validation(frame(3), frame(2).assign(image=["x", "y"]))
    assert list(both["image"]) == ["0.png", "1.png", "2.png", "x", "y"]
    assert list(both.index) == [0, 1, 2, 3, 4]
