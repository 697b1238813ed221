"""Tests for the ArcFace head against a hand-written reference."""

import math

import pytest
import torch
import torch.nn.functional as F

from lookalike.model.arcface import ArcFaceHead


def reference_logits(
    emb: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor, m: float, s: float
) -> torch.Tensor:
    """Straight from the definition: θ = arccos(cos), add m on the target, take cos, times s."""
    cos = F.normalize(emb.double(), dim=1) @ F.normalize(weight.double(), dim=1).T
    theta = torch.arccos(cos.clamp(-1.0, 1.0))
    target = F.one_hot(labels, weight.shape[0]).bool()
    return s * torch.where(target, torch.cos(theta + m), cos)


def make_head(m: float = 0.5, s: float = 30.0, n_classes: int = 7, dim: int = 16) -> ArcFaceHead:
    torch.manual_seed(0)
    return ArcFaceHead(embedding_size=dim, n_classes=n_classes, margin=m, scale=s)


def test_logits_match_reference_when_theta_plus_m_below_pi() -> None:
    head = make_head()
    emb = torch.randn(32, 16)
    labels = torch.randint(0, 7, (32,))
    cos = head.cosine(emb).detach()
    theta_target = torch.arccos(cos.gather(1, labels[:, None]))
    assert (theta_target + head.margin < math.pi).all()  # random 16-d vectors: θ near π/2
    logits = head(emb, labels)
    ref = reference_logits(emb, head.weight.detach(), labels, 0.5, 30.0)
    torch.testing.assert_close(logits.double(), ref, rtol=1e-4, atol=1e-4)


def test_non_target_logits_are_scaled_cosine() -> None:
    head = make_head(s=10.0)
    emb = torch.randn(8, 16)
    labels = torch.arange(8) % 7
    logits = head(emb, labels).detach()
    cos = head.cosine(emb).detach()
    others = ~F.one_hot(labels, 7).bool()
    torch.testing.assert_close(logits[others], 10.0 * cos[others])


def test_fallback_branch_when_theta_plus_m_exceeds_pi() -> None:
    m, s = 0.5, 30.0
    head = make_head(m=m, s=s, n_classes=2, dim=4)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]]))
    # Embeddings at θ = 3.0 rad from centre 0, so θ + m > π; one at θ = 1.0 for contrast.
    thetas = torch.tensor([3.0, 2.9, 1.0])
    emb = torch.stack([torch.cos(thetas), torch.zeros(3), torch.sin(thetas), torch.zeros(3)], 1)
    labels = torch.zeros(3, dtype=torch.long)
    logits = head(emb, labels).detach().double()
    cos = torch.cos(thetas.double())
    fallback = s * (cos - math.sin(math.pi - m) * m)
    torch.testing.assert_close(logits[:2, 0], fallback[:2], rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(
        logits[2, 0], s * torch.cos(thetas[2].double() + m), rtol=1e-5, atol=1e-4
    )
    # The fallback keeps the target logit decreasing in θ, unlike cos(θ + m) past π.
    assert logits[0, 0] < logits[1, 0]


def test_gradient_flows_to_embeddings_and_centres() -> None:
    head = make_head()
    emb = torch.randn(10, 16, requires_grad=True)
    labels = torch.randint(0, 7, (10,))
    loss = head.loss(emb, labels)
    loss.backward()
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert emb.grad is not None and emb.grad.abs().sum() > 0
    assert head.weight.grad is not None and head.weight.grad.abs().sum() > 0


def test_gradient_is_finite_when_embedding_equals_centre() -> None:
    head = make_head()
    emb = head.weight.detach()[:3].clone().requires_grad_(True)  # cos θ = 1: arccos would blow up
    head.loss(emb, torch.arange(3)).backward()
    assert torch.isfinite(emb.grad).all()


def test_loss_is_cross_entropy_of_logits() -> None:
    head = make_head()
    emb = torch.randn(6, 16)
    labels = torch.randint(0, 7, (6,))
    torch.testing.assert_close(head.loss(emb, labels), F.cross_entropy(head(emb, labels), labels))


def test_last_accuracy_is_recorded() -> None:
    head = make_head(n_classes=3, dim=3)
    assert head.last_accuracy is None
    with torch.no_grad():
        head.weight.copy_(torch.eye(3))
    emb = torch.eye(3) + 0.01
    head.loss(emb, torch.tensor([0, 1, 2]))
    assert head.last_accuracy == pytest.approx(1.0)
    head(emb, torch.tensor([1, 1, 0]))
    assert head.last_accuracy == pytest.approx(1 / 3)


def test_logits_are_float32_under_autocast() -> None:
    head = make_head()
    emb = torch.randn(4, 16)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        logits = head(emb.bfloat16(), torch.zeros(4, dtype=torch.long))
    assert logits.dtype == torch.float32


def test_head_is_its_own_module_with_one_parameter() -> None:
    head = make_head(n_classes=5, dim=8)
    params = dict(head.named_parameters())
    assert list(params) == ["weight"]
    assert params["weight"].shape == (5, 8)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"embedding_size": 0, "n_classes": 3, "margin": 0.5, "scale": 30.0},
        {"embedding_size": 4, "n_classes": 3, "margin": -0.1, "scale": 30.0},
        {"embedding_size": 4, "n_classes": 3, "margin": 0.5, "scale": 0.0},
    ],
)
def test_invalid_settings_are_rejected(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        ArcFaceHead(**kwargs)
