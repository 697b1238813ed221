"""The one way lookalike writes a file: into a temporary file beside it, then an atomic rename.

A run killed at any moment leaves either the previous file or the new one, never half of one.
This leaf module imports nothing of lookalike's, so every layer may use it.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp creates files readable by their owner only; results get the usual permissions.
_FILE_MODE = 0o666 & ~_umask()


def atomic_write(path: str | Path, write: Callable[[str], None]) -> None:
    """Call write(temporary_path) in path's folder, flush it to disk, then rename it over path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def write_json(path: str | Path, data: Any, indent: int | None = 2) -> None:
    """Strict JSON: NaN and infinities (a metric with nothing to measure) are written as null."""
    write_text(path, json.dumps(_finite(data), indent=indent, allow_nan=False) + "\n")


def write_npy(path: str | Path, array: np.ndarray) -> None:
    # np.save appends ".npy" to a file name without it, so write through an open file.
    def save(tmp: str) -> None:
        with open(tmp, "wb") as handle:
            np.save(handle, array)

    atomic_write(path, save)


def _finite(data: Any) -> Any:
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: _finite(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(value) for value in data]
    return data
