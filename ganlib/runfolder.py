"""The run folder: what a training run writes where, and how those files are named and read.

``ganlib.train.fit_gan``, ``ganlib.callbacks`` and the command line (``python -m ganlib train``,
``sample``, ``inpaint``) all go through this module, so the layout lives in one place::

    RUN/
      config.json                 the settings of `python -m ganlib train` (--resume reads them)
      checkpoints/ckpt-<step>.npz everything needed to resume (ganlib.callbacks.save_checkpoint)
      checkpoints/ckpt-<step>.npz.damaged   a damaged checkpoint set aside on resume, kept
      samples/epoch_NNNN.png      one grid per epoch from the same noise
      samples.gif                 those grids as an animation
      generator.keras             the final networks (keras.models.load_model)
      discriminator.keras
      history.json                the status and every step's losses

It imports NumPy and the standard library only, never TensorFlow, so the command line can
check a run folder (its settings, its checkpoints) before TensorFlow loads.

A checkpoint is a ``.npz`` file (a zip archive of ``.npy`` arrays, NumPy's format) with one
array ``meta`` holding JSON (format, step, epoch, history). ``check_checkpoint`` reads every
byte of it: each member's CRC-32 (the zip format's checksum) detects a truncated file, a
partial copy or changed bytes, so a damaged checkpoint is reported and skipped instead of
stopping a resume with a ``zipfile.BadZipFile`` traceback.
"""
from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
import warnings
import zipfile

import numpy as np

__all__ = [
    "RunFolder",
    "RunFolderInUseError",
    "CHECKPOINT_FORMAT",
    "checkpoint_name",
    "checkpoint_step",
    "checkpoint_files",
    "latest_checkpoint",
    "check_checkpoint",
    "newest_intact_checkpoint",
    "set_aside",
    "DamagedCheckpointError",
    "DamagedCheckpointWarning",
    "write_json",
    "read_json",
]

CHECKPOINTS = "checkpoints"
SAMPLES = "samples"
SAMPLES_GIF = "samples.gif"
GENERATOR = "generator.keras"
DISCRIMINATOR = "discriminator.keras"
HISTORY = "history.json"
CONFIG = "config.json"
LOCK = ".ganlib.lock"
#: What marks a config.json as the command line's and a history.json as a training's.
RUN_CONFIG_KEYS = ("model", "data", "image_size")
RUN_HISTORY_KEYS = ("status", "step")

#: The version of the checkpoint layout (``meta["format"]``); bumped when it changes.
CHECKPOINT_FORMAT = 1
#: ``ckpt-<step>.npz``, the step written with at least 8 digits so names sort by step.
CHECKPOINT_PATTERN = re.compile(r"^ckpt-(\d{8,})\.npz$")
#: What a damaged checkpoint is renamed to (``ckpt-00000006.npz.damaged``), so that training
#: on neither overwrites it nor prunes it as an old checkpoint.
DAMAGED_SUFFIX = ".damaged"
#: ``samples/epoch_0001.png``: a grid written by ``ganlib.callbacks.SampleGrid``.
GRID_PATTERN = re.compile(r"^epoch_\d{4,}\.png$")
#: The hidden temporary files of ganlib's atomic writes (``write_json``, checkpoints,
#: ``atomic_save_model``, ``save_image_grid``, ``save_gif``), left behind only by a kill.
TEMPORARY_PATTERN = re.compile(
    r"^\.(ckpt-\d{8,}\.npz\.\d+|(config|history)\.json\.\d+|epoch_\d{4,}\.png\.\d+"
    r"|samples\.gif\.\d+)\.partial$"
    r"|^\.\d+-partial-(generator|discriminator)\.keras$")


def _matching(directory, pattern) -> list:
    """The files of ``directory`` whose names match ``pattern``, sorted."""
    try:
        names = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(os.path.join(directory, name) for name in names
                  if pattern.match(name) and os.path.isfile(os.path.join(directory, name)))


class RunFolderInUseError(ValueError):
    """Another process is training in this run folder (see ``RunFolder.lock``)."""


class RunFolder:
    """The paths of one run folder (nothing is created until something is written).

    >>> run = RunFolder("runs/faces")
    >>> run.checkpoints, run.history
    ('runs/faces/checkpoints', 'runs/faces/history.json')
    """

    def __init__(self, path):
        self.path = os.fspath(path)

    def _join(self, name):
        return os.path.join(self.path, name)

    @property
    def checkpoints(self):
        """The path of ``checkpoints/``: the checkpoints (``ckpt-<step>.npz``)."""
        return self._join(CHECKPOINTS)

    @property
    def samples(self):
        """The path of ``samples/``: the sample grids (``epoch_NNNN.png``)."""
        return self._join(SAMPLES)

    @property
    def samples_gif(self):
        """The path of ``samples.gif``: the grids as an animation."""
        return self._join(SAMPLES_GIF)

    @property
    def generator(self):
        """The path of ``generator.keras``: the trained generator (written when the run finishes)."""
        return self._join(GENERATOR)

    @property
    def discriminator(self):
        """The path of ``discriminator.keras``: the trained discriminator (written when the run finishes)."""
        return self._join(DISCRIMINATOR)

    @property
    def history(self):
        """The path of ``history.json``: every step's losses."""
        return self._join(HISTORY)

    @property
    def config(self):
        """The path of ``config.json``: the run's settings, which ``--resume`` reads back."""
        return self._join(CONFIG)

    def checkpoint_path(self, step):
        """The path of the checkpoint of step ``step`` in ``checkpoints/``."""
        return os.path.join(self.checkpoints, checkpoint_name(step))

    def has_checkpoint(self) -> bool:
        """Whether ``checkpoints/`` holds a file named like a checkpoint (intact or not)."""
        return bool(checkpoint_files(self.checkpoints))

    def _json_is_ours(self, path, keys) -> bool:
        """Whether ``path`` holds a JSON object with every one of ``keys`` (as ganlib writes it)."""
        try:
            with open(path, encoding="utf-8") as handle:
                content = json.load(handle)
        except (OSError, ValueError):
            return False
        return isinstance(content, dict) and all(key in content for key in keys)

    def is_ganlib_run(self) -> bool:
        """Whether this folder holds a run ganlib wrote, recognised by content, not by names
        alone: a checkpoint (``checkpoints/ckpt-<step>.npz``), a ``config.json`` of the
        command line's settings (``model``, ``data``, ``image_size``) or a ``history.json``
        of a training (``status``, ``step``). A user's own ``config.json`` is none of these."""
        return (self.has_checkpoint() or self._json_is_ours(self.config, RUN_CONFIG_KEYS)
                or self._json_is_ours(self.history, RUN_HISTORY_KEYS))

    def _named_like_ours(self, include_config: bool = True) -> list:
        """Files with the names ganlib's visible files have, whoever wrote them."""
        found = [path for _, path in checkpoint_files(self.checkpoints)]
        found += _matching(self.samples, GRID_PATTERN)
        names = [SAMPLES_GIF, GENERATOR, DISCRIMINATOR, HISTORY] + ([CONFIG] if include_config else [])
        return found + [self._join(name) for name in names if os.path.isfile(self._join(name))]

    def ganlib_files(self, include_config: bool = True) -> list:
        """The files in this folder that ganlib wrote: the hidden temporary files of a killed
        write and, if the folder holds a ganlib run (``is_ganlib_run``), the checkpoints
        (``ckpt-<step>.npz``; not the ``.damaged`` ones set aside), the grids
        ``samples/epoch_NNNN.png``, ``samples.gif``, ``generator.keras``,
        ``discriminator.keras``, ``history.json`` and ``config.json`` (unless
        ``include_config`` is False).
        Any other file, e.g. a user's own images in ``samples/``, is not listed; files that
        only share ganlib's names are ``foreign_files()``."""
        found = _matching(self.checkpoints, TEMPORARY_PATTERN) + _matching(self.samples, TEMPORARY_PATTERN)
        found += _matching(self.path, TEMPORARY_PATTERN)
        return sorted(found + (self._named_like_ours(include_config) if self.is_ganlib_run() else []))

    def foreign_files(self) -> list:
        """Files that have the names of ganlib's visible files in a folder that holds no
        ganlib run (``is_ganlib_run``): a project's own ``config.json`` or ``samples/``.
        Training there would replace them, so the command line refuses such an ``--out``
        (even with ``--overwrite``). In a ganlib run every such file counts as ganlib's (a
        damaged ``config.json`` is reported as damaged, not as someone else's)."""
        return [] if self.is_ganlib_run() else self._named_like_ours()

    def remove_leftovers(self) -> list:
        """Delete the hidden temporary files that a killed write of another process left (a
        ``.partial`` checkpoint, ``.keras`` file, JSON file, grid or GIF); returns their paths.
        Call it only while holding ``lock()``: no other process is writing here then."""
        removed = []
        for path in (_matching(self.path, TEMPORARY_PATTERN) + _matching(self.checkpoints, TEMPORARY_PATTERN)
                     + _matching(self.samples, TEMPORARY_PATTERN)):
            if re.search(rf"(^|\.){os.getpid()}(\.partial$|-partial-)", os.path.basename(path)):
                continue  # this process's own write in progress
            try:
                os.remove(path)
                removed.append(path)
            except OSError:
                pass
        return removed

    def remove_ganlib_files(self, include_config: bool = True) -> list:
        """Delete ``ganlib_files()`` (never any other file) and then ``checkpoints/`` and
        ``samples/`` if that left them empty; returns the paths deleted."""
        removed = []
        for path in self.ganlib_files(include_config=include_config):
            try:
                os.remove(path)
                removed.append(path)
            except FileNotFoundError:
                pass
        for folder in (self.checkpoints, self.samples):
            try:
                os.rmdir(folder)  # only when empty
            except OSError:
                pass
        return removed

    def lock(self):
        """Take the run folder for this process: an exclusive lock (``fcntl.flock``) on the
        hidden file ``.ganlib.lock``, held until the returned file is closed or the process
        ends (also when killed). A second training on the same folder gets
        ``RunFolderInUseError`` (a ValueError) instead of mixing its files with the first's.
        Where ``fcntl`` does not exist (Windows), or the file system cannot lock (some network
        and FUSE mounts answer ENOLCK or EOPNOTSUPP), nothing is locked."""
        os.makedirs(self.path, exist_ok=True)
        path = self._join(LOCK)
        if os.path.islink(path) or (os.path.exists(path) and not os.path.isfile(path)):
            # never write a PID through a link (into whatever file it points at), nor into a folder
            kind = "a symbolic link" if os.path.islink(path) else "not a file"
            raise RunFolderInUseError(
                f"{path} is {kind}; ganlib keeps its lock file there. Remove it (rm {path!r}) "
                "and train again.")
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        handle = os.fdopen(os.open(path, flags, 0o644), "a+", encoding="utf-8")
        try:
            import fcntl
        except ImportError:
            return handle
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
                return handle  # a file system without locks: not "in use", just unlocked
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise RunFolderInUseError(
                f"{self.path} is in use by another training (process {holder}); wait for it to end, "
                "stop it, or train into another --out.") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        return handle

    def write_config(self, settings: dict):
        """Write ``config.json`` atomically (NaN becomes ``null``); returns its path."""
        return write_json(self.config, settings, indent=1)

    def read_config(self) -> dict:
        """``config.json`` back, as a dict."""
        return read_json(self.config)

    def write_history(self, history: dict, status: str):
        """``history.json``: ``{"status": ..., "step": [...], "d_loss": [...], ...}``;
        NaN and inf become ``null`` (JSON has no such numbers)."""
        return write_json(self.history, {"status": status, **history})

    def read_history(self) -> dict:
        """``history.json`` back, with ``null`` read as NaN in the lists of numbers."""
        content = read_json(self.history)
        return {key: [math.nan if value is None else value for value in values]
                if isinstance(values, list) else values for key, values in content.items()}

    def __repr__(self):
        return f"RunFolder({self.path!r})"


# --- checkpoint names ----------------------------------------------------------------------

def checkpoint_name(step) -> str:
    """``ckpt-00000012.npz`` for step 12."""
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
        raise ValueError(f"step={step!r} must be an integer >= 0.")
    return f"ckpt-{int(step):08d}.npz"


def checkpoint_step(path) -> int | None:
    """The step in a checkpoint's file name, or None when the name is not a checkpoint's."""
    match = CHECKPOINT_PATTERN.match(os.path.basename(os.fspath(path)))
    return int(match.group(1)) if match else None


def checkpoint_files(directory) -> list:
    """``[(step, path), ...]`` of the files named like checkpoints in ``directory``, oldest
    first (by step, not by name). Their content is not read: see ``check_checkpoint``."""
    directory = os.fspath(directory)
    try:
        names = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for name in names:
        step = checkpoint_step(name)
        if step is not None and os.path.isfile(os.path.join(directory, name)):
            found.append((step, os.path.join(directory, name)))
    return sorted(found)


def latest_checkpoint(directory):
    """The path of the checkpoint file with the highest step in ``directory``, or None.
    By name only; ``newest_intact_checkpoint`` also reads it."""
    files = checkpoint_files(directory)
    return files[-1][1] if files else None


# --- damaged checkpoints -------------------------------------------------------------------

class DamagedCheckpointError(ValueError):
    """A checkpoint file that cannot be used (truncated, changed bytes, not ganlib's), or a
    folder whose checkpoints are all like that. ``path`` and ``reason`` say which and why."""

    def __init__(self, message, path=None, reason=None):
        super().__init__(message)
        self.path = path
        self.reason = reason


class DamagedCheckpointWarning(UserWarning):
    """A damaged checkpoint was skipped; an older intact one was used instead."""


def _damaged(path, reason):
    return DamagedCheckpointError(f"checkpoint {path} is damaged ({reason})", path=path, reason=reason)


def check_checkpoint(path) -> dict:
    """Read every byte of the checkpoint ``path``; return its metadata, or raise
    ``DamagedCheckpointError`` saying why it cannot be used.

    Detected: an empty or truncated file (its zip directory, at the end, is missing), changed
    bytes (each array's CRC-32), NaN or inf in an array (``save_checkpoint`` never writes
    them), a ``.npz`` without ganlib's metadata, metadata that is not
    the expected JSON, an unknown format, and a name whose step differs from the metadata's.
    """
    path = os.fspath(path)
    try:
        size = os.path.getsize(path)
    except OSError as error:
        raise _damaged(path, f"cannot be read: {error.strerror or error}") from None
    if size == 0:
        raise _damaged(path, "empty file")
    try:
        with zipfile.ZipFile(path) as archive:
            try:
                broken = archive.testzip()  # reads every member: checks each CRC-32
            except Exception as error:  # e.g. a changed compression method or size field
                raise _damaged(path, f"unreadable archive member ({type(error).__name__}: {error})") from None
            if broken is not None:
                raise _damaged(path, f"member {broken!r} does not match its CRC-32 or its header: "
                                     "bytes changed or cut")
            if "meta.npy" not in archive.namelist():
                raise _damaged(path, "no 'meta' array: not a checkpoint written by ganlib")
            with archive.open("meta.npy") as member:
                meta = json.loads(str(np.lib.format.read_array(member, allow_pickle=False)))
            for name in archive.namelist():  # save_checkpoint never writes NaN or inf: not ganlib's state
                if name.endswith(".npy") and name != "meta.npy":
                    with archive.open(name) as member:
                        array = np.lib.format.read_array(member, allow_pickle=False)
                    if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
                        raise _damaged(path, f"array {name[:-4]!r} holds NaN or inf: not a state worth "
                                             "restoring")
    except DamagedCheckpointError:
        raise
    except zipfile.BadZipFile as error:
        raise _damaged(path, f"not a complete zip archive, as when truncated or partly copied: {error}") from None
    except Exception as error:
        raise _damaged(path, f"{type(error).__name__}: {' '.join(str(error).split())[:200]}") from None
    if not isinstance(meta, dict):
        raise _damaged(path, "its 'meta' array is not a JSON object")
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise _damaged(path, f"format {meta.get('format')!r}; this ganlib reads format {CHECKPOINT_FORMAT}")
    missing = [key for key in ("step", "epoch", "history") if key not in meta]
    if missing or not isinstance(meta["history"], dict):
        raise _damaged(path, f"its metadata lacks {', '.join(missing) or 'a history dict'}")
    named = checkpoint_step(path)
    if named is not None and meta["step"] != named:
        raise _damaged(path, f"its metadata says step {meta['step']}, its name step {named}")
    return meta


def newest_intact_checkpoint(directory):
    """``(path, meta, damaged)``: the newest checkpoint of ``directory`` that passes
    ``check_checkpoint`` (``(None, None, ...)`` when none does) and the
    ``DamagedCheckpointError`` of each newer one. Nothing is reported or renamed."""
    damaged = []
    for _, path in reversed(checkpoint_files(directory)):
        try:
            return path, check_checkpoint(path), damaged
        except DamagedCheckpointError as error:
            damaged.append(error)
    return None, None, damaged


def describe_damaged(errors) -> str:
    """``ckpt-00000006.npz (why); ckpt-00000004.npz (why)`` on one line."""
    return "; ".join(f"{os.path.basename(error.path)} ({error.reason})" for error in errors)


def set_aside(path) -> str:
    """Rename a damaged checkpoint to ``<name>.damaged`` (``.damaged-2``, ... when taken) and
    return the new path: its bytes are kept for the user to inspect, and it no longer
    counts as a checkpoint, so training on neither overwrites nor prunes it."""
    path = os.fspath(path)
    target, number = path + DAMAGED_SUFFIX, 1
    while os.path.lexists(target):
        number += 1
        target = f"{path}{DAMAGED_SUFFIX}-{number}"
    os.rename(path, target)
    return target


def report_damaged(error, used, set_aside_file: bool) -> str:
    """Warn (``DamagedCheckpointWarning``, one line) that ``error.path`` was skipped for
    ``used``; with ``set_aside_file`` rename it first (see ``set_aside``). Returns where the
    damaged file is now."""
    where = error.path
    kept = ""
    if set_aside_file:
        try:
            where = set_aside(error.path)
            kept = f"; kept as {os.path.basename(where)}"
        except OSError as rename_error:
            kept = f"; left in place (could not rename it: {rename_error.strerror or rename_error})"
    warnings.warn(f"{error}{kept}; using {os.path.basename(used)} instead.", DamagedCheckpointWarning,
                  stacklevel=3)
    return where


# --- JSON files: config.json, history.json -------------------------------------------------

def _json_safe(value):
    """``value`` with every NaN or inf float replaced by None (JSON has no such numbers)."""
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


@contextlib.contextmanager
def atomic_file(path):
    """Yield a hidden temporary path in ``path``'s folder (``.NAME.PID.partial``); when the
    block ends normally it is renamed over ``path``, on any error it is removed. A kill or a
    crash so leaves the old file or the new one, never a cut file under ``path``'s name."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.partial")
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        try:
            os.remove(temporary)
        except OSError:
            pass
        raise


def write_json(path, content, indent=None):
    """Write ``content`` as strict JSON (NaN and inf become ``null``) to ``path``, atomically
    (``atomic_file``), flushed to disk before the rename."""
    path = os.fspath(path)
    with atomic_file(path) as temporary:
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(_json_safe(content), handle, indent=indent, allow_nan=False)
            handle.flush()
            os.fsync(handle.fileno())
    return path


def read_json(path) -> dict:
    """The JSON object in ``path``; ValueError (one line, naming the file) when it is missing,
    unreadable, not JSON or not an object."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as handle:
            content = json.load(handle)
    except FileNotFoundError:
        raise ValueError(f"{path} does not exist.") from None
    except (OSError, ValueError) as error:
        raise ValueError(f"{path} could not be read ({' '.join(str(error).split())[:200]}).") from None
    if not isinstance(content, dict):
        kinds = {type(None): "null", bool: "true or false", int: "number", float: "number", str: "string",
                 list: "list"}
        raise ValueError(f"{path} holds a JSON {kinds.get(type(content), 'value')}, not an object of settings "
                         "({...}): restore the file, or start afresh with --overwrite.")
    return content
