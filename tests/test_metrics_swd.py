"""Tests of metrics.sliced_wasserstein (Laplacian-pyramid patch SWD, Karras et al. 2018)."""
import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from ganlib.metrics import sliced_wasserstein


def smooth_images(count, size=32, channels=3, seed=0):
    """Random smooth images in [-0.9, 0.9]: Gaussian noise blurred with sigma 1.5."""
    noise = np.random.default_rng(seed).standard_normal((count, size, size, channels))
    images = gaussian_filter(noise, (0, 1.5, 1.5, 0))
    return (0.9 * images / np.abs(images).max()).astype(np.float32)


@pytest.fixture(scope="module")
def sets():
    return smooth_images(120, seed=1), smooth_images(120, seed=2)


def test_identical_sets_give_zero(sets):
    first, _ = sets
    average, per_level = sliced_wasserstein(first, first, return_levels=True)
    assert average == 0.0
    assert per_level == {32: 0.0, 16: 0.0}  # 32x32 images: one band-pass level and 16x16


def test_two_samples_of_one_distribution_are_close_and_symmetric(sets):
    first, second = sets
    forward = sliced_wasserstein(first, second)
    backward = sliced_wasserstein(second, first)
    assert 0.0 < forward < 0.08
    assert backward == pytest.approx(forward, rel=1e-6)


def test_reproducible_with_a_seed_and_varies_without(sets):
    first, second = sets
    few = dict(patches_per_image=16, n_directions=32, n_repeats=1)
    assert sliced_wasserstein(first, second, seed=3, **few) == sliced_wasserstein(first, second, seed=3, **few)
    assert sliced_wasserstein(first, second, seed=3, **few) != sliced_wasserstein(first, second, seed=4, **few)


def test_shifted_blurred_and_noise_sets_are_farther(sets):
    first, second = sets
    baseline = sliced_wasserstein(first, second)
    shifted, shifted_levels = sliced_wasserstein(first, np.clip(second + 0.3, -1, 1), return_levels=True)
    blurred, blurred_levels = sliced_wasserstein(first, gaussian_filter(second, (0, 1, 1, 0)),
                                                 return_levels=True)
    noise = np.random.default_rng(0).uniform(-1, 1, second.shape).astype(np.float32)
    noisy = sliced_wasserstein(first, noise)
    assert shifted > 3 * baseline and blurred > 3 * baseline and noisy > 3 * baseline
    # A brightness shift lives in the coarse 16x16 level; blur removes the fine band.
    assert shifted_levels[16] > 10 * shifted_levels[32]
    assert blurred_levels[32] > blurred_levels[16]
    # More blur, farther away.
    assert sliced_wasserstein(first, gaussian_filter(second, (0, 2, 2, 0))) > blurred


@pytest.mark.parametrize("channels", [1, 4])
def test_grey_and_rgba_and_different_set_sizes(channels):
    first = smooth_images(40, size=16, channels=channels, seed=5)
    second = smooth_images(25, size=16, channels=channels, seed=6)
    average, per_level = sliced_wasserstein(first, second, return_levels=True)
    assert list(per_level) == [16]  # a 16x16 image has a single level
    assert np.isfinite(average) and average > 0


def test_levels_for_64_pixel_images():
    images = smooth_images(8, size=64, channels=3, seed=7)
    _, per_level = sliced_wasserstein(images, images[::-1], patches_per_image=16, return_levels=True)
    assert list(per_level) == [64, 32, 16]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(images_a=np.zeros((10, 32, 32))), r"images_a has shape \(10, 32, 32\)"),
        (dict(images_b=np.zeros((10, 32, 32, 2))), r"images_b has shape .*C = 1, 3 or 4"),
        (dict(images_a=np.zeros((1, 32, 32, 3))), r"N >= 2 images"),
        (dict(images_a=np.zeros((10, 24, 24, 3)), images_b=np.zeros((10, 24, 24, 3))),
         r"24x24; expected square images whose side is a power of two >= 16"),
        (dict(images_a=np.zeros((10, 8, 8, 3))), r"8x8"),
        (dict(images_b=np.zeros((10, 16, 16, 3))), r"images_a has images of shape \(32, 32, 3\) but images_b has \(16, 16, 3\)"),
        (dict(images_a=np.full((10, 32, 32, 3), 255.0)), r"images_a.*\[255, 255\].*\[-1, 1\]"),
        (dict(images_a=np.full((10, 32, 32, 3), np.nan)), r"NaN or inf"),
        (dict(patches_per_image=0), r"patches_per_image=0 must be a positive integer"),
        (dict(n_directions=2.5), r"n_directions=2.5"),
        (dict(patch_size=0), r"patch_size=0 must be an integer from 1 to 16"),
        (dict(min_resolution=12), r"min_resolution=12 must be a power of two"),
        (dict(min_resolution=64), r"min_resolution=64 is larger than the images \(32x32\)"),
    ],
)
def test_bad_input(kwargs, message):
    arguments = dict(images_a=np.zeros((10, 32, 32, 3)), images_b=np.zeros((10, 32, 32, 3)))
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        sliced_wasserstein(**arguments)
