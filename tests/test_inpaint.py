"""Tests of ganlib.inpaint (Yeh et al. 2016) and the hole metrics in ganlib.metrics.

Small fake data and tiny models: a "generator" that is one dense layer plus tanh, so
the optimum of the latent search is known, and a linear discriminator.
"""
import keras
import numpy as np
import pytest

from ganlib import inpaint as ip
from ganlib.metrics import hole_psnr, hole_ssim

SIZE = 12


def tiny_generator(latent_dim=4, size=SIZE, channels=1, seed=0):
    """z -> tanh(A z + b) reshaped to an image: smooth, every z gives a different image."""
    z = keras.Input((latent_dim,))
    # seed as a SeedGenerator: Keras 3.0 reads the integer 0 as "no seed" (`seed or a random one`);
    # its first draw is the integer seed's draw on later Keras, so the weights are the same there
    initializer = keras.initializers.RandomNormal(0.0, 0.4, seed=keras.random.SeedGenerator(seed))
    x = keras.layers.Dense(size * size * channels, activation="tanh", kernel_initializer=initializer)(z)
    return keras.Model(z, keras.layers.Reshape((size, size, channels))(x))


def constant_discriminator(logit, size=SIZE, channels=1):
    """A discriminator whose logit is ``logit`` for every image."""
    image = keras.Input((size, size, channels))
    dense = keras.layers.Dense(1, kernel_initializer="zeros",
                               bias_initializer=keras.initializers.Constant(logit))
    return keras.Model(image, dense(keras.layers.Flatten()(image)))


def linear_discriminator(size=SIZE, channels=1):
    """logit = 3 * mean pixel: 'real' means bright, so the perceptual loss has a direction."""
    image = keras.Input((size, size, channels))
    dense = keras.layers.Dense(1, kernel_initializer=keras.initializers.Constant(3.0 / (size * size * channels)),
                               bias_initializer="zeros")
    return keras.Model(image, dense(keras.layers.Flatten()(image)))


def ramp(size=SIZE, channels=1):
    """A linear ramp in [-1, 1]: harmonic, so its own Poisson fill."""
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32)
    image = -0.8 + 0.06 * rows + 0.07 * cols
    return np.repeat(image[..., None], channels, axis=-1) * np.linspace(1.0, 0.5, channels)


# ------------------------------------------------------------------------ masks


def test_center_mask_hides_the_middle_quarter():
    mask = ip.center_mask(32)
    assert mask.shape == (32, 32, 1) and mask.dtype == np.float32
    assert (mask == 0).sum() == 16 * 16
    assert np.all(mask[8:24, 8:24] == 0) and mask[7, 8] == 1 and mask[24, 23] == 1


def test_center_mask_rectangular_image_and_fraction():
    mask = ip.center_mask((20, 40), hole_fraction=0.25)
    assert mask.shape == (20, 40, 1)
    assert np.argwhere(mask[..., 0] == 0).min(axis=0).tolist() == [7, 15]
    assert (mask == 0).sum() == 5 * 10


def test_random_mask_drops_the_asked_fraction_and_is_seeded():
    mask = ip.random_mask(64, missing_fraction=0.8, seed=3)
    assert mask.shape == (64, 64, 1)
    assert abs((mask == 0).mean() - 0.8) < 0.03
    assert np.array_equal(mask, ip.random_mask(64, 0.8, seed=3))
    assert not np.array_equal(mask, ip.random_mask(64, 0.8, seed=4))


def test_random_mask_always_has_known_and_missing_pixels():
    mask = ip.random_mask(2, missing_fraction=0.999, seed=0)
    assert 0 < mask.sum() < 4


def test_left_half_and_grid_masks():
    left = ip.left_half_mask(10)
    assert np.all(left[:, :5] == 0) and np.all(left[:, 5:] == 1)
    grid = ip.grid_mask(32)
    assert grid.sum() == 64
    assert grid[0, 0, 0] == 1 and grid[4, 8, 0] == 1 and grid[1, 0, 0] == 0 and grid[4, 5, 0] == 0


def test_make_mask_by_name_matches_the_functions():
    assert np.array_equal(ip.make_mask("center", 16), ip.center_mask(16))
    assert np.array_equal(ip.make_mask("grid", 16, spacing=2), ip.grid_mask(16, 2))
    assert np.array_equal(ip.make_mask("random", 16, seed=1), ip.random_mask(16, seed=1))
    assert np.array_equal(ip.make_mask("left_half", 16), ip.left_half_mask(16))


def test_mask_from_rectangles():
    mask = ip.mask_from_rectangles(10, [(1, 2, 3, 4), (8, 8, 2, 2)])
    assert (mask == 0).sum() == 12 + 4
    assert np.all(mask[1:4, 2:6] == 0) and np.all(mask[8:, 8:] == 0) and mask[0, 2, 0] == 1
    assert np.array_equal(ip.mask_from_rectangles(10, (1, 2, 3, 4)), ip.mask_from_rectangles(10, [(1, 2, 3, 4)]))


def test_mask_png_round_trip_invert_and_resize(tmp_path):
    mask = ip.center_mask(16)
    path = ip.save_mask_png(mask, tmp_path / "mask.png")
    assert np.array_equal(ip.mask_from_png(path), mask)
    assert np.array_equal(ip.mask_from_png(path, invert=True), 1 - mask)
    bigger = ip.mask_from_png(path, image_size=32)
    assert bigger.shape == (32, 32, 1) and np.array_equal(bigger, ip.center_mask(32))


def test_mask_from_colour_png_with_white_hole(tmp_path):
    from PIL import Image

    drawing = np.zeros((8, 8, 3), np.uint8)
    drawing[2:4, 2:5] = (255, 255, 255)  # a white scribble marks the hole
    Image.fromarray(drawing).save(tmp_path / "scribble.png")
    mask = ip.mask_from_png(tmp_path / "scribble.png", invert=True)
    assert (mask == 0).sum() == 6 and np.all(mask[2:4, 2:5] == 0)


# ------------------------------------------------------------------ the losses


def test_contextual_weights_around_a_single_missing_pixel():
    mask = np.ones((15, 15, 1), np.float32)
    mask[7, 7] = 0
    weights = ip.contextual_weights(mask, window=7)
    expected = np.zeros((15, 15), np.float32)
    expected[4:11, 4:11] = 1 / 49  # known pixels whose 7x7 window holds the missing one
    expected[7, 7] = 0  # the missing pixel itself carries no weight
    np.testing.assert_allclose(weights[..., 0], expected, atol=1e-7)


def test_contextual_weights_count_the_missing_share_of_the_window():
    weights = ip.contextual_weights(ip.left_half_mask(16)[None], window=7)[0, ..., 0]
    # first known column (8): its window spans columns 5..11, three of them missing
    np.testing.assert_allclose(weights[8, 8], 3 / 7, atol=1e-6)
    np.testing.assert_allclose(weights[8, 10], 1 / 7, atol=1e-6)
    assert weights[8, 11] == 0 and np.all(weights[:, :8] == 0)
    # at the top border the rows above the image count as known, not missing
    np.testing.assert_allclose(weights[0, 8], 4 * 3 / 49, atol=1e-6)


def test_contextual_loss_is_the_weighted_l1_distance():
    images = np.zeros((2, 2, 2, 1), np.float32)
    generated = np.array([[[[1.0], [-1.0]], [[0.5], [0.0]]], [[[0.2], [0.2]], [[0.2], [0.2]]]], np.float32)
    weights = np.array([[[0.5], [1.0]], [[2.0], [0.0]]], np.float32)[None].repeat(2, axis=0)
    loss = np.asarray(ip.contextual_loss(generated, images, weights))
    np.testing.assert_allclose(loss, [0.5 + 1.0 + 1.0, 0.2 * 3.5], rtol=1e-6)


def test_perceptual_loss_is_softplus_of_minus_the_logit():
    for logit in (-2.0, 0.0, 3.0):
        loss = np.asarray(ip.perceptual_loss(constant_discriminator(logit), np.zeros((3, SIZE, SIZE, 1), np.float32)))
        np.testing.assert_allclose(loss, np.log1p(np.exp(-logit)) * np.ones(3), rtol=1e-5)


# ------------------------------------------------------------------ blending


def test_poisson_blend_keeps_known_pixels_exactly():
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (3, SIZE, SIZE, 3)).astype(np.float32)
    generated = rng.uniform(-1, 1, (3, SIZE, SIZE, 3)).astype(np.float32)
    mask = ip.random_mask(SIZE, 0.5, seed=1)
    blended = ip.poisson_blend(generated, images, mask)
    known = np.broadcast_to(mask == 1, images.shape)
    assert np.array_equal(blended[known], images[known])
    assert not np.allclose(blended[~known], images[~known])


@pytest.mark.parametrize("channels", [1, 3])
def test_poisson_fill_of_a_ramp_with_a_flat_patch_is_the_ramp(channels):
    # a flat generated patch has no gradient: the fill is harmonic, and a ramp is harmonic
    image = ramp(channels=channels)
    mask = ip.mask_from_rectangles(SIZE, (3, 2, 6, 7))
    blended = ip.poisson_blend(np.zeros_like(image), image, mask)
    np.testing.assert_allclose(blended, image, atol=1e-5)


def test_poisson_blend_corrects_a_colour_shift_even_at_the_border():
    # the generated image has the right gradients but is 0.3 too bright: blending removes the
    # offset, also for a hole touching the image's border (left half)
    image = ramp()
    for mask in (ip.center_mask(SIZE), ip.left_half_mask(SIZE)):
        blended = ip.poisson_blend(image + 0.3, image, mask, clip=False)
        np.testing.assert_allclose(blended, image, atol=1e-5)
        pasted = ip.overlay(image + 0.3, image, mask)
        assert np.abs(pasted - image).max() == pytest.approx(0.3, abs=1e-6)


def test_poisson_blend_single_image_shape():
    image = ramp()
    assert ip.poisson_blend(image, image, ip.center_mask(SIZE)).shape == (SIZE, SIZE, 1)


# ------------------------------------------------------- classical baselines


def test_mean_fill_uses_each_images_known_mean_per_channel():
    images = np.zeros((2, 4, 4, 2), np.float32)
    images[0, :, :2, 0], images[0, :, 2:, 0] = 0.2, 0.6  # channel 0: left 0.2, right 0.6
    images[0, ..., 1] = -0.5
    images[1] = 0.9
    mask = ip.mask_from_rectangles(4, (0, 1, 4, 2))  # columns 1 and 2 missing
    filled = ip.mean_fill(images, mask)
    np.testing.assert_allclose(filled[0, :, 1:3, 0], 0.4, rtol=1e-6)  # mean of columns 0 and 3
    np.testing.assert_allclose(filled[0, :, 1:3, 1], -0.5, rtol=1e-6)
    np.testing.assert_allclose(filled[1], 0.9, rtol=1e-6)
    np.testing.assert_array_equal(filled[:, :, [0, 3]], images[:, :, [0, 3]])


@pytest.mark.parametrize("channels", [1, 3])
def test_biharmonic_fill_of_a_ramp_is_the_ramp(channels):
    image = ramp(channels=channels)
    mask = ip.center_mask(SIZE)
    filled = ip.biharmonic_fill(image, mask)
    assert filled.shape == image.shape
    np.testing.assert_allclose(filled, image, atol=1e-4)
    assert not np.allclose(ip.mean_fill(image, mask), image, atol=1e-2)


def test_mirror_fill_restores_a_symmetric_image_from_its_known_half():
    rows, cols = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    image = (0.8 - 0.1 * np.abs(cols - (SIZE - 1) / 2) - 0.05 * rows)[..., None]  # left-right symmetric
    half = ip.left_half_mask(SIZE)
    np.testing.assert_allclose(ip.mirror_fill(image, half), image, atol=1e-6)
    assert ip.mirror_coverage(half) == 1.0
    centre = ip.center_mask(SIZE)
    assert ip.mirror_coverage(centre) == 0.0  # the mirror of a centred hole is in the hole
    np.testing.assert_allclose(ip.mirror_fill(image, centre), ip.mean_fill(image, centre))
    np.testing.assert_allclose(ip.mirror_coverage(np.stack([half, centre])), [1.0, 0.0])


def test_pca_fill_recovers_a_face_in_the_span_of_the_training_faces():
    rng = np.random.default_rng(0)
    basis = rng.standard_normal((3, SIZE * SIZE)) * 0.04      # faces of a 3-dimensional family
    training = (rng.standard_normal((40, 3)) @ basis).reshape(40, SIZE, SIZE, 1).astype(np.float32)
    new_face = (np.array([1.0, -0.5, 0.8]) @ basis).reshape(SIZE, SIZE, 1).astype(np.float32)
    mask = ip.left_half_mask(SIZE)
    filled = ip.pca_fill(new_face, mask, training, n_components=3)
    np.testing.assert_allclose(filled, new_face, atol=1e-3)   # 72 known pixels pin 3 coefficients
    assert np.abs(ip.pca_fill(new_face, mask, training, n_components=1) - new_face).max() > 0.01
    np.testing.assert_array_equal(filled[mask[..., 0] == 1], new_face[mask[..., 0] == 1])


def test_nearest_fill_takes_the_hole_from_the_closest_training_face():
    training = np.stack([np.full((SIZE, SIZE, 1), level, np.float32) for level in (-0.6, 0.0, 0.5)])
    image = np.full((SIZE, SIZE, 1), 0.45, np.float32)
    mask = ip.center_mask(SIZE)
    filled, index = ip.nearest_fill(image, mask, training, return_index=True)
    assert index == 2
    np.testing.assert_allclose(filled[mask[..., 0] == 0], 0.5)
    np.testing.assert_allclose(ip.nearest_fill(image, mask, training, blend=True), image, atol=1e-5)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ip.pca_fill(np.zeros((4, 4, 1)), ip.center_mask(4), np.zeros((5, 5, 5, 1))),
         r"training_images has shape \(5, 5, 5, 1\); expected \(N, 4, 4, 1\)"),
        (lambda: ip.pca_fill(np.zeros((4, 4, 1)), ip.center_mask(4), np.zeros((1, 4, 4, 1))),
         r"training_images holds 1 image"),
        (lambda: ip.pca_fill(np.zeros((4, 4, 1)), ip.center_mask(4),
                             np.random.default_rng(0).uniform(-1, 1, (3, 4, 4, 1)), n_components=5),
         r"n_components=5 is more than the 2 directions"),
        (lambda: ip.pca_fill(np.zeros((4, 4, 1)), ip.center_mask(4), np.zeros((3, 4, 4, 1)), variance=1.5),
         r"variance=1.5"),
        (lambda: ip.nearest_fill(np.zeros((4, 4, 1)), ip.center_mask(4), np.full((2, 4, 4, 1), 3.0)),
         r"training_images"),
        (lambda: ip.mirror_coverage(np.ones((4, 4))), r"masks has shape \(4, 4\)"),
    ],
)
def test_baseline_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---------------------------------------------------------------- the search


def test_search_latents_shapes_and_candidates_are_independent():
    generator = tiny_generator()
    images, _ = target_in_generator_range(generator, count=2)
    weights = ip.contextual_weights(np.stack([ip.center_mask(SIZE)] * 2))
    both = ip.search_latents(generator, constant_discriminator(0.0), images, weights, steps=20,
                             n_candidates=3, record_every=5, progress=False)
    assert both["z"].shape == (2, 3, 4) and both["loss"].shape == (2, 3)
    assert both["history"]["step"].tolist() == [5, 10, 15, 20]
    # the same starting points searched one image at a time give the same result
    alone = ip.search_latents(generator, constant_discriminator(0.0), images[:1], weights[:1], steps=20,
                              n_candidates=3, record_every=5, progress=False)
    np.testing.assert_allclose(alone["z"][0], both["z"][0], atol=1e-5)
    np.testing.assert_allclose(alone["loss"][0], both["loss"][0], rtol=1e-5)


def target_in_generator_range(generator, seed=5, count=2):
    z = np.random.default_rng(seed).uniform(-1, 1, (count, generator.input_shape[-1])).astype(np.float32)
    return np.asarray(generator(z)), z


def test_inpaint_lowers_the_loss_and_recovers_an_image_the_generator_can_make():
    generator = tiny_generator()
    images, _ = target_in_generator_range(generator)
    mask = ip.center_mask(SIZE)
    completed, details = ip.inpaint(generator, constant_discriminator(0.0), images, mask, steps=300,
                                    n_candidates=4, perceptual_weight=0.1, learning_rate=0.05,
                                    window=5, return_details=True, progress=False)
    history = details["history"]["loss"]
    assert history.shape == (30, 2)
    # baseline: the best of 16 random latent vectors per image, no search
    random_z = np.random.default_rng(1).standard_normal((16, 4)).astype(np.float32)
    random_images = np.asarray(generator(random_z))
    baseline = np.array([np.asarray(ip.contextual_loss(random_images, np.repeat(images[i:i + 1], 16, 0),
                                                       np.repeat(details["weights"][i:i + 1], 16, 0))).min()
                         for i in range(2)])
    assert np.all(details["contextual_loss"] < 0.05 * baseline)
    assert np.all(np.diff(history, axis=0) <= 1e-6)  # best-so-far never rises
    # known pixels are kept; the hole is filled close to the truth (a 0-error fill is possible)
    known = np.broadcast_to(mask == 1, images.shape)
    np.testing.assert_array_equal(completed[known], images[known])
    assert np.all(hole_psnr(images, completed, mask) > 30)
    random_fill = ip.overlay(np.zeros_like(images), images, mask)
    assert np.all(hole_psnr(images, random_fill, mask) < 20)
    assert completed.shape == images.shape and completed.dtype == np.float32


def test_inpaint_keeps_the_best_candidate_and_z_in_range():
    generator = tiny_generator()
    images, _ = target_in_generator_range(generator, seed=8, count=1)
    completed, details = ip.inpaint(generator, constant_discriminator(0.0), images, ip.left_half_mask(SIZE),
                                    steps=20, n_candidates=6, z_clip=0.5, blend=False,
                                    return_details=True, progress=False)
    assert np.abs(details["z"]).max() <= 0.5 + 1e-6
    # the kept loss is the lowest seen, the final z included (history stops before its last update)
    assert details["loss"][0] <= details["history"]["loss"][-1, 0] + 1e-5
    assert details["loss"][0] == pytest.approx(
        np.asarray(ip.contextual_loss(details["generated"], images, details["weights"]))[0] + 0.1 * np.log(2), rel=1e-5)
    np.testing.assert_array_equal(completed, details["pasted"])
    assert details["blended"] is None


def test_inpaint_on_the_sphere_keeps_every_z_at_the_given_length():
    generator = tiny_generator()
    images, _ = target_in_generator_range(generator, seed=8, count=2)
    _, details = ip.inpaint(generator, constant_discriminator(0.0), images, ip.left_half_mask(SIZE),
                            steps=20, n_candidates=3, z_norm=2.0, learning_rate=0.1, blend=False,
                            return_details=True, progress=False)
    np.testing.assert_allclose(np.linalg.norm(details["z"], axis=1), 2.0, rtol=1e-5)
    assert np.abs(details["z"]).max() > 1.0  # the box of z_clip=1 is not applied


def test_perceptual_only_search_ignores_the_context_and_pleases_the_discriminator():
    generator = tiny_generator()
    images = np.full((1, SIZE, SIZE, 1), -0.9, np.float32)  # dark image; this D prefers bright ones
    _, details = ip.inpaint(generator, linear_discriminator(), images, ip.center_mask(SIZE), steps=100,
                            n_candidates=2, contextual_weight=0.0, perceptual_weight=1.0,
                            learning_rate=0.05, return_details=True, progress=False)
    _, contextual_only = ip.inpaint(generator, linear_discriminator(), images, ip.center_mask(SIZE),
                                    steps=100, n_candidates=2, perceptual_weight=0.0, learning_rate=0.05,
                                    return_details=True, progress=False)
    # perceptual only: brighter images (what this D calls real) and a lower perceptual loss;
    # contextual only: a better match to the known pixels
    assert details["generated"].mean() > contextual_only["generated"].mean() + 0.1
    assert details["perceptual_loss"][0] < contextual_only["perceptual_loss"][0] - 0.1
    assert contextual_only["contextual_loss"][0] < details["contextual_loss"][0] - 1.0


def test_inpaint_single_image_and_per_image_masks():
    generator = tiny_generator(channels=3)
    discriminator = constant_discriminator(0.0, channels=3)
    images, _ = target_in_generator_range(generator, count=2)
    masks = np.stack([ip.center_mask(SIZE), ip.grid_mask(SIZE, 3)])
    completed = ip.inpaint(generator, discriminator, images, masks, steps=5, n_candidates=2, progress=False)
    assert completed.shape == (2, SIZE, SIZE, 3)
    single = ip.inpaint(generator, discriminator, images[0], masks[0, ..., 0] > 0, steps=5,
                        n_candidates=2, progress=False)
    assert single.shape == (SIZE, SIZE, 3) and np.all(np.abs(single) <= 1)


# ------------------------------------------------------------------ bad input


@pytest.fixture(scope="module")
def models():
    return tiny_generator(), constant_discriminator(0.0)


@pytest.mark.parametrize(
    "images, masks, match",
    [
        (np.zeros((2, SIZE, SIZE, 1)), np.ones((2, SIZE, 10, 1)), r"masks has shape \(2, 12, 10, 1\); expected \(2, 12, 12, 1\)"),
        (np.zeros((2, SIZE, SIZE, 1)), np.ones((3, SIZE, SIZE, 1)), r"masks has shape \(3, 12, 12, 1\)"),
        (np.zeros((2, SIZE, SIZE, 1)), np.ones((SIZE, SIZE, 3)), r"masks has shape \(12, 12, 3\)"),
        (np.zeros((1, SIZE, SIZE, 1)), np.ones((SIZE, SIZE, 1)), r"masks\[0\] has no hole"),
        (np.zeros((1, SIZE, SIZE, 1)), np.zeros((SIZE, SIZE, 1)), r"masks\[0\] has no known pixel"),
        (np.zeros((1, SIZE, SIZE, 1)), np.full((SIZE, SIZE, 1), 0.5), r"only 0 \(missing pixel\) and 1"),
        (np.full((1, SIZE, SIZE, 1), 255.0), ip.center_mask(SIZE), r"images.*\[255, 255\].*\[-1, 1\]"),
        (np.full((1, SIZE, SIZE, 1), np.nan), ip.center_mask(SIZE), r"images contains NaN"),
        (np.zeros((1, 16, 16, 1)), ip.center_mask(16), r"images have shape \(16, 16, 1\).*generator makes images of shape \(12, 12, 1\)"),
        (np.zeros((1, SIZE, SIZE, 3)), ip.center_mask(SIZE), r"generator makes images of shape \(12, 12, 1\)"),
        (np.zeros((SIZE, SIZE)), ip.center_mask(SIZE), r"images has shape \(12, 12\); expected \(N, H, W, C\)"),
    ],
)
def test_inpaint_bad_images_and_masks(models, images, masks, match):
    with pytest.raises(ValueError, match=match):
        ip.inpaint(*models, images, masks, steps=1, progress=False)


def test_second_mask_without_hole_is_named(models):
    masks = np.stack([ip.center_mask(SIZE), np.ones((SIZE, SIZE, 1), np.float32)])
    with pytest.raises(ValueError, match=r"masks\[1\] has no hole"):
        ip.inpaint(*models, np.zeros((2, SIZE, SIZE, 1)), masks, steps=1, progress=False)


def test_discriminator_of_another_size(models):
    with pytest.raises(ValueError, match=r"discriminator takes \(16, 16, 1\)"):
        ip.inpaint(models[0], constant_discriminator(0.0, size=16), np.zeros((1, SIZE, SIZE, 1)),
                   ip.center_mask(SIZE), steps=1, progress=False)


@pytest.mark.parametrize(
    "option, match",
    [
        ({"steps": 0}, r"steps=0 must be a positive integer"),
        ({"steps": 2.5}, r"steps=2.5 must be a positive integer"),
        ({"n_candidates": 0}, r"n_candidates=0"),
        ({"perceptual_weight": -1}, r"perceptual_weight=-1"),
        ({"contextual_weight": 0, "perceptual_weight": 0}, r"leave nothing to minimise"),
        ({"learning_rate": 0}, r"learning_rate=0"),
        ({"window": 4}, r"window=4 must be odd"),
        ({"z_clip": -1.0}, r"z_clip=-1.0"),
        ({"z_norm": 0.0}, r"z_norm=0.0"),
        ({"record_every": 0}, r"record_every=0"),
    ],
)
def test_inpaint_bad_options(models, option, match):
    with pytest.raises(ValueError, match=match):
        ip.inpaint(*models, np.zeros((1, SIZE, SIZE, 1)), ip.center_mask(SIZE), progress=False,
                   **{"steps": 1, **option})


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ip.center_mask(32, hole_fraction=1.5), r"hole_fraction=1.5 is outside the allowed range \(0.0, 1.0\)"),
        (lambda: ip.center_mask("big"), r"image_size='big' must be an integer or a pair"),
        (lambda: ip.center_mask(1), r"image_size=1 must be at least 2"),
        (lambda: ip.random_mask(32, missing_fraction=0.0), r"missing_fraction=0.0 is outside"),
        (lambda: ip.grid_mask(32, spacing=1), r"spacing=1 must be between 2 and"),
        (lambda: ip.grid_mask(32, spacing=0), r"spacing=0 must be a positive integer"),
        (lambda: ip.make_mask("star", 32), r"kind='star' is not allowed; use one of 'center', 'random'"),
        (lambda: ip.mask_from_rectangles(10, [(8, 8, 3, 2)]), r"does not fit in an image of 10x10"),
        (lambda: ip.mask_from_rectangles(10, [(1, 2, 3)]), r"must be four integers"),
        (lambda: ip.mask_from_rectangles(10, []), r"rectangles=\[\] is empty"),
        (lambda: ip.mask_from_rectangles(10, 5), r"rectangles=5 must be a list"),
        (lambda: ip.mask_from_png("/nonexistent/mask.png"), r"path='/nonexistent/mask.png' is not a file"),
        (lambda: ip.contextual_weights(np.ones((4, 4)), window=3), r"masks has shape \(4, 4\)"),
        (lambda: ip.contextual_weights(np.ones((4, 4, 1)), window=0), r"window=0 must be a positive"),
        (lambda: ip.poisson_blend(np.zeros((1, 4, 4, 1)), np.zeros((1, 5, 5, 1)), ip.center_mask(5)), r"generated has shape"),
        (lambda: ip.save_mask_png(np.ones((2, 4, 4, 1)), "/tmp/x.png"), r"mask has shape \(2, 4, 4, 1\)"),
    ],
)
def test_mask_and_helper_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_mask_from_png_not_an_image(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("not a picture")
    with pytest.raises(ValueError, match=r"could not be read as an image"):
        ip.mask_from_png(path)


# ------------------------------------------------------- metrics inside the hole


def test_hole_psnr_only_looks_at_the_hole():
    reference = np.zeros((1, 8, 8, 3), np.float32)
    mask = ip.center_mask(8)
    estimate = reference + 0.1 * (1 - mask)  # error 0.1 everywhere in the hole
    np.testing.assert_allclose(hole_psnr(reference, estimate, mask), [10 * np.log10(4 / 0.01)], rtol=1e-6)
    estimate_with_outside_error = estimate + 0.5 * mask  # known pixels wrong: no effect
    np.testing.assert_allclose(hole_psnr(reference, estimate_with_outside_error, mask),
                               hole_psnr(reference, estimate, mask))
    assert hole_psnr(reference, reference + 0.5 * mask, mask)[0] == np.inf


def test_hole_ssim_is_one_for_a_perfect_fill_and_drops_with_hole_errors():
    rng = np.random.default_rng(0)
    reference = rng.uniform(-1, 1, (2, 32, 32, 1)).astype(np.float32)
    mask = ip.center_mask(32, hole_fraction=0.25)  # hole rows/cols 12..19
    np.testing.assert_allclose(hole_ssim(reference, reference, mask), [1.0, 1.0], atol=1e-6)
    noisy = reference + (1 - mask) * rng.normal(0, 0.5, reference.shape).astype(np.float32)
    assert np.all(hole_ssim(reference, noisy, mask) < 0.8)
    far_away = reference.copy()
    far_away[:, :4, :4] = 0  # more than the 7x7 window from the hole
    np.testing.assert_allclose(hole_ssim(reference, far_away, mask), [1.0, 1.0], atol=1e-6)


@pytest.mark.parametrize(
    "arguments, match",
    [
        ((np.zeros((1, 8, 8, 1)), np.zeros((1, 8, 9, 1)), ip.center_mask(8)), r"references has shape"),
        ((np.zeros((1, 8, 8, 1)), np.zeros((1, 8, 8, 1)), np.ones((8, 6, 1))), r"masks has shape \(8, 6, 1\)"),
        ((np.zeros((1, 8, 8, 1)), np.zeros((1, 8, 8, 1)), np.ones((8, 8, 1))), r"masks\[0\] has no hole"),
    ],
)
def test_hole_metric_errors(arguments, match):
    for metric in (hole_psnr, hole_ssim):
        with pytest.raises(ValueError, match=match):
            metric(*arguments)
