"""What the web book adds to Sphinx, MyST-NB and the book theme.

* ``builder-inited``: the README's ``## `` sections become the pages of ``guides/`` (written
  afresh at every build, ignored by git), so the guides are the README and never a copy of it.
* Lesson pages (``lessons/NN_*.ipynb``): under the title, an "Open in Colab" link (the
  notebook on the default branch, as the notebooks' own badge; derived from pyproject.toml by
  ``scripts/sync_colab_cells.py``) and a "Download notebook" link to the committed ``.ipynb``
  the site ships (``_sources/``). The badge image of the notebooks' first cell is served from
  the site itself (``_static/colab-badge.svg``), so a page loads nothing from other hosts.
* Every public name of ganlib (a module's ``__all__``, else what it defines without a leading
  underscore, and the public methods and properties of its classes) must have a docstring
  (``#:`` comment for data): a name without one is a warning, and ``-W`` makes it an error.
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
from pathlib import Path

from docutils import nodes
from sphinx.pycode import ModuleAnalyzer
from sphinx.transforms import SphinxTransform
from sphinx.util import logging

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
LOCAL_BADGE = "/_static/colab-badge.svg"  # a path from the source folder: Sphinx copies it
LESSON = re.compile(r"^lessons/(\d\d_[A-Za-z0-9_]+)$")

# The modules the API reference documents, in the order of its pages.
API_MODULES = ("ganlib", "ganlib.toy", "ganlib.data", "ganlib.models", "ganlib.train",
               "ganlib.conditional", "ganlib.recipes", "ganlib.metrics", "ganlib.augment",
               "ganlib.inpaint", "ganlib.plotting", "ganlib.runfolder", "ganlib.colab", "ganlib.callbacks",
               "ganlib.classic", "ganlib.defaults")


# --------------------------------------------------------------------------- guides
def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def readme_sections(text: str) -> list[tuple[str, str]]:
    """The README's ``## `` sections as (title, body) pairs; a ``#`` inside a code fence is
    not a heading."""
    sections, title, body, fence = [], None, [], None
    for line in text.splitlines():
        marker = re.match(r"^\s*(```+|~~~+)", line)
        if marker:
            fence = None if fence and marker.group(1)[0] == fence else (fence or marker.group(1)[0])
        if fence is None and line.startswith("## "):
            if title is not None:
                sections.append((title, "\n".join(body).strip() + "\n"))
            title, body = line[3:].strip(), []
        elif title is not None:
            # one level up: a README "### Presets" is a section of the guide page "Quick start"
            body.append(line[1:] if fence is None and re.match(r"^###+ ", line) else line)
    if title is not None:
        sections.append((title, "\n".join(body).strip() + "\n"))
    return sections


def write_guides(app):
    """README.md's sections -> guides/NN-title.md (only files whose text changed are written,
    so an incremental build reads only what changed)."""
    guides = Path(app.srcdir) / "guides"
    guides.mkdir(exist_ok=True)
    wanted = {}
    for number, (title, body) in enumerate(readme_sections((ROOT / "README.md").read_text()), 1):
        text = (f"<!-- Made from README.md by docs/_ext/ganlib_book.py at each build: edit the README. -->\n"
                f"# {title}\n\n{body}")
        wanted[f"{number:02d}-{_slug(title)}.md"] = text
    for old in guides.glob("*.md"):
        if old.name not in wanted:
            old.unlink()
    for name, text in wanted.items():
        path = guides / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)


# --------------------------------------------------------------------------- lesson pages
def _sync_colab():
    spec = importlib.util.spec_from_file_location("sync_colab_cells", ROOT / "scripts" / "sync_colab_cells.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def colab_url(notebook: str) -> str:
    """The URL the notebook's own "Open in Colab" badge links to."""
    sync = _sync_colab()
    match = re.search(r"\]\((https://colab\.research\.google\.com/github/[^)\s]+)\)", sync.badge(notebook))
    return match.group(1)


class LessonLinks(SphinxTransform):
    """On a lesson page: the local badge image, and the two links under the title."""

    default_priority = 400

    def apply(self):
        match = LESSON.match(self.env.docname)
        if not match:
            return
        for image in self.document.findall(nodes.image):
            if image.get("uri") == COLAB_BADGE:
                image["uri"] = LOCAL_BADGE
        notebook = match.group(1) + ".ipynb"
        title = next(iter(self.document.findall(nodes.title)), None)
        if title is None:
            logger.warning("lesson %s has no title", notebook, location=self.env.docname)
            return
        download = f"../_sources/lessons/{notebook}"
        links = nodes.raw(
            "",
            f'<p class="lesson-links"><a class="reference external lesson-colab" '
            f'href="{colab_url(notebook)}">Open in Colab</a> · <a class="reference internal '
            f'lesson-download" href="{download}" download="{notebook}">Download notebook '
            f"(<code>{notebook}</code>, with its outputs)</a></p>",
            format="html",
        )
        title.parent.insert(title.parent.index(title) + 1, links)


# --------------------------------------------------------------------------- docstrings
def _public_names(module) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [name for name, value in vars(module).items()
                 if not name.startswith("_") and not inspect.ismodule(value)
                 and getattr(value, "__module__", module.__name__) == module.__name__]
        # data defined here (constants): kept when the module's source assigns them
        assigned = ModuleAnalyzer.for_module(module.__name__).find_tags()
        names = [name for name in names if name in assigned or callable(getattr(module, name))
                 or not _is_data(getattr(module, name))]
    return [name for name in names if not inspect.ismodule(getattr(module, name, None))]


def _is_data(value) -> bool:
    return not (inspect.isclass(value) or inspect.isroutine(value) or isinstance(value, property))


def _attribute_docs(module_name: str) -> dict:
    try:
        return ModuleAnalyzer.for_module(module_name).find_attr_docs()
    except Exception:  # a module without source: no #: comments to find
        return {}


def _home(value, fallback: str) -> str:
    return getattr(value, "__module__", None) or fallback


def missing_docstrings() -> list[str]:
    """Every public name of the API modules (and public member of their public classes) that
    has no docstring, as dotted names."""
    missing = []
    for module_name in API_MODULES:
        module = importlib.import_module(module_name)
        if not (module.__doc__ or "").strip():
            missing.append(module_name)
        for name in _public_names(module):
            value = getattr(module, name)
            if _is_data(value):
                docs = _attribute_docs(module_name)
                if ("", name) not in docs and not _data_documented_elsewhere(value, name):
                    missing.append(f"{module_name}.{name}")
                continue
            if not (inspect.getdoc(value) or "").strip():
                missing.append(f"{module_name}.{name}")
            if inspect.isclass(value):
                missing.extend(_missing_members(value, f"{module_name}.{name}"))
    return missing


def _data_documented_elsewhere(value, name) -> bool:
    """A re-exported constant (``ganlib.data.X`` defined in ``ganlib.data.files``) is
    documented where it is defined."""
    for module_name in list(__import__("sys").modules):
        if module_name.startswith("ganlib.") and ("", name) in _attribute_docs(module_name):
            module = __import__("sys").modules[module_name]
            if getattr(module, name, None) is value:
                return True
    return False


# Keras' protocol methods (what a layer or callback implements for Keras): documented by Keras
KERAS_PROTOCOL = {"call", "build", "compute_output_shape", "get_config", "from_config",
                  "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
                  "on_train_batch_begin", "on_train_batch_end", "set_model"}


def _described_in(cls, name) -> bool:
    """An attribute named in its class's docstring as ``name: ...`` (an Args or Attributes
    entry of a dataclass)."""
    return re.search(rf"^\s*{re.escape(name)}\b[^\n]*:", inspect.getdoc(cls) or "", re.M) is not None


def _missing_members(cls, dotted: str) -> list[str]:
    missing = []
    for klass in cls.__mro__:
        if not klass.__module__.startswith("ganlib"):
            continue
        attribute_docs = _attribute_docs(klass.__module__)
        for name, value in vars(klass).items():
            if name.startswith("_") or name in KERAS_PROTOCOL:
                continue
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            if inspect.isroutine(value) or isinstance(value, property):
                if not (inspect.getdoc(value) or "").strip() and not _overrides_documented(cls, name, klass):
                    missing.append(f"{dotted}.{name}")
            elif ((klass.__qualname__, name) not in attribute_docs and not _described_in(klass, name)
                  and not _described_in(cls, name)):
                missing.append(f"{dotted}.{name}")
    for name in getattr(cls, "__dataclass_fields__", {}):
        if not name.startswith("_") and not _described_in(cls, name) and \
                (cls.__qualname__, name) not in _attribute_docs(cls.__module__):
            missing.append(f"{dotted}.{name}")
    return sorted(set(missing))


def _overrides_documented(cls, name, klass) -> bool:
    """A method that overrides one documented in a base (Keras' ``call``, ``get_config``)
    inherits its documentation."""
    for base in cls.__mro__[cls.__mro__.index(klass) + 1:]:
        if name in vars(base) and (inspect.getdoc(getattr(base, name)) or "").strip():
            return True
    return False


def skip_foreign_members(app, what, name, obj, skip, options):
    """A ganlib class's page lists what ganlib defines (its own members and those of its ganlib
    bases), not the methods it inherits from Keras or from ``dict``."""
    if what != "class":
        return None
    function = obj.fget if isinstance(obj, property) else obj
    if inspect.isroutine(function) or inspect.ismethoddescriptor(function):
        module = getattr(function, "__module__", None) or ""
        if not module.startswith("ganlib"):
            return True
    return None


def init_signature(app, what, name, obj, options, signature, return_annotation):
    """A ganlib subclass of a Keras class shows its ``__init__``'s arguments, not the
    ``(*args, **kwargs)`` of Keras' ``__new__`` that autodoc would take."""
    if what != "class" or not inspect.isclass(obj) or signature != "(*args, **kwargs)":
        return None
    init = obj.__dict__.get("__init__") or next(
        (klass.__dict__["__init__"] for klass in obj.__mro__ if "__init__" in klass.__dict__), None)
    if init is None or not getattr(init, "__module__", "").startswith("ganlib"):
        return None
    parameters = list(inspect.signature(init).parameters.values())[1:]  # without self
    plain = inspect.Signature([parameter.replace(annotation=inspect.Parameter.empty)
                               for parameter in parameters])
    return str(plain), return_annotation


def check_docstrings(app, env):
    for dotted in missing_docstrings():
        logger.warning("public name %s has no docstring (or #: comment for data)", dotted,
                       type="ganlib", subtype="docstring")


def setup(app):
    app.connect("builder-inited", write_guides)
    app.add_transform(LessonLinks)
    app.connect("env-check-consistency", check_docstrings)
    app.connect("autodoc-skip-member", skip_foreign_members)
    app.connect("autodoc-process-signature", init_signature)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
