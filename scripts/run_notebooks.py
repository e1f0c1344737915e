"""Execute notebooks in place, in order, and print how long each took.

Used by `make run`. The preset comes from the environment (see ganlib.preset()).
Usage: python scripts/run_notebooks.py notebooks/00_*.ipynb [...]
"""
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def main(paths):
    if not paths:
        sys.exit("run_notebooks.py: no notebook given")
    os.environ["GANLIB_PROGRESS"] = "0"  # the kernels inherit it: no progress-bar fragments kept
    total = time.perf_counter()
    for path in map(Path, paths):
        start = time.perf_counter()
        notebook = nbformat.read(path, as_version=4)
        client = NotebookClient(notebook, timeout=None, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        try:
            client.execute()
        finally:
            nbformat.write(notebook, path)  # keep outputs so far, even on error
        size = path.stat().st_size / 1e6
        print(f"{path.name}: {time.perf_counter() - start:7.1f} s, {size:.2f} MB", flush=True)
    print(f"all notebooks: {time.perf_counter() - total:.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
