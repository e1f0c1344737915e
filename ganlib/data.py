"""Image data for the GAN lessons: folders of images, downloads, faces and sprites.

Every image this module hands out is ``float32`` in ``[-1, 1]`` with shape ``(H, W, C)``
(channels last), the range of a generator that ends in ``tanh`` (Radford et al. 2015).

Reading a folder::

    images = ganlib.data.image_folder("my_faces/", image_size=64)   # tf.data.Dataset
    batches = ganlib.data.training_pipeline(images, batch_size=128)  # shuffle, batch, prefetch
    gan.fit(batches, epochs=5)

The lesson data sets (each says which source it used)::

    faces = ganlib.data.load_faces(image_size=64)      # CelebA, or the LFW faces of scikit-image
    train, held_out = faces.split(held_out=0.2)        # held-out faces for measuring (SWD)
    sprites = ganlib.data.load_sprites(image_size=32)  # Pokemon sprites, or procedural ones

Downloads go to ``data/`` in the repository (or ``$GANLIB_DATA``); see ``data/README.md``
and :data:`REGISTRY` for every data set's source, licence, size and checksum.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import math
import numbers
import os
import shutil
import socket
import sys
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
import warnings
import zipfile
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
from PIL import Image, ImageOps

from ._checks import check_choice, check_positive, check_range

__all__ = [
    "IMAGE_EXTENSIONS",
    "REGISTRY",
    "DataFolderError",
    "DataSource",
    "DownloadError",
    "ImageList",
    "ImageSet",
    "SkippedFile",
    "SkippedImageWarning",
    "clean_sprites",
    "composite_on_white",
    "data_dir",
    "download",
    "drop_duplicates",
    "extract",
    "fetch",
    "from_uint8",
    "image_folder",
    "load_faces",
    "load_folder",
    "load_image",
    "load_sprites",
    "procedural_sprites",
    "read_images",
    "resize_images",
    "to_uint8",
    "training_pipeline",
    "trim_borders",
]

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

#: Folders whose images fit in this many bytes (as uint8) are decoded once and kept in memory;
#: larger ones (CelebA) are streamed from disk.
IN_MEMORY_LIMIT_BYTES = 512 * 2**20

#: training_pipeline(cache='auto') caches a data set in memory up to this size (float32).
CACHE_LIMIT_BYTES = 1024 * 2**20

WHITE = 255


# ----------------------------------------------------------------------------------------
# Errors, warnings and small records
# ----------------------------------------------------------------------------------------
class DataFolderError(FileNotFoundError, ValueError):
    """A folder that is missing, not a folder, or holds no readable image.

    It is both a ``FileNotFoundError`` and a ``ValueError`` (a bad ``path`` argument), so
    either ``except`` clause catches it.
    """


class DownloadError(OSError):
    """Every mirror of a download failed; the message says where to put the file by hand.

    Attributes:
        failures: list of ``(url, reason)``, one per mirror tried.
        destination: where the file was meant to go.
    """

    def __init__(self, message, failures=(), destination=None):
        super().__init__(message)
        self.failures = list(failures)
        self.destination = destination

    def __str__(self):
        return self.args[0]


class SkippedImageWarning(UserWarning):
    """Some files of an image folder could not be read and were left out."""


@dataclasses.dataclass(frozen=True)
class SkippedFile:
    """A file left out of a data set, and why."""

    path: str
    reason: str

    @property
    def name(self) -> str:
        return os.path.basename(self.path)


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


# ----------------------------------------------------------------------------------------
# Argument checks
# ----------------------------------------------------------------------------------------
def _check_image_size(image_size, name="image_size"):
    """Return (height, width) from an int or a pair of ints."""
    if isinstance(image_size, (tuple, list)) and len(image_size) == 2:
        height, width = image_size
        for part in (height, width):
            if isinstance(part, bool) or not isinstance(part, numbers.Integral) or part <= 0:
                raise ValueError(
                    f"{name}={image_size!r} must be a positive integer or a pair "
                    "(height, width) of positive integers."
                )
        return int(height), int(width)
    if isinstance(image_size, bool) or not isinstance(image_size, numbers.Integral) or image_size <= 0:
        raise ValueError(
            f"{name}={image_size!r} must be a positive integer or a pair "
            "(height, width) of positive integers."
        )
    return int(image_size), int(image_size)


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
    """(left, top, right, bottom) of the centred crop; integer crops are in original pixels."""
    if crop is None:
        return 0, 0, width, height
    if crop == "square":
        crop_height = crop_width = min(width, height)
    else:
        crop_height = min(height, max(1, round(crop[0] * scale)))
        crop_width = min(width, max(1, round(crop[1] * scale)))
    left = int(round((width - crop_width) / 2.0))
    top = int(round((height - crop_height) / 2.0))
    return left, top, left + crop_width, top + crop_height


def _load_pixels(path, image_size, channels, crop, resample) -> np.ndarray:
    """Decode one file to uint8 (H, W, channels); raises on unreadable files."""
    with Image.open(path) as image:  # a GIF opens at its first frame
        full_width, full_height = image.size
        if image_size is not None and image.format == "JPEG":
            # Let libjpeg decode at 1/2, 1/4 or 1/8 scale when that still leaves enough pixels
            # for the target size (much faster for large photos; Pillow's thumbnail does this).
            left, top, right, bottom = _crop_box(full_width, full_height, crop)
            need = max(image_size[0] / (bottom - top), image_size[1] / (right - left))
            if need < 0.5:
                image.draft(image.mode, (math.ceil(full_width * need), math.ceil(full_height * need)))
        image.load()
        scale = image.size[0] / full_width  # integer crops are in full-size pixels
        image = ImageOps.exif_transpose(image)
        rgba = _as_rgba(image)
    rgba = rgba.crop(_crop_box(rgba.size[0], rgba.size[1], crop, scale))
    pixels = _rgba_to_channels(np.asarray(rgba), channels)
    if image_size is not None and pixels.shape[:2] != image_size:
        pixels = _resize_uint8(pixels, image_size, resample)
    return pixels


def _resize_uint8(pixels: np.ndarray, image_size, resample) -> np.ndarray:
    """Resize uint8 (H, W, C) to image_size=(height, width) with Pillow (antialiased)."""
    height, width = image_size
    method = RESAMPLING[resample]
    if pixels.shape[-1] == 1:
        out = Image.fromarray(pixels[..., 0], "L").resize((width, height), method)
        return np.asarray(out)[..., None]
    mode = "RGB" if pixels.shape[-1] == 3 else "RGBA"
    if mode == "RGBA":
        # resize colour and alpha separately: colour is already composited on white, and
        # Pillow would otherwise premultiply by alpha and darken the edges
        rgb = Image.fromarray(np.ascontiguousarray(pixels[..., :3]), "RGB").resize((width, height), method)
        alpha = Image.fromarray(np.ascontiguousarray(pixels[..., 3]), "L").resize((width, height), method)
        return np.concatenate([np.asarray(rgb), np.asarray(alpha)[..., None]], axis=-1)
    return np.asarray(Image.fromarray(pixels, mode).resize((width, height), method))


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


# ----------------------------------------------------------------------------------------
# Folders
# ----------------------------------------------------------------------------------------
def _check_folder(path) -> Path:
    if path is None or (isinstance(path, str) and not path.strip()):
        raise DataFolderError(f"path={path!r} is not a folder; give the folder that holds the images.")
    folder = Path(path).expanduser()
    if not folder.exists():
        raise DataFolderError(
            f"path={str(path)!r} does not exist (looked for {folder.resolve()}); give an existing "
            "folder of PNG, JPEG, GIF or BMP images."
        )
    if not folder.is_dir():
        raise DataFolderError(f"path={str(path)!r} is a file, not a folder; give the folder that holds the images.")
    return folder


def _list_files(folder: Path, recursive: bool):
    """Image candidates and other (non-hidden) files under folder, both sorted."""
    candidates, others = [], []
    walker = os.walk(folder) if recursive else [(str(folder), [], os.listdir(folder))]
    for root, dirs, names in walker:
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in names:
            full = os.path.join(root, name)
            if name.startswith(".") or not os.path.isfile(full):
                continue
            if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
                candidates.append(full)
            else:
                others.append(full)
    return sorted(candidates), sorted(others)


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


def _describe_decode_error(error: BaseException, path=None) -> str:
    try:
        if path is not None and os.path.getsize(path) == 0:
            return "empty file (0 bytes)"
    except OSError:
        pass
    text = str(error).strip() or type(error).__name__
    if "cannot identify image file" in text:
        return "not a readable image (Pillow cannot identify it)"
    if "truncated" in text.lower():
        return "truncated or corrupt image data"
    return f"unreadable image ({type(error).__name__}: {text[:120]})"


def _warn_skipped(where: str, skipped, total: int, stacklevel: int = 3):
    if not skipped:
        return
    shown = ", ".join(f"{item.name} ({item.reason})" for item in skipped[:8])
    more = f" and {len(skipped) - 8} more" if len(skipped) > 8 else ""
    warnings.warn(
        f"{where}: skipped {len(skipped)} of {total} files that are not readable images: "
        f"{shown}{more}. The full list is in the `skipped` attribute.",
        SkippedImageWarning,
        stacklevel=stacklevel,
    )


@dataclasses.dataclass
class _Decoder:
    """How files become pixels: size, channels, crop and filter (picklable, thread-safe)."""

    image_size: tuple
    channels: int
    crop: object
    resample: str

    def __call__(self, path) -> np.ndarray:
        return _load_pixels(path, self.image_size, self.channels, self.crop, self.resample)


def _decode_all(paths, decoder, verbose, label):
    """Decode files with a thread pool (Pillow releases the GIL); returns (arrays, kept, skipped)."""
    arrays, kept, skipped = [], [], []
    if not paths:
        return arrays, kept, skipped
    workers = max(1, min(8, os.cpu_count() or 1))

    def one(path):
        try:
            return path, decoder(path), None
        except Exception as error:  # any decode problem: skip the file, say why
            return path, None, _describe_decode_error(error, path)

    progress = None
    if verbose and len(paths) >= 2000:
        from tqdm.auto import tqdm

        progress = tqdm(total=len(paths), desc=f"reading {label}", unit="img")
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        for path, pixels, problem in pool.map(one, paths, chunksize=64):
            if problem is None:
                arrays.append(pixels)
                kept.append(path)
            else:
                skipped.append(SkippedFile(path, problem))
            if progress is not None:
                progress.update(1)
    if progress is not None:
        progress.close()
    return arrays, kept, skipped


# ----------------------------------------------------------------------------------------
# ImageSet: what load_faces / load_sprites / load_folder return
# ----------------------------------------------------------------------------------------
class ImageSet:
    """A set of images for a GAN: float32 in [-1, 1], shape ``(H, W, C)``.

    Small sets live in memory (as uint8, 4x smaller than float32); large ones (CelebA) stay
    on disk as a list of files decoded while training. Either way you get:

    * ``images.dataset``: a ``tf.data.Dataset`` of single images (fixed order);
    * ``images.pipeline(batch_size)``: shuffled batches ready for ``fit`` (see
      :func:`training_pipeline`);
    * ``images.numpy(limit=None)`` (or ``images.images``): a NumPy array ``(n, H, W, C)``;
    * ``images.split(held_out=0.2, seed=0)``: ``(train, held_out)``, disjoint, so a metric
      on ``held_out`` measures images the GAN never saw;
    * ``images.source`` ('celeba', 'lfw', 'pokemon', 'procedural', 'folder'),
      ``images.description``, ``images.skipped`` (unreadable files) and ``images.log``
      (the count after each cleaning step).

    Anything else is forwarded to ``images.dataset``, so ``images.take(8)`` and
    ``for image in images`` work as they would on a ``tf.data.Dataset``.
    """

    def __init__(self, source, description, image_size, channels, pixels=None, files=None,
                 decoder=None, skipped=None, log=None, root=None):
        if (pixels is None) == (files is None):
            raise ValueError("ImageSet needs exactly one of pixels= (uint8 array) or files= (paths).")
        self.source = source
        self.description = description
        self.image_size = tuple(image_size)
        self.channels = channels
        self._pixels = None if pixels is None else np.ascontiguousarray(pixels, dtype=np.uint8)
        self._files = None if files is None else list(files)
        self._decoder = decoder
        self.skipped = skipped if skipped is not None else []
        self.log = list(log or [])
        self.root = root
        self._lock = threading.Lock()

    # --- facts -------------------------------------------------------------------------
    @property
    def in_memory(self) -> bool:
        """True when the pixels are held in memory, False when streamed from files."""
        return self._pixels is not None

    @property
    def shape(self) -> tuple:
        """(H, W, C) of every image."""
        return (*self.image_size, self.channels)

    @property
    def files(self):
        """The image files of a streamed set (None for in-memory sets)."""
        return None if self._files is None else list(self._files)

    def __len__(self) -> int:
        if self._pixels is not None:
            return int(self._pixels.shape[0])
        bad = {item.path for item in self.skipped}
        return sum(1 for path in self._files if path not in bad)

    @property
    def count(self) -> int:
        """How many images (for streamed sets: files not yet found unreadable)."""
        return len(self)

    def __repr__(self):
        where = "in memory" if self.in_memory else "streamed from disk"
        height, width = self.image_size
        return (f"ImageSet(source={self.source!r}, {len(self)} images of {height}x{width}x{self.channels}, "
                f"{where})")

    # --- arrays ------------------------------------------------------------------------
    def numpy(self, limit=None) -> np.ndarray:
        """All images (or the first ``limit``) as float32 [-1, 1], shape (n, H, W, C)."""
        if limit is not None:
            limit = check_positive("limit", limit, integer=True)
        if self._pixels is not None:
            return from_uint8(self._pixels[:limit])
        paths = self._files[:limit] if limit is not None else self._files
        arrays, _, skipped = _decode_all(paths, self._decoder, True, self.source)
        self._note_skipped(skipped)
        if not arrays:
            return np.zeros((0, *self.shape), np.float32)
        return from_uint8(np.stack(arrays))

    @property
    def images(self) -> np.ndarray:
        """Every image as one float32 array (n, H, W, C); for big streamed sets prefer numpy(limit)."""
        return self.numpy()

    def _note_skipped(self, new):
        with self._lock:
            known = {item.path for item in self.skipped}
            for item in new:
                if item.path not in known:
                    self.skipped.append(item)
                    known.add(item.path)
                    warnings.warn(f"{self.source}: skipped {item.path} ({item.reason})", SkippedImageWarning)

    # --- tf.data -----------------------------------------------------------------------
    def _file_dataset(self, paths_dataset):
        import tensorflow as tf

        decoder, shape = self._decoder, self.shape

        def decode(path_bytes):
            path = path_bytes.decode("utf-8") if isinstance(path_bytes, bytes) else str(path_bytes)
            try:
                return decoder(path), True
            except Exception as error:  # reported, and the element is filtered out below
                self._note_skipped([SkippedFile(path, _describe_decode_error(error, path))])
                return np.zeros(shape, np.uint8), False

        def load(path):
            pixels, ok = tf.numpy_function(decode, [path], [tf.uint8, tf.bool], stateful=False)
            pixels.set_shape(shape)
            ok.set_shape(())
            return pixels, ok

        def readable(pixels, ok):
            return ok

        def pixels_only(pixels, ok):
            return pixels

        dataset = paths_dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return dataset.filter(readable).map(pixels_only)

    @staticmethod
    def _to_float(pixels):
        import tensorflow as tf

        return tf.cast(pixels, tf.float32) * (1.0 / 127.5) - 1.0

    @property
    def dataset(self):
        """A ``tf.data.Dataset`` of single images, float32 [-1, 1], (H, W, C), in a fixed order."""
        import tensorflow as tf

        if self._pixels is not None:
            dataset = tf.data.Dataset.from_tensor_slices(self._pixels)
        else:
            dataset = self._file_dataset(tf.data.Dataset.from_tensor_slices(self._files))
        return dataset.map(self._to_float, num_parallel_calls=tf.data.AUTOTUNE)

    def pipeline(self, batch_size=128, shuffle=True, seed=None, drop_remainder=True, augment=None,
                 cache="auto", repeat=False):
        """Batches for ``fit``: shuffled every epoch, batched, optionally augmented, prefetched.

        Streamed sets shuffle their file list (a full shuffle, no big buffer) before decoding;
        in-memory sets shuffle the images. Arguments as in :func:`training_pipeline`.
        """
        import tensorflow as tf

        if self._pixels is not None or not shuffle:
            return training_pipeline(self.dataset, batch_size=batch_size, shuffle=shuffle, seed=seed,
                                     drop_remainder=drop_remainder, augment=augment, cache=cache,
                                     repeat=repeat, _count=len(self))
        _check_batch_size(batch_size, len(self), drop_remainder)
        paths = tf.data.Dataset.from_tensor_slices(self._files)
        paths = paths.shuffle(len(self._files), seed=seed, reshuffle_each_iteration=True)
        dataset = self._file_dataset(paths).map(self._to_float, num_parallel_calls=tf.data.AUTOTUNE)
        return training_pipeline(dataset, batch_size=batch_size, shuffle=False, seed=seed,
                                 drop_remainder=drop_remainder, augment=augment, cache=cache,
                                 repeat=repeat, _count=len(self))

    def __iter__(self):
        return iter(self.dataset)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.dataset, name)

    # --- subsets -----------------------------------------------------------------------
    def subset(self, indices, source=None, description=None) -> "ImageSet":
        """A new ImageSet with the images at ``indices`` (same source and settings)."""
        indices = np.asarray(indices, dtype=np.int64)
        kwargs = dict(source=source or self.source, description=description or self.description,
                      image_size=self.image_size, channels=self.channels, skipped=self.skipped,
                      log=self.log, root=self.root)
        if self._pixels is not None:
            return ImageSet(pixels=self._pixels[indices], **kwargs)
        return ImageSet(files=[self._files[i] for i in indices], decoder=self._decoder, **kwargs)

    def split(self, held_out=0.2, seed=0):
        """Split into ``(train, held_out)`` at random (reproducible by ``seed``), disjoint.

        Args:
            held_out: a fraction in (0, 1) or a number of images (>= 1) to hold out.
            seed: seed of the random permutation.

        Use the held-out part only for measuring (e.g. ``metrics.sliced_wasserstein``):
        a score against the training images says how well the GAN copies, not how well it
        generalises.
        """
        total = len(self) if self._pixels is not None else len(self._files)
        if isinstance(held_out, numbers.Integral) and not isinstance(held_out, bool):
            count = int(held_out)
            if not 1 <= count < total:
                raise ValueError(f"held_out={held_out!r} must be between 1 and {total - 1} images "
                                 f"(the set has {total}), or a fraction in (0, 1).")
        else:
            fraction = check_range("held_out", held_out, 0.0, 1.0, low_open=True, high_open=True)
            count = int(round(fraction * total))
            if not 1 <= count < total:
                raise ValueError(f"held_out={held_out!r} leaves {count} held-out images of {total}; "
                                 "each part needs at least one image.")
        order = np.random.default_rng(seed).permutation(total)
        held, train = np.sort(order[:count]), np.sort(order[count:])
        return (self.subset(train, description=f"{self.description} (train part, {len(train)})"),
                self.subset(held, description=f"{self.description} (held-out part, {len(held)})"))


def load_folder(path, image_size, channels=3, crop="square", resample="bicubic", in_memory="auto",
                recursive=True, source="folder", description=None, verbose=True, _stacklevel=3) -> ImageSet:
    """Read a folder of images into an :class:`ImageSet` (the object behind :func:`image_folder`).

    Arguments as in :func:`image_folder`; ``in_memory`` is True (decode every file now and keep
    the pixels), False (stream from disk while training) or 'auto' (in memory when the
    pixels take at most 512 MiB as uint8: yes for sprites and small face sets, no for CelebA).
    Unreadable files are skipped, listed in ``.skipped`` and announced with a warning.
    """
    image_size = _check_image_size(image_size)
    channels = _check_channels(channels)
    crop = _check_crop(crop)
    resample = _check_resample(resample)
    if in_memory not in ("auto", True, False):
        raise ValueError(f"in_memory={in_memory!r} is not allowed; use 'auto', True or False.")
    folder = _check_folder(path)
    candidates, others = _list_files(folder, recursive)
    skipped = [SkippedFile(p, f"not an image file (extension {os.path.splitext(p)[1] or 'none'})")
               for p in others]
    if not candidates:
        raise DataFolderError(
            f"path={str(path)!r} holds no image files (looked for {', '.join(IMAGE_EXTENSIONS)}"
            f"{' in every subfolder' if recursive else ''}; found {len(others)} other files)."
        )
    total = len(candidates) + len(others)
    decoder = _Decoder(image_size, channels, crop, resample)
    bytes_needed = len(candidates) * image_size[0] * image_size[1] * channels
    keep_in_memory = in_memory is True or (in_memory == "auto" and bytes_needed <= IN_MEMORY_LIMIT_BYTES)
    description = description or f"images from {folder}"
    if keep_in_memory:
        arrays, kept, bad = _decode_all(candidates, decoder, verbose, str(folder))
        skipped.extend(bad)
        _warn_skipped(f"image folder {folder}", skipped, total, _stacklevel)
        if not arrays:
            raise DataFolderError(f"path={str(path)!r}: none of its {len(candidates)} image files could be read "
                                  f"(e.g. {skipped[0].name}: {skipped[0].reason}).")
        images = ImageSet(source, description, image_size, channels, pixels=np.stack(arrays),
                          skipped=skipped, root=folder)
        images.files_read = kept
        return images
    # Streamed: check each file's first bytes now (cheap); broken data is found while decoding.
    good = []
    for candidate in candidates:
        problem = _header_problem(candidate)
        if problem is None:
            good.append(candidate)
        else:
            skipped.append(SkippedFile(candidate, problem))
    _warn_skipped(f"image folder {folder}", skipped, total, _stacklevel)
    if not good:
        raise DataFolderError(f"path={str(path)!r}: none of its {len(candidates)} image files could be read.")
    return ImageSet(source, description, image_size, channels, files=good, decoder=decoder,
                    skipped=skipped, root=folder)


def image_folder(path, image_size, channels=3, crop="square", resample="bicubic", in_memory="auto",
                 recursive=True, verbose=True):
    """A folder of images as a ``tf.data.Dataset`` of single images, float32 [-1, 1], (H, W, C).

    Reads PNG, JPEG, GIF (first frame) and BMP files, in every subfolder by default, in sorted
    order. Each image is converted to ``channels`` (grey and colour both work; transparent
    pixels are composited on white), centre-cropped, then resized to ``image_size``.

    Args:
        path: the folder.
        image_size: an int (square) or (height, width). DCGAN uses 64 (Radford et al. 2015).
        channels: 1, 3 or 4 (4 keeps the alpha channel after compositing the colour on white).
        crop: 'square' (default: the largest centred square, so faces are not squashed),
            None (resize the whole image), or a centred box in original pixels: an int side
            or (height, width). CelebA's usual crop is 108 (carpedm20's DCGAN-tensorflow).
        resample: 'bicubic' (default), 'lanczos', 'bilinear', 'box'/'area' or 'nearest'.
        in_memory: 'auto' decodes small folders once and keeps them in memory (fast epochs),
            and streams large ones (CelebA: 200k files) from disk with parallel decoding.
        recursive: also read subfolders (d2l's pokemon.zip keeps sprites in subfolders).

    Returns:
        A ``tf.data.Dataset``. Its attribute ``report`` (an :class:`ImageSet`) tells what was
        read: ``report.skipped`` lists every unreadable or non-image file with the reason
        (also announced with a :class:`SkippedImageWarning`), ``len(report)`` the image count.
        Batch it for training with :func:`training_pipeline`.

    Raises:
        DataFolderError (a ValueError): the folder is missing, empty, or has no readable image.
    """
    images = load_folder(path, image_size, channels=channels, crop=crop, resample=resample,
                         in_memory=in_memory, recursive=recursive, verbose=verbose, _stacklevel=4)
    dataset = images.dataset
    dataset.report = images
    return dataset


# ----------------------------------------------------------------------------------------
# Training pipeline
# ----------------------------------------------------------------------------------------
def _check_batch_size(batch_size, count, drop_remainder):
    batch_size = check_positive("batch_size", batch_size, integer=True)
    if count is not None and count >= 0 and drop_remainder and count < batch_size:
        raise ValueError(
            f"batch_size={batch_size} is larger than the data set ({count} images): with "
            "drop_remainder=True no batch would be produced; use a batch_size <= "
            f"{count} or drop_remainder=False."
        )
    return batch_size


def training_pipeline(images, batch_size=128, shuffle=True, seed=None, drop_remainder=True,
                      augment=None, cache="auto", shuffle_buffer=None, repeat=False, _count=None):
    """Turn single images into the batches ``fit`` trains on: cache, shuffle, batch, prefetch.

    Args:
        images: a ``tf.data.Dataset`` of single images (e.g. from :func:`image_folder`), an
            :class:`ImageSet`, or a NumPy array (n, H, W, C) of float images in [-1, 1].
        batch_size: images per batch; 128 in DCGAN (Radford et al. 2015).
        shuffle: reshuffle every epoch (seeded by ``seed`` for reproducible runs).
        seed: shuffling seed (None: from TensorFlow's global seed, set by ``ganlib.setup``).
        drop_remainder: True (default) drops the last incomplete batch so every batch has
            the same shape: XLA compiles the train step once, and batch norm never sees a
            batch of 1.
        augment: optional ``function(batch) -> batch`` applied to each batch, e.g.
            ``ganlib.augment.FlipAndShift()``.
        cache: 'auto' (cache in memory when the data set's size is known and at most 1 GiB
            as float32), True (memory), False, or a file name (cache on disk).
        shuffle_buffer: size of the shuffle buffer; default the whole set up to 10,000.
        repeat: repeat forever (then give ``steps_per_epoch`` to ``fit``).

    Returns:
        A ``tf.data.Dataset`` of float32 batches (batch, H, W, C), prefetched.
    """
    import tensorflow as tf

    if isinstance(images, ImageSet):
        return images.pipeline(batch_size=batch_size, shuffle=shuffle, seed=seed,
                               drop_remainder=drop_remainder, augment=augment, cache=cache,
                               repeat=repeat)
    if isinstance(images, np.ndarray):
        if images.ndim != 4 or images.shape[-1] not in (1, 3, 4) or images.shape[0] == 0:
            raise ValueError(f"images has shape {images.shape}; expected (n, H, W, C) with n >= 1 "
                             "and C in (1, 3, 4).")
        low, high = float(images.min()), float(images.max())
        if low < -1.0 - 1e-4 or high > 1.0 + 1e-4 or not (math.isfinite(low) and math.isfinite(high)):
            raise ValueError(f"images has values in [{low:.3g}, {high:.3g}]; expected [-1, 1] "
                             "(use ganlib.data.from_uint8 for uint8 pixels).")
        _count = images.shape[0]
        images = tf.data.Dataset.from_tensor_slices(images.astype(np.float32))
    elif not isinstance(images, tf.data.Dataset):
        raise ValueError(f"images={type(images).__name__} is not allowed; give a tf.data.Dataset of "
                         "single images, an ImageSet or a NumPy array (n, H, W, C).")
    spec = images.element_spec
    if not isinstance(spec, tf.TensorSpec) or spec.shape.rank != 3:
        raise ValueError(
            f"images yields {spec}; expected single images of shape (H, W, C). "
            + ("It looks batched already: pass the unbatched data set." if getattr(spec, "shape", None)
               is not None and spec.shape.rank == 4 else "")
        )
    if cache not in ("auto", True, False) and not isinstance(cache, (str, os.PathLike)):
        raise ValueError(f"cache={cache!r} is not allowed; use 'auto', True, False or a file name.")
    if _count is None:
        cardinality = int(images.cardinality())
        _count = cardinality if cardinality >= 0 else None
    batch_size = _check_batch_size(batch_size, _count, drop_remainder)
    if spec.dtype != tf.float32:
        images = images.map(lambda x: tf.cast(x, tf.float32))

    if cache == "auto":
        known = _count is not None and spec.shape.is_fully_defined()
        size = (_count or 0) * int(np.prod(spec.shape.as_list() if known else [0])) * 4
        cache = known and size <= CACHE_LIMIT_BYTES
    if cache is True:
        images = images.cache()
    elif cache:
        images = images.cache(os.fspath(cache))
    if shuffle:
        buffer = shuffle_buffer or (min(_count, 10_000) if _count else 10_000)
        buffer = check_positive("shuffle_buffer", buffer, integer=True)
        images = images.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        images = images.repeat()
    batches = images.batch(batch_size, drop_remainder=drop_remainder,
                           num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if augment is not None:
        if not callable(augment):
            raise ValueError(f"augment={augment!r} must be a function batch -> batch (or None).")
        batches = batches.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    return batches.prefetch(tf.data.AUTOTUNE)
