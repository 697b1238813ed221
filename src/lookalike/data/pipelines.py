"""Custom augmentation pipelines: Hydrogen Torch's serialized albumentations JSON, built with
albumentations 2 after translating the arguments albumentations 1.x used."""

from __future__ import annotations

import inspect
import json
import warnings
from typing import Any

import albumentations as A
from albumentations.core.serialization import SERIALIZABLE_REGISTRY, shorten_class_name

from lookalike.config.checks import substitute_image_size
from lookalike.config.problems import Problem

__all__ = ["parse_pipeline", "translate_v1"]


def parse_pipeline(
    text: str, setting: str, height: int, width: int
) -> tuple[A.Compose | None, list[Problem]]:
    """Build a serialized albumentations pipeline (Hydrogen Torch's JSON; IMAGE_HEIGHT and
    IMAGE_WIDTH replaced by the image size), returning it with the problems found.

    Arguments of albumentations 1.x are translated first (`translate_v1`). What albumentations
    2 would silently ignore or change (an unknown argument, a missing ``p``) is an error;
    other notices it prints (e.g. "use Affine") become warnings. The pipeline is None on errors.
    """

    def problem(severity: str, message: str, hint: str = "") -> Problem:
        return Problem(severity, setting, message, hint)  # type: ignore[arg-type]

    try:
        spec = json.loads(substitute_image_size(text, height, width))
    except json.JSONDecodeError as error:
        return None, [
            problem(
                "error",
                f"is not valid JSON ({error.msg} at character {error.pos})",
                "paste a pipeline saved with albumentations.save(..., data_format='json')",
            )
        ]
    if not isinstance(spec, dict) or not isinstance(spec.get("transform"), dict):
        return None, [
            problem("error", "is not a serialized albumentations pipeline (no 'transform' object)")
        ]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            pipeline = A.from_dict(translate_v1(spec))
        except KeyError as error:
            return None, [
                problem(
                    "error",
                    f"names the unknown transform {error}",
                    f"albumentations {A.__version__} has no such class",
                )
            ]
        except Exception as error:  # pydantic / TypeError: report every invalid argument
            return None, [problem("error", f"is not a valid pipeline ({_explain(error, spec)})")]
    notices = [str(w.message) for w in caught]
    silent_changes = [m for m in notices if "are not valid" in m or "no 'p' parameter" in m]
    if silent_changes:
        return None, [
            problem(
                "error",
                "; ".join(silent_changes),
                f"albumentations {A.__version__} would ignore or change these; "
                "use its argument names, and give every transform a 'p'",
            )
        ]
    problems = [problem("warning", m) for m in notices]
    if not isinstance(pipeline, A.Compose):
        pipeline = A.Compose([pipeline])
    return pipeline, problems


def _explain(error: Exception, spec: dict[str, Any]) -> str:
    """Which transform fails and why, in one line."""
    culprit = _first_failing(translate_v1(spec)["transform"])
    cause = error.__cause__ if hasattr(error.__cause__, "errors") else error
    details = getattr(cause, "errors", None)
    if callable(details):  # pydantic: "loc: msg" per invalid argument
        text = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in details())
    else:
        text = " ".join(str(error).split())
    return f"{culprit}: {text}"[:400] if culprit else text[:400]


def _first_failing(transform: dict[str, Any]) -> str | None:
    for step in transform.get("transforms") or []:
        if isinstance(step, dict):
            found = _first_failing(step)
            if found:
                return found
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            A.from_dict(
                {"transform": {**transform, "transforms": []}}
                if "transforms" in transform
                else {"transform": transform}
            )
        except Exception:
            return str(transform.get("__class_fullname__"))
    return None


# albumentations 1.x argument -> 2.x argument, applied where the 2.x class lacks the old name.
_RENAMED = {
    "value": "fill",
    "mask_value": "fill_mask",
    "fill_value": "fill",
    "mask_fill_value": "fill_mask",
    "cval": "fill",
    "cval_mask": "fill_mask",
}
# (1.x minimum, 1.x maximum) -> 2.x range, as in CoarseDropout; a missing minimum = maximum.
_RANGES = {
    "num_holes_range": ("min_holes", "max_holes"),
    "hole_height_range": ("min_height", "max_height"),
    "hole_width_range": ("min_width", "max_width"),
}


def translate_v1(spec: dict[str, Any]) -> dict[str, Any]:
    """A serialized pipeline with albumentations 1.x arguments rewritten to their 2.x form.

    ``always_apply: true`` becomes ``p: 1`` (false is dropped); ``height``/``width`` become
    ``size`` where the class takes a size (RandomResizedCrop); CoarseDropout's ``min_/max_holes,
    height, width`` become ``*_range`` pairs; ``value``, ``fill_value``, ``cval`` (and their mask
    forms) become ``fill`` / ``fill_mask``. Nested ``transforms`` are translated too.

    >>> translate_v1({"transform": {"__class_fullname__": "HorizontalFlip", "always_apply": True,
    ...                             "p": 0.5}})
    {'transform': {'__class_fullname__': 'HorizontalFlip', 'p': 1}}
    """
    return {**spec, "transform": _translate(spec["transform"])}


def _translate(transform: dict[str, Any]) -> dict[str, Any]:
    out = dict(transform)
    if isinstance(out.get("transforms"), list):
        out["transforms"] = [_translate(t) if isinstance(t, dict) else t for t in out["transforms"]]
    if out.pop("always_apply", False):
        out["p"] = 1
    cls = SERIALIZABLE_REGISTRY.get(shorten_class_name(str(out.get("__class_fullname__", ""))))
    if cls is None:
        return out
    accepted = set(inspect.signature(cls.__init__).parameters)
    if "size" in accepted and "height" in out and "width" in out and "height" not in accepted:
        out["size"] = [out.pop("height"), out.pop("width")]
    for new, (low, high) in _RANGES.items():
        if new in accepted and high in out and high not in accepted:
            maximum = out.pop(high)
            minimum = out.pop(low, None)
            out[new] = [maximum if minimum is None else minimum, maximum]
    for old, new in _RENAMED.items():
        if old in out and old not in accepted and new in accepted:
            value = out.pop(old)
            if value is not None:  # None meant "the default" in 1.x; 2.x rejects it in places
                out.setdefault(new, value)
    return out
