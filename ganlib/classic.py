"""The Pokemon GAN of the 2017 Keras blog post, reproduced in Keras 3 ("the classic model").

Lesson 03 starts from a GAN that many readers met first: a small Keras model trained on
28x28 RGBA Pokemon sprites (Monceaux 2017, "Generative Adversarial Networks", a blog post
with a Keras 2 notebook). This module rebuilds it as it was written, quirks included, so the
lesson can show what it does well and where it struggles before moving to a modern DCGAN:

* images 28x28x4 (RGBA) in [0, 1]; the generator ends in a sigmoid;
* the generator: Dense(200*14*14) + BN + ReLU, reshape, 2x upsampling, Conv 100 3x3 + BN +
  ReLU, Conv 50 3x3 + BN + ReLU, Conv 4 1x1 + sigmoid;
* the discriminator: Conv 256 5x5 stride 2, Conv 512 5x5 stride 2 (each with a ReLU, then a
  LeakyReLU(0.2), then Dropout 0.25), Conv 2 3x3 with a ReLU, Flatten, Dense(2) softmax,
  answering ``[P(real), P(generated)]``, trained with categorical cross-entropy;
* noise ``z ~ U[0, 1)^100``; batches of 32 real + 32 generated images;
* Adam 1e-3 for the generator, Adam 1e-4 for the discriminator;
* the schedule: the discriminator is pre-trained for 100 iterations; then each iteration makes
  10 discriminator steps and one generator step through the frozen discriminator, and
  re-runs the 100-iteration pre-training whenever the discriminator's loss exceeds 1;
  2000 iterations; every 25 iterations it prints the mean label the discriminator gives to
  100 real and 100 generated images.

It is deliberately *not* a ``keras.Model`` trained by ``fit`` like ``ganlib.train.GAN``: the
original drives the two networks from a Python loop with ``train_on_batch`` and a
data-dependent re-training branch, and that loop is what we reproduce. The numerical steps
are ``tf.function``-compiled, so it runs at the speed of the convolutions.

The rest of ganlib works on images in [-1, 1]; ``from_ganlib`` and ``to_ganlib`` convert at
the boundary (``to_ganlib(..., rgb=True)`` also composites the alpha channel on white, so the
classic model's samples can be compared with RGB models and data).
"""
from __future__ import annotations

import sys
import time

import keras
import numpy as np
import tensorflow as tf

from . import smoke
from ._checks import check_image_range, check_image_size, check_non_negative, check_positive, check_range

#: The discriminator's one-hot answers, in the original's order ``[real, generated]``.
REAL_LABEL = (1.0, 0.0)
GENERATED_LABEL = (0.0, 1.0)

#: The original's settings (Monceaux 2017, the post's notebook).
ORIGINAL = {
    "image_shape": (28, 28, 4),
    "latent_dim": 100,
    "generator_filters": 200,
    "dropout_rate": 0.25,
    "batch_size": 32,
    "g_learning_rate": 1e-3,
    "d_learning_rate": 1e-4,
    "pretrain_iterations": 100,
    "d_steps": 10,
    "retrain_threshold": 1.0,
    "iterations": 2000,
    "report_every": 25,
    "report_samples": 100,
}


def _check_image_size(image_size):
    return check_image_size("image_size", image_size, multiple_of=4, minimum=8, reason=(
        "the generator upsamples 2x from image_size/2 and the discriminator halves it twice; "
        "the original uses 28"))


def _check_channels(channels):
    channels = check_positive("channels", channels, integer=True)
    if channels not in (1, 3, 4):
        raise ValueError(f"channels={channels!r} is not allowed; use one of 1, 3, 4 (the original uses 4, RGBA).")
    return channels


def classic_generator(latent_dim: int = 100, image_size: int = 28, channels: int = 4,
                      filters: int = 200, name: str = "classic_generator") -> keras.Model:
    """The original generator: z (latent_dim,) in [0, 1) -> image (image_size, image_size, channels) in [0, 1].

    Dense(filters * (image_size/2)^2, Glorot-normal init) + BN + ReLU, reshape, UpSampling2D(2),
    Conv(filters/2, 3x3) + BN + ReLU, Conv(filters/4, 3x3) + BN + ReLU, Conv(channels, 1x1) + sigmoid.

    Defaults from Monceaux 2017: latent_dim 100, 28x28x4 RGBA, filters ("nch") 200.
    """
    latent_dim = check_positive("latent_dim", latent_dim, integer=True)
    image_size = _check_image_size(image_size)
    channels = _check_channels(channels)
    filters = check_positive("filters", filters, integer=True)
    if filters < 4:
        raise ValueError(f"filters={filters!r} must be at least 4 (the last blocks use filters/2 and filters/4).")
    half = image_size // 2
    z = keras.Input(shape=(latent_dim,), name="z")
    h = keras.layers.Dense(filters * half * half, kernel_initializer="glorot_normal", name="project")(z)
    h = keras.layers.BatchNormalization(name="project_bn")(h)
    h = keras.layers.Activation("relu", name="project_relu")(h)
    h = keras.layers.Reshape((half, half, filters), name="reshape")(h)
    h = keras.layers.UpSampling2D(size=(2, 2), name="upsample")(h)
    for block, width in enumerate((filters // 2, filters // 4), start=1):
        h = keras.layers.Conv2D(width, 3, padding="same", kernel_initializer="glorot_uniform",
                                name=f"conv{block}")(h)
        h = keras.layers.BatchNormalization(name=f"conv{block}_bn")(h)
        h = keras.layers.Activation("relu", name=f"conv{block}_relu")(h)
    h = keras.layers.Conv2D(channels, 1, padding="same", kernel_initializer="glorot_uniform", name="to_image")(h)
    image = keras.layers.Activation("sigmoid", name="sigmoid")(h)
    model = keras.Model(z, image, name=name)
    assert model.output_shape == (None, image_size, image_size, channels), model.output_shape
    return model


def classic_discriminator(image_size: int = 28, channels: int = 4, dropout_rate: float = 0.25,
                          filters: int = 256, name: str = "classic_discriminator") -> keras.Model:
    """The original discriminator: image in [0, 1] -> softmax ``[P(real), P(generated)]``.

    Conv(256, 5x5, stride 2, ReLU) -> LeakyReLU(0.2) -> Dropout, Conv(512, 5x5, stride 2, ReLU)
    -> LeakyReLU(0.2) -> Dropout, Conv(2, 3x3, ReLU), Flatten, Dense(2, softmax).

    As in the original code each convolution has ``activation='relu'`` *and* is followed by a
    LeakyReLU(0.2); the ReLU has already zeroed the negative values, so the LeakyReLU changes
    nothing. We keep it: this is the model as it was trained.

    Defaults from Monceaux 2017: 28x28x4 input, dropout 0.25, ``filters`` 256 (the first
    convolution's width; the second has twice as many).
    """
    image_size = _check_image_size(image_size)
    channels = _check_channels(channels)
    dropout_rate = check_range("dropout_rate", dropout_rate, 0.0, 1.0, high_open=True)
    filters = check_positive("filters", filters, integer=True)
    image = keras.Input(shape=(image_size, image_size, channels), name="image")
    h = image
    for block, width in enumerate((filters, 2 * filters), start=1):
        h = keras.layers.Conv2D(width, 5, strides=2, padding="same", activation="relu", name=f"conv{block}")(h)
        h = keras.layers.LeakyReLU(negative_slope=0.2, name=f"conv{block}_leaky")(h)
        h = keras.layers.Dropout(dropout_rate, name=f"conv{block}_dropout")(h)
    h = keras.layers.Conv2D(2, 3, padding="same", activation="relu", name="conv3")(h)
    assert tuple(h.shape[1:]) == (image_size // 4, image_size // 4, 2), h.shape
    h = keras.layers.Flatten(name="flatten")(h)
    label = keras.layers.Dense(2, activation="softmax", name="real_generated")(h)
    return keras.Model(image, label, name=name)


def _check_images(name, images, low, high, channels=None):
    array = np.asarray(images, dtype=np.float32)
    if array.ndim != 4:
        raise ValueError(f"{name} has shape {array.shape}; expected a batch (n, height, width, channels).")
    if channels is not None and array.shape[-1] != channels:
        raise ValueError(f"{name} has {array.shape[-1]} channels; expected {channels}.")
    if array.size == 0:
        raise ValueError(f"{name} is empty; give at least one image.")
    return check_image_range(name, array, low, high, hint="")


def from_ganlib(images) -> np.ndarray:
    """ganlib's images in [-1, 1] -> the classic model's [0, 1] (same shape, float32)."""
    array = _check_images("images", images, -1.0, 1.0)
    return np.clip((array + 1.0) / 2.0, 0.0, 1.0)


def to_ganlib(images, rgb: bool = False) -> np.ndarray:
    """The classic model's images in [0, 1] -> ganlib's [-1, 1].

    With ``rgb=True`` an RGBA batch is first composited on a white background
    (``rgb * alpha + 1 * (1 - alpha)``) and returned with 3 channels, the form the RGB models,
    plots and metrics of the rest of the lesson use.
    """
    array = _check_images("images", images, 0.0, 1.0)
    array = np.clip(array, 0.0, 1.0)
    if rgb:
        if array.shape[-1] != 4:
            raise ValueError(f"images has {array.shape[-1]} channels; rgb=True needs RGBA (4 channels).")
        alpha = array[..., 3:4]
        array = array[..., :3] * alpha + (1.0 - alpha)
    return array * 2.0 - 1.0


class ClassicGAN:
    """The original training loop: discriminator pre-training, then 10 D steps per G step.

    Args:
        images: the training images in the classic model's format, float in [0, 1], shape
            (n, 28, 28, 4) for the original (use ``from_ganlib`` to convert ganlib's [-1, 1]).
        latent_dim, filters, d_filters, dropout_rate: the networks' sizes (``filters`` of
            ``classic_generator``, ``d_filters`` the ``filters`` of ``classic_discriminator``;
            original 100, 200, 256, 0.25); ignored for a network passed in.
        batch_size: real images per step, matched by as many generated ones (original: 32).
        d_steps: discriminator steps per generator step (original: 10).
        pretrain_iterations: discriminator steps of (re-)training (original: 100).
        retrain_threshold: re-train D when its loss after the D steps exceeds this (original: 1).
        g_learning_rate, d_learning_rate: Adam's step sizes (original: 1e-3 and 1e-4;
            Keras' other Adam defaults, beta_1 0.9, beta_2 0.999).
        seed: seeds the sampling of real batches and of the noise (NumPy generator).
        generator, discriminator: existing networks to train instead of fresh ones.

    ``history`` holds, per iteration, ``d_loss`` (the last of the D steps, the value the
    original compares with the threshold), ``g_loss`` and ``iteration_seconds`` (wall time,
    re-training included); ``retrained_at`` lists the iterations that triggered a
    re-training; ``pretrain_loss`` / ``pretrain_seconds`` the (re-)training runs;
    ``labels`` holds the reports of ``mean_labels``; ``seconds`` the time spent in ``train``.
    """

    def __init__(self, images, latent_dim: int = 100, filters: int = 200, d_filters: int = 256,
                 dropout_rate: float = 0.25,
                 batch_size: int = 32, d_steps: int = 10, pretrain_iterations: int = 100,
                 retrain_threshold: float = 1.0, g_learning_rate: float = 1e-3,
                 d_learning_rate: float = 1e-4, seed: int = 0, generator=None, discriminator=None):
        self.images = _check_images("images", images, 0.0, 1.0)
        height, width, channels = self.images.shape[1:]
        if height != width:
            raise ValueError(f"images are {height}x{width}; the classic model needs square images.")
        self.latent_dim = check_positive("latent_dim", latent_dim, integer=True)
        self.batch_size = check_positive("batch_size", batch_size, integer=True)
        self.d_steps = check_positive("d_steps", d_steps, integer=True)
        if isinstance(pretrain_iterations, bool) or not isinstance(pretrain_iterations, (int, np.integer)) \
                or pretrain_iterations < 0:
            raise ValueError(f"pretrain_iterations={pretrain_iterations!r} must be an integer >= 0.")
        self.pretrain_iterations = int(pretrain_iterations)
        self.retrain_threshold = check_non_negative("retrain_threshold", retrain_threshold)
        check_positive("g_learning_rate", g_learning_rate)
        check_positive("d_learning_rate", d_learning_rate)
        self.rng = np.random.default_rng(seed)
        self.generator = generator or classic_generator(self.latent_dim, height, channels, filters)
        self.discriminator = discriminator or classic_discriminator(height, channels, dropout_rate, d_filters)
        if self.generator.output_shape[1:] != self.images.shape[1:]:
            raise ValueError(f"the generator makes images of shape {self.generator.output_shape[1:]} but "
                             f"images have shape {self.images.shape[1:]}.")
        self.g_optimizer = keras.optimizers.Adam(g_learning_rate)
        self.d_optimizer = keras.optimizers.Adam(d_learning_rate)
        self.iteration = 0
        self.history = {"d_loss": [], "g_loss": [], "iteration_seconds": [], "retrained_at": [],
                        "pretrain_loss": [], "pretrain_seconds": 0.0, "labels": [], "seconds": 0.0}
        self._d_step = tf.function(self._discriminator_step)
        self._g_step = tf.function(self._generator_step)

    # -- the numerical steps ------------------------------------------------------------
    def _discriminator_step(self, real, noise):
        """One ``train_on_batch`` of D on [generated, real] with labels [GENERATED, REAL]."""
        # The original makes its fakes with generator.predict: inference mode (BN moving averages).
        fake = self.generator(noise, training=False)
        n_fake, n_real = tf.shape(fake)[0], tf.shape(real)[0]
        images = tf.concat([fake, real], axis=0)
        labels = tf.concat([tf.tile(tf.constant([GENERATED_LABEL]), [n_fake, 1]),
                            tf.tile(tf.constant([REAL_LABEL]), [n_real, 1])], axis=0)
        with tf.GradientTape() as tape:
            predicted = self.discriminator(images, training=True)
            loss = tf.reduce_mean(keras.losses.categorical_crossentropy(labels, predicted))
        weights = self.discriminator.trainable_weights
        self.d_optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))
        return loss

    def _generator_step(self, noise):
        """One ``train_on_batch`` of the G -> frozen D stack towards the label REAL.

        Only the generator's weights receive the update (D is frozen); D still runs in
        training mode (dropout on), as it did inside the original stacked model.
        """
        labels = tf.tile(tf.constant([REAL_LABEL]), [tf.shape(noise)[0], 1])
        with tf.GradientTape() as tape:
            predicted = self.discriminator(self.generator(noise, training=True), training=True)
            loss = tf.reduce_mean(keras.losses.categorical_crossentropy(labels, predicted))
        weights = self.generator.trainable_weights
        self.g_optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))
        return loss

    # -- sampling ------------------------------------------------------------------------
    def noise(self, n: int) -> np.ndarray:
        """``n`` noise vectors from U[0, 1)^latent_dim, as the original (numpy.random.rand)."""
        return self.rng.random((n, self.latent_dim), dtype=np.float32)

    def sample_real(self, n: int) -> np.ndarray:
        """``n`` training images drawn uniformly *with* replacement, as the original."""
        return self.images[self.rng.integers(0, len(self.images), n)]

    def generate(self, n: int = 16, noise=None, batch_size: int = 256) -> np.ndarray:
        """Generated images in the classic format ([0, 1], RGBA); G in inference mode.

        Made ``batch_size`` at a time (the generator's 28x28x200 layer takes 0.6 MB per image).
        """
        if noise is None:
            noise = self.noise(check_positive("n", n, integer=True))
        noise = np.asarray(noise, np.float32)
        return np.concatenate([keras.ops.convert_to_numpy(self.generator(noise[start:start + batch_size],
                                                                         training=False))
                               for start in range(0, len(noise), batch_size)])

    def generate_ganlib(self, n: int = 16, noise=None, rgb: bool = True) -> np.ndarray:
        """Generated images converted to ganlib's [-1, 1] (composited on white with ``rgb``)."""
        return to_ganlib(self.generate(n, noise), rgb=rgb)

    # -- the schedule --------------------------------------------------------------------
    def pretrain_discriminator(self, iterations: int | None = None) -> float:
        """``iterations`` D steps on fresh batches (original: 100); returns the last loss."""
        iterations = self.pretrain_iterations if iterations is None else iterations
        iterations = smoke.cap(iterations, smoke.CLASSIC_ITERATIONS)  # GANLIB_SMOKE: a few
        start = time.perf_counter()
        loss = float("nan")
        for _ in range(iterations):
            loss = float(self._d_step(self.sample_real(self.batch_size), self.noise(self.batch_size)))
        self.history["pretrain_loss"].append(loss)
        self.history["pretrain_seconds"] += time.perf_counter() - start
        return loss

    def mean_labels(self, n: int | None = None, verbose: bool = True) -> dict:
        """D's mean softmax output ``[P(real), P(generated)]`` on n real and n generated images.

        The original prints these every 25 iterations (n = 100, D in inference mode). A
        discriminator that tells them apart gives about [1, 0] to real and [0, 1] to
        generated images; one that is fooled gives both the same.
        """
        n = ORIGINAL["report_samples"] if n is None else check_positive("n", n, integer=True)
        real = keras.ops.convert_to_numpy(self.discriminator(self.sample_real(n), training=False)).mean(axis=0)
        fake = keras.ops.convert_to_numpy(self.discriminator(self.generate(n), training=False)).mean(axis=0)
        report = {"iteration": self.iteration, "real": real.tolist(), "generated": fake.tolist()}
        self.history["labels"].append(report)
        if verbose:
            print(f"iteration {self.iteration:5d}: mean label [real, generated] given to real data "
                  f"[{real[0]:.4f}, {real[1]:.4f}], to generated data [{fake[0]:.4f}, {fake[1]:.4f}]",
                  flush=True)
        return report

    def train(self, iterations: int = 2000, report_every: int = 25, pretrain: bool = True,
              verbose: bool = True, callback=None) -> dict:
        """The original schedule; returns ``history``.

        If ``pretrain`` and nothing was trained yet, D is first pre-trained. Each iteration:
        ``d_steps`` D steps; if the last D loss exceeds ``retrain_threshold``, re-run the
        pre-training; then one G step through the frozen D. Every ``report_every`` iterations
        ``mean_labels`` is recorded (and printed with ``verbose``), and ``callback(self)`` is
        called if given. Calling ``train`` again continues where it stopped.

        Defaults from Monceaux 2017: 2000 iterations, a report every 25. Under
        ``GANLIB_SMOKE=1`` at most ``smoke.CLASSIC_ITERATIONS``, pre-training included.
        """
        iterations = smoke.cap(check_positive("iterations", iterations, integer=True), smoke.CLASSIC_ITERATIONS)
        report_every = check_positive("report_every", report_every, integer=True)
        start = time.perf_counter()
        if pretrain and self.iteration == 0 and not self.history["pretrain_loss"]:
            loss = self.pretrain_discriminator()
            if verbose:
                print(f"pre-trained the discriminator for {self.pretrain_iterations} steps: loss {loss:.4f} "
                      f"({time.perf_counter() - start:.0f} s)", flush=True)
            self.mean_labels(verbose=verbose)
        first = self.iteration
        for _ in range(iterations):
            iteration_start = time.perf_counter()
            for _ in range(self.d_steps):
                d_loss = float(self._d_step(self.sample_real(self.batch_size), self.noise(self.batch_size)))
            self.history["d_loss"].append(d_loss)
            if d_loss > self.retrain_threshold:
                self.history["retrained_at"].append(self.iteration + 1)
                if verbose:
                    print(f"iteration {self.iteration + 1:5d}: D loss {d_loss:.3f} > {self.retrain_threshold:g}, "
                          "re-training the discriminator", flush=True)
                self.pretrain_discriminator()
            self.history["g_loss"].append(float(self._g_step(self.noise(self.batch_size))))
            self.history["iteration_seconds"].append(time.perf_counter() - iteration_start)
            self.iteration += 1
            if self.iteration % report_every == 0:
                if verbose:
                    done = self.iteration - first
                    elapsed = time.perf_counter() - start
                    eta = elapsed / done * (iterations - done)
                    print(f"[{done}/{iterations}, {elapsed:.0f} s, about {eta:.0f} s left] d_loss "
                          f"{d_loss:.4f}, g_loss {self.history['g_loss'][-1]:.4f}", file=sys.stdout)
                self.mean_labels(verbose=verbose)
                if callback is not None:
                    callback(self)
        self.history["seconds"] += time.perf_counter() - start
        return self.history

    # -- diagnostics for the lesson ------------------------------------------------------
    def diagnostics(self, n: int = 256) -> dict:
        """Measurements that explain how the run went (used by lesson 03).

        * ``d_real_to_fakes_inference``: mean P(real) that D (inference mode) gives to fakes
          made by G in *inference* mode: the fakes D is trained on (``generator.predict``
          in the original);
        * ``d_real_to_fakes_training``: the same for fakes made by G in *training* mode
          (batch statistics): the fakes G is trained through in the stacked model;
        * ``pixel_gap``: mean absolute difference, in [0, 1] pixel units, between the two
          kinds of fakes for the same noise (batch norm's moving averages versus batch
          statistics);
        * ``dead_features`` / ``features``: outputs of D's last convolution (ReLU, 2
          channels) that are zero for all ``n`` real and ``n`` generated images: the dense
          softmax layer gets no signal (and no gradient) through them;
        * ``d_steps`` / ``g_steps``: updates made so far by each network.

        G's batch-norm moving averages are restored afterwards, so measuring changes nothing.
        """
        n = check_positive("n", n, integer=True)
        noise = self.noise(n)
        saved = [weight.numpy().copy() for weight in self.generator.non_trainable_weights]
        try:
            training_fakes = keras.ops.convert_to_numpy(self.generator(noise, training=True))
        finally:
            for weight, value in zip(self.generator.non_trainable_weights, saved):
                weight.assign(value)
        inference_fakes = self.generate(noise=noise)

        def p_real(images):
            return float(keras.ops.convert_to_numpy(self.discriminator(images, training=False))[:, 0].mean())

        last_conv = [layer for layer in self.discriminator.layers if isinstance(layer, keras.layers.Conv2D)][-1]
        probe = keras.Model(self.discriminator.input, last_conv.output)
        features = np.concatenate([keras.ops.convert_to_numpy(probe(self.sample_real(n), training=False)),
                                   keras.ops.convert_to_numpy(probe(inference_fakes, training=False))])
        features = features.reshape(len(features), -1)
        return {
            "d_real_to_fakes_inference": p_real(inference_fakes),
            "d_real_to_fakes_training": p_real(training_fakes),
            "pixel_gap": float(np.abs(training_fakes - inference_fakes).mean()),
            "dead_features": int((features.max(axis=0) <= 0).sum()),
            "features": int(features.shape[1]),
            "d_steps": int(self.d_optimizer.iterations.numpy()),
            "g_steps": int(self.g_optimizer.iterations.numpy()),
        }
