"""Optimizers with per-part learning rates, and the learning-rate schedule as a pure function."""

from __future__ import annotations

import math

import torch
from torch import nn

from lookalike.config.schema import Training

OPTIMIZERS = {
    "Adadelta": torch.optim.Adadelta,
    "Adam": torch.optim.Adam,
    "AdamW": torch.optim.AdamW,
    "RMSprop": torch.optim.RMSprop,
    "SGD": torch.optim.SGD,
}


def parameter_groups(parts: dict[str, nn.Module], t: Training) -> list[dict]:
    """One group per part ("Backbone", "Neck", "Loss"); differential parts get their own rate."""
    groups = []
    for name, module in parts.items():
        params = [p for p in module.parameters() if p.requires_grad]
        if not params:
            continue
        differential = name in t.differential_learning_rate_layers
        lr = t.differential_learning_rate if differential else t.learning_rate
        groups.append({"params": params, "lr": lr, "initial_lr": lr, "name": name})
    return groups


def build_optimizer(parts: dict[str, nn.Module], t: Training) -> torch.optim.Optimizer:
    groups = parameter_groups(parts, t)
    kwargs: dict = {"weight_decay": t.weight_decay}
    if t.optimizer == "SGD":
        kwargs["momentum"] = 0.9
    return OPTIMIZERS[t.optimizer](groups, lr=t.learning_rate, **kwargs)


def lr_factor(progress: float, *, schedule: str, warmup: float) -> float:
    """Multiplier of the base learning rate at `progress` (0 → 1 over the whole training).

    warmup is the share of training spent rising linearly from 0 to 1; after it, Constant stays
    at 1, Linear falls linearly to 0 and Cosine follows half a cosine down to 0.

    >>> lr_factor(0.25, schedule="Constant", warmup=0.5)
    0.5
    >>> lr_factor(0.75, schedule="Linear", warmup=0.5)
    0.5
    >>> round(lr_factor(0.5, schedule="Cosine", warmup=0.0), 6)
    0.5
    """
    progress = min(max(progress, 0.0), 1.0)
    if warmup > 0 and progress < warmup:
        return progress / warmup
    if schedule == "Constant":
        return 1.0
    remaining = (progress - warmup) / (1.0 - warmup) if warmup < 1 else 1.0
    if schedule == "Linear":
        return 1.0 - remaining
    if schedule == "Cosine":
        return 0.5 * (1.0 + math.cos(math.pi * remaining))
    raise ValueError(f"unknown schedule {schedule!r}")


def apply_schedule(optimizer: torch.optim.Optimizer, factor: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = group["initial_lr"] * factor
