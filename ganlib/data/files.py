"""One image file -> pixels: decode any Pillow mode, composite on white, crop, resize.

Every image ganlib hands out is ``float32`` in ``[-1, 1]`` with shape ``(H, W, C)``;
:func:`from_uint8` and :func:`to_uint8` convert to and from 8-bit pixels. The argument checks
for ``image_size``, ``channels``, ``crop`` and ``resample`` live here and are shared by the
other modules of ``ganlib.data``.
"""
from __future__ import annotations

import dataclasses
import math
import os
import threading
import re
import warnings

import numpy as np
from PIL import Image, ImageOps

from .._checks import check_choice, check_image_size

#: File name endings image_folder reads (case does not matter).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp")

#: The first bytes of each format we read: a cheap check that a file is what its name says.
_MAGIC = {
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".gif": (b"GIF87a", b"GIF89a"),
    ".bmp": (b"BM",),
}

RESAMPLING = {
    "nearest": Image.Resampling.NEAREST,
    "box": Image.Resampling.BOX,
    "area": Image.Resampling.BOX,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}

WHITE = 255


# ----------------------------------------------------------------------------------------
# Argument checks
# ----------------------------------------------------------------------------------------
def _check_image_size(image_size, name="image_size"):
    """Return (height, width) from an int or a pair of ints (the loading rule of _checks)."""
    return check_image_size(name, image_size, pair=True)


def _check_channels(channels):
    return check_choice("channels", channels, (1, 3, 4))


def _check_crop(crop):
    """crop: None | 'square' | int | (height, width)."""
    if crop is None or crop == "none":
        return None
    if crop == "square":
        return "square"
    if isinstance(crop, str):
        raise ValueError(
            f"crop={crop!r} is not allowed; use None, 'square', an integer side or a pair "
            "(height, width) of a centred box in pixels of the original image."
        )
    try:
        return _check_image_size(crop, name="crop")
    except ValueError:
        raise ValueError(
            f"crop={crop!r} is not allowed; use None, 'square', an integer side or a pair "
            "(height, width) of a centred box in pixels of the original image."
        ) from None


def _check_resample(resample):
    return check_choice("resample", resample, tuple(RESAMPLING))


# ----------------------------------------------------------------------------------------
# Pixels: [-1, 1] floats <-> uint8
# ----------------------------------------------------------------------------------------
def to_uint8(images) -> np.ndarray:
    """Map images from [-1, 1] to uint8 [0, 255] (for saving or hashing); clips outside values."""
    images = np.asarray(images, dtype=np.float32)
    return np.clip(np.rint((images + 1.0) * 127.5), 0, 255).astype(np.uint8)


def from_uint8(images) -> np.ndarray:
    """Map uint8 images [0, 255] to float32 [-1, 1]; ``to_uint8`` undoes it exactly."""
    return np.asarray(images, dtype=np.float32) / np.float32(127.5) - np.float32(1.0)


# ----------------------------------------------------------------------------------------
# One image file -> pixels
# ----------------------------------------------------------------------------------------
def _as_rgba(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> RGBA (1, L, LA, P with transparency, RGB, CMYK, 16-bit grey...)."""
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if (image.mode.startswith("I;16") or values.max(initial=0) > 255) else 255.0
        image = Image.fromarray(np.clip(np.rint(values / top * 255.0), 0, 255).astype(np.uint8), "L")
    if image.mode == "RGBA":
        return image
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("PA")
    try:
        return image.convert("RGBA")
    except ValueError:  # modes without a direct route (e.g. some CMYK/LAB variants)
        return image.convert("RGB").convert("RGBA")


def _rgba_to_channels(rgba: np.ndarray, channels: int) -> np.ndarray:
    """uint8 RGBA (H, W, 4) -> uint8 (H, W, channels), colour composited on white.

    channels=3: RGB on white; 1: its luminance (ITU-R 601, as Pillow's 'L');
    4: RGB on white plus the original alpha (so transparent pixels are white, not black).
    """
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    rgb = rgba[..., :3].astype(np.float32) * alpha + WHITE * (1.0 - alpha)
    if channels == 3:
        return np.rint(rgb).astype(np.uint8)
    if channels == 1:
        grey = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
        return np.rint(grey)[..., None].astype(np.uint8)
    return np.concatenate([np.rint(rgb).astype(np.uint8), rgba[..., 3:4]], axis=-1)


def _crop_box(width, height, crop, scale=1.0):
    """(left, top, right, bottom) of the centred crop, in (sub-)pixels of a width x height image.

    Integer crops are given in pixels of the full-size image; ``scale`` converts them when the
    image was decoded smaller (JPEG draft mode).
    """
    if crop is None:
        return 0.0, 0.0, float(width), float(height)
    if crop == "square":
        crop_height = crop_width = float(min(width, height))
    else:
        crop_height = min(float(height), crop[0] * scale)
        crop_width = min(float(width), crop[1] * scale)
    left, top = (width - crop_width) / 2.0, (height - crop_height) / 2.0
    return left, top, left + crop_width, top + crop_height


#: Images with more pixels are refused (OSError, a skip reason in a folder): Pillow's own
#: decompression-bomb limit (Image.MAX_IMAGE_PIXELS, about 89 million; above it Pillow only
#: warns, above twice it raises), so a tiny PNG cannot make ganlib decode gigabytes.
MAX_PIXELS = 89_478_485


_OPEN_LOCK = threading.Lock()


def open_image(path):
    """``PIL.Image.open`` whose decompression-bomb warning (more pixels than
    ``Image.MAX_IMAGE_PIXELS``; Pillow's warning names no file) is an OSError instead, like
    its error above twice the limit: the callers skip or report the file by name."""
    # warnings' filters are global, and the folder loaders decode in a thread pool: one lock,
    # or another thread's catch_warnings could restore "error" while this one reads the size
    with _OPEN_LOCK, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return Image.open(path)
        except Image.DecompressionBombWarning:  # up to twice the limit: the header can be read
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                size = "{}x{}".format(*image.size)
        except Image.DecompressionBombError as error:  # beyond: Pillow's message has the count
            found = re.search(r"\((\d+) pixels\)", str(error))
            size = f"{int(found.group(1)):,}" if found else "too many"
    raise OSError(f"{size} pixels, more than {Image.MAX_IMAGE_PIXELS:,} (Pillow's decompression-bomb limit): "
                  "shrink the image first")


def _reduce_factor(box, image_size) -> int:
    """The integer factor by which the crop ``box`` (left, top, right, bottom) can shrink
    (Pillow's ``reduce``, a box average) and still keep at least twice the pixels
    ``image_size`` needs, as JPEG's draft mode below: 1 when it cannot."""
    if image_size is None:
        return 1
    left, top, right, bottom = box
    return max(1, int(min((bottom - top) / (2 * image_size[0]), (right - left) / (2 * image_size[1]))))


def _pixel_box(box, width, height) -> tuple:
    """A crop box in whole pixels, at least one pixel each way: rounding the centred box of a
    1x500 image, (249.5, 0, 250.5, 1), gave the empty box (250, 0, 250, 1) and a black image."""
    left, top, right, bottom = (int(round(v)) for v in box)
    if right <= left:
        left = min(max(0, int(math.floor(box[0]))), width - 1)
        right = left + 1
    if bottom <= top:
        top = min(max(0, int(math.floor(box[1]))), height - 1)
        bottom = top + 1
    return left, top, right, bottom


def _load_pixels(path, image_size, channels, crop, resample) -> np.ndarray:
    """Decode one file to uint8 (H, W, channels); raises on unreadable files.

    A large image is cropped and shrunk by an integer factor in Pillow, in uint8 (alpha
    premultiplied, so transparent pixels do not bleed), before the float32 compositing:
    a 9000x9000 PNG for 16x16 costs about its decoded bytes, not 3 GB of floats.
    """
    with open_image(path) as image:  # a GIF opens at its first frame
        full_width, full_height = image.size
        if full_width * full_height > MAX_PIXELS:
            raise OSError(f"{full_width}x{full_height} pixels, more than {MAX_PIXELS:,} (Pillow's "
                          "decompression-bomb limit): shrink the image first")
        if image_size is not None and image.format == "JPEG":
            # Let libjpeg decode at 1/2, 1/4 or 1/8 scale when that still leaves at least twice
            # the pixels the target needs (much faster for large photos, as Pillow's thumbnail).
            left, top, right, bottom = _crop_box(full_width, full_height, crop)
            need = 2.0 * max(image_size[0] / (bottom - top), image_size[1] / (right - left))
            if need <= 0.5:
                image.draft(image.mode, (math.ceil(full_width * need), math.ceil(full_height * need)))
        image.load()
        orientation = image.getexif().get(0x0112, 1)
        if orientation in (5, 6, 7, 8):  # EXIF orientation turns it by 90 degrees
            full_width, full_height = full_height, full_width
        if orientation != 1:  # exif_transpose copies the image even when there is nothing to turn
            image = ImageOps.exif_transpose(image)
        width, height = image.size
        box = _pixel_box(_crop_box(width, height, crop, scale=width / full_width), width, height)
        factor = _reduce_factor(box, image_size)
        if factor > 1 and image.mode in ("RGB", "L"):
            # no alpha: shrink the crop in the file's own mode (reduce reads the box in place),
            # so no full-size RGBA copy is made (a 9000x9000 RGB PNG peaked at 1.6 GB for 16x16)
            rgba = _as_rgba(image.reduce(factor, box=box))
            return _resize_uint8(_rgba_to_channels(np.asarray(rgba), channels), image_size, resample)
        rgba = _as_rgba(image)
    if factor > 1:
        rgba = rgba.convert("RGBa").reduce(factor, box=box).convert("RGBA")
        return _resize_uint8(_rgba_to_channels(np.asarray(rgba), channels), image_size, resample)
    pixels = _rgba_to_channels(np.asarray(rgba.crop(box)), channels)
    if image_size is None:
        return pixels
    return _resize_uint8(pixels, image_size, resample)


def _resize_uint8(pixels: np.ndarray, image_size, resample) -> np.ndarray:
    """Resize uint8 (H, W, C) to image_size=(height, width) with Pillow.

    Every filter but 'nearest' is antialiased when shrinking (Pillow widens its support).
    """
    height, width = image_size
    if tuple(pixels.shape[:2]) == (height, width):
        return pixels
    method = RESAMPLING[resample]

    def plane(values, mode):
        return np.asarray(Image.fromarray(np.ascontiguousarray(values), mode).resize((width, height), method))

    if pixels.shape[-1] == 1:
        return plane(pixels[..., 0], "L")[..., None]
    if pixels.shape[-1] == 4:
        # colour and alpha separately: the colour is already on white, and Pillow would
        # otherwise premultiply it by alpha and darken the edges
        return np.concatenate([plane(pixels[..., :3], "RGB"), plane(pixels[..., 3], "L")[..., None]], axis=-1)
    return plane(pixels, "RGB")


def load_image(path, image_size=None, channels=3, crop="square", resample="bicubic") -> np.ndarray:
    """Read one image file as float32 in [-1, 1], shape (H, W, channels).

    Args:
        path: a PNG, JPEG, GIF (first frame) or BMP file.
        image_size: output size, an int (square) or (height, width); None keeps the size.
        channels: 1 (grey), 3 (RGB) or 4 (RGBA). Transparent pixels are composited on white
            (with channels=4 the alpha channel is kept as the 4th channel).
        crop: None, 'square' (the largest centred square, the default) or a centred box
            given as an int side or (height, width) in pixels of the original image
            (CelebA's usual crop is 108: Radford et al. 2015 / carpedm20's DCGAN-tensorflow).
        resample: Pillow filter, one of 'nearest', 'box' ('area'), 'bilinear', 'bicubic'
            (default, as Pillow's thumbnail), 'lanczos'. All but 'nearest' antialias when shrinking.

    Raises:
        ValueError: a bad argument.  OSError: the file is missing or not a readable image.
    """
    image_size = None if image_size is None else _check_image_size(image_size)
    channels = _check_channels(channels)
    crop = _check_crop(crop)
    resample = _check_resample(resample)
    return from_uint8(_load_pixels(path, image_size, channels, crop, resample))


def _raw_rgba(path) -> np.ndarray:
    with open_image(path) as image:
        image.load()
        image = ImageOps.exif_transpose(image)
        return np.asarray(_as_rgba(image))


def _header_problem(path: str):
    """None if the first bytes match the file's extension, else the reason."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError as error:
        return f"cannot be opened ({error.strerror or error})"
    if not head:
        return "empty file (0 bytes)"
    extension = os.path.splitext(path)[1].lower()
    if any(head.startswith(magic) for magics in _MAGIC.values() for magic in magics):
        return None
    return f"not a {extension[1:].upper()} image (its first bytes do not match any image format)"


@dataclasses.dataclass
class _Decoder:
    """How files become pixels: size, channels, crop and filter (picklable, thread-safe)."""

    image_size: tuple
    channels: int
    crop: object
    resample: str

    def __call__(self, path) -> np.ndarray:
        return _load_pixels(path, self.image_size, self.channels, self.crop, self.resample)
