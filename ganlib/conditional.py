"""Conditional GANs: ask the generator for a class, G(z | y).

``ConditionalGAN`` trains a generator that takes a label ``y`` beside the noise ``z``
(Mirza & Osindero 2014) and a discriminator that is told, or must find out, which class
each image should belong to. Three ways of giving D the label (``conditioning``), each
with its network in ``ganlib.models.conditional_dcgan_discriminator``:

* ``'concat'`` (Mirza & Osindero 2014): the one-hot label joined to D's input (as extra
  image channels); D scores the pair (x, y).
* ``'projection'`` (Miyato & Koyama 2018): ``D(x, y) = psi(phi(x)) + <embed(y), phi(x)>``;
  the label enters only through an inner product with D's features.
* ``'acgan'`` (Odena et al. 2017, AC-GAN): D sees the image alone and has a second head
  that classifies it; both networks are also trained to make that classification right.

Usage::

    from ganlib import conditional, models
    generator = models.conditional_dcgan_generator(latent_dim=64, n_classes=10, image_size=16)
    discriminator = models.conditional_dcgan_discriminator(10, 16, conditioning="projection")
    gan = conditional.ConditionalGAN(generator, discriminator, latent_dim=64, n_classes=10,
                                     conditioning="projection", loss="hinge")
    gan.compile()
    gan.fit(labelled.pipeline(batch_size=64), epochs=10)   # batches of (images, labels)
    sevens = gan.generate([7] * 16)                         # 16 images of class 7

``fit`` takes batches of ``(images, labels)``: images float32 in [-1, 1], labels integers
``0 .. n_classes - 1`` (``ganlib.data.load_labelled_folder`` and ``load_digits`` make them).
The generated half of each D update, and each G update, draws its labels uniformly from the
classes. Everything else (the update schedule, the running average of G, the replica and
loss-scaling plumbing, ``fit_gan``'s checkpoints) is ``ganlib.train``'s.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from ._checks import check_choice, check_non_negative, check_positive, check_seed
from .models import CONDITIONINGS
from .train import (DISCRIMINATOR_LOSSES, GENERATOR_LOSSES, _AdversarialModel, dcgan_adam,
                    discriminator_loss, generator_loss, hinge_discriminator_loss, images_to_float)

__all__ = ["ConditionalGAN", "CONDITIONINGS", "check_labels", "cycling_labels", "label_interpolation"]


def check_labels(labels, n_classes: int, name: str = "labels") -> np.ndarray:
    """Return ``labels`` as an int32 array (n,) if every one is a class id 0 .. n_classes - 1.

    Raises ValueError naming ``name``, the offending values and the allowed range: a label
    out of range would otherwise become an all-zero one-hot vector (Keras'
    ``CategoryEncoding``) or a wrong row of an embedding, and train or sample silently wrong.
    """
    n_classes = check_positive("n_classes", n_classes, integer=True)
    array = np.asarray(labels)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim == 0:
        array = array[None]
    if array.ndim != 1:
        raise ValueError(f"{name} has shape {array.shape}; give one class id per image, shape (n,).")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        if not (np.issubdtype(array.dtype, np.floating) and np.all(np.isfinite(array))
                and np.all(array == np.round(array))):
            shown = ", ".join(repr(v) for v in array[:5].tolist())
            raise ValueError(f"{name} must be integer class ids 0 to {n_classes - 1}; got {shown}"
                             f"{' ...' if array.size > 5 else ''}.")
    array = array.astype(np.int64)
    bad = array[(array < 0) | (array >= n_classes)]
    if bad.size:
        shown = ", ".join(str(v) for v in np.unique(bad)[:5].tolist())
        raise ValueError(f"{name} contains {shown}, outside the allowed range 0 to {n_classes - 1} "
                         f"(n_classes={n_classes}).")
    return array.astype(np.int32)


def cycling_labels(count: int, n_classes: int) -> np.ndarray:
    """``0, 1, ..., n_classes - 1, 0, 1, ...``: the labels of a sample grid made from noise
    alone (image i gets class i mod n_classes; with n_classes columns, one class per column)."""
    count = check_positive("count", count, integer=True)
    n_classes = check_positive("n_classes", n_classes, integer=True)
    return (np.arange(count) % n_classes).astype(np.int32)


def _inputs_and_outputs(model):
    try:
        return len(model.inputs), len(model.outputs)
    except (AttributeError, ValueError, TypeError):  # not a functional model: not checked
        return None, None


def _check_conditional_networks(generator, discriminator, conditioning, latent_dim):
    """The networks must have the inputs and outputs ``conditioning`` needs."""
    g_inputs, _ = _inputs_and_outputs(generator)
    if g_inputs is not None and g_inputs != 2:
        raise ValueError(
            f"generator={generator.name!r} takes {g_inputs} input(s); a conditional generator takes "
            "two, [z, label] (e.g. ganlib.models.conditional_dcgan_generator)."
        )
    if g_inputs == 2:
        z_shape = tuple(generator.inputs[0].shape[1:])
        if z_shape != (latent_dim,):
            raise ValueError(f"latent_dim={latent_dim} but the generator's first input (z) has shape "
                             f"{z_shape}; give latent_dim={z_shape[0] if len(z_shape) == 1 else z_shape}.")
    d_inputs, d_outputs = _inputs_and_outputs(discriminator)
    if d_inputs is None:
        return
    wanted = (1, 2) if conditioning == "acgan" else (2, 1)
    if (d_inputs, d_outputs) != wanted:
        needs = ("the image alone and outputs [logit, class_logits]" if conditioning == "acgan"
                 else "[image, label] and outputs one logit")
        raise ValueError(
            f"conditioning={conditioning!r} needs a discriminator that takes {needs}; "
            f"discriminator={discriminator.name!r} takes {d_inputs} input(s) and has {d_outputs} "
            f"output(s). Build it with ganlib.models.conditional_dcgan_discriminator("
            f"conditioning={conditioning!r}) or give the conditioning it was built for."
        )


class ConditionalGAN(_AdversarialModel):
    """A conditional GAN: G(z | y) and D(x | y) trained with ``fit`` on (images, labels).

    The game of Mirza & Osindero 2014 (eq. 2): the GAN's value function with both players
    given the label y, ``min_G max_D E[log D(x | y)] + E[log(1 - D(G(z | y) | y))]``. Each
    ``train_step`` is one D update on the real (images, labels) batch that ``fit`` hands
    over and as many generated images, whose labels are drawn uniformly from the classes;
    after every ``d_steps``-th D update, one G update on fresh noise and fresh uniform labels
    (``ganlib.train._AdversarialModel``'s schedule, Goodfellow et al. 2014, Algorithm 1).

    What D is asked, by ``conditioning`` (the networks are in ``ganlib.models``):

    * ``'concat'`` and ``'projection'``: D scores the pair (x, y), "is x a real image of
      class y?". Real images come with their own labels, generated ones with the labels G
      was asked for, so a generator that ignores y makes pairs D learns to reject.
      The losses are those of ``ganlib.train.GAN`` (``loss='bce'`` or ``'hinge'``; Miyato
      & Koyama 2018 use the hinge loss with the projection discriminator).
    * ``'acgan'`` (Odena et al. 2017, eq. 1-2): D scores "is x real?" without seeing y,
      and its auxiliary head classifies x. D minimises the adversarial loss plus
      ``class_weight`` times the cross-entropy of its classes on real *and* generated
      images; G minimises its adversarial loss plus ``class_weight`` times the cross-entropy
      of the class it was asked for (the paper weights the two log-likelihoods equally:
      ``class_weight=1``).

    Args:
        generator: keras.Model ``[z (latent_dim,), label ()] -> image``.
        discriminator: for 'concat'/'projection' ``[image, label] -> logit``; for 'acgan'
            ``image -> [logit, class_logits]``.
        latent_dim: size of z, drawn from N(0, I).
        n_classes: number of classes; labels are 0 .. n_classes - 1.
        conditioning: 'concat', 'projection' (default) or 'acgan'; must match the
            discriminator (checked).
        d_steps: D updates per G update (Goodfellow et al. 2014: 1).
        loss: 'bce' (Goodfellow et al. 2014, non-saturating G loss) or 'hinge' (Lim & Ye 2017;
            Miyato & Koyama 2018).
        class_weight: 'acgan' only: the weight of the classification losses (Odena et al.
            2017: 1).
        seed: seed of the noise and label draws.
        augment: None or a callable images -> images applied to every image D sees, real
            and generated (DiffAugment, Zhao et al. 2020); the labels are unchanged, so use
            augmentations that keep the class (a flip turns some digits into others).
        ema_decay: None, or the decay of the running average of G used for sampling
            (Karras et al. 2018: 0.999).

    Metrics: ``d_loss``, ``g_loss``, ``d_real`` and ``d_fake`` (as for ``GAN``); for 'acgan'
    also ``class_loss`` (D's cross-entropy on real and generated images) and
    ``class_accuracy`` (D's auxiliary head on the real batch).

    Sampling: ``gan.generate(labels)`` -> NumPy images of the asked-for classes (from the
    running average when ``ema_decay`` is set); ``gan((z, labels))`` the same as a tensor;
    ``gan(z)`` alone gives image i the class i mod n_classes (``cycling_labels``), which is
    what ``fit_gan``'s sample grids draw.
    """

    #: The metrics every step reports (and ``class_loss`` with ``conditioning='acgan'``).
    base_metric_names = ("d_loss", "g_loss", "d_real", "d_fake")

    def __init__(self, generator, discriminator, latent_dim, n_classes, conditioning: str = "projection",
                 d_steps: int = 1, loss: str = "bce", class_weight: float = 1.0, seed=None, augment=None,
                 ema_decay=None, **kwargs):
        n_classes = check_positive("n_classes", n_classes, integer=True)
        if n_classes < 2:
            raise ValueError(f"n_classes={n_classes!r} must be at least 2.")
        conditioning = check_choice("conditioning", conditioning, CONDITIONINGS)
        loss = check_choice("loss", loss, DISCRIMINATOR_LOSSES)
        class_weight = check_non_negative("class_weight", class_weight)
        if augment is not None and not callable(augment):
            raise ValueError(f"augment={augment!r} is not callable; give None or a function/layer that maps "
                             "a batch of images to a batch of the same shape.")
        latent_dim = check_positive("latent_dim", latent_dim, integer=True)
        _check_conditional_networks(generator, discriminator, conditioning, latent_dim)
        extra = ("class_loss", "class_accuracy") if conditioning == "acgan" else ()
        super().__init__(generator, discriminator, latent_dim, d_steps=d_steps, seed=seed,
                         ema_decay=ema_decay, extra_metrics=extra, **kwargs)
        self.n_classes = n_classes
        self.conditioning = conditioning
        self.loss_kind = loss
        self.generator_loss_kind = "hinge" if loss == "hinge" else GENERATOR_LOSSES[0]
        self.class_weight = class_weight
        self.augment = augment

    def compile(self, d_optimizer=None, g_optimizer=None, jit_compile="auto", **kwargs):
        """Defaults: Adam(2e-4, beta_1=0.5) for both networks (Radford et al. 2015), as ``GAN``."""
        kwargs.setdefault("optimizer", None)
        super().compile(jit_compile=jit_compile, **kwargs)
        self.d_optimizer = d_optimizer or dcgan_adam()
        self.g_optimizer = g_optimizer or dcgan_adam()

    # --- the algorithm -----------------------------------------------------------------
    def train_step(self, data):
        """One D update on this (images, labels) batch; after every ``d_steps``-th, a G update."""
        images, labels = self._labelled_batch(data)
        d_metrics = self.discriminator_step((images, labels))
        self.every(self.d_steps, lambda: self.update_generator(tf.shape(images)[0]))
        return self._result(d_metrics)

    def sample_labels(self, batch_size):
        """Labels for generated images, uniform over the classes."""
        return keras.random.randint((batch_size,), 0, self.n_classes, seed=self.seed_generator,
                                    dtype="int32")

    def discriminate(self, images, labels):
        """D's output for images of the given labels, after ``augment``: the logit for
        'concat'/'projection', (logit, class_logits) for 'acgan' (which ignores ``labels``)."""
        if self.augment is not None:
            images = self.augment(images)
        if self.conditioning == "acgan":
            logits, class_logits = self.discriminator(images, training=True)
            return logits, class_logits
        return self.discriminator([images, labels], training=True), None

    def adversarial_loss(self, real_logits, fake_logits):
        """The real/fake part of the discriminator's loss: cross-entropy, or the hinge loss."""
        if self.loss_kind == "hinge":
            return hinge_discriminator_loss(real_logits, fake_logits)
        return discriminator_loss(real_logits, fake_logits)

    def discriminator_step(self, real):
        images, labels = real
        batch_size = tf.shape(images)[0]
        fake_labels = self.sample_labels(batch_size)
        fake = self.generator([self.sample_noise(batch_size), fake_labels], training=True)
        with tf.GradientTape() as tape:
            real_logits, real_classes = self.discriminate(images, labels)
            fake_logits, fake_classes = self.discriminate(fake, fake_labels)
            d_loss = self.adversarial_loss(real_logits, fake_logits)
            if self.conditioning == "acgan":
                class_loss = (_cross_entropy(labels, real_classes) + _cross_entropy(fake_labels, fake_classes))
                d_loss += self.class_weight * class_loss
        self.apply_loss_gradients(self.d_optimizer, tape, d_loss, self.discriminator.trainable_weights)
        metrics = {"d_loss": d_loss,
                   "d_real": tf.reduce_mean(tf.sigmoid(real_logits)),
                   "d_fake": tf.reduce_mean(tf.sigmoid(fake_logits))}
        if self.conditioning == "acgan":
            predicted = tf.argmax(real_classes, axis=-1, output_type=tf.int32)
            metrics["class_loss"] = class_loss
            metrics["class_accuracy"] = tf.reduce_mean(tf.cast(tf.equal(predicted, labels), tf.float32))
        return metrics

    def generator_step(self, batch_size):
        z = self.sample_noise(batch_size)
        labels = self.sample_labels(batch_size)
        with tf.GradientTape() as tape:
            fake_logits, fake_classes = self.discriminate(self.generator([z, labels], training=True), labels)
            g_loss = generator_loss(fake_logits, self.generator_loss_kind)
            if self.conditioning == "acgan":
                g_loss += self.class_weight * _cross_entropy(labels, fake_classes)
        self.apply_loss_gradients(self.g_optimizer, tape, g_loss, self.generator.trainable_weights)
        return g_loss

    # --- sampling ------------------------------------------------------------------------
    def build(self, input_shape=None):
        """Nothing to build: the networks come built. (Keras calls this when ``gan(z)`` is the
        first use of the model.)"""
        self.built = True

    def _standing_inputs(self, count, rng):
        """Noise and every class in turn, for the averaged generator's standing statistics."""
        z = rng.standard_normal((count, self.latent_dim)).astype("float32")
        return [z, cycling_labels(count, self.n_classes)]

    def call(self, inputs, training=False):
        """``gan((z, labels))`` -> images of those labels from ``sampling_generator``;
        ``gan(z)`` -> image i of class i mod n_classes."""
        if isinstance(inputs, (tuple, list)) and len(inputs) == 2:
            z, labels = inputs
        else:
            z = inputs
            labels = tf.math.floormod(tf.range(tf.shape(z)[0], dtype=tf.int32), self.n_classes)
        labels = tf.reshape(tf.cast(labels, tf.int32), [-1])
        return self.sampling_generator([z, labels], training=training)

    def generate(self, labels, z=None, seed: int = 0, batch_size: int = 256) -> np.ndarray:
        """Images of the asked-for classes, as a NumPy array (n, H, W, C) in [-1, 1].

        Args:
            labels: one class id per image, each in 0 .. n_classes - 1 (checked).
            z: the noise, (n, latent_dim); None draws it from N(0, I) with ``seed``.
            seed: seed of the noise when ``z`` is None.
            batch_size: images made at once.
        """
        labels = check_labels(labels, self.n_classes)
        if z is None:
            seed = check_seed("seed", seed)
            z = np.random.default_rng(seed).standard_normal((len(labels), self.latent_dim))
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape != (len(labels), self.latent_dim):
            raise ValueError(f"z has shape {z.shape}; expected ({len(labels)}, {self.latent_dim}): "
                             "one latent vector per label.")
        batch_size = check_positive("batch_size", batch_size, integer=True)
        parts = [keras.ops.convert_to_numpy(self.sampling_generator(
                     [z[start:start + batch_size], labels[start:start + batch_size]], training=False))
                 for start in range(0, len(labels), batch_size)]
        return np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, *self.data_shape), np.float32)

    # --- data ------------------------------------------------------------------------------
    @property
    def data_shape(self):
        """The shape of one real image, e.g. (16, 16, 1) (the generator's output)."""
        shape = getattr(self.generator, "output_shape", None)
        return None if shape is None or isinstance(shape, list) else tuple(shape[1:])

    def _labelled_batch(self, data):
        if not isinstance(data, (tuple, list)) or len(data) < 2 or data[1] is None:
            raise ValueError("ConditionalGAN trains on (images, labels) batches; the data gave images "
                             "alone (use ganlib.data.load_labelled_folder(...).pipeline()).")
        images, labels = images_to_float(data[0]), data[1]  # uint8 batches: converted here
        return images, tf.reshape(tf.cast(labels, tf.int32), [-1])

    def fit(self, x=None, y=None, *args, check_data: bool = True, **kwargs):
        """``keras.Model.fit`` on (images, labels): a dataset of such pairs, or ``x=images,
        y=labels``. With ``check_data`` the first batch's labels must be class ids
        0 .. n_classes - 1 (ValueError naming ``labels`` otherwise), and its images are
        checked as ``GAN.fit`` checks them."""
        if check_data:
            _first_labels(x, y, self.n_classes)
        if y is not None:
            kwargs["y"] = y
        return super().fit(x, *args, check_data=check_data, **kwargs)


def _cross_entropy(labels, class_logits):
    """Mean cross-entropy of integer ``labels`` under ``class_logits`` (float32)."""
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.cast(labels, tf.int32), logits=tf.cast(class_logits, tf.float32)))


def _first_labels(x, y, n_classes):
    """Check the labels of the first batch (dataset of pairs) or all of ``y`` (arrays)."""
    if isinstance(x, tf.data.Dataset):
        spec = x.element_spec
        if not isinstance(spec, (tuple, list)) or len(spec) < 2:
            raise ValueError("the data set yields images alone; ConditionalGAN needs (images, labels) "
                             "pairs, e.g. ganlib.data.load_labelled_folder(...).pipeline(batch_size).")
        for element in x.take(1):
            return check_labels(np.asarray(element[1]).reshape(-1), n_classes)
        return None
    if y is None:
        raise ValueError("labels are missing: give fit(images, labels) or a data set of (images, labels).")
    return check_labels(np.asarray(y).reshape(-1), n_classes)


def label_interpolation(generator, z, start: int, end: int, steps: int = 8) -> np.ndarray:
    """Images of one latent vector ``z`` while the label slides from class ``start`` to ``end``.

    ``ganlib.models.conditional_dcgan_generator`` feeds ``concat(z, one_hot(y))`` to its
    DCGAN body (the layer ``dcgan``); here the one-hot part is replaced by the mixture
    ``(1 - t) one_hot(start) + t one_hot(end)`` for ``steps`` values of t from 0 to 1. The
    generator never saw such mixtures, so the middle images show what it makes of
    "between two classes"; the ends are exactly ``generator([z, start])`` and
    ``generator([z, end])``.

    Args:
        generator: a conditional generator built by ``conditional_dcgan_generator`` (e.g.
            ``gan.sampling_generator``).
        z: one latent vector, shape (latent_dim,) or (1, latent_dim).
        start, end: the two class ids.
        steps: images from start to end, at least 2.

    Returns:
        float32 array (steps, H, W, C).
    """
    try:
        body = generator.get_layer("dcgan")
        n_classes = int(generator.get_layer("label_one_hot").num_tokens)
    except (ValueError, AttributeError):
        raise ValueError(f"generator={getattr(generator, 'name', generator)!r} has no 'dcgan' and "
                         "'label_one_hot' layers; give a generator built by "
                         "ganlib.models.conditional_dcgan_generator.") from None
    start, end = check_labels([start, end], n_classes, name="start, end")
    steps = check_positive("steps", steps, integer=True)
    if steps < 2:
        raise ValueError(f"steps={steps} must be at least 2 (the two ends).")
    z = np.asarray(z, dtype=np.float32).reshape(1, -1)
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    eye = np.eye(n_classes, dtype=np.float32)
    mixed = (1.0 - t) * eye[start] + t * eye[end]
    inputs = np.concatenate([np.repeat(z, steps, axis=0), mixed], axis=1)
    if inputs.shape[1] != body.input_shape[-1]:
        raise ValueError(f"z has {z.shape[1]} numbers; the generator takes "
                         f"{body.input_shape[-1] - n_classes}.")
    return keras.ops.convert_to_numpy(body(inputs, training=False)).astype(np.float32)
