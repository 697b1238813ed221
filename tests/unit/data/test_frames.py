"""read_frame: supported formats, and a Problem naming the setting for every way it fails."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lookalike.config.problems import ProblemsFound
from lookalike.data.frames import check_columns, read_frame, text_values

SETTING = "dataset.train_dataframe"


def problem_of(path: Path):
    with pytest.raises(ProblemsFound) as raised:
        read_frame(path, SETTING)
    (problem,) = raised.value.problems
    assert problem.severity == "error" and problem.where == SETTING
    assert str(path) in problem.message
    assert problem.hint
    return problem


@pytest.mark.parametrize("suffix", [".csv", ".pq", ".parquet", ".CSV"])
def test_reads_csv_and_parquet(tmp_path, suffix):
    data = pd.DataFrame({"image": ["a.png", "b.png"], "label": [1, 2]})
    path = tmp_path / f"train{suffix}"
    if suffix.lower() == ".csv":
        data.to_csv(path, index=False)
    else:
        data.to_parquet(path)
    frame = read_frame(path, SETTING)
    assert list(frame["image"]) == ["a.png", "b.png"]
    assert text_values(frame["label"]).tolist() == ["1", "2"]


def test_csv_cells_stay_text_as_written(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("image,label\na.png,1\nb.png,\nc.png,NA\n")
    frame = read_frame(path, SETTING)
    assert text_values(frame["label"]).tolist() == ["1", None, "NA"]


def test_parquet_float_labels_compare_with_csv_labels(tmp_path):
    pd.DataFrame({"label": [1.0, np.nan, 3.0]}).to_parquet(tmp_path / "t.parquet")
    frame = read_frame(tmp_path / "t.parquet", SETTING)
    assert text_values(frame["label"]).tolist() == ["1", None, "3"]


def test_missing_file(tmp_path):
    assert "does not exist" in problem_of(tmp_path / "nope.csv").message


def test_unsupported_extension(tmp_path):
    path = tmp_path / "train.xlsx"
    path.write_text("x")
    problem = problem_of(path)
    assert "extension" in problem.message and ".parquet" in problem.hint


def test_corrupt_parquet(tmp_path):
    path = tmp_path / "train.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    assert "cannot be read as Parquet" in problem_of(path).message


def test_undecodable_csv(tmp_path):
    path = tmp_path / "train.csv"
    path.write_bytes(b"image,label\n\xff\xfe\xfa,1\n")
    assert "cannot be read as CSV" in problem_of(path).message


def test_empty_file_and_header_only(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert "is empty" in problem_of(empty).message
    header = tmp_path / "header.csv"
    header.write_text("image,label\n")
    assert "no rows" in problem_of(header).message


def test_check_columns_lists_columns_and_the_closest_name():
    frame = pd.DataFrame({"image": ["a"], "Label": ["x"], "fold": [0]})
    (problem,) = check_columns(
        frame, {"dataset.image_column": "image", "dataset.label_columns": "label"}, "t.csv"
    )
    assert problem.severity == "error" and problem.where == "dataset.label_columns"
    assert "'label' is not in t.csv" in problem.message
    assert "image, Label, fold" in problem.hint and "did you mean 'Label'" in problem.hint
