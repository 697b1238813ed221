"""Find and probe the image files a table names: resolve paths, spot missing and broken files."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lookalike.data.images import ImageChannelsError, ImageError, load_image

__all__ = ["ImageScan", "missing_rows", "resolve_paths", "scan_images"]


def resolve_paths(names: Sequence[str | None], folder: str | Path | None) -> list[Path]:
    """Absolute path per image name: relative names resolve against `folder`, or against the
    current directory when `folder` is None; absolute names stay as they are."""
    base = Path(folder) if folder is not None else Path(".")
    paths = []
    for name in names:
        path = Path(name or "")
        paths.append((path if path.is_absolute() else base / path).absolute())
    return paths


def missing_rows(paths: Sequence[Path], rows: np.ndarray | None = None) -> np.ndarray:
    """Positions (among `rows`, default all) whose path is not an existing file."""
    rows = np.arange(len(paths)) if rows is None else rows
    return np.array([r for r in rows if not paths[r].is_file()], dtype=np.int64)


@dataclass
class ImageScan:
    """Rows (positions) whose image cannot be decoded, or has the wrong channel count, with
    the error message of each, in row order."""

    unreadable: list[tuple[int, str]] = field(default_factory=list)
    wrong_channels: list[tuple[int, str]] = field(default_factory=list)


def scan_images(
    paths: Sequence[Path], rows: Sequence[int], channels: int, workers: int | None = None
) -> ImageScan:
    """Decode every image of `rows` on a thread pool (OpenCV and numpy release the GIL)."""
    workers = workers or min(32, 2 * (os.cpu_count() or 1))
    scan = ImageScan()

    def probe(row: int) -> tuple[int, str | None, str | None]:
        try:
            load_image(paths[row], channels)
        except ImageChannelsError as error:
            return row, None, str(error)
        except ImageError as error:
            return row, str(error), None
        return row, None, None

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for row, unreadable, wrong in pool.map(probe, rows):
            if unreadable:
                scan.unreadable.append((row, unreadable))
            elif wrong:
                scan.wrong_channels.append((row, wrong))
    return scan
