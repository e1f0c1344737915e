"""Measuring GANs without a pretrained network (everything here works offline).

* ``wasserstein_1d``: the exact Wasserstein-1 distance between two 1-D samples.
* ``mode_coverage``: how many modes of a 2-D mixture a generator covers, and how many of
  its samples are "high quality" (within ``3 * std`` of a mode), as in the mode-collapse
  literature (Srivastava et al. 2017, VEEGAN; Metz et al. 2017, unrolled GANs).
* ``sliced_wasserstein``: the Laplacian-pyramid sliced Wasserstein distance between two
  image sets (Karras et al. 2018).
* ``gaussian_noise_baseline``, ``pixel_gaussian_baseline``: image sets with no GAN behind
  them, the reference points an image metric is read against (lesson 02).
"""
from __future__ import annotations

import numpy as np

from ._checks import check_positive


def _as_1d(name, values):
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if array.size == 0:
        raise ValueError(f"{name} is empty; give at least one sample.")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or inf; every sample must be finite.")
    return array


def wasserstein_1d(a, b) -> float:
    """W1 between the empirical distributions of samples ``a`` and ``b`` (any sizes).

    W1 = integral |F_a(t) - F_b(t)| dt, the area between the two empirical CDFs.
    For two Gaussians with the same std it equals the distance between their means.
    """
    from scipy.stats import wasserstein_distance

    return float(wasserstein_distance(_as_1d("a", a), _as_1d("b", b)))


def mode_coverage(samples_2d, centers, std) -> dict:
    """Mode coverage of 2-D samples around known mode centres.

    A sample is *high quality* when it lies within ``3 * std`` of its nearest centre; a
    mode is *covered* when it holds at least one high-quality sample and at least
    ``max(1, 1% of the expected share)`` of them, so that a handful of strays does not
    count as a captured mode.

    Returns:
        dict(modes_covered=int, n_modes=int, high_quality_fraction=float,
             samples_per_mode=list[int]) with counts of high-quality samples per mode.
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
    return {
        "modes_covered": int((per_mode >= threshold).sum()),
        "n_modes": int(len(centers)),
        "high_quality_fraction": float(good.mean()),
        "samples_per_mode": per_mode.tolist(),
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
    if not np.all(np.isfinite(array)):
        raise ValueError("images contains NaN or inf; every pixel must be finite.")
    low, high = float(array.min()), float(array.max())
    if low < -1.0 - 1e-6 or high > 1.0 + 1e-6:
        raise ValueError(
            f"images has values in [{low:.3g}, {high:.3g}]; expected images scaled to [-1, 1]."
        )
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
    does not beat it has learnt nothing a metric can see. (The two baselines of lesson
    02 follow ganlib's issue 3; a generator must beat both.)

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
    tells a generator apart from it. (Issue 3 of ganlib; this is the "independent pixels"
    model a GAN is meant to improve on.)

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
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or inf; every pixel must be finite.")
    low, high = float(array.min()), float(array.max())
    if low < -1.01 or high > 1.01:
        raise ValueError(
            f"{name} has pixel values in [{low:.3g}, {high:.3g}]; expected images scaled to [-1, 1]."
        )
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
