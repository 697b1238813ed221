"""Run real (tiny) experiments: a test_resnet backbone on 32×32 synthetic images, on the CPU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lookalike.config import load_config
from lookalike.experiments.run import prepare, run_experiment

TINY = [
    "architecture.backbone=test_resnet",
    "architecture.pretrained=false",
    "architecture.embedding_size=16",
    "image.image_width=32",
    "image.image_height=32",
    "training.batch_size=8",
    "training.epochs=1",
    "training.learning_rate=0.003",
    "environment.gpus=[]",
    "environment.number_of_workers=0",
    "environment.mixed_precision_training=false",
    "environment.seed=7",
    "prediction.top_k_similar=5",
]


class Runner:
    """Builds settings for the tiny dataset and runs them, returning the experiment folder."""

    def __init__(self, root: Path, train_csv: Path):
        self.root, self.train_csv = root, train_csv
        self.count = 0

    def settings(self, *overrides: str):
        self.count += 1
        return load_config(
            None,
            [
                f"dataset.train_dataframe={self.train_csv}",
                f"dataset.data_folder={self.train_csv.parent / 'images'}",
                f"output_directory={self.root / 'output'}",
                f"experiment_name=run{self.count}",
                *TINY,
                *overrides,
            ],
        )

    def __call__(self, *overrides: str) -> Path:
        return run_experiment(prepare(self.settings(*overrides)))


@pytest.fixture
def run(tmp_path: Path) -> Runner:
    from tests.conftest import make_image_dataset

    return Runner(tmp_path, make_image_dataset(tmp_path / "data", n_classes=4, per_class=6))


def summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


def charts(folder: Path) -> dict:
    return json.loads((folder / "charts.json").read_text())
