"""Tests of ganlib.conditional (ConditionalGAN) and the conditional networks of ganlib.models."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from ganlib import conditional, models
from ganlib.conditional import ConditionalGAN, check_labels, cycling_labels, label_interpolation

N_CLASSES = 10
LATENT = 8


def assert_float32_close(actual, expected):
    """Equal to float32 rounding on the scale of the values: Keras and NumPy sum in different
    orders (and oneDNN picks kernels by CPU), so a value near 0 by cancellation may differ by
    more than any relative tolerance; each element may differ by 1e-5 of the largest."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape
    scale = max(np.abs(expected).max(), 1e-12)
    assert np.abs(actual - expected).max() <= 1e-5 * scale, (actual, expected)



def small_networks(conditioning, image_size=16, channels=1, normalization="spectral"):
    generator = models.conditional_dcgan_generator(LATENT, N_CLASSES, image_size, channels, width=4)
    discriminator = models.conditional_dcgan_discriminator(N_CLASSES, image_size, channels, width=4,
                                                           conditioning=conditioning,
                                                           normalization=normalization)
    return generator, discriminator


def labelled_batches(count=64, batch_size=16, image_size=16, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.uniform(-1, 1, (count, image_size, image_size, 1)).astype("float32")
    labels = rng.integers(0, N_CLASSES, count).astype("int32")
    return images, labels, tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size)


# --- networks ----------------------------------------------------------------------------

@pytest.mark.parametrize("image_size", [16, 32, 64])
@pytest.mark.parametrize("conditioning", models.CONDITIONINGS)
def test_shapes_every_size_and_conditioning(image_size, conditioning):
    generator, discriminator = small_networks(conditioning, image_size, channels=3)
    assert generator.output_shape == (None, image_size, image_size, 3)
    z = np.zeros((2, LATENT), "float32")
    labels = np.array([0, 9], "int32")
    images = keras.ops.convert_to_numpy(generator([z, labels]))
    assert images.shape == (2, image_size, image_size, 3)
    if conditioning == "acgan":
        logits, class_logits = discriminator(images)
        assert tuple(class_logits.shape) == (2, N_CLASSES)
    else:
        logits = discriminator([images, labels])
    assert tuple(logits.shape) == (2, 1)
    assert logits.dtype == "float32"


def test_generator_is_the_dcgan_generator_fed_z_and_the_one_hot_label():
    generator, _ = small_networks("projection")
    joined = keras.Model(generator.inputs, generator.get_layer("z_and_label").output)
    z = np.random.default_rng(0).normal(size=(3, LATENT)).astype("float32")
    labels = np.array([3, 0, 9], "int32")
    values = keras.ops.convert_to_numpy(joined([z, labels]))
    np.testing.assert_allclose(values[:, :LATENT], z)
    np.testing.assert_array_equal(values[:, LATENT:], np.eye(N_CLASSES)[labels])
    assert generator.get_layer("dcgan").input_shape == (None, LATENT + N_CLASSES)


def test_concat_discriminator_sees_the_label_as_constant_channels():
    _, discriminator = small_networks("concat")
    joined = keras.Model(discriminator.inputs, discriminator.get_layer("image_and_label").output)
    images = np.random.default_rng(0).uniform(-1, 1, (2, 16, 16, 1)).astype("float32")
    values = keras.ops.convert_to_numpy(joined([images, np.array([4, 7], "int32")]))
    assert values.shape == (2, 16, 16, 1 + N_CLASSES)
    np.testing.assert_allclose(values[..., 0], images[..., 0])
    for row, label in enumerate([4, 7]):
        np.testing.assert_array_equal(values[row, :, :, 1:], np.broadcast_to(np.eye(N_CLASSES)[label], (16, 16, N_CLASSES)))


def test_projection_term_is_the_inner_product_of_the_class_embedding_and_the_features():
    keras.utils.set_random_seed(1)
    _, discriminator = small_networks("projection", normalization=None)
    embedding = discriminator.get_layer("class_embedding")
    rng = np.random.default_rng(0)
    table = rng.normal(size=embedding.embeddings.shape).astype("float32")
    table[2] = 0.0  # a class whose embedding is zero: D(x, 2) is psi alone
    embedding.set_weights([table])
    parts = keras.Model(discriminator.inputs, [discriminator.get_layer("sum_features").output,
                                               discriminator.get_layer("psi").output,
                                               discriminator.get_layer("projection").output,
                                               discriminator.output])
    images = rng.uniform(-1, 1, (4, 16, 16, 1)).astype("float32")
    labels = np.array([0, 5, 9, 2], "int32")
    phi, psi, projection, logit = (keras.ops.convert_to_numpy(t) for t in parts([images, labels]))
    kernel, bias = discriminator.get_layer("psi").get_weights()
    # phi is the 4x4 feature map summed over positions (global sum pooling)
    feature_map = keras.ops.convert_to_numpy(discriminator.get_layer("features")(images))
    assert_float32_close(phi, feature_map.sum(axis=(1, 2)))
    assert_float32_close(psi[:, 0], phi @ kernel[:, 0] + bias[0])
    by_hand = np.sum(table[labels] * phi, axis=1)
    assert_float32_close(projection[:, 0], by_hand)
    assert_float32_close(logit[:, 0], psi[:, 0] + by_hand)
    assert projection[3, 0] == 0.0 and logit[3, 0] == pytest.approx(psi[3, 0])


def test_network_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="conditioning='label'.*'concat'.*'projection'.*'acgan'"):
        models.conditional_dcgan_discriminator(conditioning="label")
    with pytest.raises(ValueError, match="n_classes=1.*at least 2"):
        models.conditional_dcgan_generator(n_classes=1)
    with pytest.raises(ValueError, match="image_size=8.*16, 32, 64, 128"):
        models.conditional_dcgan_generator(image_size=8)
    with pytest.raises(ValueError, match="normalization='layer'"):
        models.conditional_dcgan_discriminator(normalization="layer")


# --- ConditionalGAN ------------------------------------------------------------------------

class LabelStamp(keras.layers.Layer):
    """Images whose every pixel is label / 10 (plus 0 * a weight, so there is a gradient)."""

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(), initializer="zeros", name="scale")

    def call(self, z, labels):
        value = tf.cast(labels, "float32")[:, None, None, None] / 10.0
        return tf.ones((tf.shape(z)[0], 16, 16, 1)) * value + self.scale * tf.reduce_mean(z)


def stamping_generator():
    z = keras.Input((LATENT,), name="z")
    label = keras.Input((), dtype="int32", name="label")
    return keras.Model([z, label], LabelStamp()(z, label), name="stamp")


class RecordingDiscriminator(keras.Model):
    """D([images, labels]) that records (label read from the image, label given)."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1)
        self.seen = []

    def call(self, inputs, training=False):
        images, labels = inputs
        read = np.rint(keras.ops.convert_to_numpy(images)[:, 0, 0, 0] * 10).astype(int)
        self.seen.append((read, keras.ops.convert_to_numpy(labels).astype(int)))
        return self.dense(keras.ops.reshape(images, (-1, 256)))


@pytest.mark.filterwarnings("ignore:the first batch of images has values")  # stamps in [0, 0.9]
def test_every_image_reaches_d_with_the_label_it_was_made_or_given_with():
    generator, discriminator = stamping_generator(), RecordingDiscriminator()
    discriminator([np.zeros((1, 16, 16, 1), "float32"), np.zeros((1,), "int32")])
    discriminator.seen.clear()
    gan = ConditionalGAN(generator, discriminator, LATENT, N_CLASSES, conditioning="projection", seed=0)
    gan.compile(run_eagerly=True)
    labels = np.arange(32) % N_CLASSES
    real = np.ones((32, 16, 16, 1), "float32") * (labels / 10.0)[:, None, None, None]
    gan.fit(real, labels.astype("int32"), batch_size=16, epochs=1, verbose=0)
    # 2 steps x (real + generated in the D step, generated in the G step)
    assert len(discriminator.seen) == 6
    drawn = []
    for read, given in discriminator.seen:
        np.testing.assert_array_equal(read, given)
        drawn.extend(given)
    assert len(set(drawn)) > 3  # generated labels vary (drawn at random)


def test_generate_and_call_give_the_asked_for_labels():
    gan = ConditionalGAN(stamping_generator(), RecordingDiscriminator(), LATENT, N_CLASSES)
    asked = [3, 7, 0, 9, 9]
    images = gan.generate(asked, seed=1)
    assert images.shape == (5, 16, 16, 1)
    np.testing.assert_array_equal(np.rint(images[:, 0, 0, 0] * 10), asked)
    z = np.zeros((12, LATENT), "float32")
    cycled = keras.ops.convert_to_numpy(gan(z))
    np.testing.assert_array_equal(np.rint(cycled[:, 0, 0, 0] * 10), cycling_labels(12, N_CLASSES))
    np.testing.assert_array_equal(cycling_labels(12, N_CLASSES), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1])
    paired = keras.ops.convert_to_numpy(gan((z[:2], np.array([5, 6]))))
    np.testing.assert_array_equal(np.rint(paired[:, 0, 0, 0] * 10), [5, 6])


def test_generated_labels_are_uniform_over_the_classes():
    generator, discriminator = small_networks("projection")
    gan = ConditionalGAN(generator, discriminator, LATENT, N_CLASSES, seed=3)
    counts = np.bincount(keras.ops.convert_to_numpy(gan.sample_labels(20_000)), minlength=N_CLASSES)
    assert counts.sum() == 20_000 and len(counts) == N_CLASSES
    # binomial(20000, 0.1): standard deviation 42; 5 of them
    assert np.all(np.abs(counts - 2000) < 5 * 42), counts


@pytest.mark.parametrize("conditioning", models.CONDITIONINGS)
def test_one_fit_changes_both_networks_and_reports_its_metrics(conditioning):
    keras.utils.set_random_seed(0)
    generator, discriminator = small_networks(conditioning)
    gan = ConditionalGAN(generator, discriminator, LATENT, N_CLASSES, conditioning=conditioning,
                         loss="hinge", ema_decay=0.9, seed=0)
    gan.compile()
    g_before = [w.copy() for w in generator.get_weights()]
    d_before = [w.copy() for w in discriminator.get_weights()]
    _, _, batches = labelled_batches()
    history = gan.fit(batches, epochs=1, verbose=0).history
    assert any(not np.allclose(a, b) for a, b in zip(g_before, generator.get_weights()))
    assert any(not np.allclose(a, b) for a, b in zip(d_before, discriminator.get_weights()))
    expected = {"d_loss", "g_loss", "d_real", "d_fake"}
    if conditioning == "acgan":
        expected |= {"class_loss", "class_accuracy"}
        assert 0.0 <= history["class_accuracy"][-1] <= 1.0
        assert history["class_loss"][-1] > 0
    assert set(history) == expected
    assert all(np.isfinite(values[-1]) for values in history.values())
    assert gan.sampling_generator is gan.ema_generator
    assert gan.generate([1, 2]).shape == (2, 16, 16, 1)


def test_acgan_class_loss_is_the_cross_entropy_of_both_halves():
    keras.utils.set_random_seed(0)
    generator, discriminator = small_networks("acgan")
    gan = ConditionalGAN(generator, discriminator, LATENT, N_CLASSES, conditioning="acgan")
    logits = np.array([[2.0, 0.0, -1.0] + [0.0] * 7], "float32")
    expected = np.log(np.exp(logits).sum()) - 2.0
    assert float(conditional._cross_entropy(np.array([0]), logits)) == pytest.approx(expected, rel=1e-6)
    assert gan.class_weight == 1.0  # Odena et al. 2017 weight both log-likelihoods equally


def test_checkpoint_round_trip(tmp_path):
    from ganlib.callbacks import TrainingState, load_checkpoint, save_checkpoint

    keras.utils.set_random_seed(0)
    generator, discriminator = small_networks("projection")
    gan = ConditionalGAN(generator, discriminator, LATENT, N_CLASSES, ema_decay=0.9, seed=0)
    gan.compile()
    _, _, batches = labelled_batches(32)
    gan.fit(batches, epochs=1, verbose=0)
    state = TrainingState(fixed_noise=np.zeros((4, LATENT)))
    state.step = 2
    save_checkpoint(gan, tmp_path / "ckpt-2.npz", state)
    expected = gan.generate([1, 2, 3])
    generator2, discriminator2 = small_networks("projection")
    other = ConditionalGAN(generator2, discriminator2, LATENT, N_CLASSES, ema_decay=0.9, seed=0)
    other.compile()
    load_checkpoint(other, tmp_path / "ckpt-2.npz")
    np.testing.assert_allclose(other.generate([1, 2, 3]), expected, atol=1e-6)


# --- bad input ------------------------------------------------------------------------------

def test_labels_out_of_range_are_a_value_error_naming_labels_and_the_range():
    generator, discriminator = small_networks("projection")
    gan = ConditionalGAN(generator, discriminator, LATENT, N_CLASSES)
    gan.compile()
    with pytest.raises(ValueError, match=r"labels contains 10.*0 to 9"):
        gan.generate([1, 10])
    with pytest.raises(ValueError, match=r"labels contains -1.*0 to 9"):
        gan.generate([-1])
    images, labels, _ = labelled_batches(32)
    with pytest.raises(ValueError, match=r"labels contains 10, 11, 12.*0 to 9"):
        gan.fit(images, labels + 3, batch_size=16, epochs=1, verbose=0)
    bad = tf.data.Dataset.from_tensor_slices((images, labels + 12)).batch(16)
    with pytest.raises(ValueError, match=r"labels contains .*0 to 9"):
        gan.fit(bad, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="labels must be integer class ids 0 to 9"):
        check_labels([0.5, 1.0], N_CLASSES)
    np.testing.assert_array_equal(check_labels(np.array([[3.0], [4.0]]), N_CLASSES), [3, 4])


def test_images_without_labels_are_refused():
    generator, discriminator = small_networks("projection")
    gan = ConditionalGAN(generator, discriminator, LATENT, N_CLASSES)
    gan.compile()
    images, _, _ = labelled_batches(32)
    with pytest.raises(ValueError, match="labels"):
        gan.fit(tf.data.Dataset.from_tensor_slices(images).batch(16), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="labels are missing"):
        gan.fit(images, batch_size=16, epochs=1, verbose=0)


def test_constructor_checks_name_the_argument():
    generator, projection_d = small_networks("projection")
    _, acgan_d = small_networks("acgan")
    with pytest.raises(ValueError, match="conditioning='projection'.*\\[logit, class_logits\\]|conditioning='projection'"):
        ConditionalGAN(generator, acgan_d, LATENT, N_CLASSES, conditioning="projection")
    with pytest.raises(ValueError, match="conditioning='acgan'"):
        ConditionalGAN(generator, projection_d, LATENT, N_CLASSES, conditioning="acgan")
    with pytest.raises(ValueError, match="conditioning='film'"):
        ConditionalGAN(generator, projection_d, LATENT, N_CLASSES, conditioning="film")
    with pytest.raises(ValueError, match="n_classes=1"):
        ConditionalGAN(generator, projection_d, LATENT, 1)
    with pytest.raises(ValueError, match="latent_dim=9.*latent_dim=8"):
        ConditionalGAN(generator, projection_d, 9, N_CLASSES)
    with pytest.raises(ValueError, match="loss='wasserstein'"):
        ConditionalGAN(generator, projection_d, LATENT, N_CLASSES, loss="wasserstein")
    with pytest.raises(ValueError, match="class_weight=-1"):
        ConditionalGAN(generator, acgan_d, LATENT, N_CLASSES, conditioning="acgan", class_weight=-1)
    unconditional = models.dcgan_generator(LATENT, 16, 1, width=4)
    with pytest.raises(ValueError, match="takes 1 input.*\\[z, label\\]"):
        ConditionalGAN(unconditional, projection_d, LATENT, N_CLASSES)


def test_label_interpolation_ends_are_the_two_classes():
    keras.utils.set_random_seed(0)
    generator, _ = small_networks("projection")
    z = np.random.default_rng(0).normal(size=LATENT).astype("float32")
    frames = label_interpolation(generator, z, 3, 8, steps=5)
    assert frames.shape == (5, 16, 16, 1)
    for frame, label in ((frames[0], 3), (frames[-1], 8)):
        direct = keras.ops.convert_to_numpy(generator([z[None], np.array([label], "int32")], training=False))
        np.testing.assert_allclose(frame, direct[0], atol=1e-5)
    assert not np.allclose(frames[0], frames[2])
    with pytest.raises(ValueError, match=r"start, end contains 10.*0 to 9"):
        label_interpolation(generator, z, 3, 10)
    with pytest.raises(ValueError, match="steps=1"):
        label_interpolation(generator, z, 3, 4, steps=1)
    with pytest.raises(ValueError, match="conditional_dcgan_generator"):
        label_interpolation(models.dcgan_generator(LATENT, 16, 1, width=4), z, 3, 4)
