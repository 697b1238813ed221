"""What a run writes: every file, metrics that match the predictions, a reloadable checkpoint."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file
from tests.conftest import make_image_dataset
from tests.integration.conftest import summary

from lookalike.data.dataset import ImageDataset
from lookalike.data.loader import make_loader
from lookalike.data.transforms import build_transforms
from lookalike.model.embed import compute_embeddings
from lookalike.train.checkpoint import load_embedding_model, load_training_state

OUTPUT_FILES = {
    "cfg.yaml", "logs.log", "charts.json", "checkpoint.safetensors", "training_state.pt",
    "validation_predictions.csv", "validation_embeddings.npy", "test_predictions.csv",
    "test_embeddings.npy", "summary.json",
}  # fmt: skip


def brute_force_map(predictions: pd.DataFrame, k: int) -> float:
    """mAP@K from the predictions file alone, the plain way: loop over queries and ranks."""
    counts = predictions["label"].value_counts()
    aps = []
    for _, row in predictions.iterrows():
        n_relevant = counts[row["label"]] - 1
        if n_relevant == 0:
            continue
        hits, total = 0, 0.0
        for rank, label in enumerate(row["top_k_labels"].split()[:k], start=1):
            if label == row["label"]:
                hits += 1
                total += hits / rank
        aps.append(total / min(n_relevant, k))
    return float(np.mean(aps))


def embed_with_checkpoint(folder: Path, split: str) -> np.ndarray:
    """The split's embeddings from a model rebuilt out of cfg.yaml and the checkpoint alone."""
    model, cfg = load_embedding_model(folder)
    predictions = pd.read_csv(folder / f"{split}_predictions.csv")
    images = Path(cfg.dataset.data_folder_test if split == "test" else cfg.dataset.data_folder)
    _, inference = build_transforms(cfg)
    dataset = ImageDataset([images / n for n in predictions["image"]], None, inference, 3)
    return compute_embeddings(
        model, make_loader(dataset, batch_size=7, workers=0),
        device=torch.device("cpu"), normalization=cfg.image.image_normalization,
    )  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """One real run on separable images, with a test set of classes never trained on."""
    root = tmp_path_factory.mktemp("separable")
    train_csv = make_image_dataset(root, n_classes=6, per_class=10)
    test_csv = make_image_dataset(root, n_classes=3, per_class=8, name="test", label_offset=10)
    from tests.integration.conftest import Runner

    runner = Runner(root, train_csv)
    return runner(
        f"dataset.test_dataframe={test_csv}",
        "training.epochs=6",
        "training.batch_size=12",
        "training.learning_rate=0.01",
        "training.warmup_epochs=0.5",
        "architecture.pool=GeM",
        "prediction.top_k_similar=5",
    )


def test_every_output_file_is_written(trained):
    assert {p.name for p in trained.iterdir()} >= OUTPUT_FILES
    s = summary(trained)
    assert s["status"] == "finished" and s["error"] is None
    assert {"seed", "epochs", "n_train", "n_validation", "runtime_seconds"} <= set(s)
    assert not [p for p in trained.iterdir() if p.name.endswith(".tmp")]
    state = load_training_state(trained / "training_state.pt")  # weights_only: no code runs
    assert state["run_state"]["step"] == s["run"]["step"] and state["optimizer"]["state"]


def test_training_on_separable_images_reaches_a_map_far_above_chance(trained):
    # 6 balanced classes: a random ranking scores a mAP@5 around 0.2.
    assert summary(trained)["metrics"]["validation"]["mAP"] > 0.8


def test_reported_map_equals_the_one_recomputed_from_the_predictions_file(trained):
    predictions = pd.read_csv(trained / "validation_predictions.csv")
    reported = summary(trained)["metrics"]["validation"]["mAP"]
    assert reported == pytest.approx(brute_force_map(predictions, k=5), abs=1e-9)


def test_predictions_file_lists_k_others_in_rank_order(trained):
    predictions = pd.read_csv(trained / "validation_predictions.csv")
    assert list(predictions.columns) == [
        "image", "label", "top_k_images", "top_k_labels", "top_k_similarities"
    ]  # fmt: skip
    for _, row in predictions.iterrows():
        images = row["top_k_images"].split()
        similarities = [float(s) for s in row["top_k_similarities"].split()]
        assert len(images) == len(similarities) == len(row["top_k_labels"].split()) == 5
        assert row["image"] not in images
        assert similarities == sorted(similarities, reverse=True)
    embeddings = np.load(trained / "validation_embeddings.npy")
    assert embeddings.shape[0] == len(predictions)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)


def test_test_set_of_unseen_classes_is_searched_and_scored(trained):
    test = pd.read_csv(trained / "test_predictions.csv")
    assert len(test) == 24 and set(test["label"]) == {"class_10", "class_11", "class_12"}
    assert np.load(trained / "test_embeddings.npy").shape == (24, 16)
    assert summary(trained)["metrics"]["test"]["mAP"] == pytest.approx(
        brute_force_map(test, k=5), abs=1e-9
    )


def test_checkpoint_reload_gives_identical_embeddings(trained):
    np.testing.assert_allclose(
        embed_with_checkpoint(trained, "validation"),
        np.load(trained / "validation_embeddings.npy"),
        atol=1e-5,
    )
    tensors = load_file(str(trained / "checkpoint.safetensors"))
    assert any(k.startswith("arcface.") for k in tensors)


def test_logs_and_charts_record_the_run(trained):
    log = (trained / "logs.log").read_text()
    s = summary(trained)
    assert f"Seed: {s['seed']}" in log and "Validation at epoch" in log and "n_train" in log
    charts = json.loads((trained / "charts.json").read_text())
    assert len(charts["train"]["loss"]) == s["run"]["step"]
    assert charts["validation"]["samples"][-1] == s["run"]["samples_seen"]


def test_several_folds_train_one_model_each(run):
    folder = run("dataset.folds=[0,1]")
    assert (
        summary(folder / "fold_0")["status"] == summary(folder / "fold_1")["status"] == "finished"
    )
    first = pd.read_csv(folder / "fold_0" / "validation_predictions.csv")["image"]
    second = pd.read_csv(folder / "fold_1" / "validation_predictions.csv")["image"]
    assert not set(first) & set(second)


def test_unlabeled_test_frame_gets_predictions_but_no_metrics(run, tmp_path):
    test_csv = make_image_dataset(tmp_path / "test", n_classes=2, per_class=3, name="test")
    frame = pd.read_csv(test_csv).drop(columns=["label"])
    frame.to_csv(test_csv, index=False)
    folder = run(f"dataset.test_dataframe={test_csv}",
                 f"dataset.data_folder_test={test_csv.parent / 'images'}")  # fmt: skip
    predictions = pd.read_csv(folder / "test_predictions.csv")
    assert list(predictions.columns) == ["image", "top_k_images", "top_k_similarities"]
    assert "test" not in summary(folder)["metrics"]


def test_a_failed_run_still_writes_its_summary(run, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr("lookalike.experiments.run.train", broken)
    with pytest.raises(RuntimeError):
        run()
    folder = run.root / "output" / f"run{run.count}"
    s = summary(folder)
    assert s["status"] == "failed" and "the disk is full" in s["error"]
    assert "the disk is full" in (folder / "logs.log").read_text()


def test_a_killed_run_leaves_no_half_written_file(run):
    """SIGKILL a training process while it rewrites its files; each file left must be whole."""
    # Best-checkpoint saving rewrites the checkpoint and charts at every improving evaluation.
    cfg = run.settings("training.epochs=200", "training.batch_size=4",
                       "training.save_best_checkpoint=true")  # fmt: skip
    from lookalike.config import save_config

    save_config(cfg, run.root / "long.yaml")
    folder = Path(cfg.output_directory) / cfg.experiment_name
    for kill_after in (0.0, 0.7, 1.9):  # seconds after the first checkpoint appeared
        shutil.rmtree(folder, ignore_errors=True)
        process = subprocess.Popen(
            [sys.executable, "-m", "lookalike.cli", "train", "-c", str(run.root / "long.yaml"),
             "--overwrite"],
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_for(lambda: (folder / "checkpoint.safetensors").exists(), process)
            time.sleep(kill_after)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
        json.loads((folder / "charts.json").read_text())
        assert load_file(str(folder / "checkpoint.safetensors"))
        assert "experiment_name" in (folder / "cfg.yaml").read_text()
        # Killed: no chance to record the end, so the summary still says "running".
        assert json.loads((folder / "summary.json").read_text())["status"] == "running"


def wait_for(condition, process: subprocess.Popen, limit: float = 300.0) -> None:
    """Poll until condition() holds; fail if the process ends first or the limit passes."""
    deadline = time.monotonic() + limit
    while not condition():
        assert process.poll() is None, "the training process ended early"
        assert time.monotonic() < deadline, "the training process never got there"
        time.sleep(0.05)


def test_the_log_file_has_the_traceback_of_a_failure(run, monkeypatch):
    import logging

    logging.getLogger("lookalike").setLevel(logging.WARNING)  # as a quiet library caller might

    def broken(*args, **kwargs):
        raise ValueError("inner problem")

    monkeypatch.setattr("lookalike.experiments.run.train", broken)
    with pytest.raises(ValueError):
        run()
    log = (run.root / "output" / f"run{run.count}" / "logs.log").read_text()
    assert "Seed: 7" in log and "Traceback" in log and "inner problem" in log


def test_a_stopped_run_records_that_it_was_interrupted(run):
    """SIGTERM (how a queue or a UI stops a run) ends it with a failed summary and exit 130."""
    cfg = run.settings("training.epochs=200", "training.batch_size=4",
                       "training.save_best_checkpoint=true")  # fmt: skip
    from lookalike.config import save_config

    save_config(cfg, run.root / "long.yaml")
    folder = Path(cfg.output_directory) / cfg.experiment_name
    process = subprocess.Popen(
        [sys.executable, "-m", "lookalike.cli", "train", "-c", str(run.root / "long.yaml")],
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for(lambda: (folder / "checkpoint.safetensors").exists(), process)
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130
    assert "Traceback" not in stderr
    s = summary(folder)
    assert s["status"] == "failed" and s["error"] == "interrupted"
