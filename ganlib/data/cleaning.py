"""Cleaning a scraped sprite folder, one step per function so lesson 03 can show each:
composite on white -> trim empty borders (blank images dropped) -> resize -> drop exact
duplicates; ``clean_sprites`` runs them all and prints the count after each step.
"""
from __future__ import annotations

import hashlib
import os

import numpy as np

from .._checks import check_range
from .files import (IMAGE_EXTENSIONS, _check_channels, _check_image_size, _check_resample, _raw_rgba,
                    _resize_uint8, from_uint8, to_uint8)
from .folders import DataFolderError, SkippedFile, _check_folder, _decode_all, _list_files, _warn_skipped

class ImageList(list):
    """A list of images (possibly of different sizes) that remembers where they came from.

    Attributes:
        paths: the file (or made-up name) of each image, in order.
        skipped: :class:`SkippedFile` records for files that could not be read.
        dropped: names of images a cleaning step removed (blank or duplicate), with the reason.
    """

    def __init__(self, images=(), paths=None, skipped=None, dropped=None):
        super().__init__(images)
        self.paths = list(paths) if paths is not None else [f"image_{i}" for i in range(len(self))]
        self.skipped = list(skipped or [])
        self.dropped = list(dropped or [])


def read_images(path, recursive=True, verbose=True) -> ImageList:
    """Read every image of a folder at its own size, as RGBA float32 [-1, 1] (alpha last).

    Palette (P), grey (L), grey+alpha (LA), RGB and RGBA files all come back as RGBA;
    files without transparency get alpha 1 everywhere. Unreadable files are skipped,
    listed in ``.skipped`` and announced with a :class:`SkippedImageWarning`.
    """
    folder = _check_folder(path)
    candidates, others = _list_files(folder, recursive)
    skipped = [SkippedFile(p, f"not an image file (extension {os.path.splitext(p)[1] or 'none'})")
               for p in others]
    if not candidates:
        raise DataFolderError(f"path={str(path)!r} holds no image files (looked for {', '.join(IMAGE_EXTENSIONS)}).")
    arrays, kept, bad = _decode_all(candidates, _raw_rgba, verbose, str(folder))
    skipped.extend(bad)
    _warn_skipped(f"read_images {folder}", skipped, len(candidates) + len(others))
    return ImageList([from_uint8(a) for a in arrays], paths=kept, skipped=skipped)


def _as_list(images):
    if isinstance(images, np.ndarray):
        if images.ndim == 3:
            raise ValueError(f"images has shape {images.shape}; give a list of images or an array (n, H, W, C).")
        return ImageList(list(images))
    if isinstance(images, ImageList):
        return images
    return ImageList(list(images))


def _like(images: ImageList, new_images, keep=None, dropped=()):
    """An ImageList carrying over paths/skipped records (keep: indices that survive)."""
    keep = range(len(images)) if keep is None else keep
    paths = [images.paths[i] for i in keep]
    return ImageList(new_images, paths=paths, skipped=images.skipped, dropped=list(images.dropped) + list(dropped))


def composite_on_white(images, keep_alpha=False):
    """Step 1: put transparent pixels on a white background.

    ``colour_out = alpha * colour + (1 - alpha) * white`` with alpha in [0, 1]. Sprites
    keep arbitrary colours (often black) under transparent pixels, so simply dropping the
    alpha channel would give black backgrounds.

    Args:
        images: RGBA images in [-1, 1] (a list of different sizes, or an array).
            1- and 3-channel images are returned unchanged.
        keep_alpha: also return the alpha channel (RGBA out, for 4-channel models).
    """
    images = _as_list(images)
    out = []
    for image in images:
        image = np.asarray(image, dtype=np.float32)
        if image.shape[-1] != 4:
            out.append(image)
            continue
        alpha = (image[..., 3:4] + 1.0) / 2.0
        rgb = image[..., :3] * alpha + 1.0 * (1.0 - alpha)
        out.append(np.concatenate([rgb, image[..., 3:4]], axis=-1) if keep_alpha else rgb)
    return _like(images, out)


def trim_borders(images, tolerance=0.1, margin=0.05, square=True):
    """Step 2: cut away empty (white or transparent) borders; drop blank images.

    A pixel counts as content when it is visible (alpha above -1 + tolerance, if there is an
    alpha channel) and not white (some colour channel below 1 - tolerance). Each image is
    cropped to the box around its content, padded with background to a square (so resizing
    does not squash it) plus ``margin`` (a fraction of the side) on every side. Images with
    no content are dropped and named in ``.dropped``.
    """
    images = _as_list(images)
    tolerance = check_range("tolerance", tolerance, 0.0, 2.0)
    margin = check_range("margin", margin, 0.0, 1.0)
    out, keep, dropped = [], [], []
    for index, image in enumerate(images):
        image = np.asarray(image, dtype=np.float32)
        colour = image[..., : min(3, image.shape[-1])]
        content = np.any(colour < 1.0 - tolerance, axis=-1)
        if image.shape[-1] in (2, 4):
            content &= image[..., -1] > -1.0 + tolerance
        rows, cols = np.flatnonzero(content.any(axis=1)), np.flatnonzero(content.any(axis=0))
        if rows.size == 0:
            dropped.append((images.paths[index], "blank (no content)"))
            continue
        crop = image[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]
        height, width = crop.shape[:2]
        side_h, side_w = (max(height, width),) * 2 if square else (height, width)
        pad = int(round(margin * max(side_h, side_w)))
        side_h, side_w = side_h + 2 * pad, side_w + 2 * pad
        background = np.ones((side_h, side_w, image.shape[-1]), np.float32)
        if image.shape[-1] in (2, 4):
            background[..., -1] = -1.0  # transparent
        top, left = (side_h - height) // 2, (side_w - width) // 2
        background[top: top + height, left: left + width] = crop
        out.append(background)
        keep.append(index)
    return _like(images, out, keep=keep, dropped=dropped)


def resize_images(images, image_size, resample="bicubic") -> np.ndarray:
    """Step 3: resize every image to ``image_size`` -> one array (n, H, W, C) in [-1, 1]."""
    size = _check_image_size(image_size)
    resample = _check_resample(resample)
    images = _as_list(images)
    if not images:
        raise ValueError("images is empty; nothing to resize.")
    return np.stack([from_uint8(_resize_uint8(to_uint8(image), size, resample)) for image in images])


def _pixel_keys(pixels_uint8):
    return [hashlib.blake2b(np.ascontiguousarray(p).tobytes(), digest_size=16).digest() for p in pixels_uint8]


def drop_duplicates(images, return_index=False):
    """Step 4: keep the first of every set of exactly identical images (after resizing).

    Exact duplicates (the same sprite scraped twice) would count double in training and
    could sit on both sides of a train / held-out split. Compares the 8-bit pixels.

    Returns:
        The unique images (n_unique, H, W, C), in their original order; with
        ``return_index=True`` also the indices kept.
    """
    array = np.asarray(images, dtype=np.float32)
    if array.ndim != 4:
        raise ValueError(f"images has shape {array.shape}; expected (n, H, W, C) (resize first).")
    kept = _first_of_each(to_uint8(array))
    unique = array[kept]
    return (unique, np.asarray(kept)) if return_index else unique


def _luminance(images):
    """RGB [-1, 1] -> grey (ITU-R 601 weights, as Pillow's 'L'), keeping a channel axis."""
    return images[..., 0:1] * 0.299 + images[..., 1:2] * 0.587 + images[..., 2:3] * 0.114


def _clean_steps(raw: ImageList, size, channels, resample):
    """composite -> trim -> resize; returns (uint8 pixels, their paths, count after each step)."""
    composited = composite_on_white(raw, keep_alpha=channels == 4)
    trimmed = trim_borders(composited)
    if not len(trimmed):
        return np.zeros((0, *size, channels), np.uint8), [], [len(composited), 0, 0]
    resized = resize_images(trimmed, size, resample)
    if channels == 1:
        resized = _luminance(resized)
    return to_uint8(resized), list(trimmed.paths), [len(composited), len(trimmed), len(resized)]


def _first_of_each(pixels_uint8):
    """Indices of the first occurrence of every distinct image."""
    seen, kept = set(), []
    for index, key in enumerate(_pixel_keys(pixels_uint8)):
        if key not in seen:
            seen.add(key)
            kept.append(index)
    return kept


def _cleaning_log(read, counts, unique, size):
    return [("read", read), ("composited on white", counts[0]), ("trimmed (blank images dropped)", counts[1]),
            (f"resized to {size[0]}x{size[1]}", counts[2]), ("exact duplicates dropped", unique)]


def _print_log(log):
    for step, number in log:
        print(f"  {step:<32s} {number:>7,d}")


def clean_sprites(images, image_size, channels=3, resample="bicubic", verbose=True):
    """All cleaning steps in order, printing the count after each one.

    RGBA sprites -> :func:`composite_on_white` -> :func:`trim_borders` (blank ones dropped)
    -> :func:`resize_images` -> :func:`drop_duplicates`.

    Returns:
        ``(array, log)``: float32 [-1, 1] array (n, H, W, channels) and the list of
        ``(step, count)`` pairs that was printed.
    """
    channels = _check_channels(channels)
    size = _check_image_size(image_size)
    resample = _check_resample(resample)
    images = _as_list(images)
    pixels, _, counts = _clean_steps(images, size, channels, resample)
    kept = _first_of_each(pixels)
    log = _cleaning_log(len(images), counts, len(kept), size)
    if verbose:
        _print_log(log)
    return from_uint8(pixels[kept]), log
