"""Progress bars for training and inference: count, loss, learning rate and images per second."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

console = Console(stderr=True)


class Bar:
    def __init__(self, progress: Progress, task: int):
        self._progress, self._task = progress, task

    def update(self, advance: int = 1, **fields: float) -> None:
        parts = []
        if "loss" in fields:
            parts.append(f"loss {fields['loss']:.4f}")
        if "lr" in fields:
            parts.append(f"lr {fields['lr']:.2e}")
        if "speed" in fields:
            parts.append(f"{fields['speed']:.1f} img/s")
        self._progress.update(self._task, advance=advance, info="  ".join(parts))


@contextmanager
def progress_bar(description: str, total: int) -> Iterator[Bar]:
    """A bar on the terminal (stderr); silent when stderr is not a terminal, so logs stay clean."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task(description, total=total, info="")
        yield Bar(progress, task)
