"""WGAN-GP and WGAN with weight clipping (ganlib/train.py), checked against the papers.

Gulrajani et al. 2017, Algorithm 1 and Arjovsky et al. 2017, Algorithm 1; each test
targets a place where WGAN-GP implementations are known to go wrong (ANCHORS.md:
NaN from a zero gradient, alpha of the wrong shape or distribution, silent defaults).
"""
import numpy as np
import pytest
import keras
import tensorflow as tf
from scipy import stats

from ganlib.models import dcgan_discriminator, wgan_critic
from ganlib.train import WGAN, WGANGP, gradient_penalty, random_interpolates

LATENT_DIM = 3


def linear_critic(weights, input_shape):
    """f(x) = w . x (no bias) for inputs of ``input_shape``; grad_x f = w everywhere."""
    weights = np.asarray(weights, dtype="float32").reshape(-1, 1)
    inputs = keras.Input(input_shape)
    flat = keras.layers.Flatten()(inputs)
    dense = keras.layers.Dense(1, use_bias=False, name="w")
    model = keras.Model(inputs, dense(flat))
    dense.set_weights([weights])
    return model


def half_squared_norm_critic():
    """f(x) = 0.5 * x^2 for 1-D x, so grad_x f(x_hat) = x_hat."""
    inputs = keras.Input((1,))
    return keras.Model(inputs, keras.layers.Lambda(lambda x: 0.5 * tf.square(x))(inputs))


def mlp(input_dim, output_dim, hidden=16, name=None):
    inputs = keras.Input((input_dim,))
    hidden_layer = keras.layers.Dense(hidden, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(output_dim)(hidden_layer), name=name)


def batches(n_examples, batch_size, dim=2, seed=0):
    data = np.random.default_rng(seed).normal(size=(n_examples, dim)).astype("float32")
    return tf.data.Dataset.from_tensor_slices(data).batch(batch_size)


# ---------------------------------------------------------------- the penalty itself

@pytest.mark.parametrize("weights", [[3.0, 4.0, 0.0, 0.0], [0.3, 0.4, 0.0, 0.0], [0.6, 0.8, 0.0, 0.0]])
def test_linear_critic_penalty_is_norm_minus_one_squared(weights):
    # On 2x2x1 images: the gradient is w at every x_hat whatever alpha is.
    critic = linear_critic(weights, (2, 2, 1))
    rng = np.random.default_rng(1)
    real = rng.normal(size=(6, 2, 2, 1)).astype("float32")
    fake = rng.normal(size=(6, 2, 2, 1)).astype("float32")
    expected = (np.linalg.norm(weights) - 1.0) ** 2  # 16, 0.25, 0
    penalty = float(gradient_penalty(critic, real, fake))
    assert penalty == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("gp_weight", [10.0, 0.1])
def test_wgangp_critic_loss_adds_gp_weight_times_penalty(gp_weight):
    weights = [3.0, 4.0]  # ||w|| = 5
    model = WGANGP(mlp(LATENT_DIM, 2), linear_critic(weights, (2,)), LATENT_DIM, gp_weight=gp_weight)
    real = np.random.default_rng(2).normal(size=(8, 2)).astype("float32")
    fake = np.random.default_rng(3).normal(size=(8, 2)).astype("float32")
    loss, parts = model.critic_loss(real, fake)
    mean_score_gap = float(np.mean(real @ np.array(weights)) - np.mean(fake @ np.array(weights)))
    assert float(parts["wasserstein"]) == pytest.approx(mean_score_gap, rel=1e-5)
    assert float(parts["gp"]) == pytest.approx(16.0, rel=1e-5)
    assert float(loss) == pytest.approx(-mean_score_gap + gp_weight * 16.0, rel=1e-5)


def test_zero_gradient_gives_finite_penalty_and_gradient():
    critic = linear_critic([0.0, 0.0, 0.0, 0.0], (4,))
    real = np.ones((5, 4), "float32")
    fake = np.zeros((5, 4), "float32")

    def penalty_and_gradient(epsilon):
        with tf.GradientTape() as tape:
            penalty = gradient_penalty(critic, real, fake, epsilon=epsilon)
        return float(penalty), tape.gradient(penalty, critic.trainable_weights)[0].numpy()

    penalty, gradient = penalty_and_gradient(1e-12)
    assert penalty == pytest.approx(1.0, abs=1e-5)  # (sqrt(1e-12) - 1)^2
    assert np.all(np.isfinite(gradient))
    np.testing.assert_allclose(gradient, 0.0, atol=1e-6)
    # Without the epsilon the same computation is the NaN users hit: 0 * inf.
    _, gradient_without_epsilon = penalty_and_gradient(0.0)
    assert np.isnan(gradient_without_epsilon).any()


def test_alpha_is_uniform_and_drawn_once_per_example():
    n_examples = 4000
    real = np.ones((n_examples, 3, 3, 2), "float32")
    fake = np.zeros((n_examples, 3, 3, 2), "float32")
    interpolated, alpha = random_interpolates(real, fake, seed=7)
    interpolated, alpha = interpolated.numpy(), alpha.numpy()
    assert alpha.shape == (n_examples, 1, 1, 1)
    # x_hat = alpha * 1 + (1 - alpha) * 0: every pixel of an example carries its alpha.
    np.testing.assert_allclose(interpolated, np.broadcast_to(alpha, interpolated.shape), atol=1e-6)
    values = alpha.reshape(-1)
    assert values.min() >= 0.0 and values.max() <= 1.0
    assert len(np.unique(values)) > 0.99 * n_examples  # one draw per example, not per batch
    assert values.mean() == pytest.approx(0.5, abs=0.02)
    assert values.var() == pytest.approx(1 / 12, abs=0.005)
    assert stats.kstest(values, "uniform").pvalue > 1e-3


def test_penalty_averages_over_uniform_alpha():
    # f(x) = x^2 / 2 between real = 1 and fake = 0: ||grad|| = alpha, so the penalty is
    # the mean of (alpha - 1)^2, whose expectation under U[0, 1] is 1/3 (1/4 if alpha
    # were 0.5, 0 or 1 if it were drawn from {0, 1}).
    n_examples = 20000
    penalty = gradient_penalty(
        half_squared_norm_critic(), np.ones((n_examples, 1), "float32"),
        np.zeros((n_examples, 1), "float32"), seed=3,
    )
    assert float(penalty) == pytest.approx(1 / 3, abs=0.01)


@pytest.mark.parametrize("batch_size", [1, 7])
def test_penalty_for_batch_sizes_one_and_odd(batch_size):
    critic = linear_critic([0.6, 0.8, 2.0, 0.0], (2, 2, 1))  # ||w|| = sqrt(5)
    real = np.random.default_rng(4).normal(size=(batch_size, 2, 2, 1)).astype("float32")
    _, alpha = random_interpolates(real, real * 0.5)
    assert alpha.shape == (batch_size, 1, 1, 1)
    penalty = float(gradient_penalty(critic, real, real * 0.5))
    assert penalty == pytest.approx((np.sqrt(5.0) - 1.0) ** 2, rel=1e-5)


# ---------------------------------------------------------------- the training loop

@pytest.mark.parametrize("model_class", [WGANGP, WGAN])
def test_fit_with_batches_of_seven_and_a_last_batch_of_one(model_class):
    model = model_class(mlp(LATENT_DIM, 2), mlp(2, 1), LATENT_DIM, n_critic=2, seed=0)
    model.compile()
    generator_before = [w.copy() for w in model.generator.get_weights()]
    critic_before = [w.copy() for w in model.critic.get_weights()]
    history = model.fit(batches(15, 7), epochs=1, verbose=0).history  # batches of 7, 7, 1
    for name, values in history.items():
        assert np.isfinite(values[-1]), (name, values)
    assert int(model.d_optimizer.iterations.numpy()) == 3
    assert int(model.g_optimizer.iterations.numpy()) == 1
    assert any(not np.allclose(a, b) for a, b in zip(critic_before, model.critic.get_weights()))
    assert any(not np.allclose(a, b) for a, b in zip(generator_before, model.generator.get_weights()))


@pytest.mark.parametrize("n_critic, n_batches", [(1, 4), (3, 7)])
def test_n_critic_critic_updates_per_generator_update(n_critic, n_batches):
    model = WGANGP(mlp(LATENT_DIM, 2), mlp(2, 1), LATENT_DIM, n_critic=n_critic, seed=0)
    model.compile()
    model.fit(batches(4 * n_batches, 4), epochs=1, verbose=0)
    assert int(model.d_optimizer.iterations.numpy()) == n_batches
    assert int(model.g_optimizer.iterations.numpy()) == n_batches // n_critic
    # The count carries over to the next fit call (Keras calls fit again to resume).
    model.fit(batches(4 * n_batches, 4), epochs=1, verbose=0)
    assert int(model.d_optimizer.iterations.numpy()) == 2 * n_batches
    assert int(model.g_optimizer.iterations.numpy()) == (2 * n_batches) // n_critic


def test_generator_moves_only_on_every_n_critic_th_step():
    model = WGANGP(mlp(LATENT_DIM, 2), mlp(2, 1), LATENT_DIM, n_critic=3, seed=0)
    model.compile()
    start = model.generator.get_weights()[0].copy()
    model.fit(batches(8, 4), epochs=1, verbose=0)  # critic updates 1 and 2
    np.testing.assert_array_equal(model.generator.get_weights()[0], start)
    model.fit(batches(4, 4), epochs=1, verbose=0)  # critic update 3, then the generator
    assert not np.allclose(model.generator.get_weights()[0], start)


@pytest.mark.parametrize("model_class", [WGANGP, WGAN])
def test_a_frozen_generator_trains_only_the_critic(model_class):
    # Lesson 04 trains critics against a fixed distribution this way (Gulrajani et al., fig. 1).
    noise = keras.Input((2,))
    fixed = keras.Model(noise, keras.layers.Identity()(noise))  # no weights: x = z ~ N(0, I)
    critic = mlp(2, 1)
    before = [w.copy() for w in critic.get_weights()]
    model = model_class(fixed, critic, latent_dim=2, n_critic=2, seed=0)
    model.compile()
    history = model.fit(batches(16, 4), epochs=1, verbose=0).history
    assert int(model.d_optimizer.iterations.numpy()) == 4
    assert any(not np.allclose(a, b) for a, b in zip(before, critic.get_weights()))
    assert np.isfinite(history["g_loss"][-1])


class Shift(keras.layers.Layer):
    """G(z) = 0.5 * z + shift, with a trainable shift starting at 0."""

    def build(self, input_shape):
        self.shift = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="shift")

    def call(self, z):
        return 0.5 * z + self.shift


def test_wgangp_moves_a_shifted_generator_onto_the_data():
    # Data N((2, -1), 0.25 I); G(z) = 0.5 z + shift with z ~ N(0, I) has the same shape,
    # so W1 between them is ||shift - (2, -1)||: sqrt(5) = 2.24 at the start.
    keras.utils.set_random_seed(0)
    target = np.array([2.0, -1.0], "float32")
    data = (target + 0.5 * np.random.default_rng(5).normal(size=(64 * 100, 2))).astype("float32")
    noise = keras.Input((2,))
    generator = keras.Model(noise, Shift()(noise))
    model = WGANGP(generator, mlp(2, 1, hidden=32), latent_dim=2, seed=1)  # lambda = 10
    model.compile(d_optimizer=keras.optimizers.Adam(1e-2, beta_1=0.0, beta_2=0.9),
                  g_optimizer=keras.optimizers.Adam(3e-2, beta_1=0.0, beta_2=0.9))
    history = model.fit(tf.data.Dataset.from_tensor_slices(data).batch(64), epochs=5, verbose=0).history
    distance = np.linalg.norm(generator.get_weights()[0] - target)
    assert distance < 0.6, generator.get_weights()
    # The critic's estimate of W1 falls with the true distance (mean over each epoch).
    estimates = history["wasserstein"]
    assert estimates[0] > 1.0 and abs(estimates[-1]) < 0.3, estimates


def test_weight_clipping_keeps_every_critic_weight_in_range():
    critic = mlp(2, 1)  # Glorot init: many weights far above 0.01 before training
    assert max(np.abs(w).max() for w in critic.get_weights()) > 0.1
    model = WGAN(mlp(LATENT_DIM, 2), critic, LATENT_DIM, n_critic=2, clip_value=0.01, seed=0)
    model.compile()
    model.fit(batches(8, 4), epochs=1, verbose=0)
    largest = max(np.abs(w).max() for w in model.critic.get_weights())
    assert largest == pytest.approx(0.01)  # clipped, and the bound is reached


# ---------------------------------------------------------------- defaults and checks

def test_paper_defaults():
    wgangp = WGANGP(mlp(LATENT_DIM, 2), mlp(2, 1), LATENT_DIM)
    wgangp.compile()
    assert (wgangp.n_critic, wgangp.gp_weight) == (5, 10.0)
    for optimizer in (wgangp.d_optimizer, wgangp.g_optimizer):
        assert isinstance(optimizer, keras.optimizers.Adam)
        assert float(optimizer.learning_rate.numpy()) == pytest.approx(1e-4)
        assert (optimizer.beta_1, optimizer.beta_2) == (0.0, 0.9)
    wgan = WGAN(mlp(LATENT_DIM, 2), mlp(2, 1), LATENT_DIM)
    wgan.compile()
    assert (wgan.n_critic, wgan.clip_value) == (5, 0.01)
    for optimizer in (wgan.d_optimizer, wgan.g_optimizer):
        assert isinstance(optimizer, keras.optimizers.RMSprop)
        assert float(optimizer.learning_rate.numpy()) == pytest.approx(5e-5)


def test_critic_with_batch_norm_is_refused():
    with pytest.raises(ValueError, match=r"critic='discriminator' has batch normalization.*layer norm"):
        WGANGP(mlp(LATENT_DIM, 2), dcgan_discriminator(image_size=16, channels=1), LATENT_DIM)
    # ... also when the batch norm hides in a nested model.
    inputs = keras.Input((2,))
    inner = keras.Sequential([keras.layers.Dense(4), keras.layers.BatchNormalization(name="bn")], name="inner")
    nested = keras.Model(inputs, keras.layers.Dense(1)(inner(inputs)), name="nested")
    with pytest.raises(ValueError, match=r"critic='nested'.*layers bn"):
        WGANGP(mlp(LATENT_DIM, 2), nested, LATENT_DIM)
    # The library's critic (layer norm) is accepted, and so is batch norm under weight clipping.
    WGANGP(mlp(LATENT_DIM, 2), wgan_critic(image_size=16, channels=1), LATENT_DIM)
    WGAN(mlp(LATENT_DIM, 2), dcgan_discriminator(image_size=16, channels=1), LATENT_DIM)


@pytest.mark.parametrize(
    "model_class, keyword, value, message",
    [
        (WGANGP, "n_critic", 0, r"n_critic=0 must be a positive integer"),
        (WGANGP, "n_critic", 2.5, r"n_critic=2.5 must be a positive integer"),
        (WGANGP, "gp_weight", -1.0, r"gp_weight=-1.0 must be a finite number >= 0"),
        (WGANGP, "gp_weight", float("nan"), r"gp_weight=nan must be a finite number >= 0"),
        (WGAN, "clip_value", 0.0, r"clip_value=0.0 must be a positive number"),
        (WGAN, "n_critic", -5, r"n_critic=-5 must be a positive integer"),
        (WGANGP, "latent_dim", 0, r"latent_dim=0 must be a positive integer"),
    ],
)
def test_bad_arguments_are_named(model_class, keyword, value, message):
    arguments = {"latent_dim": LATENT_DIM, keyword: value}
    with pytest.raises(ValueError, match=message):
        model_class(mlp(LATENT_DIM, 2), mlp(2, 1), **arguments)


def test_negative_epsilon_is_refused():
    with pytest.raises(ValueError, match=r"epsilon=-1e-12 must be a finite number >= 0"):
        gradient_penalty(linear_critic([1.0], (1,)), np.ones((2, 1), "float32"),
                         np.zeros((2, 1), "float32"), epsilon=-1e-12)


# ---------------------------------------------------------------- the one-sided penalty (issue 13)

@pytest.mark.parametrize("weights, two_sided, one_sided", [
    ([3.0, 4.0, 0.0, 0.0], 16.0, 16.0),   # ||w|| = 5: (5 - 1)^2 both ways
    ([0.3, 0.4, 0.0, 0.0], 0.25, 0.0),    # ||w|| = 0.5: below 1, the one-sided penalty is 0
    ([0.0, 0.0, 0.0, 0.0], 1.0, 0.0),     # slope 0: no barrier for the one-sided penalty
])
def test_one_sided_penalty_of_a_linear_critic(weights, two_sided, one_sided):
    critic = linear_critic(weights, (2, 2, 1))
    rng = np.random.default_rng(4)
    real = rng.normal(size=(6, 2, 2, 1)).astype("float32")
    fake = rng.normal(size=(6, 2, 2, 1)).astype("float32")
    assert float(gradient_penalty(critic, real, fake)) == pytest.approx(two_sided, abs=1e-5)
    assert float(gradient_penalty(critic, real, fake, one_sided=True)) == pytest.approx(one_sided, abs=1e-5)


@pytest.mark.parametrize("penalty, weights, expected", [
    ("one-sided", [3.0, 4.0], 16.0), ("one-sided", [0.3, 0.4], 0.0), ("two-sided", [0.3, 0.4], 0.25)])
def test_wgangp_penalty_option_reaches_the_critic_loss(penalty, weights, expected):
    model = WGANGP(mlp(LATENT_DIM, 2), linear_critic(weights, (2,)), LATENT_DIM, gp_weight=10.0,
                   penalty=penalty)
    real = np.random.default_rng(2).normal(size=(8, 2)).astype("float32")
    fake = np.random.default_rng(3).normal(size=(8, 2)).astype("float32")
    loss, parts = model.critic_loss(real, fake)
    gap = float(np.mean(real @ np.array(weights)) - np.mean(fake @ np.array(weights)))
    assert float(parts["gp"]) == pytest.approx(expected, abs=1e-5)
    assert float(loss) == pytest.approx(-gap + 10.0 * expected, abs=1e-4)


def test_wgangp_penalty_default_and_bad_value():
    assert WGANGP(mlp(LATENT_DIM, 2), mlp(2, 1), LATENT_DIM).penalty == "two-sided"
    with pytest.raises(ValueError, match=r"penalty='both'.*'two-sided'.*'one-sided'"):
        WGANGP(mlp(LATENT_DIM, 2), mlp(2, 1), LATENT_DIM, penalty="both")
