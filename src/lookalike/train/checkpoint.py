"""Checkpoints on disk: weights as safetensors, training progress as a tensors-only torch file.

Everything is written atomically (temporary file, then rename) and read without unpickling code:
safetensors for weights, `torch.load(weights_only=True)` for the optimizer state.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from lookalike.atomic import atomic_write
from lookalike.config import Config, load_config
from lookalike.model.configured import embedding_model

CHECKPOINT = "checkpoint.safetensors"
TRAINING_STATE = "training_state.pt"


def save_weights(
    path: Path, modules: dict[str, nn.Module], metadata: dict[str, Any] | None = None
) -> None:
    """One safetensors file with each module's state under `<name>.`; metadata as JSON strings."""
    tensors = {
        f"{name}.{key}": value.detach().cpu().contiguous()
        for name, module in modules.items()
        for key, value in module.state_dict().items()
    }
    meta = {k: json.dumps(v) for k, v in (metadata or {}).items()}
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=meta))


def load_weights(path: Path, modules: dict[str, nn.Module]) -> dict[str, Any]:
    """Load each module's state from a file written by save_weights; returns its metadata."""
    tensors = load_file(str(path))
    for name, module in modules.items():
        prefix = f"{name}."
        state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        module.load_state_dict(state, strict=True)
    return read_metadata(path)


def read_metadata(path: Path) -> dict[str, Any]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        meta = handle.metadata() or {}
    return {k: json.loads(v) for k, v in meta.items()}


def save_training_state(path: Path, state: dict[str, Any]) -> None:
    """Optimizer state and progress counters (tensors, numbers, strings only) for resuming."""
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_training_state(path: Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=True)


def load_embedding_model(folder: str | Path) -> tuple[nn.Module, Config]:
    """Rebuild a trained embedding model from an experiment folder: cfg.yaml + checkpoint only."""
    folder = Path(folder)
    cfg = load_config(folder / "cfg.yaml")
    model = embedding_model(cfg, load_pretrained=False)
    load_weights(folder / CHECKPOINT, {"model": model})
    return model.eval(), cfg
