"""One experiment from settings to a folder of results: check inputs, train, evaluate, write files.

Nothing is written before every check has passed (settings, data, model, device, folder). Each
selected fold is one run; a single fold writes straight into
`<output_directory>/<experiment_name>/`, several folds into `fold_<k>/` below it, with a summary
of all folds at the top. summary.json says "running" from the start, and a failed run still
writes it, with its error.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

import lookalike
from lookalike.atomic import atomic_write, write_json, write_npy
from lookalike.config import Config, Problem, ProblemsFound, check_config, errors, save_config
from lookalike.data.dataset import ImageDataset
from lookalike.data.inputs import Inputs, Split, load_inputs
from lookalike.data.transforms import build_transforms
from lookalike.experiments.evaluate import Evaluator, Retrieval, predictions_frame
from lookalike.experiments.logs import FileLog
from lookalike.model.configured import arcface_head, check_model, embedding_model
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

# Files that mark a folder as an experiment's, the only kind --overwrite may delete.
EXPERIMENT_MARKERS = ("cfg.yaml", "summary.json")


@dataclass
class Prepared:
    """Checked settings and data, ready to train: one Inputs per selected fold."""

    cfg: Config
    seed: int
    inputs: dict[int, Inputs]
    problems: list[Problem]  # warnings only (errors are raised)
    overwrite: bool = False


def selected_folds(cfg: Config) -> list[int]:
    if cfg.dataset.validation_strategy in ("kfold", "grouped_kfold"):
        return list(dict.fromkeys(cfg.dataset.folds))
    return [0]  # holdout strategies have one split


def experiment_folder(cfg: Config) -> Path:
    return Path(cfg.output_directory) / cfg.experiment_name


def prepare(cfg: Config, *, overwrite: bool = False) -> Prepared:
    """Check settings, model, device, folder and the whole input; raise every error at once."""
    problems = check_config(cfg) + check_model(cfg) + _check_device(cfg)
    problems += _check_folder(cfg, overwrite)
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
            if fold_inputs.test is not None and len(fold_inputs.test.paths) < 2 and i == 0:
                problems.append(
                    Problem("error", "dataset.test_dataframe",
                            "has fewer than 2 images: each test image is searched among the "
                            "other test images")
                )  # fmt: skip
    if errors(problems):
        raise ProblemsFound(problems)
    return Prepared(cfg, seed, inputs, problems, overwrite)


def _check_device(cfg: Config) -> list[Problem]:
    try:
        select_device(cfg.environment.gpus)
    except ValueError as error:
        return [Problem("error", "environment.gpus", str(error))]
    return []


def _check_folder(cfg: Config, overwrite: bool) -> list[Problem]:
    folder = experiment_folder(cfg)
    if not folder.exists() or not any(folder.iterdir()):
        return []
    if not overwrite:
        return [
            Problem("error", "experiment_name", f"the folder {folder} already exists",
                    hint="choose another experiment_name, or pass --overwrite to replace it")
        ]  # fmt: skip
    if not any(next(folder.glob(f"**/{name}"), None) for name in EXPERIMENT_MARKERS):
        return [
            Problem("error", "experiment_name",
                    f"{folder} is not an experiment folder (no cfg.yaml or summary.json): "
                    "--overwrite will not delete it",
                    hint="choose another experiment_name or output_directory")
        ]  # fmt: skip
    return []


def run_experiment(prepared: Prepared) -> Path:
    """Train and evaluate every selected fold; returns the experiment folder."""
    cfg = prepared.cfg
    folder = experiment_folder(cfg)
    if prepared.overwrite and folder.exists():
        shutil.rmtree(folder)
    if len(prepared.inputs) == 1:
        ((fold, inputs),) = prepared.inputs.items()
        run_one(cfg, inputs, prepared.seed, folder, prepared.problems)
        return folder
    save_config(_without_secrets(cfg), folder / "cfg.yaml")
    started, runs = time.time(), {}
    try:
        for fold, inputs in prepared.inputs.items():
            runs[fold] = run_one(cfg, inputs, prepared.seed, folder / f"fold_{fold}",
                                 prepared.problems)  # fmt: skip
    finally:
        write_json(folder / "summary.json", _folds_summary(cfg, prepared, runs, started))
    return folder


def run_one(
    cfg: Config, inputs: Inputs, seed: int, folder: Path, warnings: list[Problem]
) -> dict[str, Any]:
    """One model on one split; writes every output file, and summary.json even on failure."""
    folder.mkdir(parents=True, exist_ok=True)
    save_config(_without_secrets(cfg), folder / "cfg.yaml")
    started = time.time()
    data = inputs.summary()
    sizes = {key: data[key] for key in ("n_train", "n_validation", "n_test")}
    summary: dict[str, Any] = {
        "status": "running", "error": None, "metrics": {}, "seed": seed,
        "epochs": cfg.training.epochs, "fold": inputs.fold, **sizes,
        "runtime_seconds": None, "lookalike_version": lookalike.__version__,
    }  # fmt: skip
    write_json(folder / "summary.json", summary)
    with FileLog(folder / "logs.log"):
        log.info("Experiment folder: %s", folder)
        log.info("Seed: %d", seed)
        log.info("Data: %s", data)
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
    """Train, then write validation and test results from the weights that were saved."""
    device = select_device(cfg.environment.gpus)
    seed_everything(seed)
    train_transform, inference_transform = build_transforms(cfg)
    model = embedding_model(cfg)
    head = arcface_head(cfg, len(inputs.classes))
    t = cfg.training
    train_split = inputs.training_split(t.train_validation_data)
    train_data = ImageDataset(
        train_split.paths, inputs.class_ids(train_split), train_transform,
        cfg.image.image_channels,
    )  # fmt: skip
    state = RunState(seed=seed, device=str(device), batch_size=t.batch_size)
    charts = Charts(folder / "charts.json")
    evaluator = Evaluator(
        cfg, model, inference_transform, device,
        autocast_dtype(device, cfg.environment.mixed_precision_inference),
    )  # fmt: skip
    latest: dict[str, Retrieval] = {}  # the last validation, and the one of the saved weights

    def evaluate(state: RunState) -> float | None:
        title = f"Validation at epoch {state.epoch:.2f}"
        latest["validation"] = result = evaluator(inputs.validation, title, state.batch_size)
        m = result.metrics
        charts.add("validation", state.samples_seen, epoch=state.epoch,
                   **{"mAP": m.map_at_k, "recall@1": m.recall_at_1})  # fmt: skip
        charts.save()
        return m.map_at_k

    def save_checkpoint(state: RunState, optimizer: torch.optim.Optimizer) -> None:
        metadata = {"n_classes": len(inputs.classes), "epoch": state.epoch, "seed": seed,
                    "lookalike_version": lookalike.__version__}  # fmt: skip
        save_weights(folder / CHECKPOINT, {"model": model, "arcface": head}, metadata)
        save_training_state(
            folder / TRAINING_STATE,
            {"optimizer": optimizer.state_dict(), "run_state": state.to_dict()},
        )
        latest["saved"] = latest.get("validation")
        log.info("Saved %s (epoch %.2f).", CHECKPOINT, state.epoch)

    train(cfg, model, head, train_data, state, evaluate=evaluate,
          save_checkpoint=save_checkpoint, charts=charts)  # fmt: skip

    if t.save_best_checkpoint and state.best_metric is not None:
        load_weights(folder / CHECKPOINT, {"model": model, "arcface": head})
    if latest.get("saved") is None:  # no evaluation ran (0 epochs): evaluate the saved model
        evaluate(state)
        latest["saved"] = latest["validation"]
    _write_results(cfg, folder, "validation", inputs.validation, latest["saved"])
    metrics = {"validation": latest["saved"].metrics_dict()}
    if inputs.test is not None:
        result = evaluator(inputs.test, "Test", state.batch_size)
        _write_results(cfg, folder, "test", inputs.test, result)
        if result.metrics is not None:
            metrics["test"] = result.metrics_dict()
    if t.calculate_train_metric:
        metrics["train"] = evaluator(train_split, "Train", state.batch_size).metrics_dict()
    charts.save()
    return metrics, state.to_dict()


def _write_results(cfg: Config, folder: Path, name: str, split: Split, result: Retrieval) -> None:
    frame = predictions_frame(cfg, split, result)
    atomic_write(folder / f"{name}_predictions.csv", lambda tmp: frame.to_csv(tmp, index=False))
    write_npy(folder / f"{name}_embeddings.npy", result.embeddings)


def _folds_summary(
    cfg: Config, prepared: Prepared, runs: dict[int, dict[str, Any]], started: float
) -> dict[str, Any]:
    """The top summary of several folds: each fold's, and the mean of their metrics."""
    failed = [f for f in prepared.inputs if runs.get(f, {}).get("status") != "finished"]
    means: dict[str, dict[str, float]] = {}
    for split in ("validation", "test", "train"):
        values = [r["metrics"][split] for r in runs.values() if split in r.get("metrics", {})]
        if values and len(values) == len(runs) and not failed:
            means[split] = {key: sum(v[key] for v in values) / len(values)
                            for key in ("mAP", "recall@1")}  # fmt: skip
    return {
        "status": "failed" if failed else "finished",
        "error": f"fold {failed[0]} did not finish" if failed else None,
        "metrics": means,
        "folds": {
            str(f): {"status": r["status"], "metrics": r["metrics"], "folder": f"fold_{f}"}
            for f, r in runs.items()
        },
        "seed": prepared.seed,
        "epochs": cfg.training.epochs,
        "runtime_seconds": round(time.time() - started, 3),
        "lookalike_version": lookalike.__version__,
    }


def _without_secrets(cfg: Config) -> Config:
    """The settings as written into the experiment folder: no API token in plain text."""
    if not cfg.logging.neptune_api_token:
        return cfg
    return cfg.model_copy(
        update={"logging": cfg.logging.model_copy(update={"neptune_api_token": ""})}
    )


def _describe(error: BaseException) -> str:
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    return f"{type(error).__name__}: {error}"
