import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

# Import ganlib before any test module imports TensorFlow, as the notebooks do, so that the
# tests run with the CPU kernels ganlib sets up (oneDNN; see ganlib/__init__.py).
import ganlib  # noqa: E402,F401


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
