"""Embedding models: timm backbone, pooling, neck, and the ArcFace training head."""

from lookalike.model.arcface import ArcFaceHead
from lookalike.model.net import (
    EmbeddingModel,
    FeatureFormat,
    PretrainedWeightsUnavailable,
    build_model,
)
from lookalike.model.pooling import POOLS, GeM, build_pool, pooled_width

__all__ = [
    "POOLS",
    "ArcFaceHead",
    "EmbeddingModel",
    "FeatureFormat",
    "GeM",
    "PretrainedWeightsUnavailable",
    "build_model",
    "build_pool",
    "pooled_width",
]
