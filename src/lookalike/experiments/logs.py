"""The run's log: the console (rich) and logs.log in the experiment folder show the same lines."""

from __future__ import annotations

import logging
from pathlib import Path

from rich.logging import RichHandler

from lookalike.train.progress import console

LOGGER = "lookalike"
FORMAT = "%(asctime)s %(levelname)s %(message)s"


def console_logging() -> logging.Logger:
    """Show the run's INFO lines on the terminal (stderr)."""
    logger = logging.getLogger(LOGGER)
    logger.setLevel(logging.INFO)
    if not any(isinstance(h, RichHandler) for h in logger.handlers):
        handler = RichHandler(console=console, show_path=False, show_time=False)
        handler.setLevel(logging.INFO)
        logger.addHandler(handler)
    logger.propagate = False
    return logger


class FileLog:
    """Attach logs.log for the duration of a run (flushed line by line, so it can be tailed)."""

    def __init__(self, path: Path):
        self.handler = logging.FileHandler(path, encoding="utf-8")
        self.handler.setFormatter(logging.Formatter(FORMAT))
        self.handler.setLevel(logging.DEBUG)

    def __enter__(self) -> FileLog:
        logger = logging.getLogger(LOGGER)
        # The file gets everything (tracebacks are logged at DEBUG); console handlers filter.
        self.level = logger.level
        logger.setLevel(logging.DEBUG)
        logger.addHandler(self.handler)
        return self

    def __exit__(self, *exc: object) -> None:
        logger = logging.getLogger(LOGGER)
        logger.removeHandler(self.handler)
        logger.setLevel(self.level)
        self.handler.close()
