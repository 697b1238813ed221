"""Read the train, validation and test tables (.csv, .pq, .parquet) and check their columns."""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np
import pandas as pd

from lookalike.config.problems import Problem, ProblemsFound

__all__ = [
    "FRAME_EXTENSIONS",
    "check_columns",
    "empty_rows",
    "read_frame",
    "row_list",
    "text_values",
]

FRAME_EXTENSIONS = (".csv", ".pq", ".parquet")


def read_frame(path: str | Path, setting: str) -> pd.DataFrame:
    """Read one table; raise ProblemsFound naming `setting`, the file and a fix when it fails.

    CSV cells are read as text exactly as written (only an empty cell is missing), so labels such
    as ``1`` stay ``"1"`` even when other rows are empty and an ``NA`` label stays a label.
    Parquet columns keep their stored types; use `text_values` to compare labels across files.
    """
    file = Path(path)
    if not file.exists():
        _fail(
            setting,
            f"file {file} does not exist",
            f"check the path; relative paths resolve from {Path.cwd()}",
        )
    if not file.is_file():
        _fail(setting, f"{file} is not a file", "point it at a .csv or .parquet file")
    suffix = file.suffix.lower()
    if suffix not in FRAME_EXTENSIONS:
        _fail(
            setting,
            f"{file} has the unsupported extension '{file.suffix}'",
            "save the table as .csv, .pq or .parquet",
        )
    frame = _read_csv(file, setting) if suffix == ".csv" else _read_parquet(file, setting)
    if len(frame) == 0:
        _fail(setting, f"{file} has no rows", "add one row per image")
    return frame


def _read_csv(file: Path, setting: str) -> pd.DataFrame:
    try:
        return pd.read_csv(file, dtype=str, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:
        _fail(setting, f"{file} is empty", "write a header line and one row per image")
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as error:
        _fail(
            setting,
            f"{file} cannot be read as CSV ({_first_line(error)})",
            "save it as UTF-8 CSV with a header line, or as .parquet",
        )
    raise AssertionError("unreachable")  # pragma: no cover


def _read_parquet(file: Path, setting: str) -> pd.DataFrame:
    try:
        return pd.read_parquet(file)
    except Exception as error:  # pyarrow raises several unrelated types for broken files
        _fail(
            setting,
            f"{file} cannot be read as Parquet ({_first_line(error)})",
            "write it again with pandas.DataFrame.to_parquet, or save it as .csv",
        )
    raise AssertionError("unreachable")  # pragma: no cover


def _fail(setting: str, message: str, hint: str) -> None:
    raise ProblemsFound([Problem("error", setting, message, hint)])


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def check_columns(frame: pd.DataFrame, columns: dict[str, str], file: str | Path) -> list[Problem]:
    """One error per column named by a setting (``{"dataset.label_columns": "label"}``) that the
    frame lacks, listing the columns that exist and the closest name."""
    problems = []
    existing = [str(c) for c in frame.columns]
    for setting, column in columns.items():
        if column in frame.columns:
            continue
        hint = f"columns are: {', '.join(existing)}"
        closest = _closest(column, existing)
        if closest:
            hint += f"; did you mean '{closest}'?"
        problems.append(Problem("error", setting, f"column '{column}' is not in {file}", hint))
    return problems


def _closest(name: str, candidates: list[str]) -> str | None:
    lowered = {c.lower(): c for c in candidates}
    if name.lower() in lowered:
        return lowered[name.lower()]
    match = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return match[0] if match else None


def text_values(values: pd.Series) -> np.ndarray:
    """The column as an object array of str, None where a cell is empty.

    Whole-number floats print without ``.0`` so that a Parquet label column stored as float
    (because of a missing value) compares equal to the same labels read from a CSV.
    """
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values.tolist()):
        out[i] = _text(value)
    return out


def _text(value: object) -> str | None:
    if value is None or (np.ndim(value) == 0 and pd.isna(value)):
        return None
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    text = str(value)
    return text if text.strip() else None


def empty_rows(values: np.ndarray) -> np.ndarray:
    """Row positions whose value (from `text_values`) is empty."""
    return np.flatnonzero(np.array([v is None for v in values], dtype=bool))


def row_list(rows: np.ndarray | list[int], first: int = 5) -> str:
    """'3, 7, 9' or '3, 7, 9, 12, 20 and 4 more' for messages naming rows (counted from 0)."""
    rows = [int(r) for r in rows]
    text = ", ".join(str(r) for r in rows[:first])
    return f"{text} and {len(rows) - first} more" if len(rows) > first else text
