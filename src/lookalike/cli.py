"""The `lookalike` command: parse, call one function, print (exit 2: bad input, 1: failed run)."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Annotated

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # albumentations must not call home

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lookalike.config import (
    LEVELS,
    Problem,
    ProblemsFound,
    config_to_yaml,
    errors,
    field_info,
    load_config,
    warnings,
)

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Train image metric-learning models that find look-alike images.",
)
out = Console()
err = Console(stderr=True)


@app.callback()
def main() -> None:
    """lookalike: image similarity models from a table of labelled images."""


@app.command(context_settings={"allow_extra_args": False})
def train(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Experiment YAML (Hydrogen Torch export).")
    ] = None,
    overrides: Annotated[
        list[str] | None,
        typer.Argument(
            help="Dotted overrides, e.g. training.learning_rate=3e-4 architecture.pool=GeM"
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check settings and data, print them, train nothing.")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing experiment folder.")
    ] = False,
) -> None:
    """Train and evaluate an embedding model into <output_directory>/<experiment_name>/."""
    from lookalike.experiments.logs import console_logging

    console_logging()
    signal.signal(signal.SIGTERM, _interrupt)  # a stopped run still records its summary
    try:
        cfg = load_config(config, overrides or [])
        from lookalike.experiments.run import experiment_folder, prepare, run_experiment

        prepared = prepare(cfg, overwrite=overwrite)
    except ProblemsFound as found:
        _report(found.problems)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        err.print("Interrupted while checking the input: nothing was written.")
        raise typer.Exit(130) from None
    except Exception as error:  # a bug or an environment problem: say it in one line
        err.print(f"[bold red]Checking the input failed:[/] {escape(_one_line(error))}")
        raise typer.Exit(1) from None
    _report(prepared.problems)
    if dry_run:
        out.print(config_to_yaml(cfg), end="", markup=False, highlight=False)
        out.print(f"# seed: {prepared.seed}")
        for fold, inputs in prepared.inputs.items():
            out.print(f"# data, fold {fold}:")
            for key, value in inputs.summary().items():
                out.print(f"#   {key}: {value}", markup=False, highlight=False)
        out.print("Dry run: settings and data are valid; nothing was trained or written.")
        return
    folder = experiment_folder(cfg)
    try:
        run_experiment(prepared)
    except KeyboardInterrupt:
        err.print(f"Interrupted: {folder}/summary.json records the run as failed.")
        raise typer.Exit(130) from None
    except Exception as error:  # the message, not a traceback; logs.log has the traceback
        err.print(f"[bold red]Run failed:[/] {escape(_one_line(error))}")
        err.print(f"Details: the logs.log files under {folder}")
        raise typer.Exit(1) from None
    out.print(f"Experiment folder: {folder}")


@app.command()
def settings(
    level: Annotated[
        str,
        typer.Option(help="Show settings up to this experience level: Beginner, Expert, Master."),
    ] = "Master",
) -> None:
    """List every setting with its default, allowed values and meaning."""
    if level not in LEVELS:
        err.print(f"--level must be one of {', '.join(LEVELS)}")
        raise typer.Exit(2)
    table = Table("setting", "default", "allowed", "level", "grid", "meaning")
    shown = LEVELS[: LEVELS.index(level) + 1]
    for info in field_info():
        if info.level in shown:
            default = info.default if not isinstance(info.default, str) else repr(info.default)
            text = str(default)
            allowed = ", ".join(map(str, info.choices))
            grid = "yes" if info.grid else ""
            table.add_row(info.path, text[:40], allowed, info.level, grid, info.help)
    out.print(table)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _one_line(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if not str(error) else str(error)


def _report(problems: list[Problem]) -> None:
    for title, items, style in (
        ("Error", errors(problems), "red"),
        ("Warning", warnings(problems), "yellow"),
    ):
        for p in items:
            hint = f"\n    → {escape(p.hint)}" if p.hint else ""
            err.print(
                f"[{style}]{title}[/]: [bold]{escape(p.where)}[/]: {escape(p.message)}{hint}",
                markup=True,
                highlight=False,
                soft_wrap=True,
            )
    n_errors = len(errors(problems))
    if n_errors:
        err.print(f"{n_errors} error(s): nothing was trained or written.")


if __name__ == "__main__":
    app()
