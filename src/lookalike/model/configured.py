"""The embedding model and ArcFace head described by an experiment's settings."""

from __future__ import annotations

from lookalike.config.schema import Config
from lookalike.model.arcface import ArcFaceHead
from lookalike.model.net import EmbeddingModel, build_model


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
