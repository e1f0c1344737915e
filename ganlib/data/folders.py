"""Folders of image files: listing them, decoding many in parallel, and reporting the files
that could not be read (each one named, with the reason, in a ``skipped`` list and a warning).
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import warnings
from pathlib import Path

from .files import IMAGE_EXTENSIONS

class DataFolderError(FileNotFoundError, ValueError):
    """A folder that is missing, not a folder, or holds no readable image.

    It is both a ``FileNotFoundError`` and a ``ValueError`` (a bad ``path`` argument), so
    either ``except`` clause catches it.
    """


class SkippedImageWarning(UserWarning):
    """Some files of an image folder could not be read and were left out."""


@dataclasses.dataclass(frozen=True)
class SkippedFile:
    """A file left out of a data set, and why.

    Attributes:
        path: the file's path.
        reason: why it was left out (the decoder's error, in a line).
    """

    path: str
    reason: str

    @property
    def name(self) -> str:
        """The file's name, without its folder."""
        return os.path.basename(self.path)

    @property
    def shown_name(self) -> str:
        """The file's name as it can be printed, with bytes that are not UTF-8 as ``\\xNN`` escapes."""
        return printable_path(self.name)


def printable_path(path) -> str:
    """``path`` with the bytes of a name that is not valid UTF-8 (which Python lists as
    surrogate escapes, PEP 383) written as ``\\xNN``, so it can be printed anywhere."""
    path = os.fspath(path)
    if isinstance(path, bytes):
        return path.decode("utf-8", "backslashreplace")
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        pass
    try:
        return os.fsencode(path).decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that no file name decodes to
        return path.encode("utf-8", "backslashreplace").decode("utf-8")


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


def _list_files(folder: Path, recursive: bool, skipped: list | None = None, seen: set | None = None):
    """Image candidates and other (non-hidden) files under folder, both sorted.

    Symbolic links to folders are followed (a data set is often a folder of links), each real
    folder once: a link back into a folder already read (``ln -s . here``, a link to itself or
    to a parent) or to a folder read under another name is not followed, and is appended to
    ``skipped`` (a list of SkippedFile) with the reason. ``seen``: real paths already read
    (shared between the calls for the class folders of one labelled folder)."""
    seen = set() if seen is None else seen
    candidates, others = [], []
    if recursive:
        seen.add(os.path.realpath(folder))
        walker = os.walk(folder, followlinks=True)
    else:
        walker = [(str(folder), [], os.listdir(folder))]
    for root, dirs, names in walker:
        kept = []
        for name in sorted(d for d in dirs if not d.startswith(".")):
            real = os.path.realpath(os.path.join(root, name))
            if real in seen or os.path.commonpath([real, os.path.realpath(root)]) == real:
                if skipped is not None:
                    skipped.append(SkippedFile(os.path.join(root, name), "a link to a folder that is read "
                                               "already (or to one of its parents): not followed"))
                continue
            seen.add(real)
            kept.append(name)
        dirs[:] = kept
        for name in names:
            full = os.path.join(root, name)
            if name.startswith("."):
                continue
            if not os.path.isfile(full):
                if skipped is not None and os.path.islink(full) and not os.path.exists(full):
                    skipped.append(SkippedFile(full, "a broken link or a link to itself"))
                continue
            if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
                candidates.append(full)
            else:
                others.append(full)
    return sorted(candidates), sorted(others)


def _has_images(folder: Path) -> bool:
    if not folder.is_dir():
        return False
    for _, _, names in os.walk(folder):
        if any(os.path.splitext(n)[1].lower() in IMAGE_EXTENSIONS for n in names):
            return True
    return False


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
    shown = ", ".join(f"{item.shown_name} ({item.reason})" for item in skipped[:8])
    more = f" and {len(skipped) - 8} more" if len(skipped) > 8 else ""
    warnings.warn(
        f"{printable_path(where)}: skipped {len(skipped)} of {total} files that are not readable images: "
        f"{shown}{more}. The full list is in the `skipped` attribute.",
        SkippedImageWarning,
        stacklevel=stacklevel,
    )


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
        from .._progress import progress_bar

        progress = progress_bar(total=len(paths), desc=f"reading {label}", unit="img")
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
