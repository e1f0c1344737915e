"""Image data for the GAN lessons: folders of images, downloads, faces and sprites.

Every image this package hands out is ``float32`` in ``[-1, 1]`` with shape ``(H, W, C)``
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

Where things live (every public name is also importable from ``ganlib.data`` itself):

* ``files``: one image file -> pixels (decode, composite on white, crop, resize),
  ``load_image``, ``to_uint8`` / ``from_uint8``;
* ``folders``: listing folders, decoding many files, reporting the unreadable ones;
* ``imageset``: ``ImageSet``, ``load_folder``, ``image_folder``, ``training_pipeline``;
* ``downloads``: ``data_dir``, ``archive_dir``, ``download``, ``extract``, ``DataSource``, ``REGISTRY``, ``fetch``;
* ``faces``: ``load_faces`` (CelebA, or the LFW faces of scikit-image);
* ``emoji``: ``load_emoji`` (the 4,495 OpenMoji colour emoji, offline, CC BY-SA 4.0);
* ``cleaning``: the sprite cleaning steps (``composite_on_white`` ... ``clean_sprites``);
* ``sprites``: ``load_sprites`` and ``procedural_sprites`` (the offline sprites are made here).
* ``labelled``: images with class labels for conditional GANs: ``load_labelled_folder``
  (``path/<class>/*.png``), ``load_digits`` (scikit-learn's 8x8 digits), ``load_mnist``.
"""
from .cleaning import (ImageList, clean_sprites, composite_on_white, drop_duplicates, read_images,
                       resize_images, trim_borders)
from .downloads import (REGISTRY, DataSource, DownloadError, archive_dir, data_dir, download, extract, fetch,
                        file_digest)
from .emoji import emoji_group, load_emoji
from .faces import load_faces
from .files import IMAGE_EXTENSIONS, RESAMPLING, from_uint8, load_image, to_uint8  # RESAMPLING and the *_LIMIT_BYTES: as before the split
from .folders import DataFolderError, SkippedFile, SkippedImageWarning
from .imageset import (CACHE_LIMIT_BYTES, IN_MEMORY_LIMIT_BYTES, ImageSet, image_folder, load_folder,
                       training_pipeline)
from .labelled import LabelledImages, load_digits, load_labelled_folder, load_mnist
from .sprites import load_sprites, procedural_sprites

__all__ = [
    "IMAGE_EXTENSIONS",
    "REGISTRY",
    "DataFolderError",
    "DataSource",
    "DownloadError",
    "ImageList",
    "ImageSet",
    "LabelledImages",
    "SkippedFile",
    "SkippedImageWarning",
    "archive_dir",
    "clean_sprites",
    "composite_on_white",
    "data_dir",
    "download",
    "drop_duplicates",
    "emoji_group",
    "extract",
    "fetch",
    "file_digest",
    "from_uint8",
    "image_folder",
    "load_digits",
    "load_emoji",
    "load_faces",
    "load_folder",
    "load_labelled_folder",
    "load_mnist",
    "load_image",
    "load_sprites",
    "procedural_sprites",
    "read_images",
    "resize_images",
    "to_uint8",
    "training_pipeline",
    "trim_borders",
]
