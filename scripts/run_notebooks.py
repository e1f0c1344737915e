"""Execute notebooks in place, in order, and print how long each took.

Used by `make run`. The preset comes from the environment (see ganlib.preset()). Each notebook that
runs to the end records the commit it was executed with (when ganlib/ and pyproject.toml have no
uncommitted changes), and its Colab install cell is pinned to that commit (sync_colab_cells.py).
Usage: python scripts/run_notebooks.py notebooks/00_*.ipynb [...]
"""
import os
import subprocess
import sys
import time
from pathlib import Path

import sync_colab_cells  # this folder is on sys.path when run as a script

import nbformat
from nbclient import NotebookClient


def clean_commit():
    """(HEAD's commit, None) when ganlib/ and pyproject.toml match it; else (None, why not)."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=sync_colab_cells.ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    try:
        dirty = git("status", "--porcelain", "--", "ganlib", "pyproject.toml")
        head = git("rev-parse", "HEAD")
    except (OSError, subprocess.CalledProcessError):
        return None, "not a git checkout"
    if dirty:
        return None, "ganlib/ or pyproject.toml has uncommitted changes"
    return head, None


def main(paths):
    if not paths:
        sys.exit("run_notebooks.py: no notebook given")
    commit, why_not = clean_commit()
    if commit is None:
        print(f"note: {why_not}: the notebooks' Colab install cells keep their earlier pins", flush=True)
    os.environ["GANLIB_PROGRESS"] = "0"  # the kernels inherit it: no progress-bar fragments kept
    total = time.perf_counter()
    for path in map(Path, paths):
        start = time.perf_counter()
        notebook = nbformat.read(path, as_version=4)
        client = NotebookClient(notebook, timeout=None, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        try:
            client.execute()
            if commit is not None:  # ran to the end: pin its Colab install to the code it ran with
                sync_colab_cells.record_commit(notebook, commit)
                for index, _, source in sync_colab_cells.expected_cells(path, notebook):
                    notebook.cells[index].source = source
        finally:
            nbformat.write(notebook, path)  # keep outputs so far, even on error
        size = path.stat().st_size / 1e6
        print(f"{path.name}: {time.perf_counter() - start:7.1f} s, {size:.2f} MB", flush=True)
    print(f"all notebooks: {time.perf_counter() - total:.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
