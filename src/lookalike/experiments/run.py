"""One experiment from settings to a folder of results: check inputs, train, evaluate, write files.

Nothing is written before every input check has passed. Each selected fold is one run; a single
fold writes straight into `<output_directory>/<experiment_name>/`, several folds into
`fold_<k>/` below it. A run that fails still writes summary.json with its error.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

import lookalike
from lookalike.atomic import atomic_write, write_json
from lookalike.config import Config, Problem, ProblemsFound, check_config, errors, save_config
from lookalike.data.dataset import ImageDataset
from lookalike.data.inputs import Inputs, Split, load_inputs
from lookalike.data.transforms import build_transforms
from lookalike.experiments.evaluate import Retrieval, embed_split, predictions_frame, retrieve
from lookalike.experiments.logs import FileLog
from lookalike.model.configured import arcface_head, embedding_model
from lookalike.model.net import check_backbone
from lookalike.runtime import autocast_dtype, resolve_seed, seed_everything, select_device
from lookalike.train.charts import Charts
from lookalike.train.checkpoint import (
    CHECKPOINT,
    TRAINING_STATE,
    load_weights,
    save_training_state,
    save_weights,
)
from lookalike.train.loop import RunState, train

log = logging.getLogger("lookalike")


@dataclass
class Prepared:
    """Checked settings and data, ready to train: one Inputs per selected fold."""

    cfg: Config
    seed: int
    inputs: dict[int, Inputs]
    problems: list[Problem]  # warnings only (errors are raised)


def selected_folds(cfg: Config) -> list[int]:
    if cfg.dataset.validation_strategy in ("kfold", "grouped_kfold"):
        return list(dict.fromkeys(cfg.dataset.folds))
    return [0]  # holdout strategies have one split


def prepare(cfg: Config) -> Prepared:
    """Check the settings and the whole input; raise ProblemsFound with every error at once."""
    problems = check_config(cfg) + _check_backbone(cfg)
    if errors(problems):
        raise ProblemsFound(problems)
    seed = resolve_seed(cfg.environment.seed)
    inputs = {}
    for i, fold in enumerate(selected_folds(cfg)):
        # Every fold holds the same images, so decoding them all once is enough.
        fold_inputs, fold_problems = load_inputs(cfg, fold, seed, check_images=i == 0)
        problems += [p for p in fold_problems if p not in problems]
        if fold_inputs is not None:
            inputs[fold] = fold_inputs
    if errors(problems):
        raise ProblemsFound(problems)
    return Prepared(cfg, seed, inputs, problems)


def _check_backbone(cfg: Config) -> list[Problem]:
    try:
        check_backbone(cfg.architecture.backbone)
    except ValueError as error:
        return [Problem("error", "architecture.backbone", str(error))]
    return []


def experiment_folder(cfg: Config) -> Path:
    return Path(cfg.output_directory) / cfg.experiment_name


def run_experiment(prepared: Prepared, *, overwrite: bool = False) -> Path:
    """Train and evaluate every selected fold; returns the experiment folder."""
    cfg = prepared.cfg
    folder = experiment_folder(cfg)
    if folder.exists() and any(folder.iterdir()):
        if not overwrite:
            raise ProblemsFound(
                [
                    Problem(
                        "error",
                        "experiment_name",
                        f"the folder {folder} already exists",
                        hint="choose another experiment_name, or pass --overwrite to replace it",
                    )
                ]
            )
        shutil.rmtree(folder)
    several = len(prepared.inputs) > 1
    for fold, inputs in prepared.inputs.items():
        run_folder = folder / f"fold_{fold}" if several else folder
        run_one(cfg, inputs, prepared.seed, run_folder, prepared.problems)
    return folder


def run_one(
    cfg: Config, inputs: Inputs, seed: int, folder: Path, warnings: list[Problem]
) -> dict[str, Any]:
    """One model on one split; writes every output file, and summary.json even on failure."""
    folder.mkdir(parents=True, exist_ok=True)
    save_config(cfg, folder / "cfg.yaml")
    started = time.time()
    summary: dict[str, Any] = {
        "status": "running",
        "error": None,
        "metrics": {},
        "seed": seed,
        "epochs": cfg.training.epochs,
        **_sizes(inputs),
        "runtime_seconds": None,
        "lookalike_version": lookalike.__version__,
    }
    with FileLog(folder / "logs.log"):
        log.info("Experiment folder: %s", folder)
        log.info("Seed: %d", seed)
        log.info("Data: %s", inputs.summary())
        for problem in warnings:
            log.warning("%s", problem)
        try:
            summary["metrics"], summary["run"] = _train_and_evaluate(cfg, inputs, seed, folder)
            summary["status"] = "finished"
        except BaseException as error:
            summary["status"] = "failed"
            summary["error"] = _describe(error)
            log.error("Run failed: %s", summary["error"])
            log.debug("Traceback of the failure", exc_info=True)
            raise
        finally:
            summary["runtime_seconds"] = round(time.time() - started, 3)
            write_json(folder / "summary.json", summary)
    log.info("Finished in %.1f s: %s", summary["runtime_seconds"], summary["metrics"])
    return summary


def _train_and_evaluate(
    cfg: Config, inputs: Inputs, seed: int, folder: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    device = select_device(cfg.environment.gpus)
    seed_everything(seed)
    train_transform, inference_transform = build_transforms(cfg)
    model = embedding_model(cfg)
    head = arcface_head(cfg, len(inputs.classes))
    t = cfg.training
    train_split = inputs.training_split(t.train_validation_data)
    train_data = ImageDataset(
        train_split.paths,
        inputs.class_ids(train_split),
        train_transform,
        cfg.image.image_channels,
    )
    state = RunState(seed=seed, device=str(device), batch_size=t.batch_size)
    charts = Charts(folder / "charts.json")
    inference_dtype = autocast_dtype(device, cfg.environment.mixed_precision_inference)
    k = cfg.prediction.top_k_similar
    latest: dict[str, Retrieval] = {}

    def evaluate(state: RunState) -> float | None:
        embeddings = embed_split(
            cfg,
            model,
            inputs.validation,
            inference_transform,
            device,
            inference_dtype,
            "validation",
        )
        latest["validation"] = result = retrieve(embeddings, inputs.validation.labels, k)
        m = result.metrics
        charts.add(
            "validation",
            state.samples_seen,
            epoch=state.epoch,
            mAP=m.map_at_k,
            recall_at_1=m.recall_at_1,
        )
        charts.save()
        log.info(
            "Validation at epoch %.2f: mAP@%d %.4f, recall@1 %.4f (%d queries, %d without a "
            "possible match left out).",
            state.epoch,
            result.indices.shape[1],
            m.map_at_k,
            m.recall_at_1,
            m.n_queries,
            m.n_skipped,
        )
        return m.map_at_k

    def save_checkpoint(state: RunState, optimizer: torch.optim.Optimizer) -> None:
        metadata = {
            "n_classes": len(inputs.classes),
            "epoch": state.epoch,
            "seed": seed,
            "lookalike_version": lookalike.__version__,
        }
        save_weights(folder / CHECKPOINT, {"model": model, "arcface": head}, metadata)
        save_training_state(
            folder / TRAINING_STATE,
            {"optimizer": optimizer.state_dict(), "run_state": state.to_dict()},
        )
        latest["saved"] = latest.get("validation")
        log.info("Saved %s (epoch %.2f).", CHECKPOINT, state.epoch)

    train(
        cfg,
        model,
        head,
        train_data,
        state,
        evaluate=evaluate,
        save_checkpoint=save_checkpoint,
        charts=charts,
    )

    if t.save_best_checkpoint and state.best_metric is not None:
        load_weights(folder / CHECKPOINT, {"model": model, "arcface": head})
    validation = latest.get("saved")
    if validation is None:  # no evaluation ran (0 epochs): evaluate the saved model now
        evaluate(state)
        validation = latest["validation"]
    metrics = {"validation": validation.metrics_dict()}
    _write_results(cfg, folder, "validation", inputs.validation, validation)

    if inputs.test is not None:
        embeddings = embed_split(
            cfg, model, inputs.test, inference_transform, device, inference_dtype, "test"
        )
        result = retrieve(embeddings, inputs.test.labels, k)
        _write_results(cfg, folder, "test", inputs.test, result)
        if result.metrics is not None:
            metrics["test"] = result.metrics_dict()
            log.info(
                "Test: mAP@%d %.4f, recall@1 %.4f.",
                result.indices.shape[1],
                result.metrics.map_at_k,
                result.metrics.recall_at_1,
            )
    if t.calculate_train_metric:
        embeddings = embed_split(
            cfg, model, train_split, inference_transform, device, inference_dtype, "train"
        )
        metrics["train"] = retrieve(embeddings, train_split.labels, k).metrics_dict()
        log.info("Train metric: %s", metrics["train"])
    charts.save()
    return metrics, state.to_dict()


def _write_results(cfg: Config, folder: Path, name: str, split: Split, result: Retrieval) -> None:
    frame = predictions_frame(cfg, split, result)
    atomic_write(folder / f"{name}_predictions.csv", lambda tmp: frame.to_csv(tmp, index=False))
    atomic_write(folder / f"{name}_embeddings.npy", lambda tmp: _save_npy(tmp, result.embeddings))


def _save_npy(path: str, array: np.ndarray) -> None:
    # np.save would append ".npy" to a temporary name, so write through an open file.
    with open(path, "wb") as handle:
        np.save(handle, array)


def _sizes(inputs: Inputs) -> dict[str, int]:
    """Images trained on (validation included with train_validation_data), validated, tested."""
    counts = inputs.summary()
    return {key: counts[key] for key in ("n_train", "n_validation", "n_test")}


def _describe(error: BaseException) -> str:
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    return f"{type(error).__name__}: {error}"
