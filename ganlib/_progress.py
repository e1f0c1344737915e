"""Progress bars where a person watches, none where outputs are kept.

A bar is written to stderr many times a second; a notebook executed to be read later (``make
run`` through ``scripts/run_notebooks.py``, and the CI's runs) would store every fragment of
it. Those runs set ``GANLIB_PROGRESS=0``: ganlib then draws no bar, and the summary lines it
prints anyway (``fit_gan``'s "Run completed: ...") say what happened.
"""
from __future__ import annotations

import contextlib
import os
import warnings


def bars_wanted() -> bool:
    """False when the environment variable ``GANLIB_PROGRESS`` is 0 (or false/no/off)."""
    return os.environ.get("GANLIB_PROGRESS", "1").strip().lower() not in ("0", "false", "no", "off")


def progress_bar(iterable=None, **kwargs):
    """A ``tqdm`` bar (plain, on stderr: ``tqdm.auto`` warns without ipywidgets) or None
    when bars are not wanted; with ``iterable``, the iterable itself then."""
    if not bars_wanted():
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, **kwargs) if iterable is not None else tqdm(**kwargs)


@contextlib.contextmanager
def quiet_tqdm_auto():
    """Import inside this block for ``tqdm.auto``'s "IProgress not found" warning to stay silent.

    ``pooch`` (ganlib's downloads, and scikit-image's data, lesson 02's faces) imports
    ``tqdm.auto``, which in a Jupyter kernel without ipywidgets warns, with the path of its own
    file, on stderr: a line of debris in every notebook that loads data. Its bars fall back to
    text either way, so the warning tells a reader nothing. Python imports a module once, so the
    first import is the one that matters."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found")
        yield
