"""ganlib: the helper package of the "GANs, step by step" tutorial series.

The notebooks in ``notebooks/`` explain each idea once and import the code from here.
Start every notebook with::

    import ganlib
    info = ganlib.setup(seed=42)
    EPOCHS = {'quick': 1, 'cpu': 20, 'gpu': 100}[ganlib.preset()]
    RUNS = ganlib.colab_storage()   # 'runs'; in Colab a folder on Google Drive
"""
from __future__ import annotations

import contextlib
import os
import platform
import random
import sys

from ._checks import check_choice, check_seed

# TensorFlow's oneDNN CPU kernels need about half the CPU time per DCGAN training step of
# its default (Eigen) kernels, and TensorFlow switches them on by itself only on CPUs with
# AVX-512 VNNI/BF16 or AMX (benchmarks/README.md). The switch is read once, when TensorFlow
# is imported, so it is set here, before any ganlib module imports TensorFlow. A value the
# user set (TF_ENABLE_ONEDNN_OPTS=0 to turn them off) is left alone. GPUs are not affected.
# When TensorFlow is already loaded the switch is left unset too: it would change nothing but
# TensorFlow's own probe, which on TensorFlow <= 2.19 reads the variable when it is first asked
# (not when the kernels were chosen) and would then report "on" for kernels that are off.
_ONEDNN_SET_BY_USER = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
_TENSORFLOW_IMPORTED_FIRST = "tensorflow" in sys.modules
if not _TENSORFLOW_IMPORTED_FIRST:
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

#: The package version (the notebooks' Colab cells install the tag ``v`` + this).
__version__ = "0.1.0"


class _RegisterLayersAfterKeras:
    """Make every ``generator.keras`` ganlib writes load with ``keras.models.load_model``
    after ``import ganlib``, without importing Keras here (which would load TensorFlow and
    make ``import ganlib`` take seconds). ganlib's own layers (``models.MirrorSymmetric``)
    are registered with Keras when ``ganlib.models`` is imported; this import hook imports
    it right after Keras itself finishes loading, whenever that happens."""

    _busy = False

    def find_spec(self, name, path=None, target=None):
        if name != "keras" or self._busy:
            return None
        import importlib.util

        self._busy = True  # find keras with the other finders
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self._busy = False
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        original = loader.exec_module

        def exec_module(module):
            original(module)
            if self in sys.meta_path:  # Keras is loaded: no more hooking
                sys.meta_path.remove(self)
            _register_layers()

        loader.exec_module = exec_module
        return spec


def _register_layers():
    import importlib

    try:
        importlib.import_module(f"{__name__}.models")
    except Exception:  # never break a Keras import; load_model then names the missing class
        pass


if "keras" in sys.modules:
    _register_layers()
elif not any(isinstance(finder, _RegisterLayersAfterKeras) for finder in sys.meta_path):
    sys.meta_path.insert(0, _RegisterLayersAfterKeras())

#: The presets ``preset()`` returns: CI-sized, laptop-sized, GPU-sized work.
PRESETS = ("quick", "cpu", "gpu")

SUBMODULES = ("augment", "callbacks", "classic", "colab", "conditional", "data", "inpaint", "metrics",
              "models", "plotting", "runfolder", "smoke", "toy", "train")

__all__ = ["setup", "preset", "onednn_enabled", "colab_storage", "PRESETS", "__version__", *SUBMODULES]


def __getattr__(name):
    """Import submodules on first use, so `import ganlib; ganlib.data.load_faces()` works
    without importing TensorFlow until it is needed (PEP 562). ``ganlib.colab_storage`` is
    ``ganlib.colab.colab_storage`` (Google Drive in Colab; see that module)."""
    import importlib

    if name in SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name == "colab_storage":
        return importlib.import_module(f"{__name__}.colab").colab_storage
    raise AttributeError(f"module 'ganlib' has no attribute {name!r}")


@contextlib.contextmanager
def _quiet_native_stderr():
    """Hide what TensorFlow's C++ side prints to stderr while it loads and probes devices
    (CUDA probes on machines without a GPU: "Could not find cuda drivers", "failed call to
    cuInit"). Python exceptions still propagate; only file descriptor 2 is redirected."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (some notebook front ends)
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _import_tensorflow():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _quiet_native_stderr():
        import tensorflow as tf

        tf.config.list_physical_devices()  # the CUDA probe happens here, once
    return tf


def onednn_enabled() -> bool | None:
    """Whether TensorFlow in this process runs its oneDNN CPU kernels (None: cannot tell).

    ``import ganlib`` turns them on unless ``TF_ENABLE_ONEDNN_OPTS`` was set, or TensorFlow
    was imported before ganlib (the setting is read once, when TensorFlow loads; ganlib then
    leaves it as it was, so the probe below answers with the setting TensorFlow loaded with).
    """
    try:
        _import_tensorflow()
        from tensorflow.python.util import _pywrap_util_port

        return bool(_pywrap_util_port.IsMklEnabled())
    except Exception:  # a TensorFlow build without the probe
        return None


def _onednn_hint(enabled) -> str:
    """A one-line hint when oneDNN is off only because TensorFlow was imported first."""
    if enabled is False and _TENSORFLOW_IMPORTED_FIRST and _ONEDNN_SET_BY_USER is None:
        return ("Note: TensorFlow was imported before ganlib, so its oneDNN CPU kernels are off "
                "(CPU training takes about twice as long). Import ganlib first, or set "
                "TF_ENABLE_ONEDNN_OPTS=1 before TensorFlow is imported.")
    return ""


def _has_gpu() -> bool:
    try:
        tf = _import_tensorflow()

        return bool(tf.config.list_physical_devices("GPU"))
    except Exception:  # TensorFlow missing or broken: no GPU to speak of
        return False


def preset() -> str:
    """The active size preset: 'quick' | 'cpu' | 'gpu'.

    ``GANLIB_PRESET`` wins when set; else ``GANLIB_QUICK=1`` gives 'quick'; else 'gpu'
    when TensorFlow sees a GPU, otherwise 'cpu'.
    """
    chosen = os.environ.get("GANLIB_PRESET", "").strip()
    if chosen:
        return check_choice("GANLIB_PRESET", chosen.lower(), PRESETS)
    if os.environ.get("GANLIB_QUICK", "").strip() not in ("", "0"):
        return "quick"
    return "gpu" if _has_gpu() else "cpu"


def _device() -> str:
    try:
        tf = _import_tensorflow()

        if tf.config.list_logical_devices("TPU"):
            return "TPU"
        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            return f"GPU x{len(gpus)}"
    except Exception:
        pass
    return f"CPU ({os.cpu_count()} cores)"


def setup(seed: int = 42, deterministic: bool = False, verbose: bool = True) -> dict:
    """Seed Python, NumPy and Keras/TensorFlow and report the environment.

    Args:
        seed: the seed for every random generator (Python, NumPy, TensorFlow, Keras).
        deterministic: also turn on TensorFlow's op determinism, so two runs on the
            same machine give identical numbers (slower on GPU).
        verbose: print the summary line.

    Python's string hashing (the order of sets of strings) is not seeded here: Python
    reads ``PYTHONHASHSEED`` once, when the interpreter starts, so setting it afterwards
    changes nothing in this process (only in child processes) and ``setup`` leaves it
    alone. Nothing in ganlib depends on it; ``make test`` exports ``PYTHONHASHSEED=0``
    (Makefile), and a shell ``PYTHONHASHSEED=0 python ...`` fixes it for one command.

    Returns:
        A dict with the versions, the device found, whether TensorFlow's oneDNN CPU kernels
        are on (``onednn``; see ``onednn_enabled``), the active preset and the seed.
    """
    seed = check_seed("seed", seed)
    random.seed(seed)
    import numpy as np

    np.random.seed(seed)
    tf = _import_tensorflow()
    import keras

    keras.utils.set_random_seed(seed)  # seeds Python, NumPy and TF together
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    info = {
        "ganlib": __version__,
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "device": _device(),
        "onednn": onednn_enabled(),
        "preset": preset(),
        "seed": seed,
        "deterministic": bool(deterministic),
    }
    if verbose:
        kernels = ""  # the CPU kernels matter for training only when there is no GPU or TPU
        if info["device"].startswith("CPU"):
            kernels = {True: ", oneDNN on", False: ", oneDNN off"}.get(info["onednn"], "")
        print(
            "ganlib {ganlib} | TensorFlow {tensorflow} | Keras {keras} | NumPy {numpy} | "
            "device {device}{kernels} | preset '{preset}' | seed {seed}".format(kernels=kernels, **info)
        )
        hint = _onednn_hint(info["onednn"]) if kernels else ""
        if hint:
            print(hint)
    return info
