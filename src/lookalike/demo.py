"""`make demo`: build a small real image dataset, train on it, print validation and test mAP.

The images are scikit-learn's bundled handwritten digits (1,797 scans of 8×8 pixels, no download),
written as PNG files. Training sees digits 0–6; the test set holds only 7, 8 and 9, so the test mAP
measures retrieval of classes the model has never seen.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from sklearn.datasets import load_digits

from lookalike.config import load_config
from lookalike.retrieval import count_relevant, retrieval_metrics, top_k_neighbors

DEMO_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "demo.yaml"
TRAIN_DIGITS = range(7)  # 7, 8 and 9 are kept for the test set: classes never trained on


def build_digits_dataset(root: Path, size: int = 32) -> tuple[Path, Path]:
    """Write root/images/*.png, root/train.csv and root/test.csv (columns image, label)."""
    digits = load_digits()
    folder = root / "images"
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (pixels, label) in enumerate(zip(digits.images, digits.target, strict=True)):
        image = (pixels * (255.0 / 16.0)).astype(np.uint8)
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_CUBIC)
        name = f"digit_{i:04d}.png"
        cv2.imwrite(str(folder / name), image)
        rows.append({"image": name, "label": f"digit_{label}"})
    frame = pd.DataFrame(rows)
    trained = frame["label"].isin([f"digit_{d}" for d in TRAIN_DIGITS])
    train_csv, test_csv = root / "train.csv", root / "test.csv"
    frame[trained].to_csv(train_csv, index=False)
    frame[~trained].to_csv(test_csv, index=False)
    return train_csv, test_csv


def chance_level(labels: np.ndarray, k: int, seed: int = 0) -> float:
    """mAP@K of a random ranking: random unit embeddings scored by the same metric code."""
    rng = np.random.default_rng(seed)
    embeddings = rng.normal(size=(len(labels), 64)).astype(np.float32)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    indices, _ = top_k_neighbors(embeddings, k)
    return retrieval_metrics(labels, labels[indices], count_relevant(labels), k).map_at_k


def main() -> int:
    from lookalike.cli import app

    root = Path("demo_data")
    if not (root / "test.csv").exists():
        build_digits_dataset(root)
        print(f"Built the demo dataset in {root}/ (train: digits 0-6, test: digits 7-9).")
    try:
        code = app(["train", "-c", str(DEMO_CONFIG), "--overwrite"], standalone_mode=False)
    except SystemExit as stop:
        code = stop.code
    if code:
        return int(code)
    cfg = load_config(DEMO_CONFIG)
    folder = Path(cfg.output_directory) / cfg.experiment_name
    summary = json.loads((folder / "summary.json").read_text())
    metrics = summary["metrics"]
    test_labels = pd.read_csv(root / "test.csv")["label"].to_numpy(dtype=object)
    chance = chance_level(test_labels, cfg.prediction.top_k_similar)
    print()
    print(f"Validation mAP@K (digits 0-6, k-fold): {metrics['validation']['mAP']:.3f}")
    print(
        f"Test mAP@K on never-seen digits 7-9:  {metrics['test']['mAP']:.3f}"
        f"  (a random ranking scores {chance:.3f})"
    )
    print(f"Experiment folder: {folder.resolve()}")
    return 0 if summary["status"] == "finished" else 1


if __name__ == "__main__":
    sys.exit(main())
