"""Google Drive in Colab: where runs and downloaded archives live, so a disconnect loses little.

A Colab runtime's disk (``/content``) is wiped when the runtime ends or disconnects, and each
notebook runs on a machine of its own. ``colab_storage`` mounts Google Drive (Colab asks for
permission) and returns the folder runs go to, on Drive, where a run's checkpoints survive the
runtime and a later lesson finds an earlier lesson's run::

    RUNS = ganlib.colab_storage(drive=True)     # Path('runs') outside Colab
    RUN_DIR = f"{RUNS}/02_dcgan_faces"

It also sets ``GANLIB_ARCHIVES`` (``ganlib.data.downloads.archive_dir``) to a Drive folder:
downloaded archives (CelebA, Pokemon) are kept there as one file each and unpacked onto the
local disk in every session, never onto Drive. Outside Colab nothing is mounted, set or
printed: runs go to ``runs/`` and data to the usual data folder, as always.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

#: Where Colab mounts Google Drive (``google.colab.drive.mount``'s usual mount point).
MOUNT_POINT = "/content/drive"

#: The folder on Drive (under the mount point) that holds ``runs/`` and ``data/``.
DRIVE_FOLDER = "MyDrive/ganlib"

#: Where runs go outside Colab, and in Colab without Drive (relative to the notebook, as always).
LOCAL_RUNS = Path("runs")

_ARCHIVES = "GANLIB_ARCHIVES"
_set_here = None  # the GANLIB_ARCHIVES value colab_storage set (taken back with drive=False)


def in_colab() -> bool:
    """Whether this is a Colab runtime (Colab imports ``google.colab`` when it starts)."""
    return "google.colab" in sys.modules


def _mount(mount_point: str) -> str | None:
    """Mount Google Drive at ``mount_point`` unless it already is; None, or why it failed."""
    if Path(mount_point, "MyDrive").is_dir():
        return None
    try:
        from google.colab import drive

        drive.mount(mount_point)
    except Exception as error:  # declined, timed out, no Drive: runs stay on this machine
        text = str(error).strip().splitlines()
        return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
    if not Path(mount_point, "MyDrive").is_dir():
        return f"no MyDrive folder in {mount_point} after mounting"
    return None


def colab_storage(drive: bool = True, folder: str = DRIVE_FOLDER, mount_point: str | None = None,
                  verbose: bool = True) -> Path:
    """The folder this notebook's runs go to; in Colab, on Google Drive when ``drive``.

    Args:
        drive: in Colab, mount Google Drive (Colab asks for permission; a Drive already
            mounted is used as it is) and keep runs and downloaded archives on it. False,
            or a mount that fails: runs stay on the runtime's disk. Ignored outside Colab.
        folder: the folder under ``mount_point`` for ``runs/`` and ``data/``.
        mount_point: where Drive is (or gets) mounted; default ``MOUNT_POINT``.
        verbose: in Colab, print one line saying where runs and archives live.

    Returns:
        ``<mount_point>/<folder>/runs`` in Colab with Drive (created if needed); otherwise
        ``Path('runs')``, relative to the notebook as before. In Colab with Drive,
        ``GANLIB_ARCHIVES`` is set to ``<mount_point>/<folder>/data``: archives are
        downloaded there once and unpacked onto the local data folder in every session
        (``ganlib.data.downloads.archive_dir``). Outside Colab nothing else happens.
    """
    global _set_here
    if not in_colab():
        return LOCAL_RUNS
    mount_point = MOUNT_POINT if mount_point is None else mount_point
    problem = _mount(mount_point) if drive else "drive=False"
    if problem is None:
        base = Path(mount_point, folder)
        runs, archives = base / "runs", base / "data"
        try:
            runs.mkdir(parents=True, exist_ok=True)
            archives.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            problem = f"cannot create {base}: {error.strerror or error}"
    if problem is None:
        os.environ[_ARCHIVES] = _set_here = str(archives)
        if verbose:
            print(f"Google Drive: runs in {runs}/ (a disconnect loses at most the steps since the last "
                  f"checkpoint); downloaded archives (CelebA, Pokemon) kept in {archives}/, unpacked on this machine.")
        return runs
    if _set_here is not None and os.environ.get(_ARCHIVES) == _set_here:
        del os.environ[_ARCHIVES]  # drive=False after an earlier call with Drive: this machine only
    _set_here = None
    if verbose:
        why = "not used (drive=False)" if not drive else f"not mounted ({problem})"
        print(f"Google Drive {why}: runs go to {LOCAL_RUNS}/ and downloads to this machine, "
              "both lost when the Colab runtime ends.")
    return LOCAL_RUNS
