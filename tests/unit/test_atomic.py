"""Atomic writes: a write that dies half-way leaves the previous file whole and no debris."""

from __future__ import annotations

from pathlib import Path

import pytest

from lookalike.atomic import atomic_write, write_json, write_text


def test_a_failed_write_keeps_the_previous_file(tmp_path):
    target = tmp_path / "summary.json"
    write_json(target, {"status": "finished"})

    def dies_half_way(tmp: str) -> None:
        Path(tmp).write_text('{"status": "fini')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, dies_half_way)
    assert target.read_text() == '{\n  "status": "finished"\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_write_text_creates_folders_and_replaces(tmp_path):
    target = tmp_path / "a" / "b.txt"
    write_text(target, "one")
    write_text(target, "two")
    assert target.read_text() == "two"


def test_results_get_the_usual_permissions_not_owner_only(tmp_path):
    import os

    mask = os.umask(0)
    os.umask(mask)
    write_text(tmp_path / "cfg.yaml", "x")
    assert (tmp_path / "cfg.yaml").stat().st_mode & 0o777 == 0o666 & ~mask


def test_json_is_strict_nan_becomes_null(tmp_path):
    import json

    write_json(tmp_path / "summary.json", {"mAP": float("nan"), "folds": [1.0, float("inf")]})
    assert json.loads((tmp_path / "summary.json").read_text()) == {
        "mAP": None,
        "folds": [1.0, None],
    }
