"""Measuring GANs without a pretrained network (everything here works offline).

* ``wasserstein_1d``: the exact Wasserstein-1 distance between two 1-D samples.
* ``mode_coverage``: how many modes of a 2-D mixture a generator captures, how many of
  its samples are "high quality" (within ``3 * std`` of a mode) and the reverse KL of its
  mode histogram, by the protocol of VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et
  al. 2018).
* ``sliced_wasserstein``: the Laplacian-pyramid sliced Wasserstein distance between two
  image sets (Karras et al. 2018).
* ``gaussian_noise_baseline``, ``pixel_gaussian_baseline``: image sets with no GAN behind
  them, the reference points an image metric is read against (lesson 02).
* ``classifier_two_sample_test``: held-out accuracy of a small CNN trained to tell generated
  from real images (Lopez-Paz & Oquab 2017); 0.5 means it cannot.
* ``precision_recall``: improved precision and recall (Kynkaanniemi et al. 2019) on the
  features of a fixed random CNN (``random_cnn_features``).
* ``image_metrics``: one table row (SWD, C2ST, precision, recall) against held-out real
  images; the same call on two real sets gives the floor to read it against.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from . import smoke
from ._checks import check_image_range, check_positive, check_range, check_seed


def _as_1d(name, values):
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if array.size == 0:
        raise ValueError(f"{name} is empty; give at least one sample.")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or inf; every sample must be finite.")
    return array


def wasserstein_1d(a, b) -> float:
    """W1 between the empirical distributions of samples ``a`` and ``b`` (any sizes).

    ``W1 = integral |F_a(t) - F_b(t)| dt``, the area between the two empirical CDFs.
    For two Gaussians with the same std it equals the distance between their means.
    """
    from scipy.stats import wasserstein_distance

    return float(wasserstein_distance(_as_1d("a", a), _as_1d("b", b)))


def mode_coverage(samples_2d, centers, std) -> dict:
    """Mode coverage of 2-D samples around known mode centres, by the protocol of VEEGAN
    (Srivastava et al. 2017, Table 1) and PacGAN (Lin et al. 2018, its 2-D experiments).

    The papers score 2,500 generated samples (pass that many to compare with their tables).
    A sample is *high quality* (HQ) when it lies within ``3 * std`` of its nearest centre.
    A mode is *captured* when it is the nearest centre of at least one HQ sample
    (``modes``). ``reverse_kl`` is PacGAN's KL(Q || P) between Q, the histogram of HQ
    samples over the modes (normalised), and P, the uniform target histogram:
    0 for perfect balance, ``log(n_modes)`` when every HQ sample sits in one mode; it is
    NaN when no sample is HQ (the histogram is empty). Empty modes add 0 (0 log 0 = 0).

    Returns:
        dict with
          ``modes`` (int, captured modes by the protocol), ``hq_fraction`` (float),
          ``reverse_kl`` (float), ``n_modes`` (int), ``samples_per_mode`` (HQ samples per
          mode, list of int), and the older keys ``high_quality_fraction`` (the same value
          as ``hq_fraction``) and ``modes_covered``: ganlib's stricter count, where a mode
          needs ``max(1, 1% of its expected share)`` HQ samples so a few strays do not count.
    """
    samples = np.asarray(samples_2d, dtype=np.float64)
    centers = np.asarray(centers, dtype=np.float64)
    if samples.ndim != 2 or samples.shape[1] != 2 or len(samples) == 0:
        raise ValueError(f"samples_2d has shape {samples.shape}; expected (n, 2) with n >= 1.")
    if centers.ndim != 2 or centers.shape[1] != 2 or len(centers) == 0:
        raise ValueError(f"centers has shape {centers.shape}; expected (n_modes, 2).")
    std = check_positive("std", std)  # also refuses NaN, inf and non-numbers
    distances = np.linalg.norm(samples[:, None, :] - centers[None, :, :], axis=-1)
    nearest = distances.argmin(axis=1)
    good = distances[np.arange(len(samples)), nearest] <= 3 * std
    per_mode = np.bincount(nearest[good], minlength=len(centers))
    threshold = max(1, int(0.01 * len(samples) / len(centers)))
    if per_mode.sum() > 0:
        share = per_mode[per_mode > 0] / per_mode.sum()
        reverse_kl = max(0.0, float(np.sum(share * np.log(share * len(centers)))))  # no -1e-16
    else:
        reverse_kl = float("nan")
    return {
        "modes": int((per_mode >= 1).sum()),
        "hq_fraction": float(good.mean()),
        "reverse_kl": reverse_kl,
        "n_modes": int(len(centers)),
        "samples_per_mode": per_mode.tolist(),
        "modes_covered": int((per_mode >= threshold).sum()),
        "high_quality_fraction": float(good.mean()),
    }


# --- Inpainting quality inside the hole (lesson 05; owner: ganlib.inpaint's author) ---


def _hole_inputs(references, estimates, masks):
    """(N, H, W, C) references and estimates, (N, H, W) bool holes (mask == 0)."""
    references = np.asarray(references, dtype=np.float64)
    estimates = np.asarray(estimates, dtype=np.float64)
    if references.ndim == 3:
        references, estimates = references[None], estimates[None]
    if references.ndim != 4 or references.shape != estimates.shape:
        raise ValueError(
            f"references has shape {references.shape} and estimates {estimates.shape}; expected "
            "the same shape (N, H, W, C) or (H, W, C)."
        )
    masks = np.asarray(masks, dtype=np.float64)
    if masks.ndim == 4 and masks.shape[-1] == 1:  # (N, H, W, 1)
        masks = masks[..., 0]
    elif masks.ndim == 3 and masks.shape == references.shape[1:3] + (1,):  # one (H, W, 1)
        masks = masks[..., 0]
    if masks.ndim == 2:  # one mask for every image
        masks = np.broadcast_to(masks, (len(references),) + masks.shape)
    if masks.shape != references.shape[:3]:
        raise ValueError(
            f"masks has shape {masks.shape}; expected {references.shape[:3] + (1,)} or one "
            f"{references.shape[1:3] + (1,)} mask for all (1 = known, 0 = missing)."
        )
    holes = masks < 0.5
    empty = np.flatnonzero(~holes.reshape(len(holes), -1).any(axis=1))
    if len(empty):
        raise ValueError(f"masks[{empty[0]}] has no hole (no pixel is 0); there is nothing to score.")
    return references, estimates, holes


def hole_psnr(references, estimates, masks, data_range: float = 2.0) -> np.ndarray:
    """PSNR in dB of each estimate against its reference, on the missing pixels only.

    ``10 log10(data_range^2 / MSE)`` with the mean squared error taken over the hole
    (mask == 0) and all channels; known pixels, which inpainting copies, would only
    inflate the score. ``data_range`` 2 for images in [-1, 1]. A perfect fill gives inf.
    Returns one value per image.
    """
    references, estimates, holes = _hole_inputs(references, estimates, masks)
    squared = ((references - estimates) ** 2).mean(axis=-1)
    mse = np.array([squared[i][holes[i]].mean() for i in range(len(squared))])
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(data_range**2 / mse)


def hole_ssim(references, estimates, masks, data_range: float = 2.0, win_size: int = 7) -> np.ndarray:
    """Mean SSIM (Wang et al. 2004) over the missing pixels of each image.

    scikit-image's ``structural_similarity`` computes the SSIM map over the whole image
    (a ``win_size`` x ``win_size`` uniform window, its default 7; colour channels
    averaged); the map is then averaged over the hole only (mask == 0). Windows near the
    hole's border also see known pixels, which both methods share. 1 = identical.
    Returns one value per image.
    """
    from skimage.metrics import structural_similarity

    references, estimates, holes = _hole_inputs(references, estimates, masks)
    scores = []
    for reference, estimate, hole in zip(references, estimates, holes):
        _, ssim_map = structural_similarity(
            reference, estimate, data_range=data_range, channel_axis=-1, win_size=win_size, full=True
        )
        scores.append(ssim_map.mean(axis=-1)[hole].mean())
    return np.asarray(scores)


# --- Reference points for image metrics (lesson 02): what a score means without a GAN ---


def _training_images(images):
    """``images`` as float64 (N, H, W, C) with N >= 2, finite and inside [-1, 1]."""
    array = np.asarray(images, dtype=np.float64)
    if array.ndim != 4 or len(array) < 2:
        raise ValueError(
            f"images has shape {array.shape}; expected (N, H, W, C) with N >= 2 images to fit from."
        )
    check_image_range("images", array)
    return array


def _baseline_count(n):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"n={n!r} must be a positive integer (the number of images to draw).")
    return int(n)


def gaussian_noise_baseline(images, n: int, seed: int = 0) -> np.ndarray:
    """Baseline 1 for an image metric: pure Gaussian noise with the images' brightness.

    Every pixel of every channel is drawn independently from ``N(mu, sigma^2)``, where
    ``mu`` and ``sigma`` are the mean and standard deviation of *all* pixels of
    ``images`` (the training set), then clipped to [-1, 1]. It has the right overall
    brightness and contrast and nothing else: no face, no smoothness. A generator that
    does not beat it has learnt nothing a metric can see. (Lesson 02 uses two baselines;
    a generator must beat both.)

    Args:
        images: the training images, (N, H, W, C) in [-1, 1], N >= 2.
        n: how many images to draw.
        seed: seed of NumPy's generator, so the baseline is the same on every run.

    Returns:
        float32 array (n, H, W, C) in [-1, 1].
    """
    array = _training_images(images)
    n = _baseline_count(n)
    rng = np.random.default_rng(seed)
    samples = rng.normal(array.mean(), array.std(), size=(n,) + array.shape[1:])
    return np.clip(samples, -1.0, 1.0).astype(np.float32)


def pixel_gaussian_baseline(images, n: int, seed: int = 0) -> np.ndarray:
    """Baseline 2: a Gaussian fitted to each pixel of the training images on its own.

    Pixel (i, j) of channel c is drawn from ``N(mean_ijc, std_ijc^2)``, the mean and
    standard deviation of that pixel over ``images``, independently of every other
    pixel, then clipped to [-1, 1]. Its average image is the average face, so it gets the
    layout right (face in the middle, background around it), but neighbouring pixels are
    uncorrelated, so there are no edges, eyes or mouths: only structure *shared by pixels*
    tells a generator apart from it. (This is the "independent pixels" model a GAN is
    meant to improve on.)

    Args:
        images: the training images, (N, H, W, C) in [-1, 1], N >= 2.
        n: how many images to draw.
        seed: seed of NumPy's generator, so the baseline is the same on every run.

    Returns:
        float32 array (n, H, W, C) in [-1, 1].
    """
    array = _training_images(images)
    n = _baseline_count(n)
    rng = np.random.default_rng(seed)
    samples = rng.normal(array.mean(axis=0), array.std(axis=0), size=(n,) + array.shape[1:])
    return np.clip(samples, -1.0, 1.0).astype(np.float32)


# --- Sliced Wasserstein distance on Laplacian-pyramid patches (Karras et al. 2018) -------

_BINOMIAL_5 = np.array([1.0, 4.0, 6.0, 4.0, 1.0], dtype=np.float32) / 16.0


def _blur(images):
    """Separable 5x5 binomial blur of (N, H, W, C) images with mirrored borders."""
    padded = np.pad(images, ((0, 0), (2, 2), (0, 0), (0, 0)), mode="reflect")
    images = sum(_BINOMIAL_5[k] * padded[:, k:k + images.shape[1]] for k in range(5))
    padded = np.pad(images, ((0, 0), (0, 0), (2, 2), (0, 0)), mode="reflect")
    return sum(_BINOMIAL_5[k] * padded[:, :, k:k + images.shape[2]] for k in range(5))


def _laplacian_pyramid(images, min_resolution):
    """Levels from fine to coarse: band-pass differences, then the coarsest blurred image."""
    levels = []
    current = images
    while current.shape[1] > min_resolution:
        smaller = _blur(current)[:, ::2, ::2]
        upsampled = np.zeros_like(current)
        upsampled[:, ::2, ::2] = smaller
        levels.append(current - 4.0 * _blur(upsampled))
        current = smaller
    levels.append(current)
    return levels


def _check_image_set(name, images):
    if hasattr(images, "numpy"):
        images = images.numpy()
    array = np.asarray(images, dtype=np.float32)
    if array.ndim != 4 or array.shape[0] < 2 or array.shape[-1] not in (1, 3, 4):
        raise ValueError(
            f"{name} has shape {array.shape}; expected (N, H, W, C) with N >= 2 images and "
            "C = 1, 3 or 4 channels (channels last)."
        )
    height, width = array.shape[1:3]
    if height != width or height < 16 or height & (height - 1):
        raise ValueError(
            f"{name} has images of {height}x{width}; expected square images whose side is a "
            "power of two >= 16."
        )
    check_image_range(name, array)
    return array


def _patches(level, count, patch_size, rng):
    """``count`` random patch_size x patch_size patches from random images of one level."""
    number, height, width, channels = level.shape
    image_index = rng.integers(0, number, count)
    rows = rng.integers(0, height - patch_size + 1, count)
    cols = rng.integers(0, width - patch_size + 1, count)
    offsets = np.arange(patch_size)
    patches = level[image_index[:, None, None], (rows[:, None] + offsets)[:, :, None],
                    (cols[:, None] + offsets)[:, None, :]]
    return patches  # (count, patch_size, patch_size, channels)


def _sliced_distance(descriptors_a, descriptors_b, n_directions, n_repeats, rng):
    """Mean over random unit directions of W1 between the two projected 1-D samples."""
    results = []
    for _ in range(n_repeats):
        directions = rng.standard_normal((descriptors_a.shape[1], n_directions)).astype(np.float32)
        directions /= np.linalg.norm(directions, axis=0, keepdims=True)
        # (directions, patches): each row contiguous, which sorts faster than columns
        projected_a = np.sort(directions.T @ descriptors_a.T, axis=1)
        projected_b = np.sort(directions.T @ descriptors_b.T, axis=1)
        results.append(np.abs(projected_a - projected_b).mean())
    return float(np.mean(results))


def sliced_wasserstein(images_a, images_b, patches_per_image: int = 128, patch_size: int = 7,
                       n_directions: int = 128, n_repeats: int = 4, min_resolution: int = 16,
                       max_patches: int = 2 ** 15, seed: int = 0, return_levels: bool = False):
    """Sliced Wasserstein distance between two image sets (Karras et al. 2018, appendix D).

    Both sets are decomposed into Laplacian pyramids (5x5 binomial filter, one level per
    factor of two down to ``min_resolution``; the last level is the blurred 16x16 image).
    At every level, 7x7 patches are drawn at random positions (``patches_per_image`` per
    image, at most ``max_patches``, the same number from each set) and each patch becomes
    one descriptor. Each level's descriptors are normalised per channel by the mean and
    standard deviation of both sets pooled; the distance at a level is the mean, over
    ``n_directions * n_repeats`` random unit directions, of the 1-D Wasserstein-1 distance
    between the two sets' projections (sorted and compared). Smaller is closer; identical
    sets give 0. No pretrained network is needed, so it runs offline.

    Defaults from Karras et al.'s code (progressive_growing_of_gans, metrics/
    sliced_wasserstein.py): 7x7 neighbourhoods, 128 per image, 4 repeats of 128
    directions, pyramid down to 16x16; they use up to 1M patches per level, the cap of
    32768 here keeps one call to seconds on a CPU. One deliberate difference: they normalise each set
    by its own statistics, which hides a global shift in brightness or colour; the pooled
    normalisation here measures it and keeps the distance exactly symmetric. Papers report
    SWD x 1e3; this function returns the distance itself.

    Args:
        images_a, images_b: (N, H, W, C) arrays in [-1, 1], square, side a power of two
            >= 16, C = 1, 3 or 4, the same shape per image in both (N may differ).
        seed: seeds the patch positions and the directions (same seed, same answer).
        return_levels: also return a dict {resolution: distance} per pyramid level.

    Returns:
        The average over the levels (a float), or ``(average, per_level)`` when
        ``return_levels`` is true.
    """
    a = _check_image_set("images_a", images_a)
    b = _check_image_set("images_b", images_b)
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(
            f"images_a has images of shape {a.shape[1:]} but images_b has {b.shape[1:]}; "
            "compare sets of the same image shape."
        )
    for name, value in (("patches_per_image", patches_per_image), ("n_directions", n_directions),
                        ("n_repeats", n_repeats), ("max_patches", max_patches)):
        check_positive(name, value, integer=True)
    if isinstance(patch_size, bool) or not isinstance(patch_size, (int, np.integer)) or not 1 <= patch_size <= 16:
        raise ValueError(f"patch_size={patch_size!r} must be an integer from 1 to 16.")
    if (isinstance(min_resolution, bool) or not isinstance(min_resolution, (int, np.integer))
            or min_resolution < patch_size or min_resolution & (min_resolution - 1)):
        raise ValueError(
            f"min_resolution={min_resolution!r} must be a power of two >= patch_size ({patch_size})."
        )
    if min_resolution > a.shape[1]:
        raise ValueError(
            f"min_resolution={min_resolution} is larger than the images ({a.shape[1]}x{a.shape[2]})."
        )
    if smoke.active():  # GANLIB_SMOKE: a few images of each set
        a, b = a[:smoke.METRIC_IMAGES], b[:smoke.METRIC_IMAGES]
    count = min(max_patches, patches_per_image * min(len(a), len(b)))
    per_level = {}
    pyramid_a = _laplacian_pyramid(a, min_resolution)
    pyramid_b = _laplacian_pyramid(b, min_resolution)
    for depth, (level_a, level_b) in enumerate(zip(pyramid_a, pyramid_b)):
        # The same stream for both sets: with equal sizes they share patch positions, so
        # swapping the arguments swaps the descriptors and the result is exactly symmetric.
        patches_a = _patches(level_a, count, patch_size, np.random.default_rng([seed, depth, 1]))
        patches_b = _patches(level_b, count, patch_size, np.random.default_rng([seed, depth, 1]))
        pooled = np.concatenate([patches_a, patches_b])
        mean = pooled.mean(axis=(0, 1, 2), dtype=np.float64)  # float64: order-independent
        std = pooled.std(axis=(0, 1, 2), dtype=np.float64) + 1e-8
        descriptors_a = ((patches_a - mean) / std).astype(np.float32).reshape(count, -1)
        descriptors_b = ((patches_b - mean) / std).astype(np.float32).reshape(count, -1)
        distance = _sliced_distance(descriptors_a, descriptors_b, n_directions, n_repeats,
                                    np.random.default_rng([seed, depth, 2]))
        per_level[int(level_a.shape[1])] = distance
    average = float(np.mean(list(per_level.values())))
    return (average, per_level) if return_levels else average


# --- Metrics that agree with the eye: a classifier two-sample test and improved
# --- precision and recall, both offline, both read against a real-against-real floor -------
#
# Read every number here against the *floor*: the same metric for two disjoint sets of real
# images (``image_metrics(real_heldout, real_train)``), computed with the same number of
# images, since all of them depend on it. A generator is judged by how far it is from the
# floor, not from 0 (SWD), 0.5 (C2ST) or 1 (precision, recall).

_Z_95 = 1.959963984540054  # two-sided 95% quantile of the standard normal


def _same_shape_sets(real, generated):
    """Both sets checked by ``_check_image_set`` and required to hold images of one shape."""
    real = _check_image_set("real", real)
    generated = _check_image_set("generated", generated)
    if real.shape[1:] != generated.shape[1:]:
        raise ValueError(
            f"real has images of shape {real.shape[1:]} but generated has {generated.shape[1:]}; "
            "compare sets of the same image shape."
        )
    return real, generated


def _max_images(max_images):
    """``max_images`` checked; under ``GANLIB_SMOKE=1`` at most ``smoke.METRIC_IMAGES`` (None too)."""
    if max_images is not None:
        max_images = check_positive("max_images", max_images, integer=True)
    if smoke.active():
        return min(max_images or smoke.METRIC_IMAGES, smoke.METRIC_IMAGES)
    return max_images


def _equal_subsets(real, generated, max_images, rng):
    """Random subsets of the same size n = min(len(real), len(generated), max_images), in
    random order (so that a later split into parts does not follow the order of the input)."""
    count = min(len(real), len(generated), max_images or len(real))
    return real[rng.permutation(len(real))[:count]], generated[rng.permutation(len(generated))[:count]]


@dataclass(frozen=True)
class TwoSampleTest:
    """Result of ``classifier_two_sample_test``.

    Attributes:
        accuracy: held-out accuracy of the real/generated classifier (0.5: it cannot tell
            them apart; 1.0: it always can).
        standard_error: binomial standard error of the accuracy,
            ``sqrt(acc (1 - acc) / n_test)``.
        interval: 95% Wilson score interval of the accuracy (Wilson 1927; unlike the normal
            interval, it stays inside [0, 1] and keeps its coverage near accuracy 1).
        p_value: one-sided exact binomial p-value of H0 "accuracy = 0.5" against "> 0.5".
        n_test: held-out images, both classes together (half are real).
        n_train: training images, both classes together (half are real).
    """

    accuracy: float
    standard_error: float
    interval: tuple
    p_value: float
    n_test: int
    n_train: int

    def __str__(self):
        low, high = self.interval
        return (f"C2ST accuracy {self.accuracy:.3f} (95% interval {low:.3f}-{high:.3f}, "
                f"n_test={self.n_test}, p={self.p_value:.2g})")


def _binomial_summary(correct, total):
    """accuracy, its standard error, its 95% Wilson interval and the one-sided p-value."""
    from scipy.stats import binom

    accuracy = correct / total
    standard_error = float(np.sqrt(accuracy * (1.0 - accuracy) / total))
    z2 = _Z_95 ** 2
    centre = (accuracy + z2 / (2 * total)) / (1 + z2 / total)
    half = _Z_95 / (1 + z2 / total) * np.sqrt(accuracy * (1 - accuracy) / total + z2 / (4 * total ** 2))
    interval = (float(max(0.0, centre - half)), float(min(1.0, centre + half)))
    p_value = float(binom.sf(correct - 1, total, 0.5))  # P(X >= correct | accuracy 0.5)
    return float(accuracy), standard_error, interval, p_value


def _two_sample_classifier(image_size, channels, seed):
    """The C2ST network: a 3x3 conv at full resolution, stride-2 3x3 convs down to 4x4
    (widths 16, 32, 64, 64, ...), LeakyReLU(0.2), dropout 0.5, one logit. About 60k
    weights at 32x32; every initialiser and the dropout are seeded."""
    import keras
    from keras import layers

    def conv(x, width, strides, index):
        # No bias: with one, TensorFlow's graph optimiser fails to fuse the last conv with
        # its activation and prints "remapper failed" on every call (harmless but alarming).
        x = layers.Conv2D(width, 3, strides=strides, padding="same", use_bias=False,
                          kernel_initializer=keras.initializers.HeNormal(seed=seed + index))(x)
        return layers.LeakyReLU(0.2)(x)

    inputs = keras.Input((image_size, image_size, channels))
    x = conv(inputs, 16, 1, 0)
    index = 1
    while x.shape[1] > 4:
        x = conv(x, min(16 * 2 ** index, 64), 2, index)
        index += 1
    x = layers.Dropout(0.5, seed=seed)(layers.Flatten()(x))
    logit = layers.Dense(1, kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 99))(x)
    return keras.Model(inputs, logit, name="c2st_classifier")


#: One compiled C2ST classifier per (side, channels, dtype policy) and process, reset for each
#: test by ``_fresh_classifier``; the lock keeps two threads from training the same one.
_CLASSIFIERS: dict = {}
_CLASSIFIER_LOCK = threading.RLock()


def _fresh_classifier(image_size, channels, seed, learning_rate):
    """The C2ST classifier, compiled with Adam(``learning_rate``), in the state a new
    ``_two_sample_classifier(image_size, channels, seed)`` has: the same initial weights, dropout
    seed and optimizer state, so it trains to the same numbers.

    Tracing Keras' training step for a new network costs more than the training itself at the
    sizes the lessons use in CI (measured at 64x64, 32 + 32 training images, 2 epochs, one thread:
    1.1-1.3 CPU s per test with a new network, 0.35-0.41 s with the kept one), so one compiled
    network per image shape is kept for the process and reset to the new network's state for
    each test. Inside a ``tf.distribute`` strategy's scope
    a new network is compiled every time (its variables belong to that strategy).
    """
    import keras
    import tensorflow as tf

    fresh = _two_sample_classifier(image_size, channels, seed)
    key = (image_size, channels, keras.config.dtype_policy().name)
    cached = None if tf.distribute.has_strategy() else _CLASSIFIERS.get(key)
    if cached is None:
        fresh.compile(optimizer=keras.optimizers.Adam(learning_rate),
                      loss=keras.losses.BinaryCrossentropy(from_logits=True))
        fresh.optimizer.build(fresh.trainable_variables)  # its variables exist before training
        if not tf.distribute.has_strategy():
            _CLASSIFIERS[key] = fresh
            fresh._ganlib_optimizer_start = [np.array(v.numpy()) for v in fresh.optimizer.variables]
        return fresh
    model, optimizer = cached, cached.optimizer
    model.set_weights(fresh.get_weights())
    for mine, new in zip(_seed_generators(model), _seed_generators(fresh)):
        mine.state.assign(new.state.numpy())
    for variable, start in zip(optimizer.variables, model._ganlib_optimizer_start):
        variable.assign(start)  # step count and moments zero
    optimizer.learning_rate = learning_rate
    return model


def _seed_generators(model):
    return [layer.seed_generator for layer in model.layers if getattr(layer, "seed_generator", None) is not None]


def classifier_two_sample_test(real, generated, test_fraction: float = 0.5, epochs: int = 20,
                               batch_size: int = 64, learning_rate: float = 1e-3,
                               max_images: int | None = 2048, seed: int = 0) -> TwoSampleTest:
    """Classifier two-sample test (C2ST; Lopez-Paz & Oquab 2017, "Revisiting classifier
    two-sample tests", ICLR).

    A small CNN is trained to tell ``real`` (label 1) from ``generated`` (label 0) on one
    part of each set; its accuracy on the held-out part is the statistic. If the two sets
    come from one distribution no classifier beats chance on new images, so the accuracy
    stays near 0.5; the further it rises towards 1, the more visible the difference. Unlike
    SWD, the classifier can learn *any* difference the images show (missing symmetry, a
    wrong palette, noise, blur), which is why it agrees with the eye where SWD, which
    compares local patch statistics, does not.

    Procedure: the same number ``n = min(len(real), len(generated), max_images)`` of images
    is drawn from each set; ``round(n * test_fraction)`` of each class are held out (half
    by default), so both the training and the test set are balanced. The network (``_two_sample_classifier``: three to five 3x3 convs, about 60k
    weights at 32x32) is trained with Adam (learning rate 1e-3, Kingma & Ba 2015's default)
    on the logistic loss for ``epochs`` passes in mini-batches of ``batch_size``, with no
    data augmentation (a flip or shift would hide asymmetric or misplaced content), and
    dropout 0.5 before the last layer (measured: it raised the accuracy on subtle defects,
    blur and mismatched halves, and left real against real at 0.5). The p-value is the
    exact binomial tail of H0 "accuracy = 0.5" (the paper uses its normal approximation
    N(1/2, 1/(4 n_test))); with n_test = 512 the 95% interval around 0.5 is about +-0.045.

    Cost, measured on 2 CPU cores: about 5 CPU s at 512 + 512 images of 32x32x3 (trained on
    256 of each), 3 s more for the first call of a process (TensorFlow tracing); it grows
    linearly with the number of images and about 3x from 32x32 to 64x64. Later tests on images
    of the same shape train the same compiled network, reset to a new one's state.

    Determinism: the subsets, the split, the batch order, the initial weights and the
    dropout masks all follow ``seed`` (NumPy generators and seeded Keras initialisers; the
    global Keras/TF seed is not touched). On one machine, with one TensorFlow build and
    thread count, the same call gives the same result (a test checks it). Across machines or
    versions, float round-off in TensorFlow's CPU kernels can change a few predictions.

    Args:
        real, generated: (N, H, W, C) image arrays in [-1, 1] (or ``ImageSet``), square,
            side a power of two >= 16, C = 1, 3 or 4, the same shape in both.
        test_fraction: share of each class held out for the accuracy, in (0, 1).
        epochs, batch_size, learning_rate: training of the classifier.
        max_images: at most this many images of each set are used (bounds the cost; None:
            all). Compare models with the same number of images: the accuracy grows with it.
        seed: integer >= 0; seeds everything listed above.

    Returns:
        TwoSampleTest(accuracy, standard_error, interval, p_value, n_test, n_train).
    """
    real, generated = _same_shape_sets(real, generated)
    test_fraction = check_range("test_fraction", test_fraction, 0.0, 1.0, low_open=True, high_open=True)
    epochs = smoke.cap(check_positive("epochs", epochs, integer=True), smoke.METRIC_EPOCHS)  # GANLIB_SMOKE
    batch_size = check_positive("batch_size", batch_size, integer=True)
    learning_rate = check_positive("learning_rate", learning_rate)
    max_images = _max_images(max_images)
    seed = check_seed("seed", seed)
    count = min(len(real), len(generated), max_images or len(real))
    n_test = int(round(count * test_fraction))
    if min(n_test, count - n_test) < 10:
        raise ValueError(
            f"real has {len(real)} images and generated {len(generated)}: with "
            f"test_fraction={test_fraction} that leaves {count - n_test} training and {n_test} "
            "test images per class; need at least 10 of each (give at least "
            f"{int(np.ceil(10 / min(test_fraction, 1 - test_fraction)))} images in each set)."
        )
    rng = np.random.default_rng(seed)
    real, generated = _equal_subsets(real, generated, max_images, rng)
    n_train = count - n_test
    x_train = np.concatenate([real[:n_train], generated[:n_train]])
    y_train = np.concatenate([np.ones(n_train), np.zeros(n_train)]).astype(np.float32)[:, None]
    x_test = np.concatenate([real[n_train:], generated[n_train:]])
    y_test = np.concatenate([np.ones(n_test), np.zeros(n_test)])

    with _CLASSIFIER_LOCK:
        model = _fresh_classifier(real.shape[1], real.shape[-1], seed, learning_rate)
        for _ in range(epochs):
            order = rng.permutation(len(x_train))
            for start in range(0, len(order), batch_size):
                batch = order[start:start + batch_size]
                model.train_on_batch(x_train[batch], y_train[batch])
        # called, not model.predict: predict traces a tf.function for every new classifier, and
        # a notebook that runs the test a few times gets TensorFlow's retracing warning
        logits = np.concatenate([np.asarray(model(x_test[start:start + 256], training=False))[:, 0]
                                 for start in range(0, len(x_test), 256)])
    correct = int(((logits > 0) == (y_test > 0.5)).sum())
    accuracy, standard_error, interval, p_value = _binomial_summary(correct, 2 * n_test)
    return TwoSampleTest(accuracy, standard_error, interval, p_value, 2 * n_test, 2 * n_train)


def _random_cnn_weights(channels, levels, seed):
    """He-normal 3x3 kernels (He et al. 2015) of a random CNN, drawn with NumPy so that the
    embedding is the same on every machine and Keras version; widths 32, 64, 128, 128, ..."""
    rng = np.random.default_rng([seed, 12])
    weights, fan_in_channels = [], channels
    for level in range(levels):
        width = min(32 * 2 ** level, 128)
        std = np.sqrt(2.0 / (1 + 0.2 ** 2) / (9 * fan_in_channels))  # gain for LeakyReLU(0.2)
        weights.append(rng.normal(0.0, std, (3, 3, fan_in_channels, width)).astype(np.float32))
        fan_in_channels = width
    return weights


def random_cnn_features(images, seed: int = 0, chunk: int = 256) -> np.ndarray:
    """Features of a randomly initialised, untrained CNN (no download, no training).

    Stride-2 3x3 convolutions with LeakyReLU(0.2), widths 32, 64, 128 (capped at 128), down
    to a 4x4 map, which is flattened: 2048 numbers at 32x32 or 64x64, 1024 at 16x16. The
    flattened map keeps *where* things are, so a mirror-asymmetric or misplaced shape moves
    the features, and the nonlinear units respond to local structure (edges, noise) that
    averaged pixels do not. Computed in NumPy (``chunk`` images at a time).
    """
    array = _check_image_set("images", images)
    seed = check_seed("seed", seed)
    chunk = check_positive("chunk", chunk, integer=True)
    levels = int(np.log2(array.shape[1] // 4))
    weights = _random_cnn_weights(array.shape[-1], levels, seed)
    features = []
    for start in range(0, len(array), chunk):
        x = array[start:start + chunk]
        for kernel in weights:
            padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
            # (n, H/2, W/2, C, 3, 3) windows at stride 2, contracted with (3, 3, C, width)
            windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(1, 2))[:, 1::2, 1::2]
            x = np.einsum("nhwcij,ijcf->nhwf", windows, kernel, optimize=True)
            x = np.where(x > 0, x, 0.2 * x)
        features.append(x.reshape(len(x), -1))
    return np.concatenate(features).astype(np.float64)


def _pairwise_distances(a, b):
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.sqrt(np.maximum(squared, 0.0))


def precision_recall(real, generated, k: int = 3, features="random_cnn",
                     max_images: int | None = 2048, seed: int = 0) -> dict:
    """Improved precision and recall (Kynkaanniemi et al. 2019, NeurIPS), offline.

    Each image becomes a feature vector. Around every real feature put a ball whose radius
    is the distance to its k-th nearest real neighbour; their union estimates the real
    manifold. *Precision* is the fraction of generated images inside it (are the samples
    realistic?); *recall* is the fraction of real images inside the manifold built the same
    way from the generated features (does the generator cover the real variety?). k = 3 and
    equal set sizes follow the paper; a generator that copies a few real images gets high
    precision and low recall, pure noise gets precision near 0.

    Features: the paper uses VGG-16 trained on ImageNet, which must be downloaded. The
    default here, ``'random_cnn'`` (``random_cnn_features``), is an untrained CNN with fixed
    random weights: offline, deterministic, about 1 CPU s for 2 x 512 images of 32x32.
    Random-weight embeddings are a known, weaker substitute for trained ones (Lee, Kim &
    Lee 2022, "Demystifying randomly initialized networks for evaluating generative
    models", arXiv:2208.09218, study when they can stand in for trained features): they
    see colour, layout and local texture, not meaning. Measured on the procedural
    sprites, they give precision near 0 to noise, to the per-pixel Gaussian baseline and
    to sprites made of two mismatched halves, and the real-against-real floor about 0.85.
    Two alternatives were measured and not chosen: downsampled pixels rate the per-pixel
    Gaussian baseline as perfectly precise (its samples average to the mean image), and the
    C2ST classifier's own features are trained to separate the two sets, so they would
    merely repeat its verdict. Known blind spot: blurred images sit in the dense middle of
    the real manifold in this space, so blur shows as high precision with near-zero recall
    (the C2ST catches blur). Pass your own ``features`` callable (images -> (N, D) array),
    e.g. a pretrained network's embedding in Colab, to use better features.

    Args:
        real, generated: (N, H, W, C) arrays in [-1, 1] (or ``ImageSet``), square, side a
            power of two >= 16, the same shape in both.
        k: the k-th nearest neighbour sets each ball's radius (paper: 3), 1 <= k < n.
        features: ``'random_cnn'`` or a callable mapping an image array to (N, D) features.
        max_images: the same number n = min(len(real), len(generated), max_images) of each
            set is used (random subsets drawn with ``seed``); None: as many as both have.
        seed: integer >= 0; the subsets and the random CNN's weights.

    Returns:
        dict(precision=float, recall=float, k=int, n=int), both values in [0, 1].
    """
    real, generated = _same_shape_sets(real, generated)
    k = check_positive("k", k, integer=True)
    max_images = _max_images(max_images)
    seed = check_seed("seed", seed)
    if not (features == "random_cnn" or callable(features)):
        raise ValueError(
            f"features={features!r} is not allowed; use 'random_cnn' or a callable that maps "
            "an (N, H, W, C) image array to an (N, D) feature array."
        )
    count = min(len(real), len(generated), max_images or len(real))
    if k >= count:
        raise ValueError(
            f"k={k} needs more than k images in each set; real has {len(real)} and generated "
            f"{len(generated)} (max_images={max_images}); use k < {count} or more images."
        )
    real, generated = _equal_subsets(real, generated, max_images, np.random.default_rng(seed))
    if features == "random_cnn":
        embedded = [random_cnn_features(images, seed=seed) for images in (real, generated)]
    else:
        embedded = []
        for name, images in (("real", real), ("generated", generated)):
            values = np.asarray(features(images), dtype=np.float64)
            if values.ndim != 2 or len(values) != len(images) or not np.all(np.isfinite(values)):
                raise ValueError(
                    f"features returned an array of shape {values.shape} for {name} ({len(images)} "
                    "images); expected a finite (N, D) array, one row per image."
                )
            embedded.append(values)
    real_features, generated_features = embedded
    # Column k of each sorted row: column 0 is the point itself (distance 0).
    real_radii = np.sort(_pairwise_distances(real_features, real_features), axis=1)[:, k]
    generated_radii = np.sort(_pairwise_distances(generated_features, generated_features), axis=1)[:, k]
    distances = _pairwise_distances(real_features, generated_features)  # (real, generated)
    precision = float((distances <= real_radii[:, None]).any(axis=0).mean())
    recall = float((distances <= generated_radii[None, :]).any(axis=1).mean())
    return {"precision": precision, "recall": recall, "k": int(k), "n": int(count)}


def image_metrics(real, generated, max_images: int | None = 2048, seed: int = 0) -> dict:
    """One table row: SWD, C2ST and precision/recall of ``generated`` against ``real``.

    Give *held-out* real images as ``real`` (not the ones the GAN trained on), and compute
    the floor with the same call on two disjoint real sets::

        rows = {"real (floor)": image_metrics(real_heldout, real_train),
                "DCGAN": image_metrics(real_heldout, dcgan_samples)}
        pandas.DataFrame(rows).T

    The same ``n = min(len(real), len(generated), max_images)`` images of each set (drawn
    with ``seed``) feed all three metrics, since each depends on n. Defaults are those of
    ``sliced_wasserstein``, ``classifier_two_sample_test`` and ``precision_recall``.

    Returns:
        dict(swd, c2st_accuracy, c2st_low, c2st_high, c2st_p_value, precision, recall, n).
    """
    real, generated = _same_shape_sets(real, generated)
    max_images = _max_images(max_images)
    seed = check_seed("seed", seed)
    real, generated = _equal_subsets(real, generated, max_images, np.random.default_rng([seed, 1]))
    if len(real) < 20:
        raise ValueError(
            f"real and generated give {len(real)} images each; image_metrics needs at least 20 of each."
        )
    test = classifier_two_sample_test(real, generated, max_images=None, seed=seed)
    quality = precision_recall(real, generated, max_images=None, seed=seed)
    return {
        "swd": sliced_wasserstein(real, generated, seed=seed),
        "c2st_accuracy": test.accuracy,
        "c2st_low": test.interval[0],
        "c2st_high": test.interval[1],
        "c2st_p_value": test.p_value,
        "precision": quality["precision"],
        "recall": quality["recall"],
        "n": len(real),
    }


# --- Mirror symmetry (lesson 03): a property every procedural sprite has ---------------

def mirror_symmetry(images, tolerance: float = 0.1) -> float:
    """The fraction of pixels equal to their left-right mirror image, within ``tolerance``
    (on the [-1, 1] scale, every channel), averaged over ``images`` (N, H, W, C).

    Every procedural sprite is drawn symmetric about its vertical axis and then centred, so
    real sprites score close to 1 (interpolation when they are resized leaves a little
    asymmetry); independent noise scores near 0. A generator that has learned the sprites'
    symmetry scores close to the real ones. It says nothing about anything else (a blank
    image is perfectly symmetric): read it beside a distribution metric.
    """
    array = _check_image_set("images", images)
    tolerance = check_positive("tolerance", tolerance)
    close = np.abs(array - array[:, :, ::-1, :]) <= tolerance
    return float(np.mean(np.all(close, axis=-1)))


def checkerboard_ratio(images) -> float:
    """How much of the images' fine detail is a checkerboard: the energy of the 2x2
    checkerboard filter ``[[1, -1], [-1, 1]]`` over the energy of the horizontal and vertical
    differences, averaged over ``images`` (N, H, W, C).

    A transposed convolution whose kernel overlaps unevenly (4x4 at stride 2) adds a pattern
    that alternates every pixel in both directions (Odena, Dumoulin & Olah 2016, "Deconvolution
    and checkerboard artifacts", Distill); such a pattern moves this ratio up, while edges and
    smooth shading move the denominator more than the numerator. Compare with real images
    (the floor): above it, the samples have more checkerboard speckle than the data.
    Pure per-pixel noise scores about 1.
    """
    array = _check_image_set("images", images).astype(np.float64)
    checker = array[:, :-1, :-1] - array[:, 1:, :-1] - array[:, :-1, 1:] + array[:, 1:, 1:]
    dx = np.diff(array, axis=2)
    dy = np.diff(array, axis=1)
    edges = np.mean(dx * dx) + np.mean(dy * dy)
    if edges == 0:
        return 0.0
    return float(np.mean(checker * checker) / edges)


def colour_speckle(images) -> float:
    """Colour noise: how far each pixel's colour (its channels minus their mean, so black
    outlines and white backgrounds count as no colour) lies from the median colour of its 3x3
    neighbourhood, averaged over ``images`` (N, H, W, C) on the [-1, 1] scale.

    Flat areas of colour score 0 and a clean edge little (the median keeps edges); isolated
    pixels of another hue, the speckle of a short GAN run, score high. Measured on 500 held-out
    OpenMoji emoji at 32x32: 0.009; samples of ``dcgan+ema`` after 150 and 600 CPU s: 0.036 and
    0.020 (benchmarks/README.md). Compare with real images (the floor). Grey images score 0.
    ``checkerboard_ratio`` looks for a regular pattern instead, which such speckle is not.
    """
    from scipy.ndimage import median_filter

    array = _check_image_set("images", images).astype(np.float64)
    chroma = array - array.mean(axis=-1, keepdims=True)
    median = median_filter(chroma, size=(1, 3, 3, 1), mode="nearest")
    return float(np.mean(np.abs(chroma - median)))
