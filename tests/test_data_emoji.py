"""ganlib.data.load_emoji (OpenMoji, rendered by resvg) and ImageSet.split(groups)."""
import os
import shutil
import warnings

import numpy as np
import pytest

from ganlib.data import ImageSet, SkippedImageWarning, emoji_group, load_emoji
from ganlib.data import emoji as emoji_module

SMILE = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 72 72"><circle cx="36" cy="36" r="{r}" '
         'fill="{colour}"/></svg>')


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANLIB_DATA", str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.fixture()
def small_folder(tmp_path, monkeypatch):
    """Six SVGs: one drawing in three skin tones, two others, and a broken file."""
    folder = tmp_path / "svg"
    folder.mkdir()
    for name, colour, r in (("1F44D", "#fcea2b", 30), ("1F44D-1F3FB", "#fadcbc", 30),
                            ("1F44D-1F3FF", "#a57939", 30), ("1F600", "#ff0000", 20), ("2B50", "#0000ff", 10)):
        (folder / f"{name}.svg").write_text(SMILE.format(colour=colour, r=r))
    (folder / "BAD.svg").write_text("<svg this is not xml")
    monkeypatch.setattr(emoji_module, "_svg_folder", lambda: folder)
    return folder


def test_emoji_group_drops_only_the_skin_tone():
    assert emoji_group("1F44D-1F3FB") == "1F44D"
    assert emoji_group("1F9D1-1F3FD-200D-1F91D-200D-1F9D1-1F3FF") == "1F9D1-200D-1F91D-200D-1F9D1"
    assert emoji_group("1F600") == "1F600"


def test_small_folder_renders_on_white_skips_the_broken_file_and_caches(small_folder, cache):
    with pytest.warns(SkippedImageWarning, match="BAD.svg"):
        images = load_emoji(16, verbose=False)
    assert len(images) == 5 and images.shape == (16, 16, 3)
    assert [s.name for s in images.skipped] == ["BAD.svg"]
    pixels = images.numpy()
    assert pixels.min() >= -1 and pixels.max() <= 1
    np.testing.assert_allclose(pixels[:, 0, 0], 1.0)  # the transparent corner is white
    red = pixels[[os.path.basename(f) for f in images.files].index("1F600.svg")]
    np.testing.assert_allclose(red[8, 8], [1.0, -1.0, -1.0], atol=0.02)  # the disc's centre
    assert images.groups == ["1F44D", "1F44D", "1F44D", "1F600", "2B50"]
    assert "CC BY-SA 4.0" in images.note
    # second call: read from the cache (no rendering: the SVGs may even be gone)
    cached = sorted((cache / "openmoji").glob("*.npz"))
    assert len(cached) == 1 and not list((cache / "openmoji").glob(".*partial"))
    shutil.rmtree(small_folder)
    small_folder.mkdir()
    again = load_emoji(16, verbose=False)
    np.testing.assert_array_equal(again.numpy(), pixels)


def test_channels_and_skin_tones(small_folder, cache):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedImageWarning)
        rgba = load_emoji(16, channels=4, verbose=False)
        grey = load_emoji(16, channels=1, verbose=False)
        one_each = load_emoji(16, skin_tones=False, verbose=False)
    assert rgba.shape == (16, 16, 4) and grey.shape == (16, 16, 1)
    assert rgba.numpy()[:, 0, 0, 3].max() == -1.0  # transparent corners keep alpha 0
    assert len(one_each) == 3 and one_each.groups == ["1F44D", "1F600", "2B50"]


def test_a_damaged_cache_is_rendered_again(small_folder, cache):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedImageWarning)
        first = load_emoji(16, verbose=False)
        (path,) = (cache / "openmoji").glob("*.npz")
        path.write_bytes(b"not an npz")
        with pytest.warns(UserWarning, match="damaged"):
            again = load_emoji(16, verbose=False)
    np.testing.assert_array_equal(again.numpy(), first.numpy())


@pytest.mark.parametrize("kwargs, words", [
    (dict(image_size=(16, 32)), "square"),
    (dict(image_size=0), "image_size"),
    (dict(channels=2), "channels"),
    (dict(skin_tones="yes"), "skin_tones"),
])
def test_bad_arguments_name_what_is_allowed(kwargs, words, small_folder, cache):
    with pytest.raises(ValueError, match=words):
        load_emoji(**kwargs, verbose=False)


def test_split_keeps_each_group_on_one_side():
    groups = [f"g{i // 6}" for i in range(60)]  # ten groups of six
    images = ImageSet("test", "test", (4, 4), 1, pixels=np.zeros((60, 4, 4, 1), np.uint8), groups=groups)
    for seed in range(5):
        train, held = images.split(held_out=0.2, seed=seed)
        assert len(held) == 12 and len(train) == 48  # whole groups: two of ten
        assert not set(train.groups) & set(held.groups)
    with pytest.raises(ValueError, match="one per image"):
        ImageSet("test", "test", (4, 4), 1, pixels=np.zeros((3, 4, 4, 1), np.uint8), groups=["a"])


def test_identical_pictures_share_a_group(small_folder, cache):
    """A picture drawn under two code points (and the skin tones of either) is one group."""
    (small_folder / "BAD.svg").unlink()
    (small_folder / "2B55.svg").write_text(SMILE.format(colour="#ff0000", r=20))  # = 1F600
    (small_folder / "2B55-1F3FB.svg").write_text(SMILE.format(colour="#0000ff", r=10))  # = 2B50
    images = load_emoji(16, verbose=False)
    names = [os.path.basename(f)[:-4] for f in images.files]
    group = dict(zip(names, images.groups))
    assert len(group) == 7 and group["1F44D"] == group["1F44D-1F3FB"] == group["1F44D-1F3FF"] == "1F44D"
    # 2B55 copies 1F600, its skin tone copies 2B50: all four are one group
    assert group["1F600"] == group["2B55"] == group["2B55-1F3FB"] == group["2B50"] == "1F600"


def test_the_real_openmoji_set(cache):
    images = load_emoji(16, verbose=False)
    assert len(images) == 4495 and images.shape == (16, 16, 3) and not images.skipped
    train, held = images.split(held_out=0.2, seed=0)
    assert 890 <= len(held) <= 910 and not set(train.groups) & set(held.groups)
    one_each = load_emoji(16, skin_tones=False, verbose=False)
    assert len(one_each) == 2460
    for pictures in (images, one_each):  # no picture on both sides of a split
        train, held = pictures.split(held_out=0.25, seed=0)
        seen = {picture.tobytes() for picture in train.numpy()}
        assert not [picture for picture in held.numpy() if picture.tobytes() in seen]
