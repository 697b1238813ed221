"""The command line: dry runs, and bad input that gets a clear message, exit 2, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import safetensors.torch
import timm
import yaml
from tests.conftest import make_image_dataset
from typer.testing import CliRunner

from lookalike.cli import app

EXPORTED = Path(__file__).parents[1] / "unit" / "config" / "hydrogen_torch_export.yaml"


@pytest.fixture
def exported(tmp_path) -> Path:
    """The exported Hydrogen Torch file, its paths pointed at a small dataset."""
    extensions = (".png", ".jpg", ".bmp", ".tif", ".webp")
    train_csv = make_image_dataset(tmp_path, n_classes=4, per_class=6, extensions=extensions)
    data = yaml.safe_load(EXPORTED.read_text())
    data["dataset"]["train_dataframe"] = str(train_csv)
    data["dataset"]["data_folder"] = str(tmp_path / "images")
    data["dataset"]["group_fold_column"] = "label"
    data["output_directory"] = str(tmp_path / "output")
    path = tmp_path / "exported.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def invoke(*args: str):
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def test_dry_run_of_the_exported_hydrogen_torch_file(exported, tmp_path):
    # Offline, the backbone's pretrained weights come from a local file, as a user would set.
    weights = tmp_path / "tf_efficientnet_b0.safetensors"
    safetensors.torch.save_file(timm.create_model("tf_efficientnet_b0").state_dict(), weights)
    result = invoke("train", "-c", str(exported), f"architecture.pretrained_weights={weights}",
                    "--dry-run")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "old name for tf_efficientnet_b0.ns_jft_in1k" in result.output
    assert "backbone: tf_efficientnet_b0_ns" in result.output
    assert "n_train: 19" in result.output and "n_validation: 5" in result.output
    assert "nothing was trained" in result.output
    assert not (tmp_path / "output").exists()


def test_the_installed_command_exits_2_without_a_traceback(exported, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "lookalike.cli", "train", "-c", str(exported),
         "training.arcface_margn=0.2"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert "did you mean `training.arcface_margin`" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def corrupt_first_image(cfg_path: Path) -> None:
    cfg = yaml.safe_load(cfg_path.read_text())
    frame = pd.read_csv(cfg["dataset"]["train_dataframe"])
    (Path(cfg["dataset"]["data_folder"]) / frame["image"][0]).write_bytes(b"not an image")


def delete_images(cfg_path: Path, n: int) -> None:
    cfg = yaml.safe_load(cfg_path.read_text())
    frame = pd.read_csv(cfg["dataset"]["train_dataframe"])
    for name in frame["image"][:n]:
        (Path(cfg["dataset"]["data_folder"]) / name).unlink()


def edit_frame(cfg_path: Path, change) -> None:
    cfg = yaml.safe_load(cfg_path.read_text())
    frame = pd.read_csv(cfg["dataset"]["train_dataframe"])
    change(frame).to_csv(cfg["dataset"]["train_dataframe"], index=False)


def singleton_labels(frame: pd.DataFrame) -> pd.DataFrame:
    frame["label"] = [f"unique_{i}" for i in range(len(frame))]
    return frame


def empty_labels(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[[2, 5], "label"] = ""
    return frame


def one_image_test_frame(cfg_path: Path) -> None:
    cfg = yaml.safe_load(cfg_path.read_text())
    test_csv = Path(cfg["dataset"]["train_dataframe"]).with_name("one.csv")
    pd.read_csv(cfg["dataset"]["train_dataframe"]).head(1).to_csv(test_csv, index=False)
    cfg["dataset"]["test_dataframe"] = str(test_csv)
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))


CASES = {
    "unknown key": (["training.arcface_margn=0.2"], None, "did you mean `training.arcface_margin`"),
    "bad value": (["architecture.pool=Median"], None, "'Median' is not valid"),
    "unknown backbone": (["architecture.backbone=resnt18"], None, "did you mean resnet18"),
    "missing column": (["dataset.label_columns=sku"], None, "columns are"),
    "missing images": ([], lambda p: delete_images(p, 3), "3 of 24 image files"),
    "corrupt image": ([], corrupt_first_image, "cannot be decoded"),
    "empty labels": ([], lambda p: edit_frame(p, empty_labels), "2 of 24 rows are empty"),
    "no possible match": (["dataset.group_fold_column=image"],
                          lambda p: edit_frame(p, singleton_labels), "none of the 5 validation"),
    "validation frame without custom holdout": (["dataset.validation_dataframe=val.csv"], None,
                                                "custom_holdout_validation"),
    "folds out of range": (["dataset.validation_strategy=grouped_kfold", "dataset.folds=[9]"],
                           None, "out of range"),
    "bad override": (["training.epochs"], None, "section.key=value"),
    "image size a ViT cannot take": (["architecture.backbone=test_vit", "image.image_width=100",
                                      "image.image_height=100"], None, "divisible by patch size"),
    "negative GPU id": (["environment.gpus=[-1]"], None, "environment.gpus"),
    "one-image test frame": ([], lambda p: one_image_test_frame(p), "fewer than 2 images"),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_bad_input_gets_a_clear_message_and_writes_nothing(exported, tmp_path, case):
    overrides, damage, words = CASES[case]
    if damage:
        damage(exported)
    result = invoke("train", "-c", str(exported), "architecture.pretrained=false", *overrides)
    assert result.exit_code == 2, result.output
    assert words in result.output, result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "output").exists()


def test_test_images_in_the_wrong_folder_are_pointed_out(exported, tmp_path):
    images = tmp_path / "images"
    test_csv = tmp_path / "test.csv"
    pd.DataFrame({"image": ["test_a.png"], "label": ["x"]}).to_csv(test_csv, index=False)
    cv2.imwrite(str(images / "test_a.png"), np.zeros((8, 8, 3), np.uint8))
    result = invoke("train", "-c", str(exported), "architecture.pretrained=false",
                    f"dataset.test_dataframe={test_csv}",
                    f"dataset.data_folder_test={tmp_path / 'elsewhere'}")  # fmt: skip
    assert result.exit_code == 2
    assert "data_folder_test" in result.output


def test_pretrained_weights_nowhere_fail_fast_with_what_to_do(exported, tmp_path):
    result = invoke("train", "-c", str(exported), "architecture.backbone=test_resnet",
                    "image.image_width=32", "image.image_height=32", "environment.gpus=[]",
                    "architecture.pretrained=true", "environment.number_of_workers=0")  # fmt: skip
    assert result.exit_code == 2
    assert "architecture.pretrained" in result.output and "Traceback" not in result.output
    assert "set `architecture.pretrained_weights` to a local" in result.output.lower()
    assert not (tmp_path / "output").exists()


def test_an_existing_experiment_folder_needs_overwrite(exported, tmp_path):
    args = ["train", "-c", str(exported), "architecture.backbone=test_resnet",
            "architecture.pretrained=false", "image.image_width=32", "image.image_height=32",
            "training.epochs=1", "training.batch_size=4", "environment.gpus=[]",
            "environment.number_of_workers=0", "prediction.top_k_similar=3"]  # fmt: skip
    assert invoke(*args).exit_code == 0
    again = invoke(*args)
    assert again.exit_code == 2 and "--overwrite" in again.output
    assert invoke(*args, "--overwrite").exit_code == 0
    stranger = tmp_path / "output" / "not_an_experiment"
    stranger.mkdir()
    (stranger / "precious.txt").write_text("keep me")
    refused = invoke(*args, "experiment_name=not_an_experiment", "--overwrite")
    assert refused.exit_code == 2 and "not an experiment folder" in refused.output
    assert (stranger / "precious.txt").read_text() == "keep me"
