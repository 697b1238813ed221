"""Global pooling layers that turn a (B, C, H, W) feature map into a (B, C') vector.

The names in :data:`POOLS` are the values of the ``architecture.pool`` setting (the same choices as
Hydrogen Torch). They apply to backbones whose features are a spatial map (CNNs, Swin, ...). Token
backbones (ViT and relatives) pool with their own head instead: see :mod:`lookalike.model.net`.
"""

from __future__ import annotations

import torch
from torch import nn

POOLS = ("Average", "CatAverageMax", "GeM", "Max", "MeanAverageMax")


def _check_map(x: torch.Tensor) -> None:
    if x.ndim != 4:
        raise ValueError(f"pooling expects a (B, C, H, W) feature map, got shape {tuple(x.shape)}")


class Average(nn.Module):
    """Mean over the spatial axes."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_map(x)
        return x.mean(dim=(2, 3))


class Max(nn.Module):
    """Maximum over the spatial axes."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_map(x)
        return x.amax(dim=(2, 3))


class CatAverageMax(nn.Module):
    """Average and max pooling concatenated along channels: output width is ``2 * C``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_map(x)
        return torch.cat((x.mean(dim=(2, 3)), x.amax(dim=(2, 3))), dim=1)


class MeanAverageMax(nn.Module):
    """Mean of average and max pooling: ``(avg + max) / 2``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_map(x)
        return 0.5 * (x.mean(dim=(2, 3)) + x.amax(dim=(2, 3)))


class GeM(nn.Module):
    """Generalised-mean pooling ``(mean(clamp(x, eps) ** p)) ** (1 / p)`` with a learnable ``p``.

    ``p = 1`` is average pooling and ``p → ∞`` tends to max pooling (Radenović et al., 2018).
    Inputs are clamped at ``eps`` because a fractional power of a negative number is undefined.
    """

    def __init__(self, p: float = 3.0, eps: float = 1e-6) -> None:
        super().__init__()
        self.p = nn.Parameter(torch.full((1,), float(p)))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_map(x)
        # At least float32, even under autocast: x ** 3 overflows float16 above ~40. Autocast
        # lowers only matmul-like ops, never pow/clamp/mean, so casting the input is enough.
        if x.dtype in (torch.float16, torch.bfloat16):
            x = x.float()
        p = self.p.to(x.dtype)
        return x.clamp(min=self.eps).pow(p).mean(dim=(2, 3)).pow(1.0 / p)

    def extra_repr(self) -> str:
        return f"p={self.p.item():.4f}, eps={self.eps}"


_POOL_CLASSES: dict[str, type[nn.Module]] = {
    "Average": Average,
    "CatAverageMax": CatAverageMax,
    "GeM": GeM,
    "Max": Max,
    "MeanAverageMax": MeanAverageMax,
}


def _check_name(name: str) -> None:
    if name not in _POOL_CLASSES:
        raise ValueError(f"unknown pool {name!r}; choose one of {', '.join(POOLS)}")


def build_pool(name: str) -> nn.Module:
    """Return a new pooling module for one of the names in :data:`POOLS`.

    >>> build_pool("CatAverageMax")(torch.ones(2, 8, 4, 4)).shape
    torch.Size([2, 16])
    """
    _check_name(name)
    return _POOL_CLASSES[name]()


def pooled_width(name: str, channels: int) -> int:
    """Width of the vector that pool ``name`` makes from a map with ``channels`` channels.

    >>> pooled_width("CatAverageMax", 512), pooled_width("GeM", 512)
    (1024, 512)
    """
    _check_name(name)
    return 2 * channels if name == "CatAverageMax" else channels
