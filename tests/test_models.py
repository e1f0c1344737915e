"""Tests of ganlib.models: shapes, parameter counts, initialisation, layers, bad input."""
import keras
import numpy as np
import pytest

from ganlib import models


@pytest.mark.parametrize("image_size", [16, 32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_shapes_every_size_and_channel_count(image_size, channels):
    generator = models.dcgan_generator(8, image_size, channels, width=4)
    discriminator = models.dcgan_discriminator(image_size, channels, width=4)
    critic = models.wgan_critic(image_size, channels, width=4)
    assert generator.output_shape == (None, image_size, image_size, channels)
    assert discriminator.input_shape == (None, image_size, image_size, channels)
    assert discriminator.output_shape == (None, 1)
    assert critic.output_shape == (None, 1)
    images = generator(np.zeros((2, 8), "float32"))
    assert tuple(images.shape) == (2, image_size, image_size, channels)
    assert tuple(discriminator(images).shape) == (2, 1)


def test_parameter_counts_of_the_paper_sized_networks():
    # Radford et al.'s 64x64 networks (ngf = ndf = 64, z = 100). PyTorch's DCGAN tutorial
    # prints 3,576,704 and 2,765,568 trainable weights; ours differ only by the biases of
    # the layers without batch norm: G's output (3) and D's first (64) and last (1) layers.
    generator = models.dcgan_generator()
    discriminator = models.dcgan_discriminator()
    trainable = lambda model: sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable(generator) == 3_576_704 + 3
    assert trainable(discriminator) == 2_765_568 + 64 + 1
    # Channel widths halve towards the output: 512 at 4x4 down to 64 at 32x32.
    assert generator.get_layer("reshape").output.shape[1:] == (4, 4, 512)
    assert generator.get_layer("up3").output.shape[1:] == (32, 32, 64)
    assert discriminator.get_layer("down4").output.shape[1:] == (4, 4, 512)


def test_initialisation_is_normal_with_std_002():
    keras.utils.set_random_seed(0)
    generator = models.dcgan_generator(image_size=32, width=32)
    kernel = generator.get_layer("up1").kernel.numpy()
    assert abs(kernel.mean()) < 0.002
    assert kernel.std() == pytest.approx(0.02, rel=0.05)
    gamma = generator.get_layer("project_bn").gamma.numpy()
    assert gamma.mean() == pytest.approx(1.0, abs=0.01)
    assert gamma.std() == pytest.approx(0.02, rel=0.3)


def test_layer_choices_follow_radford_et_al():
    generator = models.dcgan_generator(image_size=32, width=8)
    discriminator = models.dcgan_discriminator(image_size=32, width=8)
    g_layers = [type(layer).__name__ for layer in generator.layers]
    d_layers = [type(layer).__name__ for layer in discriminator.layers]
    # G: ReLU inside, tanh at the end, no batch norm after the output layer.
    assert "ReLU" in g_layers and "LeakyReLU" not in g_layers
    assert generator.layers[-1].get_config()["activation"] == "tanh"
    assert g_layers[-2] == "Conv2DTranspose"
    # D: LeakyReLU(0.2), no batch norm on the input layer, batch norm on the others.
    assert d_layers[1:3] == ["Conv2D", "LeakyReLU"]
    assert "BatchNormalization" in d_layers
    slopes = {layer.negative_slope for layer in discriminator.layers if type(layer).__name__ == "LeakyReLU"}
    assert slopes == {0.2}


def test_generator_output_lies_in_minus_one_one():
    generator = models.dcgan_generator(4, 16, 3, width=4)
    images = generator(np.random.default_rng(0).normal(0, 50, (8, 4)).astype("float32")).numpy()
    assert images.min() >= -1.0 and images.max() <= 1.0


def test_critic_has_no_batch_norm():
    for normalization in ("layer", None):
        critic = models.wgan_critic(32, 3, width=8, normalization=normalization)
        kinds = {type(layer).__name__ for layer in critic.layers}
        assert "BatchNormalization" not in kinds
        assert ("GroupNormalization" in kinds) == (normalization == "layer")


def test_critic_is_per_example():
    # Without batch norm an example's score does not depend on the rest of the batch.
    critic = models.wgan_critic(16, 1, width=4)
    batch = np.random.default_rng(1).uniform(-1, 1, (4, 16, 16, 1)).astype("float32")
    together = critic(batch, training=True).numpy()
    alone = critic(batch[:1], training=True).numpy()
    np.testing.assert_allclose(together[:1], alone, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("image_size", [8, 24, 100, 256, 64.0, "64", True])
def test_bad_image_size(image_size):
    for build in (lambda: models.dcgan_generator(image_size=image_size),
                  lambda: models.dcgan_discriminator(image_size=image_size),
                  lambda: models.wgan_critic(image_size=image_size)):
        with pytest.raises(ValueError, match=r"image_size=.*power of two from 16 to 128"):
            build()


@pytest.mark.parametrize("channels", [0, 2, 5, 3.0])
def test_bad_channels(channels):
    for build in (lambda: models.dcgan_generator(channels=channels),
                  lambda: models.dcgan_discriminator(channels=channels),
                  lambda: models.wgan_critic(channels=channels)):
        with pytest.raises(ValueError, match=r"channels=.*1 \(grey\), 3 \(RGB\) or 4 \(RGBA\)"):
            build()


@pytest.mark.parametrize("latent_dim", [0, -3, 2.5, None])
def test_bad_latent_dim(latent_dim):
    with pytest.raises(ValueError, match=r"latent_dim=.*positive integer"):
        models.dcgan_generator(latent_dim=latent_dim)


@pytest.mark.parametrize("width", [0, -1, 8.5])
def test_bad_width(width):
    with pytest.raises(ValueError, match=r"width=.*positive integer"):
        models.dcgan_discriminator(width=width)


def test_bad_critic_normalization():
    with pytest.raises(ValueError, match=r"normalization='batch' is not allowed"):
        models.wgan_critic(normalization="batch")


# ------------------------------------------------------- MirrorSymmetric (lesson 03's prior)
@pytest.mark.parametrize("width", [4, 5])
def test_mirror_keeps_the_left_half_and_mirrors_it(width):
    images = np.arange(2 * 3 * width * 2, dtype=np.float32).reshape(2, 3, width, 2)
    out = keras.ops.convert_to_numpy(models.MirrorSymmetric()(images))
    half = (width + 1) // 2
    np.testing.assert_array_equal(out[:, :, :half], images[:, :, :half])   # left half untouched
    np.testing.assert_array_equal(out, out[:, :, ::-1])                    # symmetric
    assert out.shape == images.shape


def test_mirrored_generator_draws_symmetric_images_and_survives_a_save(tmp_path):
    keras.utils.set_random_seed(0)
    generator = models.dcgan_generator(8, 16, 3, width=4, mirror=True)
    plain = models.dcgan_generator(8, 16, 3, width=4)
    assert generator.count_params() == plain.count_params()  # a prior, no new weights
    z = np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32)
    images = keras.ops.convert_to_numpy(generator(z, training=False))
    assert images.std() > 1e-4  # not a flat image, which would be symmetric anyway
    np.testing.assert_array_equal(images, images[:, :, ::-1])
    assert np.abs(images[:, :, :8] - images[:, :, 8:][:, :, ::-1]).max() == 0
    path = str(tmp_path / "g.keras")
    generator.save(path)
    loaded = keras.models.load_model(path, compile=False)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(z, training=False)), images, atol=1e-6)


def test_bad_mirror_is_named():
    with pytest.raises(ValueError, match=r"mirror=.*True or False"):
        models.dcgan_generator(8, 16, 3, width=4, mirror="yes")
