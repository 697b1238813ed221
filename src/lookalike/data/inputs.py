"""The one entry point to a run's data: read the tables, split, sample, and check everything.

`load_inputs` looks at the whole input before any training starts and returns every problem it
finds at once (errors and warnings), each naming the setting or the file and column, the rows
and a count, so a user fixes the data in one pass instead of one crash at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from lookalike.config.problems import Problem, ProblemsFound, errors
from lookalike.config.schema import Config
from lookalike.data.checks import (
    check_empty_cells,
    check_folds,
    check_image_files,
    check_matches,
    check_training,
    possible_matches,
)
from lookalike.data.files import resolve_paths
from lookalike.data.folds import append_validation, split_train_validation
from lookalike.data.frames import check_columns, read_frame, text_values
from lookalike.data.images import ImageError, load_image
from lookalike.data.transforms import check_transforms

__all__ = ["Inputs", "Split", "load_inputs"]

_ROW = "__lookalike_row__"  # a row's position in its file, carried through the split


@dataclass
class Split:
    """The rows of one role (train, validation or test) with their image files and labels."""

    frame: pd.DataFrame  # rows used (original columns, index reset)
    paths: list[Path]  # resolved image file per row
    labels: np.ndarray | None  # label values as str, None when the frame has no label column


@dataclass
class Inputs:
    """Everything one run reads.

    `classes` are the sorted labels of the rows the model trains on (class id = position, the
    ArcFace classes): the train split, plus the validation split when
    training.train_validation_data is on.
    """

    train: Split
    validation: Split
    test: Split | None
    classes: list[str]
    strategy: str = ""
    fold: int | None = None  # None for the holdout strategies
    train_validation_data: bool = False

    def training_split(self, train_validation_data: bool | None = None) -> Split:
        """The rows to train on: train, followed by validation when `train_validation_data`
        (default: the setting the inputs were loaded with)."""
        if train_validation_data is None:
            train_validation_data = self.train_validation_data
        if not train_validation_data:
            return self.train
        first, second = self.train, self.validation
        labels = None
        if first.labels is not None and second.labels is not None:
            labels = np.concatenate([first.labels, second.labels])
        frame = append_validation(first.frame, second.frame)
        return Split(frame, first.paths + second.paths, labels)

    def class_ids(self, split: Split) -> np.ndarray:
        """int64 class id per row of `split`; -1 for a label not among `classes`, or no label."""
        if split.labels is None:
            return np.full(len(split.paths), -1, dtype=np.int64)
        index = {label: i for i, label in enumerate(self.classes)}
        return np.array([index.get(label, -1) for label in split.labels], dtype=np.int64)

    def summary(self) -> dict:
        """Counts for the log and the --dry-run report."""
        matches = possible_matches(self.validation.labels)
        return {
            "strategy": self.strategy,
            "fold": self.fold,
            "n_train": len(self.training_split().paths),
            "n_validation": len(self.validation.paths),
            "n_test": 0 if self.test is None else len(self.test.paths),
            "n_classes": len(self.classes),
            "validation_queries_with_match": int((matches > 0).sum()),
            "validation_queries_without_match": int((matches == 0).sum()),
            "validation_queries_with_training_label": int(
                (self.class_ids(self.validation) >= 0).sum()
            ),
        }


@dataclass
class _Table:
    """One input table as read, with its image names, labels and image paths once checked."""

    role: str  # "train", "validation" or "test"
    file: Path
    frame: pd.DataFrame
    folder: str | None
    names: np.ndarray | None = None
    labels: np.ndarray | None = None
    paths: list[Path] = field(default_factory=list)
    used_rows: np.ndarray | None = None  # rows of this run (None: all)
    usable: bool = False  # required columns present and filled

    def where(self, column: str) -> str:
        return f"{self.file}: {column}"


def load_inputs(
    cfg: Config, fold: int, seed: int, check_images: bool = True
) -> tuple[Inputs | None, list[Problem]]:
    """Read, split (`fold`; `seed` already resolved, not -1), sample and check the whole input.

    Returns the Inputs (None when any problem is an error) and every problem found. File
    existence is checked for every row of every table; with `check_images` every image this run
    uses (all rows unless dataset.data_sample < 1) is decoded on a thread pool to find corrupt
    files and wrong channel counts.
    """
    problems: list[Problem] = []
    tables = _read_tables(cfg, problems)
    for table in tables.values():
        problems += _check_columns(cfg, table)
    splits = _split(cfg, tables, fold, seed, problems)
    for table in tables.values():
        problems += _check_files(cfg, table, check_images)
    training_labels = np.zeros(0, dtype=str)
    if splits is not None:
        train, validation = splits
        training_labels = train.labels
        if cfg.training.train_validation_data:
            training_labels = np.concatenate([train.labels, validation.labels])
        problems += check_training(cfg, training_labels, _label_where(cfg, tables["train"]))
        problems += check_matches(
            cfg, validation.labels, _label_where(cfg, tables.get("validation", tables["train"]))
        )
    problems += check_transforms(cfg, _sample_image(cfg, tables.get("train")))
    if errors(problems) or splits is None:
        return None, problems
    strategy = cfg.dataset.validation_strategy
    test = tables.get("test")
    return Inputs(
        train=splits[0],
        validation=splits[1],
        test=None if test is None else _rows(test, np.arange(len(test.frame))),
        classes=sorted(set(training_labels.tolist())),
        strategy=strategy,
        fold=fold if strategy in ("kfold", "grouped_kfold") else None,
        train_validation_data=cfg.training.train_validation_data,
    ), problems


def _read_tables(cfg: Config, problems: list[Problem]) -> dict[str, _Table]:
    d = cfg.dataset
    wanted = {"train": ("dataset.train_dataframe", d.train_dataframe, d.data_folder)}
    if d.validation_strategy == "custom_holdout_validation":
        wanted["validation"] = (
            "dataset.validation_dataframe",
            d.validation_dataframe,
            d.data_folder,
        )
    if d.test_dataframe is not None:
        test_folder = d.data_folder_test if d.data_folder_test is not None else d.data_folder
        wanted["test"] = ("dataset.test_dataframe", d.test_dataframe, test_folder)
    tables = {}
    for role, (setting, file, folder) in wanted.items():
        if file is None:
            needed_by = "training" if role == "train" else d.validation_strategy
            problems.append(
                Problem(
                    "error",
                    setting,
                    f"is required by {needed_by}",
                    hint="point it at a .csv or .parquet file with image and label columns",
                )
            )
            continue
        try:
            tables[role] = _Table(role, Path(file), read_frame(file, setting), folder)
        except ProblemsFound as found:
            problems += found.problems
    return tables


def _check_columns(cfg: Config, table: _Table) -> list[Problem]:
    """Required columns present and filled; sets the table's image names and labels."""
    d = cfg.dataset
    columns = {"dataset.image_column": d.image_column}
    if table.role != "test":
        columns["dataset.label_columns"] = d.label_columns
    problems = []
    if table.role == "train" and d.validation_strategy == "grouped_kfold":
        if d.group_fold_column is None:
            problems.append(
                Problem(
                    "error",
                    "dataset.group_fold_column",
                    "is required by grouped_kfold",
                    hint=f"e.g. dataset.group_fold_column={d.label_columns} to "
                    "validate on classes never seen in training",
                )
            )
        else:
            columns["dataset.group_fold_column"] = d.group_fold_column
    problems += check_columns(table.frame, columns, table.file)
    present = [c for c in columns.values() if c in table.frame.columns]
    if table.role == "test" and d.label_columns in table.frame.columns:
        present.append(d.label_columns)  # optional for test, but then filled
    for column in dict.fromkeys(present):
        values = text_values(table.frame[column])
        problems += check_empty_cells(values, table.where(column))
        if column == d.image_column:
            table.names = values
        if column == d.label_columns:
            table.labels = values
    table.usable = not errors(problems)
    return problems


def _split(
    cfg: Config, tables: dict[str, _Table], fold: int, seed: int, problems: list[Problem]
) -> tuple[Split, Split] | None:
    """(train, validation) when the tables allow a split; fold problems go to `problems`."""
    train, validation = tables.get("train"), tables.get("validation")
    needed = [train]
    if cfg.dataset.validation_strategy == "custom_holdout_validation":
        needed.append(validation)
    if not all(table is not None and table.usable for table in needed):
        return None  # the tables' own problems are reported already
    assert train is not None
    found = check_folds(cfg, train.frame, train.file, [*cfg.dataset.folds, fold])
    problems += found
    if errors(found):
        return None
    numbered = {
        role: t.frame.assign(**{_ROW: np.arange(len(t.frame))}) for role, t in tables.items()
    }
    train_rows, validation_rows = split_train_validation(
        cfg.dataset, numbered["train"], numbered.get("validation"), fold, seed
    )
    train_positions = train_rows[_ROW].to_numpy()
    validation_positions = validation_rows[_ROW].to_numpy()
    if validation is None:
        train.used_rows = np.sort(np.concatenate([train_positions, validation_positions]))
        validation = train
    else:
        train.used_rows, validation.used_rows = train_positions, validation_positions
    return _rows(train, train_positions), _rows(validation, validation_positions)


def _rows(table: _Table, positions: np.ndarray) -> Split:
    """The Split of `table`'s rows at `positions`."""
    paths = _paths(table)
    return Split(
        frame=table.frame.iloc[positions].reset_index(drop=True),
        paths=[paths[p] for p in positions],
        labels=None if table.labels is None else table.labels[positions].astype(str),
    )


def _paths(table: _Table) -> list[Path]:
    if not table.paths and table.names is not None:
        table.paths = resolve_paths(table.names.tolist(), table.folder)
    return table.paths


def _check_files(cfg: Config, table: _Table, check_images: bool) -> list[Problem]:
    if table.names is None or any(name is None for name in table.names):
        return []  # the column's own problem is reported already
    decode_rows = None
    if check_images:
        decode_rows = np.arange(len(table.frame)) if table.used_rows is None else table.used_rows
    return check_image_files(
        cfg,
        table.names,
        _paths(table),
        table.where(cfg.dataset.image_column),
        test=table.role == "test",
        decode_rows=decode_rows,
    )


def _label_where(cfg: Config, table: _Table) -> str:
    return table.where(cfg.dataset.label_columns)


def _sample_image(cfg: Config, train: _Table | None) -> np.ndarray | None:
    """The first training image that decodes, to try the augmentation pipelines on."""
    if train is None or train.names is None or any(name is None for name in train.names):
        return None
    for path in _paths(train)[:20]:
        try:
            return load_image(path, cfg.image.image_channels)
        except ImageError:
            continue
    return None
