"""Tests of ganlib/classic.py: the 2017 Keras-blog Pokemon GAN, on tiny fake data."""
import keras
import numpy as np
import pytest

from ganlib.classic import (
    ClassicGAN,
    GENERATED_LABEL,
    ORIGINAL,
    REAL_LABEL,
    classic_discriminator,
    classic_generator,
    from_ganlib,
    to_ganlib,
)

SMALL = dict(latent_dim=8, filters=8)


def _fake_sprites(n=16, size=8, seed=0):
    """RGBA in [0, 1]: a coloured square on a transparent background, varied by seed."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, size, size, 4), np.float32)
    for image in images:
        image[2:-2, 2:-2, :3] = rng.random(3)
        image[2:-2, 2:-2, 3] = 1.0
    return images


def _small_gan(**kwargs):
    keras.utils.set_random_seed(0)  # the networks' initial weights
    options = dict(SMALL, d_filters=8, batch_size=4, d_steps=3, pretrain_iterations=2, seed=0)
    options.update(kwargs)
    return ClassicGAN(_fake_sprites(), **options)


def test_original_networks_have_the_posts_shapes_and_parameter_counts():
    generator, discriminator = classic_generator(), classic_discriminator()
    assert generator.input_shape == (None, 100) and generator.output_shape == (None, 28, 28, 4)
    assert discriminator.input_shape == (None, 28, 28, 4) and discriminator.output_shape == (None, 2)
    # Dense 100 -> 200*14*14 with its BN (4 weights per unit), convs 3x3 200->100, 3x3 100->50, 1x1 50->4.
    dense, conv1, conv2, conv3 = 100 * 39200 + 39200, 9 * 200 * 100 + 100, 9 * 100 * 50 + 50, 50 * 4 + 4
    assert generator.count_params() == dense + 4 * 39200 + conv1 + 4 * 100 + conv2 + 4 * 50 + conv3 == 4_341_954
    # convs 5x5 4->256, 5x5 256->512, 3x3 512->2, then Dense 7*7*2 -> 2.
    expected = (25 * 4 * 256 + 256) + (25 * 256 * 512 + 512) + (9 * 512 * 2 + 2) + (98 * 2 + 2)
    assert discriminator.count_params() == expected == 3_312_584


def test_generator_outputs_images_in_0_1_and_discriminator_probabilities():
    generator = classic_generator(image_size=8, **SMALL)
    images = keras.ops.convert_to_numpy(generator(np.random.rand(5, 8).astype("float32")))
    assert images.shape == (5, 8, 8, 4)
    assert images.min() >= 0.0 and images.max() <= 1.0
    discriminator = classic_discriminator(image_size=8)
    labels = keras.ops.convert_to_numpy(discriminator(images))
    assert labels.shape == (5, 2)
    np.testing.assert_allclose(labels.sum(axis=1), 1.0, atol=1e-5)
    assert np.all(labels >= 0)


def test_the_originals_leaky_relu_after_a_relu_changes_nothing():
    discriminator = classic_discriminator(image_size=8)
    probe = keras.Model(discriminator.input,
                        [discriminator.get_layer("conv1").output, discriminator.get_layer("conv1_leaky").output])
    before, after = probe(np.random.rand(3, 8, 8, 4).astype("float32"))
    before, after = keras.ops.convert_to_numpy(before), keras.ops.convert_to_numpy(after)
    assert before.min() >= 0.0 and (before > 0).any()
    np.testing.assert_array_equal(before, after)


def test_labels_follow_the_original_order_real_then_generated():
    assert REAL_LABEL == (1.0, 0.0) and GENERATED_LABEL == (0.0, 1.0)
    assert ORIGINAL["d_steps"] == 10 and ORIGINAL["pretrain_iterations"] == 100
    assert ORIGINAL["g_learning_rate"] == 1e-3 and ORIGINAL["d_learning_rate"] == 1e-4


def test_conversion_to_and_from_ganlib_range():
    images = _fake_sprites(3)
    np.testing.assert_allclose(from_ganlib(to_ganlib(images)), images, atol=1e-6)
    rgb = to_ganlib(images, rgb=True)
    assert rgb.shape == (3, 8, 8, 3)
    # Transparent pixels become white (+1); opaque ones keep their colour, rescaled to [-1, 1].
    np.testing.assert_allclose(rgb[:, 0, 0], 1.0)
    np.testing.assert_allclose(rgb[:, 4, 4], images[:, 4, 4, :3] * 2 - 1, atol=1e-6)
    # Half transparent black on white is mid grey (0.5 -> 0.0 in ganlib's range).
    grey = np.zeros((1, 8, 8, 4), np.float32)
    grey[..., 3] = 0.5
    np.testing.assert_allclose(to_ganlib(grey, rgb=True), 0.0, atol=1e-6)


def test_noise_is_uniform_in_0_1_and_real_batches_come_from_the_data():
    gan = _small_gan()
    noise = gan.noise(4000)
    assert noise.shape == (4000, 8) and noise.min() >= 0.0 and noise.max() < 1.0
    assert abs(noise.mean() - 0.5) < 0.01
    batch = gan.sample_real(10)
    flat = gan.images.reshape(len(gan.images), -1)
    assert all((flat == image.reshape(-1)).all(axis=1).any() for image in batch)


def test_discriminator_step_trains_only_the_discriminator():
    gan = _small_gan()
    g_before = [w.copy() for w in gan.generator.get_weights()]
    d_before = [w.copy() for w in gan.discriminator.get_weights()]
    gan.pretrain_discriminator(1)
    # The fakes come from G in inference mode: not even its BN statistics move.
    assert all(np.array_equal(a, b) for a, b in zip(g_before, gan.generator.get_weights()))
    assert any(not np.array_equal(a, b) for a, b in zip(d_before, gan.discriminator.get_weights()))


def test_generator_step_goes_through_a_frozen_discriminator():
    gan = _small_gan()
    g_before = [w.numpy().copy() for w in gan.generator.trainable_weights]
    d_before = [w.numpy().copy() for w in gan.discriminator.weights]
    loss = float(gan._g_step(gan.noise(4)))
    assert np.isfinite(loss) and loss > 0
    assert all(np.array_equal(a, b.numpy()) for a, b in zip(d_before, gan.discriminator.weights))
    assert any(not np.array_equal(a, b.numpy()) for a, b in zip(g_before, gan.generator.trainable_weights))


@pytest.mark.parametrize("threshold, retrained", [(1e6, []), (0.0, [1, 2])])
def test_schedule_counts_pretraining_d_steps_g_steps_and_retraining(threshold, retrained):
    gan = _small_gan(retrain_threshold=threshold)
    history = gan.train(iterations=2, report_every=1, verbose=False)
    # 2 pre-training steps, then 3 D steps per iteration, plus 2 more each time D is re-trained.
    assert int(gan.d_optimizer.iterations.numpy()) == 2 + 2 * 3 + 2 * len(retrained)
    assert int(gan.g_optimizer.iterations.numpy()) == 2
    assert history["retrained_at"] == retrained
    assert len(history["d_loss"]) == len(history["g_loss"]) == 2
    # One report after pre-training, then one per iteration (report_every=1).
    assert [report["iteration"] for report in history["labels"]] == [0, 1, 2]
    for report in history["labels"]:
        assert sum(report["real"]) == pytest.approx(1.0, abs=1e-5)
        assert sum(report["generated"]) == pytest.approx(1.0, abs=1e-5)
    # Training again continues: no second pre-training, the iteration count goes on.
    gan.train(iterations=1, report_every=1, verbose=False)
    assert gan.iteration == 3 and len(history["pretrain_loss"]) == 1 + len(history["retrained_at"])


def test_pretraining_teaches_the_discriminator_to_separate_real_from_generated():
    gan = _small_gan(d_learning_rate=1e-3)
    before = gan.mean_labels(64, verbose=False)
    gan.pretrain_discriminator(60)
    after = gan.mean_labels(64, verbose=False)
    # P(real) given to real images rises and P(generated) given to fakes rises.
    assert after["real"][0] > before["real"][0] + 0.1
    assert after["generated"][1] > before["generated"][1] + 0.1
    assert after["real"][0] > 0.7 and after["generated"][1] > 0.7


def test_generate_in_both_formats():
    gan = _small_gan()
    classic = gan.generate(6)
    assert classic.shape == (6, 8, 8, 4) and classic.min() >= 0 and classic.max() <= 1
    noise = gan.noise(2)
    converted = gan.generate_ganlib(noise=noise)
    assert converted.shape == (2, 8, 8, 3) and converted.min() >= -1 and converted.max() <= 1
    np.testing.assert_allclose(converted, to_ganlib(gan.generate(noise=noise), rgb=True), atol=1e-6)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: classic_generator(image_size=30), r"image_size=30.*multiple of 4"),
        (lambda: classic_generator(channels=2), r"channels=2 is not allowed; use one of 1, 3, 4"),
        (lambda: classic_generator(latent_dim=0), r"latent_dim=0 must be a positive integer"),
        (lambda: classic_generator(filters=2), r"filters=2 must be at least 4"),
        (lambda: classic_discriminator(dropout_rate=1.0), r"dropout_rate=1.0 is outside the allowed range"),
        (lambda: classic_discriminator(image_size=0), r"image_size=0.*at least 8"),
        (lambda: to_ganlib(_fake_sprites(1)[..., :3], rgb=True), r"images has 3 channels; rgb=True needs RGBA"),
        (lambda: to_ganlib(_fake_sprites(1) * 2 - 1), r"\[-1, 1\].*expected.*\[0, 1\]"),
        (lambda: from_ganlib(_fake_sprites(1) * 3), r"expected.*\[-1, 1\]"),
        (lambda: from_ganlib(np.zeros((8, 8, 4))), r"shape \(8, 8, 4\); expected a batch"),
        (lambda: ClassicGAN(_fake_sprites() * 2 - 1, **SMALL), r"expected.*\[0, 1\]"),
        (lambda: ClassicGAN(np.zeros((4, 8, 12, 4)), **SMALL), r"8x12; the classic model needs square"),
        (lambda: ClassicGAN(_fake_sprites(), batch_size=0, **SMALL), r"batch_size=0 must be a positive integer"),
        (lambda: ClassicGAN(_fake_sprites(), d_steps=1.5, **SMALL), r"d_steps=1.5 must be a positive integer"),
        (lambda: ClassicGAN(_fake_sprites(), pretrain_iterations=-1, **SMALL),
         r"pretrain_iterations=-1 must be an integer >= 0"),
        (lambda: ClassicGAN(_fake_sprites(), retrain_threshold=-1, **SMALL), r"retrain_threshold=-1"),
        (lambda: ClassicGAN(_fake_sprites(), g_learning_rate=0, **SMALL), r"g_learning_rate=0 must be a positive"),
        (lambda: ClassicGAN(_fake_sprites(), generator=classic_generator(image_size=12, **SMALL), **SMALL),
         r"generator makes images of shape \(12, 12, 4\)"),
        (lambda: _small_gan().train(iterations=0), r"iterations=0 must be a positive integer"),
        (lambda: _small_gan().train(iterations=1, report_every=-2), r"report_every=-2 must be a positive integer"),
    ],
)
def test_bad_input_is_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_diagnostics_measure_without_changing_the_networks():
    gan = _small_gan()
    gan.train(iterations=1, report_every=5, verbose=False)
    moving = [w.numpy().copy() for w in gan.generator.non_trainable_weights]
    report = gan.diagnostics(32)
    assert all(np.array_equal(a, b.numpy()) for a, b in zip(moving, gan.generator.non_trainable_weights))
    assert 0.0 <= report["d_real_to_fakes_inference"] <= 1.0 and 0.0 <= report["d_real_to_fakes_training"] <= 1.0
    # After one generator step the moving averages still lag: the two kinds of fakes differ.
    assert report["pixel_gap"] > 0.0
    assert report["features"] == 2 * 2 * 2 and 0 <= report["dead_features"] <= report["features"]
    assert report["d_steps"] == 2 + 3 and report["g_steps"] == 1
    assert len(gan.history["iteration_seconds"]) == 1 and gan.history["pretrain_seconds"] > 0


def test_dead_features_are_counted():
    gan = _small_gan()
    conv3 = gan.discriminator.get_layer("conv3")
    kernel, bias = conv3.get_weights()
    conv3.set_weights([np.zeros_like(kernel), np.full_like(bias, -1.0)])  # ReLU(-1) = 0 everywhere
    assert gan.diagnostics(8)["dead_features"] == 8
    conv3.set_weights([np.zeros_like(kernel), np.full_like(bias, 1.0)])
    assert gan.diagnostics(8)["dead_features"] == 0
