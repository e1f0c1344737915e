"""``ImageSet`` (what ``load_faces``, ``load_sprites`` and ``load_folder`` return), the folder
readers ``load_folder`` / ``image_folder``, and ``training_pipeline`` (single images -> the
shuffled, batched, prefetched ``tf.data.Dataset`` that ``fit`` trains on).
"""
from __future__ import annotations

import hashlib
import json
import numbers
import os
import threading
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from .._checks import check_image_range, check_positive, check_range
from .files import (IMAGE_EXTENSIONS, RESAMPLING, open_image, _check_channels, _check_crop, _check_image_size,
                    _check_resample, _crop_box, _Decoder, _header_problem, _reduce_factor, from_uint8)
from .folders import (DataFolderError, SkippedFile, SkippedImageWarning, _check_folder, _decode_all,
                      _describe_decode_error, _list_files, _warn_skipped)
from .store import DecodedStore, _aligned_uint8, _decoder_settings, _shared_tensor
#: Folders whose images fit in this many bytes (as uint8) are decoded once and kept in memory;
#: larger ones (CelebA) are streamed from disk.
IN_MEMORY_LIMIT_BYTES = 512 * 2**20

#: training_pipeline(cache='auto') caches a data set in memory up to this size (float32).
CACHE_LIMIT_BYTES = 1024 * 2**20

#: A streamed set's ``pipeline(cache='auto')`` keeps the decoded uint8 pixels in memory up to
#: this size and half the memory the system has available (CelebA at 64x64 takes 2.5 GB), and
#: in a cache file on disk (``data_dir()/decoded``) beyond it.
DECODED_MEMORY_LIMIT_BYTES = 4 * 2**30


class _FastDecoder(_Decoder):
    """``_Decoder`` with a shortcut for the common case of an RGB JPEG read as 3 channels
    (CelebA): Pillow crops and resizes the decoded image directly, without the RGBA
    compositing a JPEG has no use for (it has no alpha). The pixels are the same as
    ``_Decoder``'s (tested); anything else (other formats, EXIF rotation, JPEG draft mode,
    a shrink in steps) goes the general way. About 4x faster per CelebA file here.
    """

    def __call__(self, path) -> np.ndarray:
        if self.channels == 3 and self.image_size is not None:
            with open_image(path) as image:
                if image.format == "JPEG" and image.mode == "RGB" and image.getexif().get(0x0112, 1) == 1:
                    width, height = image.size
                    left, top, right, bottom = _crop_box(width, height, self.crop)
                    need = 2.0 * max(self.image_size[0] / (bottom - top), self.image_size[1] / (right - left))
                    box = tuple(int(round(v)) for v in (left, top, right, bottom))
                    if need > 0.5 and _reduce_factor(box, self.image_size) == 1:  # no draft, no reduce
                        image.load()
                        height_out, width_out = self.image_size
                        cropped = image.crop(box)
                        if cropped.size != (width_out, height_out):
                            cropped = cropped.resize((width_out, height_out), RESAMPLING[self.resample])
                        return np.asarray(cropped)
        return super().__call__(path)


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
                 decoder=None, skipped=None, log=None, root=None, paths=None, note=None, groups=None):
        if (pixels is None) == (files is None):
            raise ValueError("ImageSet needs exactly one of pixels= (uint8 array) or files= (paths).")
        if pixels is not None and paths is not None and len(paths) != len(pixels):
            raise ValueError(f"paths has {len(paths)} entries for {len(pixels)} images; give one per image.")
        self.source = source
        self.description = description
        self.image_size = tuple(image_size)
        self.channels = channels
        self._pixels = None if pixels is None else _aligned_uint8(pixels)
        self._files = None if files is None else list(files)
        self._decoder = decoder
        self.skipped = skipped if skipped is not None else []
        self.log = list(log or [])
        self.root = root
        self.note = note  # why a fallback was used, if it was
        self._paths = None if paths is None else list(paths)
        total = len(pixels) if pixels is not None else len(self._files)
        if groups is not None and len(groups) != total:
            raise ValueError(f"groups has {len(groups)} entries for {total} images; give one per image.")
        # Images that must stay on one side of split() (e.g. recolourings of one drawing).
        self.groups = None if groups is None else list(groups)
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
        """How many images there are (for a streamed set, the files not yet found unreadable)."""
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
            path = os.fsdecode(path_bytes) if isinstance(path_bytes, bytes) else str(path_bytes)
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
            # bytes, not str: a name that is not valid UTF-8 (a surrogate escape in Python)
            # cannot become a string tensor; os.fsencode/os.fsdecode round-trip it
            dataset = self._file_dataset(tf.data.Dataset.from_tensor_slices(
                np.array([os.fsencode(path) for path in self._files], dtype=object)))
        return dataset.map(self._to_float, num_parallel_calls=tf.data.AUTOTUNE)

    def pipeline(self, batch_size=128, shuffle=True, seed=None, drop_remainder=True, augment=None,
                 cache="auto", repeat=False, dtype="float32", _shuffle_buffer=None):
        """Batches for ``fit``: shuffled every epoch, batched, optionally augmented, prefetched.

        In-memory sets shuffle the images (arguments as in :func:`training_pipeline`).
        Streamed sets shuffle the image numbers (a full shuffle, no big buffer) and read each
        batch through a store of decoded uint8 pixels: a file is decoded (in parallel) the
        first time it is asked for and kept, so later epochs only gather and convert to float.
        For them ``cache`` is 'auto' (the pixels in memory when they take at most
        ``DECODED_MEMORY_LIMIT_BYTES`` and half the available memory, else in a ``.npy`` file
        under ``data_dir()/decoded``, reused by later runs), True (memory), False (decode
        every epoch) or a file name (that ``.npy`` file). The data set's length is known
        (``len(images) // batch_size`` batches), so ``fit`` shows an ETA and ``fit_gan``
        never reads the files to count them. A file found unreadable while training is
        reported (``skipped``) and its place in the batch taken by another image of the batch.

        ``dtype='uint8'`` yields the batches as uint8 pixels in [0, 255] instead of float32 in
        [-1, 1]: a quarter of the bytes to gather and move, converted in the train step
        (``GAN``, ``WGANGP``, ``ConditionalGAN``; exactly the float32 values). Same images in
        the same order as float32 (the same seeded shuffle, of image numbers, with per-batch
        gathers; in-memory sets too); ``augment`` needs float32 batches.
        """
        dtype = _check_dtype(dtype)
        if dtype == "uint8":
            if augment is not None:
                raise ValueError(f"augment={augment!r} needs float32 batches; with dtype='uint8' the "
                                 "batches are pixels in [0, 255]: use dtype='float32' to augment, or "
                                 "augment inside the GAN (e.g. GAN(augment=...)).")
            if cache not in ("auto", True, False) and not isinstance(cache, (str, os.PathLike)):
                raise ValueError(f"cache={cache!r} is not allowed; use 'auto', True, False or a file name.")
            if self._pixels is not None:  # the same order as the float32 path's shuffle of images
                count = len(self)
                batch_size = _check_batch_size(batch_size, count, drop_remainder)
                buffer = _shuffle_buffer or min(count, 10_000)
                return _index_batches(count, batch_size, self._pixels.__getitem__, self.shape, shuffle, seed,
                                      drop_remainder, repeat, buffer, view=self._pixel_tensor())
        if self._pixels is not None:
            if cache == "auto":
                cache = False  # already in memory: converting to float on the fly costs nothing
            return training_pipeline(self.dataset, batch_size=batch_size, shuffle=shuffle, seed=seed,
                                     drop_remainder=drop_remainder, augment=augment, cache=cache,
                                     repeat=repeat, _count=len(self))
        if cache not in ("auto", True, False) and not isinstance(cache, (str, os.PathLike)):
            raise ValueError(f"cache={cache!r} is not allowed; use 'auto', True, False or a file name.")
        if augment is not None and not callable(augment):
            raise ValueError(f"augment={augment!r} must be a function batch -> batch (or None).")
        count = len(self._files)
        batch_size = _check_batch_size(batch_size, len(self), drop_remainder)
        store = self.decoded_store(cache)
        shape = self.shape

        return _index_batches(count, batch_size, store.gather, shape, shuffle, seed, drop_remainder, repeat,
                              count, dtype=dtype, augment=augment, view=store.tensor(),
                              resolve=store.resolve, ready=store.ready_flag())

    def _pixel_tensor(self):
        """The in-memory pixels as a ``tf.Tensor`` sharing their memory (made once); a copy
        where they cannot be shared."""
        with self._lock:
            if self.__dict__.get("_tensor") is None:
                import tensorflow as tf

                self._tensor = _shared_tensor(self._pixels)
                if self._tensor is None:
                    self._tensor = tf.constant(self._pixels)
            return self._tensor

    def decoded_store(self, cache="auto") -> "DecodedStore":
        """The store of decoded uint8 pixels behind ``pipeline`` for a streamed set (one per
        place: the same object for every pipeline of this set); see :class:`~ganlib.data.store.DecodedStore`."""
        if self._files is None:
            raise ValueError("decoded_store() is for streamed sets; this ImageSet is in memory already.")
        size = len(self._files) * int(np.prod(self.shape))
        if cache is False:
            key = ("none", None)
        elif cache is True or (cache == "auto" and size <= _memory_budget()):
            key = ("memory", None)
        else:
            key = ("disk", Path(cache) if cache != "auto" else _default_cache_file(self))
        with self._lock:
            stores = self.__dict__.setdefault("_stores", {})
            if key not in stores:
                stores[key] = DecodedStore(self._files, self._decoder, self.shape, where=key[0],
                                           path=key[1], report=self._note_skipped, label=self.source)
            return stores[key]

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
                      log=self.log, root=self.root,
                      groups=None if self.groups is None else [self.groups[i] for i in indices])
        if self._pixels is not None:
            paths = None if self._paths is None else [self._paths[i] for i in indices]
            return ImageSet(pixels=self._pixels[indices], paths=paths, **kwargs)
        return ImageSet(files=[self._files[i] for i in indices], decoder=self._decoder, **kwargs)

    def split(self, held_out=0.2, seed=0):
        """Split into ``(train, held_out)`` at random (reproducible by ``seed``), disjoint.

        Args:
            held_out: a fraction in (0, 1) or a number of images (>= 1) to hold out.
            seed: seed of the random permutation.

        When the set has ``groups`` (one key per image, e.g. :func:`load_emoji`'s skin tones of
        one drawing), whole groups are held out, so the held-out part may be a few images
        larger than asked and no image has a recoloured twin on the other side.

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
        if self.groups is None:
            order = np.random.default_rng(seed).permutation(total)
            held, train = np.sort(order[:count]), np.sort(order[count:])
        else:  # whole groups, in random order, until the held-out part has about ``count`` images
            keys = sorted(set(self.groups), key=str)
            members = {key: [] for key in keys}
            for index, key in enumerate(self.groups):
                members[key].append(index)
            chosen = []
            for position in np.random.default_rng(seed).permutation(len(keys)):
                if len(chosen) >= count:
                    break
                chosen.extend(members[keys[position]])
            if len(chosen) >= total:
                raise ValueError(f"held_out={held_out!r} takes every group of images; hold out fewer.")
            held = np.sort(np.array(chosen, dtype=np.int64))
            train = np.setdiff1d(np.arange(total), held)
        return (self.subset(train, description=f"{self.description} (train part, {len(train)})"),
                self.subset(held, description=f"{self.description} (held-out part, {len(held)})"))


def _memory_budget() -> int:
    """Bytes a streamed set's decoded pixels may take in memory: ``DECODED_MEMORY_LIMIT_BYTES``
    and at most half of the memory available now (Linux's MemAvailable; elsewhere the free
    pages), so a Colab runtime (12.7 GB) keeps CelebA at 64x64 (2.5 GB) in memory."""
    available = None
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError):
        pass
    if available is None:
        try:
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, OSError, ValueError):
            available = 2 * DECODED_MEMORY_LIMIT_BYTES
    return int(min(DECODED_MEMORY_LIMIT_BYTES, available // 2))



def _default_cache_file(images) -> Path:
    """``data_dir()/decoded/<source>-<H>x<W>x<C>-<n>-<hash of the folder and decoder>.npy``."""
    from .downloads import data_dir

    height, width = images.image_size
    digest = hashlib.sha256(json.dumps([str(images.root), _decoder_settings(images._decoder),
                                        len(images._files)]).encode()).hexdigest()[:12]
    name = f"{images.source}-{height}x{width}x{images.channels}-{len(images._files)}-{digest}.npy"
    return data_dir() / "decoded" / name


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
    links = []
    candidates, others = _list_files(folder, recursive, skipped=links)
    skipped = [SkippedFile(p, f"not an image file (extension {os.path.splitext(p)[1] or 'none'})")
               for p in others] + links
    if not candidates:
        raise DataFolderError(
            f"path={str(path)!r} holds no image files (looked for {', '.join(IMAGE_EXTENSIONS)}"
            f"{' in every subfolder' if recursive else ''}; found {len(others)} other files)."
        )
    total = len(candidates) + len(others)
    decoder = _FastDecoder(image_size, channels, crop, resample)
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
        DataFolderError: (a ValueError) the folder is missing, empty, or has no readable image.
    """
    images = load_folder(path, image_size, channels=channels, crop=crop, resample=resample,
                         in_memory=in_memory, recursive=recursive, verbose=verbose, _stacklevel=4)
    dataset = images.dataset
    dataset.report = images
    return dataset


PIPELINE_DTYPES = ("float32", "uint8")


def _check_dtype(dtype):
    """'float32' or 'uint8' (also given as a NumPy or TensorFlow dtype)."""
    name = np.dtype(dtype).name if isinstance(dtype, type) and issubclass(dtype, np.generic) else \
        getattr(dtype, "name", dtype)
    if not isinstance(name, str) or name not in PIPELINE_DTYPES:
        raise ValueError(f"dtype={dtype!r} is not allowed; use 'float32' (images in [-1, 1]) or 'uint8' "
                         "(pixels in [0, 255], converted in the train step).")
    return name


#: TensorFlow reads a CPU tensor's memory only at this alignment (Eigen's EIGEN_MAX_ALIGN_BYTES).

def _index_batches(count, batch_size, gather, shape, shuffle, seed, drop_remainder, repeat, buffer,
                   dtype="uint8", augment=None, view=None, resolve=None, ready=None):
    """Batches of a uint8 store: the image numbers shuffled (seeded, anew each pass) and batched
    in ``tf.data``, then one gather per batch. The shuffle draws the same order as the float32
    pipelines' (its draws do not depend on what it shuffles). ``dtype='float32'`` converts each
    batch to [-1, 1] exactly as ``from_uint8``, then applies ``augment``.

    The gather: ``tf.gather`` on ``view`` (a tensor sharing the pixels' memory) when there is
    one, else ``gather(indices)`` in NumPy through ``tf.numpy_function``. The ``tf.gather``
    reads about twice the images per second (``bench --data``, benchmarks/README.md):
    ``numpy_function`` costs a Python call and a copy of each batch. With
    ``resolve`` (a store that decodes files the first time they are asked for) each batch's
    numbers first go through ``resolve`` in Python, which decodes and replaces unreadable files;
    once the one-element tensor ``ready`` reads 1 (every file decoded, none unreadable) that
    call is skipped."""
    import tensorflow as tf

    fixed = batch_size if drop_remainder else None

    def gather_numpy(indices):
        pixels = tf.numpy_function(gather, [indices], tf.uint8, stateful=False)
        pixels.set_shape((fixed, *shape))
        return pixels

    def resolved(indices):
        numbers = tf.numpy_function(resolve, [indices], tf.int64, stateful=True)
        numbers.set_shape(indices.shape)
        return numbers

    def load(indices):
        if view is None:
            pixels = gather_numpy(indices)
        else:
            if resolve is not None:
                if ready is None:
                    indices = resolved(indices)
                else:
                    indices = tf.cond(ready[0] > 0, lambda: indices, lambda: resolved(indices))
            pixels = tf.gather(view, indices)
            pixels.set_shape((fixed, *shape))
        return pixels if dtype == "uint8" else tf.cast(pixels, tf.float32) / 127.5 - 1.0

    indices = tf.data.Dataset.range(count)
    if shuffle:
        indices = indices.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        indices = indices.repeat()
    batches = indices.batch(batch_size, drop_remainder=drop_remainder)
    batches = batches.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if augment is not None:
        batches = batches.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    return batches.prefetch(tf.data.AUTOTUNE)


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
                      augment=None, cache="auto", shuffle_buffer=None, repeat=False, dtype="float32",
                      _count=None):
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
        dtype: 'float32' (default: images in [-1, 1]) or 'uint8': pixels in [0, 255] that the
            train step converts (a quarter of the bytes; see ``ImageSet.pipeline``). 'uint8'
            needs uint8 images: an :class:`ImageSet`, :func:`image_folder`'s data set, or a
            data set or array of uint8 pixels.

    Returns:
        A ``tf.data.Dataset`` of float32 (or uint8) batches (batch, H, W, C), prefetched.
    """
    import tensorflow as tf

    dtype = _check_dtype(dtype)
    if isinstance(getattr(images, "report", None), ImageSet) and images is not None and \
            (getattr(images.report, "_files", None) is not None or dtype == "uint8"):
        images = images.report  # image_folder's streamed data set: batches through its decoded store
    if isinstance(images, ImageSet):
        return images.pipeline(batch_size=batch_size, shuffle=shuffle, seed=seed,
                               drop_remainder=drop_remainder, augment=augment, cache=cache,
                               repeat=repeat, dtype=dtype, _shuffle_buffer=shuffle_buffer)
    if dtype == "uint8":
        given = getattr(images, "dtype", None) if isinstance(images, np.ndarray) else \
            getattr(getattr(images, "element_spec", None), "dtype", None)
        if getattr(given, "name", str(given)) != "uint8":
            raise ValueError(f"dtype='uint8' needs uint8 pixels; images has dtype {getattr(given, 'name', given)}. "
                             "Use dtype='float32' for float images.")
        if augment is not None:
            raise ValueError(f"augment={augment!r} needs float32 batches; use dtype='float32' to augment.")
    if isinstance(images, np.ndarray) and dtype == "uint8":
        if images.ndim != 4 or images.shape[-1] not in (1, 3, 4) or images.shape[0] == 0:
            raise ValueError(f"images has shape {images.shape}; expected (n, H, W, C) with n >= 1 "
                             "and C in (1, 3, 4).")
        _count = images.shape[0]
        images = tf.data.Dataset.from_tensor_slices(images)
    elif isinstance(images, np.ndarray):
        if images.ndim != 4 or images.shape[-1] not in (1, 3, 4) or images.shape[0] == 0:
            raise ValueError(f"images has shape {images.shape}; expected (n, H, W, C) with n >= 1 "
                             "and C in (1, 3, 4).")
        images = check_image_range("images", images, hint="use ganlib.data.from_uint8 for uint8 pixels")
        _count = images.shape[0]
        images = tf.data.Dataset.from_tensor_slices(images)
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
    if spec.dtype != tf.float32 and dtype == "float32":
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
