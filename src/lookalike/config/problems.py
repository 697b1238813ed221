"""Problems found in user input, kept as data so the CLI and the UI can show them all at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong (error) or doubtful (warning) with a setting, a file, a column or a row."""

    severity: Severity
    where: str  # a setting path ("training.epochs"), a file, or "file: column"
    message: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


def warnings(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "warning"]


class ProblemsFound(Exception):
    """Raised at an edge (loader, CLI) when user input has errors; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in errors(problems)) or "invalid input")
