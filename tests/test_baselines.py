"""The two reference image sets of lesson 02 (ganlib.metrics' baselines)."""
import numpy as np
import pytest

from ganlib.metrics import gaussian_noise_baseline, pixel_gaussian_baseline

BASELINES = [gaussian_noise_baseline, pixel_gaussian_baseline]


def _smooth_faces(count=200, size=16, seed=0):
    """Fake 'faces': a bright blob in the middle, darker corners, a little noise. In [-1, 1]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    blob = np.exp(-((yy - size / 2) ** 2 + (xx - size / 2) ** 2) / (2 * (size / 5) ** 2))
    brightness = rng.uniform(0.5, 1.0, size=(count, 1, 1))
    images = -0.8 + 1.6 * brightness * blob + rng.normal(0, 0.05, size=(count, size, size))
    return np.clip(images, -1, 1)[..., None].astype(np.float32)


@pytest.mark.parametrize("baseline", BASELINES)
def test_shape_dtype_range_and_seed(baseline):
    images = _smooth_faces(count=50, size=8)
    drawn = baseline(images, 30, seed=3)
    assert drawn.shape == (30, 8, 8, 1)
    assert drawn.dtype == np.float32
    assert drawn.min() >= -1.0 and drawn.max() <= 1.0
    np.testing.assert_array_equal(drawn, baseline(images, 30, seed=3))
    assert not np.array_equal(drawn, baseline(images, 30, seed=4))


def test_gaussian_noise_matches_global_statistics_but_has_no_layout():
    images = _smooth_faces()
    noise = gaussian_noise_baseline(images, 4000, seed=0).astype(np.float64)
    # Before clipping the pixels are N(mean, std) of all training pixels; clipping to [-1, 1]
    # pulls the mean in slightly, so the tolerance is loose on the mean.
    assert abs(noise.mean() - images.mean()) < 0.05
    per_pixel_mean = noise.mean(axis=0)[..., 0]
    # No layout: the centre is no brighter than a corner (the training faces differ by > 1).
    assert images.mean(axis=0)[8, 8, 0] - images.mean(axis=0)[0, 0, 0] > 1.0
    assert abs(per_pixel_mean[8, 8] - per_pixel_mean[0, 0]) < 0.1


def test_pixel_gaussian_reproduces_the_mean_image_and_per_pixel_spread():
    images = _smooth_faces()
    drawn = pixel_gaussian_baseline(images, 4000, seed=0).astype(np.float64)
    np.testing.assert_allclose(drawn.mean(axis=0), images.mean(axis=0), atol=0.03)
    # Centre pixels vary with the blob's brightness, corners only by the small noise.
    np.testing.assert_allclose(drawn.std(axis=0)[8, 8, 0], images.std(axis=0)[8, 8, 0], rtol=0.1)
    assert drawn.std(axis=0)[0, 0, 0] < 0.1 < drawn.std(axis=0)[8, 8, 0]


def test_pixel_gaussian_pixels_are_independent_unlike_the_training_images():
    images = _smooth_faces()
    drawn = pixel_gaussian_baseline(images, 4000, seed=0)
    # Two neighbouring centre pixels: strongly correlated in the training set (same blob),
    # uncorrelated in the baseline, which models each pixel on its own.
    train_corr = np.corrcoef(images[:, 8, 8, 0], images[:, 8, 9, 0])[0, 1]
    drawn_corr = np.corrcoef(drawn[:, 8, 8, 0], drawn[:, 8, 9, 0])[0, 1]
    assert train_corr > 0.9
    assert abs(drawn_corr) < 0.1


def test_colour_channels_are_fitted_separately():
    images = np.zeros((10, 4, 4, 3), np.float32)
    images[..., 0], images[..., 1], images[..., 2] = -0.5, 0.0, 0.5
    drawn = pixel_gaussian_baseline(images, 5, seed=0)
    np.testing.assert_allclose(drawn[..., 0], -0.5)  # std 0: every draw is the mean
    np.testing.assert_allclose(drawn[..., 2], 0.5)


@pytest.mark.parametrize("baseline", BASELINES)
@pytest.mark.parametrize("n", [0, -3, 2.5, True, "10"])
def test_bad_count(baseline, n):
    with pytest.raises(ValueError, match=r"n=.*must be a positive integer"):
        baseline(_smooth_faces(count=4, size=4), n)


@pytest.mark.parametrize("baseline", BASELINES)
def test_bad_images(baseline):
    good = _smooth_faces(count=4, size=4)
    with pytest.raises(ValueError, match=r"images has shape \(4, 4, 4\); expected \(N, H, W, C\)"):
        baseline(good[..., 0], 5)
    with pytest.raises(ValueError, match=r"N >= 2"):
        baseline(good[:1], 5)
    with pytest.raises(ValueError, match=r"images.*\[0, 255\].*\[-1, 1\]"):
        baseline(np.linspace(0, 255, 4 * 16).reshape(4, 4, 4, 1), 5)
    broken = good.copy()
    broken[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        baseline(broken, 5)
