"""The embedding model and ArcFace head described by an experiment's settings."""

from __future__ import annotations

import warnings

import torch

from lookalike.config.problems import Problem
from lookalike.config.schema import Config
from lookalike.model.arcface import ArcFaceHead
from lookalike.model.net import EmbeddingModel, build_model, check_backbone
from lookalike.model.pretrained import (
    PretrainedWeightsUnavailable,
    current_name,
    pretrained_overlay,
)


def embedding_model(cfg: Config, *, load_pretrained: bool = True) -> EmbeddingModel:
    """Build the model of `cfg`; load_pretrained=False gives random weights (to load a checkpoint
    into, so a trained model is rebuilt from cfg.yaml and its weights alone)."""
    a = cfg.architecture
    pretrained = a.pretrained and load_pretrained
    return build_model(
        a.backbone,
        pretrained=pretrained,
        pretrained_weights=a.pretrained_weights if pretrained else None,
        pool=a.pool,
        dropout=a.dropout,
        embedding_size=a.embedding_size,
        in_chans=cfg.image.image_channels,
        image_size=(cfg.image.image_height, cfg.image.image_width),
    )


def arcface_head(cfg: Config, n_classes: int) -> ArcFaceHead:
    t = cfg.training
    return ArcFaceHead(
        cfg.architecture.embedding_size, n_classes, t.arcface_margin, t.arcface_scale
    )


def check_model(cfg: Config) -> list[Problem]:
    """Problems with the model settings, found before anything is written or trained: the
    backbone name, where its pretrained weights would come from, and whether it takes images of
    the configured size and channels (a shape-only pass on the meta device: no memory, no
    compute, no weights)."""
    a, image = cfg.architecture, cfg.image
    try:
        check_backbone(a.backbone)
    except ValueError as error:
        return [Problem("error", "architecture.backbone", str(error))]
    problems = []
    if current_name(a.backbone) != a.backbone:
        problems.append(
            Problem("warning", "architecture.backbone",
                    f"{a.backbone} is timm's old name for {current_name(a.backbone)}")
        )  # fmt: skip
    try:
        pretrained_overlay(a.backbone, a.pretrained, a.pretrained_weights)
    except FileNotFoundError as error:
        problems.append(Problem("error", "architecture.pretrained_weights", str(error)))
    except PretrainedWeightsUnavailable as error:
        problems.append(Problem("error", "architecture.pretrained", str(error)))
    try:
        with torch.device("meta"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # timm's deprecation notice is the warning above
            model = embedding_model(cfg, load_pretrained=False).eval()
            with torch.no_grad():
                model(torch.empty(2, image.image_channels, image.image_height, image.image_width))
    except Exception as error:  # timm's own words say what does not fit
        problems.append(
            Problem("error", "image.image_height",
                    f"backbone {a.backbone} cannot take {image.image_channels}-channel "
                    f"{image.image_height}×{image.image_width} images: {error}",
                    hint="choose an image size the backbone supports (e.g. a multiple of its "
                    "patch size) or another backbone")
        )  # fmt: skip
    return problems
