"""The demo dataset: real digit images, test classes never in training; the chance level."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd

from lookalike.demo import build_digits_dataset, chance_level


def test_demo_dataset_keeps_test_classes_out_of_training(tmp_path):
    train_csv, test_csv = build_digits_dataset(tmp_path, size=16)
    train, test = pd.read_csv(train_csv), pd.read_csv(test_csv)
    assert len(train) + len(test) == 1797
    assert set(train["label"]) == {f"digit_{d}" for d in range(7)}
    assert set(test["label"]) == {"digit_7", "digit_8", "digit_9"}
    image = cv2.imread(str(tmp_path / "images" / train["image"][0]), cv2.IMREAD_UNCHANGED)
    assert image.shape == (16, 16) and image.max() > 100


def test_chance_level_is_the_map_of_a_random_ranking():
    # Two equal classes of 100: a random top-10 holds ~half relevant images, and AP@10 of a
    # random ranking averages (p/10) * sum_i (1 + (i-1)p)/i with p = 99/199.
    labels = np.array(["a"] * 100 + ["b"] * 100, dtype=object)
    p = 99 / 199
    expected = p / 10 * sum((1 + (i - 1) * p) / i for i in range(1, 11))
    assert abs(chance_level(labels, k=10) - expected) < 0.03
