"""Checks of the input data (folds, labels, image files) that return problems instead of raising.

Each check names where the problem is (a setting, or "file: column"), the rows (counted from 0,
header excluded) and a count, and says what would fix it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from lookalike.config.checks import AUTOMATIC_FOLDS
from lookalike.config.problems import Problem
from lookalike.config.schema import Config
from lookalike.data.files import missing_rows, resolve_paths, scan_images
from lookalike.data.folds import FOLD_COLUMN, fold_values
from lookalike.data.frames import empty_rows, row_list, text_values

__all__ = [
    "EXAMPLES",
    "check_empty_cells",
    "check_folds",
    "check_image_files",
    "check_matches",
    "check_training",
    "possible_matches",
]

EXAMPLES = 5  # files named per problem


def possible_matches(labels: np.ndarray | None) -> np.ndarray:
    """For each query, how many OTHER rows share its label (validation is searched
    leave-one-out, so 0 means the query cannot be answered and is left out of the metric).

    >>> possible_matches(np.array(["a", "b", "a"], dtype=object))
    array([1, 0, 1])
    """
    if labels is None or len(labels) == 0:
        return np.zeros(0, dtype=np.int64)
    _, inverse, counts = np.unique(
        np.asarray(labels, dtype=str), return_inverse=True, return_counts=True
    )
    return (counts[inverse.reshape(-1)] - 1).astype(np.int64)


def check_empty_cells(values: np.ndarray, where: str) -> list[Problem]:
    """An error when cells of a required column (from `text_values`) are empty."""
    rows = empty_rows(values)
    if not len(rows):
        return []
    return [
        Problem(
            "error",
            where,
            f"{len(rows)} of {len(values)} rows are empty (rows {row_list(rows)}, counted from 0 "
            "without the header)",
            hint="fill them in or remove those rows",
        )
    ]


def check_folds(
    cfg: Config, frame: pd.DataFrame, file: Path, folds: Sequence[int]
) -> list[Problem]:
    """Can the train frame be split into the selected `folds` by the k-fold strategies?"""
    d = cfg.dataset
    selected = sorted(set(folds))
    if d.validation_strategy == "kfold" and FOLD_COLUMN in frame.columns:
        return _check_fold_column(frame, file, selected)
    if d.validation_strategy not in ("kfold", "grouped_kfold"):
        return []
    problems = []
    bad = [f for f in selected if not 0 <= f < AUTOMATIC_FOLDS]
    if bad:
        what = "grouped_kfold"
        if d.validation_strategy == "kfold":
            what = f"kfold without a `{FOLD_COLUMN}` column"
        problems.append(
            Problem(
                "error",
                "dataset.folds",
                f"fold(s) {bad} are out of range",
                hint=f"{what} makes folds 0..{AUTOMATIC_FOLDS - 1}",
            )
        )
    if d.validation_strategy == "kfold" and len(frame) < AUTOMATIC_FOLDS:
        problems.append(
            Problem(
                "error",
                "dataset.validation_strategy",
                f"kfold needs at least {AUTOMATIC_FOLDS} rows; {file} has {len(frame)}",
                hint=f"add images, or a `{FOLD_COLUMN}` column",
            )
        )
    group = d.group_fold_column
    if d.validation_strategy == "grouped_kfold" and group in frame.columns:
        n_groups = len({g for g in text_values(frame[group]) if g is not None})
        if n_groups < AUTOMATIC_FOLDS:
            problems.append(
                Problem(
                    "error",
                    f"{file}: {group}",
                    f"has {n_groups} distinct value(s); grouped_kfold needs at least "
                    f"{AUTOMATIC_FOLDS}",
                    hint="choose a group column with more values",
                )
            )
    return problems


def _check_fold_column(frame: pd.DataFrame, file: Path, selected: list[int]) -> list[Problem]:
    try:
        values = sorted(set(fold_values(frame[FOLD_COLUMN]).tolist()))
    except ValueError as error:
        return [
            Problem(
                "error",
                f"{file}: {FOLD_COLUMN}",
                str(error),
                hint="use whole numbers 0, 1, 2, … for the folds",
            )
        ]
    absent = [f for f in selected if f not in values]
    if absent:
        return [
            Problem(
                "error",
                "dataset.folds",
                f"fold(s) {absent} are not in the `{FOLD_COLUMN}` column of {file}",
                hint=f"its values are: {values}",
            )
        ]
    return []


def check_training(cfg: Config, labels: np.ndarray, where: str) -> list[Problem]:
    """Enough classes for ArcFace and enough images for one batch in the training rows."""
    t = cfg.training
    problems = []
    n_classes = len(set(labels.tolist()))
    if n_classes < 2:
        problems.append(
            Problem(
                "error",
                where,
                f"the training split has {n_classes} class(es); ArcFace needs at least 2",
                hint="add images of more labels, or check dataset.label_columns",
            )
        )
    if t.drop_last_batch and t.epochs > 0 and len(labels) < t.batch_size:
        problems.append(
            Problem(
                "error",
                "training.batch_size",
                f"is {t.batch_size} but the training split has only {len(labels)} images "
                "and training.drop_last_batch drops the incomplete batch: there would be no "
                "training step",
                hint="lower training.batch_size or set training.drop_last_batch=false",
            )
        )
    return problems


def check_matches(cfg: Config, labels: np.ndarray, where: str) -> list[Problem]:
    """Validation queries without another validation image of their label: a warning with the
    count (they are left out of the metric), an error when no query has a match."""
    n_queries = len(labels)
    if n_queries == 0:
        return [
            Problem(
                "error",
                "dataset.validation_strategy",
                "the validation split is empty",
                hint="select another fold, or a larger dataset.validation_size",
            )
        ]
    lonely = int((possible_matches(labels) == 0).sum())
    if lonely == 0:
        return []
    hint = "a query needs another validation image with its label; "
    if cfg.dataset.validation_strategy in ("kfold", "automatic_holdout_validation"):
        hint += (
            f"grouped_kfold with dataset.group_fold_column={cfg.dataset.label_columns} "
            "keeps all images of a label together"
        )
    else:
        hint += "add images of those labels"
    if lonely == n_queries:
        return [
            Problem(
                "error",
                where,
                f"none of the {n_queries} validation queries has another validation "
                "image with its label, so no retrieval metric can be computed",
                hint,
            )
        ]
    return [
        Problem(
            "warning",
            where,
            f"{lonely} of {n_queries} validation queries have no other validation image "
            "with their label; they are left out of the metric",
            hint,
        )
    ]


def check_image_files(
    cfg: Config,
    names: np.ndarray,
    paths: Sequence[Path],
    where: str,
    *,
    test: bool,
    decode_rows: np.ndarray | None,
) -> list[Problem]:
    """Missing files (every row) and, for `decode_rows` (None: no decoding), images that cannot
    be decoded or whose channel count does not fit image.image_channels. `test`: the rows come
    from the test frame, whose images live in data_folder_test (data_folder when None)."""
    d = cfg.dataset
    folder_setting, folder = "dataset.data_folder", d.data_folder
    if test and d.data_folder_test is not None:
        folder_setting, folder = "dataset.data_folder_test", d.data_folder_test
    if folder is not None and not Path(folder).is_dir():
        return [
            Problem(
                "error",
                folder_setting,
                f"folder {folder} does not exist",
                hint=f"relative folders resolve from {Path.cwd()}",
            )
        ]
    problems = []
    missing = missing_rows(paths)
    if len(missing):
        place = folder if folder is not None else f"the current directory {Path.cwd()}"
        examples = ", ".join(str(names[r]) for r in missing[:EXAMPLES])
        message = (
            f"{len(missing)} of {len(names)} image files are missing from {place}, "
            f"e.g. {examples} (rows {row_list(missing)})"
        )
        hint = f"check {folder_setting} and dataset.image_column"
        if test:
            hint = _test_folder_hint(cfg, [names[r] for r in missing]) or hint
        problems.append(Problem("error", where, message, hint))
    if decode_rows is None:
        return problems
    scan = scan_images(paths, np.setdiff1d(decode_rows, missing).tolist(), cfg.image.image_channels)
    if scan.unreadable:
        problems.append(
            _bad(
                scan.unreadable,
                len(paths),
                where,
                "cannot be decoded (corrupt or not an image)",
                "re-export or remove those files",
            )
        )
    if scan.wrong_channels:
        problems.append(
            _bad(
                scan.wrong_channels,
                len(paths),
                where,
                f"do not fit image.image_channels={cfg.image.image_channels}",
                "set image.image_channels to the images' channel count, or convert the images",
            )
        )
    return problems


def _test_folder_hint(cfg: Config, missing_names: list[str]) -> str:
    d = cfg.dataset
    if d.data_folder_test is None:
        return "set dataset.data_folder_test to the folder that holds the test images"
    found = sum(p.is_file() for p in resolve_paths(missing_names, d.data_folder))
    if found:
        return (
            f"{found} of them are in dataset.data_folder ({d.data_folder}): set "
            "dataset.data_folder_test to the folder that holds the test images, or to None"
        )
    return ""


def _bad(found: list[tuple[int, str]], total: int, where: str, what: str, hint: str) -> Problem:
    examples = "; ".join(message for _, message in found[:EXAMPLES])
    rows = row_list([row for row, _ in found])
    return Problem(
        "error", where, f"{len(found)} of {total} images {what} (rows {rows}): {examples}", hint
    )
