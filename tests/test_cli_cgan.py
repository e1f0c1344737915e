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


def write_classes(root, levels, count, side, noise, seed):
    """One subfolder per class name in ``levels``, ``count`` grey images of about that level."""
    rng = np.random.default_rng(seed)
    for name, level in levels:
        os.makedirs(root / name)
        for index in range(count):
            pixels = np.clip(level + rng.normal(0, noise, (side, side)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{index}.png")
    return str(root)


@pytest.fixture(scope="module")
def class_folder(tmp_path_factory):
    """Three classes of 6 grey images each: dark, mid-grey and bright, with a little noise."""
    return write_classes(tmp_path_factory.mktemp("labelled"), (("bright", 220), ("dark", 30), ("grey", 128)),
                         count=6, side=20, noise=10, seed=0)


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


@pytest.fixture(scope="module")
def numbered_run(tmp_path_factory):
    """Class folders 1, 2, 10 (sorted 1, 10, 2) and a folder named in NFD."""
    import unicodedata

    root = write_classes(tmp_path_factory.mktemp("numbered"), (("1", 30), ("2", 128), ("10", 220)),
                         count=4, side=16, noise=5, seed=1)
    out = str(tmp_path_factory.mktemp("runs") / "numbered")
    assert cli.main(["train", "--model", "cgan", "--data", root, "--out", out, "--epochs", "1", "--quiet",
                     *TINY]) == 0
    config = json.load(open(os.path.join(out, "config.json")))
    assert config["class_names"] == ["1", "10", "2"]
    # the same run, its class "été" stored as NFD (as macOS writes folder names)
    config["class_names"] = ["1", "10", unicodedata.normalize("NFD", "été")]
    return out, config


def test_numbered_class_folders_are_named_not_counted(numbered_run, tmp_path, capsys):
    """Issue 25 item 12: with folders 1, 2, 10, --label 0 and --label 1 both drew class "1" and
    class "10" could not be reached by number."""
    out, _ = numbered_run
    args = type("Args", (), {"model": out, "n": 3})
    generator = cli.load_run_networks(out)[0]
    for label, index in (("1", 0), ("10", 1), ("2", 2)):
        args.label = label
        assert list(cli._sample_labels(generator, args)[1]) == [index] * 3
    args.label = "0"
    with pytest.raises(ValueError, match="named by numbers, so give a folder name: 1, 10, 2"):
        cli._sample_labels(generator, args)


def test_a_class_name_matches_in_either_unicode_form(numbered_run, tmp_path):
    """Issue 25 item 22: a folder "été" stored in NFD could not be named with --label été in NFC."""
    import shutil
    import unicodedata

    out, config = numbered_run
    copy = str(tmp_path / "nfd")
    shutil.copytree(out, copy)
    with open(os.path.join(copy, "config.json"), "w") as handle:
        json.dump(config, handle)
    generator = cli.load_run_networks(copy)[0]
    args = type("Args", (), {"model": copy, "n": 2, "label": unicodedata.normalize("NFC", "été")})
    assert list(cli._sample_labels(generator, args)[1]) == [2, 2]


def test_limit_keeps_every_class(capsys, class_folder, tmp_path):
    """Issue 25 item 6: --model cgan --limit 12 on three classes of 6 kept the 12 first files
    by name: two classes, the third gone without a word. Now every class keeps its share."""
    from ganlib.data import load_labelled_folder

    images = load_labelled_folder(class_folder, 16, 1, verbose=False)
    kept = images.subset(cli._limited(images, 12))
    assert np.bincount(kept.labels).tolist() == [4, 4, 4]
    assert np.bincount(images.subset(cli._limited(images, 7)).labels).tolist() == [3, 2, 2]
    fails(capsys, ["train", "--model", "cgan", "--data", class_folder, "--out", str(tmp_path / "run"),
                   "--limit", "2", "--quiet", *TINY], "--limit 2", "3 classes")


def test_a_label_error_lists_at_most_twenty_class_names(capsys, cgan_run, tmp_path):
    """Issue 25 item 25: with 1,000 class folders the error line was 11 KB of names."""
    import shutil

    run = shutil.copytree(cgan_run, tmp_path / "run")
    config = json.loads((run / "config.json").read_text())
    config["class_names"] = [f"class{i:04d}" for i in range(1000)]
    (run / "config.json").write_text(json.dumps(config))
    line = fails(capsys, ["sample", str(run), "--label", "nosuch", "--out", str(tmp_path / "x.png")],
                 "--label=nosuch", "class0019", "(1000 in all)")
    assert "class0020" not in line and len(line) < 600
