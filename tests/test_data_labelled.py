"""Tests of ganlib.data.labelled: class-subfolder folders, scikit-learn's digits, MNIST's fallback."""
import warnings

import numpy as np
import pytest
from PIL import Image

from ganlib import data
from ganlib.data import DataFolderError, LabelledImages, SkippedImageWarning


def write_png(path, value, size=(12, 10), mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    colour = (value, value, value) if mode == "RGB" else value
    Image.new(mode, size, colour).save(path)


@pytest.fixture
def class_folder(tmp_path):
    """dogs (2 images), cats (3, one in a subfolder), birds (1) + a broken file, a text file and
    an image lying outside any class folder."""
    root = tmp_path / "pets"
    write_png(root / "dogs" / "a.png", 200)
    write_png(root / "dogs" / "b.png", 210, mode="L")
    write_png(root / "cats" / "a.png", 10)
    write_png(root / "cats" / "b.png", 20)
    write_png(root / "cats" / "more" / "c.png", 30)
    write_png(root / "birds" / "a.png", 120)
    (root / "birds" / "broken.png").write_bytes(b"\x89PNG not really")
    (root / "cats" / "notes.txt").write_text("not an image")
    write_png(root / "loose.png", 90)
    (root / ".hidden").mkdir()
    write_png(root / ".hidden" / "x.png", 5)
    return root


def test_class_names_are_the_sorted_subfolders_and_labels_follow_them(class_folder):
    with pytest.warns(SkippedImageWarning, match="skipped 3 of 9 files") as caught:
        images = data.load_labelled_folder(class_folder, image_size=8, channels=1)
    assert images.class_names == ("birds", "cats", "dogs")
    assert len(images) == 6 and images.shape == (8, 8, 1)
    np.testing.assert_array_equal(images.counts(), [1, 3, 2])
    pixels = images.numpy()
    assert pixels.dtype == np.float32 and pixels.min() >= -1 and pixels.max() <= 1
    # each image's grey level tells its class folder: birds 120, cats 10-30, dogs 200-210
    means = (pixels.mean(axis=(1, 2, 3)) + 1) * 127.5
    for mean, label in zip(means, images.labels):
        low, high = {0: (119, 121), 1: (9, 31), 2: (199, 211)}[int(label)]
        assert low <= mean <= high, (mean, label)
    reasons = {item.name: item.reason for item in images.skipped}
    assert set(reasons) == {"broken.png", "notes.txt", "loose.png"}
    assert "not in a class subfolder" in reasons["loose.png"]
    assert "not an image file" in reasons["notes.txt"]
    assert "broken.png" in str(caught[0].message)
    assert [p.split("/")[-2] for p in images.files] == ["birds", "cats", "cats", "more", "dogs", "dogs"]


def test_folders_without_two_classes_are_refused(tmp_path):
    write_png(tmp_path / "one_class" / "only" / "a.png", 10)
    with pytest.raises(DataFolderError, match="1 subfolder.*at least two"):
        data.load_labelled_folder(tmp_path / "one_class", 8)
    with pytest.raises(ValueError, match="does not exist"):
        data.load_labelled_folder(tmp_path / "missing", 8)
    write_png(tmp_path / "flat" / "a.png", 10)
    with pytest.raises(DataFolderError, match="0 subfolder"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SkippedImageWarning)
            data.load_labelled_folder(tmp_path / "flat", 8)


def test_unreadable_class_is_an_error_when_nothing_can_be_read(tmp_path):
    for name in ("a", "b"):
        (tmp_path / "bad" / name).mkdir(parents=True)
        (tmp_path / "bad" / name / "x.png").write_bytes(b"")
    with pytest.raises(DataFolderError, match="none of its 2 image files"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SkippedImageWarning)
            data.load_labelled_folder(tmp_path / "bad", 8)


def test_bad_arguments_name_the_argument(class_folder):
    with pytest.raises(ValueError, match="image_size=0"):
        data.load_labelled_folder(class_folder, 0)
    with pytest.raises(ValueError, match="channels=2"):
        data.load_labelled_folder(class_folder, 8, channels=2)


def test_split_is_stratified_and_disjoint():
    images = data.load_digits(image_size=8)
    train, held = images.split(held_out=0.25, seed=0)
    assert len(train) + len(held) == len(images) == 1797
    np.testing.assert_array_equal(train.counts() + held.counts(), images.counts())
    np.testing.assert_allclose(held.counts() / images.counts(), 0.25, atol=0.01)
    # disjoint: no image index in both (digits has duplicates, so compare via a fresh split's indices)
    again_train, again_held = images.split(held_out=0.25, seed=0)
    np.testing.assert_array_equal(held.pixels, again_held.pixels)
    different, _ = images.split(held_out=0.25, seed=1)
    assert not np.array_equal(different.pixels, train.pixels)
    with pytest.raises(ValueError, match="held_out=1.5"):
        images.split(held_out=1.5)
    with pytest.raises(ValueError, match="held_out=5000"):
        images.split(held_out=5000)


def test_pipeline_yields_float_images_with_their_labels():
    import tensorflow as tf

    pixels = np.arange(6, dtype=np.uint8)[:, None, None, None] * np.ones((1, 4, 4, 1), np.uint8) * 40
    images = LabelledImages(pixels, [0, 1, 2, 0, 1, 2], ["a", "b", "c"], "test", "six images")
    batches = list(images.pipeline(batch_size=2, seed=0))
    assert len(batches) == 3
    for batch_images, batch_labels in batches:
        assert batch_images.dtype == tf.float32 and batch_labels.dtype == tf.int32
        # image k has grey 40k and label k mod 3
        grey = np.rint((batch_images.numpy()[:, 0, 0, 0] + 1) * 127.5) / 40
        np.testing.assert_array_equal(grey.astype(int) % 3, batch_labels.numpy())
    with pytest.raises(ValueError, match="batch_size=7"):
        images.pipeline(batch_size=7)
    with pytest.raises(ValueError, match="labels has values 0 to 3"):
        LabelledImages(pixels[:4], [0, 1, 2, 3], ["a", "b", "c"], "test", "bad")


def test_digits_are_scikit_learns_images_scaled_to_minus_one_one():
    from sklearn.datasets import load_digits

    reference = load_digits()
    native = data.load_digits(image_size=8)
    assert len(native) == 1797 and native.n_classes == 10 and native.shape == (8, 8, 1)
    np.testing.assert_array_equal(native.labels, reference.target)
    np.testing.assert_allclose((native.numpy()[..., 0] + 1) / 2 * 16, reference.images, atol=16 / 255)
    default = data.load_digits()
    assert default.shape == (16, 16, 1) and default.source == "digits"
    values = default.numpy()
    assert values.min() == -1.0 and values.max() == 1.0
    # the background stays black after resizing: the corners are -1
    assert np.all(values[:, 0, 0, 0] == -1.0)


def test_mnist_falls_back_to_the_digits_when_the_download_fails(monkeypatch, capsys):
    import keras

    def no_network(*args, **kwargs):
        raise OSError("URL fetch failure: no network")

    monkeypatch.setattr(keras.utils, "get_file", no_network)
    images = data.load_mnist(image_size=16)
    assert images.source == "digits" and len(images) == 1797
    assert "MNIST is not available" in images.note and "no network" in images.note
    assert "using scikit-learn's 1797 handwritten digits" in capsys.readouterr().out
    with pytest.raises(OSError, match="no network"):
        data.load_mnist(image_size=16, fallback=False)


def test_mnist_is_padded_to_32_and_keeps_its_labels(monkeypatch):
    from ganlib.data import labelled

    rng = np.random.default_rng(0)
    train = (rng.integers(0, 256, (5, 28, 28), dtype=np.uint8), np.array([0, 1, 2, 3, 4], np.uint8))
    test = (rng.integers(0, 256, (2, 28, 28), dtype=np.uint8), np.array([9, 8], np.uint8))
    monkeypatch.setattr(labelled, "_mnist_arrays", lambda: (train, test))
    images = data.load_mnist(verbose=False)
    assert images.source == "mnist" and images.shape == (32, 32, 1)
    np.testing.assert_array_equal(images.labels, [0, 1, 2, 3, 4, 9, 8])
    np.testing.assert_array_equal(images.pixels[0, 2:30, 2:30, 0], train[0][0])
    assert images.pixels[:, :2].max() == 0 and images.pixels[:, :, 30:].max() == 0


def test_symlinked_folders_are_followed_once_and_loops_are_reported(class_folder, tmp_path):
    """Issue 25 items 7 and 18, one rule: links to folders are followed, every real folder is
    read once, and a link that would read a folder again (``ln -s . here``, a link to a parent,
    a second link to one class) or leads to itself is skipped and reported. Before, cgan counted
    ``ln -s . here`` as a fourth class (every image twice), load_folder ignored a linked
    subfolder silently, and a link to itself stopped loading with "[Errno 40] Too many levels"."""
    import os

    (class_folder / "here").symlink_to(".")                       # the labelled folder itself
    (class_folder / "cats" / "up").symlink_to("..")               # a parent, inside a class
    (class_folder / "moggies").symlink_to(class_folder / "cats")  # a second name for a class
    (class_folder / "dogs" / "loop").symlink_to("loop")           # a link to itself
    (class_folder / "self").symlink_to("self")
    with pytest.warns(SkippedImageWarning):
        images = data.load_labelled_folder(class_folder, image_size=8, channels=1)
    assert images.class_names == ("birds", "cats", "dogs") and len(images) == 6  # as without the links
    reasons = {os.path.basename(item.name): item.reason for item in images.skipped}
    for name in ("here", "up", "moggies"):
        assert "read already" in reasons[name], reasons
    assert "link to itself" in reasons["loop"]
    # load_folder follows a linked subfolder (it was ignored), and a folder whose only
    # subfolder is a link holds images (it "held no image files")
    outside = tmp_path / "outside"
    write_png(outside / "x.png", 50)
    write_png(outside / "y.png", 60)
    only_link = tmp_path / "only_link"
    only_link.mkdir()
    (only_link / "pictures").symlink_to(outside)
    (only_link / "again").symlink_to(outside)
    with pytest.warns(SkippedImageWarning, match="pictures .a link to a folder that is read already"):
        found = data.load_folder(only_link, image_size=8, channels=1, recursive=True)
    assert len(found) == 2
