"""Helpers for the data tests: a configuration pointing at a synthetic dataset."""

from __future__ import annotations

from pathlib import Path

import pytest

from lookalike.config.schema import Config


def config_for(csv: Path, **sections: dict) -> Config:
    """A small-image configuration reading `csv` with images in its folder/images."""
    cfg = Config()
    cfg.dataset.train_dataframe = str(csv)
    cfg.dataset.data_folder = str(csv.parent / "images")
    cfg.image.image_height = 24
    cfg.image.image_width = 20
    cfg.training.batch_size = 4
    for section, values in sections.items():
        for name, value in values.items():
            setattr(getattr(cfg, section), name, value)
    return cfg


@pytest.fixture
def make_config():
    return config_for
