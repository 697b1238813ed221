"""charts.json: per-batch learning rate and loss, per-evaluation metrics, keyed by samples seen.

Written as the run goes (throttled, atomically) so a live view can read it at any time.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from lookalike.atomic import write_json


class Charts:
    def __init__(self, path: Path | None, every_seconds: float = 10.0):
        self.path = path
        self.every_seconds = every_seconds
        self.series: dict[str, dict[str, list[float | None]]] = {}
        self._last_save = 0.0

    def add(self, series: str, samples_seen: int, **values: float) -> None:
        """Append one point: {series: {"samples": [...], name: [...], ...}}."""
        columns = self.series.setdefault(series, {"samples": []})
        n = len(columns["samples"])
        columns["samples"].append(samples_seen)
        for name, value in values.items():
            column = columns.setdefault(name, [None] * n)
            column.append(None if value is None or math.isnan(value) else float(value))
        for column in columns.values():
            if len(column) < n + 1:
                column.append(None)
        if time.monotonic() - self._last_save > self.every_seconds:
            self.save()

    def mark(self) -> dict[str, int]:
        """The length of each series, to rewind to (an epoch redone after out-of-memory)."""
        return {name: len(columns["samples"]) for name, columns in self.series.items()}

    def rewind(self, mark: dict[str, int]) -> None:
        for name in list(self.series):
            if name not in mark:
                del self.series[name]
                continue
            for column in self.series[name].values():
                del column[mark[name] :]

    def save(self) -> None:
        if self.path is not None:
            write_json(self.path, self.series, indent=None)  # compact: rewritten as the run goes
            self._last_save = time.monotonic()
