"""Each training setting has its effect on a real (tiny) run; each test fails if it is ignored."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from safetensors import safe_open
from tests.integration.conftest import charts, summary


def test_batch_size_and_drop_last_batch_set_the_number_of_steps(run):
    n_train = summary(run())["n_train"]
    assert summary(run("training.batch_size=4"))["run"]["step"] == n_train // 4
    kept = summary(run("training.batch_size=8", "training.drop_last_batch=false"))["run"]
    dropped = summary(run("training.batch_size=8", "training.drop_last_batch=true"))["run"]
    assert kept["step"] == math.ceil(n_train / 8)
    assert dropped["step"] == n_train // 8
    assert kept["samples_seen"] == n_train
    assert dropped["samples_seen"] == (n_train // 8) * 8


def test_epochs_and_grad_accumulation(run):
    one = summary(run("training.epochs=1", "training.batch_size=4"))["run"]
    two = summary(run("training.epochs=2", "training.batch_size=4"))["run"]
    assert two["step"] == 2 * one["step"] and two["epoch"] == 2
    accumulated = summary(
        run("training.epochs=1", "training.batch_size=4", "training.grad_accumulation=2")
    )["run"]
    assert accumulated["step"] == math.ceil(one["step"] / 2)
    assert accumulated["samples_seen"] == one["samples_seen"]


def test_learning_rate_schedule_and_warmup_follow_the_settings(run):
    folder = run("training.epochs=2", "training.batch_size=4", "training.schedule=Linear",
                 "training.warmup_epochs=1", "training.learning_rate=0.01")  # fmt: skip
    lrs = charts(folder)["train"]["lr"]
    steps = len(lrs) // 2
    assert lrs[0] == pytest.approx(0.0)  # warmup starts from zero
    assert lrs[:steps] == sorted(lrs[:steps])  # rises during the warmup epoch
    assert max(lrs) == pytest.approx(0.01, rel=0.3)
    assert lrs[steps:] == sorted(lrs[steps:], reverse=True)  # then falls linearly
    constant = charts(run("training.schedule=Constant", "training.learning_rate=0.01"))
    assert set(constant["train"]["lr"]) == {0.01}


def test_differential_learning_rate_reaches_its_parts(run, monkeypatch):
    import lookalike.train.loop as loop

    seen = {}
    original = loop.build_optimizer

    def spy(parts, t):
        optimizer = original(parts, t)
        seen.update({g["name"]: g["initial_lr"] for g in optimizer.param_groups})
        return optimizer

    monkeypatch.setattr(loop, "build_optimizer", spy)
    run("training.differential_learning_rate_layers=[Backbone, Loss]",
        "training.differential_learning_rate=0.0001", "training.learning_rate=0.01")  # fmt: skip
    assert seen == {"Backbone": 0.0001, "Neck": 0.01, "Loss": 0.0001}


@pytest.mark.parametrize("name", ["AdamW", "Adam", "SGD", "RMSprop", "Adadelta"])
def test_each_optimizer_trains(run, monkeypatch, name):
    import lookalike.train.loop as loop

    used = []
    original = loop.build_optimizer
    monkeypatch.setattr(
        loop, "build_optimizer", lambda parts, t: used.append(original(parts, t)) or used[-1]
    )
    folder = run(f"training.optimizer={name}", "training.weight_decay=0.01")
    assert type(used[0]).__name__ == name
    assert all(g["weight_decay"] == 0.01 for g in used[0].param_groups)
    assert summary(folder)["status"] == "finished"


def test_weight_decay_shrinks_weights(run):
    def neck_norm(folder):
        with safe_open(str(folder / "checkpoint.safetensors"), "pt") as f:
            return float(f.get_tensor("model.neck.0.weight").norm())

    plain = neck_norm(run("training.optimizer=SGD", "training.epochs=3"))
    decayed = neck_norm(run("training.optimizer=SGD", "training.epochs=3",
                            "training.weight_decay=5.0"))  # fmt: skip
    assert decayed < plain


def test_gradient_clip_bounds_the_logged_gradient_norm(run):
    folder = run("training.gradient_clip=0.01", "logging.log_grad_norm=true",
                 "training.batch_size=4")  # fmt: skip
    train = charts(folder)["train"]
    steps = [i for i, v in enumerate(train["grad_norm"]) if v is not None]
    assert steps, "grad norms are logged"
    assert all(train["grad_norm_clipped"][i] <= 0.01 * 1.001 for i in steps)
    assert any(train["grad_norm"][i] > 0.01 for i in steps)


def test_evaluation_epochs_and_evaluate_before_training(run):
    every = charts(run("training.epochs=4", "training.evaluation_epochs=1"))["validation"]
    assert every["epoch"] == [1, 2, 3, 4]
    sparse = charts(run("training.epochs=4", "training.evaluation_epochs=2"))["validation"]
    assert sparse["epoch"] == [2, 4]
    half = charts(run("training.epochs=1", "training.evaluation_epochs=0.5",
                      "training.batch_size=4"))["validation"]  # fmt: skip
    assert half["epoch"] == [0.5, 1]
    before = charts(run("training.evaluate_before_training=true"))["validation"]
    assert before["samples"][0] == 0 and before["epoch"] == [0, 1]


def test_save_best_checkpoint_keeps_the_best_epoch(run, monkeypatch):
    import lookalike.experiments.evaluate as evaluate

    real = evaluate.retrieve
    scores = iter([0.9, 0.1, 0.2, 0.5])  # the first evaluation is the best

    def scripted(embeddings, labels, k):
        result = real(embeddings, labels, k)
        result.metrics = type(result.metrics)(next(scores), 0.5, result.metrics.n_queries, 0)
        return result

    monkeypatch.setattr("lookalike.experiments.evaluate.retrieve", scripted)
    best = run("training.epochs=3", "training.save_best_checkpoint=true")
    with safe_open(str(best / "checkpoint.safetensors"), "pt") as f:
        assert json.loads(f.metadata()["epoch"]) == 1.0
    assert summary(best)["metrics"]["validation"]["mAP"] == pytest.approx(0.9)
    # The files written come from the saved (best) weights, not from the last epoch's.
    from tests.integration.test_experiment_outputs import embed_with_checkpoint

    np.testing.assert_allclose(embed_with_checkpoint(best, "validation"),
                               np.load(best / "validation_embeddings.npy"), atol=1e-5)  # fmt: skip

    scores = iter([0.9, 0.1, 0.2])
    last = run("training.epochs=3", "training.save_best_checkpoint=false")
    with safe_open(str(last / "checkpoint.safetensors"), "pt") as f:
        assert json.loads(f.metadata()["epoch"]) == 3.0


def test_calculate_train_metric_and_train_validation_data(run):
    plain = summary(run())
    assert "train" not in plain["metrics"]
    with_train = summary(run("training.calculate_train_metric=true"))
    assert 0 <= with_train["metrics"]["train"]["mAP"] <= 1
    both = summary(run("training.train_validation_data=true", "training.drop_last_batch=false"))
    assert both["run"]["samples_seen"] == plain["n_train"] + plain["n_validation"]
    assert both["n_train"] == plain["n_train"] + plain["n_validation"]


def test_seed_minus_one_draws_a_seed_that_is_saved_and_a_fixed_seed_repeats(run):
    drawn = summary(run("environment.seed=-1"))["seed"]
    assert isinstance(drawn, int) and drawn >= 0
    first = np.load(run("environment.seed=3") / "validation_embeddings.npy")
    second = np.load(run("environment.seed=3") / "validation_embeddings.npy")
    other = np.load(run("environment.seed=4") / "validation_embeddings.npy")
    np.testing.assert_array_equal(first, second)
    assert first.shape != other.shape or not np.array_equal(first, other)


def test_number_of_workers_loads_in_worker_processes(run, monkeypatch):
    import lookalike.train.loop as loop

    workers = []
    original = loop.make_loader

    def spy(dataset, **kw):
        workers.append(kw["workers"])
        return original(dataset, **kw)

    monkeypatch.setattr(loop, "make_loader", spy)
    assert summary(run("environment.number_of_workers=2"))["status"] == "finished"
    assert workers == [2]


def test_automatically_adjust_batch_size_halves_on_out_of_memory(run, monkeypatch):
    from lookalike.model.net import EmbeddingModel

    forward = EmbeddingModel.forward

    def limited(self, x):
        if self.training and len(x) > 2:
            raise torch.OutOfMemoryError("simulated: CUDA out of memory")
        return forward(self, x)

    monkeypatch.setattr(EmbeddingModel, "forward", limited)
    folder = run("training.batch_size=8", "training.automatically_adjust_batch_size=true")
    state = summary(folder)["run"]
    assert state["batch_size"] == 2
    assert len(state["batch_size_halvings"]) == 2
    assert "Out of memory with batch size 8" in (folder / "logs.log").read_text()
    samples = charts(folder)["train"]["samples"]
    assert samples == sorted(set(samples)), "the redone epoch replaced the aborted one's points"
    assert state["samples_seen"] == samples[-1]

    with pytest.raises(torch.OutOfMemoryError, match="automatically_adjust_batch_size"):
        run("training.batch_size=8", "training.automatically_adjust_batch_size=false")


def test_mixed_precision_training_and_inference_use_bf16_autocast(run, monkeypatch):
    import lookalike.runtime as runtime

    monkeypatch.setattr(runtime, "cpu_supports_bf16", lambda: True)
    dtypes = []
    from lookalike.model.net import EmbeddingModel

    forward = EmbeddingModel.forward

    def record(self, x):
        out = forward(self, x)
        dtypes.append((self.training, out.dtype))
        return out

    monkeypatch.setattr(EmbeddingModel, "forward", record)
    run("environment.mixed_precision_training=true", "environment.mixed_precision_inference=false")
    assert (True, torch.bfloat16) in dtypes and (False, torch.bfloat16) not in dtypes
    dtypes.clear()
    run("environment.mixed_precision_training=false", "environment.mixed_precision_inference=true")
    assert (False, torch.bfloat16) in dtypes and (True, torch.bfloat16) not in dtypes


def test_architecture_settings_reach_the_saved_model(run):
    from safetensors.torch import load_file

    folder = run("architecture.embedding_size=24", "architecture.pool=CatAverageMax",
                 "architecture.dropout=0.3")  # fmt: skip
    tensors = load_file(str(folder / "checkpoint.safetensors"))
    backbone_width = tensors["model.neck.0.weight"].shape[1] // 2  # CatAverageMax doubles it
    assert tensors["model.neck.0.weight"].shape == (24, 2 * backbone_width)
    assert tensors["arcface.weight"].shape[1] == 24
    assert np.load(folder / "validation_embeddings.npy").shape[1] == 24
    gem = load_file(str(run("architecture.pool=GeM") / "checkpoint.safetensors"))
    assert "model.pool.p" in gem


def test_arcface_margin_and_scale_reach_the_head():
    from lookalike.config import load_config
    from lookalike.model.configured import arcface_head

    cfg = load_config(None, ["training.arcface_margin=0.3", "training.arcface_scale=12",
                             "architecture.embedding_size=8"])  # fmt: skip
    head = arcface_head(cfg, n_classes=5)
    embeddings, labels = torch.randn(4, 8), torch.tensor([0, 1, 2, 3])
    cos = head.cosine(embeddings)
    logits = head(embeddings, labels)
    other = ~torch.nn.functional.one_hot(labels, 5).bool()
    torch.testing.assert_close(logits[other], 12 * cos[other])
    target = torch.cos(torch.acos(cos[~other].clamp(-1, 1)) + 0.3) * 12
    torch.testing.assert_close(logits[~other], target, atol=1e-4, rtol=1e-4)


def test_test_time_augmentations_and_normalization_change_the_embeddings(run):
    plain = np.load(run() / "validation_embeddings.npy")
    flipped = np.load(run("prediction.test_time_augmentations=[horizontal_flip, vertical_flip]")
                      / "validation_embeddings.npy")  # fmt: skip
    imagenet = np.load(run("image.image_normalization=ImageNet") / "validation_embeddings.npy")
    assert plain.shape == flipped.shape == imagenet.shape
    assert not np.allclose(plain, flipped, atol=1e-4)
    assert not np.allclose(plain, imagenet, atol=1e-4)
