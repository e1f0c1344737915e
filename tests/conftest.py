import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

# Import ganlib before any test module imports TensorFlow, as the notebooks do, so that the
# tests run with the CPU kernels ganlib sets up (oneDNN; see ganlib/__init__.py).
import ganlib  # noqa: E402,F401

# Freeze what the imports made (TensorFlow, Keras and friends: about half a million objects that
# live as long as the process) out of Python's full garbage collections, which walk every object
# a worker holds (over a million by the end). Measured on tests/test_cli.py + test_callbacks.py in
# one process beside a 2-process benchmark: full collections 108 s of 449 s, with the imports
# frozen 54 s of 375 s; on the idle machine, frozen: 7 s of 246 s. Freezing again at each new test
# module (after a collection) cost more than it saved there: 20 s of gc, 254 s.
import gc  # noqa: E402
import importlib  # noqa: E402

for _module in ("tensorflow", "keras", "matplotlib.pyplot", "PIL.Image", "ganlib.augment", "ganlib.callbacks",
                "ganlib.classic", "ganlib.cli", "ganlib.conditional", "ganlib.data", "ganlib.inpaint",
                "ganlib.metrics", "ganlib.models", "ganlib.plotting", "ganlib.recipes", "ganlib.toy",
                "ganlib.train"):
    importlib.import_module(_module)
gc.collect()
gc.freeze()


_EXIT_STATUS = {}


def pytest_sessionfinish(session, exitstatus):
    _EXIT_STATUS["status"] = int(exitstatus)


def pytest_unconfigure(config):
    """Leave at once when the run is over. TensorFlow's tear-down of the tf.data iterators still
    alive at exit (their autotune threads) has been seen to take minutes on a busy machine, and
    once more than 10 minutes, after every test had passed and the summary was printed."""
    import sys

    if "status" in _EXIT_STATUS:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT_STATUS["status"])
