"""Tests for the embedding model builder on tiny timm backbones (no network, no downloads)."""

import os

# Before anything imports huggingface_hub: these tests must never reach the network.
os.environ["HF_HUB_OFFLINE"] = "1"

import fractions
from pathlib import Path

import huggingface_hub
import pytest
import safetensors.torch
import timm
import torch
from torch import nn

from lookalike.model import pretrained as pretrained_module
from lookalike.model.net import (
    EmbeddingModel,
    PretrainedWeightsUnavailable,
    build_model,
)

# test_vit has a fixed 160 px patch grid; the CNNs take any size.
SIZES = {"test_resnet": 48, "test_efficientnet": 48, "test_vit": 160}


@pytest.fixture(autouse=True)
def _offline_and_empty_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Offline, with an empty Hugging Face cache and no hub probe that could hit the network."""
    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))

    def no_network(repo_id: str) -> str:
        raise AssertionError(f"tests must not probe the hub ({repo_id})")

    monkeypatch.setattr(pretrained_module, "_probe_hub", no_network)
    return cache


def make(backbone: str = "test_resnet", **overrides) -> EmbeddingModel:
    kwargs = {
        "pretrained": False,
        "pretrained_weights": None,
        "pool": "GeM",
        "dropout": 0.2,
        "embedding_size": 24,
        "in_chans": 3,
    }
    kwargs.update(overrides)
    return build_model(backbone, **kwargs)


def images(backbone: str, batch: int = 2, chans: int = 3) -> torch.Tensor:
    torch.manual_seed(0)
    return torch.randn(batch, chans, SIZES[backbone], SIZES[backbone])


@pytest.mark.parametrize("backbone", sorted(SIZES))
def test_output_shape_and_unit_norm_embeddings(backbone: str) -> None:
    model = make(backbone)
    x = images(backbone, batch=3)
    out = model(x)
    assert out.shape == (3, 24)
    model.eval()
    with torch.no_grad():
        emb = model.embed(x)
    assert emb.shape == (3, 24)
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(3))
    out.sum().backward()  # training path is differentiable end to end


@pytest.mark.parametrize("backbone", ["test_resnet", "test_efficientnet"])
@pytest.mark.parametrize("pool", ["Average", "CatAverageMax", "GeM", "Max", "MeanAverageMax"])
def test_cnn_uses_the_configured_pool(backbone: str, pool: str) -> None:
    model = make(backbone, pool=pool)
    assert model.feature_format == "NCHW"
    assert model.pool_name == pool
    width = model.backbone.num_features * (2 if pool == "CatAverageMax" else 1)
    assert model.neck[0].in_features == width
    assert model.features(images(backbone)).shape == (2, width)


def test_backbone_has_no_classifier_nor_pooling() -> None:
    model = make("test_resnet")
    feats = model.backbone.forward_features(images("test_resnet"))
    assert feats.ndim == 4 and feats.shape[1] == model.backbone.num_features
    assert model.backbone.get_classifier().__class__ is nn.Identity


def test_vit_pools_with_its_own_head_and_ignores_pool() -> None:
    model = make("test_vit", pool="CatAverageMax")
    assert model.feature_format == "pooled"
    assert model.pool_name is None and isinstance(model.pool, nn.Identity)
    x = images("test_vit")
    backbone = model.backbone
    expected = backbone.forward_head(backbone.forward_features(x), pre_logits=True)
    torch.testing.assert_close(model.features(x), expected)
    assert model.neck[0].in_features == backbone.num_features


def test_neck_is_linear_then_batchnorm_and_parts_are_addressable() -> None:
    model = make("test_resnet", embedding_size=16)
    assert isinstance(model.neck[0], nn.Linear) and isinstance(model.neck[1], nn.BatchNorm1d)
    assert model.neck[0].out_features == 16
    names = {name.split(".")[0] for name, _ in model.named_parameters()}
    assert names == {"backbone", "pool", "neck"}  # GeM's p lives in pool


@pytest.mark.parametrize("backbone", sorted(SIZES))
@pytest.mark.parametrize("chans", [1, 5])
def test_in_chans_adapts_first_conv(backbone: str, chans: int) -> None:
    model = make(backbone, in_chans=chans)
    first_conv = model.backbone.pretrained_cfg["first_conv"]
    assert model.backbone.get_submodule(first_conv).in_channels == chans
    assert model(images(backbone, chans=chans)).shape == (2, 24)


def test_dropout_is_present_and_only_active_in_train_mode() -> None:
    model = make("test_resnet", dropout=0.5)
    assert isinstance(model.dropout, nn.Dropout) and model.dropout.p == 0.5
    feats = torch.ones(4, 100)
    model.train()
    assert (model.dropout(feats) == 0).any()
    model.eval()
    torch.testing.assert_close(model.dropout(feats), feats)
    x = images("test_resnet", batch=4)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(x))


def random_backbone_state(backbone: str) -> dict[str, torch.Tensor]:
    torch.manual_seed(123)
    source = timm.create_model(backbone, pretrained=False)  # with classifier, like real weights
    return {k: v.contiguous() for k, v in source.state_dict().items()}


def assert_backbone_equals(model: EmbeddingModel, state: dict[str, torch.Tensor]) -> None:
    loaded = model.backbone.state_dict()
    assert loaded.keys() <= state.keys()
    for key, value in loaded.items():
        torch.testing.assert_close(value, state[key], msg=key)


@pytest.mark.parametrize("backbone", sorted(SIZES))
def test_pretrained_from_local_safetensors(backbone: str, tmp_path: Path) -> None:
    state = random_backbone_state(backbone)
    path = tmp_path / "weights.safetensors"
    safetensors.torch.save_file(state, str(path))
    model = make(backbone, pretrained=True, pretrained_weights=str(path))
    assert_backbone_equals(model, state)


def test_pretrained_from_local_pth(tmp_path: Path) -> None:
    state = random_backbone_state("test_resnet")
    path = tmp_path / "weights.pth"
    torch.save(state, path)
    model = make("test_resnet", pretrained=True, pretrained_weights=str(path))
    assert_backbone_equals(model, state)


def test_pretrained_file_is_adapted_to_one_channel(tmp_path: Path) -> None:
    state = random_backbone_state("test_resnet")
    path = tmp_path / "weights.safetensors"
    safetensors.torch.save_file(state, str(path))
    model = make("test_resnet", pretrained=True, pretrained_weights=str(path), in_chans=1)
    # timm's adapt_input_conv sums the RGB filters for a single channel.
    torch.testing.assert_close(
        model.backbone.conv1[0].weight, state["conv1.0.weight"].sum(dim=1, keepdim=True)
    )


def test_pth_is_loaded_without_arbitrary_unpickling(tmp_path: Path) -> None:
    path = tmp_path / "weights.pth"
    torch.save(
        {"state_dict": random_backbone_state("test_resnet"), "x": fractions.Fraction(1, 3)}, path
    )
    with pytest.raises(RuntimeError, match="weights_only"):
        make("test_resnet", pretrained=True, pretrained_weights=str(path))


def test_weights_file_of_another_model_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "embedding_model.safetensors"
    wrapped = {f"backbone.{k}": v for k, v in random_backbone_state("test_resnet").items()}
    safetensors.torch.save_file(wrapped, str(path))
    with pytest.raises(ValueError, match="no tensor of backbone"):
        make("test_resnet", pretrained=True, pretrained_weights=str(path))


def test_missing_weights_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no pretrained weights file at"):
        make("test_resnet", pretrained=True, pretrained_weights=str(tmp_path / "nope.pth"))


def test_pretrained_offline_without_cache_fails_fast() -> None:
    with pytest.raises(PretrainedWeightsUnavailable) as info:
        make("test_resnet", pretrained=True)
    message = str(info.value)
    assert "test_resnet" in message
    assert "pretrained_weights" in message and "pretrained: false" in message
    assert isinstance(info.value, RuntimeError)


def test_pretrained_with_unreachable_hub_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(
        pretrained_module, "_probe_hub", lambda repo_id: "ConnectTimeout: timed out"
    )
    with pytest.raises(PretrainedWeightsUnavailable, match=r"ConnectTimeout.*pretrained_weights"):
        make("test_resnet", pretrained=True)


def test_download_errors_from_timm_are_wrapped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(pretrained_module, "_probe_hub", lambda repo_id: None)
    real_create = timm.create_model

    def create(name: str, pretrained: bool = False, **kwargs):
        if pretrained:
            raise huggingface_hub.errors.LocalEntryNotFoundError("connection reset by peer")
        return real_create(name, pretrained=pretrained, **kwargs)

    monkeypatch.setattr(timm, "create_model", create)
    with pytest.raises(PretrainedWeightsUnavailable, match="connection reset by peer"):
        make("test_resnet", pretrained=True)


def test_pretrained_from_hugging_face_cache(_offline_and_empty_cache: Path) -> None:
    # Lay out the cache the way huggingface_hub does: refs/main -> snapshots/<commit>/<file>.
    repo = _offline_and_empty_cache / "models--timm--test_resnet.r160_in1k"
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    state = random_backbone_state("test_resnet")
    safetensors.torch.save_file(state, str(snapshot / "model.safetensors"))
    model = make("test_resnet", pretrained=True)
    assert_backbone_equals(model, state)


def test_unknown_backbone_suggests_close_names() -> None:
    with pytest.raises(ValueError, match=r"resnt50.*resnet50"):
        make("resnt50")


def test_unknown_pretrained_tag_lists_known_tags() -> None:
    with pytest.raises(ValueError, match=r"test_resnet\.r160_in1k"):
        make("test_resnet.nope")


def test_unknown_pool_is_rejected() -> None:
    with pytest.raises(ValueError, match="CatAverageMax"):
        make("test_resnet", pool="Sum")
