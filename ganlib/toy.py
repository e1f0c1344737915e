"""Low-dimensional targets and small GANs: the playground of lessons 01 and 04.

* Targets: ``gaussian_1d``, ``mixture_1d`` (1-D, with an exact ``pdf``),
  ``ring_of_gaussians`` and ``grid_of_gaussians`` (2-D, with their mode ``centers`` and
  ``.coverage(samples)``). Each has ``.sample(n, seed)``.
* Networks: ``toy_generator`` and ``toy_discriminator``, small multi-layer perceptrons.
* Training: ``train_toy_gan`` drives ``ganlib.train.GAN`` or ``ganlib.train.WGANGP`` (the
  one training step the whole series uses) and records losses, the Wasserstein-1 distance
  to the target and snapshots of the generator and the discriminator along the way.
* Pictures: ``plot_snapshots_1d`` (panels in the manner of Goodfellow et al. 2014, fig. 1),
  ``plot_snapshots_2d`` (D or critic contours under samples), ``plot_w1`` (W1 against
  steps) and ``animate_1d`` (a small GIF of the whole run). Loss curves:
  ``ganlib.plotting.plot_history`` takes the history dict as it is.
"""
from __future__ import annotations

import math
import time
import types

import keras
import numpy as np

from . import smoke
from ._checks import check_choice, check_non_negative, check_positive, check_range, check_same_length, check_seed

LOSSES = ("gan", "wgan-gp")

__all__ = [
    "Gaussian1D",
    "Mixture1D",
    "RingOfGaussians",
    "GridOfGaussians",
    "gaussian_1d",
    "mixture_1d",
    "ring_of_gaussians",
    "grid_of_gaussians",
    "toy_generator",
    "toy_discriminator",
    "train_toy_gan",
    "InstanceNoise",
    "PackSamples",
    "draw_snapshot_1d",
    "plot_snapshots_1d",
    "plot_snapshots_2d",
    "plot_w1",
    "w1_floor",
    "animate_1d",
]


# --------------------------------------------------------------------------- targets
def _rng(seed):
    """A NumPy generator: from ``seed``, or from NumPy's global state (seeded by ganlib.setup)."""
    if seed is None:
        seed = int(np.random.randint(0, 2**31 - 1))
    return np.random.default_rng(seed)


def _numbers(name, values):
    """``values`` (a number or a sequence of numbers) as a list of Python floats."""
    try:
        return [float(value) for value in np.ravel(values)]
    except (TypeError, ValueError):
        raise ValueError(f"{name}={values!r} must be a list of numbers.") from None


def _normal_pdf(x, mean, std):
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2.0 * math.pi))


class Gaussian1D:
    """The normal distribution N(mean, std^2) on the real line."""

    #: The dimension of a sample.
    dim = 1

    def __init__(self, mean: float, std: float):
        self.mean = float(mean)
        self.std = check_positive("std", std)
        if not math.isfinite(self.mean):
            raise ValueError(f"mean={mean!r} must be a finite number.")

    def sample(self, n: int, seed=None) -> np.ndarray:
        """``n`` samples as a float32 array of shape (n, 1)."""
        n = check_positive("n", n, integer=True)
        values = _rng(seed).normal(self.mean, self.std, size=(n, 1))
        return values.astype(np.float32)

    def pdf(self, x) -> np.ndarray:
        """The density at ``x`` (any shape)."""
        return _normal_pdf(np.asarray(x, dtype=np.float64), self.mean, self.std)

    @property
    def plot_range(self) -> tuple:
        """An interval holding the target with room to spare (mean +- 4 std), for plots."""
        return (self.mean - 4.0 * self.std, self.mean + 4.0 * self.std)

    def __repr__(self):
        return f"gaussian_1d(mean={self.mean:g}, std={self.std:g})"


class Mixture1D:
    """A mixture of 1-D normals: p(x) = sum_i weights[i] * N(x; means[i], stds[i]^2)."""

    #: The dimension of a sample.
    dim = 1

    def __init__(self, means, stds, weights):
        means, stds, weights = (_numbers(name, values) for name, values in
                                (("means", means), ("stds", stds), ("weights", weights)))
        check_same_length(means=means, stds=stds, weights=weights)
        if not means:
            raise ValueError("means is empty; give at least one component.")
        for index, std in enumerate(stds):
            check_positive(f"stds[{index}]", std)
        for index, weight in enumerate(weights):
            if not (float(weight) >= 0.0):
                raise ValueError(f"weights[{index}]={weight!r} must be >= 0.")
        total = float(np.sum(weights))
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(f"weights={weights!r} sum to {total:g}; they must sum to 1.")
        self.means = np.asarray(means, dtype=np.float64)
        self.stds = np.asarray(stds, dtype=np.float64)
        self.weights = np.asarray(weights, dtype=np.float64) / total

    def sample(self, n: int, seed=None) -> np.ndarray:
        """``n`` samples as a float32 array of shape (n, 1)."""
        n = check_positive("n", n, integer=True)
        rng = _rng(seed)
        component = rng.choice(len(self.means), size=n, p=self.weights)
        values = rng.normal(self.means[component], self.stds[component])
        return values.reshape(n, 1).astype(np.float32)

    def pdf(self, x) -> np.ndarray:
        """The density at ``x`` (any shape)."""
        x = np.asarray(x, dtype=np.float64)
        return sum(w * _normal_pdf(x, m, s) for m, s, w in zip(self.means, self.stds, self.weights))

    def mode_fractions(self, samples, width: float = 3.0) -> np.ndarray:
        """Fraction of ``samples`` lying within ``width`` stds of each component's mean.

        For a generator that covers every mode in the right proportion this is close to
        ``weights`` (times 0.997 for width 3); a collapsed generator puts ~0 in some modes.
        """
        samples = np.asarray(samples, dtype=np.float64).reshape(-1, 1)
        inside = np.abs(samples - self.means[None, :]) <= width * self.stds[None, :]
        return inside.mean(axis=0)

    @property
    def plot_range(self) -> tuple:
        """An interval holding the target with room to spare, for plots."""
        return (float(np.min(self.means - 4 * self.stds)), float(np.max(self.means + 4 * self.stds)))

    def __repr__(self):
        return (f"mixture_1d(means={self.means.tolist()}, stds={self.stds.tolist()}, "
                f"weights={self.weights.tolist()})")


class _Modes2D:
    """Equal 2-D normals of std ``std`` at ``centers`` (n_modes, 2), equally weighted."""

    #: The dimension of a sample.
    dim = 2

    def sample(self, n: int, seed=None) -> np.ndarray:
        """``n`` samples as a float32 array of shape (n, 2)."""
        n = check_positive("n", n, integer=True)
        rng = _rng(seed)
        mode = rng.integers(0, self.n_modes, size=n)
        values = self.centers[mode] + rng.normal(0.0, self.std, size=(n, 2))
        return values.astype(np.float32)

    def pdf(self, points) -> np.ndarray:
        """The density at ``points`` of shape (..., 2)."""
        points = np.asarray(points, dtype=np.float64)
        squared = np.sum((points[..., None, :] - self.centers) ** 2, axis=-1)
        normal = np.exp(-0.5 * squared / self.std**2) / (2.0 * np.pi * self.std**2)
        return normal.mean(axis=-1)

    def coverage(self, samples) -> dict:
        """``ganlib.metrics.mode_coverage`` of ``samples`` around these centres (modes
        captured, high-quality fraction, reverse KL; VEEGAN/PacGAN protocol)."""
        from .metrics import mode_coverage

        return mode_coverage(samples, self.centers, self.std)


class RingOfGaussians(_Modes2D):
    """``n_modes`` equal 2-D normals of std ``std`` evenly spaced on a circle of ``radius``.

    Centre k sits at angle ``2 pi k / n_modes``, k = 0 .. n_modes - 1: spacing the angles
    with ``linspace(0, 2 pi, n_modes)`` (end point included) would put the last centre on
    the first and leave n_modes - 1 distinct modes.
    """

    def __init__(self, n_modes: int = 8, radius: float = 2.0, std: float = 0.02):
        self.n_modes = check_positive("n_modes", n_modes, integer=True)
        self.radius = check_positive("radius", radius)
        self.std = check_positive("std", std)
        angles = 2.0 * np.pi * np.arange(self.n_modes) / self.n_modes
        self.centers = self.radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)

    @property
    def plot_range(self) -> tuple:
        """An interval holding the target with room to spare, for plots."""
        extent = 1.5 * self.radius
        return (-extent, extent)

    def __repr__(self):
        return f"ring_of_gaussians(n_modes={self.n_modes}, radius={self.radius:g}, std={self.std:g})"


class GridOfGaussians(_Modes2D):
    """``n_per_side**2`` equal 2-D normals of std ``std`` on a square grid ``spacing`` apart,
    centred on the origin: for 5 per side and spacing 2, centres {-4, -2, 0, 2, 4}^2."""

    def __init__(self, n_per_side: int = 5, spacing: float = 2.0, std: float = 0.05):
        self.n_per_side = check_positive("n_per_side", n_per_side, integer=True)
        self.spacing = check_positive("spacing", spacing)
        self.std = check_positive("std", std)
        self.n_modes = self.n_per_side**2
        axis = self.spacing * (np.arange(self.n_per_side) - (self.n_per_side - 1) / 2.0)
        xx, yy = np.meshgrid(axis, axis, indexing="ij")
        self.centers = np.stack([xx.ravel(), yy.ravel()], axis=1)

    @property
    def plot_range(self) -> tuple:
        """An interval holding the target with room to spare, for plots."""
        extent = float(np.abs(self.centers).max()) + 0.5 * self.spacing
        return (-extent, extent)

    def __repr__(self):
        return (f"grid_of_gaussians(n_per_side={self.n_per_side}, spacing={self.spacing:g}, "
                f"std={self.std:g})")


def gaussian_1d(mean: float = 4.0, std: float = 0.5) -> Gaussian1D:
    """N(mean, std^2). Defaults N(4, 0.5): the target of the classic 1-D toy GAN
    (Goodfellow et al. 2014, fig. 1, as reproduced by AYLIEN's gan-intro)."""
    return Gaussian1D(mean, std)


def mixture_1d(means, stds, weights) -> Mixture1D:
    """A 1-D mixture of normals; ``means``, ``stds`` and ``weights`` have the same length and
    the weights sum to 1."""
    return Mixture1D(means, stds, weights)


def ring_of_gaussians(n_modes: int = 8, radius: float = 2.0, std: float = 0.02) -> RingOfGaussians:
    """The 2-D ring of Gaussians of the mode-collapse literature. Defaults (8 modes,
    radius 2, std 0.02) are those of Metz et al. 2017 (unrolled GANs), also used by
    Srivastava et al. 2017 (VEEGAN). The mode-collapse benchmark of VEEGAN's Table 1 and
    PacGAN (Lin et al. 2018) as ganlib runs it uses radius 1 and std 0.01
    (``benchmarks/mode_collapse.py``)."""
    return RingOfGaussians(n_modes, radius, std)


def grid_of_gaussians(n_per_side: int = 5, spacing: float = 2.0, std: float = 0.05) -> GridOfGaussians:
    """The 2-D grid of Gaussians of the mode-collapse literature: defaults (5 x 5 = 25 modes
    at {-4, -2, 0, 2, 4}^2, std 0.05) are those of VEEGAN (Srivastava et al. 2017, Table 1)
    and PacGAN (Lin et al. 2018)."""
    return GridOfGaussians(n_per_side, spacing, std)


# --------------------------------------------------------------------------- networks
class InstanceNoise(keras.layers.Layer):
    """Adds N(0, stddev^2) noise to its input in training, nothing at inference.

    Instance noise (Sønderby et al. 2016; Arjovsky & Bottou 2017): when the discriminator
    sees real and generated samples both blurred by the same noise, the two blurred
    densities overlap even where the originals do not, so D's verdict, and the
    generator's gradient, reach modes the generator has not found yet. Blurring both
    sides by the same kernel keeps p_g = p_data as the solution of the game. ``stddev``
    is a non-trainable variable, so a schedule can lower it during training.
    """

    def __init__(self, stddev: float, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.initial_stddev = check_non_negative("stddev", stddev)
        self.stddev = self.add_weight(shape=(), initializer=keras.initializers.Constant(stddev),
                                      trainable=False, name="stddev")
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if not training:
            return inputs
        noise = keras.random.normal(keras.ops.shape(inputs), seed=self.seed_generator)
        return inputs + self.stddev * noise

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "stddev": self.initial_stddev}


class PackSamples(keras.layers.Layer):
    """Packing (Lin et al. 2018, PacGAN): a batch of n samples of d features becomes n / m
    packs of m * d features, m consecutive samples side by side, so the discriminator
    judges m samples at once. Real packs hold m independent data samples, generated packs
    m independent generator samples; a generator that drops modes makes packs that are
    visibly less varied than real ones, which a single-sample discriminator cannot see.
    """

    def __init__(self, pack: int, **kwargs):
        super().__init__(**kwargs)
        self.pack = check_positive("pack", pack, integer=True)

    def call(self, inputs):
        features = inputs.shape[-1]
        return keras.ops.reshape(inputs, (-1, self.pack * features))

    def compute_output_shape(self, input_shape):
        return (None, self.pack * input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "pack": self.pack}


def _dense_stack(inputs, hidden_units, hidden_layers, activation, seed, prefix):
    x = inputs
    for index in range(hidden_layers):
        x = keras.layers.Dense(
            hidden_units,
            activation=activation,
            kernel_initializer=keras.initializers.GlorotUniform(seed=None if seed is None else seed + index),
            name=f"{prefix}_dense_{index + 1}",
        )(x)
    return x


def toy_generator(latent_dim: int = 1, output_dim: int = 1, hidden_units: int = 16,
                  hidden_layers: int = 2, activation: str = "tanh", seed=None, name="generator"):
    """A small MLP generator z (latent_dim,) -> x (output_dim,), linear output.

    Defaults: a few smooth hidden units, as in the 1-D toy of Goodfellow et al. 2014 (fig. 1)
    and AYLIEN's gan-intro; ``seed`` makes the initial weights reproducible.
    """
    latent_dim = check_positive("latent_dim", latent_dim, integer=True)
    output_dim = check_positive("output_dim", output_dim, integer=True)
    hidden_units = check_positive("hidden_units", hidden_units, integer=True)
    hidden_layers = check_positive("hidden_layers", hidden_layers, integer=True)
    z = keras.Input(shape=(latent_dim,), name="z")
    x = _dense_stack(z, hidden_units, hidden_layers, activation, seed, "generator")
    x = keras.layers.Dense(
        output_dim,
        kernel_initializer=keras.initializers.GlorotUniform(seed=None if seed is None else seed + 100),
        name="generator_output",
    )(x)
    return keras.Model(z, x, name=name)


def toy_discriminator(input_dim: int = 1, hidden_units: int = 16, hidden_layers: int = 2,
                      activation: str = "tanh", instance_noise: float = 0.0, seed=None,
                      name="discriminator"):
    """A small MLP discriminator x (input_dim,) -> one logit (or a critic score).

    No batch normalisation, so it also serves as a WGAN-GP critic (Gulrajani et al. 2017).
    ``instance_noise`` > 0 puts an ``InstanceNoise`` layer of that std in front (it acts
    only in training; ``train_toy_gan`` anneals it).
    """
    input_dim = check_positive("input_dim", input_dim, integer=True)
    hidden_units = check_positive("hidden_units", hidden_units, integer=True)
    hidden_layers = check_positive("hidden_layers", hidden_layers, integer=True)
    x_in = keras.Input(shape=(input_dim,), name="x")
    h = x_in
    if instance_noise:
        h = InstanceNoise(instance_noise, seed=seed, name="instance_noise")(h)
    h = _dense_stack(h, hidden_units, hidden_layers, activation, seed, "discriminator")
    logit = keras.layers.Dense(
        1,
        kernel_initializer=keras.initializers.GlorotUniform(seed=None if seed is None else seed + 100),
        name="discriminator_logit",
    )(h)
    return keras.Model(x_in, logit, name=name)


# --------------------------------------------------------------------------- training
def _grid_for(target, grid_size):
    """The points where snapshots evaluate D: the target's plot range, widened in 1-D to
    include [-2, 2], where a freshly initialised generator puts its samples."""
    low, high = target.plot_range
    if target.dim == 1:
        low, high = min(low, -2.0), max(high, 2.0)
        return np.linspace(low, high, grid_size, dtype=np.float32).reshape(-1, 1)
    axis = np.linspace(low, high, grid_size, dtype=np.float32)
    xx, yy = np.meshgrid(axis, axis)
    return np.stack([xx.ravel(), yy.ravel()], axis=1)


def train_toy_gan(target, steps: int, loss: str = "gan", d_steps=None, seed: int = 0, *,
                  batch_size=None, latent_dim=None, hidden_units=None, hidden_layers=None,
                  learning_rate=None, decay_to=None, generator_loss: str = "non-saturating",
                  gp_weight=None, penalty=None, instance_noise: float = 0.0, pack: int = 1,
                  ema_decay=None, record_every=None, snapshot_steps=None, n_snapshots: int = 6,
                  eval_samples: int = 10_000, grid_size=None, generator=None, discriminator=None,
                  verbose: bool = False) -> dict:
    """Train a small GAN (or WGAN-GP) on a toy target and record what happens.

    Each of the ``steps`` generator steps is ``d_steps`` calls of ``ganlib.train.GAN.train_step``
    (or ``WGANGP.train_step``): ``d_steps`` discriminator updates, each on its own real batch,
    then one generator update (Goodfellow et al. 2014, Algorithm 1). The steps between two
    records run inside one ``tf.function``, so Python's overhead is paid once per interval.
    Every default below was measured; the runs behind each are in ``benchmarks/README.md``
    ("Measurements moved from docstrings").

    Args:
        target: ``gaussian_1d``, ``mixture_1d``, ``ring_of_gaussians`` or ``grid_of_gaussians``
            (anything with ``dim``, ``sample(n, seed)`` and ``plot_range``).
        steps: generator steps (> 0); at most ``smoke.TOY_STEPS`` under ``GANLIB_SMOKE=1``.
        loss: 'gan' (Goodfellow et al. 2014) or 'wgan-gp' (Gulrajani et al. 2017).
        d_steps: k, discriminator (critic) updates per generator step. None: 5 (n_critic of
            Gulrajani et al.; for 'gan' in 1-D, k = 5 ends 5-10x closer to the target than the
            k = 1 of Goodfellow et al.'s experiments), except 1 for 'gan' on 2-D targets.
        seed: seeds the initial weights, the noise and the real batches: same seed, same run.
        batch_size: examples per batch. None: 64 (the 1-D toy literature uses 8 to 64), 512
            for 'gan' on 2-D targets.
        latent_dim: size of z ~ N(0, I). None: the target's dimension.
        hidden_units: units per hidden layer. None: 16 in 1-D, 128 in 2-D (Metz et al. 2017
            use 128 for the ring).
        hidden_layers: hidden layers in each network. None: 2, or 3 for 'gan' on 2-D targets.
            The default networks use tanh, or ReLU for 'gan' on 2-D targets (with k = 1, 512
            and 2e-3: the toy recipe of ``benchmarks/mode_collapse.py``).
        learning_rate: Adam's step size, one number or a pair (discriminator, generator).
            None: 1e-3 (the 1-D toy literature), 2e-3 for 'gan' on 2-D targets. Adam uses
            beta_1 = 0.5 (Radford et al. 2015) and, for 'wgan-gp', beta_2 = 0.9 (Gulrajani
            et al. 2017).
        decay_to: the learning rates follow a cosine decay (Loshchilov & Hutter 2017) down
            to ``decay_to`` times their start value at the last step; 1.0 keeps them constant,
            as Goodfellow et al. 2014 do; a pair gives (discriminator, generator) values.
            None: 0.0 (a constant rate leaves the GAN oscillating about the target), and
            (1.0, 0.0) for 'wgan-gp' on 1-D targets (the critic keeps its rate and stays
            accurate while the generator settles).
        generator_loss: 'non-saturating' (default; Goodfellow et al. 2014's advice) or
            'saturating' (the minimax loss as written); 'gan' only.
        gp_weight: lambda of the gradient penalty. None: 1.0 on 1-D targets (with the
            one-sided penalty), 0.1 on 2-D ones, the value of Gulrajani et al.'s toy
            experiments (their image experiments use 10).
        penalty: the gradient penalty of 'wgan-gp': 'two-sided' (Gulrajani et al. 2017) or
            'one-sided' (Petzka et al. 2018, ``max(0, |grad f| - 1)^2``; see
            ``ganlib.train.WGANGP``). None: 'one-sided' on 1-D targets, where the two-sided
            penalty's minima at slopes +1 and -1 leave a barrier at slope 0 that stalls the
            critic, and 'two-sided' on 2-D ones.
        instance_noise: std of the Gaussian noise the default discriminator adds to its
            inputs in training (``InstanceNoise``; Sønderby et al. 2016), lowered linearly to
            0 at the last step; 0 (default) adds none. A discriminator of your own is
            annealed the same way if it has ``InstanceNoise`` layers.
        pack: m of PacGAN (Lin et al. 2018): the discriminator judges packs of m samples
            concatenated, m * dim features (``PackSamples`` in front of it); 1 (default)
            judges single samples, the plain GAN. ``batch_size`` counts samples, so D sees
            ``batch_size / pack`` packs per batch (PacGAN's 2-D runs: 100 packs, i.e.
            ``batch_size = 100 * pack``). 'gan' only: the gradient penalty of 'wgan-gp' is
            taken per sample, not per pack. Snapshots show D on packs of m copies of each
            grid point.
        ema_decay: None (default), or the decay of a running average of the generator's
            weights (as ``GAN(ema_decay=...)``; Yazici et al. 2019 average GAN weights on
            mixtures of Gaussians too): the snapshots, the recorded W1 and
            ``history['generator']`` then come from the average, and
            ``history['trained_generator']`` is the generator itself. Not a default: the
            lessons' short runs were measured without it.
        record_every: steps between records of the losses and W1. None: about 60 records.
        snapshot_steps: steps at which to store a snapshot. None: ``n_snapshots`` steps
            spread from 0 to ``steps`` (more of them early, where most happens).
        n_snapshots: how many snapshots when ``snapshot_steps`` is None (default 6; fewer only
            when the run has fewer than ``n_snapshots - 1`` steps).
        eval_samples: generated and target samples for W1 (10k each, as API.md says).
        grid_size: points per axis of the grid D is evaluated on. None: 400 (1-D), 60 (2-D).
        generator: a keras.Model of your own to train instead of the default MLP.
        discriminator: a keras.Model of your own to train instead of the default MLP (it
            takes ``pack * dim`` features).
        verbose: print one line per record.

    Returns:
        dict: lists aligned with ``history['step']``: 'd_loss', 'g_loss' (means over each
        interval) and the model's other metrics ('d_real', 'd_fake' for 'gan'; 'gp',
        'wasserstein' for 'wgan-gp'); 'w1' for 1-D targets (Wasserstein-1 between
        ``eval_samples`` generated and target samples, from ``ganlib.metrics``);
        'snapshots': dicts with 'step', 'samples', 'grid', 'd' (sigmoid(D) for 'gan', the raw
        critic score for 'wgan-gp') and, in 1-D, 'w1', 'z', 'x_of_z'; plus 'generator' (the
        one to sample from: the running average with ``ema_decay``), 'trained_generator',
        'discriminator', 'model' (the trained GAN/WGANGP), 'target', 'loss', 'd_steps',
        'seconds' (time spent in the compiled training loop, tracing included) and
        'wall_seconds' (the whole call after setup, records and snapshots included).

    Raises:
        ValueError: an argument out of its range, a target that is not a toy target, or a
            combination that does not apply (``pack`` or ``generator_loss`` with 'wgan-gp',
            a batch size that is not a multiple of ``pack``, a discriminator whose input does
            not take ``pack * dim`` features).
    """
    settings = _toy_settings(target, steps, loss, d_steps, seed, batch_size=batch_size,
                             latent_dim=latent_dim, hidden_units=hidden_units,
                             hidden_layers=hidden_layers, learning_rate=learning_rate,
                             generator_loss=generator_loss, gp_weight=gp_weight, penalty=penalty,
                             pack=pack, record_every=record_every, snapshot_steps=snapshot_steps,
                             n_snapshots=n_snapshots, eval_samples=eval_samples, grid_size=grid_size)
    generator, discriminator, judge, noise_layers = _toy_networks(settings, generator, discriminator,
                                                                  instance_noise)
    model, sampler = _toy_model(settings, generator, discriminator, judge, ema_decay, decay_to)
    probe = _ToyProbe(settings, target, sampler, discriminator)
    history, seconds, start = _train_and_record(settings, target, model, probe, noise_layers, verbose)
    history.update(
        generator=sampler, trained_generator=generator, discriminator=discriminator, model=model,
        target=target, loss=settings.loss,
        d_steps=settings.d_steps, seconds=seconds, wall_seconds=time.perf_counter() - start,
    )
    return history


def _toy_settings(target, steps, loss, d_steps, seed, *, batch_size, latent_dim, hidden_units,
                  hidden_layers, learning_rate, generator_loss, gp_weight, penalty, pack,
                  record_every, snapshot_steps, n_snapshots, eval_samples, grid_size):
    """``train_toy_gan``'s arguments checked, and its defaults filled in for this target and
    loss (the reasons are in its docstring). Returns them as attributes of one namespace."""
    from .train import PENALTIES

    steps = check_positive("steps", steps, integer=True)
    if smoke.active() and steps > smoke.TOY_STEPS:  # GANLIB_SMOKE: a short run, its snapshots spread over it
        if snapshot_steps is not None:
            snapshot_steps = [int(round(int(step) * smoke.TOY_STEPS / steps)) for step in snapshot_steps]
        steps = smoke.TOY_STEPS
    loss = check_choice("loss", loss, LOSSES)
    dim = getattr(target, "dim", None)
    wgan_1d = loss == "wgan-gp" and dim == 1  # 1-D WGAN-GP defaults: see gp_weight, penalty, decay_to
    gan_2d = loss == "gan" and dim == 2  # 2-D GAN defaults, the toy recipe: see d_steps, batch_size
    if d_steps is None:
        d_steps = 1 if gan_2d else 5  # see the docstring: measured for 'gan', n_critic of Gulrajani et al.
    d_steps = check_positive("d_steps", d_steps, integer=True)
    if penalty is None:
        penalty = "one-sided" if wgan_1d else "two-sided"
    penalty = check_choice("penalty", penalty, PENALTIES)
    if gp_weight is None:
        gp_weight = 1.0 if wgan_1d else 0.1
    if loss == "wgan-gp" and generator_loss != "non-saturating":
        raise ValueError(f"generator_loss={generator_loss!r} applies to loss='gan' only; the "
                         "WGAN-GP generator minimises -mean f(G(z)).")
    if batch_size is None:
        batch_size = 512 if gan_2d else 64
    batch_size = check_positive("batch_size", batch_size, integer=True)
    eval_samples = check_positive("eval_samples", eval_samples, integer=True)
    n_snapshots = check_positive("n_snapshots", n_snapshots, integer=True)
    seed = check_seed("seed", seed)
    if dim not in (1, 2) or not hasattr(target, "sample"):
        raise ValueError(f"target of type {type(target).__name__} is not a toy target (it needs "
                         "dim 1 or 2 and .sample(n, seed)); use gaussian_1d, mixture_1d, "
                         "ring_of_gaussians or grid_of_gaussians.")
    latent_dim = check_positive("latent_dim", dim if latent_dim is None else latent_dim, integer=True)
    hidden_units = hidden_units or (16 if dim == 1 else 128)
    if hidden_layers is None:
        hidden_layers = 3 if gan_2d else 2
    hidden_layers = check_positive("hidden_layers", hidden_layers, integer=True)
    if learning_rate is None:
        learning_rate = 2e-3 if gan_2d else 1e-3
    d_rate, g_rate = _rate_pair(learning_rate)
    grid_size = check_positive("grid_size", grid_size or (400 if dim == 1 else 60), integer=True)
    if record_every is None:
        record_every = max(1, steps // 60)
    record_every = check_positive("record_every", record_every, integer=True)
    snapshot_steps = _snapshot_steps(snapshot_steps, n_snapshots, steps)
    pack = check_positive("pack", pack, integer=True)
    if pack > 1 and loss != "gan":
        raise ValueError(f"pack={pack} applies to loss='gan' only (got loss={loss!r}); use pack=1.")
    if batch_size % pack:
        raise ValueError(f"batch_size={batch_size} must be a multiple of pack={pack} (D sees "
                         "batch_size / pack packs of pack samples).")
    return types.SimpleNamespace(
        steps=steps, loss=loss, dim=dim, wgan_1d=wgan_1d, d_steps=d_steps, penalty=penalty,
        gp_weight=gp_weight, generator_loss=generator_loss, batch_size=batch_size,
        eval_samples=eval_samples, seed=seed, latent_dim=latent_dim, hidden_units=hidden_units,
        hidden_layers=hidden_layers, activation="relu" if gan_2d else "tanh", d_rate=d_rate,
        g_rate=g_rate, grid_size=grid_size, record_every=record_every,
        snapshot_steps=snapshot_steps, pack=pack)


def _rate_pair(learning_rate):
    """(discriminator, generator) learning rates from one number or a pair."""
    if isinstance(learning_rate, (tuple, list)):
        if len(learning_rate) != 2:
            raise ValueError(f"learning_rate={learning_rate!r} must be one number or a pair "
                             "(discriminator_rate, generator_rate).")
        return tuple(check_positive("learning_rate", rate) for rate in learning_rate)
    rate = check_positive("learning_rate", learning_rate)
    return rate, rate


def _snapshot_steps(snapshot_steps, n_snapshots, steps):
    """The sorted steps at which to take a snapshot; None: ``n_snapshots`` of them."""
    if snapshot_steps is None:
        # Quadratic spacing: early steps, where the most happens, get more snapshots.
        fractions = np.linspace(0.0, 1.0, n_snapshots) ** 2 if n_snapshots > 1 else np.ones(1)
        chosen = [int(round(f * steps)) for f in fractions]
        if steps + 1 >= n_snapshots:  # a short run: rounding must not merge early snapshots
            for index in range(1, len(chosen) - 1):
                chosen[index] = max(chosen[index], chosen[index - 1] + 1)
            for index in range(len(chosen) - 2, 0, -1):
                chosen[index] = min(chosen[index], chosen[index + 1] - 1)
        return sorted(set(chosen))
    snapshot_steps = sorted({int(s) for s in snapshot_steps})
    for step in snapshot_steps:
        if not 0 <= step <= steps:
            raise ValueError(f"snapshot_steps contains {step}; each must lie in [0, steps={steps}].")
    return snapshot_steps


def _toy_networks(settings, generator, discriminator, instance_noise):
    """The generator and discriminator (the default MLPs unless given), what the training
    step calls as D (D itself, or D behind ``PackSamples``), and D's ``InstanceNoise`` layers."""
    s = settings
    generator = generator or toy_generator(s.latent_dim, s.dim, s.hidden_units, s.hidden_layers,
                                           s.activation, seed=s.seed)
    instance_noise = check_non_negative("instance_noise", instance_noise)
    discriminator = discriminator or toy_discriminator(
        s.pack * s.dim, s.hidden_units, s.hidden_layers, s.activation, instance_noise=instance_noise,
        seed=s.seed + 1000)
    if discriminator.input_shape[-1] != s.pack * s.dim:
        raise ValueError(f"discriminator takes {discriminator.input_shape[-1]} features; with "
                         f"pack={s.pack} and a {s.dim}-D target it must take pack * dim = {s.pack * s.dim}.")
    noise_layers = [layer for layer in discriminator.layers if isinstance(layer, InstanceNoise)]
    judge = discriminator
    if s.pack > 1:
        judge = keras.Sequential([keras.Input((s.dim,)), PackSamples(s.pack, name="pack"), discriminator],
                                 name=f"packed_{discriminator.name}")
    return generator, discriminator, judge, noise_layers


def _decay_pair(decay_to, wgan_1d):
    """(discriminator, generator) ``decay_to`` from one number or a pair; None: the default."""
    if decay_to is None:
        decay_to = (1.0, 0.0) if wgan_1d else 0.0
    if isinstance(decay_to, (tuple, list)):
        if len(decay_to) != 2:
            raise ValueError(f"decay_to={decay_to!r} must be one number or a pair "
                             "(discriminator_decay_to, generator_decay_to).")
        return tuple(check_range("decay_to", value, 0.0, 1.0) for value in decay_to)
    decay = check_range("decay_to", decay_to, 0.0, 1.0)
    return decay, decay


def _toy_model(settings, generator, discriminator, judge, ema_decay, decay_to):
    """The ``GAN`` or ``WGANGP`` around the networks, compiled with Adam and the cosine decay,
    its optimizers built; returns it and the generator to sample from."""
    from .train import GAN, WGANGP

    s = settings
    if s.loss == "gan":
        model = GAN(generator, judge, s.latent_dim, d_steps=s.d_steps,
                    generator_loss=s.generator_loss, seed=s.seed, ema_decay=ema_decay)
        beta_2 = 0.999
    else:
        model = WGANGP(generator, discriminator, s.latent_dim, n_critic=s.d_steps, gp_weight=s.gp_weight,
                       seed=s.seed, penalty=s.penalty, ema_decay=ema_decay)
        beta_2 = 0.9
    d_decay, g_decay = _decay_pair(decay_to, s.wgan_1d)

    def schedule(rate, updates, decay_to):
        if decay_to == 1.0:
            return rate
        return keras.optimizers.schedules.CosineDecay(rate, decay_steps=updates, alpha=decay_to)

    model.compile(
        d_optimizer=keras.optimizers.Adam(schedule(s.d_rate, s.steps * s.d_steps, d_decay), beta_1=0.5,
                                          beta_2=beta_2),
        g_optimizer=keras.optimizers.Adam(schedule(s.g_rate, s.steps, g_decay), beta_1=0.5, beta_2=beta_2),
    )
    model.d_optimizer.build(discriminator.trainable_variables)
    model.g_optimizer.build(generator.trainable_variables)
    return model, model.sampling_generator  # the running average with ema_decay, else the generator


class _ToyProbe:
    """What a run measures along the way: W1 of fixed noise's samples against fixed target
    samples (1-D), and snapshots of the samples and of D on a grid."""

    def __init__(self, settings, target, sampler, discriminator):
        s = self.settings = settings
        self.sampler, self.discriminator = sampler, discriminator
        rng = np.random.default_rng(s.seed)
        self.eval_target = target.sample(s.eval_samples, seed=s.seed + 1) if s.dim == 1 else None
        self.eval_z = rng.standard_normal((s.eval_samples, s.latent_dim)).astype(np.float32)
        self.grid = _grid_for(target, s.grid_size)
        self.d_grid = np.tile(self.grid, (1, s.pack))  # with packing, D sees each grid point as a pack of copies
        self.z_line = (np.linspace(-3.0, 3.0, 200, dtype=np.float32).reshape(-1, 1)
                       if s.latent_dim == 1 else None)

    def evaluate(self, z, grid):
        """Samples of ``z`` and D on ``grid``. Eager: a few calls per run (a tf.function made
        per run would be retraced for every run of a notebook's loop, and TensorFlow warns)."""
        return self.sampler(z, training=False), self.discriminator(grid, training=False)

    def w1(self) -> float:
        """W1 between the samples of the fixed noise and the fixed target samples (1-D)."""
        from .metrics import wasserstein_1d

        generated = np.asarray(self.evaluate(self.eval_z, self.d_grid[:1])[0])
        return wasserstein_1d(generated, self.eval_target)

    def snapshot(self, step) -> dict:
        """The samples, D on the grid (a probability for 'gan') and, in 1-D, W1 and the map z -> x."""
        from .metrics import wasserstein_1d

        s = self.settings
        samples, d_values = (np.asarray(t) for t in self.evaluate(self.eval_z, self.d_grid))
        d_values = d_values.reshape(-1)
        if s.loss == "gan":
            d_values = 1.0 / (1.0 + np.exp(-d_values))
        shot = {"step": step, "samples": samples[: (None if s.dim == 1 else 2000)], "grid": self.grid,
                "d": d_values if s.dim == 1 else d_values.reshape(s.grid_size, s.grid_size)}
        if s.dim == 1:
            shot["w1"] = wasserstein_1d(samples, self.eval_target)
            if self.z_line is not None:
                shot["z"] = self.z_line.ravel()
                shot["x_of_z"] = np.asarray(self.sampler(self.z_line, training=False)).ravel()
        return shot


def _real_batches(target, settings, start, stop, calls_per_step):
    """The real batches of generator steps ``start`` to ``stop`` - 1, each step's drawn from a
    seed made of (seed, step): the data a run sees does not depend on when it stops to record."""
    s = settings
    return np.concatenate([
        target.sample(calls_per_step * s.batch_size,
                      seed=int(np.random.SeedSequence([s.seed, step]).generate_state(1)[0]))
        for step in range(start, stop)
    ])


def _train_and_record(settings, target, model, probe, noise_layers, verbose):
    """The training loop: compiled steps up to each record or snapshot, then the record.
    Returns the history of records and snapshots, the seconds spent in the compiled steps
    and the ``time.perf_counter()`` at which the loop started."""
    import tensorflow as tf

    s = settings
    # One train_step is one discriminator update on its own real batch, with a generator
    # update after every d_steps-th (Algorithm 1): d_steps calls make one generator step.
    calls_per_step = s.d_steps

    @tf.function(input_signature=[tf.TensorSpec([None, s.batch_size, s.dim], tf.float32)])
    def run_steps(real_batches):
        for index in tf.range(tf.shape(real_batches)[0]):
            model.train_step(real_batches[index])

    history = {name: [] for name in ("step", *model.metric_names)}
    if s.dim == 1:
        history["w1"] = []
    history["snapshots"] = []
    # Every step at which we stop the compiled loop: records and snapshots.
    stops = sorted({*range(s.record_every, s.steps + 1, s.record_every), s.steps, *s.snapshot_steps} - {0})
    if 0 in s.snapshot_steps:
        history["snapshots"].append(probe.snapshot(0))
    start = time.perf_counter()
    done = 0
    seconds = 0.0
    for stop in stops:
        real = _real_batches(target, s, done, stop, calls_per_step)
        if done % s.record_every == 0:  # a new recording interval: its metrics start afresh
            for tracker in model.metrics:
                tracker.reset_state()
        for layer in noise_layers:  # linear decay to 0 at the last step
            layer.stddev.assign(layer.initial_stddev * (1.0 - done / s.steps))
        tick = time.perf_counter()
        run_steps(tf.constant(real.reshape((stop - done) * calls_per_step, s.batch_size, s.dim)))
        seconds += time.perf_counter() - tick
        done = stop
        if stop % s.record_every == 0 or stop == s.steps:
            _record(history, model, probe, stop, verbose)
        if stop in s.snapshot_steps:
            history["snapshots"].append(probe.snapshot(stop))
    return history, seconds, start


def _record(history, model, probe, step, verbose):
    """One record: the interval's mean metrics and, in 1-D, W1; printed when ``verbose``."""
    history["step"].append(step)
    for name, tracker in model.trackers.items():
        history[name].append(float(tracker.result()))
    if probe.settings.dim == 1:
        history["w1"].append(probe.w1())
    if verbose:
        line = " ".join(f"{k}={history[k][-1]:.4f}" for k in history if k not in ("step", "snapshots"))
        print(f"step {step:6d}: {line}", flush=True)


# --------------------------------------------------------------------------- pictures
def _pick_snapshots(history, steps, n_panels):
    snapshots = history["snapshots"]
    if not snapshots:
        raise ValueError("history has no snapshots; train with snapshot_steps or n_snapshots > 0.")
    if steps is None:
        if len(snapshots) <= n_panels:
            return list(snapshots)
        keep = np.unique(np.linspace(0, len(snapshots) - 1, n_panels).round().astype(int))
        return [snapshots[i] for i in keep]
    recorded = [shot["step"] for shot in snapshots]
    chosen = []
    for step in steps:
        if step not in recorded:
            raise ValueError(f"steps contains {step}, which has no snapshot; recorded: {recorded}.")
        chosen.append(snapshots[recorded.index(step)])
    return chosen


def draw_snapshot_1d(ax, snapshot, target, loss="gan", show_mapping=True, bins=120, legend=True):
    """One panel in the manner of Goodfellow et al. 2014, fig. 1, drawn on ``ax``.

    Black dashed: p_data. Green: p_g, a histogram of the snapshot's generated samples.
    Blue dotted: D(x) (for 'wgan-gp', the critic's score rescaled to [0, 1], whose slope
    is what the generator follows). Below the axis, when the latent space is 1-D, lines
    map equally likely values of z (evenly spaced quantiles of N(0, 1), on the lower line)
    to G(z) on the upper line: where the lines crowd together, p_g is dense.
    """
    grid = np.asarray(snapshot["grid"]).ravel()
    low, high = float(grid[0]), float(grid[-1])
    data_density = target.pdf(grid)
    top = 1.6 * max(1.0, float(data_density.max()))
    samples = np.asarray(snapshot["samples"]).ravel()
    counts, edges = np.histogram(np.clip(samples, low, high), bins=bins, range=(low, high), density=True)
    ax.stairs(counts, edges, fill=True, color="g", alpha=0.35, label=r"$p_g$ (samples)")
    ax.plot(grid, data_density, "k--", lw=1.5, label=r"$p_{data}$")
    d_values = np.asarray(snapshot["d"], dtype=np.float64)
    if loss != "gan":
        spread = d_values.max() - d_values.min()
        d_values = (d_values - d_values.min()) / (spread if spread > 0 else 1.0)
    ax.plot(grid, d_values, "b:", lw=2, label="D(x)" if loss == "gan" else "critic (rescaled)")
    ax.set_xlim(low, high)
    bottom = 0.0
    if show_mapping and "x_of_z" in snapshot:
        from statistics import NormalDist

        z_line, x_of_z = np.asarray(snapshot["z"]), np.asarray(snapshot["x_of_z"])
        quantiles = np.linspace(0.03, 0.97, 17)
        z_values = np.array([NormalDist().inv_cdf(q) for q in quantiles])
        x_values = np.interp(z_values, z_line, x_of_z)
        z_positions = low + quantiles * (high - low)
        from matplotlib.collections import LineCollection

        bottom = -0.35 * top
        segments = [[(z_position, bottom * 0.85), (x_value, -0.04 * top)]
                    for z_position, x_value in zip(z_positions, np.clip(x_values, low, high))]
        ax.add_collection(LineCollection(segments, colors="grey", linewidths=0.7))
        ax.axhline(bottom * 0.85, color="grey", lw=0.8)
        ax.text(low, bottom * 0.95, " z", va="top", fontsize=8, color="grey")
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.set_ylim(bottom, top)
    title = f"step {snapshot['step']}"
    if "w1" in snapshot:
        title += f", W1 = {snapshot['w1']:.3f}"
    ax.set_title(title, fontsize=10)
    if legend:
        ax.legend(fontsize=7, loc="upper left")
    return ax


def plot_snapshots_1d(history, steps=None, n_panels: int = 4, show_mapping: bool = True,
                      figsize=None, title=None):
    """Panels of a 1-D run at several steps, as in Goodfellow et al. 2014, fig. 1.

    ``steps``: the snapshot steps to show (each must have been recorded); None: ``n_panels``
    snapshots spread over the run. Returns the figure.
    """
    import matplotlib.pyplot as plt

    n_panels = check_positive("n_panels", n_panels, integer=True)
    chosen = _pick_snapshots(history, steps, n_panels)
    figsize = figsize or (min(12.0, 3.0 * len(chosen)), 3.2)
    fig, axes = plt.subplots(1, len(chosen), figsize=figsize, dpi=80, squeeze=False)
    for index, (ax, shot) in enumerate(zip(axes[0], chosen)):
        draw_snapshot_1d(ax, shot, history["target"], history.get("loss", "gan"), show_mapping,
                         legend=index == 0)
        ax.set_yticks([0, 0.5, 1.0])
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def plot_snapshots_2d(history, steps=None, n_panels: int = 4, figsize=None, title=None,
                      max_points: int = 1000):
    """Panels of a 2-D run: D(x) (or the critic's score) as a filled contour map, the
    generated samples on top (white dots) and the target's mode centres (red crosses).

    Returns the figure.
    """
    import matplotlib.pyplot as plt

    n_panels = check_positive("n_panels", n_panels, integer=True)
    chosen = _pick_snapshots(history, steps, n_panels)
    target = history["target"]
    figsize = figsize or (min(12.0, 2.9 * len(chosen) + 0.8), 3.1)
    fig, axes = plt.subplots(1, len(chosen), figsize=figsize, dpi=80, squeeze=False,
                             layout="constrained")
    for ax, shot in zip(axes[0], chosen):
        grid = np.asarray(shot["grid"])
        size = int(round(math.sqrt(len(grid))))
        xx, yy = grid[:, 0].reshape(size, size), grid[:, 1].reshape(size, size)
        levels = np.linspace(0, 1, 11) if history.get("loss", "gan") == "gan" else 12
        filled = ax.contourf(xx, yy, shot["d"], levels=levels, cmap="viridis")
        points = np.asarray(shot["samples"])[:max_points]
        ax.scatter(points[:, 0], points[:, 1], s=2, c="white", alpha=0.6, linewidths=0)
        if hasattr(target, "centers"):
            ax.scatter(target.centers[:, 0], target.centers[:, 1], marker="x", c="red", s=25)
        low, high = target.plot_range
        ax.set_xlim(low, high)
        ax.set_ylim(low, high)
        ax.set_aspect("equal")
        label = f"step {shot['step']}"
        if hasattr(target, "coverage"):
            coverage = target.coverage(shot["samples"])
            label += f": {coverage['modes']}/{coverage['n_modes']} modes"
        ax.set_title(label, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(filled, ax=list(axes[0]), fraction=0.02,
                 label="D(x)" if history.get("loss", "gan") == "gan" else "critic score")
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def w1_floor(target, n: int = 10_000, seed: int = 0) -> float:
    """W1 between two independent samples of ``n`` points of the 1-D target: the value a
    perfect generator would still show, since W1 is measured on finite samples."""
    from .metrics import wasserstein_1d

    return wasserstein_1d(target.sample(n, seed=seed), target.sample(n, seed=seed + 1))


def plot_w1(histories, ax=None, goal=None, floor=None, title="Wasserstein-1 to the target"):
    """W1 against generator steps (log scale) for one or several runs.

    ``histories``: a history or a dict label -> history. ``goal``: a horizontal line to
    reach (e.g. 0.05); ``floor``: a line for the sampling floor (see ``w1_floor``).
    Returns the axes.
    """
    import matplotlib.pyplot as plt

    if isinstance(histories, dict) and "w1" in histories:
        histories = {"": histories}
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5), dpi=80, layout="constrained")
    for label, history in histories.items():
        if "w1" not in history:
            raise ValueError(f"history {label!r} has no 'w1' (only 1-D targets record it).")
        steps, values = list(history["step"]), list(history["w1"])
        first = history["snapshots"][0] if history.get("snapshots") else {}
        if first.get("step") == 0 and "w1" in first:  # the untrained generator
            steps, values = [0] + steps, [first["w1"]] + values
        ax.semilogy(steps, values, label=label or None)
    if goal is not None:
        ax.axhline(goal, color="k", ls="--", lw=1, label=f"goal {goal:g}")
    if floor is not None:
        ax.axhline(floor, color="grey", ls=":", lw=1, label=f"sampling floor {floor:.3f}")
    ax.set_xlabel("generator step")
    ax.set_ylabel("W1 (10k vs 10k samples)")
    ax.set_title(title, fontsize=10)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    return ax


def animate_1d(history, path, duration: float = 0.15, figsize=(6.0, 3.2), dpi: int = 60) -> str:
    """A GIF of a 1-D run, one frame per snapshot (see ``draw_snapshot_1d``); returns ``path``.

    Train with many snapshots (e.g. ``n_snapshots=40``) for a smooth animation. Frames are
    small (360 x 192 pixels by default) so the GIF stays well under 1 MB.
    """
    import matplotlib.pyplot as plt

    from .plotting import save_gif

    frames = []
    fig, ax = plt.subplots(figsize=figsize, dpi=dpi)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.1, top=0.9)
    for shot in history["snapshots"]:
        ax.clear()
        draw_snapshot_1d(ax, shot, history["target"], history.get("loss", "gan"), legend=True)
        ax.set_yticks([0, 0.5, 1.0])
        fig.canvas.draw()
        frames.append(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy())
    plt.close(fig)
    if not frames:
        raise ValueError("history has no snapshots to animate.")
    return save_gif(frames, path, duration=duration, max_frames=max(60, len(frames)))
