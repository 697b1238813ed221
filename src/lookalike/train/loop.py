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
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

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
    log.info(
        "Training %d epochs on %s (%s), batch size %d, %d images.",
        t.epochs, device, f"{dtype} autocast" if dtype else "float32", state.batch_size,
        len(train_data),
    )  # fmt: skip

    def evaluate_and_keep_best() -> None:
        metric = evaluate(state)
        if metric is None or math.isnan(metric):
            return
        if state.best_metric is None or metric > state.best_metric:
            state.best_metric, state.best_epoch = metric, state.epoch
            if t.save_best_checkpoint:
                save_checkpoint(state, optimizer)

    run = _Run(
        cfg, model, head, train_data, state, device, dtype, optimizer,
        torch.amp.GradScaler(device.type, enabled=dtype == torch.float16), charts,
        evaluate_and_keep_best, next_evaluation=t.evaluation_epochs,
    )  # fmt: skip
    if t.evaluate_before_training:
        evaluate_and_keep_best()
    for epoch in range(t.epochs):
        _train_epoch_in_memory(run, epoch)
        state.epoch = epoch + 1.0
        charts.save()
    if t.epochs:
        evaluate_and_keep_best()  # evaluation points inside the loop stop short of the end
    if not t.save_best_checkpoint or state.best_metric is None:
        save_checkpoint(state, optimizer)
    charts.save()
    return state


@dataclass
class _Run:
    """What the steps of one training share; built once by train()."""

    cfg: Config
    model: nn.Module
    head: nn.Module
    data: Dataset
    state: RunState
    device: torch.device
    dtype: torch.dtype | None
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    charts: Charts
    evaluate: Callable[[], None]
    next_evaluation: float  # epoch of the next evaluation point inside the loop
    loaders: dict[int, DataLoader] = field(default_factory=dict)  # by batch size

    def loader(self) -> DataLoader:
        """The training loader for the current batch size, its workers kept between epochs."""
        size = self.state.batch_size
        if size not in self.loaders:
            self.loaders.clear()  # a halved batch size replaces the loader and its workers
            self.loaders[size] = make_loader(
                self.data,
                batch_size=size,
                workers=self.cfg.environment.number_of_workers,
                shuffle=True,
                drop_last=self.cfg.training.drop_last_batch,
                seed=self.state.seed,
                pin_memory=self.device.type == "cuda",
                persistent=True,
            )
        return self.loaders[size]


def _train_epoch_in_memory(run: _Run, epoch: int) -> None:
    """Train one epoch; on out-of-memory, if allowed, halve the batch size and redo the epoch
    from a snapshot taken at its start (weights, optimizer, counters and charts)."""
    adjust = run.cfg.training.automatically_adjust_batch_size
    snapshot = _snapshot(run) if adjust else None
    while True:
        try:
            _train_epoch(run, epoch)
            return
        except (torch.OutOfMemoryError, RuntimeError) as error:
            if not is_out_of_memory(error):
                raise
            run.optimizer.zero_grad(set_to_none=True)
            if run.device.type == "cuda":
                torch.cuda.empty_cache()
            if snapshot is None or run.state.batch_size == 1:
                raise torch.OutOfMemoryError(_out_of_memory_advice(run.state, adjust)) from error
            _restore(run, snapshot)
            _halve_batch_size(run.state)


def _train_epoch(run: _Run, epoch: int) -> None:
    """One pass over the training data, evaluating at the evaluation points it crosses."""
    cfg, state, t = run.cfg, run.state, run.cfg.training
    loader = run.loader()
    n_batches = len(loader)
    if n_batches == 0:
        raise ValueError(
            f"training.batch_size={state.batch_size} is larger than the {len(run.data)} "
            "training images with drop_last_batch on: no training step would run"
        )
    parameters = [p for group in run.optimizer.param_groups for p in group["params"]]
    run.model.train()
    run.head.train()
    started, images_done = time.perf_counter(), 0
    with progress_bar(f"epoch {epoch + 1}/{t.epochs}", n_batches) as bar:
        for i, (images, labels) in enumerate(loader):
            progress = (epoch + i / n_batches) / t.epochs
            warmup = t.warmup_epochs / t.epochs
            apply_schedule(run.optimizer, lr_factor(progress, schedule=t.schedule, warmup=warmup))
            x = normalize_batch(images.to(run.device, non_blocking=True),
                                cfg.image.image_normalization)  # fmt: skip
            y = labels.to(run.device, non_blocking=True)
            with autocast(run.device, run.dtype):
                loss = run.head.loss(run.model(x), y)
            if i % t.grad_accumulation == 0:
                # Cleared here, between forward and backward, rather than right after the update:
                # freeing ~all gradient memory after each step lets the C allocator hand it back
                # to the system, and the next backward pays page faults to get it again
                # (bench/RESULTS.md measured 13% slower steps on the CPU).
                run.optimizer.zero_grad(set_to_none=True)
            # Each update averages its group of batches; the last group of an epoch may be short.
            group_size = min(
                t.grad_accumulation, n_batches - i // t.grad_accumulation * t.grad_accumulation
            )
            run.scaler.scale(loss / group_size).backward()

            norms: dict[str, float] = {}
            if (i + 1) % t.grad_accumulation == 0 or i + 1 == n_batches:
                norms = _step(run, parameters)
                state.step += 1

            state.samples_seen += len(x)
            state.epoch = epoch + (i + 1) / n_batches
            images_done += len(x)
            loss_value, lr = loss.item(), run.optimizer.param_groups[0]["lr"]
            run.charts.add("train", state.samples_seen, loss=loss_value, lr=lr, **norms)
            speed = images_done / max(time.perf_counter() - started, 1e-9)
            bar.update(loss=loss_value, lr=lr, speed=speed)

            if state.epoch >= run.next_evaluation - 1e-9 and state.epoch < t.epochs - 1e-9:
                run.evaluate()
                run.model.train()
                run.head.train()
                run.next_evaluation += t.evaluation_epochs
    log.info(
        "Epoch %d/%d: loss %.4f, learning rate %.3g, %.1f images/s.",
        epoch + 1, t.epochs, loss_value, lr, speed,
    )  # fmt: skip


def _step(run: _Run, parameters: list[torch.Tensor]) -> dict[str, float]:
    """Clip (when asked), update and clear the gradients; returns grad norms when logged."""
    clip, log_norm = run.cfg.training.gradient_clip, run.cfg.logging.log_grad_norm
    norms = {}
    if clip > 0 or log_norm:
        run.scaler.unscale_(run.optimizer)
        before = torch.nn.utils.clip_grad_norm_(parameters, clip if clip > 0 else math.inf)
        if log_norm:
            norms["grad_norm"] = float(before)
            if clip > 0:
                norms["grad_norm_clipped"] = float(_total_norm(parameters))
    run.scaler.step(run.optimizer)
    run.scaler.update()
    return norms


def _total_norm(parameters: list[torch.Tensor]) -> torch.Tensor:
    grads = [p.grad.detach().norm() for p in parameters if p.grad is not None]
    return torch.stack(grads).norm() if grads else torch.tensor(0.0)


def is_out_of_memory(error: BaseException) -> bool:
    """A GPU out-of-memory error, or the CPU allocator failing to allocate."""
    if isinstance(error, torch.OutOfMemoryError):
        return True
    text = str(error)
    return "out of memory" in text or "can't allocate memory" in text


def _snapshot(run: _Run) -> dict:
    """CPU copies of everything an epoch changes, to redo it after an out-of-memory error."""
    return {
        "model": _to_cpu(run.model.state_dict()),
        "head": _to_cpu(run.head.state_dict()),
        "optimizer": _to_cpu(run.optimizer.state_dict()),
        "scale": run.scaler.get_scale() if run.scaler.is_enabled() else None,
        "counters": (run.state.step, run.state.samples_seen, run.state.best_metric,
                     run.state.best_epoch, run.next_evaluation),
        "charts": run.charts.mark(),
    }  # fmt: skip


def _restore(run: _Run, snapshot: dict) -> None:
    run.model.load_state_dict(snapshot["model"])
    run.head.load_state_dict(snapshot["head"])
    run.optimizer.load_state_dict(snapshot["optimizer"])
    if snapshot["scale"] is not None:  # a scaler stopped half-way through a step can't go on
        run.scaler = torch.amp.GradScaler(run.device.type, init_scale=snapshot["scale"])
    (run.state.step, run.state.samples_seen, run.state.best_metric, run.state.best_epoch,
     run.next_evaluation) = snapshot["counters"]  # fmt: skip
    run.charts.rewind(snapshot["charts"])


def _to_cpu(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_cpu(v) for v in value]
    return value


def _halve_batch_size(state: RunState) -> None:
    new = max(1, state.batch_size // 2)
    message = f"Out of memory with batch size {state.batch_size}: retrying the epoch with {new}."
    log.warning(message)
    state.batch_size_halvings.append(message)
    state.batch_size = new


def _out_of_memory_advice(state: RunState, adjusting: bool) -> str:
    if adjusting:
        return "out of memory even with batch size 1: use smaller images or a smaller backbone"
    return (
        f"out of memory with batch size {state.batch_size}; lower training.batch_size or set "
        "training.automatically_adjust_batch_size=true"
    )
