"""Where pretrained backbone weights come from: a local file, the Hugging Face cache, or the hub.

A local file (``pretrained_weights``) or cached hub weights are handed to timm as a file
(``pretrained_cfg_overlay=dict(file=...)``), so timm still adapts the first convolution to the
channel count, drops the classifier and applies the model's own checkpoint filter; timm reads
``.pth``/``.bin`` with ``torch.load(weights_only=True)`` and ``.safetensors`` with safetensors.
Weights that are neither local nor cached fail fast with `PretrainedWeightsUnavailable` when the
hub is offline or unreachable, instead of retrying the network for a minute.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import huggingface_hub
import timm
import torch
from huggingface_hub import constants as hf_constants
from torch import nn

log = logging.getLogger(__name__)

#: Seconds to wait for the Hugging Face hub before calling it unreachable.
HUB_PROBE_TIMEOUT_S = 3.0

# Logger timm reports partially loaded checkpoints on (at INFO level, which is easy to miss).
_TIMM_BUILDER_LOGGER = "timm.models._builder"
# Modules whose exceptions mean "could not download": wrapped into PretrainedWeightsUnavailable.
_NETWORK_MODULES = {"huggingface_hub", "httpx", "httpcore", "requests", "urllib3", "urllib"}


class PretrainedWeightsUnavailable(RuntimeError):
    """Pretrained backbone weights were requested but cannot be had (offline, unreachable, ...)."""


def unavailable_message(backbone: str, reason: str) -> str:
    return (
        f"pretrained weights for backbone {backbone!r} are not available: {reason}. Set "
        "`architecture.pretrained_weights` to a local .safetensors/.pth file with its weights, "
        "or run once with internet access to fill the Hugging Face cache "
        f"({hf_constants.HF_HUB_CACHE}), or set `architecture.pretrained: false` to start from "
        "random weights."
    )


def current_name(backbone: str) -> str:
    """timm's current name for a deprecated one (Hydrogen Torch exports such names, e.g.
    tf_efficientnet_b0_ns → tf_efficientnet_b0.ns_jft_in1k); other names are returned as is."""
    return timm.models.get_deprecated_models().get(backbone) or backbone


def pretrained_overlay(
    backbone: str, pretrained: bool, pretrained_weights: str | os.PathLike[str] | None
) -> dict[str, str] | None:
    """What timm should load: None for random weights, else a pretrained_cfg_overlay (may be {}).

    ``{}`` means "let timm fetch them itself" (hub or URL, reachable as far as we can tell).
    """
    if not pretrained:
        return None
    if pretrained_weights:
        path = Path(pretrained_weights).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"no pretrained weights file at {path}")
        return {"file": str(path)}
    cfg = timm.models.get_pretrained_cfg(current_name(backbone))
    hub_id = getattr(cfg, "hf_hub_id", None)
    url = getattr(cfg, "url", None)
    if not hub_id and not url:
        raise PretrainedWeightsUnavailable(
            unavailable_message(backbone, "timm has no pretrained weights for it")
        )
    cached = _cached_weights(cfg)
    if cached:
        # Models with a custom loader read the hub themselves; hub offline mode covers them.
        return {} if cfg.custom_load else {"file": cached}
    if _hub_offline():
        raise PretrainedWeightsUnavailable(
            unavailable_message(
                backbone, "HF_HUB_OFFLINE is set and they are not in the local cache"
            )
        )
    if hub_id:
        problem = _probe_hub(hub_id)
        if problem:
            raise PretrainedWeightsUnavailable(
                unavailable_message(
                    backbone,
                    f"they are not in the local cache and the Hugging Face hub cannot be "
                    f"reached ({problem})",
                )
            )
    return {}


def _hub_offline() -> bool:
    """True when Hugging Face offline mode is on.

    ``huggingface_hub.constants`` reads the environment once, at import; the variables are read
    again so that setting them later (tests, notebooks) still counts.
    """
    if hf_constants.HF_HUB_OFFLINE:
        return True
    truthy = hf_constants.ENV_VARS_TRUE_VALUES
    return any(
        os.environ.get(var, "").strip().upper() in truthy
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def _hub_filenames(filename: str | None) -> list[str]:
    """Files timm may load for a hub repo, in timm's order (safetensors alternatives first)."""
    filename = filename or "pytorch_model.bin"
    if filename.endswith(".safetensors"):
        return [filename]
    safe = {
        "pytorch_model.bin": "model.safetensors",
        "open_clip_pytorch_model.bin": "open_clip_model.safetensors",
    }.get(filename)
    if safe is None and filename.endswith(".bin"):
        safe = filename[: -len(".bin")] + ".safetensors"
    return [name for name in (safe, filename) if name]


def _cached_weights(cfg: Any) -> str | None:
    """Path of the backbone's weights in the local Hugging Face (or torch hub) cache, if there."""
    if cfg.hf_hub_id:
        repo_id, _, revision = cfg.hf_hub_id.partition("@")
        for filename in _hub_filenames(cfg.hf_hub_filename):
            hit = huggingface_hub.try_to_load_from_cache(
                repo_id, filename, revision=revision or None
            )
            if isinstance(hit, str):  # otherwise None or the "known not to exist" sentinel
                return hit
        return None
    # URL-only weights: timm downloads those with torch.hub into <hub dir>/checkpoints.
    path = Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(cfg.url).path).name
    return str(path) if path.is_file() else None


def _probe_hub(repo_id: str) -> str | None:
    """Ask the hub about ``repo_id`` with a short timeout; the problem in words, or None if fine."""
    repo, _, revision = repo_id.partition("@")
    try:
        huggingface_hub.model_info(repo, revision=revision or None, timeout=HUB_PROBE_TIMEOUT_S)
    except Exception as err:  # whatever the reason, timm's download would fail the same way
        return f"{type(err).__name__}: {err}"
    return None


def is_download_error(err: BaseException) -> bool:
    """Whether ``err`` (or what caused it) is an I/O, network or hub error."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError):
            return True
        if type(current).__module__.split(".")[0] in _NETWORK_MODULES:
            return True
        current = current.__cause__ or current.__context__
    return False


@contextlib.contextmanager
def missing_keys_recorder() -> Iterator[list[str]]:
    """Collect the keys timm reports missing while loading pretrained weights.

    timm loads with ``strict=False`` once it has dropped the classifier, and reports missing keys
    only at INFO level: a weights file for another model would otherwise leave the backbone
    silently random. Records below the logger's usual level are dropped again after reading them,
    so enabling INFO here prints nothing new.
    """
    missing: list[str] = []
    logger = logging.getLogger(_TIMM_BUILDER_LOGGER)
    usual_level = logger.getEffectiveLevel()
    prefix = "Missing keys ("

    def read(record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith(prefix) and ")" in message:
            keys = message[len(prefix) : message.rindex(")")]
            missing.extend(key for key in keys.split(", ") if key)
        return record.levelno >= usual_level

    old_level = logger.level
    logger.setLevel(min(usual_level, logging.INFO))
    logger.addFilter(read)
    try:
        yield missing
    finally:
        logger.removeFilter(read)
        logger.setLevel(old_level)


def check_missing_keys(
    net: nn.Module, backbone: str, missing: list[str], overlay: dict[str, str] | None
) -> None:
    source = (overlay or {}).get("file", "the Hugging Face hub")
    # Parameters only: BatchNorm quietly fills in a missing num_batches_tracked buffer.
    expected = {name for name, _ in net.named_parameters()}
    if expected and expected.issubset(missing):
        raise ValueError(
            f"the pretrained weights in {source} have no tensor of backbone {backbone!r} "
            f"(it expects keys like {', '.join(sorted(expected)[:3])}): is it the right file? "
            "It must be a state dict of the timm model itself."
        )
    shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
    log.warning(
        "%d tensors of backbone %s were not in the pretrained weights from %s and keep their "
        "random initial values: %s",
        len(missing),
        backbone,
        source,
        shown,
    )
