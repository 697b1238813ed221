"""Read and write experiment settings: YAML files, dotted command-line overrides, friendly errors.

Precedence is defaults < YAML < overrides. Nothing here raises a bare pydantic error at the user:
every unknown key, bad value or unreadable file becomes a `Problem` and all of them are raised
together in one `ProblemsFound`.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from lookalike.atomic import write_text
from lookalike.config.problems import Problem, ProblemsFound
from lookalike.config.schema import SECTIONS, Config


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Build a Config from an optional YAML file and `section.key=value` overrides."""
    raw: dict[str, Any] = {}
    problems: list[Problem] = []
    if path is not None:
        raw = _read_yaml(Path(path))
    try:
        for key, value in parse_overrides(overrides or []).items():
            _set_dotted(raw, key, value)
    except ProblemsFound as found:
        problems += found.problems
    problems += unknown_keys(raw)
    if problems:
        raise ProblemsFound(problems)
    return config_from_dict(raw)


def config_from_dict(raw: dict[str, Any]) -> Config:
    try:
        return Config.model_validate(raw)
    except ValidationError as error:
        raise ProblemsFound([_problem_from_pydantic(e) for e in error.errors()]) from None


def config_to_dict(cfg: Config) -> dict[str, Any]:
    """Plain data in the exported Hydrogen Torch spelling (top-level keys first, then sections)."""
    return cfg.model_dump(mode="json")


def config_to_yaml(cfg: Config) -> str:
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False, allow_unicode=True, width=100)


def save_config(cfg: Config, path: str | Path) -> None:
    write_text(path, config_to_yaml(cfg))


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """`training.learning_rate=3e-4` → {"training.learning_rate": 0.0003}; values parse as YAML."""
    parsed: dict[str, Any] = {}
    problems = []
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            problems.append(
                Problem(
                    "error",
                    item,
                    "an override must look like section.key=value",
                    hint="e.g. training.learning_rate=3e-4",
                )
            )
            continue
        try:
            parsed[key] = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            parsed[key] = text
    if problems:
        raise ProblemsFound(problems)
    return parsed


def unknown_keys(raw: dict[str, Any]) -> list[Problem]:
    """Name every key the schema does not know, with the closest valid spelling."""
    problems = []
    top_level = list(Config.model_fields)
    all_fields = {
        name: section for section, model in SECTIONS.items() for name in model.model_fields
    }
    for key, value in raw.items():
        if key not in Config.model_fields:
            problems.append(_unknown(key, top_level, all_fields))
        elif key in SECTIONS and isinstance(value, dict):
            valid = list(SECTIONS[key].model_fields)
            for name in value:
                if name not in valid:
                    problems.append(_unknown(f"{key}.{name}", valid, all_fields))
    return problems


def _unknown(path: str, valid: list[str], all_fields: dict[str, str]) -> Problem:
    name = path.rsplit(".", 1)[-1]
    prefix = path.rsplit(".", 1)[0] + "." if "." in path else ""
    if name in all_fields:
        hint = f"it belongs in section `{all_fields[name]}`: `{all_fields[name]}.{name}`"
    else:
        close = difflib.get_close_matches(name, valid, n=1, cutoff=0.5)
        if close:
            hint = f"did you mean `{prefix}{close[0]}`?"
        else:
            hint = f"valid keys here: {', '.join(valid)}"
    return Problem("error", path, "unknown setting", hint)


def _problem_from_pydantic(error: dict[str, Any]) -> Problem:
    where = ".".join(str(part) for part in error["loc"] if not isinstance(part, int))
    value = error.get("input")
    message = error["msg"]
    if message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    if error["type"] == "missing":
        return Problem("error", where, "is required")
    return Problem("error", where, f"{value!r} is not valid: {message}")


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ProblemsFound([Problem("error", str(path), "configuration file not found")])
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, OSError) as error:
        raise ProblemsFound(
            [Problem("error", str(path), f"cannot be read as a UTF-8 text file ({error})")]
        ) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        reason = getattr(error, "problem", None) or str(error)
        raise ProblemsFound([Problem("error", where, f"not valid YAML: {reason}")]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ProblemsFound(
            [Problem("error", str(path), "a configuration must be a mapping of sections")]
        )
    return data


def _set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = raw
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            if part not in SECTIONS:
                close = difflib.get_close_matches(part, list(SECTIONS), n=1, cutoff=0.5)
                hint = (
                    f"did you mean `{close[0]}`?" if close else f"sections: {', '.join(SECTIONS)}"
                )
                raise ProblemsFound([Problem("error", dotted, f"unknown section `{part}`", hint)])
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value
