"""Embeddings of a dataset: normalisation per batch, test-time flips averaged, unit norm."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lookalike.model.embed import compute_embeddings, tta_views


class Columns(nn.Module):
    """A 'model' whose embedding is the mean of each image column: sensitive to flips."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(1, 2))


def batches(images: torch.Tensor):
    return [(images[:2], torch.zeros(2)), (images[2:], torch.zeros(len(images) - 2))]


def test_tta_views_are_the_batch_and_its_flips():
    x = torch.arange(8.0).reshape(1, 1, 2, 4)
    original, horizontal, vertical = tta_views(x, ["horizontal_flip", "vertical_flip"])
    assert torch.equal(original, x)
    assert torch.equal(horizontal[0, 0, 0], torch.tensor([3.0, 2.0, 1.0, 0.0]))
    assert torch.equal(vertical[0, 0, 0], torch.tensor([4.0, 5.0, 6.0, 7.0]))


def test_embeddings_average_the_flipped_views_and_are_unit_norm():
    images = torch.rand(5, 3, 4, 6) * 255
    args = {"device": torch.device("cpu"), "normalization": "Simple"}
    plain = compute_embeddings(Columns(), batches(images), **args)
    flipped = compute_embeddings(
        Columns(), batches(images), test_time_augmentations=["horizontal_flip"], **args
    )
    x = images / 255
    expected = F.normalize(
        F.normalize(x.mean(dim=(1, 2)), dim=1) + F.normalize(x.flip(3).mean(dim=(1, 2)), dim=1),
        dim=1,
    )
    torch.testing.assert_close(torch.from_numpy(flipped), expected)
    assert not torch.allclose(torch.from_numpy(plain), expected)
    torch.testing.assert_close(torch.from_numpy(plain).norm(dim=1), torch.ones(5))
