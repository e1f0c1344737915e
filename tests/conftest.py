import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

# Import ganlib before any test module imports TensorFlow, as the notebooks do, so that the
# tests run with the CPU kernels ganlib sets up (oneDNN; see ganlib/__init__.py).
import ganlib  # noqa: E402,F401
