"""Validation strategies: which rows of the input validate a model and which rows train it.

What a split measures in metric learning. Validation images are searched against the other
validation images (leave-one-out), so a validation query can only be scored when at least one
other validation image has its label.

- ``kfold`` (the frame's ``fold`` column, else 5 random folds) and
  ``automatic_holdout_validation`` split *rows*: a label usually has images on both sides, so
  validation queries show labels also seen in training -- **closed-set** retrieval.
- ``grouped_kfold`` keeps every value of ``group_fold_column`` inside one fold. With
  ``group_fold_column`` = the label column, validation holds classes never seen in training --
  **open-set** retrieval, the usual metric-learning protocol and the better estimate of how the
  model embeds new kinds of images.
- ``custom_holdout_validation`` trains on the whole train frame and validates on the given
  validation frame, whichever of the two it is.

Every function here is pure: the same frame and seed give the same split.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold, KFold

from lookalike.config.checks import AUTOMATIC_FOLDS
from lookalike.config.schema import Dataset
from lookalike.data.frames import text_values

__all__ = [
    "FOLD_COLUMN",
    "append_validation",
    "assign_folds",
    "fold_values",
    "holdout_mask",
    "sample_frame",
    "split_train_validation",
]

FOLD_COLUMN = "fold"


def assign_folds(
    frame: pd.DataFrame,
    strategy: str,
    *,
    group_column: str | None = None,
    n_folds: int = AUTOMATIC_FOLDS,
    seed: int,
) -> np.ndarray:
    """The fold id of every row (int64).

    kfold: the frame's ``fold`` column when present, else ``KFold(n_folds, shuffle=True,
    random_state=seed)``. grouped_kfold: ``GroupKFold(n_folds, shuffle=True, random_state=seed)``
    over ``group_column``, so all rows of a group share one fold.

    >>> frame = pd.DataFrame({"image": list("abcdefghij"), "g": list("aabbccddee")})
    >>> folds = assign_folds(frame, "grouped_kfold", group_column="g", seed=0)
    >>> bool((folds[0::2] == folds[1::2]).all()), sorted(set(folds.tolist()))
    (True, [0, 1, 2, 3, 4])
    """
    rows = np.arange(len(frame))
    if strategy == "kfold":
        if FOLD_COLUMN in frame.columns:
            return fold_values(frame[FOLD_COLUMN])
        splits = KFold(n_folds, shuffle=True, random_state=seed).split(rows)
    elif strategy == "grouped_kfold":
        if group_column is None:
            raise ValueError("grouped_kfold needs a group column")
        groups = text_values(frame[group_column])
        if any(g is None for g in groups):
            raise ValueError(f"column '{group_column}' has empty values")
        splitter = GroupKFold(n_folds, shuffle=True, random_state=seed)
        splits = splitter.split(rows, groups=groups.astype(str))
    else:
        raise ValueError(f"{strategy} does not split the data into folds")
    folds = np.empty(len(frame), dtype=np.int64)
    for fold, (_, validation) in enumerate(splits):
        folds[validation] = fold
    return folds


def fold_values(column: pd.Series) -> np.ndarray:
    """A ``fold`` column as int64; ValueError if a value is empty or not a whole number."""
    numbers = pd.to_numeric(column, errors="coerce")
    bad = numbers.isna() | (numbers != np.round(numbers))
    if bad.any():
        first = column[bad.to_numpy()].iloc[0]
        raise ValueError(f"fold values must be whole numbers, got {first!r}")
    return numbers.to_numpy(dtype=np.int64)


def holdout_mask(n_rows: int, share: float, seed: int) -> np.ndarray:
    """True for the ``ceil(share * n_rows)`` rows drawn (with `seed`) for validation.

    At least one row validates and one trains whenever there are two rows or more.

    >>> holdout_mask(10, 0.2, seed=0).sum()
    np.int64(2)
    """
    n_validation = math.ceil(share * n_rows)
    if n_rows >= 2:
        n_validation = min(max(n_validation, 1), n_rows - 1)
    mask = np.zeros(n_rows, dtype=bool)
    mask[np.random.default_rng(seed).permutation(n_rows)[:n_validation]] = True
    return mask


def sample_frame(frame: pd.DataFrame, share: float, seed: int) -> pd.DataFrame:
    """A random ``share`` of the rows (at least one), in their original order, index reset."""
    if share >= 1 or len(frame) == 0:
        return frame.reset_index(drop=True)
    n_rows = max(1, round(share * len(frame)))
    rows = np.sort(np.random.default_rng(seed).choice(len(frame), n_rows, replace=False))
    return frame.iloc[rows].reset_index(drop=True)


def split_train_validation(
    dataset: Dataset,
    train_frame: pd.DataFrame,
    validation_frame: pd.DataFrame | None,
    fold: int,
    seed: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, validation) rows for one fold, after ``data_sample``; indexes reset.

    kfold / grouped_kfold: validation is the rows of `fold`, train the rest.
    custom_holdout_validation: the given validation frame; train is the whole train frame.
    automatic_holdout_validation: a random ``validation_size`` share of the rows (`seed`).
    Then ``data_sample`` keeps a random share of the frames named in ``data_sample_choice``.
    `fold` only matters to the k-fold strategies; `seed` must already be resolved (not -1).
    """
    strategy = dataset.validation_strategy
    if strategy in ("kfold", "grouped_kfold"):
        folds = assign_folds(
            train_frame, strategy, group_column=dataset.group_fold_column, seed=seed
        )
        is_validation = folds == fold
    elif strategy == "custom_holdout_validation":
        if validation_frame is None:
            raise ValueError("custom_holdout_validation needs a validation frame")
        is_validation = None
    elif strategy == "automatic_holdout_validation":
        is_validation = holdout_mask(len(train_frame), dataset.validation_size, seed)
    else:
        raise ValueError(f"unknown validation strategy {strategy!r}")

    if is_validation is None:
        train, validation = train_frame, validation_frame
    else:
        train, validation = train_frame[~is_validation], train_frame[is_validation]
    return _sample(train, validation, dataset.data_sample, dataset.data_sample_choice, seed)


def _sample(
    train: pd.DataFrame,
    validation: pd.DataFrame,
    share: float,
    choice: Sequence[str],
    seed: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    # Separate streams per frame: sampling train never changes which validation rows are kept.
    if "Train" in choice:
        train = sample_frame(train, share, seed=_stream(seed, 1))
    if "Validation" in choice:
        validation = sample_frame(validation, share, seed=_stream(seed, 2))
    return train.reset_index(drop=True), validation.reset_index(drop=True)


def _stream(seed: int, which: int) -> int:
    return int(np.random.SeedSequence([seed, which]).generate_state(1)[0])


def append_validation(train: pd.DataFrame, validation: pd.DataFrame) -> pd.DataFrame:
    """Train rows followed by the validation rows (``training.train_validation_data``)."""
    return pd.concat([train, validation], ignore_index=True)
