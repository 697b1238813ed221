"""normalize_batch: each mode against a hand computation on a tiny batch."""

from __future__ import annotations

import math

import pytest
import torch

from lookalike.data.transforms import imagenet_constants, normalize_batch

# B=2 images, C=2 channels, H=1, W=2.
X = torch.tensor([[[[0, 2]], [[4, 6]]], [[[8, 10]], [[12, 14]]]], dtype=torch.uint8)


def close(actual: torch.Tensor, expected: list) -> None:
    assert actual.dtype == torch.float32
    torch.testing.assert_close(actual, torch.tensor(expected, dtype=torch.float32))


def test_channel_uses_batch_statistics_per_channel():
    # channel 0: 0, 2, 8, 10 -> mean 5, var (25+9+9+25)/4 = 17; channel 1: 4, 6, 12, 14 -> mean 9
    s = math.sqrt(17)
    close(
        normalize_batch(X, "Channel"),
        [
            [[[-5 / s, -3 / s]], [[-5 / s, -3 / s]]],
            [[[3 / s, 5 / s]], [[3 / s, 5 / s]]],
        ],
    )


def test_image_uses_statistics_of_each_image():
    # image 0: 0, 2, 4, 6 -> mean 3, var 5; image 1: 8, 10, 12, 14 -> mean 11, var 5
    s = math.sqrt(5)
    expected = [[[[-3 / s, -1 / s]], [[1 / s, 3 / s]]]] * 2
    close(normalize_batch(X, "Image"), expected)


def test_imagenet_divides_by_255_then_uses_the_constants():
    x = torch.tensor([255.0, 0.0, 127.5]).reshape(1, 3, 1, 1)
    expected = [(1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (0.5 - 0.406) / 0.225]
    close(normalize_batch(x, "ImageNet"), [[[[v]] for v in expected]])


def test_imagenet_constants_for_other_channel_counts():
    mean, std = imagenet_constants(1)
    torch.testing.assert_close(mean, torch.tensor([(0.485 + 0.456 + 0.406) / 3]))
    torch.testing.assert_close(std, torch.tensor([(0.229 + 0.224 + 0.225) / 3]))
    mean, std = imagenet_constants(5)
    torch.testing.assert_close(mean, torch.tensor([0.485, 0.456, 0.406, 0.485, 0.456]))
    x = torch.full((1, 5, 1, 1), 255.0)
    out = normalize_batch(x, "ImageNet")
    torch.testing.assert_close(out.flatten(), (1 - mean) / std)


def test_inception_maps_0_255_to_minus_one_one():
    close(
        normalize_batch(torch.tensor([[[[0, 255]]]], dtype=torch.uint8), "Inception"),
        [[[[-1.0, 1.0]]]],
    )


def test_min_max_uses_the_whole_batch():
    close(normalize_batch(X, "Min_Max"), (X.float() / 14).tolist())


def test_no_keeps_values_as_float32():
    out = normalize_batch(X, "No")
    close(out, X.float().tolist())


def test_simple_divides_by_255():
    close(
        normalize_batch(torch.tensor([[[[0, 51, 255]]]], dtype=torch.uint8), "Simple"),
        [[[[0.0, 0.2, 1.0]]]],
    )


@pytest.mark.parametrize("mode", ["Channel", "Image", "Min_Max"])
def test_constant_batch_gives_zeros_not_nan(mode):
    out = normalize_batch(torch.full((2, 3, 2, 2), 7.0), mode)
    assert torch.equal(out, torch.zeros_like(out))


def test_float64_input_becomes_float32():
    assert normalize_batch(X.double(), "Simple").dtype == torch.float32


def test_unknown_mode_is_rejected():
    with pytest.raises(ValueError, match="Bogus"):
        normalize_batch(X, "Bogus")
