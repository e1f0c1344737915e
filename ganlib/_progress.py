"""Progress bars where a person watches, none where outputs are kept.

A bar is written to stderr many times a second; a notebook executed to be read later (``make
run`` through ``scripts/run_notebooks.py``, and the CI's runs) would store every fragment of
it. Those runs set ``GANLIB_PROGRESS=0``: ganlib then draws no bar, and the summary lines it
prints anyway (``fit_gan``'s "Run completed: ...") say what happened.
"""
from __future__ import annotations

import os


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
