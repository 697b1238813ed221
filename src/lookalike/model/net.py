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

import difflib
import logging
from typing import Any, Literal

import timm
import torch
import torch.nn.functional as F
from torch import nn

from lookalike.model.pooling import POOLS, build_pool, pooled_width
from lookalike.model.pretrained import (
    PretrainedWeightsUnavailable,
    check_missing_keys,
    is_download_error,
    missing_keys_recorder,
    pretrained_overlay,
    unavailable_message,
)

log = logging.getLogger(__name__)

#: How the backbone's features reach the neck: a map in this layout that ``pool`` pools, or
#: "pooled" when the backbone pools itself (token models).
FeatureFormat = Literal["NCHW", "NHWC", "pooled"]


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
    overlay = pretrained_overlay(backbone, pretrained, pretrained_weights)
    feature_format = _probe_feature_format(backbone, in_chans)
    if feature_format == "pooled":
        log.info("backbone %s pools its own features: the pool setting does not apply", backbone)
    kwargs: dict[str, Any] = {"num_classes": 0, "in_chans": in_chans}
    if feature_format != "pooled":
        kwargs["global_pool"] = ""
    if overlay:
        kwargs["pretrained_cfg_overlay"] = overlay
    try:
        with missing_keys_recorder() as missing:
            net = _create(backbone, overlay is not None, kwargs, image_size)
    except Exception as err:
        if overlay is not None and is_download_error(err):
            raise PretrainedWeightsUnavailable(
                unavailable_message(backbone, f"loading them failed: {type(err).__name__}: {err}")
            ) from err
        raise
    if missing:
        check_missing_keys(net, backbone, missing, overlay)
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
