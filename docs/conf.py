"""Sphinx configuration of the web book: `make docs` builds it into build/html.

The lessons are the committed notebooks (docs/lessons is a link to ../notebooks), rendered
with their outputs and never executed; the guides are the README's sections; the API
reference comes from ganlib's docstrings (Google style, read by napoleon). The build runs
with -W: any warning (a broken cross-reference, a public name without a docstring, a
notebook that fails to render) fails it.
"""
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import ganlib  # noqa: E402  (after the paths; switches on oneDNN like every import of ganlib)
import ganlib_book  # noqa: E402

project = "ganlib: GANs, step by step"
author = "the ganlib authors"
copyright = "the ganlib authors"
release = version = ganlib.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax 3 served by the site itself: no CDN
    "ganlib_book",
]

exclude_patterns = ["_build", "guides/README*", "lessons/runs", "lessons/runs/**", "**/.ipynb_checkpoints"]
templates_path = []
html_static_path = ["_static"]
html_css_files = ["ganlib.css"]

# --- notebooks: render what is committed, never execute -----------------------------------
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
myst_dmath_double_inline = True
# the lessons' figures are PNGs, their animations GIFs; text/plain reprs are the fallback
nb_mime_priority_overrides = [("html", "text/plain", 100)]

# --- API reference -------------------------------------------------------------------------
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "signature"
autodoc_class_signature = "mixed"
autodoc_preserve_defaults = True
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_use_ivar = True
add_module_names = False
python_display_short_literal_types = True

# Every reference to ganlib must resolve. Other libraries' names (NumPy, Keras, TensorFlow,
# the standard library) are not looked up: intersphinx would need the network.
nitpicky = True
nitpick_ignore_regex = [
    ("py:.*", r"(np|numpy|keras|tf|tensorflow|pathlib|os|typing|collections|dataclasses|argparse|"
              r"matplotlib|PIL|pooch|concurrent|threading|io|json|enum|abc|types|contextlib|"
              r"sklearn|scipy)(\..*)?"),
    ("py:.*", r"(Path|Iterable|Iterator|Sequence|Callable|Mapping|Any|Optional|Union|Literal|"
              r"NDArray|ArrayLike|Model|Layer|Dataset|Tensor|Figure|Axes|Image|Generator|"
              r"ndarray|array|dtype|PathLike|Enum|NamedTuple|Callback|Warning|Exception)"),
    ("py:class", r"DecodedStore"),  # a string annotation; the class is ganlib.data.store.DecodedStore
    ("py:class", r"(int|float|str|bool|bytes|dict|list|tuple|set|object|None|type|slice|range|"
                 r"Ellipsis|callable|optional|default|array-like|path-like|a|an|the|or|of)"),
]

# --- the book ------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = "GANs, step by step"
html_favicon = "_static/favicon.svg"
html_context = {"default_mode": "light"}  # the theme logs an error for a first visit without one
html_copy_source = True
html_sourcelink_suffix = ""  # _sources/lessons/NN.ipynb is the committed notebook itself
html_last_updated_fmt = None
html_theme_options = {
    "repository_url": ganlib_book._sync_colab().repository_url(),  # [project.urls] of pyproject.toml
    "use_repository_button": False,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "home_page_in_toc": True,
}
suppress_warnings = []
