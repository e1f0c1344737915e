"""Tests of the metrics that agree with the eye (issue 12): metrics.classifier_two_sample_test
(Lopez-Paz & Oquab 2017), metrics.precision_recall (Kynkaanniemi et al. 2019) on
metrics.random_cnn_features, and the table row metrics.image_metrics."""
import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from ganlib.metrics import (
    TwoSampleTest,
    _binomial_summary,
    classifier_two_sample_test,
    image_metrics,
    precision_recall,
    random_cnn_features,
)

COLOURS = np.array([[1, -1, -1], [-1, 1, -1], [-1, -1, 1], [1, 1, -1],
                    [1, -1, 1], [-1, 1, 1], [1, 1, 1], [0, 0, 0]], dtype=np.float64)


def blobs(count, modes=range(8), size=16, seed=0):
    """Mode m: a soft disc of colour COLOURS[m] at the m-th of 8 places on a ring, its centre
    jittered by up to 1 px, on a dark background with a little pixel noise."""
    rng = np.random.default_rng(seed)
    modes = np.asarray(list(modes))
    rows, cols = np.mgrid[:size, :size]
    images = np.empty((count, size, size, 3))
    for i, mode in enumerate(rng.choice(modes, count)):
        angle = 2 * np.pi * mode / 8
        centre = size / 2 - 0.5 + 0.3 * size * np.array([np.sin(angle), np.cos(angle)]) + rng.uniform(-1, 1, 2)
        distance = np.hypot(rows - centre[0], cols - centre[1])
        disc = np.clip(3.0 - distance, 0, 1)[..., None]  # radius 3, a 1 px soft edge
        images[i] = -0.8 * (1 - disc) + 0.9 * COLOURS[mode] * disc
    images += 0.02 * rng.standard_normal(images.shape)
    return np.clip(images, -1, 1).astype(np.float32)


def stripes(count, size=16, seed=0):
    """Sinusoidal stripes of random orientation, period and phase, in colour."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:size, :size]
    images = np.empty((count, size, size, 3))
    for i in range(count):
        angle, period, phase = rng.uniform(0, np.pi), rng.uniform(3, 8), rng.uniform(0, 2 * np.pi)
        wave = np.sin(2 * np.pi * (rows * np.sin(angle) + cols * np.cos(angle)) / period + phase)
        images[i] = 0.8 * wave[..., None] * rng.uniform(0.3, 1, 3)
    return images.astype(np.float32)


def smooth_images(count, size=16, channels=1, seed=0):
    noise = np.random.default_rng(seed).standard_normal((count, size, size, channels))
    images = gaussian_filter(noise, (0, 1.5, 1.5, 0))
    return (0.9 * images / np.abs(images).max()).astype(np.float32)


# --- the binomial summary: known values ---------------------------------------------------

def test_binomial_summary_known_values():
    accuracy, standard_error, (low, high), p_value = _binomial_summary(50, 100)
    assert accuracy == 0.5 and standard_error == pytest.approx(0.05)
    assert (low, high) == pytest.approx((0.4038, 0.5962), abs=1e-4)  # Wilson 95%, 50 of 100
    assert p_value == pytest.approx(0.5 + 0.0795892 / 2, abs=1e-6)  # P(X >= 50), X ~ Bin(100, 1/2)
    accuracy, standard_error, (low, high), p_value = _binomial_summary(100, 100)
    assert accuracy == 1.0 and standard_error == 0.0 and high == 1.0
    assert low == pytest.approx(100 / (100 + 1.959964 ** 2), abs=1e-6)  # Wilson lower bound at 100%
    assert p_value == pytest.approx(0.5 ** 100)


# --- classifier two-sample test -------------------------------------------------------------

def test_c2st_one_distribution_is_near_chance():
    result = classifier_two_sample_test(smooth_images(200, seed=1), smooth_images(200, seed=2))
    assert isinstance(result, TwoSampleTest)
    assert (result.n_test, result.n_train) == (200, 200)  # 50/50 split, both classes together
    assert abs(result.accuracy - 0.5) < 0.1 and result.p_value > 0.01
    low, high = result.interval
    assert low < 0.5 < high and low <= result.accuracy <= high
    assert result.standard_error == pytest.approx(np.sqrt(result.accuracy * (1 - result.accuracy) / 200))
    assert "accuracy" in str(result) and "n_test=200" in str(result)


def test_c2st_blobs_against_stripes_is_near_one():
    result = classifier_two_sample_test(blobs(160), stripes(160), test_fraction=0.25)
    assert (result.n_test, result.n_train) == (80, 240)
    assert result.accuracy >= 0.95 and result.interval[0] > 0.85
    assert result.p_value < 1e-15


def test_c2st_reuses_one_compiled_classifier_in_a_new_networks_state(monkeypatch):
    """The classifier is compiled once per image shape and reset for each test (tracing Keras'
    training step per network cost more than the training): after other tests with other seeds
    and learning rates, the reused network trains to exactly what a new one trains to."""
    from ganlib import metrics

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (48, 16, 16, 3)).astype(np.float32)
    y = (rng.uniform(size=(48, 1)) > 0.5).astype(np.float32)

    def trained(seed, learning_rate):
        model = metrics._fresh_classifier(16, 3, seed, learning_rate)
        for start in (0, 16, 32):  # three steps: Adam's moments and the dropout masks matter
            model.train_on_batch(x[start:start + 16], y[start:start + 16])
        return model, [w.copy() for w in model.get_weights()], np.asarray(model(x, training=True))

    monkeypatch.setattr(metrics, "_CLASSIFIERS", {})
    new_model, new_weights, new_dropped = trained(seed=3, learning_rate=1e-3)   # compiled, cached
    trained(seed=8, learning_rate=5e-2)                                           # reused: moves it far
    reused_model, reused_weights, reused_dropped = trained(seed=3, learning_rate=1e-3)
    assert reused_model is new_model and len(metrics._CLASSIFIERS) == 1
    for a, b in zip(new_weights, reused_weights):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(new_dropped, reused_dropped)  # the same dropout masks
    assert float(reused_model.optimizer.learning_rate) == pytest.approx(1e-3)
    assert int(reused_model.optimizer.iterations.numpy()) == 3
    monkeypatch.setattr(metrics, "_CLASSIFIERS", {})
    _, first_weights, _ = trained(seed=3, learning_rate=1e-3)  # a new network again: the same
    for a, b in zip(new_weights, first_weights):
        np.testing.assert_array_equal(a, b)
    metrics._fresh_classifier(32, 3, 0, 1e-3)  # another image shape: a second network
    assert len(metrics._CLASSIFIERS) == 2


def test_c2st_is_reproducible_with_a_seed_and_uses_equal_classes():
    real, generated = smooth_images(120, seed=1), smooth_images(90, seed=2)
    first = classifier_two_sample_test(real, generated, epochs=3, seed=5)
    assert first == classifier_two_sample_test(real, generated, epochs=3, seed=5)
    assert first.n_test + first.n_train == 2 * 90  # the larger set is subsampled to 90
    capped = classifier_two_sample_test(real, generated, epochs=1, max_images=40)
    assert capped.n_test + capped.n_train == 80


@pytest.mark.parametrize("call, words", [
    (lambda: classifier_two_sample_test(blobs(40), blobs(40, size=32)), ["real", "generated", "shape"]),
    (lambda: classifier_two_sample_test(blobs(40), blobs(40) * 255), ["generated", "[-1, 1]"]),
    (lambda: classifier_two_sample_test(blobs(40)[..., 0], blobs(40)), ["real", "(N, H, W, C)"]),
    (lambda: classifier_two_sample_test(blobs(15), blobs(200)), ["real has 15", "at least 10", "test_fraction"]),
    (lambda: classifier_two_sample_test(blobs(40), blobs(40), test_fraction=1.0), ["test_fraction", "(0.0, 1.0)"]),
    (lambda: classifier_two_sample_test(blobs(40), blobs(40), epochs=0), ["epochs", "positive integer"]),
    (lambda: classifier_two_sample_test(blobs(40), blobs(40), batch_size=2.5), ["batch_size"]),
    (lambda: classifier_two_sample_test(blobs(40), blobs(40), learning_rate=-1), ["learning_rate"]),
    (lambda: classifier_two_sample_test(blobs(40), blobs(40), max_images=0), ["max_images"]),
    (lambda: classifier_two_sample_test(blobs(40), blobs(40), seed=-1), ["seed=-1", ">= 0"]),
])
def test_c2st_bad_inputs_name_the_argument(call, words):
    with pytest.raises(ValueError) as error:
        call()
    for word in words:
        assert word in str(error.value)


# --- random CNN features and precision/recall ------------------------------------------------

def test_random_cnn_features_shape_determinism_and_chunks():
    images = blobs(10)
    features = random_cnn_features(images)
    assert features.shape == (10, 4 * 4 * 64)  # 16x16: two stride-2 convs (32, 64 wide) to 4x4
    assert random_cnn_features(blobs(3, size=32)).shape == (3, 4 * 4 * 128)
    assert np.array_equal(features, random_cnn_features(images))
    # Chunked and whole batches may run different BLAS/oneDNN kernels (chosen by batch size and
    # CPU), which sum in a different order: what is guaranteed is agreement to float32 rounding
    # on the scale of the features, not per element (a feature near 0 can differ by 100%).
    chunked = random_cnn_features(images, chunk=3)
    assert np.abs(chunked - features).max() <= 1e-5 * np.abs(features).max()
    assert not np.allclose(random_cnn_features(images, seed=1), features)


def test_precision_recall_one_distribution_is_high():
    result = precision_recall(blobs(300, seed=1), blobs(300, seed=2))
    assert result["k"] == 3 and result["n"] == 300
    assert result["precision"] > 0.8 and result["recall"] > 0.8


def test_precision_recall_of_a_few_modes_is_precise_but_low_recall():
    result = precision_recall(blobs(300, seed=1), blobs(300, modes=[0, 3], seed=2))
    assert result["precision"] > 0.9
    assert result["recall"] < 0.35  # two of eight modes: about 1/4 of the real images covered


def test_precision_of_noise_is_near_zero():
    noise = np.random.default_rng(0).uniform(-1, 1, (300, 16, 16, 3)).astype(np.float32)
    result = precision_recall(blobs(300, seed=1), noise)
    assert result["precision"] < 0.05 and result["recall"] < 0.05


def test_precision_recall_with_own_features_and_equal_sizes():
    def mean_colour(images):
        return images.mean(axis=(1, 2))

    real, generated = blobs(200, seed=1), blobs(80, seed=2)
    result = precision_recall(real, generated, features=mean_colour, k=5)
    assert result["n"] == 80 and result["k"] == 5
    assert 0.0 <= result["precision"] <= 1.0 and 0.0 <= result["recall"] <= 1.0
    # identical sets: every point lies in its own ball
    assert precision_recall(real, real, features=mean_colour) == {"precision": 1.0, "recall": 1.0, "k": 3, "n": 200}


@pytest.mark.parametrize("kwargs, words", [
    (dict(k=0), ["k=0", "positive integer"]),
    (dict(k=40), ["k=40", "k < 40"]),
    (dict(features="vgg16"), ["features='vgg16'", "'random_cnn'", "callable"]),
    (dict(features=lambda images: images.reshape(-1)), ["features returned", "(N, D)"]),
    (dict(seed=1.5), ["seed"]),
])
def test_precision_recall_bad_inputs_name_the_argument(kwargs, words):
    with pytest.raises(ValueError) as error:
        precision_recall(blobs(40, seed=1), blobs(40, seed=2), **kwargs)
    for word in words:
        assert word in str(error.value)


# --- one table row ------------------------------------------------------------------------------

def test_image_metrics_row_and_floor():
    real, other_real = blobs(120, seed=1), blobs(120, seed=2)
    floor = image_metrics(real, other_real)
    assert set(floor) == {"swd", "c2st_accuracy", "c2st_low", "c2st_high", "c2st_p_value",
                          "precision", "recall", "n"}
    assert floor["n"] == 120 and floor["c2st_low"] <= floor["c2st_accuracy"] <= floor["c2st_high"]
    noise = np.random.default_rng(0).uniform(-1, 1, real.shape).astype(np.float32)
    row = image_metrics(real, noise)
    assert row["swd"] > 5 * floor["swd"]
    assert row["c2st_accuracy"] > 0.95 > floor["c2st_accuracy"]
    assert row["precision"] < 0.05 < floor["precision"]
    with pytest.raises(ValueError, match="at least 20"):
        image_metrics(real[:10], noise[:10])


def test_repeated_tests_trigger_no_retracing_warning(caplog):
    """Issue 24: notebooks that ran the test a few times stored TensorFlow's "N out of the last
    M calls ... triggered tf.function retracing" WARNING (model.predict per new classifier)."""
    import logging

    rng = np.random.default_rng(0)
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        for seed in range(7):
            classifier_two_sample_test(rng.uniform(-1, 1, (100, 16, 16, 1)), rng.uniform(-1, 1, (100, 16, 16, 1)),
                                       seed=seed)
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]
