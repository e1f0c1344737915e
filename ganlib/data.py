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
import http.client
import math
import numbers
import os
import shutil
import socket
import tarfile
import tempfile
import threading
import urllib.error
import urllib.request
import warnings
import zipfile
from pathlib import Path

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
    "file_digest",
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


def _load_pixels(path, image_size, channels, crop, resample) -> np.ndarray:
    """Decode one file to uint8 (H, W, channels); raises on unreadable files."""
    with Image.open(path) as image:  # a GIF opens at its first frame
        full_width, full_height = image.size
        if image_size is not None and image.format == "JPEG":
            # Let libjpeg decode at 1/2, 1/4 or 1/8 scale when that still leaves at least twice
            # the pixels the target needs (much faster for large photos, as Pillow's thumbnail).
            left, top, right, bottom = _crop_box(full_width, full_height, crop)
            need = 2.0 * max(image_size[0] / (bottom - top), image_size[1] / (right - left))
            if need <= 0.5:
                image.draft(image.mode, (math.ceil(full_width * need), math.ceil(full_height * need)))
        image.load()
        if image.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # EXIF orientation turns it by 90 degrees
            full_width, full_height = full_height, full_width
        image = ImageOps.exif_transpose(image)
        rgba = _as_rgba(image)
    pixels = _rgba_to_channels(np.asarray(rgba), channels)
    height, width = pixels.shape[:2]
    left, top, right, bottom = (int(round(v)) for v in _crop_box(width, height, crop, scale=width / full_width))
    pixels = pixels[top:bottom, left:right]
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
                 decoder=None, skipped=None, log=None, root=None, paths=None, note=None):
        if (pixels is None) == (files is None):
            raise ValueError("ImageSet needs exactly one of pixels= (uint8 array) or files= (paths).")
        if pixels is not None and paths is not None and len(paths) != len(pixels):
            raise ValueError(f"paths has {len(paths)} entries for {len(pixels)} images; give one per image.")
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
        self.note = note  # why a fallback was used, if it was
        self._paths = None if paths is None else list(paths)
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
        """The file of each image, in order (None for generated sets such as LFW or procedural).

        For streamed sets this includes files found unreadable while decoding (see ``skipped``).
        """
        if self._files is not None:
            return list(self._files)
        return None if self._paths is None else list(self._paths)

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

        return tf.cast(pixels, tf.float32) / 127.5 - 1.0  # exactly as from_uint8

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

        if self._pixels is not None and cache == "auto":
            cache = False  # already in memory: converting to float on the fly costs nothing
        size_bytes = len(self) * int(np.prod(self.shape)) * 4
        cached = cache is True or isinstance(cache, (str, os.PathLike)) or (
            cache == "auto" and size_bytes <= CACHE_LIMIT_BYTES)
        if self._pixels is not None or not shuffle or cached:
            # decode in a fixed order (and cache), then shuffle the images every epoch
            return training_pipeline(self.dataset, batch_size=batch_size, shuffle=shuffle, seed=seed,
                                     drop_remainder=drop_remainder, augment=augment, cache=cache,
                                     repeat=repeat, _count=len(self))
        # too big to cache: shuffle the file names every epoch (a full shuffle at no memory
        # cost), then decode in parallel
        _check_batch_size(batch_size, len(self), drop_remainder)
        paths = tf.data.Dataset.from_tensor_slices(self._files)
        paths = paths.shuffle(len(self._files), seed=seed, reshuffle_each_iteration=True)
        dataset = self._file_dataset(paths).map(self._to_float, num_parallel_calls=tf.data.AUTOTUNE)
        return training_pipeline(dataset, batch_size=batch_size, shuffle=False, seed=seed,
                                 drop_remainder=drop_remainder, augment=augment, cache=False,
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
            paths = None if self._paths is None else [self._paths[i] for i in indices]
            return ImageSet(pixels=self._pixels[indices], paths=paths, **kwargs)
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
        return ImageSet(source, description, image_size, channels, pixels=np.stack(arrays),
                        skipped=skipped, root=folder, paths=kept)
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


# ----------------------------------------------------------------------------------------
# Where data lives, and downloads
# ----------------------------------------------------------------------------------------
def data_dir() -> Path:
    """The download cache: ``$GANLIB_DATA`` if set, else the repository's ``data/`` folder.

    When ganlib is installed without its repository (``pip install git+...`` in Colab) the
    cache is ``~/.cache/ganlib/data``.
    """
    chosen = os.environ.get("GANLIB_DATA", "").strip()
    if chosen:
        return Path(chosen).expanduser()
    repository_data = Path(__file__).resolve().parent.parent / "data"
    if (repository_data / "README.md").exists():
        return repository_data
    return Path.home() / ".cache" / "ganlib" / "data"


def _offline() -> bool:
    return os.environ.get("GANLIB_OFFLINE", "").strip() not in ("", "0")


_HASHES = ("sha256", "sha1", "md5")


def _parse_checksum(checksum):
    """'sha256:<hex>' (or sha1/md5) -> (algorithm, hex)."""
    if not isinstance(checksum, str) or ":" not in checksum:
        raise ValueError(f"checksum={checksum!r} is not allowed; write it as 'sha256:<hex digest>' "
                         f"(or {', '.join(h + ':' for h in _HASHES[1:])}).")
    algorithm, digest = checksum.split(":", 1)
    algorithm, digest = algorithm.strip().lower(), digest.strip().lower()
    check_choice("checksum algorithm", algorithm, _HASHES)
    length = hashlib.new(algorithm).digest_size * 2
    if len(digest) != length or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"checksum={checksum!r}: a {algorithm} digest has {length} hex digits.")
    return algorithm, digest


def file_digest(path, algorithm="sha256") -> str:
    """Hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(2**20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _describe_download_error(error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        reason = error.reason
        if isinstance(reason, socket.timeout) or "timed out" in str(reason):
            return "timed out (no answer)"
        return f"cannot connect ({reason})"
    if isinstance(error, (socket.timeout, TimeoutError)):
        return "timed out while receiving data"
    return str(error) or type(error).__name__


def _download_one(url, destination: Path, algorithm, expected, timeout, progress):
    """Stream url into a temporary file next to destination; rename it only when complete."""
    request = urllib.request.Request(url, headers={"User-Agent": "ganlib (+https://github.com/ganlib/ganlib)"})
    handle, temporary = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as response:
            content_type = response.headers.get("Content-Type", "")
            if content_type.startswith("text/html") and not destination.name.endswith((".html", ".htm")):
                raise OSError("the server sent a web page instead of the file (a login, quota or "
                              "confirmation page?)")
            length = response.headers.get("Content-Length")
            expected_bytes = int(length) if length and length.isdigit() else None
            digest = hashlib.new(algorithm) if algorithm else None
            received = 0
            bar = None
            if progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=expected_bytes, unit="B", unit_scale=True, unit_divisor=1024,
                           desc=f"{destination.name}", leave=False)
            try:
                while True:
                    chunk = response.read(2**20)
                    if not chunk:
                        break
                    out.write(chunk)
                    received += len(chunk)
                    if digest is not None:
                        digest.update(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
            finally:
                if bar is not None:
                    bar.close()
            if expected_bytes is not None and received != expected_bytes:
                raise OSError(f"transfer truncated: received {received:,} of {expected_bytes:,} bytes")
            if received == 0:
                raise OSError("the server sent an empty file")
        if digest is not None and digest.hexdigest() != expected:
            raise OSError(f"checksum mismatch: expected {algorithm} {expected}, got {digest.hexdigest()}")
        os.replace(temporary, destination)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise


def download(urls, destination, checksum=None, timeout=10.0, progress=True, hint=None) -> Path:
    """Download a file, trying each mirror in turn; verify it; never leave a partial file.

    Each mirror's bytes go to a temporary file in the destination folder, which is renamed
    to ``destination`` only when the transfer is complete and the checksum matches, so an
    interrupted or corrupt download never looks like a finished one.

    Args:
        urls: one URL or a list of mirrors, tried in order.
        destination: the file to create (its folder is created if needed).
        checksum: 'sha256:<hex>' (or 'sha1:' / 'md5:' for publishers that give those).
        timeout: seconds to wait for a connection or for data before trying the next mirror;
            short, so that an offline machine gives up in seconds.
        progress: show a progress bar.
        hint: extra text for the error message (e.g. where to put the file by hand).

    Returns:
        The path of the complete file.

    Raises:
        DownloadError: every mirror failed; the message lists each failure and says where
            to put the file by hand.
    """
    if isinstance(urls, str):
        urls = [urls]
    urls = list(urls)
    if not urls:
        raise ValueError("urls=[] is empty; give at least one URL.")
    timeout = check_positive("timeout", timeout)
    algorithm, expected = _parse_checksum(checksum) if checksum is not None else (None, None)
    destination = Path(destination).expanduser()
    destination.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for url in urls:
        try:
            _download_one(url, destination, algorithm, expected, timeout, progress)
            return destination
        except (OSError, ValueError, http.client.HTTPException) as error:
            failures.append((url, _describe_download_error(error)))
    tried = "\n".join(f"  - {url}: {reason}" for url, reason in failures)
    manual = hint or (
        f"Download the file yourself from one of the addresses above and save it as\n  {destination}"
        + (f"\n(its {algorithm} checksum must be {expected})." if algorithm else ".")
    )
    raise DownloadError(f"Could not download {destination.name} from any of {len(urls)} mirror(s):\n{tried}\n"
                        f"{manual}", failures, destination)


def _safe_members_zip(archive: zipfile.ZipFile, destination: Path):
    root = destination.resolve()
    for name in archive.namelist():
        target = (destination / name).resolve()
        if root != target and root not in target.parents:
            raise OSError(f"unsafe path in archive: {name!r} would be written outside {destination}")


def extract(archive, destination, progress=True) -> Path:
    """Unpack a .zip or .tar(.gz/.bz2/.xz) archive into ``destination``, all or nothing.

    Files are unpacked into a temporary folder next to ``destination`` that is renamed when
    everything is out, so an interrupted extraction never looks complete. Paths that would
    land outside ``destination`` are refused.
    """
    archive, destination = Path(archive), Path(destination)
    if destination.exists():
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".partial"))
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as bundle:
                _safe_members_zip(bundle, temporary)
                members = bundle.infolist()
                iterator = members
                if progress and len(members) > 1000:
                    from tqdm.auto import tqdm

                    iterator = tqdm(members, desc=f"extracting {archive.name}", unit="file")
                for member in iterator:
                    bundle.extract(member, temporary)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as bundle:
                bundle.extractall(temporary, filter="data")
        else:
            raise OSError(f"{archive} is neither a zip nor a tar archive")
        os.replace(temporary, destination)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return destination


@dataclasses.dataclass(frozen=True)
class DataSource:
    """A downloadable data set: where to get it, how to check it, and what it is.

    Attributes:
        name: registry key ('celeba', 'pokemon').
        archive: file name of the archive in the data folder.
        mirrors: URLs tried in order.
        checksum: 'sha256:...' / 'sha1:...' / 'md5:...' of the archive (publisher's value).
        folder: folder under the data folder the archive is unpacked into.
        description, homepage, licence, size: for people (see data/README.md).
        crop: the usual centre crop for this set (in original pixels), or None.
    """

    name: str
    archive: str
    mirrors: tuple
    checksum: str
    folder: str
    description: str = ""
    homepage: str = ""
    licence: str = ""
    size: str = ""
    crop: object = "square"

    def archive_path(self, root=None) -> Path:
        return Path(root or data_dir()) / self.archive

    def folder_path(self, root=None) -> Path:
        return Path(root or data_dir()) / self.folder

    def manual_instructions(self, root=None) -> str:
        algorithm, digest = _parse_checksum(self.checksum)
        return (
            f"To use {self.name} without a working download, fetch {self.archive} yourself "
            f"(from {self.homepage or self.mirrors[0]})\nand either\n"
            f"  * save it as {self.archive_path(root)}  ({algorithm} {digest}), or\n"
            f"  * unpack it so that the images are inside {self.folder_path(root)}/ (any subfolders).\n"
            "Set the environment variable GANLIB_DATA to use another data folder."
        )


#: Data sets ganlib can download. Each one's details are also in data/README.md.
REGISTRY = {
    "celeba": DataSource(
        name="celeba",
        archive="img_align_celeba.zip",
        mirrors=(
            # The publisher's Google Drive file (the id torchvision.datasets.CelebA uses).
            "https://drive.usercontent.google.com/download?id=0B7EVK8r0v71pZjFTYXZWM3FlRnM&export=download&confirm=t",
            "https://drive.google.com/uc?export=download&confirm=t&id=0B7EVK8r0v71pZjFTYXZWM3FlRnM",
        ),
        checksum="md5:00d2c5bc6d35e252742224ab0c1e8fcb",  # as published with torchvision's CelebA
        folder="celeba",
        description="CelebA aligned-and-cropped faces: 202,599 JPEG images of 178x218 pixels "
        "(Liu et al. 2015).",
        homepage="https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html",
        licence="Non-commercial research and educational use only (CelebA agreement).",
        size="about 1.4 GB zip",
        crop=(108, 108),  # the usual DCGAN crop (carpedm20/DCGAN-tensorflow), then resize
    ),
    "pokemon": DataSource(
        name="pokemon",
        archive="pokemon.zip",
        mirrors=(
            "http://d2l-data.s3-accelerate.amazonaws.com/pokemon.zip",  # d2l.DATA_URL
            "https://d2l-data.s3-accelerate.amazonaws.com/pokemon.zip",
            "https://d2l-data.s3.amazonaws.com/pokemon.zip",
        ),
        checksum="sha1:c065c0e2593b8b161a2d7873e42418bf6a21106c",  # d2l's DATA_HUB['pokemon']
        folder="pokemon",
        description="Pokemon sprites from pokemondb.net as packaged by Dive into Deep Learning "
        "(d2l.ai, DCGAN chapter): about 40,000 small sprites in one subfolder per Pokemon.",
        homepage="https://d2l.ai/chapter_generative-adversarial-networks/dcgan.html",
        licence="Sprites (c) Nintendo / Creatures Inc. / GAME FREAK; redistributed by d2l for "
        "teaching; no open licence.",
        size="not measured here (no internet); d2l's archive",
        crop="square",
    ),
}


def _has_images(folder: Path) -> bool:
    if not folder.is_dir():
        return False
    for _, _, names in os.walk(folder):
        if any(os.path.splitext(n)[1].lower() in IMAGE_EXTENSIONS for n in names):
            return True
    return False


def fetch(source, root=None, timeout=10.0, progress=True, download_missing=True) -> Path:
    """Make a registry data set available locally and return the folder holding its images.

    In order: an unpacked folder already in the data folder is used as is; else an archive
    already there (downloaded earlier, or put there by hand) is verified and unpacked; else
    the archive is downloaded from each mirror in turn, verified and unpacked.

    Args:
        source: a name in :data:`REGISTRY` ('celeba', 'pokemon') or a :class:`DataSource`.
        root: the data folder (default :func:`data_dir`).
        timeout: per-mirror network timeout in seconds.
        progress: progress bars for downloading and unpacking.
        download_missing: False never touches the network (also when ``GANLIB_OFFLINE=1``).

    Raises:
        DownloadError: not present and no mirror worked; the message says where to put the
            archive (or the unpacked images) by hand.
        OSError: an archive found locally has the wrong checksum (the message says which).
    """
    if isinstance(source, str):
        source = REGISTRY.get(check_choice("source", source, tuple(REGISTRY)))
    if not isinstance(source, DataSource):
        raise ValueError(f"source={source!r} is not allowed; use a name in {tuple(REGISTRY)} or a DataSource.")
    root = Path(root).expanduser() if root is not None else data_dir()
    folder, archive = source.folder_path(root), source.archive_path(root)
    if _has_images(folder):
        return folder
    algorithm, expected = _parse_checksum(source.checksum)
    if archive.exists():
        found = file_digest(archive, algorithm)
        if found != expected:
            raise OSError(
                f"{archive} is there but its {algorithm} checksum is {found}, not {expected}: "
                "it is incomplete or a different file. Delete it (or replace it with the right "
                f"archive) and try again.\n{source.manual_instructions(root)}"
            )
    else:
        if not download_missing or _offline():
            why = "GANLIB_OFFLINE is set" if _offline() else "downloads are turned off"
            raise DownloadError(f"{source.name} is not in {root} and {why}.\n{source.manual_instructions(root)}",
                                [], archive)
        download(source.mirrors, archive, checksum=source.checksum, timeout=timeout, progress=progress,
                 hint=source.manual_instructions(root))
    if folder.exists() and not _has_images(folder):
        shutil.rmtree(folder)  # an empty leftover (never a partial extraction, see extract())
    extract(archive, folder, progress=progress)
    if not _has_images(folder):
        raise OSError(f"{archive} unpacked into {folder} but holds no images.")
    return folder


# ----------------------------------------------------------------------------------------
# Faces
# ----------------------------------------------------------------------------------------
def _say(verbose, message):
    if verbose:
        print(message)


def _short_reason(error: BaseException) -> str:
    """One line on why a data set could not be had (for the fallback message)."""
    if isinstance(error, DownloadError) and error.failures:
        reasons = sorted({reason for _, reason in error.failures})
        return f"download failed from {len(error.failures)} mirror(s): {'; '.join(reasons)}"
    return str(error).splitlines()[0]


def _lfw_faces(image_size, channels) -> ImageSet:
    """The 100 faces of scikit-image's LFW subset (25x25 grey), resized; ships with scikit-image."""
    from skimage import data as skimage_data

    subset = np.asarray(skimage_data.lfw_subset())
    faces = subset[:100]  # the first 100 are faces, the next 100 are non-face background patches
    if faces.dtype != np.uint8:
        scale = 255.0 if float(faces.max()) <= 1.0 else 1.0
        faces = np.clip(np.rint(faces.astype(np.float64) * scale), 0, 255).astype(np.uint8)
    native = faces.shape[1:3]
    grey = faces[..., None]
    if tuple(native) != tuple(image_size):
        grey = np.stack([_resize_uint8(face, image_size, "bicubic") for face in grey])
    if channels == 3:
        pixels = np.repeat(grey, 3, axis=-1)
    elif channels == 4:
        pixels = np.concatenate([np.repeat(grey, 3, axis=-1), np.full_like(grey, 255)], axis=-1)
    else:
        pixels = grey
    height, width = image_size
    description = (f"the 100 faces of scikit-image's LFW subset ({native[0]}x{native[1]} greyscale, "
                   f"resized to {height}x{width}, {channels} channel{'s' if channels > 1 else ''})")
    return ImageSet("lfw", description, image_size, channels, pixels=pixels,
                    log=[("LFW subset images", len(subset)), ("faces (first 100)", len(faces))])


def load_faces(image_size=64, channels=3, source="auto", path=None, crop=None, timeout=5.0,
               in_memory="auto", verbose=True) -> ImageSet:
    """Face images for lesson 02: CelebA when present or downloadable, else LFW faces.

    Args:
        image_size: output size (int or (height, width)); 64 as in DCGAN (Radford et al. 2015).
        channels: 1, 3 or 4 (LFW faces are grey; with 3 channels the grey is repeated).
        source: 'auto' (CelebA if it is in the data folder or can be downloaded, else LFW),
            'celeba' (CelebA or an error that says where to put the archive) or 'lfw'
            (the 100 faces of ``skimage.data.lfw_subset()``, always available offline).
        path: a folder of face images to use instead of the data folder's CelebA (e.g. an
            unpacked ``img_align_celeba`` somewhere else).
        crop: the centre crop before resizing; default CelebA's usual 108x108 box
            (carpedm20/DCGAN-tensorflow), 'square' for other folders.
        timeout: seconds per download mirror before giving up ('auto' falls back quickly).
        in_memory: see :func:`load_folder` (CelebA is streamed from disk by default).
        verbose: print which data set was used and why.

    Returns:
        An :class:`ImageSet` (``.source`` says 'celeba', 'lfw' or 'folder'); use
        ``faces.split(held_out=...)`` for a held-out set and ``faces.pipeline(batch_size)``
        for training batches.
    """
    image_size = _check_image_size(image_size)
    channels = _check_channels(channels)
    check_choice("source", source, ("auto", "celeba", "lfw"))
    celeba = REGISTRY["celeba"]
    chosen_crop = celeba.crop if crop is None else crop
    _check_crop(chosen_crop)
    if source == "lfw" and path is not None:
        raise ValueError(f"path={str(path)!r} cannot be used with source='lfw'; use source='auto' or "
                         "'celeba' to read your own face folder.")
    if source == "lfw":
        faces = _lfw_faces(image_size, channels)
        _say(verbose, f"load_faces: using {faces.description}.")
        return faces
    if path is not None:
        faces = load_folder(path, image_size, channels, crop=chosen_crop, in_memory=in_memory,
                            source="folder", description=f"face images from {path}", verbose=verbose)
        _say(verbose, f"load_faces: using {len(faces)} images from {path}.")
        return faces
    try:
        folder = fetch(celeba, timeout=timeout, progress=verbose,
                       download_missing=True)
    except (OSError, ValueError) as error:
        if source == "celeba":
            raise
        reason = _short_reason(error)
        faces = _lfw_faces(image_size, channels)
        _say(verbose, f"load_faces: CelebA is not available ({reason}).\n"
                      f"load_faces: using {faces.description} instead.")
        faces.note = f"CelebA is not available: {reason}"
        return faces
    faces = load_folder(folder, image_size, channels, crop=chosen_crop, in_memory=in_memory,
                        source="celeba", description=f"CelebA aligned faces from {folder}", verbose=verbose)
    _say(verbose, f"load_faces: using CelebA, {len(faces)} images from {folder} "
                  f"({'in memory' if faces.in_memory else 'streamed from disk'}).")
    return faces


# ----------------------------------------------------------------------------------------
# Sprites: cleaning steps (each one a function, so lesson 03 can show them one by one)
# ----------------------------------------------------------------------------------------
def _raw_rgba(path) -> np.ndarray:
    with Image.open(path) as image:
        image.load()
        image = ImageOps.exif_transpose(image)
        return np.asarray(_as_rgba(image))


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


# ----------------------------------------------------------------------------------------
# Procedural sprites (the offline stand-in for the Pokemon sprites)
# ----------------------------------------------------------------------------------------
def _hsv(hue, saturation, value):
    import colorsys

    return np.array(colorsys.hsv_to_rgb(hue % 1.0, saturation, value)) * 255.0


def _one_sprite(rng: np.random.Generator) -> np.ndarray:
    """One RGBA uint8 creature: symmetric, outlined, a few colours, on a random canvas."""
    from scipy import ndimage

    half_width = int(rng.integers(4, 8))
    centre_column = bool(rng.random() < 0.5)
    height = int(rng.integers(8, 14))

    def mirror(half, centre):
        """Columns [half reversed | centre? | half]: symmetric about the vertical axis."""
        parts = [half[:, ::-1], centre, half] if centre_column else [half[:, ::-1], half]
        return np.concatenate(parts, axis=1)

    rows = np.linspace(-1.0, 1.0, height)[:, None]
    columns = (np.arange(half_width)[None, :] + 0.5) / half_width
    probability = 0.85 - 0.55 * columns ** 1.5 - 0.25 * np.abs(rows) ** 3
    spine = slice(height // 4, max(height // 4 + 2, (3 * height) // 4))
    while True:
        half = rng.random((height, half_width)) < probability
        half[spine, 0] = True  # a spine next to the axis joins the two halves
        full = mirror(half, half[:, :1])
        labels, _ = ndimage.label(full)
        body = labels == labels[height // 2, half_width]  # the part holding the spine
        body = ndimage.binary_fill_holes(body)
        if body.sum() >= 0.3 * body.size:
            break
    width = body.shape[1]
    # colours: drawn for one half (column 0 = the axis) and mirrored, so they stay symmetric
    hue = rng.random()
    saturation = rng.uniform(0.45, 0.9)
    palette = np.stack([
        _hsv(hue, saturation * 0.55, 0.97),            # 0 light
        _hsv(hue, saturation, 0.82),                   # 1 mid
        _hsv(hue + 0.03, saturation, 0.58),            # 2 dark
        _hsv(hue + 0.5 + rng.uniform(-0.12, 0.12), rng.uniform(0.5, 0.9), 0.9),  # 3 accent
        np.array([250.0, 250.0, 250.0]),               # 4 eye white
        _hsv(hue, saturation * 0.6, 0.16),             # 5 outline (very dark)
    ])
    shade = np.linspace(0.0, 1.0, height)[:, None] + rng.normal(0, 0.18, (height, half_width + 1))
    half_index = np.where(shade < 0.36, 0, np.where(shade < 0.7, 1, 2))
    half_index = np.where(rng.random(half_index.shape) < 0.12, 3, half_index)
    index = np.where(body, mirror(half_index[:, 1:], half_index[:, :1]), -1)
    # eyes: a symmetric pair in the upper half, a white cell over a dark pupil
    eye_rows = [r for r in range(1, max(2, height // 2)) if body[r].sum() >= 4]
    if eye_rows:
        row = int(rng.choice(eye_rows))
        first_right = half_width + 1 if centre_column else half_width
        right = int(rng.integers(first_right, max(first_right + 1, width - 1)))
        left = width - 1 - right
        if body[row, left] and body[row, right]:
            index[row, left] = index[row, right] = 4
            if row + 1 < height and body[row + 1, left]:
                index[row + 1, left] = index[row + 1, right] = 5
    # outline: background cells touching the body (8-neighbourhood) become the dark colour
    padded_body = np.pad(body, 1)
    index = np.pad(index, 1, constant_values=-1)
    ring = ndimage.binary_dilation(padded_body, structure=np.ones((3, 3), bool)) & ~padded_body
    index[ring] = 5
    # pixels: each cell becomes a block of `scale` x `scale` pixels
    scale = int(rng.integers(2, 5))
    cells = index.repeat(scale, axis=0).repeat(scale, axis=1)
    visible = cells >= 0
    sprite = np.zeros((*cells.shape, 4), np.uint8)
    sprite[..., :3] = np.rint(palette[np.clip(cells, 0, None)]).astype(np.uint8)
    sprite[..., 3] = np.where(visible, 255, 0)
    sprite[~visible] = 0
    # canvas: random size and position (so trimming has work to do); mostly transparent
    # backgrounds with black under them (as many sprite files have), some opaque white
    sprite_height, sprite_width = sprite.shape[:2]
    side = max(sprite_height, sprite_width) + int(rng.integers(4, 28))
    canvas = np.zeros((side, side, 4), np.uint8)
    if rng.random() < 0.2:
        canvas[...] = 255
        sprite[~visible] = 255
    top = int(rng.integers(0, side - sprite_height + 1))
    left = int(rng.integers(0, side - sprite_width + 1))
    canvas[top: top + sprite_height, left: left + sprite_width] = sprite
    return canvas


def procedural_sprites(count=1000, seed=0, duplicate_fraction=0.02) -> ImageList:
    """Made-up pixel creatures: the offline stand-in for the Pokemon sprites (not files).

    Each sprite is a left-right symmetric blob on a small grid (4 to 15 cells wide), with a
    dark outline, a palette of a few shades of one hue plus an accent colour, a pair of
    eyes, drawn with 2 to 4 pixels per cell. Like a scraped sprite folder they are messy on
    purpose: RGBA with transparent (black underneath) or white backgrounds, canvases of
    different sizes with the creature off-centre, and ``duplicate_fraction`` of them exact
    copies of earlier ones, so every cleaning step has something to do.

    Args:
        count: how many sprites (a few hundred to a few thousand; 1000 take about a second).
        seed: the same seed gives the same sprites.
        duplicate_fraction: share of exact copies, in [0, 0.5).

    Returns:
        An :class:`ImageList` of RGBA float32 [-1, 1] images of different sizes.
    """
    count = check_positive("count", count, integer=True)
    duplicate_fraction = check_range("duplicate_fraction", duplicate_fraction, 0.0, 0.5, high_open=True)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed={seed!r} must be an integer >= 0.")
    rng = np.random.default_rng(seed)
    sprites = [_one_sprite(rng) for _ in range(count)]
    copies = int(round(duplicate_fraction * count)) if count > 1 else 0
    names = [f"procedural_{i:05d}" for i in range(count)]
    if copies:
        targets = rng.choice(np.arange(1, count), size=copies, replace=False)
        for target in np.sort(targets):
            source_index = int(rng.integers(0, target))
            sprites[target] = sprites[source_index].copy()
            names[target] = f"procedural_{target:05d} (copy of {source_index:05d})"
    return ImageList([from_uint8(s) for s in sprites], paths=names)


def load_sprites(image_size=64, source="auto", path=None, channels=3, count=1000, seed=0,
                 resample="bicubic", timeout=5.0, verbose=True) -> ImageSet:
    """Sprites for lesson 03: the Pokemon sprites when present or downloadable, else procedural.

    Either way the same cleaning steps run (printing the count after each):
    composite on white, trim empty borders (blank images dropped), resize, drop exact
    duplicates. See :func:`clean_sprites` and the step functions to show them one by one.

    Args:
        image_size: output size; 64 in d2l's Pokemon DCGAN (the classic Keras model uses 28).
        source: 'auto' (Pokemon if in the data folder or downloadable, else procedural),
            'pokemon' (or an error that says where to put pokemon.zip), 'procedural'.
        path: your own folder of sprites (any subfolders), used instead of the download.
        channels: 3 (RGB on white) or 4 (RGBA, for the classic 28x28x4 model); 1 for grey.
        count, seed: size and seed of the procedural set.
        resample: the resizing filter (see :func:`load_image`).
        timeout: seconds per download mirror before giving up ('auto' falls back quickly).
        verbose: print which source was used and the counts.

    Returns:
        An in-memory :class:`ImageSet`; ``.log`` holds the (step, count) pairs.
    """
    size = _check_image_size(image_size)
    channels = _check_channels(channels)
    check_choice("source", source, ("auto", "pokemon", "procedural"))
    _check_resample(resample)
    if source == "procedural" and path is not None:
        raise ValueError(f"path={str(path)!r} cannot be used with source='procedural'; use source='auto' "
                         "or 'pokemon' to read your own sprites.")
    folder, note = None, None
    if path is not None:
        folder = _check_folder(path)
    elif source in ("auto", "pokemon"):
        try:
            folder = fetch("pokemon", timeout=timeout, progress=verbose)
        except (OSError, ValueError) as error:
            if source == "pokemon":
                raise
            note = _short_reason(error)
    if folder is None:
        _say(verbose, (f"load_sprites: the Pokemon sprites are not available ({note}).\n" if note else "")
             + f"load_sprites: using {count} procedural sprites (seed {seed}), cleaned:")
        raw = procedural_sprites(count, seed=seed)
        array, log = clean_sprites(raw, size, channels=channels, resample=resample, verbose=verbose)
        return ImageSet("procedural", f"{len(array)} procedural sprites (seed {seed}) at {size[0]}x{size[1]}",
                        size, channels, pixels=to_uint8(array), log=log,
                        note=None if note is None else f"Pokemon sprites not available: {note}")
    label = "pokemon" if path is None else "folder"
    _say(verbose, f"load_sprites: reading sprites from {folder}, cleaned:")
    candidates, others = _list_files(folder, recursive=True)
    skipped = [SkippedFile(p, f"not an image file (extension {os.path.splitext(p)[1] or 'none'})") for p in others]
    if not candidates:
        raise DataFolderError(f"path={str(folder)!r} holds no image files (looked for {', '.join(IMAGE_EXTENSIONS)}).")
    chunks, paths, read, counts = [], [], 0, np.zeros(3, int)
    starts = range(0, len(candidates), 1024)  # in chunks: full-size sprites are never all in memory
    if verbose and len(candidates) > 2048:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="cleaning sprites", unit="chunk")
    for start in starts:
        arrays, kept, bad = _decode_all(candidates[start: start + 1024], _raw_rgba, False, label)
        skipped.extend(bad)
        read += len(arrays)
        pixels, chunk_paths, chunk_counts = _clean_steps(
            ImageList([from_uint8(a) for a in arrays], paths=kept), size, channels, resample)
        chunks.append(pixels)
        paths.extend(chunk_paths)
        counts += chunk_counts
    _warn_skipped(f"load_sprites {folder}", skipped, len(candidates) + len(others))
    pixels = np.concatenate(chunks)
    if not len(pixels):
        raise DataFolderError(f"path={str(folder)!r}: no sprite could be read, or all were blank.")
    unique = _first_of_each(pixels)
    log = _cleaning_log(read, counts.tolist(), len(unique), size)
    if verbose:
        _print_log(log)
        if skipped:
            print(f"  ({len(skipped)} unreadable or non-image files skipped: see .skipped)")
    return ImageSet(label, f"{len(unique)} sprites from {folder} at {size[0]}x{size[1]}", size, channels,
                    pixels=pixels[unique], skipped=skipped, log=log, root=folder,
                    paths=[paths[i] for i in unique])
