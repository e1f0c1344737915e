"""Tests for ganlib.augment: shapes, ranges, exact behaviour of each op, gradients, XLA."""
import numpy as np
import pytest
import tensorflow as tf

import ganlib.augment as ga
from ganlib.data import training_pipeline


def _images(batch=8, size=16, channels=3, seed=0):
    return tf.constant(np.random.default_rng(seed).uniform(-1, 1, (batch, size, size, channels)), tf.float32)


def _shift(image, dy, dx, fill=0.0):
    """Reference: shift one image (H, W, C) by whole pixels with a constant fill."""
    out = np.full_like(image, fill)
    height, width = image.shape[:2]
    src = image[max(0, -dy): height - max(0, dy), max(0, -dx): width - max(0, dx)]
    out[max(0, dy): max(0, dy) + src.shape[0], max(0, dx): max(0, dx) + src.shape[1]] = src
    return out


def test_translate_matches_a_reference_shift():
    images = _images(3).numpy()
    shifts = [(2, -3), (0, 0), (-5, 4)]
    out = ga.translate(images, tf.constant([s[0] for s in shifts]), tf.constant([s[1] for s in shifts]))
    for image, result, (dy, dx) in zip(images, out.numpy(), shifts):
        np.testing.assert_array_equal(result, _shift(image, dy, dx))
    edge = ga.translate(images[:1], tf.constant([3]), tf.constant([0]), fill="edge").numpy()[0]
    np.testing.assert_array_equal(edge[:3], np.repeat(images[0][:1], 3, axis=0))  # top row repeated
    np.testing.assert_array_equal(edge[3:], images[0][:-3])


def test_random_translation_is_a_bounded_shift_with_zero_padding():
    images = _images(12).numpy()
    out = ga.random_translation(images, ratio=0.125, seed=3).numpy()
    assert out.shape == images.shape and out.min() >= -1 and out.max() <= 1
    limit = 2  # round(16 * 1/8)
    found = []
    for image, result in zip(images, out):
        matches = [(dy, dx) for dy in range(-limit, limit + 1) for dx in range(-limit, limit + 1)
                   if np.array_equal(result, _shift(image, dy, dx))]
        assert matches, "every output is the input shifted by at most 2 pixels"
        found.append(matches[0])
    assert len(set(found)) > 3  # different shifts for different images


def test_random_cutout_zeroes_one_clipped_square():
    images = _images(16).numpy() * 0.5 + 0.5  # in (0, 1]: no natural zeros
    out = ga.random_cutout(images, ratio=0.5, seed=5).numpy()
    assert out.shape == images.shape and out.min() >= -1 and out.max() <= 1
    for image, result in zip(images, out):
        cut = np.all(result == 0, axis=-1)
        rows, cols = np.flatnonzero(cut.any(axis=1)), np.flatnonzero(cut.any(axis=0))
        assert 0 < cut.sum() <= 8 * 8  # at most a quarter of the image
        assert rows.size <= 8 and cols.size <= 8
        assert cut[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1].all()  # one solid rectangle
        np.testing.assert_array_equal(result[~cut], image[~cut])        # the rest untouched


def test_colour_ops_change_what_the_paper_says_and_nothing_else():
    images = _images(6).numpy()
    bright = ga.random_brightness(images, seed=1).numpy()
    offset = bright - images
    assert np.allclose(offset, offset[:, :1, :1, :1], atol=1e-6)  # one offset per image
    assert np.all(np.abs(offset) <= 0.5)
    saturated = ga.random_saturation(images, seed=2).numpy()
    np.testing.assert_allclose(saturated.mean(-1), images.mean(-1), atol=1e-5)  # grey value kept
    contrast = ga.random_contrast(images, seed=3).numpy()
    np.testing.assert_allclose(contrast.mean((1, 2, 3)), images.mean((1, 2, 3)), atol=1e-5)  # mean kept
    factor = (contrast - contrast.mean((1, 2, 3), keepdims=True)) / (images - images.mean((1, 2, 3), keepdims=True))
    assert np.all((factor > 0.5 - 1e-3) & (factor < 1.5 + 1e-3))


def test_colour_ops_leave_alpha_alone():
    images = _images(4, channels=4).numpy()
    out = ga.DiffAugment(policy="color", seed=0)(images).numpy()
    np.testing.assert_array_equal(out[..., 3], images[..., 3])
    assert not np.allclose(out[..., :3], images[..., :3])


def test_diffaugment_shapes_range_and_reproducibility():
    images = _images(8)
    first = ga.DiffAugment(seed=7)
    out_a, out_b = first(images).numpy(), first(images).numpy()
    assert out_a.shape == (8, 16, 16, 3) and out_a.dtype == np.float32
    assert np.all(np.isfinite(out_a))
    # brightness +-0.5, saturation x[0, 2), contrast x[0.5, 1.5): |out| <= (1.5 + 2 * 3) * 1.5 + 1.5
    assert np.abs(out_a).max() < 13
    assert not np.allclose(out_a, out_b)  # new randomness at every call
    again = ga.DiffAugment(seed=7)
    np.testing.assert_array_equal(again(images).numpy(), out_a)  # same seed, same sequence
    geometric = ga.DiffAugment(policy="translation,cutout", seed=1)(images).numpy()
    assert geometric.min() >= -1 and geometric.max() <= 1


def test_gradients_flow_through_diffaugment_to_a_generator():
    import keras

    generator = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16 * 16 * 3), keras.layers.Reshape((16, 16, 3))])
    augment = ga.DiffAugment(seed=0)
    noise = tf.random.normal((5, 4), seed=1)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(augment(generator(noise))))
    gradients = tape.gradient(loss, generator.trainable_weights)
    assert all(g is not None for g in gradients)
    assert all(np.all(np.isfinite(g.numpy())) for g in gradients)
    assert float(tf.reduce_sum(tf.abs(gradients[0]))) > 0


def test_gradient_of_cutout_and_translation_is_the_mask_of_kept_pixels():
    images = _images(4) * 0.5 + 0.5
    with tf.GradientTape() as tape:
        tape.watch(images)
        out = ga.random_cutout(images, seed=11)
        total = tf.reduce_sum(out)
    gradient = tape.gradient(total, images).numpy()
    kept = (out.numpy() != 0).astype(np.float32)
    np.testing.assert_array_equal(gradient, kept)
    with tf.GradientTape() as tape:
        tape.watch(images)
        shifted = ga.translate(images, tf.constant([1, 0, -2, 3]), tf.constant([0, 2, 0, -1]))
        total = tf.reduce_sum(shifted)
    gradient = tape.gradient(total, images).numpy()
    # pixels moved out of the frame get no gradient, the others exactly 1
    assert set(np.unique(gradient)) <= {0.0, 1.0}
    assert gradient[0, -1].sum() == 0 and gradient[0, 0].min() == 1.0


def test_diffaugment_compiles_with_xla_for_any_batch_size():
    augment = ga.DiffAugment(seed=3)
    compiled = tf.function(augment.__call__, jit_compile=True)
    images = _images(6)
    first, second = compiled(images), compiled(images)
    assert first.shape == (6, 16, 16, 3)
    assert not np.allclose(first.numpy(), second.numpy())  # the seed generator advances under XLA
    assert compiled(images[:3]).shape == (3, 16, 16, 3)


def test_flip_and_shift_in_the_input_pipeline():
    images = _images(32, size=8).numpy()
    layer = ga.FlipAndShift(max_shift=0, seed=0)
    out = layer(images).numpy()
    flipped = [np.array_equal(o, i[:, ::-1]) for o, i in zip(out, images)]
    same = [np.array_equal(o, i) for o, i in zip(out, images)]
    assert all(f or s for f, s in zip(flipped, same)) and 4 < sum(flipped) < 28
    single = ga.FlipAndShift(seed=0)(images[0])
    assert single.shape == (8, 8, 3)
    shifted = ga.FlipAndShift(flip=False, max_shift=2, seed=1)(images).numpy()
    assert shifted.min() >= images.min() and shifted.max() <= images.max()  # edge fill: no new values
    white = ga.FlipAndShift(flip=False, max_shift=2, fill=1.0, seed=2)(images).numpy()
    assert white.max() == 1.0
    batches = training_pipeline(images, batch_size=8, augment=ga.FlipAndShift(seed=0), seed=0)
    assert [tuple(b.shape) for b in batches] == [(8, 8, 8, 3)] * 4


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: ga.DiffAugment(policy="color,zoom"), "policy='color,zoom'"),
        (lambda: ga.DiffAugment(policy=""), "policy=''"),
        (lambda: ga.DiffAugment(translation_ratio=0.9), "translation_ratio=0.9"),
        (lambda: ga.DiffAugment(cutout_ratio=0), "cutout_ratio=0"),
        (lambda: ga.FlipAndShift(max_shift=-0.1), "max_shift=-0.1"),
        (lambda: ga.FlipAndShift(fill="mirror"), "fill='mirror'"),
        (lambda: ga.FlipAndShift(fill=3.0), "fill=3.0"),
        (lambda: ga.DiffAugment()(tf.zeros((16, 16))), r"expected a batch \(B, H, W, C\)"),
        (lambda: ga.random_flip(tf.zeros((2, 4, 4, 3), tf.int32)), "expected floats"),
    ],
)
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# ---- adaptive augmentation (Karras et al. 2020) -------------------------------------------
def test_adaptive_augment_at_p_zero_returns_its_input_and_at_p_one_changes_every_image():
    images = _images()
    layer = ga.AdaptiveAugment(seed=0)
    np.testing.assert_array_equal(layer(images).numpy(), images.numpy())
    layer.p.assign(1.0)
    changed = np.abs(layer(images).numpy() - images.numpy()).reshape(len(images), -1).max(axis=1)
    assert (changed > 0).all()


def test_adaptive_augment_applies_each_transformation_to_a_share_p_of_images():
    # only cutout: an image is changed exactly when its cutout was drawn (p of them)
    images = _images(batch=4000, size=8, channels=1) * 0.5 + 0.75  # no pixel is 0, cutout's fill
    layer = ga.AdaptiveAugment("cutout", seed=1)
    layer.p.assign(0.3)
    changed = (np.abs(layer(images).numpy() - images.numpy()).reshape(4000, -1).max(axis=1) > 0).mean()
    assert abs(changed - 0.3) < 0.03  # 4000 draws: standard error 0.007


def test_adaptive_augment_moves_p_by_the_sign_of_r_t_every_interval_updates():
    layer = ga.AdaptiveAugment(target=0.6, speed=1000, interval=4, seed=0)
    sure = np.full(50, 3.0, np.float32)          # D says "real" to every real image: r_t = 1
    for _ in range(3):
        layer.observe(sure)
    assert float(layer.p) == 0.0                  # not yet: every 4th update only
    layer.observe(sure)
    np.testing.assert_allclose(float(layer.p), 4 * 50 / 1000)       # up by n / speed
    np.testing.assert_allclose(float(layer.overfitting), 1.0)
    half = np.array([3.0] * 30 + [-3.0] * 20, np.float32)  # r_t = 0.2 < 0.6: down
    for _ in range(4):
        layer.observe(half)
    np.testing.assert_allclose(float(layer.p), 0.0, atol=1e-7)
    np.testing.assert_allclose(float(layer.overfitting), 0.2, rtol=1e-6)
    for _ in range(4):
        layer.observe(half)
    assert float(layer.p) == 0.0                  # clipped at 0
    layer.p.assign(0.95)
    for _ in range(4):
        layer.observe(sure)
    assert float(layer.p) == 1.0                  # clipped at 1


def test_adaptive_augment_observes_inside_tf_function_and_xla():
    layer = ga.AdaptiveAugment(speed=100, interval=2, seed=0)

    @tf.function(jit_compile=True)
    def step(images, logits):
        return layer(images), layer.observe(logits)

    for _ in range(2):
        _, p = step(_images(), tf.ones(8))
    np.testing.assert_allclose(float(p), 16 / 100)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: ga.AdaptiveAugment(target=1.0), "target=1.0"),
        (lambda: ga.AdaptiveAugment(speed=0), "speed=0"),
        (lambda: ga.AdaptiveAugment(interval=0), "interval=0"),
        (lambda: ga.AdaptiveAugment(initial_p=1.5), "initial_p=1.5"),
        (lambda: ga.AdaptiveAugment(policy="zoom"), "policy='zoom'"),
    ],
)
def test_adaptive_augment_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()
