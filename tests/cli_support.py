"""What the command-line tests share: the one-error-line check, a folder of tiny PNGs and one
tiny finished run.

Import the fixtures into a test module (``from cli_support import images, run``) to use them;
each module gets its own folder and run (module scope).
"""
import os

import numpy as np
import pytest
from PIL import Image

from ganlib import cli

#: options that keep a `train` run to a second or two: 16x16 images, narrow networks, batch 8
TINY = ["--image-size", "16", "--width", "8", "--latent-dim", "8", "--batch-size", "8", "--samples", "4"]


def fails(capsys, argv, *words, code=2):
    """main(argv) exits with ``code`` and exactly one stderr line holding each of ``words``
    (the option's name, the value given, what is allowed), worded however the CLI likes;
    returns that line."""
    capsys.readouterr()
    try:
        result = cli.main(argv)
    except SystemExit as exit_:  # argparse's own errors
        result = exit_.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert result == code, err
    assert len(lines) == 1, err
    assert all(word in lines[0] for word in words), lines[0]
    assert "Traceback" not in err
    return lines[0]


def write_images(folder, count=8, size=20, seed=0):
    """``count`` random RGB PNGs of ``size`` x ``size`` in ``folder`` (made if missing)."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    for index in range(count):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(
            os.path.join(folder, f"{index:02d}.png"))
    return str(folder)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    return write_images(tmp_path_factory.mktemp("images"))


@pytest.fixture(scope="module")
def run(images, tmp_path_factory):
    """A finished one-epoch `train --model dcgan` run folder on ``images``."""
    out = str(tmp_path_factory.mktemp("runs") / "dcgan")
    assert cli.main(["train", "--model", "dcgan", "--data", images, *TINY, "--epochs", "1", "--out", out,
                     "--quiet"]) == 0
    return out
