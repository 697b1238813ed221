"""The training loop: epochs of ArcFace steps with evaluation points, read top to bottom.

The loop knows nothing of files or retrieval: evaluation and checkpoint saving come in as
callables, and everything that changes during a run lives in `RunState`, never in the settings.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
from torch import nn
from torch.utils.data import Dataset

from lookalike.config.schema import Config
from lookalike.data.loader import make_loader
from lookalike.data.transforms import normalize_batch
from lookalike.runtime import autocast, autocast_dtype
from lookalike.train.charts import Charts
from lookalike.train.optim import apply_schedule, build_optimizer, lr_factor
from lookalike.train.progress import progress_bar

log = logging.getLogger("lookalike")

# Evaluate returns the validation metric (mAP@K), or None when there is nothing to evaluate.
Evaluate = Callable[["RunState"], float | None]
SaveCheckpoint = Callable[["RunState", torch.optim.Optimizer], None]


@dataclass
class RunState:
    """What changes while a run trains; saved in summary.json and with each checkpoint."""

    seed: int
    device: str
    batch_size: int
    epoch: float = 0.0  # epochs done, fractional within an epoch
    step: int = 0  # optimizer updates
    samples_seen: int = 0
    best_metric: float | None = None
    best_epoch: float | None = None
    batch_size_halvings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def train(
    cfg: Config,
    model: nn.Module,
    head: nn.Module,
    train_data: Dataset,
    state: RunState,
    *,
    evaluate: Evaluate,
    save_checkpoint: SaveCheckpoint,
    charts: Charts,
) -> RunState:
    """Train `model` (backbone, pool, neck) and `head` (ArcFace) on `train_data` for the epochs."""
    t = cfg.training
    device = torch.device(state.device)
    model.to(device)
    head.to(device)
    dtype = autocast_dtype(device, cfg.environment.mixed_precision_training)
    optimizer = build_optimizer(
        {"Backbone": model.backbone, "Neck": nn.ModuleList([model.pool, model.neck]), "Loss": head},
        t,
    )
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    log.info(
        "Training %d epochs on %s (%s), batch size %d, %d images.",
        t.epochs,
        device,
        f"{dtype} autocast" if dtype else "float32",
        state.batch_size,
        len(train_data),
    )

    def evaluate_and_keep_best() -> None:
        metric = evaluate(state)
        if metric is None or math.isnan(metric):
            return
        if state.best_metric is None or metric > state.best_metric:
            state.best_metric, state.best_epoch = metric, state.epoch
            if t.save_best_checkpoint:
                save_checkpoint(state, optimizer)

    if t.evaluate_before_training:
        evaluate_and_keep_best()

    next_evaluation = t.evaluation_epochs
    for epoch in range(t.epochs):
        while True:  # repeats the epoch only when an out-of-memory error halves the batch size
            start = (state.step, state.samples_seen, next_evaluation)
            try:
                next_evaluation = _train_epoch(
                    cfg,
                    model,
                    head,
                    train_data,
                    state,
                    epoch,
                    optimizer,
                    scaler,
                    dtype,
                    charts,
                    next_evaluation,
                    evaluate_and_keep_best,
                )
                break
            except torch.OutOfMemoryError:
                _halve_batch_size(cfg, state, optimizer, device)
                state.step, state.samples_seen, next_evaluation = start
        state.epoch = epoch + 1.0
        charts.save()

    if t.epochs:
        evaluate_and_keep_best()  # evaluation points inside the loop stop short of the end
    if not t.save_best_checkpoint or state.best_metric is None:
        save_checkpoint(state, optimizer)
    charts.save()
    return state


def _train_epoch(
    cfg: Config,
    model: nn.Module,
    head: nn.Module,
    train_data: Dataset,
    state: RunState,
    epoch: int,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    dtype: torch.dtype | None,
    charts: Charts,
    next_evaluation: float,
    evaluate: Callable[[], None],
) -> float:
    """One pass over the training data; returns the epoch of the next evaluation point."""
    t = cfg.training
    device = torch.device(state.device)
    loader = make_loader(
        train_data,
        batch_size=state.batch_size,
        workers=cfg.environment.number_of_workers,
        shuffle=True,
        drop_last=t.drop_last_batch,
        seed=state.seed + epoch,
        pin_memory=device.type == "cuda",
    )
    n_batches = len(loader)
    if n_batches == 0:
        raise ValueError(
            f"training.batch_size={state.batch_size} is larger than the {len(train_data)} "
            "training images with drop_last_batch on: no training step would run"
        )
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    model.train()
    head.train()
    optimizer.zero_grad(set_to_none=True)
    started, images_done = time.perf_counter(), 0
    with progress_bar(f"epoch {epoch + 1}/{t.epochs}", n_batches) as bar:
        for i, (images, labels) in enumerate(loader):
            progress = (epoch + i / n_batches) / t.epochs
            apply_schedule(
                optimizer,
                lr_factor(progress, schedule=t.schedule, warmup=t.warmup_epochs / t.epochs),
            )
            x = normalize_batch(images.to(device, non_blocking=True), cfg.image.image_normalization)
            y = labels.to(device, non_blocking=True)
            with autocast(device, dtype):
                loss = head.loss(model(x), y)
            scaler.scale(loss / t.grad_accumulation).backward()

            last_batch = i + 1 == n_batches
            norms: dict[str, float] = {}
            if (i + 1) % t.grad_accumulation == 0 or last_batch:
                norms = _step(
                    optimizer, scaler, parameters, t.gradient_clip, cfg.logging.log_grad_norm
                )
                state.step += 1

            state.samples_seen += len(x)
            state.epoch = epoch + (i + 1) / n_batches
            images_done += len(x)
            lr = optimizer.param_groups[0]["lr"]
            charts.add("train", state.samples_seen, loss=loss.item(), lr=lr, **norms)
            speed = images_done / max(time.perf_counter() - started, 1e-9)
            bar.update(loss=loss.item(), lr=lr, speed=speed)

            if state.epoch >= next_evaluation - 1e-9 and state.epoch < t.epochs - 1e-9:
                evaluate()
                model.train()
                head.train()
                next_evaluation += t.evaluation_epochs
    log.info(
        "Epoch %d/%d: loss %.4f, learning rate %.3g, %.1f images/s.",
        epoch + 1,
        t.epochs,
        loss.item(),
        lr,
        speed,
    )
    return next_evaluation


def _step(
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    parameters: list[torch.Tensor],
    clip: float,
    log_norm: bool,
) -> dict[str, float]:
    """Clip (when asked), update and clear the gradients; returns grad norms when logged."""
    norms = {}
    if clip > 0 or log_norm:
        scaler.unscale_(optimizer)
        before = torch.nn.utils.clip_grad_norm_(parameters, clip if clip > 0 else math.inf)
        if log_norm:
            norms["grad_norm"] = float(before)
            if clip > 0:
                norms["grad_norm_clipped"] = float(_total_norm(parameters))
    scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad(set_to_none=True)
    return norms


def _total_norm(parameters: list[torch.Tensor]) -> torch.Tensor:
    grads = [p.grad.detach().norm() for p in parameters if p.grad is not None]
    return torch.stack(grads).norm() if grads else torch.tensor(0.0)


def _halve_batch_size(
    cfg: Config, state: RunState, optimizer: torch.optim.Optimizer, device: torch.device
) -> None:
    """On out-of-memory: halve the batch size and repeat the epoch, if the settings allow it."""
    optimizer.zero_grad(set_to_none=True)
    if device.type == "cuda":
        torch.cuda.empty_cache()
    if not cfg.training.automatically_adjust_batch_size or state.batch_size == 1:
        raise torch.OutOfMemoryError(
            f"out of memory with batch size {state.batch_size}; lower training.batch_size or set "
            "training.automatically_adjust_batch_size=true"
        )
    new = max(1, state.batch_size // 2)
    message = f"Out of memory with batch size {state.batch_size}: retrying the epoch with {new}."
    log.warning(message)
    state.batch_size_halvings.append(message)
    state.batch_size = new
