"""Tests for the global pooling layers."""

import pytest
import torch

from lookalike.model.pooling import POOLS, GeM, build_pool, pooled_width


@pytest.mark.parametrize("name", POOLS)
def test_output_width_matches_pooled_width(name: str) -> None:
    x = torch.randn(3, 7, 5, 4)
    out = build_pool(name)(x)
    assert out.shape == (3, pooled_width(name, 7))


def test_cat_average_max_doubles_width_and_concatenates() -> None:
    x = torch.randn(2, 6, 3, 3)
    out = build_pool("CatAverageMax")(x)
    assert pooled_width("CatAverageMax", 6) == 12
    torch.testing.assert_close(out[:, :6], x.mean(dim=(2, 3)))
    torch.testing.assert_close(out[:, 6:], x.amax(dim=(2, 3)))


def test_simple_pools_match_their_definition() -> None:
    x = torch.randn(2, 4, 3, 5)
    avg, mx = x.mean(dim=(2, 3)), x.amax(dim=(2, 3))
    torch.testing.assert_close(build_pool("Average")(x), avg)
    torch.testing.assert_close(build_pool("Max")(x), mx)
    torch.testing.assert_close(build_pool("MeanAverageMax")(x), (avg + mx) / 2)


def test_gem_with_p_one_is_average() -> None:
    x = torch.rand(2, 8, 4, 4) + 0.1  # GeM clamps at eps: compare on positive maps
    gem = GeM(p=1.0)
    torch.testing.assert_close(gem(x), x.mean(dim=(2, 3)))


def test_gem_with_large_p_approaches_max() -> None:
    x = torch.rand(2, 8, 4, 4) + 0.1
    out = GeM(p=200.0)(x.double())
    torch.testing.assert_close(out, x.double().amax(dim=(2, 3)), rtol=0.02, atol=0.0)


def test_gem_p_is_learnable_and_starts_at_three() -> None:
    gem = build_pool("GeM")
    assert isinstance(gem, GeM)
    assert [name for name, _ in gem.named_parameters()] == ["p"]
    assert gem.p.item() == pytest.approx(3.0)
    gem(torch.rand(2, 4, 3, 3)).sum().backward()
    assert gem.p.grad is not None and torch.isfinite(gem.p.grad).all()
    assert gem.p.grad.abs().item() > 0


def test_gem_survives_negative_and_zero_inputs() -> None:
    x = torch.zeros(1, 2, 2, 2)
    x[0, 0] = -1.0
    out = GeM()(x)
    assert torch.isfinite(out).all()


def test_gem_computes_in_float32_under_autocast() -> None:
    x = torch.full((1, 2, 2, 2), 100.0, dtype=torch.float16)  # 100 ** 3 overflows float16
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        out = GeM()(x)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, torch.full((1, 2), 100.0), rtol=1e-3, atol=0.0)


def test_unknown_pool_is_rejected_with_choices() -> None:
    with pytest.raises(ValueError, match="GeM"):
        build_pool("gem_pool")
    with pytest.raises(ValueError, match="Average"):
        pooled_width("Mean", 4)


def test_pool_rejects_token_features() -> None:
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        build_pool("Average")(torch.randn(2, 10, 4))
