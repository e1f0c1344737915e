"""Tests of ganlib.smoke: GANLIB_SMOKE=1 shrinks every loop of training and search to a few
rounds, where all training goes through, and changes nothing when it is off."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from ganlib import callbacks, classic, inpaint, metrics, models, smoke, toy
from ganlib.train import GAN, fit_gan


@pytest.fixture
def smoke_on(monkeypatch):
    monkeypatch.setenv(smoke.ENV, "1")


@pytest.fixture
def smoke_off(monkeypatch):
    monkeypatch.delenv(smoke.ENV, raising=False)


@pytest.mark.parametrize("value, on", [("1", True), ("yes", True), ("ON", True), ("0", False), ("", False)])
def test_the_switch_reads_the_environment_at_each_call(monkeypatch, value, on):
    monkeypatch.setenv(smoke.ENV, value)
    assert smoke.active() is on
    assert smoke.cap(1000, 2) == (2 if on else 1000)
    assert smoke.cap(1, 2) == 1 and smoke.cap(None, 2) is None


def tiny_gan():
    keras.utils.set_random_seed(0)
    gan = GAN(models.dcgan_generator(8, 16, 1, width=4), models.dcgan_discriminator(16, 1, width=4), 8, seed=0)
    gan.compile()
    return gan


def ten_batches():
    images = np.random.default_rng(0).uniform(-1, 1, (40, 16, 16, 1)).astype(np.float32)
    return tf.data.Dataset.from_tensor_slices(images).batch(4)


@pytest.mark.parametrize("on", [True, False])
def test_every_fit_stops_after_a_few_steps_and_a_lessons_budget_sees_them(monkeypatch, on):
    monkeypatch.setenv(smoke.ENV, "1" if on else "0")
    gan, budget = tiny_gan(), callbacks.TrainingBudget(max_steps=4000)
    gan.fit(ten_batches(), epochs=3, verbose=0, callbacks=[budget])
    assert int(gan.d_optimizer.iterations) == budget.steps == (smoke.STEPS if on else 30)


def test_fit_gan_stops_early_and_still_writes_its_run_folder(smoke_on, tmp_path):
    gan = tiny_gan()
    history = fit_gan(gan, ten_batches(), 5, tmp_path / "run", verbose=0, n_samples=4)
    assert history["step"] == list(range(1, smoke.STEPS + 1)) and history.status == "completed"
    assert (tmp_path / "run" / "generator.keras").exists() and list((tmp_path / "run" / "samples").glob("*.png"))


def test_toy_runs_are_short_and_keep_their_snapshots(smoke_on):
    target = toy.gaussian_1d(4.0, 0.5)
    run = toy.train_toy_gan(target, 3000, seed=0, n_snapshots=40, record_every=50, eval_samples=200)
    steps = [shot["step"] for shot in run["snapshots"]]
    assert len(steps) == 40 and steps[0] == 0 and steps[-1] == run["step"][-1] == smoke.TOY_STEPS
    chosen = toy.train_toy_gan(target, 1000, seed=0, snapshot_steps=[0, 500, 1000], eval_samples=200)
    assert [shot["step"] for shot in chosen["snapshots"]] == [0, smoke.TOY_STEPS // 2, smoke.TOY_STEPS]


def test_short_runs_get_every_snapshot_asked_for(smoke_off):
    assert toy._snapshot_steps(None, 8, 10) == [0, 1, 2, 3, 4, 5, 7, 10]  # rounded: 0, 0, 1, 2, 3, 5, 7, 10
    assert toy._snapshot_steps(None, 6, 3) == [0, 1, 2, 3]  # fewer steps than snapshots: all of them
    long_run = toy._snapshot_steps(None, 40, 3000)  # unchanged where rounding merged nothing
    assert long_run == sorted({int(round(f * 3000)) for f in np.linspace(0, 1, 40) ** 2})


def test_the_classic_model_trains_a_few_iterations(smoke_on):
    keras.utils.set_random_seed(0)
    sprites = np.zeros((16, 8, 8, 4), np.float32)
    sprites[:, 2:-2, 2:-2] = 1.0
    gan = classic.ClassicGAN(sprites, latent_dim=8, filters=8, d_filters=8, batch_size=4, d_steps=3,
                             pretrain_iterations=100, seed=0)
    history = gan.train(850, report_every=25, verbose=False)
    assert len(history["g_loss"]) == smoke.CLASSIC_ITERATIONS == int(gan.g_optimizer.iterations)
    pretrainings = 1 + len(history["retrained_at"])  # each of smoke.CLASSIC_ITERATIONS steps, not 100
    assert int(gan.d_optimizer.iterations) == smoke.CLASSIC_ITERATIONS * (pretrainings + 3)


@pytest.mark.parametrize("on", [True, False])
def test_the_inpainting_search_is_short_and_narrow(monkeypatch, on):
    monkeypatch.setenv(smoke.ENV, "1" if on else "0")
    keras.utils.set_random_seed(0)
    z = keras.Input((4,))
    generator = keras.Model(z, keras.layers.Reshape((6, 6, 1))(keras.layers.Dense(36, activation="tanh")(z)))
    image = keras.Input((6, 6, 1))
    discriminator = keras.Model(image, keras.layers.Dense(1)(keras.layers.Flatten()(image)))
    images = np.zeros((3, 6, 6, 1), np.float32)
    _, details = inpaint.inpaint(generator, discriminator, images, inpaint.make_mask("center", 6), steps=30,
                                 n_candidates=5, record_every=10, return_details=True, progress=False)
    assert details["candidate_loss"].shape == (3, smoke.SEARCH_CANDIDATES if on else 5)
    assert list(details["history"]["step"]) == ([smoke.SEARCH_STEPS] if on else [10, 20, 30])


def test_image_metrics_compare_a_few_images(smoke_on):
    rng = np.random.default_rng(0)
    real, generated = (rng.uniform(-1, 1, (100, 16, 16, 1)).astype(np.float32) for _ in range(2))
    assert metrics.image_metrics(real, generated, seed=0)["n"] == smoke.METRIC_IMAGES
    assert metrics.classifier_two_sample_test(real, generated, max_images=None).n_test == smoke.METRIC_IMAGES  # both halves
