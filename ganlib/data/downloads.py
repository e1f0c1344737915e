"""Where data lives and how it arrives: ``data_dir``, downloads from mirrors with checksums,
archives unpacked all or nothing, and the ``REGISTRY`` of downloadable data sets (CelebA,
Pokemon) with ``fetch``, which makes one of them available locally.

Each transfer is ``pooch.retrieve`` (the downloader behind ``scipy.datasets`` and
scikit-image's data); ganlib adds what pooch does not do: several mirrors tried in order with
one error that lists why each failed, refusing a web page sent instead of the file (Google
Drive), and unpacking all or nothing with unsafe paths refused. ``CONTRIBUTING.md`` says why.
See ``data/README.md`` for every data set's source, licence, size and checksum.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path

from .._checks import check_choice, check_positive
from .._progress import quiet_tqdm_auto
from .folders import _has_images


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


def data_dir() -> Path:
    """The download cache: ``$GANLIB_DATA`` if set, else the repository's ``data/`` folder.

    When ganlib is installed without its repository (``pip install git+...`` in Colab) the
    cache is ``~/.cache/ganlib/data``. Archives are unpacked here, so it belongs on a local disk
    (CelebA is 202,599 files); ``archive_dir`` may keep the archives elsewhere.
    """
    chosen = os.environ.get("GANLIB_DATA", "").strip()
    if chosen:
        return Path(chosen).expanduser()
    repository_data = Path(__file__).resolve().parents[2] / "data"  # ganlib/data/download.py -> repo
    if (repository_data / "README.md").exists():
        return repository_data
    return Path.home() / ".cache" / "ganlib" / "data"


def archive_dir(root=None) -> Path:
    """Where downloaded archives are kept: ``$GANLIB_ARCHIVES`` if set, else the data folder
    ``root`` (default :func:`data_dir`), beside the images unpacked from them.

    In Colab, ``ganlib.colab_storage()`` sets ``GANLIB_ARCHIVES`` to a Google Drive folder: an
    archive (one file) is downloaded once into it and unpacked onto the local data folder in
    every session, instead of unpacking many thousands of files onto Drive.
    """
    chosen = os.environ.get("GANLIB_ARCHIVES", "").strip()
    if chosen:
        return Path(chosen).expanduser()
    return Path(root).expanduser() if root is not None else data_dir()


def _offline() -> bool:
    return os.environ.get("GANLIB_OFFLINE", "").strip() not in ("", "0")


_HASHES = ("sha256", "sha1", "md5")

USER_AGENT = "ganlib (+https://github.com/ganlib/ganlib)"


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
    """Hex digest of a file (``pooch.file_hash``), e.g. ``file_digest("pokemon.zip", "sha1")``."""
    with quiet_tqdm_auto():
        import pooch

    return pooch.file_hash(os.fspath(path), alg=algorithm)


def _innermost_reason(error: BaseException) -> str:
    """'[Errno -2] Name or service not known' out of requests' nested connection errors."""
    text = str(error)
    match = re.search(r"\[Errno -?\d+\] [^'\")\]]+", text)
    if match:
        return match.group(0).strip()
    return (text.splitlines() or [type(error).__name__])[0][:160]


def _describe_download_error(error: BaseException) -> str:
    """One short line per failed mirror (the DownloadError message lists them)."""
    import requests

    text = str(error)
    if isinstance(error, requests.exceptions.HTTPError) and error.response is not None:
        return f"HTTP {error.response.status_code} {error.response.reason}"
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return "timed out (no connection)"
    if isinstance(error, requests.exceptions.ReadTimeout):
        return "timed out (no answer)"
    if isinstance(error, requests.exceptions.ConnectionError) and "timed out" in text.lower():
        return "timed out while receiving data"
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        match = re.search(r"IncompleteRead\((\d+) bytes read, (\d+) more expected\)", text)
        if match:
            received, missing = int(match.group(1)), int(match.group(2))
            return f"transfer truncated: received {received:,} of {received + missing:,} bytes"
        return f"transfer truncated or broken ({_innermost_reason(error)})"
    if isinstance(error, requests.exceptions.ConnectionError):
        return f"cannot connect ({_innermost_reason(error)})"
    match = re.search(r"expected (\S+) but got (\w+)", text)  # pooch's hash check
    if isinstance(error, ValueError) and match:
        return f"checksum mismatch: expected {match.group(1)}, got {match.group(2)}"
    return text or type(error).__name__


def _web_page_or_empty(path, destination: Path):
    """Why a downloaded file is not the file asked for, from its first bytes (None: looks fine).

    Google Drive answers a large or much-requested file with a web page (quota exceeded, or
    "cannot scan for viruses, download anyway?") and HTTP status 200.
    """
    with open(path, "rb") as handle:
        head = handle.read(512)
    if not head:
        return "the server sent an empty file"
    if destination.suffix.lower() not in (".html", ".htm") and \
            head.lstrip(b"\xef\xbb\xbf \t\r\n").lower().startswith((b"<!doctype html", b"<html")):
        return "the server sent a web page instead of the file (a login, quota or confirmation page?)"
    return None


def _downloader(destination: Path, timeout, progress):
    """pooch's HTTP downloader (streaming, timeout, progress bar), then a look at what arrived."""
    with quiet_tqdm_auto():
        import pooch

    http = pooch.HTTPDownloader(progressbar=bool(progress), chunk_size=2**20, timeout=timeout,
                                headers={"User-Agent": USER_AGENT})

    def download_and_look(url, output_file, pooch_instance):
        http(url, output_file, pooch_instance)
        problem = _web_page_or_empty(output_file, destination)
        if problem:
            raise OSError(problem)  # pooch then deletes its temporary file

    return download_and_look


def download(urls, destination, checksum=None, timeout=10.0, progress=True, hint=None) -> Path:
    """Download a file, trying each mirror in turn; verify it; never leave a partial file.

    Each mirror is fetched with ``pooch.retrieve``: the bytes go to a temporary file in the
    destination folder, which becomes ``destination`` only when the transfer is complete and
    the checksum matches, so an interrupted or corrupt download never looks like a finished
    one. A ``destination`` that is already there with the right checksum (or any, when no
    checksum is given) is kept without downloading. What ganlib adds to pooch: the mirrors,
    one error listing why each failed, and refusing a web page (or an empty file) sent in
    place of the file.

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
    with quiet_tqdm_auto():
        import pooch

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
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")  # pooch's "Downloading data from ..." lines: ganlib reports itself
    try:
        for url in urls:
            try:
                pooch.retrieve(url, known_hash=f"{algorithm}:{expected}" if algorithm else None,
                               fname=destination.name, path=destination.parent,
                               downloader=_downloader(destination, timeout, progress))
                return destination
            except (OSError, ValueError) as error:  # requests' errors are OSErrors
                failures.append((url, _describe_download_error(error)))
    finally:
        logger.setLevel(level)
    tried = "\n".join(f"  - {url}: {reason}" for url, reason in failures)
    manual = hint or (
        f"Download the file yourself from one of the addresses above and save it as\n  {destination}"
        + (f"\n(its {algorithm} checksum must be {expected})." if algorithm else ".")
    )
    raise DownloadError(f"Could not download {destination.name} from any of {len(urls)} mirror(s):\n{tried}\n"
                        f"{manual}", failures, destination)


def _refuse_unsafe_paths(names, destination: Path):
    """Refuse a whole archive if one member would land outside destination ('..', absolute)."""
    root = destination.resolve()
    for name in names:
        target = (destination / name).resolve()
        if root != target and root not in target.parents:
            raise OSError(f"unsafe path in archive: {name!r} would be written outside {destination}")


def extract(archive, destination, progress=True) -> Path:
    """Unpack a .zip or .tar(.gz/.bz2/.xz) archive into ``destination``, all or nothing.

    Files are unpacked into a temporary folder next to ``destination`` that is renamed when
    everything is out, so an interrupted extraction never looks complete (``fetch`` takes a
    folder with images as done). Paths that would land outside ``destination`` are refused
    with an ``OSError`` (and, for tar, links leading outside: Python's ``filter='data'``).
    """
    archive, destination = Path(archive), Path(destination)
    if destination.exists():
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".partial"))
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as bundle:
                _refuse_unsafe_paths(bundle.namelist(), temporary)
                members = bundle.infolist()
                iterator = members
                if progress and len(members) > 1000:
                    from .._progress import progress_bar

                    iterator = progress_bar(members, desc=f"extracting {archive.name}", unit="file")
                for member in iterator:
                    bundle.extract(member, temporary)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as bundle:
                _refuse_unsafe_paths(bundle.getnames(), temporary)
                try:  # the 'data' filter also refuses links leading outside, devices, ...
                    bundle.extractall(temporary, filter="data")
                except tarfile.FilterError as error:
                    raise OSError(f"unsafe path in archive: {error}") from error
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
        description: what the set is, for people (see data/README.md).
        homepage: where the set is published.
        licence: its terms of use.
        size: its download size, for people.
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
        """Where the archive is (or goes): ``archive`` in ``root``, by default ``data_dir()``."""
        return Path(root or data_dir()) / self.archive

    def folder_path(self, root=None) -> Path:
        """Where the archive is unpacked: ``folder`` in ``root``, by default ``data_dir()``."""
        return Path(root or data_dir()) / self.folder

    def manual_instructions(self, root=None) -> str:
        """What to do by hand when no mirror works: where to put the archive and its checksum."""
        algorithm, digest = _parse_checksum(self.checksum)
        return (
            f"To use {self.name} without a working download, fetch {self.archive} yourself "
            f"(from {self.homepage or self.mirrors[0]})\nand either\n"
            f"  * save it as {self.archive_path(archive_dir(root))}  ({algorithm} {digest}), or\n"
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


#: MNIST as ``keras.datasets.mnist`` gets it: one NumPy file (``x_train``, ``y_train``,
#: ``x_test``, ``y_test``), Keras' own address and sha256, kept in Keras' cache
#: (``~/.keras/datasets/mnist.npz``, or ``$KERAS_HOME/datasets``); read by ``load_mnist``
#: through ``keras.utils.get_file``, not unpacked (so not in ``REGISTRY``, not for ``fetch``).
MNIST = DataSource(
    name="mnist",
    archive="mnist.npz",
    mirrors=("https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",),
    checksum="sha256:731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",  # keras.datasets.mnist
    folder="",
    description="MNIST handwritten digits (LeCun et al. 1998): 70,000 28x28 grey images in 10 classes.",
    homepage="https://yann.lecun.com/exdb/mnist/",
    licence="CC BY-SA 3.0 (as keras.datasets.mnist states)",
    size="about 11 MB",
    crop=None,
)

#: The environment variable naming a JSON file of other mirrors and checksums.
SOURCES_ENV = "GANLIB_SOURCES"


def read_sources_file(path) -> dict:
    """Other mirrors and checksums for ganlib's downloads, from a JSON file such as::

        {"celeba": {"mirrors": ["http://127.0.0.1:8000/img_align_celeba.zip"],
                    "checksum": "md5:<hex digest of that file>"},
         "mnist": {"mirrors": ["https://mirror.example.org/mnist.npz"], "checksum": "sha256:<hex>"}}

    Names are those of ``REGISTRY`` and ``'mnist'``; each gives ``mirrors`` (tried in order)
    and the ``checksum`` every download and every kept archive is then checked against. Set
    ``GANLIB_SOURCES`` to the file's path before ganlib is imported, and ``REGISTRY`` and
    ``MNIST`` use them: a mirror of your own (an institute's cache), or, in CI, stand-ins
    served from 127.0.0.1 (``scripts/gpu_smoke.py``). Returns ``{name: DataSource}``.

    Raises:
        ValueError: the file is not such JSON (an unknown name or key, no mirror, a checksum
            not written as 'sha256:<hex>'); OSError: it cannot be read.
    """
    import json

    known = {**REGISTRY, MNIST.name: MNIST}
    text = Path(path).expanduser().read_text()
    try:
        table = json.loads(text)
    except ValueError as error:
        raise ValueError(f"{SOURCES_ENV} file {path}: not JSON ({error}).") from None
    if not isinstance(table, dict):
        raise ValueError(f"{SOURCES_ENV} file {path}: a JSON object of data set names is needed.")
    entries = {}
    for name, fields in table.items():
        check_choice(f"data set name in {path}", name, tuple(known))
        if not isinstance(fields, dict) or set(fields) != {"mirrors", "checksum"}:
            raise ValueError(f"{SOURCES_ENV} file {path}: {name!r} needs exactly 'mirrors' and 'checksum'.")
        mirrors = fields["mirrors"]
        if not isinstance(mirrors, list) or not mirrors or not all(isinstance(url, str) for url in mirrors):
            raise ValueError(f"{SOURCES_ENV} file {path}: {name!r} mirrors={mirrors!r} must be a list of URLs.")
        _parse_checksum(fields["checksum"])
        entries[name] = dataclasses.replace(known[name], mirrors=tuple(mirrors), checksum=fields["checksum"])
    return entries


def _use_sources_file():
    """Put the entries of ``$GANLIB_SOURCES`` (when set) into ``REGISTRY`` and ``MNIST``."""
    global MNIST
    path = os.environ.get(SOURCES_ENV, "").strip()
    if path:
        entries = read_sources_file(path)
        MNIST = entries.pop(MNIST.name, MNIST)
        REGISTRY.update(entries)


_use_sources_file()


def fetch(source, root=None, timeout=10.0, progress=True, download_missing=True) -> Path:
    """Make a registry data set available locally and return the folder holding its images.

    In order: an unpacked folder already in the data folder is used as is; else an archive
    already in :func:`archive_dir` (downloaded earlier, or put there by hand; also one put
    in the data folder by hand) is verified and unpacked; else the archive is downloaded from
    each mirror in turn into :func:`archive_dir`, verified and unpacked into the data folder.

    Args:
        source: a name in :data:`REGISTRY` ('celeba', 'pokemon') or a :class:`DataSource`.
        root: the data folder (default :func:`data_dir`), where the images are unpacked.
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
    folder, archive = source.folder_path(root), source.archive_path(archive_dir(root))
    if _has_images(folder):
        return folder
    if not archive.exists() and source.archive_path(root).exists():
        archive = source.archive_path(root)  # put in the data folder by hand
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
            where = root if archive.parent == root else f"{root} nor in {archive.parent}"
            raise DownloadError(f"{source.name} is not in {where} and {why}.\n{source.manual_instructions(root)}",
                                [], archive)
        download(source.mirrors, archive, checksum=source.checksum, timeout=timeout, progress=progress,
                 hint=source.manual_instructions(root))
    if folder.exists() and not _has_images(folder):
        shutil.rmtree(folder)  # an empty leftover (never a partial extraction, see extract())
    extract(archive, folder, progress=progress)
    if not _has_images(folder):
        raise OSError(f"{archive} unpacked into {folder} but holds no images.")
    return folder


def _short_reason(error: BaseException) -> str:
    """One line on why a data set could not be had (for the fallback message)."""
    if isinstance(error, DownloadError) and error.failures:
        reasons = sorted({reason for _, reason in error.failures})
        return f"download failed from {len(error.failures)} mirror(s): {'; '.join(reasons)}"
    return str(error).splitlines()[0]
