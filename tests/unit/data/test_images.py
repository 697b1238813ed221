"""load_image: formats, channel conversions, dtypes and errors naming the file."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from lookalike.data.images import ImageChannelsError, ImageError, load_image

RGB = np.zeros((6, 5, 3), dtype=np.uint8)
RGB[..., 0] = 200  # red
RGB[..., 2] = 10  # a little blue


def write(path, rgb: np.ndarray):
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


@pytest.mark.parametrize(
    "suffix", [".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".PNG", ".JPG"]
)
def test_mixed_extensions_load_as_rgb(tmp_path, suffix):
    image = load_image(write(tmp_path / f"a{suffix}", RGB), 3)
    assert image.shape == (6, 5, 3) and image.dtype == np.uint8
    red, _, blue = image.reshape(-1, 3).mean(axis=0)
    assert red > 150 and blue < 60  # BGR was turned into RGB


def test_grayscale_png_is_expanded_to_three_channels(tmp_path):
    gray = np.arange(30, dtype=np.uint8).reshape(6, 5)
    cv2.imwrite(str(tmp_path / "g.png"), gray)
    image = load_image(tmp_path / "g.png", 3)
    assert image.shape == (6, 5, 3)
    for c in range(3):
        np.testing.assert_array_equal(image[..., c], gray)
    assert load_image(tmp_path / "g.png", 1).shape == (6, 5, 1)


def test_rgb_becomes_gray_for_one_channel(tmp_path):
    image = load_image(write(tmp_path / "c.png", RGB), 1)
    assert image.shape == (6, 5, 1)
    expected = cv2.cvtColor(RGB, cv2.COLOR_RGB2GRAY)
    np.testing.assert_array_equal(image[..., 0], expected)


def test_rgba_drops_alpha_for_three_channels_and_keeps_it_for_four(tmp_path):
    bgra = np.dstack([RGB[..., ::-1], np.full((6, 5), 7, np.uint8)])
    cv2.imwrite(str(tmp_path / "a.png"), bgra)
    np.testing.assert_array_equal(load_image(tmp_path / "a.png", 3), RGB)
    rgba = load_image(tmp_path / "a.png", 4)
    np.testing.assert_array_equal(rgba[..., :3], RGB)
    assert (rgba[..., 3] == 7).all()


def test_16_bit_png_keeps_its_values_as_float32(tmp_path):
    deep = np.full((4, 4), 40000, dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "d.png"), deep)
    image = load_image(tmp_path / "d.png", 1)
    assert image.dtype == np.float32 and image.shape == (4, 4, 1)
    assert (image == 40000).all()


@pytest.mark.parametrize("channels", [1, 3, 5])
def test_npy_with_any_channel_count(tmp_path, channels):
    array = np.random.default_rng(0).random((6, 5, channels))  # float64 on disk
    np.save(tmp_path / "x.npy", array)
    image = load_image(tmp_path / "x.npy", channels)
    assert image.shape == (6, 5, channels) and image.dtype == np.float32
    np.testing.assert_allclose(image, array, rtol=1e-6)


def test_npy_height_by_width_and_uint8(tmp_path):
    np.save(tmp_path / "x.npy", np.ones((6, 5), dtype=np.uint8))
    assert load_image(tmp_path / "x.npy", 1).shape == (6, 5, 1)
    image = load_image(tmp_path / "x.npy", 3)
    assert image.shape == (6, 5, 3) and image.dtype == np.uint8


def test_channel_mismatch_names_file_count_and_setting(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((6, 5, 5), dtype=np.float32))
    with pytest.raises(ImageChannelsError) as raised:
        load_image(tmp_path / "x.npy", 3)
    message = str(raised.value)
    assert "x.npy" in message and "5 channel" in message and "image.image_channels" in message
    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize(
    ("name", "content"),
    [("bad.png", b"not a png at all"), ("empty.jpg", b""), ("bad.npy", b"garbage")],
)
def test_corrupt_files_raise_image_error_naming_the_file(tmp_path, name, content):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ImageError, match=name):
        load_image(tmp_path / name, 3)


def test_truncated_png_and_missing_file(tmp_path):
    write(tmp_path / "t.png", np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8))
    data = (tmp_path / "t.png").read_bytes()
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match=r"t\.png"):
        load_image(tmp_path / "t.png", 3)
    with pytest.raises(ImageError, match=r"gone\.png"):
        load_image(tmp_path / "gone.png", 3)


def test_pickled_npy_and_unknown_extension_are_refused(tmp_path):
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ImageError, match=r"o\.npy"):
        load_image(tmp_path / "o.npy", 3)
    (tmp_path / "x.gif").write_bytes(b"GIF89a")
    with pytest.raises(ImageError, match="unsupported"):
        load_image(tmp_path / "x.gif", 3)
