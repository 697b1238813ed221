"""Optimizers, per-part learning rates and the learning-rate schedule."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from lookalike.config import load_config
from lookalike.train.optim import apply_schedule, build_optimizer, lr_factor


def parts() -> dict[str, nn.Module]:
    return {"Backbone": nn.Linear(4, 4), "Neck": nn.Linear(4, 2), "Loss": nn.Linear(2, 3)}


@pytest.mark.parametrize("schedule", ["Constant", "Cosine", "Linear"])
def test_warmup_rises_linearly_from_zero(schedule):
    assert lr_factor(0.0, schedule=schedule, warmup=0.2) == 0.0
    assert lr_factor(0.1, schedule=schedule, warmup=0.2) == pytest.approx(0.5)
    assert lr_factor(0.2, schedule=schedule, warmup=0.2) == pytest.approx(1.0)


def test_schedules_after_warmup():
    assert lr_factor(0.9, schedule="Constant", warmup=0.0) == 1.0
    assert lr_factor(0.5, schedule="Linear", warmup=0.0) == pytest.approx(0.5)
    assert lr_factor(1.0, schedule="Linear", warmup=0.0) == pytest.approx(0.0)
    assert lr_factor(0.25, schedule="Cosine", warmup=0.0) == pytest.approx(
        0.5 * (1 + math.cos(math.pi / 4))
    )
    assert lr_factor(1.0, schedule="Cosine", warmup=0.0) == pytest.approx(0.0)
    # Fractional warmup: decay starts where warmup ends.
    assert lr_factor(0.6, schedule="Linear", warmup=0.2) == pytest.approx(0.5)


def test_differential_learning_rate_goes_to_the_named_parts_only():
    overrides = [
        "training.learning_rate=0.1",
        "training.differential_learning_rate=0.01",
        "training.differential_learning_rate_layers=[Neck]",
    ]
    t = load_config(None, overrides).training
    optimizer = build_optimizer(parts(), t)
    assert {g["name"]: g["lr"] for g in optimizer.param_groups} == {
        "Backbone": 0.1, "Neck": 0.01, "Loss": 0.1
    }  # fmt: skip
    apply_schedule(optimizer, 0.5)
    assert {g["name"]: g["lr"] for g in optimizer.param_groups} == {
        "Backbone": 0.05, "Neck": 0.005, "Loss": 0.05
    }  # fmt: skip


@pytest.mark.parametrize(
    ("name", "cls"),
    [("AdamW", torch.optim.AdamW), ("Adam", torch.optim.Adam), ("SGD", torch.optim.SGD),
     ("RMSprop", torch.optim.RMSprop), ("Adadelta", torch.optim.Adadelta)],
)  # fmt: skip
def test_optimizer_and_weight_decay(name, cls):
    t = load_config(None, [f"training.optimizer={name}", "training.weight_decay=0.05"]).training
    optimizer = build_optimizer(parts(), t)
    assert type(optimizer) is cls
    assert all(g["weight_decay"] == 0.05 for g in optimizer.param_groups)
