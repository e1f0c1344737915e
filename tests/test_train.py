"""Tests of ganlib.train.GAN (the DCGAN training step) and its data checks."""
import math
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from ganlib import models
from ganlib.train import GAN, check_training_data, discriminator_loss, generator_loss

LATENT_DIM = 8


def tiny_gan(augment=None, **options):
    keras.utils.set_random_seed(0)
    generator = models.dcgan_generator(LATENT_DIM, 16, 1, width=4)
    discriminator = models.dcgan_discriminator(16, 1, width=4)
    gan = GAN(generator, discriminator, LATENT_DIM, seed=0, augment=augment, **options)
    gan.compile()
    return gan


def images(count=16, size=16, channels=1, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (count, size, size, channels)).astype(np.float32)


def batches(array, batch_size=8):
    return tf.data.Dataset.from_tensor_slices(array).batch(batch_size)


def test_losses_at_known_values():
    zero = tf.zeros((4, 1))
    # D(x) = D(G(z)) = 1/2: each cross-entropy term is log 2.
    assert float(discriminator_loss(zero, zero)) == pytest.approx(2 * math.log(2), rel=1e-6)
    assert float(generator_loss(zero)) == pytest.approx(math.log(2), rel=1e-6)
    assert float(generator_loss(zero, "saturating")) == pytest.approx(-math.log(2), rel=1e-6)
    # One-sided label smoothing 0.1 at logit 0 does not change the loss (both targets give log 2)
    # but at a confident real logit it adds 0.1 * softplus(l).
    assert float(discriminator_loss(tf.fill((1, 1), 5.0), tf.fill((1, 1), -5.0), 0.1)) == pytest.approx(
        0.9 * math.log1p(math.exp(-5)) + 0.1 * math.log1p(math.exp(5)) + math.log1p(math.exp(-5)), rel=1e-5
    )


def test_compile_defaults_follow_radford_et_al():
    gan = tiny_gan()
    for optimizer in (gan.d_optimizer, gan.g_optimizer):
        assert isinstance(optimizer, keras.optimizers.Adam)
        assert float(optimizer.learning_rate.numpy()) == pytest.approx(2e-4)
        assert float(optimizer.beta_1) == pytest.approx(0.5)
    assert gan.optimizer is None  # Keras' single optimizer would be unused: none is built


def test_one_fit_step_trains_both_networks_and_reports_metrics():
    gan = tiny_gan()
    before_g = [w.numpy().copy() for w in gan.generator.trainable_weights]
    before_d = [w.numpy().copy() for w in gan.discriminator.trainable_weights]
    logs = gan.fit(batches(images(8)), epochs=1, verbose=0).history
    assert set(logs) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert all(not np.allclose(b, w.numpy()) for b, w in zip(before_g, gan.generator.trainable_weights))
    assert all(not np.allclose(b, w.numpy()) for b, w in zip(before_d, gan.discriminator.trainable_weights))
    # At N(0, 0.02) initialisation D outputs about 1/2 for everything: losses near log 2.
    assert logs["d_loss"][0] == pytest.approx(2 * math.log(2), abs=0.15)
    assert logs["g_loss"][0] == pytest.approx(math.log(2), abs=0.1)
    assert 0.3 < logs["d_real"][0] < 0.7 and 0.3 < logs["d_fake"][0] < 0.7
    assert int(gan.d_optimizer.iterations.numpy()) == 1 and int(gan.g_optimizer.iterations.numpy()) == 1


def test_d_steps_makes_k_discriminator_updates_each_on_its_own_real_batch():
    # Algorithm 1 of Goodfellow et al. 2014: k updates of D, each on a fresh minibatch, then G.
    gan = tiny_gan(d_steps=3)
    gan.fit(batches(images(56)), epochs=1, verbose=0)  # 7 batches of 8
    assert int(gan.d_optimizer.iterations.numpy()) == 7 and int(gan.g_optimizer.iterations.numpy()) == 2

    class Recording(GAN):
        def discriminator_step(self, real):
            seen.append(real.numpy().copy())
            return super().discriminator_step(real)

    seen = []
    gan = Recording(gan.generator, gan.discriminator, LATENT_DIM, d_steps=3, seed=0)
    gan.compile(run_eagerly=True)
    gan.fit(batches(images(24, seed=3)), epochs=1, verbose=0)
    assert len(seen) == 3 and not np.array_equal(seen[0], seen[1]) and not np.array_equal(seen[1], seen[2])
    np.testing.assert_array_equal(np.concatenate(seen), images(24, seed=3))
    assert int(gan.d_optimizer.iterations.numpy()) == 3 and int(gan.g_optimizer.iterations.numpy()) == 1


def test_discriminator_learns_to_separate_a_fixed_real_batch():
    # Real images all -0.8, and the generator frozen (learning rate 0): D must learn to tell
    # them from the generator's near-zero images, so D(x) rises and D(G(z)) falls.
    keras.utils.set_random_seed(0)
    generator = models.dcgan_generator(LATENT_DIM, 16, 1, width=4)
    discriminator = models.dcgan_discriminator(16, 1, width=4)
    gan = GAN(generator, discriminator, LATENT_DIM, seed=0)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5), g_optimizer=keras.optimizers.SGD(0.0))
    real = np.full((64, 16, 16, 1), -0.8, np.float32)
    history = gan.fit(batches(real, 16), epochs=10, verbose=0).history
    assert history["d_real"][-1] > 0.8 and history["d_fake"][-1] < 0.2
    assert history["d_loss"][-1] < 0.5 * history["d_loss"][0]


def test_augment_is_applied_to_everything_d_sees():
    # An augmentation that blanks every image: D sees only zeros, so D(x) == D(G(z)), and
    # no gradient reaches G through it, so G's trainable weights stay put.
    gan = tiny_gan(augment=lambda batch: batch * 0.0)
    before_g = [w.numpy().copy() for w in gan.generator.trainable_weights]
    logs = gan.fit(batches(images(8)), epochs=1, verbose=0).history
    assert logs["d_real"][0] == pytest.approx(logs["d_fake"][0], abs=1e-6)
    for before, weight in zip(before_g, gan.generator.trainable_weights):
        np.testing.assert_array_equal(before, weight.numpy())
    # Without the augmentation the two differ.
    logs = tiny_gan().fit(batches(images(8)), epochs=1, verbose=0).history
    assert abs(logs["d_real"][0] - logs["d_fake"][0]) > 1e-4


def test_augment_works_with_diffaugment():
    augment_module = pytest.importorskip("ganlib.augment")
    gan = tiny_gan(augment=augment_module.DiffAugment(seed=0))
    logs = gan.fit(batches(images(8)), epochs=1, verbose=0).history
    assert all(np.isfinite(value[0]) for value in logs.values())


def test_call_returns_generated_images():
    gan = tiny_gan()
    z = np.zeros((3, LATENT_DIM), np.float32)
    np.testing.assert_allclose(gan(z).numpy(), gan.generator(z).numpy())


def test_data_matching_the_model_passes():
    batch = check_training_data(batches(images(8)), (16, 16, 1))
    assert batch.shape == (8, 16, 16, 1)
    # (image, label) data sets and in-memory arrays are accepted too.
    labelled = tf.data.Dataset.from_tensor_slices((images(8), np.zeros(8))).batch(4)
    assert check_training_data(labelled, (16, 16, 1)).shape == (4, 16, 16, 1)
    assert check_training_data(images(8), (16, 16, 1)).shape == (8, 16, 16, 1)


@pytest.mark.parametrize(
    "data, message",
    [
        (batches(images(8, size=32)), r"examples of shape \(32, 32, 1\) but the discriminator expects \(16, 16, 1\)"),
        (batches(images(8, channels=3)), r"examples of shape \(16, 16, 3\)"),
        (tf.data.Dataset.from_tensor_slices(images(8)), r"single examples of shape \(16, 16, 1\), not batches.*batch\(64\)"),
        (batches((images(8) + 1) * 127.5), r"images.*\[0.*255\].*\[-1, 1\].*x / 127.5 - 1"),
        (batches(images(8) * 1.5), r"values in \[-1.5, 1.5\]"),
        (batches(np.zeros((8, 16, 16, 1), np.int32)), r"dtype int32; expected float32.*or uint8"),  # uint8: accepted
        (batches(np.full((8, 16, 16, 1), np.nan, np.float32)), r"NaN or inf"),
        (batches(images(8)).take(0), r"the data set is empty"),
    ],
)
def test_bad_data_is_refused_before_training(data, message):
    gan = tiny_gan()
    with pytest.raises(ValueError, match=message):
        gan.fit(data, epochs=1, verbose=0)
    assert int(gan.g_optimizer.iterations.numpy()) == 0


def test_images_in_zero_one_give_a_warning():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_training_data(batches((images(8) + 1) / 2), (16, 16, 1))
    assert any("scaled to [0, 1] instead of [-1, 1]" in str(warning.message) for warning in caught)


def test_mismatched_networks_are_refused_at_fit():
    generator = models.dcgan_generator(LATENT_DIM, 32, 1, width=4)
    discriminator = models.dcgan_discriminator(16, 1, width=4)
    gan = GAN(generator, discriminator, LATENT_DIM)
    gan.compile()
    with pytest.raises(ValueError, match=r"generator makes examples of shape \(32, 32, 1\) but the discriminator takes \(16, 16, 1\)"):
        gan.fit(batches(images(8)), epochs=1, verbose=0)
    gan = GAN(models.dcgan_generator(4, 16, 1, width=4), discriminator, LATENT_DIM)
    gan.compile()
    with pytest.raises(ValueError, match=r"latent_dim=8 but the generator takes inputs of shape \(4,\)"):
        gan.fit(batches(images(8)), epochs=1, verbose=0)


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(latent_dim=0), r"latent_dim=0 must be a positive integer"),
        (dict(d_steps=0), r"d_steps=0 must be a positive integer"),
        (dict(d_steps=1.5), r"d_steps=1.5 must be a positive integer"),
        (dict(label_smoothing=0.5), r"label_smoothing=0.5 is outside the allowed range \[0.0, 0.5\)"),
        (dict(label_smoothing=-0.1), r"label_smoothing=-0.1 is outside"),
        (dict(generator_loss="minimax"), r"generator_loss='minimax' is not allowed; use one of 'non-saturating', 'saturating'"),
        (dict(augment="diffaugment"), r"augment='diffaugment' is not callable"),
    ],
)
def test_bad_arguments(options, message):
    arguments = dict(latent_dim=LATENT_DIM)
    arguments.update(options)
    with pytest.raises(ValueError, match=message):
        GAN(models.dcgan_generator(LATENT_DIM, 16, 1, width=4), models.dcgan_discriminator(16, 1, width=4),
            **arguments)
