"""Experiment settings: the typed schema, YAML and override loading, and cross-field checks."""

from lookalike.config.checks import check_config
from lookalike.config.io import config_to_yaml, load_config, parse_overrides, save_config
from lookalike.config.problems import Problem, ProblemsFound, errors, warnings
from lookalike.config.schema import LEVELS, SECTIONS, Config, FieldInfo, field_info

__all__ = [
    "LEVELS",
    "SECTIONS",
    "Config",
    "FieldInfo",
    "Problem",
    "ProblemsFound",
    "check_config",
    "config_to_yaml",
    "errors",
    "field_info",
    "load_config",
    "parse_overrides",
    "save_config",
    "warnings",
]
