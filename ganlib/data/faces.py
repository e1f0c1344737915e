"""Faces for lesson 02: CelebA when present or obtainable from one of several sources, else
the 100 LFW faces that ship with scikit-image.

CelebA's sources are tried in the order of ``CELEBA_SOURCES``, each checked:

* ``publisher``: the archive on the publisher's Google Drive, checked against its published
  md5 (``REGISTRY['celeba']``; often refused: quota, virus-scan page);
* ``kaggle``: the Kaggle copy through ``kagglehub`` (preinstalled in Colab);
* ``huggingface``: a parquet copy on the Hugging Face Hub through ``huggingface_hub`` and
  ``pyarrow`` (both preinstalled in Colab), unpacked into the data folder as JPEG files.

Neither Kaggle nor Hugging Face publishes a checksum of the original archive, so their copies
are checked by what CelebA is: 202,599 images of 178x218 pixels. Their packages are optional
imports: missing, or offline (``GANLIB_OFFLINE=1``), they are skipped with the reason.

When the archives are kept apart from the data folder (``archive_dir``, a Google Drive folder
in Colab: ``ganlib.colab_storage``), CelebA is kept there as one file, downloaded or packed
once, and unpacked onto the local data folder in each new session before any source is asked:
the publisher's zip as it was downloaded, a Kaggle or Hugging Face copy packed by ganlib into
``img_align_celeba.<source>.zip`` (``PACKED_ARCHIVE``; JPEGs stored, not recompressed).
"""
from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .._checks import check_choice
from .._progress import quiet_tqdm_auto
from .downloads import REGISTRY, DownloadError, _offline, _short_reason, archive_dir, data_dir, extract, fetch
from .files import IMAGE_EXTENSIONS, _check_channels, _check_crop, _check_image_size, _resize_uint8
from .folders import _has_images
from .imageset import ImageSet, load_folder

#: What every copy of CelebA's aligned faces must hold (Liu et al. 2015; the publisher's
#: img_align_celeba.zip): this many JPEG files of this (width, height).
CELEBA_COUNT = 202_599
CELEBA_SIZE = (178, 218)

#: The sources ``load_faces`` tries for CelebA, in order.
CELEBA_SOURCES = ("publisher", "kaggle", "huggingface")

#: The Kaggle copy ('CelebFaces Attributes (CelebA) Dataset', img_align_celeba/ inside).
KAGGLE_DATASET = "jessicali9530/celeba-dataset"

#: The Hugging Face copy: img_align_celeba as 3 parquet files (1.39 GB), one 'image' column
#: of {'bytes', 'path'} (the datasets library's Image feature), 202,599 rows of 178x218.
HF_DATASET = "nielsr/CelebA-faces"
HF_PATTERN = "data/*.parquet"

#: Images opened (header only) to check the size of a non-publisher copy.
SIZE_SAMPLE = 32

#: The one-file copy of a Kaggle or Hugging Face download kept in ``archive_dir()`` when that
#: is not the data folder (Google Drive in Colab): ``img_align_celeba/*.jpg`` inside.
PACKED_ARCHIVE = "img_align_celeba.{source}.zip"


class CelebAUnavailable(DownloadError):
    """No source of CelebA worked. ``attempts`` lists ``(source, reason)`` in the order tried;
    ``summary`` says it in one line (``"publisher: HTTP 403 Forbidden; kaggle: ..."``)."""

    def __init__(self, message, attempts=(), failures=(), destination=None, summary=None):
        super().__init__(message, failures, destination)
        self.attempts = list(attempts)
        self.summary = summary or "; ".join(f"{name}: {reason}" for name, reason in self.attempts)


def _jpeg_files(folder):
    found = []
    for root, dirs, names in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(os.path.join(root, name) for name in names
                     if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS and not name.startswith("."))
    return sorted(found)


def check_celeba_copy(folder, source) -> Path:
    """Raise ValueError unless ``folder`` holds CELEBA_COUNT images of CELEBA_SIZE pixels (a
    sample of SIZE_SAMPLE files, spread over the sorted list, is opened); return the folder."""
    from PIL import Image

    files = _jpeg_files(folder)
    if len(files) != CELEBA_COUNT:
        raise ValueError(f"{source}: {folder} holds {len(files):,} images; CelebA has {CELEBA_COUNT:,}")
    step = max(1, len(files) // SIZE_SAMPLE)
    for path in files[::step][:SIZE_SAMPLE] + files[-1:]:
        with Image.open(path) as image:
            if image.size != CELEBA_SIZE:
                raise ValueError(f"{source}: {os.path.basename(path)} is {image.size[0]}x{image.size[1]} pixels; "
                                 f"CelebA's aligned faces are {CELEBA_SIZE[0]}x{CELEBA_SIZE[1]}")
    return Path(folder)


def _images_folder(root) -> Path:
    """The folder under ``root`` that holds the most image files directly (Kaggle's copy nests
    them as img_align_celeba/img_align_celeba/)."""
    best, most = Path(root), -1
    for folder, _, names in os.walk(root, followlinks=True):
        count = sum(1 for name in names if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS)
        if count > most:
            best, most = Path(folder), count
    return best


def _need_network(download_missing):
    if not download_missing or _offline():
        raise DownloadError("not tried: " + ("GANLIB_OFFLINE is set" if _offline() else "downloads are turned off"))


def _from_publisher(root, timeout, progress, download_missing):
    return fetch(REGISTRY["celeba"], root=root, timeout=timeout, progress=progress,
                 download_missing=download_missing)


def _from_kaggle(root, timeout, progress, download_missing):
    _need_network(download_missing)
    try:
        import kagglehub
    except ImportError:
        raise ImportError("kagglehub is not installed (pip install kagglehub)") from None
    downloaded = kagglehub.dataset_download(KAGGLE_DATASET)
    folder = check_celeba_copy(_images_folder(downloaded), "kaggle")
    link = REGISTRY["celeba"].folder_path(root)
    if not link.exists():  # the next run finds it in the data folder without asking kagglehub
        try:
            link.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(folder, link, target_is_directory=True)
        except OSError:
            pass
    return folder


def _parquet_images(path):
    """(name, JPEG bytes) of each row of a parquet file with an 'image' column."""
    import pyarrow.parquet as parquet

    table = parquet.ParquetFile(path)
    for batch in table.iter_batches(columns=["image"], batch_size=1024):
        for cell in batch.column(0).to_pylist():
            if isinstance(cell, dict):
                yield cell.get("path"), cell.get("bytes")
            else:
                yield None, cell


def _from_huggingface(root, timeout, progress, download_missing):
    _need_network(download_missing)
    try:
        from huggingface_hub import snapshot_download
        import pyarrow.parquet  # noqa: F401  (reads the files below)
    except ImportError as error:
        raise ImportError(f"{error.name or 'huggingface_hub'} is not installed "
                          "(pip install huggingface_hub pyarrow)") from None
    local = Path(snapshot_download(repo_id=HF_DATASET, repo_type="dataset", allow_patterns=[HF_PATTERN]))
    parts = sorted(local.glob(HF_PATTERN))
    if not parts:
        raise OSError(f"huggingface: no {HF_PATTERN} files in {HF_DATASET}")
    destination = REGISTRY["celeba"].folder_path(root)
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".partial"))
    try:
        images = temporary / "img_align_celeba"
        images.mkdir()
        index = 0
        for part in parts:
            for name, content in _parquet_images(part):
                index += 1
                if not content or not content.startswith(b"\xff\xd8\xff"):
                    raise ValueError(f"huggingface: row {index} of {part.name} is not a JPEG image")
                base = os.path.basename(name) if name else ""
                (images / (base if base.lower().endswith((".jpg", ".jpeg")) else f"{index:06d}.jpg")).write_bytes(content)
        check_celeba_copy(images, "huggingface")
        if destination.exists() and not _has_images(destination):
            shutil.rmtree(destination)
        os.replace(temporary, destination)  # all or nothing, as extract()
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return destination


_SOURCES = {"publisher": _from_publisher, "kaggle": _from_kaggle, "huggingface": _from_huggingface}


def _pack(folder, archive, progress):
    """Write the images of ``folder`` into the zip ``archive`` as ``img_align_celeba/<name>``
    (stored: JPEGs do not compress), through a hidden ``.partial`` file renamed when complete."""
    archive = Path(archive)
    archive.parent.mkdir(parents=True, exist_ok=True)
    temporary = archive.with_name(f".{archive.name}.partial")
    files = _jpeg_files(folder)
    iterator = files
    if progress and len(files) > 1000:
        from .._progress import progress_bar

        iterator = progress_bar(files, desc=f"packing {archive.name}", unit="file")
    try:
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_STORED) as bundle:
            for path in iterator:
                bundle.write(path, "img_align_celeba/" + os.path.relpath(path, folder).replace(os.sep, "/"))
        os.replace(temporary, archive)
    except BaseException:
        try:
            os.remove(temporary)
        except OSError:
            pass
        raise
    return archive


def _keeps_archives_apart(root) -> bool:
    return archive_dir(root).resolve() != Path(root).resolve()


def _from_kept_archive(root, progress):
    """CelebA unpacked into ``root`` from an archive kept in ``archive_dir(root)`` (the
    publisher's zip, checked by its md5, or a ``PACKED_ARCHIVE``, checked by its images), or
    None when none is kept there. Raises when a kept archive is damaged or not CelebA."""
    celeba, archives = REGISTRY["celeba"], archive_dir(root)
    if celeba.archive_path(archives).exists() or celeba.archive_path(root).exists():
        return fetch(celeba, root=root, progress=progress, download_missing=False)
    for name in CELEBA_SOURCES:
        packed = archives / PACKED_ARCHIVE.format(source=name)
        if name == "publisher" or not packed.exists():
            continue
        folder = celeba.folder_path(root)
        if folder.exists() and not _has_images(folder):
            shutil.rmtree(folder)
        extract(packed, folder, progress=progress)
        try:
            return check_celeba_copy(folder, packed.name)
        except ValueError as error:
            shutil.rmtree(folder, ignore_errors=True)
            raise ValueError(f"{error}; delete {packed} and run again") from None
    return None


def _keep_archive(folder, source, root, progress):
    """When archives are kept apart from the data folder, keep a Kaggle or Hugging Face copy
    there as one ``PACKED_ARCHIVE`` (the publisher's zip was downloaded there already). A
    failure (Drive full, ...) is said in one line; the images unpacked here stay usable."""
    if source == "publisher" or not _keeps_archives_apart(root):
        return
    packed = archive_dir(root) / PACKED_ARCHIVE.format(source=source)
    if packed.exists():
        return
    try:
        if progress:
            print(f"CelebA: keeping the {source} copy as one archive, {packed} (once; later sessions unpack "
                  "it instead of downloading).")
        _pack(_images_folder(folder), packed, progress)
    except Exception as error:  # never lose the images we have for a copy we could not keep
        if progress:
            print(f"CelebA: could not keep an archive in {packed.parent} ({_short_reason(error)}); "
                  "the next session downloads CelebA again.")


def fetch_celeba(root=None, sources=None, timeout=5.0, progress=True, download_missing=True):
    """CelebA's aligned faces from the first source that works; returns ``(folder, source)``.

    A folder already unpacked in the data folder is used at once; else an archive kept in
    ``archive_dir(root)`` (see the module's docstring) is unpacked into it. Otherwise each
    source of ``sources`` (default ``CELEBA_SOURCES``; ``()``: none, never the network) is
    tried in turn and checked (the publisher's archive by its md5, the others by their
    image count and size); when archives are kept apart from the data folder, the copy
    obtained is kept there as one file for the next session.

    With ``progress``, a source that fails says why in one line before the next is tried.

    Raises:
        CelebAUnavailable (a DownloadError, an OSError): no source worked; the message lists
            each source tried and why it failed, then where to put the files by hand.
    """
    sources = CELEBA_SOURCES if sources is None else tuple(sources)
    for name in sources:
        check_choice("source", name, tuple(_SOURCES))
    root = Path(root).expanduser() if root is not None else data_dir()
    celeba, archives = REGISTRY["celeba"], archive_dir(root)
    if _has_images(celeba.folder_path(root)):
        return celeba.folder_path(root), "the data folder"
    attempts, failures = [], []
    try:
        kept = _from_kept_archive(root, progress)
    except Exception as error:  # damaged or not CelebA: said, then the sources
        attempts.append(("kept archive", _short_reason(error)))
        if celeba.archive_path(archives).exists() or celeba.archive_path(root).exists():
            sources = tuple(name for name in sources if name != "publisher")  # the same zip again
        if progress and sources:
            print(f"CelebA: the archive kept in {archives} failed ({attempts[-1][1]}); trying {sources[0]}.")
    else:
        if kept is not None:
            return Path(kept), f"the archive kept in {archives}"
    for index, name in enumerate(sources):
        try:
            folder = Path(_SOURCES[name](root, timeout, progress, download_missing))
        except Exception as error:  # third-party errors of any kind: reported, next source
            attempts.append((name, _short_reason(error)))
            failures.extend(getattr(error, "failures", []))
            following = sources[index + 1:]
            if progress and following:
                print(f"CelebA: {name} failed ({attempts[-1][1]}); trying {following[0]}.")
            continue
        _keep_archive(folder, name, root, progress)
        return folder, name
    if not attempts:  # sources=(): only what is unpacked or kept counts
        summary = f"not unpacked in {root} and no archive of it in {archives}; no download tried"
        raise CelebAUnavailable(f"CelebA is {summary}.\n{celeba.manual_instructions(root)}", [], [],
                                celeba.archive_path(archives), summary=summary)
    tried = "\n".join(f"  {number}. {name}: {reason}" for number, (name, reason) in enumerate(attempts, 1))
    raise CelebAUnavailable(f"CelebA could not be had from any of {len(attempts)} source(s):\n{tried}\n"
                            f"{celeba.manual_instructions(root)}", attempts, failures,
                            celeba.archive_path(archives))


def _box(lines, width=78) -> str:
    """A multi-line notice in a frame of '#', wrapped to ``width``."""
    import textwrap

    inner = width - 4
    body = []
    for line in lines:
        indent = len(line) - len(line.lstrip())
        body.extend(textwrap.wrap(line, inner, subsequent_indent=" " * (indent + 3)) or [""])
    rule = "#" * width
    return "\n".join([rule, *(f"# {text.ljust(inner)} #" for text in body), rule])

def _lfw_faces(image_size, channels) -> ImageSet:
    """The 100 faces of scikit-image's LFW subset (25x25 grey), resized; ships with scikit-image."""
    with quiet_tqdm_auto():  # scikit-image's data module imports pooch (lazily: at the call)
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
        source: 'auto' (CelebA if it is in the data folder or one of ``CELEBA_SOURCES``
            gives it, see ``fetch_celeba``; else LFW, announced in a box that lists what
            was tried), 'celeba' (CelebA or an error that lists each source tried and says
            where to put the archive) or 'lfw' (the 100 faces of
            ``skimage.data.lfw_subset()``, always available offline).
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
        folder, used = fetch_celeba(timeout=timeout, progress=verbose, download_missing=True)
    except (OSError, ValueError) as error:
        if source == "celeba":
            raise
        attempts = getattr(error, "attempts", None) or [("publisher", _short_reason(error))]
        faces = _lfw_faces(image_size, channels)
        if verbose:
            print(_box([
                "load_faces: CelebA is not available, so this run uses LFW instead:",
                f"  {faces.description}.",
                "Sources tried, in order:",
                *(f"  {number}. {name}: {reason}" for number, (name, reason) in enumerate(attempts, 1)),
                "Results on these 100 small grey faces are not comparable with CelebA's.",
                f"To use CelebA: put img_align_celeba.zip in {celeba.archive_path(archive_dir())}, or its images "
                f"in {celeba.folder_path()}/, or give load_faces(path=...) a folder of faces.",
            ]))
        others = "; ".join(f"{name}: {reason}" for name, reason in attempts[1:])
        faces.note = f"CelebA is not available: {attempts[0][1]}" + (f" ({others})" if others else "")
        return faces
    faces = load_folder(folder, image_size, channels, crop=chosen_crop, in_memory=in_memory,
                        source="celeba", description=f"CelebA aligned faces from {folder} ({used})",
                        verbose=verbose)
    if verbose:
        print(f"load_faces: using CelebA, {len(faces)} images from {folder} "
              f"(from: {used}; {'in memory' if faces.in_memory else 'streamed from disk'}).")
    return faces
