"""The post-DCGAN pieces of ganlib.train and ganlib.models: hinge loss, R1, the running
average of the generator (EMA), spectral normalisation, two learning rates."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from ganlib import models
from ganlib.train import (GAN, dcgan_adam, generator_loss, hinge_discriminator_loss, r1_penalty,
                          updates_done)

LATENT_DIM = 3


def linear(inputs, seed=0):
    model = keras.Sequential([keras.Input((inputs,)), keras.layers.Dense(1)])
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(size=(inputs, 1)).astype(np.float32), np.array([0.3], np.float32)])
    return model


def small_gan(**options):
    keras.utils.set_random_seed(0)
    generator = keras.Sequential([keras.Input((LATENT_DIM,)), keras.layers.Dense(8, activation="tanh"),
                                  keras.layers.Dense(2)])
    gan = GAN(generator, linear(2), LATENT_DIM, seed=0, **options)
    gan.compile(d_optimizer=keras.optimizers.SGD(0.1), g_optimizer=keras.optimizers.SGD(0.1))
    return gan


def data(count=32, seed=0):
    points = np.random.default_rng(seed).normal(2.0, 0.5, (count, 2)).astype(np.float32)
    return tf.data.Dataset.from_tensor_slices(points).batch(8)


def test_hinge_losses_at_known_values():
    real = tf.constant([[2.0], [0.5], [-1.0]])
    fake = tf.constant([[-2.0], [0.0], [1.0]])
    # relu(1 - real) = 0, 0.5, 2 -> mean 5/6; relu(1 + fake) = 0, 1, 2 -> mean 1
    assert float(hinge_discriminator_loss(real, fake)) == pytest.approx(5 / 6 + 1, rel=1e-6)
    assert float(generator_loss(fake, "hinge")) == pytest.approx(1 / 3, rel=1e-6)


def test_r1_of_a_linear_discriminator_is_its_squared_weight_norm():
    model = linear(5, seed=3)
    points = np.random.default_rng(1).normal(size=(7, 5)).astype(np.float32)
    expected = float(np.sum(model.get_weights()[0] ** 2))
    assert float(r1_penalty(model, points)) == pytest.approx(expected, rel=1e-5)
    # through an augmentation that doubles the input, the gradient doubles: 4x the penalty
    assert float(r1_penalty(model, points, augment=lambda x: 2.0 * x)) == pytest.approx(4 * expected, rel=1e-5)


def test_gan_adds_gamma_over_two_times_r1_to_the_discriminator_loss():
    plain, penalised = small_gan(), small_gan(r1_weight=4.0)
    batch = next(iter(data()))
    plain_metrics = plain.discriminator_step(batch)
    penalised_metrics = penalised.discriminator_step(batch)
    r1 = float(np.sum(linear(2).get_weights()[0] ** 2))
    assert float(penalised_metrics["r1"]) == pytest.approx(r1, rel=1e-5)
    assert float(penalised_metrics["d_loss"]) == pytest.approx(float(plain_metrics["d_loss"]) + 2.0 * r1, rel=1e-5)


def test_lazy_r1_is_computed_on_every_nth_update_and_scaled_by_n():
    gan = small_gan(r1_weight=2.0, r1_every=3)
    batch = next(iter(data()))
    values = [float(gan.discriminator_step(batch)["r1"]) for _ in range(6)]
    # updates 0 and 3 (counted before the update) compute it; the others add nothing
    assert values[0] > 0 and values[3] > 0
    assert values[1] == values[2] == values[4] == values[5] == 0.0
    assert int(updates_done(gan.d_optimizer)) == 6


def test_average_of_the_generator_follows_the_hand_computed_formula():
    gan = small_gan(ema_decay=0.9)
    average = [w.copy() for w in gan.generator.get_weights()]
    np.testing.assert_array_equal(gan.ema_generator.get_weights()[0], average[0])
    for step, batch in enumerate(data(count=40)):
        gan.train_step(batch)
        t = step + 1  # generator updates done
        decay = min(0.9, (1 + t) / (10 + t))
        average = [decay * a + (1 - decay) * w for a, w in zip(average, gan.generator.get_weights())]
    for got, expected in zip(gan.ema_generator.get_weights(), average):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(gan.ema_generator.get_weights()[0], gan.generator.get_weights()[0])
    # sampling uses the average
    z = np.ones((2, LATENT_DIM), np.float32)
    np.testing.assert_allclose(gan(z), gan.ema_generator(z), rtol=1e-6)
    assert gan.sampling_generator is gan.ema_generator


def test_average_copies_batch_norm_statistics_and_trains_with_fit():
    keras.utils.set_random_seed(0)
    generator = models.dcgan_generator(8, 16, 1, width=4)
    discriminator = models.dcgan_discriminator(16, 1, width=4, normalization="spectral")
    gan = GAN(generator, discriminator, 8, seed=0, loss="hinge", ema_decay=0.999, r1_weight=1.0, r1_every=2)
    gan.compile(d_optimizer=dcgan_adam(4e-4), g_optimizer=dcgan_adam(1e-4))  # two learning rates
    images = np.random.default_rng(0).uniform(-1, 1, (32, 16, 16, 1)).astype(np.float32)
    logs = gan.fit(tf.data.Dataset.from_tensor_slices(images).batch(8), epochs=1, verbose=0).history
    assert set(logs) == {"d_loss", "g_loss", "d_real", "d_fake", "r1"}
    assert all(np.isfinite(values).all() for values in logs.values())
    pairs = [(a, w) for a, w in zip(gan.ema_generator.weights, generator.weights) if "moving_mean" in w.path]
    assert pairs and np.abs(pairs[0][1].numpy()).max() > 0
    for average, weight in pairs:  # running statistics are copied, not averaged
        np.testing.assert_array_equal(average.numpy(), weight.numpy())
    assert float(gan.d_optimizer.learning_rate.numpy()) == pytest.approx(4e-4)
    assert float(gan.g_optimizer.learning_rate.numpy()) == pytest.approx(1e-4)


def test_spectral_normalisation_keeps_each_kernel_at_singular_value_one():
    keras.utils.set_random_seed(1)
    discriminator = models.dcgan_discriminator(16, 3, width=8, normalization="spectral")
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in discriminator.layers)
    images = np.random.default_rng(0).uniform(-1, 1, (4, 16, 16, 3)).astype(np.float32)
    for _ in range(30):  # one power iteration per training call
        discriminator(images, training=True)
    wrapped = [layer for layer in discriminator.layers if isinstance(layer, keras.layers.SpectralNormalization)]
    assert len(wrapped) == 3  # two downsampling convolutions and the head at 16x16
    for layer in wrapped:
        kernel = layer.layer.kernel.numpy()
        largest = np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]
        assert largest == pytest.approx(1.0, abs=0.02), layer.name


@pytest.mark.parametrize("options, words", [
    (dict(loss="wasserstein"), ["loss", "'bce'", "'hinge'"]),
    (dict(r1_weight=-1.0), ["r1_weight", ">= 0"]),
    (dict(r1_every=0), ["r1_every", "positive integer"]),
    (dict(ema_decay=1.0), ["ema_decay", "[0.0, 1.0)"]),
    (dict(loss="hinge", label_smoothing=0.1), ["loss='hinge'", "label_smoothing"]),
    (dict(loss="hinge", generator_loss="saturating"), ["loss='hinge'", "generator_loss"]),
])
def test_bad_toolkit_arguments_are_named(options, words):
    with pytest.raises(ValueError) as error:
        small_gan(**options)
    for word in words:
        assert word in str(error.value)


def test_bad_discriminator_normalization_is_named():
    with pytest.raises(ValueError) as error:
        models.dcgan_discriminator(16, 1, width=4, normalization="instance")
    for word in ("normalization", "'batch'", "'spectral'"):
        assert word in str(error.value)
