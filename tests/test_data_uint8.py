"""uint8 batches (issue 15): ``pipeline(dtype='uint8')`` hands ``fit`` the pixels as uint8 (a
quarter of the bytes of float32) in the same order as the float32 pipeline, and the train step
converts them to exactly the float32 values, so training gives the same losses (also resumed).
"""
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import ganlib.data as gd
from ganlib import models
from ganlib.conditional import ConditionalGAN
from ganlib.data.labelled import LabelledImages
from ganlib.train import GAN, WGANGP, check_training_data, fit_gan, images_to_float
from train_support import KillAt


def _pngs(folder, count=24, size=16, seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for index in range(count):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / f"{index:03d}.png")
    return folder


@pytest.fixture
def deterministic():
    from tensorflow.python.framework import config as tf_config

    tf.config.experimental.enable_op_determinism()
    yield
    getattr(tf_config, "disable_op_determinism", lambda: None)()


def _epochs(dataset, count=2):
    iterator = iter(dataset.repeat())
    return [np.asarray(next(iterator)) for _ in range(count)]


# --- the pipeline ------------------------------------------------------------------------

@pytest.mark.parametrize("in_memory", [True, False])
def test_uint8_pipeline_gives_the_float32_pipelines_images_in_the_same_order(tmp_path, in_memory):
    images = gd.load_folder(_pngs(tmp_path / "set"), 16, in_memory=in_memory, verbose=False)
    assert images.in_memory == in_memory
    floats = images.pipeline(batch_size=8, seed=3)
    pixels = images.pipeline(batch_size=8, seed=3, dtype="uint8")
    assert pixels.element_spec == tf.TensorSpec((8, 16, 16, 3), tf.uint8)
    assert int(pixels.cardinality()) == int(floats.cardinality()) == 3
    got, want = _epochs(pixels, 9), _epochs(floats, 9)  # three epochs, each reshuffled
    assert got[0].dtype == np.uint8 and want[0].dtype == np.float32
    for uint8_batch, float_batch in zip(got, want):
        np.testing.assert_array_equal(gd.from_uint8(uint8_batch), float_batch)  # exactly
    assert not np.array_equal(np.concatenate(got[:3]), np.concatenate(got[3:6]))  # a new order each epoch
    # unshuffled: the images in file order
    first = next(iter(images.pipeline(batch_size=24, shuffle=False, dtype=np.uint8)))
    np.testing.assert_array_equal(gd.from_uint8(np.asarray(first)), images.numpy())


def test_training_pipeline_dtype_uint8_for_image_folder_and_uint8_arrays(tmp_path):
    folder = _pngs(tmp_path / "set")
    for in_memory in (True, False):
        dataset = gd.image_folder(folder, 16, in_memory=in_memory, verbose=False)
        floats = gd.training_pipeline(dataset, batch_size=8, seed=1)
        pixels = gd.training_pipeline(dataset, batch_size=8, seed=1, dtype="uint8")
        for uint8_batch, float_batch in zip(_epochs(pixels, 6), _epochs(floats, 6)):
            assert uint8_batch.dtype == np.uint8
            np.testing.assert_array_equal(gd.from_uint8(uint8_batch), float_batch)
    array = np.random.default_rng(0).integers(0, 256, (20, 4, 4, 1), dtype=np.uint8)
    batches = list(gd.training_pipeline(array, batch_size=5, shuffle=False, dtype="uint8").as_numpy_iterator())
    np.testing.assert_array_equal(np.concatenate(batches), array)


def test_labelled_pipeline_dtype_uint8():
    rng = np.random.default_rng(0)
    labelled = LabelledImages(rng.integers(0, 256, (30, 8, 8, 1), dtype=np.uint8), rng.integers(0, 3, 30),
                              ["a", "b", "c"], "test", "test")
    floats = list(labelled.pipeline(batch_size=10, seed=2).as_numpy_iterator())
    pixels = list(labelled.pipeline(batch_size=10, seed=2, dtype="uint8").as_numpy_iterator())
    for (uint8_images, labels), (float_images, float_labels) in zip(pixels, floats):
        assert uint8_images.dtype == np.uint8
        np.testing.assert_array_equal(gd.from_uint8(uint8_images), float_images)
        np.testing.assert_array_equal(labels, float_labels)


def test_dtype_bad_values_name_the_argument_and_what_is_allowed(tmp_path):
    images = gd.load_folder(_pngs(tmp_path / "set", count=8), 16, in_memory=False, verbose=False)
    for bad in ("float16", "int8", np.int32, 3):
        with pytest.raises(ValueError, match=r"dtype=.*'float32'.*'uint8'"):
            images.pipeline(batch_size=4, dtype=bad)
    with pytest.raises(ValueError, match="dtype="):
        gd.training_pipeline(np.zeros((8, 4, 4, 1), np.float32), batch_size=4, dtype="float64")
    with pytest.raises(ValueError, match=r"augment=.*float32"):
        images.pipeline(batch_size=4, dtype="uint8", augment=lambda batch: batch)
    with pytest.raises(ValueError, match=r"dtype='uint8'.*float32"):  # float images cannot become uint8
        gd.training_pipeline(np.zeros((8, 4, 4, 1), np.float32), batch_size=4, dtype="uint8")


# --- the conversion in the train step ------------------------------------------------------

def test_images_to_float_gives_from_uint8_exactly_eager_traced_and_xla():
    pixels = np.arange(256, dtype=np.uint8).reshape(4, 8, 8, 1).repeat(3, axis=-1)
    want = gd.from_uint8(pixels)
    for convert in (images_to_float, tf.function(images_to_float),
                    tf.function(images_to_float, jit_compile=True)):
        got = convert(tf.constant(pixels))
        assert got.dtype == tf.float32
        np.testing.assert_array_equal(got.numpy(), want)
    # what the lookup avoids: a traced division is rewritten as a multiplication, 1 ulp off
    traced = tf.function(lambda x: tf.cast(x, tf.float32) / 127.5 - 1.0)(tf.constant(pixels)).numpy()
    assert np.abs(traced - want).max() <= 2 ** -23
    floats = tf.constant(want)
    assert images_to_float(floats) is floats or np.array_equal(images_to_float(floats).numpy(), want)


def test_data_check_accepts_uint8_and_refuses_other_integers_naming_the_dtype():
    pixels = np.random.default_rng(0).integers(0, 256, (8, 16, 16, 3), dtype=np.uint8)
    batch = check_training_data(tf.data.Dataset.from_tensors(pixels), (16, 16, 3))
    assert batch.dtype == np.uint8
    for dtype in (np.int32, np.int64, np.uint16, np.int8):
        with pytest.raises(ValueError, match=rf"dtype {np.dtype(dtype).name}.*float32.*uint8"):
            check_training_data(tf.data.Dataset.from_tensors(pixels.astype(dtype)), (16, 16, 3))


# --- training: the same losses -------------------------------------------------------------

def _small_gan(kind):
    import keras

    keras.utils.set_random_seed(0)
    generator = models.dcgan_generator(8, 16, 3, width=4)
    if kind == "wgan-gp":
        return WGANGP(generator, models.wgan_critic(16, 3, width=4), 8, n_critic=2, seed=0)
    return GAN(generator, models.dcgan_discriminator(16, 3, width=4), 8, seed=0)


@pytest.mark.parametrize("kind, in_memory", [("dcgan", False), ("dcgan", True), ("wgan-gp", False)])
def test_fit_gan_on_uint8_batches_gives_the_float32_losses(tmp_path, deterministic, kind, in_memory):
    images = gd.load_folder(_pngs(tmp_path / "set"), 16, in_memory=in_memory, verbose=False)
    histories = []
    for dtype in ("float32", "uint8"):
        gan = _small_gan(kind)
        histories.append(fit_gan(gan, images.pipeline(batch_size=4, seed=5, dtype=dtype), 1, tmp_path / dtype,
                                 checkpoint_every=None, n_samples=4, save_models=False, verbose=0))
    floats, pixels = histories
    assert len(pixels["step"]) == 6 and pixels.status == "completed"
    assert np.all(np.isfinite(pixels["d_loss"]))  # g_loss: NaN on the steps without a G update (WGAN-GP)
    for name in ("d_loss", "g_loss"):
        np.testing.assert_allclose(pixels[name], floats[name], rtol=1e-6, atol=0, err_msg=name)


def test_conditional_gan_on_uint8_batches_gives_the_float32_losses(deterministic):
    import keras

    rng = np.random.default_rng(0)
    labelled = LabelledImages(rng.integers(0, 256, (32, 16, 16, 1), dtype=np.uint8), rng.integers(0, 4, 32),
                              list("abcd"), "test", "test")
    results = []
    for dtype in ("float32", "uint8"):
        keras.utils.set_random_seed(0)
        generator = models.conditional_dcgan_generator(8, 4, 16, 1, width=4)
        discriminator = models.conditional_dcgan_discriminator(4, 16, 1, width=4, conditioning="projection")
        gan = ConditionalGAN(generator, discriminator, 8, 4, seed=0)
        gan.compile()
        history = gan.fit(labelled.pipeline(batch_size=8, seed=1, dtype=dtype), epochs=1, verbose=0)
        results.append(history.history)
    for name in ("d_loss", "g_loss"):
        np.testing.assert_allclose(results[1][name], results[0][name], rtol=1e-6, atol=0, err_msg=name)


def test_uint8_run_resumed_mid_epoch_gives_the_uninterrupted_float32_runs_losses(tmp_path, deterministic):
    images = gd.load_folder(_pngs(tmp_path / "set", count=16), 16, in_memory=False, verbose=False)
    settings = dict(checkpoint_every=3, n_samples=4, save_models=False, verbose=0)
    straight = fit_gan(_small_gan("dcgan"), images.pipeline(batch_size=4, seed=5), 2, tmp_path / "float32",
                       **settings)
    with pytest.raises(KeyboardInterrupt):
        fit_gan(_small_gan("dcgan"), images.pipeline(batch_size=4, seed=5, dtype="uint8"), 2, tmp_path / "uint8",
                callbacks=[KillAt(5)], **settings)
    resumed = fit_gan(_small_gan("dcgan"), images.pipeline(batch_size=4, seed=5, dtype="uint8"), 2,
                      tmp_path / "uint8", **settings)
    assert resumed.resumed_from_step == 3 and resumed["step"] == straight["step"] == list(range(1, 9))
    for name in ("d_loss", "g_loss", "d_real", "d_fake"):
        np.testing.assert_allclose(resumed[name], straight[name], rtol=1e-6, atol=0, err_msg=name)


def test_cli_train_reads_uint8_batches_with_the_float32_runs_losses(tmp_path, deterministic, monkeypatch):
    import json

    from ganlib import cli
    from ganlib.data.imageset import ImageSet

    folder = _pngs(tmp_path / "set", count=16)
    pipeline, asked = ImageSet.pipeline, []

    def spy(self, *args, **kwargs):
        asked.append(kwargs.get("dtype", "float32"))
        return pipeline(self, *args, **kwargs)

    def float32(self, *args, **kwargs):
        return pipeline(self, *args, **{**kwargs, "dtype": "float32"})

    common = ["train", "--model", "dcgan", "--data", str(folder), "--epochs", "1", "--image-size", "16",
              "--width", "4", "--latent-dim", "8", "--batch-size", "4", "--samples", "4", "--quiet"]
    monkeypatch.setattr(ImageSet, "pipeline", spy)
    assert cli.main(common + ["--out", str(tmp_path / "uint8")]) == 0
    assert asked == ["uint8"]
    monkeypatch.setattr(ImageSet, "pipeline", float32)
    assert cli.main(common + ["--out", str(tmp_path / "float32")]) == 0
    pixels, floats = (json.loads((tmp_path / name / "history.json").read_text()) for name in ("uint8", "float32"))
    assert len(pixels["d_loss"]) == 4
    for name in ("d_loss", "g_loss"):
        np.testing.assert_allclose(pixels[name], floats[name], rtol=1e-6, atol=0, err_msg=name)
