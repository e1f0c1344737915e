"""Faces for lesson 02: CelebA when present or downloadable, else the 100 LFW faces that
ship with scikit-image.
"""
from __future__ import annotations

import numpy as np

from .._checks import check_choice
from .downloads import REGISTRY, _short_reason, fetch
from .files import _check_channels, _check_crop, _check_image_size, _resize_uint8
from .imageset import ImageSet, load_folder

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
        if verbose:
            print(f"load_faces: using {faces.description}.")
        return faces
    if path is not None:
        faces = load_folder(path, image_size, channels, crop=chosen_crop, in_memory=in_memory,
                            source="folder", description=f"face images from {path}", verbose=verbose)
        if verbose:
            print(f"load_faces: using {len(faces)} images from {path}.")
        return faces
    try:
        folder = fetch(celeba, timeout=timeout, progress=verbose,
                       download_missing=True)
    except (OSError, ValueError) as error:
        if source == "celeba":
            raise
        reason = _short_reason(error)
        faces = _lfw_faces(image_size, channels)
        if verbose:
            print(f"load_faces: CelebA is not available ({reason}).\n"
                  f"load_faces: using {faces.description} instead.")
        faces.note = f"CelebA is not available: {reason}"
        return faces
    faces = load_folder(folder, image_size, channels, crop=chosen_crop, in_memory=in_memory,
                        source="celeba", description=f"CelebA aligned faces from {folder}", verbose=verbose)
    if verbose:
        print(f"load_faces: using CelebA, {len(faces)} images from {folder} "
              f"({'in memory' if faces.in_memory else 'streamed from disk'}).")
    return faces
