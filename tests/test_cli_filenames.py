"""File names that are not valid UTF-8 (issue 16, item 9: "one non-UTF-8 file name stops a
streamed run"). On Linux a name is any bytes; Python lists them as str with surrogate escapes
(PEP 383), which TensorFlow cannot turn into a string tensor."""
import os
import sys

import numpy as np
import pytest
from PIL import Image

from cli_support import TINY
from ganlib import cli, data
from ganlib.data import imageset



def write_non_utf8_folder(folder, count=8, broken=True):
    """``count`` PNGs, every other one named with Latin-1 bytes (b'caf\\xe9_NN.png'), and a
    broken file named b'broken\\xff.png'."""
    root = os.fsencode(str(folder))
    os.makedirs(root, exist_ok=True)
    rng = np.random.default_rng(0)
    try:
        for index in range(count):
            name = b"caf\xe9_%02d.png" % index if index % 2 == 0 else b"img_%02d.png" % index
            Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(
                os.path.join(root, name), format="PNG")
        if broken:
            with open(os.path.join(root, b"broken\xff.png"), "wb") as handle:
                handle.write(b"not a png")
    except OSError as error:  # file systems that insist on UTF-8 names (macOS)
        pytest.skip(f"this file system refuses non-UTF-8 names ({error})")
    return str(folder)


@pytest.fixture
def folder(tmp_path):
    return write_non_utf8_folder(tmp_path / "images")


def test_streamed_set_reads_every_file_whose_name_is_not_utf8(folder):
    with pytest.warns(data.SkippedImageWarning, match=r"broken\\xff\.png"):  # the bytes, not '\udcff'
        images = data.load_folder(folder, 16, in_memory=False, verbose=False)
    assert not images.in_memory and len(images) == 8
    assert any("\udce9" in os.path.basename(path) for path in images.files)
    batches = list(images.pipeline(batch_size=4, seed=0))
    assert [tuple(batch.shape) for batch in batches] == [(4, 16, 16, 3)] * 2
    with pytest.warns(data.SkippedImageWarning):
        in_memory = data.load_folder(folder, 16, in_memory=True, verbose=False)
    np.testing.assert_array_equal(np.sort(np.concatenate(batches).reshape(8, -1), axis=0),
                                  np.sort(in_memory.numpy().reshape(8, -1), axis=0))


#: ImageSet._file_dataset (ganlib/data/imageset.py) builds its tensor of names from os.fsencode'd
#: bytes and decodes them with os.fsdecode: a string tensor refuses surrogate escapes
#: ("Error converting unicode string").


def test_the_single_image_dataset_of_a_streamed_set_reads_non_utf8_names(folder):
    with pytest.warns(data.SkippedImageWarning):
        images = data.load_folder(folder, 16, in_memory=False, verbose=False)
    streamed = np.stack([image.numpy() for image in images.dataset])
    with pytest.warns(data.SkippedImageWarning):
        in_memory = data.load_folder(folder, 16, in_memory=True, verbose=False)
    assert streamed.shape == (8, 16, 16, 3)
    np.testing.assert_array_equal(streamed, in_memory.numpy())


def test_image_folder_streams_non_utf8_names(folder):
    with pytest.warns(data.SkippedImageWarning):
        dataset = data.image_folder(folder, 16, in_memory=False, verbose=False)
    assert sum(1 for _ in dataset) == 8


def test_a_streamed_cli_run_trains_on_non_utf8_names(capsys, monkeypatch, folder, tmp_path):
    monkeypatch.setattr(imageset, "IN_MEMORY_LIMIT_BYTES", 0)  # stream, as CelebA is
    out = tmp_path / "run"
    capsys.readouterr()
    code = cli.main(["train", "--model", "dcgan", "--data", folder, *TINY, "--epochs", "1", "--out", str(out),
                     "--quiet"])
    err = capsys.readouterr().err
    assert code == 0, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: ") and "broken\\xff.png" in lines[0], err
    assert (out / "generator.keras").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="Windows names are UTF-16")
def test_a_run_on_a_folder_whose_own_name_is_not_utf8(capsys, tmp_path):
    folder = write_non_utf8_folder(os.fsdecode(os.path.join(os.fsencode(str(tmp_path)), b"d\xe9ir")),
                                   broken=False)
    out = tmp_path / "run"
    capsys.readouterr()
    code = cli.main(["train", "--model", "dcgan", "--data", folder, *TINY, "--epochs", "1", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "8 images of 16x16x3" in captured.out and "Run completed" in captured.out
