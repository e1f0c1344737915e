"""Decoding a large image for a small training size (issue 16, item 8): the memory it takes
is about the decoded image itself, not several full-size copies (RGBA, crop, premultiplied),
and the shortcut gives the same pixels as the general way."""
import os
import subprocess
import sys

import numpy as np
from PIL import Image

from ganlib.data import load_image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MEASURE = r'''
import resource, sys
from ganlib.data import load_image
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
pixels = load_image(sys.argv[1], 16)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(pixels.shape, (after - before) * 1024)
'''


def test_a_large_png_for_16x16_costs_about_its_decoded_bytes(tmp_path):
    # a 6000x6000 RGB PNG of one colour: 100 KB on disk, 108 MB decoded; its decoding for
    # 16x16 peaked at 6.5 times that (RGBA copy, exif_transpose's copy, crop, RGBa)
    path = tmp_path / "large.png"
    Image.new("RGB", (6000, 6000), (120, 30, 200)).save(path)
    process = subprocess.run([sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True,
                             timeout=120, cwd=REPO)
    assert process.returncode == 0, process.stderr[-2000:]
    shape, grown = process.stdout.split(")")
    assert shape == "(16, 16, 3"
    decoded = 6000 * 6000 * 3
    assert int(grown) < 1.6 * decoded, f"peak memory grew by {int(grown) / 2**20:.0f} MB"


def test_the_opaque_shortcut_gives_the_pixels_of_the_alpha_path(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (700, 900, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    Image.fromarray(np.concatenate([rgb, np.full((700, 900, 1), 255, np.uint8)], axis=-1)).save(tmp_path / "rgba.png")
    Image.fromarray(rgb[..., 0]).save(tmp_path / "grey.png")
    Image.fromarray(np.repeat(rgb[..., :1], 3, axis=-1)).save(tmp_path / "grey_rgb.png")
    for channels in (1, 3, 4):
        np.testing.assert_array_equal(load_image(tmp_path / "rgb.png", 16, channels=channels),
                                      load_image(tmp_path / "rgba.png", 16, channels=channels))
        np.testing.assert_array_equal(load_image(tmp_path / "grey.png", 16, channels=channels),
                                      load_image(tmp_path / "grey_rgb.png", 16, channels=channels))
    for crop in (None, 300, (200, 500)):
        np.testing.assert_array_equal(load_image(tmp_path / "rgb.png", 32, crop=crop),
                                      load_image(tmp_path / "rgba.png", 32, crop=crop))
