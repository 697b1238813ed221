"""Decode one image file (.jpg, .png, .bmp, .tif, .webp or .npy) into an HWC array."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

__all__ = [
    "ARRAY_EXTENSIONS",
    "IMAGE_EXTENSIONS",
    "ImageChannelsError",
    "ImageError",
    "load_image",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
ARRAY_EXTENSIONS = (".npy",)


class ImageError(ValueError):
    """An image file that cannot be used; the message names the file."""


class ImageChannelsError(ImageError):
    """An image whose channel count does not fit image.image_channels."""


def load_image(path: Path, channels: int) -> np.ndarray:
    """The image as a (height, width, channels) array: uint8 stays uint8, anything else float32.

    Image files are decoded by OpenCV unchanged (16-bit values kept, EXIF orientation ignored)
    and returned in RGB(A) order; .npy files hold a height × width (× channels) array of any
    channel count. To fit ``channels``: grayscale is repeated to 3 channels, RGB becomes gray
    for 1 channel and the alpha channel of an RGBA file is dropped; any other mismatch raises
    ImageChannelsError. A missing, unreadable or corrupt file raises ImageError.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in ARRAY_EXTENSIONS:
        image, has_alpha = _read_array(path), False
    elif suffix in IMAGE_EXTENSIONS:
        image = _read_picture(path)
        has_alpha = image.shape[2] == 4
    else:
        supported = ", ".join(IMAGE_EXTENSIONS + ARRAY_EXTENSIONS)
        raise ImageError(f"{path}: unsupported image extension '{path.suffix}' ({supported})")
    if image.dtype != np.uint8:
        image = image.astype(np.float32)
    return _fit_channels(image, channels, path, has_alpha)


def _read_picture(path: Path) -> np.ndarray:
    try:
        # np.fromfile + imdecode instead of imread: imread cannot open non-ASCII paths on Windows.
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise ImageError(f"{path} cannot be read ({error.strerror or error})") from error
    image = None
    if data.size:
        try:
            image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        except cv2.error:
            image = None
    if image is None or image.size == 0:
        raise ImageError(f"{path} is not a readable image (corrupt, empty or not {path.suffix})")
    if image.ndim == 2:
        return image[:, :, None]
    if image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)
    return image


def _read_array(path: Path) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise ImageError(f"{path} is not a readable .npy array ({error})") from error
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf":
        raise ImageError(f"{path} does not hold a numeric array (dtype {array.dtype})")
    if array.ndim not in (2, 3) or array.size == 0:
        raise ImageError(
            f"{path} holds an array of shape {array.shape}; expected height × width "
            "or height × width × channels"
        )
    return array[:, :, None] if array.ndim == 2 else array


def _fit_channels(image: np.ndarray, channels: int, path: Path, has_alpha: bool) -> np.ndarray:
    found = image.shape[2]
    if found == channels:
        return image
    if has_alpha and channels in (1, 3):
        image, found = image[:, :, :3], 3
    if found == 1 and channels == 3:
        return np.ascontiguousarray(np.repeat(image, 3, axis=2))
    if found == 3 and channels == 1:
        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)[:, :, None]
    if found == channels:
        return np.ascontiguousarray(image)
    layout = ""
    if path.suffix.lower() in ARRAY_EXTENSIONS:
        layout = f"; .npy arrays are read as height × width × channels, shape {image.shape}"
    raise ImageChannelsError(
        f"{path} has {found} channel(s) but image.image_channels is {channels}{layout}"
    )
