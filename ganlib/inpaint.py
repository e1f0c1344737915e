"""Semantic image inpainting with a trained GAN (Yeh et al. 2016, arXiv:1607.07539).

A trained generator G maps a latent vector z to an image. To fill the missing pixels
of an image y, search for the z whose image G(z) agrees with y where y is known and
looks real to the discriminator D, then paste the generated pixels into the hole::

    z* = argmin_z  L_c(z) + lambda * L_p(z)        (optimised with Adam, z clipped)
    L_c(z) = || W * (G(z) - y) ||_1                 contextual loss (the known pixels)
    L_p(z) = -log D(G(z)) = softplus(-logit)        perceptual loss (looks real?)

The weights W are zero in the hole and larger for known pixels with many missing
neighbours, so the pixels that touch the hole count most. Several candidates z are
optimised per image at once, the best is kept, and its hole is blended into the
known pixels with Poisson blending (Perez et al. 2003) so the seams disappear.

Masks everywhere: float32 arrays of shape (H, W, 1) (or (N, H, W, 1) for a batch),
1 = known pixel, 0 = missing pixel. Images: float32 in [-1, 1], shape (N, H, W, C).

Defaults and their sources:
    * window 7 for the contextual weights: Yeh et al. 2016 (sec. 3.2) and Amos 2016's
      reference code (``nSize=7``); ANCHORS.md lists 7 to 15.
    * lambda = 0.1: the authors' code release (Yeh et al., ``--lambda_p 0.1``) and Amos
      2016 (``lam=0.1``). The paper itself (Yeh et al. 2017, CVPR) sets lambda = 0.003.
    * Adam, learning rate 0.01, beta_1 0.9, 1000 steps: Amos 2016 (``lr=0.01``,
      ``momentum=0.9``, ``nIter=1000``); Yeh et al. run 1000 to 3000 iterations.
    * z clipped to [-1, 1] after every step: Yeh et al. 2016 and Amos 2016 (their prior
      is uniform on [-1, 1]; for N(0, I) see ``inpaint``'s ``z_clip``).
    * centre hole of half the side (a quarter of the area), 80% random missing
      pixels, a lattice of known pixels every 4 pixels, left half missing: the masks
      of Yeh et al. 2016 (sec. 4) and Amos 2016 (``centerScale=0.25``, ``grid``).
"""
from __future__ import annotations

import numbers
from pathlib import Path

import numpy as np

from . import smoke
from ._checks import check_choice, check_image_range, check_non_negative, check_positive, check_range

#: The kinds of mask ``make_mask`` makes: a centre square, random pixels, the left half, a grid.
MASK_KINDS = ("center", "random", "left_half", "grid")

__all__ = [
    "MASK_KINDS",
    "center_mask",
    "random_mask",
    "left_half_mask",
    "grid_mask",
    "mask_from_rectangles",
    "mask_from_png",
    "save_mask_png",
    "make_mask",
    "contextual_weights",
    "contextual_loss",
    "perceptual_loss",
    "poisson_blend",
    "overlay",
    "mean_fill",
    "biharmonic_fill",
    "mirror_coverage",
    "mirror_fill",
    "pca_fill",
    "nearest_fill",
    "search_latents",
    "inpaint",
]


# --------------------------------------------------------------------------- masks


def _image_shape(image_size):
    """``image_size`` as (height, width): an int gives a square."""
    if isinstance(image_size, numbers.Integral) and not isinstance(image_size, bool):
        height = width = int(image_size)
    elif isinstance(image_size, (tuple, list)) and len(image_size) == 2 and all(
        isinstance(side, numbers.Integral) and not isinstance(side, bool) for side in image_size
    ):
        height, width = (int(side) for side in image_size)
    else:
        raise ValueError(
            f"image_size={image_size!r} must be an integer or a pair (height, width) of integers."
        )
    if height < 2 or width < 2:
        raise ValueError(f"image_size={image_size!r} must be at least 2 pixels on each side.")
    return height, width


def center_mask(image_size, hole_fraction: float = 0.5) -> np.ndarray:
    """A square hole in the centre whose side is ``hole_fraction`` of the image's side.

    The default 0.5 hides a quarter of the image (Amos 2016, ``centerScale=0.25``: the
    hole spans 0.25 to 0.75 of each side; Yeh et al. 2016's "center" mask).
    Returns float32 (H, W, 1): 1 = known, 0 = missing.
    """
    height, width = _image_shape(image_size)
    hole_fraction = check_range("hole_fraction", hole_fraction, 0.0, 1.0, low_open=True, high_open=True)
    mask = np.ones((height, width, 1), np.float32)
    hole_height = max(1, int(round(height * hole_fraction)))
    hole_width = max(1, int(round(width * hole_fraction)))
    top, left = (height - hole_height) // 2, (width - hole_width) // 2
    mask[top : top + hole_height, left : left + hole_width] = 0.0
    return mask


def random_mask(image_size, missing_fraction: float = 0.8, seed=None) -> np.ndarray:
    """Each pixel missing independently with probability ``missing_fraction``.

    Default 0.8 (Yeh et al. 2016, "random": 80% of the pixels dropped). At least one
    pixel stays known and at least one goes missing, whatever the draw.
    """
    height, width = _image_shape(image_size)
    missing_fraction = check_range("missing_fraction", missing_fraction, 0.0, 1.0,
                                   low_open=True, high_open=True)
    rng = np.random.default_rng(seed)
    known = rng.random((height, width)) >= missing_fraction
    flat = known.reshape(-1)
    if flat.all():
        flat[rng.integers(flat.size)] = False
    if not flat.any():
        flat[rng.integers(flat.size)] = True
    return known.astype(np.float32)[..., None]


def left_half_mask(image_size) -> np.ndarray:
    """The left half of the image missing (Yeh et al. 2016, "left": half of a face)."""
    height, width = _image_shape(image_size)
    mask = np.ones((height, width, 1), np.float32)
    mask[:, : width // 2] = 0.0
    return mask


def grid_mask(image_size, spacing: int = 4) -> np.ndarray:
    """Only a lattice of pixels known: one every ``spacing`` rows and columns.

    Default 4 keeps 1/16 of the pixels (Amos 2016's "grid" mask, ``mask[::4, ::4] = 1``).
    """
    height, width = _image_shape(image_size)
    spacing = check_positive("spacing", spacing, integer=True)
    if spacing < 2 or spacing > min(height, width):
        raise ValueError(
            f"spacing={spacing!r} must be between 2 and the image's shorter side "
            f"({min(height, width)}) so the mask has known and missing pixels."
        )
    mask = np.zeros((height, width, 1), np.float32)
    mask[::spacing, ::spacing] = 1.0
    return mask


def mask_from_rectangles(image_size, rectangles) -> np.ndarray:
    """A mask with each rectangle ``(top, left, height, width)`` (in pixels) missing."""
    image_height, image_width = _image_shape(image_size)
    if isinstance(rectangles, (tuple, list)) and len(rectangles) == 4 and all(
        isinstance(value, numbers.Integral) for value in rectangles
    ):
        rectangles = [rectangles]  # a single rectangle
    try:
        rectangles = [tuple(rectangle) for rectangle in rectangles]
    except TypeError:
        raise ValueError(
            f"rectangles={rectangles!r} must be a list of (top, left, height, width) tuples."
        ) from None
    if not rectangles:
        raise ValueError("rectangles=[] is empty; give at least one (top, left, height, width).")
    mask = np.ones((image_height, image_width, 1), np.float32)
    for rectangle in rectangles:
        if len(rectangle) != 4 or not all(
            isinstance(value, numbers.Integral) and not isinstance(value, bool) for value in rectangle
        ):
            raise ValueError(
                f"rectangle {rectangle!r} must be four integers (top, left, height, width)."
            )
        top, left, height, width = (int(value) for value in rectangle)
        if (top < 0 or left < 0 or height < 1 or width < 1
                or top + height > image_height or left + width > image_width):
            raise ValueError(
                f"rectangle (top, left, height, width)={rectangle!r} does not fit in an image of "
                f"{image_height}x{image_width}; it needs height, width >= 1, top >= 0, left >= 0, "
                f"top + height <= {image_height} and left + width <= {image_width}."
            )
        mask[top : top + height, left : left + width] = 0.0
    return mask


def mask_from_png(path, image_size=None, invert: bool = False, threshold: float = 0.5) -> np.ndarray:
    """Read a mask drawn in any paint program and saved as PNG (or any image file).

    Bright pixels (grey level >= ``threshold`` of white) are known, dark ones missing,
    the same convention as ganlib's masks, so ``save_mask_png`` then ``mask_from_png``
    gives the mask back. Many tools paint the hole in white instead: pass
    ``invert=True`` for those. ``image_size`` resizes the drawing (nearest neighbour).
    """
    from PIL import Image

    from .data.files import open_image

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path={str(path)!r} is not a file; give the path of a PNG mask.")
    threshold = check_range("threshold", threshold, 0.0, 1.0, low_open=True)
    try:
        with open_image(path) as picture:
            grey = picture.convert("L")
            if image_size is not None:
                height, width = _image_shape(image_size)
                grey = grey.resize((width, height), Image.NEAREST)
            values = np.asarray(grey, dtype=np.float32) / 255.0
    except OSError as error:
        raise ValueError(f"path={str(path)!r} could not be read as an image ({error}).") from None
    known = values >= threshold
    if invert:
        known = ~known
    return known.astype(np.float32)[..., None]


def save_mask_png(mask, path) -> Path:
    """Write a mask as a black (missing) and white (known) PNG; returns the path."""
    from PIL import Image

    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[-1] == 1:
        mask = mask[..., 0]
    if mask.ndim != 2:
        raise ValueError(f"mask has shape {mask.shape}; expected (H, W) or (H, W, 1).")
    path = Path(path)
    Image.fromarray((np.asarray(mask) > 0.5).astype(np.uint8) * 255, mode="L").save(path)
    return path


def make_mask(kind: str, image_size, **options) -> np.ndarray:
    """One of the standard masks by name: 'center', 'random', 'left_half' or 'grid'.

    ``options`` go to the mask's function (``hole_fraction``, ``missing_fraction`` and
    ``seed``, ``spacing``).
    """
    kind = check_choice("kind", kind, MASK_KINDS)
    maker = {"center": center_mask, "random": random_mask, "left_half": left_half_mask,
             "grid": grid_mask}[kind]
    return maker(image_size, **options)


# ----------------------------------------------------------------------- the losses


def _check_window(window):
    window = check_positive("window", window, integer=True)
    if window % 2 == 0:
        raise ValueError(f"window={window!r} must be odd (the window is centred on each pixel).")
    return window


def contextual_weights(masks, window: int = 7) -> np.ndarray:
    """The per-pixel weights W of the contextual loss (Yeh et al. 2016, eq. 2).

    For a known pixel i, W_i is the fraction of missing pixels in the ``window`` x
    ``window`` square centred on i (pixels beyond the border count as known); for a
    missing pixel W_i = 0. Known pixels far from any hole get 0 too: only the ring of
    context around the hole steers the search. Default window 7 (Yeh et al. 2016).

    Args:
        masks: (H, W, 1) or (N, H, W, 1), 1 = known, 0 = missing.
        window: odd side of the square neighbourhood.
    Returns:
        float32 array of the masks' shape.
    """
    from scipy.ndimage import uniform_filter

    window = _check_window(window)
    masks = np.asarray(masks, dtype=np.float32)
    if masks.ndim not in (3, 4) or masks.shape[-1] != 1:
        raise ValueError(f"masks has shape {masks.shape}; expected (H, W, 1) or (N, H, W, 1).")
    size = (1,) * (masks.ndim - 3) + (window, window, 1)
    missing_share = uniform_filter(1.0 - masks, size=size, mode="constant", cval=0.0)
    return (np.clip(missing_share, 0.0, 1.0) * masks).astype(np.float32)


def contextual_loss(generated, images, weights):
    """Per-image weighted L1 distance on the known pixels: ``sum |W * (G(z) - y)|``.

    Works on NumPy arrays and TensorFlow tensors; weights (N, H, W, 1) broadcast over
    the colour channels. Returns shape (N,).
    """
    import tensorflow as tf

    difference = tf.abs(tf.convert_to_tensor(weights, tf.float32) * (
        tf.convert_to_tensor(generated, tf.float32) - tf.convert_to_tensor(images, tf.float32)))
    return tf.reduce_sum(difference, axis=[1, 2, 3])


def perceptual_loss(discriminator, generated):
    """Per-image ``-log D(G(z)) = softplus(-logit)``: small when D believes the image.

    Yeh et al. 2016 write ``log(1 - D(G(z)))``; this is its non-saturating form (the
    same minimum, strong gradients when D rejects the image; Goodfellow et al. 2014).
    The discriminator runs in inference mode (its batch norm uses the moving averages).
    """
    import tensorflow as tf

    logits = discriminator(generated, training=False)
    return tf.reshape(tf.nn.softplus(-tf.cast(logits, tf.float32)), [-1])


# -------------------------------------------------------------------- blending


def overlay(generated, images, masks) -> np.ndarray:
    """Known pixels from ``images``, missing ones from ``generated`` (no blending)."""
    masks = np.asarray(masks, dtype=np.float32)
    return (masks * np.asarray(images, np.float32)
            + (1.0 - masks) * np.asarray(generated, np.float32)).astype(np.float32)


def _poisson_one(generated, image, known):
    """Solve the discrete Poisson equation on the missing pixels of one image.

    Unknowns: the missing pixels x_p. For each one, with its 4-neighbours q inside the
    image: sum_q (x_p - x_q) = sum_q (g_p - g_q), where x_q = y_q for known q. That is
    the minimiser of ||grad x - grad g||^2 with x fixed to y on the known pixels.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.linalg import splu

    height, width, channels = image.shape
    index = -np.ones((height, width), np.int64)
    missing = ~known
    count = int(missing.sum())
    index[missing] = np.arange(count)
    rows_p, cols_p = np.nonzero(missing)
    diagonal = np.zeros(count)
    rhs = np.zeros((count, channels))
    entry_rows, entry_cols = [], []
    generated = generated.astype(np.float64)
    image = image.astype(np.float64)
    for step_row, step_col in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        rows_q, cols_q = rows_p + step_row, cols_p + step_col
        inside = (rows_q >= 0) & (rows_q < height) & (cols_q >= 0) & (cols_q < width)
        p = index[rows_p[inside], cols_p[inside]]
        rq, cq = rows_q[inside], cols_q[inside]
        diagonal[p] += 1.0
        rhs[p] += generated[rows_p[inside], cols_p[inside]] - generated[rq, cq]
        q_index = index[rq, cq]
        unknown_neighbour = q_index >= 0
        entry_rows.append(p[unknown_neighbour])
        entry_cols.append(q_index[unknown_neighbour])
        known_neighbour = ~unknown_neighbour
        # add y_q for each known neighbour; np.add.at handles repeated p correctly
        np.add.at(rhs, p[known_neighbour], image[rq[known_neighbour], cq[known_neighbour]])
    rows = np.concatenate([np.arange(count)] + entry_rows)
    cols = np.concatenate([np.arange(count)] + entry_cols)
    values = np.concatenate([diagonal] + [-np.ones(len(r)) for r in entry_rows])
    matrix = coo_matrix((values, (rows, cols)), shape=(count, count)).tocsc()
    solution = splu(matrix).solve(rhs)
    result = image.copy()
    result[missing] = solution
    return result


def poisson_blend(generated, images, masks, clip: bool = True) -> np.ndarray:
    """Poisson blending (Perez et al. 2003) of the generated hole into the known pixels.

    Keeps every known pixel exactly and fills the hole with the image whose gradients
    are closest (least squares) to the generated image's gradients, matching the known
    pixels at the hole's border: colours are corrected, the generated texture kept.
    One sparse linear system per image, solved with scipy (SuperLU) for all channels.

    Args:
        generated, images: (N, H, W, C) or (H, W, C) in [-1, 1].
        masks: (N, H, W, 1) or (H, W, 1), 1 = known, 0 = missing.
        clip: clip the result to [-1, 1] (the solve may overshoot slightly).
    Returns:
        float32 array of the images' shape.
    """
    images = np.asarray(images, np.float32)
    single = images.ndim == 3
    images_batch, masks_batch = _check_images_and_masks(images, masks)
    generated = np.asarray(generated, np.float32)
    if generated.ndim == 3:
        generated = generated[None]
    if generated.shape != images_batch.shape:
        raise ValueError(
            f"generated has shape {generated.shape}; expected the images' shape {images_batch.shape}."
        )
    blended = np.stack([
        _poisson_one(generated[i], images_batch[i], masks_batch[i, ..., 0] > 0.5)
        for i in range(len(images_batch))
    ]).astype(np.float32)
    if clip:
        blended = np.clip(blended, -1.0, 1.0)
    return blended[0] if single else blended


# ------------------------------------------------------- classical baselines


def mean_fill(images, masks) -> np.ndarray:
    """The simplest fill: every missing pixel gets the mean of its image's known pixels
    (per channel). A baseline any method must beat."""
    single = np.asarray(images).ndim == 3
    images, masks = _check_images_and_masks(images, masks)
    known = masks.sum(axis=(1, 2))  # (N, 1)
    means = (images * masks).sum(axis=(1, 2)) / known  # (N, C)
    filled = overlay(np.broadcast_to(means[:, None, None, :], images.shape), images, masks)
    return filled[0] if single else filled


def biharmonic_fill(images, masks) -> np.ndarray:
    """Classical inpainting: scikit-image's ``inpaint_biharmonic`` (Damelin and Hoang
    2018), the smoothest surface (biharmonic equation) through the known pixels, per image."""
    from skimage.restoration import inpaint_biharmonic

    single = np.asarray(images).ndim == 3
    images, masks = _check_images_and_masks(images, masks)
    filled = np.stack([
        inpaint_biharmonic(image, mask[..., 0] < 0.5, channel_axis=-1)
        for image, mask in zip(images, masks)
    ]).astype(np.float32)
    filled = np.clip(overlay(filled, images, masks), -1.0, 1.0)
    return filled[0] if single else filled



# ------------------------------------ baselines that learn from faces, without a GAN


def mirror_coverage(masks) -> np.ndarray:
    """Per mask, the share of its missing pixels whose left-right mirror pixel is known.

    1 for the left-half mask (every missing pixel has its mirror in the known half), 0
    for a centred hole (the mirror of a hole pixel is in the hole). ``masks``: (H, W, 1)
    or (N, H, W, 1); returns shape (N,) (or a float for one mask).
    """
    masks = np.asarray(masks, dtype=np.float32)
    single = masks.ndim == 3
    if single:
        masks = masks[None]
    if masks.ndim != 4 or masks.shape[-1] != 1:
        raise ValueError(f"masks has shape {masks.shape}; expected (H, W, 1) or (N, H, W, 1).")
    missing = 1.0 - masks
    covered = (missing * masks[:, :, ::-1]).sum(axis=(1, 2, 3))
    share = covered / np.maximum(missing.sum(axis=(1, 2, 3)), 1.0)
    return float(share[0]) if single else share


def mirror_fill(images, masks) -> np.ndarray:
    """Fill each missing pixel with its left-right mirror pixel when that one is known.

    Faces are nearly symmetric, so for a half mask the known half is a strong guess for
    the missing one. Missing pixels whose mirror is missing too get the mean of the
    image's known pixels (``mean_fill``); see ``mirror_coverage`` for their share.
    """
    single = np.asarray(images).ndim == 3
    images, masks = _check_images_and_masks(images, masks)
    mirrored_image, mirrored_mask = images[:, :, ::-1], masks[:, :, ::-1]
    mirror_known = (1.0 - masks) * mirrored_mask
    filled = mean_fill(images, masks)
    filled = (filled * (1.0 - mirror_known) + mirrored_image * mirror_known).astype(np.float32)
    return filled[0] if single else filled


def _check_training_images(training_images, images, minimum=2):
    training_images = np.asarray(training_images, dtype=np.float32)
    if training_images.ndim != 4 or training_images.shape[1:] != images.shape[1:]:
        raise ValueError(
            f"training_images has shape {training_images.shape}; expected (N, "
            f"{', '.join(str(side) for side in images.shape[1:])}), the images' own shape.")
    if len(training_images) < minimum:
        raise ValueError(f"training_images holds {len(training_images)} image(s); give at least {minimum}.")
    check_image_range("training_images", training_images)
    return training_images


def pca_fill(images, masks, training_images, n_components=None, variance: float = 0.95) -> np.ndarray:
    """Eigenface inpainting: a linear model of faces fitted on ``training_images``.

    Principal component analysis of the training faces (Turk and Pentland 1991's
    eigenfaces) gives a mean face and directions of variation. Read as probabilistic PCA
    (Tipping and Bishop 1999), faces are x = mean + W c + noise with c ~ N(0, I), W the
    components scaled by the square roots of their variances, and the noise variance the
    mean variance of the directions left out. Each image's coefficients c are estimated
    from its known pixels only (the posterior mean, a ridge regression), and the missing
    pixels are read off mean + W c: the best linear guess of the hole from the known
    pixels, for faces distributed like the training faces.

    Args:
        images: (N, H, W, C) or (H, W, C) in [-1, 1]; masks as for ``inpaint``.
        training_images: (M, H, W, C) in [-1, 1], faces the images were not taken from.
        n_components: components kept; None: the fewest that explain ``variance`` of the
            training faces' variance (at most M - 1).
        variance: the share of variance kept when ``n_components`` is None. Default 0.95,
            a common choice for eigenfaces, not tuned on held-out faces.
    Returns:
        float32, the images' shape; known pixels unchanged.
    """
    single = np.asarray(images).ndim == 3
    images, masks = _check_images_and_masks(images, masks)
    training = _check_training_images(training_images, images).reshape(len(training_images), -1)
    training = training.astype(np.float64)
    variance = check_range("variance", variance, 0.0, 1.0, low_open=True)
    mean = training.mean(axis=0)
    _, singular, directions = np.linalg.svd(training - mean, full_matrices=False)
    eigenvalues = singular**2 / (len(training) - 1)
    largest = int(np.sum(eigenvalues > eigenvalues[0] * 1e-10))  # rank: at most M - 1
    if n_components is None:
        explained = np.cumsum(eigenvalues) / eigenvalues.sum()
        n_components = min(int(np.searchsorted(explained, variance) + 1), largest)
    else:
        n_components = check_positive("n_components", n_components, integer=True)
        if n_components > largest:
            raise ValueError(
                f"n_components={n_components!r} is more than the {largest} directions the "
                f"{len(training)} training images span; give 1 to {largest}.")
    dimension = training.shape[1]
    noise = max(eigenvalues[n_components:].sum() / (dimension - n_components), 1e-6)
    basis = directions[:n_components].T * np.sqrt(eigenvalues[:n_components])  # W, (D, k)
    filled = np.empty_like(images)
    for number, (image, mask) in enumerate(zip(images, masks)):
        known = np.broadcast_to(mask > 0.5, image.shape).reshape(-1)
        known_basis = basis[known]
        system = known_basis.T @ known_basis + noise * np.eye(n_components)
        coefficients = np.linalg.solve(system, known_basis.T @ (image.reshape(-1)[known] - mean[known]))
        estimate = (mean + basis @ coefficients).reshape(image.shape)
        filled[number] = np.where(mask > 0.5, image, np.clip(estimate, -1.0, 1.0))
    return filled[0] if single else filled


def nearest_fill(images, masks, training_images, blend: bool = False, return_index: bool = False):
    """Fill the hole from the training face closest to the image on its known pixels.

    Closest: the smallest mean squared difference over the known pixels (all channels).
    The hole is pasted from that face, or with ``blend`` Poisson-blended like the GAN's
    completions (``poisson_blend``). A GAN that only memorised its training faces could
    do no better than this. With ``return_index`` also returns the index of the face used
    for each image.
    """
    single = np.asarray(images).ndim == 3
    images, masks = _check_images_and_masks(images, masks)
    training = _check_training_images(training_images, images, minimum=1)
    weights = np.broadcast_to(masks, images.shape).reshape(len(images), -1)
    flat_images = images.reshape(len(images), -1)
    flat_training = training.reshape(len(training), -1)
    # sum over known pixels of (y - t)^2 = sum w y^2 - 2 (w y) . t + w . t^2
    distances = ((weights * flat_images**2).sum(axis=1)[:, None]
                 - 2.0 * (weights * flat_images) @ flat_training.T
                 + weights @ (flat_training**2).T) / weights.sum(axis=1)[:, None]
    index = distances.argmin(axis=1)
    chosen = training[index]
    filled = poisson_blend(chosen, images, masks) if blend else overlay(chosen, images, masks)
    if single:
        filled, index = filled[0], index[0]
    return (filled, index) if return_index else filled


# ------------------------------------------------------------------ the search


def _check_images_and_masks(images, masks):
    """Images (N, H, W, C) in [-1, 1] and masks broadcast to (N, H, W, 1) of 0/1."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[0] == 0:
        raise ValueError(
            f"images has shape {images.shape}; expected (N, H, W, C) or one image (H, W, C)."
        )
    check_image_range("images", images)
    masks = np.asarray(masks)
    if masks.dtype == bool:
        masks = masks.astype(np.float32)
    masks = masks.astype(np.float32)
    expected = images.shape[1:3] + (1,)
    if masks.ndim == 2:
        masks = masks[..., None]
    if masks.ndim == 3 and masks.shape == expected:
        masks = np.broadcast_to(masks[None], (len(images),) + expected)
    if masks.shape != (len(images),) + expected:
        raise ValueError(
            f"masks has shape {masks.shape}; expected {(len(images),) + expected} (one channel, the "
            f"images' height and width) or one mask {expected} for every image."
        )
    if not np.all((masks == 0.0) | (masks == 1.0)):
        raise ValueError("masks must hold only 0 (missing pixel) and 1 (known pixel).")
    per_image_known = masks.reshape(len(masks), -1).sum(axis=1)
    pixels = masks[0].size
    for number, known in enumerate(per_image_known):
        if known == pixels:
            raise ValueError(
                f"masks[{number}] has no hole (every pixel is 1 = known); mark the pixels to fill with 0."
            )
        if known == 0:
            raise ValueError(
                f"masks[{number}] has no known pixel (every pixel is 0 = missing); inpainting needs "
                "some known pixels (1) to match."
            )
    return images, np.ascontiguousarray(masks)


def _model_image_shape(model, name):
    shape = getattr(model, "output_shape" if name == "generator" else "input_shape", None)
    if isinstance(shape, list):
        shape = shape[0]
    return tuple(shape[1:]) if shape is not None else None


def search_latents(generator, discriminator, images, weights, steps=1000, n_candidates=8,
                   perceptual_weight=0.1, contextual_weight=1.0, learning_rate=0.01, z_clip=1.0,
                   seed=0, record_every=10, progress=True, z_norm=None) -> dict:
    """The heart of ``inpaint``: Adam on a batch of latent vectors, all images at once.

    Candidate k of image i sits at row ``i * n_candidates + k`` of one (N * K, latent_dim)
    variable; the loss of each row depends only on that row, so minimising their sum
    moves every candidate as if alone, in one batched, compiled step. Arguments as in
    ``inpaint`` (already checked there); ``weights`` from ``contextual_weights``.

    Returns dict(z=(N, K, latent_dim) the best z seen per candidate, loss=(N, K) its loss,
    history=dict(step, loss=(records, N) the best loss so far per image)). Under
    ``GANLIB_SMOKE=1``: at most ``smoke.SEARCH_STEPS`` steps and ``smoke.SEARCH_CANDIDATES``
    candidates.
    """
    import keras
    import tensorflow as tf

    steps = smoke.cap(steps, smoke.SEARCH_STEPS)
    n_candidates = smoke.cap(n_candidates, smoke.SEARCH_CANDIDATES)
    n_images, latent_dim = len(images), int(generator.input_shape[-1])
    total = n_images * n_candidates
    repeated_images = tf.constant(np.repeat(images, n_candidates, axis=0), tf.float32)
    repeated_weights = tf.constant(np.repeat(weights, n_candidates, axis=0), tf.float32)
    start = np.random.default_rng(seed).standard_normal((total, latent_dim))  # z ~ N(0, I)
    if z_norm is None:
        start = np.clip(start, -z_clip, z_clip).astype(np.float32)
    else:  # on the sphere of radius z_norm
        start = (start * z_norm / np.linalg.norm(start, axis=1, keepdims=True)).astype(np.float32)
    z = tf.Variable(start, name="z")
    best_z = tf.Variable(start, name="best_z")
    best_loss = tf.Variable(tf.fill([total], np.float32(np.inf)), name="best_loss")
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate, beta_1=0.9, beta_2=0.999)
    optimizer.build([z])

    def total_loss(latent):
        generated = generator(latent, training=False)
        loss = contextual_weight * contextual_loss(generated, repeated_images, repeated_weights)
        if perceptual_weight > 0:
            loss += perceptual_weight * perceptual_loss(discriminator, generated)
        return loss

    @tf.function
    def run(n_steps):
        for _ in tf.range(n_steps):
            with tf.GradientTape() as tape:
                loss = total_loss(z)  # one value per candidate
                summed = tf.reduce_sum(loss)  # candidates are independent: sum, not mean
            improved = loss < best_loss  # remember the best z seen so far per candidate
            best_loss.assign(tf.where(improved, loss, best_loss))
            best_z.assign(tf.where(improved[:, None], z, best_z))
            optimizer.apply_gradients([(tape.gradient(summed, z), z)])
            if z_norm is None:
                z.assign(tf.clip_by_value(z, -z_clip, z_clip))  # stay in the prior's range
            else:  # or on the sphere where N(0, I) puts almost all of its mass
                z.assign(z * (z_norm / tf.norm(z, axis=1, keepdims=True)))
        return best_loss

    history_steps, history_losses = [], []
    bar = None
    if progress:
        from ._progress import progress_bar

        bar = progress_bar(total=steps, desc="inpainting", unit="step", leave=False, mininterval=1.0)
    # Each call compiles a new step function (it closes over this call's variables); TF
    # warns about "retracing" after a few calls, which is expected here: silence it only
    # while this search runs.
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        done = 0
        while done < steps:
            chunk = min(record_every, steps - done)
            current = run(tf.constant(chunk)).numpy()
            done += chunk
            history_steps.append(done)
            history_losses.append(current.reshape(n_images, n_candidates).min(axis=1))
            if bar is not None:
                bar.set_postfix(loss=f"{history_losses[-1].mean():.4g}", refresh=False)
                bar.update(chunk)
    finally:
        logger.setLevel(level)
        if bar is not None:
            bar.close()
    # the z after the last update has not been scored yet: it competes too
    final_loss = total_loss(z).numpy()
    improved = final_loss < best_loss.numpy()
    candidates_z = np.where(improved[:, None], z.numpy(), best_z.numpy())
    candidates_loss = np.where(improved, final_loss, best_loss.numpy())
    return {
        "z": candidates_z.reshape(n_images, n_candidates, latent_dim),
        "loss": candidates_loss.reshape(n_images, n_candidates),
        "history": {"step": np.asarray(history_steps), "loss": np.stack(history_losses)},
    }


def inpaint(
    generator,
    discriminator,
    images,
    masks,
    steps: int = 1000,
    n_candidates: int = 8,
    perceptual_weight: float = 0.1,
    contextual_weight: float = 1.0,
    learning_rate: float = 0.01,
    window: int = 7,
    z_clip: float = 1.0,
    blend: bool = True,
    seed: int = 0,
    record_every: int = 10,
    return_details: bool = False,
    progress: bool = True,
    z_norm: float | None = None,
):
    """Fill the missing pixels of ``images`` with a trained GAN (Yeh et al. 2016).

    For every image, ``n_candidates`` latent vectors z ~ N(0, I) are optimised together
    (one batch, one ``tf.function``) with Adam to minimise
    ``contextual_weight * L_c(z) + perceptual_weight * L_p(z)``; after every step z is
    clipped to [-z_clip, z_clip], the central part of the prior N(0, I).
    The candidate with the lowest loss seen during the search is kept per image; its
    hole is pasted into the known pixels and, with ``blend``, Poisson-blended.

    Args:
        generator: keras.Model z (latent_dim,) -> image (H, W, C) in [-1, 1].
        discriminator: keras.Model image -> one logit per image (real > 0).
        images: (N, H, W, C) or (H, W, C) in [-1, 1], matching the generator's output.
        masks: (N, H, W, 1) or one (H, W, 1) / (H, W) mask for all; 1 = known, 0 = missing.
        steps: Adam steps (Amos 2016: 1000; Yeh et al. 2016: 1000 to 3000).
        n_candidates: latent vectors per image; more makes a bad local minimum less likely.
        perceptual_weight: lambda, the weight of L_p. Default 0.1 as in the authors' code
            release and Amos 2016; the paper (Yeh et al. 2017) uses 0.003. 0 = contextual only.
        contextual_weight: the weight of L_c (1 in the paper). 0 = perceptual only.
        learning_rate: Adam's step size (Amos 2016: 0.01, beta_1 = 0.9).
        window: side of the window of the contextual weights (Yeh et al. 2016: 7).
        z_clip: bound on each coordinate of z. Default 1: Yeh et al. 2016 and Amos 2016
            clip z to [-1, 1], the range of their uniform prior; for ganlib's N(0, I) prior
            it is the central 68% of each coordinate. Looser boxes (2, 3) let the search
            reach rarer z that fit the border better but look less like faces: on LFW
            held-out faces 1 gave higher PSNR than 2 or 3 for centre and left-half holes.
        z_norm: None (default) keeps z in the box of ``z_clip``. A length instead keeps every
            z on the sphere of that radius (``z_clip`` is then not used): for z ~ N(0, I) in
            d dimensions almost all of the mass lies near the radius sqrt(d), so
            ``z_norm=sqrt(latent_dim)`` searches only where the generator was trained (the
            search of Menon et al. 2020, PULSE); the box keeps shorter z, which the
            generator rarely saw.
        blend: Poisson-blend the generated hole (Yeh et al. 2016, sec. 3.3); False
            pastes the raw generated pixels.
        seed: seed of the initial candidates.
        record_every: record the losses every this many steps (in ``details['history']``).
        return_details: also return a dict with the intermediate results.
        progress: show a tqdm progress bar.

    Returns:
        The completed images, float32, same shape as ``images``; known pixels unchanged.
        With ``return_details``, ``(completed, details)`` where details holds
        'generated' (G(z*), the raw images), 'pasted' (hole from G(z*), no blending),
        'blended' (Poisson-blended), 'z' (N, latent_dim), 'contextual_loss',
        'perceptual_loss', 'loss' (per image, at z*), 'weights' (the contextual
        weights W) and 'history' (dict of 'step' and 'loss', the best loss so far
        per image, shape (records, N)), 'candidate_loss' (N, n_candidates).
    """
    single = np.asarray(images).ndim == 3
    images_batch, masks_batch = _check_images_and_masks(images, masks)
    generated_shape = _model_image_shape(generator, "generator")
    if generated_shape is not None and tuple(generated_shape) != images_batch.shape[1:]:
        raise ValueError(
            f"images have shape {images_batch.shape[1:]} per image but the generator makes images of "
            f"shape {tuple(generated_shape)}; resize or crop the images to the generator's size."
        )
    discriminator_shape = _model_image_shape(discriminator, "discriminator")
    if (discriminator_shape is not None and None not in discriminator_shape
            and tuple(discriminator_shape) != images_batch.shape[1:]):
        raise ValueError(
            f"images have shape {images_batch.shape[1:]} per image but the discriminator takes "
            f"{tuple(discriminator_shape)}; use the discriminator trained with this generator."
        )
    steps = check_positive("steps", steps, integer=True)
    n_candidates = check_positive("n_candidates", n_candidates, integer=True)
    perceptual_weight = check_non_negative("perceptual_weight", perceptual_weight)
    contextual_weight = check_non_negative("contextual_weight", contextual_weight)
    if perceptual_weight == 0 and contextual_weight == 0:
        raise ValueError(
            "perceptual_weight=0 and contextual_weight=0 leave nothing to minimise; make one > 0."
        )
    learning_rate = check_positive("learning_rate", learning_rate)
    window = _check_window(window)
    z_clip = check_positive("z_clip", z_clip)
    if z_norm is not None:
        z_norm = check_positive("z_norm", z_norm)
    record_every = check_positive("record_every", record_every, integer=True)
    weights = contextual_weights(masks_batch, window)
    search = search_latents(
        generator, discriminator, images_batch, weights, steps=steps, n_candidates=n_candidates,
        perceptual_weight=perceptual_weight, contextual_weight=contextual_weight,
        learning_rate=learning_rate, z_clip=z_clip, seed=seed, record_every=record_every,
        progress=progress, z_norm=z_norm,
    )
    n_images = len(images_batch)
    best_index = search["loss"].argmin(axis=1)  # the best candidate of each image
    chosen_z = search["z"][np.arange(n_images), best_index]
    generated = generator(chosen_z, training=False)
    chosen_context = contextual_loss(generated, images_batch, weights).numpy()
    chosen_perceptual = perceptual_loss(discriminator, generated).numpy()  # reported even if unused
    generated = np.asarray(generated, dtype=np.float32)
    pasted = overlay(generated, images_batch, masks_batch)
    blended = poisson_blend(generated, images_batch, masks_batch) if blend else None
    completed = blended if blend else pasted
    if single:
        completed = completed[0]
    if not return_details:
        return completed
    details = {
        "generated": generated,
        "pasted": pasted,
        "blended": blended,
        "z": chosen_z,
        "contextual_loss": chosen_context,
        "perceptual_loss": chosen_perceptual,
        "loss": contextual_weight * chosen_context + perceptual_weight * chosen_perceptual,
        "weights": weights,
        "history": search["history"],
        "candidate_loss": search["loss"],
    }
    return completed, details
