"""The command line's conditional GAN: train --model cgan on a folder of class subfolders, then
sample --label; and the errors of both."""
import json
import os

import numpy as np
import pytest
from PIL import Image

from cli_support import fails
from ganlib import cli

TINY = ["--image-size", "16", "--channels", "1", "--width", "4", "--latent-dim", "8", "--batch-size", "4"]


@pytest.fixture(scope="module")
def class_folder(tmp_path_factory):
    """Three classes of 6 grey images each: dark, mid-grey and bright, with a little noise."""
    root = tmp_path_factory.mktemp("labelled")
    rng = np.random.default_rng(0)
    for name, level in (("bright", 220), ("dark", 30), ("grey", 128)):
        os.makedirs(root / name)
        for index in range(6):
            pixels = np.clip(level + rng.normal(0, 10, (20, 20)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{index}.png")
    return str(root)


@pytest.fixture(scope="module")
def cgan_run(class_folder, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("runs") / "cgan")
    assert cli.main(["train", "--model", "cgan", "--data", class_folder, "--out", out, "--epochs", "2",
                     "--conditioning", "concat", "--ema", "0.9", "--quiet", *TINY]) == 0
    return out


def test_train_cgan_writes_a_run_with_its_classes(cgan_run):
    config = json.load(open(os.path.join(cgan_run, "config.json")))
    assert config["model"] == "cgan" and config["conditioning"] == "concat"
    assert config["class_names"] == ["bright", "dark", "grey"]
    assert config["samples"] == 9  # 3 classes: a 3x3 grid, one class per column
    for name in ("generator.keras", "discriminator.keras", "history.json", "samples.gif"):
        assert os.path.exists(os.path.join(cgan_run, name)), name
    grid = np.asarray(Image.open(os.path.join(cgan_run, "samples", "epoch_0002.png")))
    assert grid.shape[:2] == (3 * 16 + 4 * 2, 3 * 16 + 4 * 2)  # 3x3 images of 16 px, 2 px padding
    history = json.load(open(os.path.join(cgan_run, "history.json")))
    assert len(history["step"]) == 8  # 18 images, batch 4: 4 steps per epoch, 2 epochs


def test_sample_label_by_number_and_by_name_give_the_same_images(cgan_run, tmp_path):
    by_number, by_name = str(tmp_path / "n.png"), str(tmp_path / "name.png")
    assert cli.main(["sample", cgan_run, "--label", "1", "--n", "4", "--out", by_number]) == 0
    assert cli.main(["sample", cgan_run, "--label", "dark", "--n", "4", "--out", by_name]) == 0
    np.testing.assert_array_equal(np.asarray(Image.open(by_number)), np.asarray(Image.open(by_name)))
    other = str(tmp_path / "other.png")
    assert cli.main(["sample", cgan_run, "--label", "0", "--n", "4", "--out", other]) == 0
    assert not np.array_equal(np.asarray(Image.open(other)), np.asarray(Image.open(by_number)))
    every = str(tmp_path / "every.png")
    assert cli.main(["sample", cgan_run, "--n", "6", "--columns", "3", "--out", every]) == 0
    assert np.asarray(Image.open(every)).shape[:2] == (2 * 16 + 3 * 2, 3 * 16 + 4 * 2)


def test_sample_label_errors(capsys, cgan_run, tmp_path):
    fails(capsys, ["sample", cgan_run, "--label", "3", "--out", str(tmp_path / "x.png")],
          "--label=3", "0 to 2", "bright, dark, grey")
    fails(capsys, ["sample", cgan_run, "--label", "cat", "--out", str(tmp_path / "x.png")],
          "--label=cat", "0 to 2")
    fails(capsys, ["sample", os.path.join(cgan_run, "discriminator.keras"), "--out", str(tmp_path / "x.png")],
          "not a generator")


def test_train_cgan_errors(capsys, class_folder, tmp_path):
    out = str(tmp_path / "run")
    fails(capsys, ["train", "--model", "cgan", "--data", "sprites", "--out", out],
          "--data sprites", "class subfolders")
    fails(capsys, ["train", "--model", "dcgan", "--data", class_folder, "--out", out, "--conditioning", "acgan"],
          "--conditioning", "--model cgan")
    fails(capsys, ["train", "--model", "cgan", "--data", class_folder, "--out", out, "--r1", "1"],
          "--r1", "--model dcgan")
    fails(capsys, ["train", "--model", "cgan", "--data", class_folder, "--out", out, "--conditioning", "film"],
          "--conditioning", "concat", "projection", "acgan")
    flat = tmp_path / "flat"
    os.makedirs(flat)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(flat / "a.png")
    fails(capsys, ["train", "--model", "cgan", "--data", str(flat), "--out", out, "--quiet", *TINY],
          "subfolder", "at least two")


def test_sample_label_from_an_unconditional_generator(capsys, class_folder, tmp_path):
    import keras

    from ganlib import models

    path = str(tmp_path / "g.keras")
    models.dcgan_generator(8, 16, 1, width=4).save(path)
    fails(capsys, ["sample", path, "--label", "1", "--out", str(tmp_path / "x.png")],
          "--label", "cgan")
    assert keras.models.load_model(path).input_shape == (None, 8)


def test_inpaint_with_a_conditional_run_says_it_is_not_supported(cgan_run, tmp_path, capsys):
    """Issue 25 item 24: "is not a generator: it takes inputs of shape ..." instead of a reason."""
    image = tmp_path / "x.png"
    Image.fromarray(np.full((16, 16), 128, np.uint8)).save(image)
    fails(capsys, ["inpaint", str(image), "--model", cgan_run, "--out", str(tmp_path / "o.png")],
          "conditional run", "not supported", "dcgan or wgan-gp")
