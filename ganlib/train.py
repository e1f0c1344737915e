"""Training GANs with ``keras.Model.fit``.

``GAN`` and ``WGANGP`` are ``keras.Model`` subclasses whose ``train_step`` plays one round
of the adversarial game, so Keras' progress bar, callbacks, TensorBoard and distribution
strategies work as usual::

    gan = GAN(generator, discriminator, latent_dim=100)
    gan.compile()                      # Adam 2e-4, beta_1 0.5 (Radford et al. 2015)
    gan.fit(dataset_of_image_batches, epochs=5)

Convention: the discriminator outputs a *logit*; sigmoid(logit) = D(x) is the probability
that x is real (Goodfellow et al. 2014). Real data is labelled 1, generated data 0.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from ._checks import check_choice, check_non_negative, check_positive, check_range

GENERATOR_LOSSES = ("non-saturating", "saturating")


def discriminator_loss(real_logits, fake_logits, label_smoothing: float = 0.0):
    """Binary cross-entropy of D: real -> 1 (or 1 - label_smoothing), fake -> 0.

    ``-log D(x) - log(1 - D(G(z)))`` written with logits for numerical stability:
    ``-log sigmoid(l) = softplus(-l)`` and ``-log(1 - sigmoid(l)) = softplus(l)``.
    One-sided label smoothing (Salimans et al. 2016) only softens the real target.
    """
    real_target = 1.0 - label_smoothing
    real_term = real_target * tf.nn.softplus(-real_logits) + (1.0 - real_target) * tf.nn.softplus(
        real_logits
    )
    fake_term = tf.nn.softplus(fake_logits)
    return tf.reduce_mean(real_term) + tf.reduce_mean(fake_term)


def generator_loss(fake_logits, kind: str = "non-saturating"):
    """The generator's loss.

    * ``'saturating'``: minimise ``log(1 - D(G(z)))`` = ``-softplus(l)``, the minimax game
      as written; its gradient vanishes when D confidently rejects the fakes.
    * ``'non-saturating'``: minimise ``-log D(G(z))`` = ``softplus(-l)``, the variant
      Goodfellow et al. 2014 recommend in practice (same fixed point, strong gradients
      early in training).
    """
    if kind == "non-saturating":
        return tf.reduce_mean(tf.nn.softplus(-fake_logits))
    return -tf.reduce_mean(tf.nn.softplus(fake_logits))


class _AdversarialModel(keras.Model):
    """What GAN and WGANGP share: the two networks, the noise, metric trackers."""

    metric_names: tuple = ()

    def __init__(self, generator, discriminator, latent_dim, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = check_positive("latent_dim", latent_dim, integer=True)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.metric_names}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, z, training=False):
        """A GAN called on noise returns images: ``gan(z) == gan.generator(z)``."""
        return self.generator(z, training=training)

    def sample_noise(self, batch_size):
        return keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)

    def _real_batch(self, data):
        # fit() may hand us (x,) or (x, y) from datasets with labels; only x is used.
        if isinstance(data, (tuple, list)):
            data = data[0]
        return data

    def _result(self, values):
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}


class GAN(_AdversarialModel):
    """The GAN of Goodfellow et al. 2014, trained with the non-saturating loss by default.

    Each ``train_step`` is one iteration of their Algorithm 1: ``d_steps`` (k) updates of
    the discriminator, each on the batch of real images and a fresh batch of noise, then
    one update of the generator on a fresh batch of noise.

    Args:
        generator: keras.Model z (latent_dim,) -> x.
        discriminator: keras.Model x -> one logit per example.
        latent_dim: size of z, drawn from N(0, I).
        d_steps: k, discriminator updates per generator update (Goodfellow et al. use 1).
        label_smoothing: one-sided label smoothing of the real target, in [0, 0.5).
        generator_loss: 'non-saturating' (default) or 'saturating'.
        seed: seed of the noise generator (None: from Keras' global seed).

    Metrics: ``d_loss``, ``g_loss``, ``d_real`` = mean D(x) and ``d_fake`` = mean D(G(z)).
    """

    metric_names = ("d_loss", "g_loss", "d_real", "d_fake")

    def __init__(
        self,
        generator,
        discriminator,
        latent_dim,
        d_steps: int = 1,
        label_smoothing: float = 0.0,
        generator_loss: str = "non-saturating",
        seed=None,
        **kwargs,
    ):
        super().__init__(generator, discriminator, latent_dim, seed=seed, **kwargs)
        self.d_steps = check_positive("d_steps", d_steps, integer=True)
        self.label_smoothing = check_range("label_smoothing", label_smoothing, 0.0, 0.5, high_open=True)
        self.generator_loss_kind = check_choice("generator_loss", generator_loss, GENERATOR_LOSSES)

    def compile(self, d_optimizer=None, g_optimizer=None, jit_compile="auto", **kwargs):
        """Defaults: Adam(2e-4, beta_1=0.5) for both networks (Radford et al. 2015)."""
        super().compile(jit_compile=jit_compile, **kwargs)
        self.d_optimizer = d_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        self.g_optimizer = g_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)

    def discriminator_step(self, real):
        batch_size = tf.shape(real)[0]
        fake = self.generator(self.sample_noise(batch_size), training=True)
        with tf.GradientTape() as tape:
            real_logits = self.discriminator(real, training=True)
            fake_logits = self.discriminator(fake, training=True)
            d_loss = discriminator_loss(real_logits, fake_logits, self.label_smoothing)
        weights = self.discriminator.trainable_weights
        self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, weights), weights))
        return d_loss, real_logits, fake_logits

    def generator_step(self, batch_size):
        z = self.sample_noise(batch_size)
        with tf.GradientTape() as tape:
            fake_logits = self.discriminator(self.generator(z, training=True), training=True)
            g_loss = generator_loss(fake_logits, self.generator_loss_kind)
        weights = self.generator.trainable_weights
        self.g_optimizer.apply_gradients(zip(tape.gradient(g_loss, weights), weights))
        return g_loss

    def train_step(self, data):
        real = self._real_batch(data)
        for _ in range(self.d_steps):  # a Python loop: unrolled once when traced
            d_loss, real_logits, fake_logits = self.discriminator_step(real)
        g_loss = self.generator_step(tf.shape(real)[0])
        return self._result(
            {
                "d_loss": d_loss,
                "g_loss": g_loss,
                "d_real": tf.reduce_mean(tf.sigmoid(real_logits)),
                "d_fake": tf.reduce_mean(tf.sigmoid(fake_logits)),
            }
        )


def gradient_penalty(critic, real, fake, epsilon: float = 1e-12, seed=None):
    """Gulrajani et al. 2017, Algorithm 1: ``(||grad_x f(x_hat)||_2 - 1)^2`` averaged.

    ``x_hat = alpha * real + (1 - alpha) * fake`` with ``alpha ~ U[0, 1]`` drawn once per
    example, for any batch size (its shape follows the batch, nothing is hard-coded).
    ``epsilon`` sits inside the square root so the norm's gradient stays finite when the
    critic's gradient is exactly zero (the NaN others ran into).
    """
    batch_size = tf.shape(real)[0]
    alpha_shape = tf.concat([[batch_size], tf.ones(tf.rank(real) - 1, dtype=tf.int32)], axis=0)
    alpha = keras.random.uniform(alpha_shape, 0.0, 1.0, seed=seed, dtype=real.dtype)
    interpolated = alpha * real + (1.0 - alpha) * fake
    with tf.GradientTape() as tape:
        tape.watch(interpolated)
        scores = critic(interpolated, training=True)
    grads = tape.gradient(scores, interpolated)
    axes = tf.range(1, tf.rank(grads))
    norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=axes) + epsilon)
    return tf.reduce_mean(tf.square(norm - 1.0))


class WGANGP(_AdversarialModel):
    """WGAN with gradient penalty (Gulrajani et al. 2017, Algorithm 1).

    Each ``train_step`` makes ``n_critic`` critic updates (each on the batch of real
    images and fresh noise) then one generator update. The critic outputs an
    unbounded score, not a logit, and must not use batch normalisation (the penalty is
    per example).

    Args:
        generator, critic, latent_dim: as for ``GAN``.
        n_critic: critic updates per generator update (paper: 5).
        gp_weight: lambda, the penalty's weight (paper: 10).

    Metrics: ``d_loss`` (critic loss incl. penalty), ``g_loss``, ``gp`` and
    ``wasserstein`` = mean f(x) - mean f(G(z)), the critic's estimate of W1.
    """

    metric_names = ("d_loss", "g_loss", "gp", "wasserstein")

    def __init__(self, generator, critic, latent_dim, n_critic: int = 5, gp_weight: float = 10.0,
                 seed=None, **kwargs):
        super().__init__(generator, critic, latent_dim, seed=seed, **kwargs)
        self.n_critic = check_positive("n_critic", n_critic, integer=True)
        self.gp_weight = check_non_negative("gp_weight", gp_weight)

    @property
    def critic(self):
        return self.discriminator

    def compile(self, d_optimizer=None, g_optimizer=None, jit_compile="auto", **kwargs):
        """Defaults: Adam(1e-4, beta_1=0.5, beta_2=0.9) (Gulrajani et al. 2017, Alg. 1)."""
        super().compile(jit_compile=jit_compile, **kwargs)
        self.d_optimizer = d_optimizer or keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9)
        self.g_optimizer = g_optimizer or keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9)

    def critic_step(self, real):
        batch_size = tf.shape(real)[0]
        fake = self.generator(self.sample_noise(batch_size), training=True)
        with tf.GradientTape() as tape:
            real_scores = self.critic(real, training=True)
            fake_scores = self.critic(fake, training=True)
            wasserstein = tf.reduce_mean(real_scores) - tf.reduce_mean(fake_scores)
            gp = gradient_penalty(self.critic, real, fake, seed=self.seed_generator)
            d_loss = -wasserstein + self.gp_weight * gp
        weights = self.critic.trainable_weights
        self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, weights), weights))
        return d_loss, gp, wasserstein

    def generator_step(self, batch_size):
        z = self.sample_noise(batch_size)
        with tf.GradientTape() as tape:
            g_loss = -tf.reduce_mean(self.critic(self.generator(z, training=True), training=True))
        weights = self.generator.trainable_weights
        self.g_optimizer.apply_gradients(zip(tape.gradient(g_loss, weights), weights))
        return g_loss

    def train_step(self, data):
        real = self._real_batch(data)
        for _ in range(self.n_critic):
            d_loss, gp, wasserstein = self.critic_step(real)
        g_loss = self.generator_step(tf.shape(real)[0])
        return self._result({"d_loss": d_loss, "g_loss": g_loss, "gp": gp, "wasserstein": wasserstein})
