"""The embedding model (timm backbone → pool → dropout → Linear + BatchNorm neck) and its builder.

How features leave the backbone
    The backbone is a timm model made with ``num_classes=0, global_pool=""``, so
    ``forward_features`` gives the last feature map before timm's own pooling and the
    ``architecture.pool`` layer (:mod:`lookalike.model.pooling`) pools it. Maps in NHWC layout
    (Swin, MambaOut, ...; timm says so in ``output_fmt``) are permuted to NCHW first.

    Token backbones (ViT, DeiT, EVA, BEiT, ...) give (B, N, C) tokens, and some backbones cannot
    turn their pooling off at all. Pooling tokens with Average/Max/GeM would be a poor substitute
    for what the model was pretrained with (the class token, or an average followed by a norm
    layer whose weights timm only keeps when that pooling is on; GeM is not even defined for the
    negative values of normalised tokens), so these backbones keep timm's default pooling and the
    model takes ``backbone.forward_head(features, pre_logits=True)``. The ``pool`` setting does
    not apply to them (Hydrogen Torch hides it for ViT); ``EmbeddingModel.pool`` is then an
    ``nn.Identity`` and ``EmbeddingModel.pool_name`` is ``None``. Which case applies is found
    before the real model is built, by a shape-only forward pass on the ``meta`` device (no memory,
    no compute, no weights).

Pretrained weights
    A local file (``pretrained_weights``) or the Hugging Face hub/cache are loaded by timm itself
    (``pretrained=True`` with ``pretrained_cfg_overlay=dict(file=...)``), so timm still adapts the
    first convolution to ``in_chans``, drops the classifier and applies the model's own checkpoint
    filter. timm reads ``.pth``/``.bin`` files with ``torch.load(weights_only=True)`` (no arbitrary
    unpickling) and ``.safetensors`` with safetensors. Hub weights already in the local cache are
    handed to timm as a file too, so a cached model never touches the network; weights that are not
    cached fail fast with :class:`PretrainedWeightsUnavailable` when offline or unreachable.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import huggingface_hub
import timm
import torch
import torch.nn.functional as F
from huggingface_hub import constants as hf_constants
from torch import nn

from lookalike.model.pooling import POOLS, build_pool, pooled_width

log = logging.getLogger(__name__)

#: How the backbone's features reach the neck: a map in this layout that ``pool`` pools, or
#: "pooled" when the backbone pools itself (token models).
FeatureFormat = Literal["NCHW", "NHWC", "pooled"]

#: Seconds to wait for the Hugging Face hub before calling it unreachable.
HUB_PROBE_TIMEOUT_S = 3.0

# Logger timm reports partially loaded checkpoints on (at INFO level, which is easy to miss).
_TIMM_BUILDER_LOGGER = "timm.models._builder"
# Modules whose exceptions mean "could not download": wrapped into PretrainedWeightsUnavailable.
_NETWORK_MODULES = {"huggingface_hub", "httpx", "httpcore", "requests", "urllib3", "urllib"}


class PretrainedWeightsUnavailable(RuntimeError):
    """Pretrained backbone weights were requested but cannot be had (offline, unreachable, ...)."""


class EmbeddingModel(nn.Module):
    """Backbone → pool → dropout → neck; ``forward`` gives raw embeddings, ``embed`` unit ones.

    The neck is ``Linear(pooled width → embedding_size)`` followed by ``BatchNorm1d``, the usual
    embedding neck of metric learning (e.g. the "BNNeck" of re-identification models): the
    BatchNorm centres and scales every embedding dimension so that cosine similarity, which the
    ArcFace head and retrieval both use, spreads over all dimensions. Like any BatchNorm it needs
    batches of 2 or more in train mode. The ArcFace head lives outside this module, so this module
    alone is what gets deployed.
    """

    def __init__(
        self,
        backbone: nn.Module,
        *,
        pool: str,
        dropout: float,
        embedding_size: int,
        feature_format: FeatureFormat = "NCHW",
    ) -> None:
        super().__init__()
        if feature_format not in ("NCHW", "NHWC", "pooled"):
            raise ValueError(f"unknown feature_format {feature_format!r}")
        if embedding_size < 1:
            raise ValueError(f"embedding_size must be positive, got {embedding_size}")
        self.backbone = backbone
        self.feature_format: FeatureFormat = feature_format
        self.embedding_size = embedding_size
        if feature_format == "pooled":
            self.pool_name: str | None = None
            self.pool: nn.Module = nn.Identity()
            # Width of forward_head(pre_logits=True): models with a pre-logits MLP report it as
            # head_hidden_size, all others as num_features.
            width = getattr(backbone, "head_hidden_size", None) or backbone.num_features
        else:
            self.pool_name = pool
            self.pool = build_pool(pool)
            width = pooled_width(pool, backbone.num_features)
        self.dropout = nn.Dropout(dropout)
        self.neck = nn.Sequential(nn.Linear(width, embedding_size), nn.BatchNorm1d(embedding_size))

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Pooled backbone features (B, pooled width), before dropout and neck."""
        feats = self.backbone.forward_features(images)
        if self.feature_format == "pooled":
            return self.backbone.forward_head(feats, pre_logits=True)
        if self.feature_format == "NHWC":
            feats = feats.permute(0, 3, 1, 2)
        return self.pool(feats)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Un-normalised embeddings (B, embedding_size): the input the ArcFace head expects."""
        x = self.dropout(self.features(images))
        if self.training and x.shape[0] == 1:
            # BatchNorm cannot take statistics of one sample (a last batch of one, or a batch
            # size halved down to 1): normalise it with the running statistics instead.
            linear, norm = self.neck
            return F.batch_norm(
                linear(x),
                norm.running_mean,
                norm.running_var,
                norm.weight,
                norm.bias,
                training=False,
                eps=norm.eps,
            )
        return self.neck(x)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """L2-normalised embeddings (B, embedding_size) for retrieval by cosine / inner product.

        It runs in whatever mode the module is in: call ``eval()`` (and ``torch.no_grad()``) first.
        """
        # float32: unit vectors in float16/bfloat16 would blur the cosine ranking.
        return F.normalize(self(images).float(), dim=1)


def build_model(
    backbone: str,
    *,
    pretrained: bool,
    pretrained_weights: str | None,
    pool: str,
    dropout: float,
    embedding_size: int,
    in_chans: int,
    image_size: tuple[int, int] | None = None,
) -> EmbeddingModel:
    """Build an :class:`EmbeddingModel` on a timm backbone (any ``timm.list_models()`` name,
    optionally with a pretrained tag such as ``"resnet50.a1_in1k"``).

    Weights: from ``pretrained_weights`` (a local .safetensors/.pth/.bin file) whenever it is
    given, otherwise from the Hugging Face cache/hub when ``pretrained``, otherwise random.
    ``image_size`` (height, width) is passed to backbones that are built for one input size
    (ViT-like models take ``img_size`` and resize their position embeddings); others ignore it.

    Raises:
        ValueError: unknown backbone, tag or pool, or a weights file none of whose tensors
            belong to the backbone.
        FileNotFoundError: ``pretrained_weights`` does not exist.
        PretrainedWeightsUnavailable: pretrained weights cannot be obtained.
    """
    check_backbone(backbone)
    if pool not in POOLS:
        raise ValueError(f"unknown pool {pool!r}; choose one of {', '.join(POOLS)}")
    if in_chans < 1:
        raise ValueError(f"in_chans must be positive, got {in_chans}")
    overlay = _pretrained_overlay(backbone, pretrained, pretrained_weights)
    feature_format = _probe_feature_format(backbone, in_chans)
    if feature_format == "pooled":
        log.info("backbone %s pools its own features: the pool setting does not apply", backbone)
    kwargs: dict[str, Any] = {"num_classes": 0, "in_chans": in_chans}
    if feature_format != "pooled":
        kwargs["global_pool"] = ""
    if overlay:
        kwargs["pretrained_cfg_overlay"] = overlay
    try:
        with _missing_keys_recorder() as missing:
            net = _create(backbone, overlay is not None, kwargs, image_size)
    except Exception as err:
        if overlay is not None and _is_download_error(err):
            raise PretrainedWeightsUnavailable(
                _unavailable_message(backbone, f"loading them failed: {type(err).__name__}: {err}")
            ) from err
        raise
    if missing:
        _check_missing_keys(net, backbone, missing, overlay)
    return EmbeddingModel(
        net,
        pool=pool,
        dropout=dropout,
        embedding_size=embedding_size,
        feature_format=feature_format,
    )


def _create(
    backbone: str, pretrained: bool, kwargs: dict[str, Any], image_size: tuple[int, int] | None
) -> nn.Module:
    """timm.create_model, with img_size for the models that have a fixed input size."""
    if image_size is not None:
        try:
            return timm.create_model(backbone, pretrained=pretrained, img_size=image_size, **kwargs)
        except TypeError as err:  # convolutional models take any size and have no img_size
            if "img_size" not in str(err):
                raise
    return timm.create_model(backbone, pretrained=pretrained, **kwargs)


def check_backbone(name: str) -> None:
    """Raise ValueError with close timm names when ``name`` (or its pretrained tag) is unknown."""
    arch, _, tag = name.partition(".")
    if not timm.is_model(arch):
        known = timm.list_models()
        close = difflib.get_close_matches(arch, known, n=5, cutoff=0.6)
        if not close:
            # No near spelling: offer the family, e.g. "efficientnet_b9" → "efficientnet*".
            close = timm.list_models(f"{arch.split('_')[0]}*")[:5]
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(
            f"unknown backbone {name!r}: not a timm model{hint} (see timm.list_models())"
        )
    if tag:
        try:
            timm.models.get_pretrained_cfg(name)
        except RuntimeError as err:
            tags = ", ".join(timm.list_pretrained(f"{arch}.*")[:8]) or "none"
            raise ValueError(
                f"unknown backbone {name!r}: {arch!r} has no pretrained tag {tag!r} (known: {tags})"
            ) from err


def _unavailable_message(backbone: str, reason: str) -> str:
    return (
        f"pretrained weights for backbone {backbone!r} are not available: {reason}. Set "
        "`architecture.pretrained_weights` to a local .safetensors/.pth file with its weights, "
        "or run once with internet access to fill the Hugging Face cache "
        f"({hf_constants.HF_HUB_CACHE}), or set `architecture.pretrained: false` to start from "
        "random weights."
    )


def _pretrained_overlay(
    backbone: str, pretrained: bool, pretrained_weights: str | os.PathLike[str] | None
) -> dict[str, str] | None:
    """What timm should load: None for random weights, else a pretrained_cfg_overlay (may be {}).

    ``{}`` means "let timm fetch them itself" (hub or URL, reachable as far as we can tell).
    """
    if pretrained_weights:
        # An explicitly named file wins, even with pretrained=false: naming it is the request.
        path = Path(pretrained_weights).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"architecture.pretrained_weights: no file at {path}")
        return {"file": str(path)}
    if not pretrained:
        return None
    cfg = timm.models.get_pretrained_cfg(backbone)
    hub_id = getattr(cfg, "hf_hub_id", None)
    url = getattr(cfg, "url", None)
    if not hub_id and not url:
        raise PretrainedWeightsUnavailable(
            _unavailable_message(backbone, "timm has no pretrained weights for it")
        )
    cached = _cached_weights(cfg)
    if cached:
        # Models with a custom loader read the hub themselves; hub offline mode covers them.
        return {} if cfg.custom_load else {"file": cached}
    if _hub_offline():
        raise PretrainedWeightsUnavailable(
            _unavailable_message(
                backbone, "HF_HUB_OFFLINE is set and they are not in the local cache"
            )
        )
    if hub_id:
        problem = _probe_hub(hub_id)
        if problem:
            raise PretrainedWeightsUnavailable(
                _unavailable_message(
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


def _is_download_error(err: BaseException) -> bool:
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


def _probe_feature_format(backbone: str, in_chans: int) -> FeatureFormat:
    """How ``backbone``'s features come out, from a shape-only forward pass on the meta device."""
    try:
        with torch.device("meta"):
            net = timm.create_model(
                backbone, pretrained=False, num_classes=0, global_pool="", in_chans=in_chans
            )
    except Exception as err:
        # Some models (DeiT distilled, CrossViT, CoaT, EfficientViT, ...) refuse global_pool="".
        log.debug("%s cannot disable its pooling (%s)", backbone, err)
        return "pooled"
    size = net.pretrained_cfg.get("input_size") or (3, 224, 224)
    # Eval mode: in train mode BatchNorm after a squeeze-excite pooling (ReXNet, ResNeSt, ...)
    # rejects the batch of one.
    net.eval()
    try:
        with torch.device("meta"), torch.no_grad():
            feats = net.forward_features(torch.empty(1, in_chans, *size[-2:]))
    except Exception as err:
        log.warning(
            "could not probe %s's feature layout (%s); using its own pooling", backbone, err
        )
        return "pooled"
    if isinstance(feats, torch.Tensor) and feats.ndim == 4:
        layout = str(getattr(net, "output_fmt", "NCHW"))
        layout = layout.rsplit(".", 1)[-1]  # timm's Format enum prints as "Format.NHWC"
        channel_axis = {"NCHW": 1, "NHWC": 3}.get(layout)
        if channel_axis is not None and feats.shape[channel_axis] == net.num_features:
            return layout  # type: ignore[return-value]
    return "pooled"


@contextlib.contextmanager
def _missing_keys_recorder() -> Iterator[list[str]]:
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


def _check_missing_keys(
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
