"""Images with class labels, for conditional GANs (lesson 06).

* ``load_labelled_folder(path, image_size, channels)``: a folder of class subfolders,
  ``path/<class>/*.png``, the convention of ``keras.utils.image_dataset_from_directory``
  and torchvision's ``ImageFolder``: the subfolder names, sorted, are the classes and their
  positions the label ids.
* ``load_digits(image_size=16)``: the 1,797 handwritten digits (8x8, 10 classes) that ship
  with scikit-learn, offline.
* ``load_mnist(image_size=32)``: MNIST (or Fashion-MNIST) as ``keras.datasets`` downloads
  it; when the download fails, the scikit-learn digits instead (and it says so).

Each returns a ``LabelledImages``: images float32 in [-1, 1] (kept as uint8 inside) with an
integer label each, the class names, a stratified ``split`` and a ``pipeline`` of
``(images, labels)`` batches for ``ganlib.conditional.ConditionalGAN.fit``.
"""
from __future__ import annotations

import numbers
import os

import numpy as np

from .._checks import check_positive, check_range
from . import downloads
from .files import _check_channels, _check_crop, _check_image_size, _check_resample, _Decoder, _resize_uint8, from_uint8
from .folders import DataFolderError, SkippedFile, _check_folder, _decode_all, _list_files, _warn_skipped

__all__ = ["LabelledImages", "load_labelled_folder", "load_digits", "load_mnist"]


class LabelledImages:
    """Images with one integer class label each.

    Attributes:
        pixels: uint8 array (n, H, W, C); ``images`` / ``numpy()`` give float32 in [-1, 1].
        labels: int32 array (n,), each in 0 .. n_classes - 1.
        class_names: tuple of the classes' names; label i is ``class_names[i]``.
        source: where the images came from ('folder', 'digits', 'mnist', ...).
        description: the same, in a sentence.
        images: the pixels as float32 in [-1, 1], shape (n, H, W, C).
        n_classes: the number of classes.
        image_size: H (= W).
        channels: C.
        skipped: the files left out (``ganlib.data.SkippedFile``: path and reason).
        note: why a fallback was used, if one was.
    """

    def __init__(self, pixels, labels, class_names, source, description, skipped=None, note=None, files=None):
        pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
        labels = np.asarray(labels)
        if pixels.ndim != 4:
            raise ValueError(f"pixels has shape {pixels.shape}; expected (n, H, W, C).")
        if labels.shape != (len(pixels),):
            raise ValueError(f"labels has shape {labels.shape} for {len(pixels)} images; give one label per image.")
        class_names = tuple(str(name) for name in class_names)
        if labels.size and (labels.min() < 0 or labels.max() >= len(class_names)):
            raise ValueError(f"labels has values {int(labels.min())} to {int(labels.max())}; with "
                             f"{len(class_names)} class names they must lie in 0 to {len(class_names) - 1}.")
        self.pixels = pixels
        self.labels = labels.astype(np.int32)
        self.class_names = class_names
        self.source = source
        self.description = description
        self.skipped = list(skipped or [])
        self.note = note
        self.files = None if files is None else list(files)

    # --- facts -------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(len(self.labels))

    @property
    def n_classes(self) -> int:
        """The number of classes, ``len(class_names)``."""
        return len(self.class_names)

    @property
    def shape(self) -> tuple:
        """(H, W, C) of every image."""
        return tuple(self.pixels.shape[1:])

    @property
    def image_size(self) -> int:
        """H (= W) of the images."""
        return int(self.pixels.shape[1])

    @property
    def channels(self) -> int:
        """C, the channels of the images."""
        return int(self.pixels.shape[-1])

    def counts(self) -> np.ndarray:
        """Images per class, an int array (n_classes,)."""
        return np.bincount(self.labels, minlength=self.n_classes)

    def __repr__(self):
        height, width, channels = self.shape
        return (f"LabelledImages(source={self.source!r}, {len(self)} images of {height}x{width}x{channels}, "
                f"{self.n_classes} classes)")

    # --- arrays ------------------------------------------------------------------------
    def numpy(self, limit=None) -> np.ndarray:
        """The images (or the first ``limit``) as float32 in [-1, 1], shape (n, H, W, C)."""
        if limit is not None:
            limit = check_positive("limit", limit, integer=True)
        return from_uint8(self.pixels[:limit])

    @property
    def images(self) -> np.ndarray:
        """The images as float32 in [-1, 1], shape (n, H, W, C), as ``numpy()`` gives them."""
        return self.numpy()

    def subset(self, indices, description=None) -> "LabelledImages":
        """The images at ``indices`` (with their labels), as a new ``LabelledImages``."""
        indices = np.asarray(indices, dtype=np.int64)
        files = None if self.files is None else [self.files[i] for i in indices]
        return LabelledImages(self.pixels[indices], self.labels[indices], self.class_names, self.source,
                              description or self.description, skipped=self.skipped, note=self.note,
                              files=files)

    def split(self, held_out=0.2, seed=0):
        """Split into ``(train, held_out)``, disjoint and *stratified*: each class is split in
        the same proportion, so both parts keep the class balance.

        Args:
            held_out: a fraction in (0, 1) of every class, or a total number of images
                (>= 1; then each class gives its share, rounded).
            seed: seed of the random choice within each class.
        """
        total = len(self)
        if isinstance(held_out, numbers.Integral) and not isinstance(held_out, bool):
            if not 1 <= held_out < total:
                raise ValueError(f"held_out={held_out!r} must be between 1 and {total - 1} images "
                                 f"(the set has {total}), or a fraction in (0, 1).")
            fraction = held_out / total
        else:
            fraction = check_range("held_out", held_out, 0.0, 1.0, low_open=True, high_open=True)
        rng = np.random.default_rng(seed)
        held, train = [], []
        for label in range(self.n_classes):
            members = rng.permutation(np.flatnonzero(self.labels == label))
            count = int(round(fraction * len(members)))
            held.extend(members[:count])
            train.extend(members[count:])
        if not held or not train:
            raise ValueError(f"held_out={held_out!r} leaves {len(held)} held-out and {len(train)} training "
                             "images; each part needs at least one.")
        held, train = np.sort(held), np.sort(train)
        return (self.subset(train, f"{self.description} (train part, {len(train)})"),
                self.subset(held, f"{self.description} (held-out part, {len(held)})"))

    def pipeline(self, batch_size=64, shuffle=True, seed=None, drop_remainder=True, repeat=False,
                 dtype="float32"):
        """Batches of ``(images, labels)`` for ``ConditionalGAN.fit``: float32 images in
        [-1, 1] (converted from uint8 on the fly), int32 labels, shuffled every epoch
        (seeded by ``seed``), batched, prefetched; ``repeat`` repeats forever (then give
        ``steps_per_epoch`` to ``fit``). ``dtype='uint8'`` keeps the images as pixels in
        [0, 255], converted in the train step (same batches, a quarter of the bytes)."""
        import tensorflow as tf

        from .imageset import _check_dtype

        dtype = _check_dtype(dtype)
        batch_size = check_positive("batch_size", batch_size, integer=True)
        if drop_remainder and batch_size > len(self):
            raise ValueError(f"batch_size={batch_size} is more than the {len(self)} images; with "
                             f"drop_remainder=True no batch would be made. Use batch_size <= {len(self)}.")
        dataset = tf.data.Dataset.from_tensor_slices((self.pixels, self.labels))
        if shuffle:
            dataset = dataset.shuffle(len(self), seed=seed, reshuffle_each_iteration=True)
        if repeat:
            dataset = dataset.repeat()
        dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
        if dtype == "float32":
            dataset = dataset.map(lambda pixels, labels: (tf.cast(pixels, tf.float32) / 127.5 - 1.0, labels),
                                  num_parallel_calls=tf.data.AUTOTUNE)
        return dataset.prefetch(tf.data.AUTOTUNE)


def _class_folders(folder):
    """The names of the subfolders (and links to folders), sorted; a link that leads nowhere
    or to itself is not a folder."""
    return sorted(entry.name for entry in os.scandir(folder)
                  if not entry.name.startswith(".") and os.path.isdir(entry.path))


def load_labelled_folder(path, image_size, channels=3, crop="square", resample="bicubic",
                         verbose=True) -> LabelledImages:
    """Read a folder of class subfolders, ``path/<class>/<image>``, into ``LabelledImages``.

    The subfolders' names, sorted, are the classes: the first is label 0 (the convention of
    ``keras.utils.image_dataset_from_directory`` and torchvision's ``ImageFolder``). Images
    in deeper folders count for their top-level class folder. Each image is read as
    ``ganlib.data.load_image`` reads it (grey or colour, transparency on white, centre crop,
    resize). Unreadable files, files that are not images and files lying directly in
    ``path`` (no class) are skipped, listed in ``.skipped`` with the reason and announced
    in one ``SkippedImageWarning``, as ``load_folder`` does. The pixels are kept in memory.

    Args:
        path: the folder holding one subfolder per class.
        image_size: an int (square) or (height, width).
        channels: 1, 3 or 4.
        crop, resample: as for ``ganlib.data.load_folder``.
        verbose: show a progress bar for large folders.

    Raises:
        DataFolderError: (a ValueError) the folder is missing, has fewer than two class
            subfolders with images, or none of its images can be read.
    """
    image_size = _check_image_size(image_size)
    channels = _check_channels(channels)
    crop = _check_crop(crop)
    resample = _check_resample(resample)
    folder = _check_folder(path)
    skipped = []
    loose_images, loose_others = _list_files(folder, recursive=False, skipped=skipped)
    skipped += [SkippedFile(p, "not in a class subfolder") for p in loose_images + loose_others]
    names, paths, labels = [], [], []
    seen = {os.path.realpath(folder)}  # each real folder is read once, as the first class that links to it
    for name in _class_folders(folder):
        real = os.path.realpath(folder / name)
        if real in seen or os.path.commonpath([real, os.path.realpath(folder)]) == real:
            skipped.append(SkippedFile(str(folder / name), "a link to a folder that is read already (the labelled "
                                       "folder itself, a parent or another class): not a class of its own"))
            continue
        candidates, others = _list_files(folder / name, recursive=True, skipped=skipped, seen=seen)
        skipped += [SkippedFile(p, f"not an image file (extension {os.path.splitext(p)[1] or 'none'})")
                    for p in others]
        if candidates:
            labels += [len(names)] * len(candidates)
            names.append(name)
            paths += candidates
    if len(names) < 2:
        raise DataFolderError(
            f"path={str(path)!r} has {len(names)} subfolder(s) with images ({', '.join(names) or 'none'}); "
            "a labelled folder holds one subfolder per class, at least two, e.g. "
            f"{os.path.join(str(path), 'cats', 'img1.png')} and {os.path.join(str(path), 'dogs', 'img2.png')}."
        )
    total = len(paths) + len(skipped)
    decoder = _Decoder(image_size, channels, crop, resample)
    arrays, kept, bad = _decode_all(paths, decoder, verbose, str(folder))
    skipped += bad
    _warn_skipped(f"labelled folder {folder}", skipped, total, stacklevel=3)
    if not arrays:
        raise DataFolderError(f"path={str(path)!r}: none of its {len(paths)} image files could be read "
                              f"(e.g. {bad[0].name}: {bad[0].reason}).")
    label_of = dict(zip(paths, labels))
    kept_labels = np.array([label_of[p] for p in kept], dtype=np.int32)
    images = LabelledImages(np.stack(arrays), kept_labels, names, "folder",
                            f"{len(kept)} images in {len(names)} classes from {folder}", skipped=skipped,
                            files=kept)
    empty = [names[i] for i, count in enumerate(images.counts()) if count == 0]
    if empty:
        import warnings

        warnings.warn(f"labelled folder {folder}: no readable image in class(es) {', '.join(empty)}; "
                      "they keep their label ids but have no examples.", stacklevel=2)
    return images


def _resized_grey(pixels, image_size):
    """uint8 (n, h, w) -> (n, H, W, 1), bicubic."""
    grey = pixels[..., None]
    if tuple(grey.shape[1:3]) == tuple(image_size):
        return grey
    return np.stack([_resize_uint8(image, image_size, "bicubic") for image in grey])


def load_digits(image_size=16) -> LabelledImages:
    """The 1,797 handwritten digits of scikit-learn (``sklearn.datasets.load_digits``), offline.

    8x8 grey images of the digits 0-9 (about 180 of each; UCI "Optical Recognition of
    Handwritten Digits", Alpaydin & Kaynak 1998), with 17 grey levels (0-16), scaled to
    [0, 255] and resized (bicubic) to ``image_size``; 16, the default, is the smallest size
    of ``ganlib.models``' networks and of the image metrics. Ink is white on black, as in
    MNIST: background -1, full ink +1.

    Returns:
        ``LabelledImages`` (source 'digits', class names '0' .. '9').
    """
    from sklearn.datasets import load_digits as sklearn_digits

    image_size = _check_image_size(image_size)
    bunch = sklearn_digits()
    pixels = np.clip(np.rint(bunch.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    pixels = _resized_grey(pixels, image_size)
    height, width = image_size
    return LabelledImages(pixels, bunch.target, [str(digit) for digit in range(10)], "digits",
                          f"scikit-learn's {len(pixels)} handwritten digits (8x8, resized to {height}x{width})")


def _mnist_arrays():
    """``((x_train, y_train), (x_test, y_test))`` of ``downloads.MNIST``: what
    ``keras.datasets.mnist.load_data()`` does (``keras.utils.get_file`` into Keras' cache, the
    sha256 checked, the file read), with the mirrors and checksum ganlib keeps (which
    ``GANLIB_SOURCES`` may replace). Raises the last mirror's error when none works."""
    import keras

    source = downloads.MNIST
    algorithm, digest = downloads._parse_checksum(source.checksum)
    for index, url in enumerate(source.mirrors):
        try:
            path = keras.utils.get_file(source.archive, url, file_hash=digest, hash_algorithm=algorithm,
                                        cache_dir=os.environ.get("KERAS_HOME") or None)  # read now, not at import
            break
        except Exception:  # Keras' "URL fetch failure", a checksum mismatch: the next mirror
            if index == len(source.mirrors) - 1:
                raise
    with np.load(path, allow_pickle=False) as arrays:
        return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def load_mnist(image_size=32, fashion=False, fallback=True, verbose=True) -> LabelledImages:
    """MNIST (LeCun et al. 1998) or Fashion-MNIST (Xiao et al. 2017): 70,000 28x28 grey images
    in 10 classes, the training and test sets together, as ``keras.datasets`` gets them
    (downloaded once into ``~/.keras/datasets``, about 11 MB or 30 MB; MNIST's address and
    sha256 are ``ganlib.data.downloads.MNIST``, which ``GANLIB_SOURCES`` may replace).

    The 28x28 images are padded with 2 black pixels on each side to 32x32 (as LeNet-5's
    input, LeCun et al. 1998), then resized to ``image_size`` if it differs.

    Args:
        image_size: output size (default 32).
        fashion: Fashion-MNIST instead of MNIST.
        fallback: when the download fails, return ``load_digits(image_size)`` instead (its
            ``note`` says why); False raises the download error.
        verbose: print which data set was used and why.
    """
    import keras

    image_size = _check_image_size(image_size)
    name = "Fashion-MNIST" if fashion else "MNIST"
    try:
        (x_train, y_train), (x_test, y_test) = (keras.datasets.fashion_mnist.load_data() if fashion
                                                else _mnist_arrays())
    except Exception as error:  # no network, a proxy, a truncated file: the offline digits instead
        if not fallback:
            raise
        reason = " ".join(str(error).split())[:160] or type(error).__name__
        digits = load_digits(image_size)
        digits.note = f"{name} is not available: {reason}"
        if verbose:
            print(f"load_mnist: {name} is not available ({reason}).\n"
                  f"load_mnist: using {digits.description} instead.")
        return digits
    pixels = np.pad(np.concatenate([x_train, x_test]), ((0, 0), (2, 2), (2, 2)))
    labels = np.concatenate([y_train, y_test])
    pixels = _resized_grey(pixels.astype(np.uint8), image_size)
    classes = (["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                "Ankle boot"] if fashion else [str(digit) for digit in range(10)])
    height, width = image_size
    images = LabelledImages(pixels, labels, classes, "fashion_mnist" if fashion else "mnist",
                            f"{name}, {len(pixels)} images (28x28 padded to 32x32, at {height}x{width})")
    if verbose:
        print(f"load_mnist: using {images.description}.")
    return images
