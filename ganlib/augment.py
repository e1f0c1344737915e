"""Augmentation for small image sets, for the input pipeline and inside the train step.

Two kinds, both Keras layers that map a batch ``(B, H, W, C)`` in [-1, 1] to a batch of the
same shape, draw their randomness from a ``keras.random.SeedGenerator`` (reproducible with
``seed=``, different at every call) and trace inside ``tf.function`` and XLA:

* :class:`FlipAndShift`: horizontal flips and shifts of a few pixels, applied to the *real*
  images in the input pipeline (``training_pipeline(..., augment=FlipAndShift())``). The
  generator learns the flipped and shifted images too, which is harmless for faces and
  sprites, which are symmetric anyway.
* :class:`DiffAugment`: differentiable augmentation (Zhao et al. 2020, "Differentiable
  Augmentation for Data-Efficient GAN Training"): colour, translation and cutout applied
  to *both* real and generated images before the discriminator, inside the train step.
  Gradients flow through it to the generator, and because D only ever sees augmented
  images, G is not pushed to produce augmented-looking images. With a few hundred to a few
  thousand training images it keeps D from memorising them.

  ``augment = DiffAugment(seed=0); gan = GAN(..., augment=augment)`` - the train step calls
  ``augment(images)`` on every batch it shows the discriminator.
* :class:`AdaptiveAugment`: the same transformations, each applied to an image with a
  probability p that training adjusts (adaptive discriminator augmentation, Karras et al.
  2020): p rises while D is too sure of the training images and falls when it is not, so
  a large data set is barely augmented and a small one as much as it needs.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from ._checks import check_choice, check_positive, check_range

__all__ = [
    "AdaptiveAugment",
    "DiffAugment",
    "FlipAndShift",
    "DIFF_AUGMENT_POLICIES",
    "random_brightness",
    "random_saturation",
    "random_contrast",
    "random_translation",
    "random_cutout",
    "random_flip",
    "random_shift",
    "translate",
]

#: The three transformations of Zhao et al. 2020 (their "color,translation,cutout" policy).
DIFF_AUGMENT_POLICIES = ("color", "translation", "cutout")


def _check_batch(images):
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4:
        raise ValueError(f"images has shape {tuple(images.shape)}; expected a batch (B, H, W, C).")
    if not images.dtype.is_floating:
        raise ValueError(f"images has dtype {images.dtype.name}; expected floats in [-1, 1].")
    return images


def _colour_channels(images):
    """The colour part (at most 3 channels) and the rest (alpha), so colour ops skip alpha."""
    channels = images.shape[-1]
    if channels == 4:
        return images[..., :3], images[..., 3:]
    return images, None


def _join(colour, rest):
    return colour if rest is None else tf.concat([colour, rest], axis=-1)


def _per_image(images, seed, low=0.0, high=1.0):
    """One uniform number per image, shape (B, 1, 1, 1)."""
    batch = tf.shape(images)[0]
    return keras.random.uniform((batch, 1, 1, 1), low, high, dtype=images.dtype, seed=seed)


# ---- colour (Zhao et al. 2020, DiffAugment: rand_brightness / saturation / contrast) ----
def random_brightness(images, seed=None):
    """Add one value in [-0.5, 0.5) to every pixel of each image."""
    images = _check_batch(images)
    colour, rest = _colour_channels(images)
    return _join(colour + (_per_image(images, seed) - 0.5), rest)


def random_saturation(images, seed=None):
    """Scale each pixel's distance from its grey value by a factor in [0, 2) per image."""
    images = _check_batch(images)
    colour, rest = _colour_channels(images)
    grey = tf.reduce_mean(colour, axis=-1, keepdims=True)
    return _join((colour - grey) * (_per_image(images, seed) * 2.0) + grey, rest)


def random_contrast(images, seed=None):
    """Scale each image's distance from its mean by a factor in [0.5, 1.5)."""
    images = _check_batch(images)
    colour, rest = _colour_channels(images)
    mean = tf.reduce_mean(colour, axis=[1, 2, 3], keepdims=True)
    return _join((colour - mean) * (_per_image(images, seed) + 0.5) + mean, rest)


# ---- geometry ----------------------------------------------------------------------------
def translate(images, shift_y, shift_x, fill=0.0):
    """Shift each image by whole pixels: content moves ``shift_y`` down and ``shift_x`` right.

    Args:
        images: (B, H, W, C).
        shift_y, shift_x: int tensors of shape (B,).
        fill: 'edge' repeats the border pixels; a number fills the uncovered area with it
            (0.0, the middle grey of [-1, 1], as DiffAugment's zero padding; 1.0 is white).

    Written with gathers along rows and columns (no per-image Python loop), so it runs
    inside XLA and passes gradients to the pixels it moves.
    """
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    rows = tf.range(height)[None, :] - tf.cast(shift_y, tf.int32)[:, None]  # source row per output row
    cols = tf.range(width)[None, :] - tf.cast(shift_x, tf.int32)[:, None]
    moved = tf.gather(images, tf.clip_by_value(rows, 0, height - 1), axis=1, batch_dims=1)
    moved = tf.gather(moved, tf.clip_by_value(cols, 0, width - 1), axis=2, batch_dims=1)
    if isinstance(fill, str):
        return moved
    inside_rows = tf.cast((rows >= 0) & (rows < height), images.dtype)[:, :, None, None]
    inside_cols = tf.cast((cols >= 0) & (cols < width), images.dtype)[:, None, :, None]
    inside = inside_rows * inside_cols
    return moved * inside + tf.cast(fill, images.dtype) * (1.0 - inside)


def _random_shifts(images, max_rows, max_cols, seed):
    batch = tf.shape(images)[0]
    shift_y = keras.random.randint((batch,), -max_rows, max_rows + 1, seed=seed)
    shift_x = keras.random.randint((batch,), -max_cols, max_cols + 1, seed=seed)
    return shift_y, shift_x


def random_translation(images, ratio=0.125, seed=None):
    """DiffAugment's translation: shift by up to ``ratio`` of the size, pad with zeros.

    Shifts are whole pixels in [-round(ratio * H), round(ratio * H)] (and likewise for W),
    drawn per image; ratio 1/8 as Zhao et al. 2020.
    """
    images = _check_batch(images)
    height, width = images.shape[1], images.shape[2]
    if height is None or width is None:
        raise ValueError("images needs a known height and width for random_translation.")
    shift_y, shift_x = _random_shifts(images, int(height * ratio + 0.5), int(width * ratio + 0.5), seed)
    return translate(images, shift_y, shift_x, fill=0.0)


def random_cutout(images, ratio=0.5, seed=None):
    """DiffAugment's cutout: set a square of ``ratio`` of the size to zero, anywhere.

    The square (H*ratio x W*ratio, half the size as Zhao et al. 2020) is centred on a
    random pixel and clipped at the border, so up to a quarter of the image goes grey.
    """
    images = _check_batch(images)
    height, width = images.shape[1], images.shape[2]
    if height is None or width is None:
        raise ValueError("images needs a known height and width for random_cutout.")
    cut_height, cut_width = int(height * ratio + 0.5), int(width * ratio + 0.5)
    batch = tf.shape(images)[0]
    centre_y = keras.random.randint((batch,), 0, height + (1 - cut_height % 2), seed=seed)
    centre_x = keras.random.randint((batch,), 0, width + (1 - cut_width % 2), seed=seed)
    top, left = centre_y - cut_height // 2, centre_x - cut_width // 2
    rows, cols = tf.range(height)[None, :], tf.range(width)[None, :]
    cut_rows = (rows >= top[:, None]) & (rows < top[:, None] + cut_height)
    cut_cols = (cols >= left[:, None]) & (cols < left[:, None] + cut_width)
    keep = 1.0 - tf.cast(cut_rows[:, :, None, None] & cut_cols[:, None, :, None], images.dtype)
    return images * keep


def random_flip(images, seed=None):
    """Mirror each image left-right with probability 1/2."""
    images = _check_batch(images)
    flip = _per_image(images, seed) < 0.5
    return tf.where(flip, tf.reverse(images, axis=[2]), images)


def random_shift(images, max_shift=0.0625, fill="edge", seed=None):
    """Shift each image by up to ``max_shift`` (a fraction of the size, or whole pixels if an
    int >= 1) in both directions; the uncovered border repeats the edge pixels by default."""
    images = _check_batch(images)
    height, width = images.shape[1], images.shape[2]
    if isinstance(max_shift, int) and max_shift >= 1:
        max_rows = max_cols = max_shift
    else:
        max_rows, max_cols = int(round(height * max_shift)), int(round(width * max_shift))
    shift_y, shift_x = _random_shifts(images, max_rows, max_cols, seed)
    return translate(images, shift_y, shift_x, fill=fill)


# ---- the two layers -----------------------------------------------------------------------
def _parse_policy(policy):
    if isinstance(policy, str):
        parts = [part.strip() for part in policy.split(",") if part.strip()]
    else:
        parts = list(policy)
    for part in parts:
        if part not in DIFF_AUGMENT_POLICIES:
            raise ValueError(
                f"policy={policy!r} is not allowed: {part!r} is unknown; use a comma-separated "
                f"subset of {', '.join(repr(p) for p in DIFF_AUGMENT_POLICIES)}."
            )
    if not parts:
        raise ValueError(f"policy={policy!r} is empty; use e.g. 'color,translation,cutout'.")
    return tuple(parts)


class DiffAugment(keras.layers.Layer):
    """Differentiable augmentation (Zhao et al. 2020) for both real and generated batches.

    Args:
        policy: comma-separated subset of 'color', 'translation', 'cutout' (default all
            three, the paper's choice for small data sets), applied in that order.
        translation_ratio: largest shift as a fraction of the size; 1/8 in the paper.
        cutout_ratio: side of the cut-out square as a fraction of the size; 1/2 in the paper.
        seed: seed of the layer's ``keras.random.SeedGenerator``: same seed, same sequence.

    Call it on a batch (B, H, W, C) of floats in [-1, 1]; the result has the same shape.
    Colour changes may leave [-1, 1] (the paper does not clip, so gradients are not cut).
    """

    def __init__(self, policy="color,translation,cutout", translation_ratio=0.125, cutout_ratio=0.5,
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        self.policy = _parse_policy(policy)
        self.translation_ratio = check_range("translation_ratio", translation_ratio, 0.0, 0.5)
        self.cutout_ratio = check_range("cutout_ratio", cutout_ratio, 0.0, 1.0, low_open=True)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images):
        images = _check_batch(images)
        if "color" in self.policy:
            images = random_brightness(images, self.seed_generator)
            images = random_saturation(images, self.seed_generator)
            images = random_contrast(images, self.seed_generator)
        if "translation" in self.policy:
            images = random_translation(images, self.translation_ratio, self.seed_generator)
        if "cutout" in self.policy:
            images = random_cutout(images, self.cutout_ratio, self.seed_generator)
        return images

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "policy": ",".join(self.policy),
                "translation_ratio": self.translation_ratio, "cutout_ratio": self.cutout_ratio,
                "seed": self.seed}


class AdaptiveAugment(DiffAugment):
    """DiffAugment's transformations, each applied to an image with probability p, and p
    adjusted during training: adaptive discriminator augmentation (ADA; Karras et al. 2020,
    "Training Generative Adversarial Networks with Limited Data", section 3).

    How far D overfits is read from its outputs on the real training images it is shown,
    ``r_t = E[sign(D(x))]`` over the last ``interval`` discriminator updates: 0 when D cannot
    tell them from generated ones, 1 when it is sure of every one. After every ``interval``
    updates, ``p <- clip(p + sign(r_t - target) * n / speed, 0, 1)``, n the real images seen
    meanwhile, so p can cross [0, 1] in ``speed`` images. The paper's values: target 0.6,
    interval 4, and 500,000 images for runs of 25 million; ganlib's runs on a CPU see
    100,000-300,000, so the default ``speed`` is 50,000 (chosen before measuring, not tuned).

    Each of brightness, saturation, contrast (the 'color' part of the policy), translation and
    cutout is applied to each image with probability p on its own. With p < 1 some images pass
    unchanged, so G is not pushed towards augmented-looking images (the paper's argument for
    non-leaking augmentation); at p = 0 the layer returns its input.

    ``GAN`` calls ``observe(real_logits)`` after every discriminator update and reports p as the
    metric ``augment_p``; checkpoints keep p, the counts since the last adjustment and the
    random state, so a resumed run goes on exactly.

    Args:
        policy, translation_ratio, cutout_ratio, seed: as ``DiffAugment``.
        target: the r_t to hold, in (0, 1); 0.6 in the paper.
        speed: real images over which p may move from 0 to 1.
        interval: discriminator updates between adjustments (4 in the paper).
        initial_p: p at the start, in [0, 1].

    Under a distribution strategy the first replica's outputs drive p.
    """

    def __init__(self, policy="color,translation,cutout", target=0.6, speed=50_000, interval=4, initial_p=0.0,
                 translation_ratio=0.125, cutout_ratio=0.5, seed=None, **kwargs):
        super().__init__(policy, translation_ratio=translation_ratio, cutout_ratio=cutout_ratio, seed=seed,
                         **kwargs)
        self.target = check_range("target", target, 0.0, 1.0, low_open=True, high_open=True)
        self.speed = check_positive("speed", speed)
        self.interval = check_positive("interval", interval, integer=True)
        self.initial_p = check_range("initial_p", initial_p, 0.0, 1.0)

        def state(name, value=0.0):
            return self.add_weight(shape=(), initializer=keras.initializers.Constant(value), trainable=False,
                                   name=name, dtype="float32", aggregation="only_first_replica")

        self.p = state("p", self.initial_p)
        self._sign_sum = state("sign_sum")      # sum of sign(D(x)) since the last adjustment
        self._seen = state("seen")              # real images observed since then
        self._observed = state("observed")      # discriminator updates observed since then
        self.overfitting = state("r_t")         # r_t at the last adjustment

    def state_variables(self):
        """What a checkpoint keeps to resume exactly: p, the counts, r_t, the random state."""
        return [self.p, self._sign_sum, self._seen, self._observed, self.overfitting, self.seed_generator.state]

    def _sometimes(self, images, transformed, p):
        chosen = _per_image(images, self.seed_generator) < p
        return tf.where(chosen, transformed, images)

    def call(self, images):
        images = _check_batch(images)
        p = tf.cast(tf.convert_to_tensor(self.p), images.dtype)
        if "color" in self.policy:
            for transform in (random_brightness, random_saturation, random_contrast):
                images = self._sometimes(images, transform(images, self.seed_generator), p)
        if "translation" in self.policy:
            images = self._sometimes(
                images, random_translation(images, self.translation_ratio, self.seed_generator), p)
        if "cutout" in self.policy:
            images = self._sometimes(images, random_cutout(images, self.cutout_ratio, self.seed_generator), p)
        return images

    def observe(self, real_logits):
        """Count D's outputs on a batch of real training images; every ``interval``-th call,
        move p. Works eagerly and inside ``tf.function``/XLA (no Python branch on values)."""
        signs = tf.sign(tf.cast(tf.reshape(tf.stop_gradient(real_logits), [-1]), tf.float32))
        self._sign_sum.assign_add(tf.reduce_sum(signs))
        self._seen.assign_add(tf.cast(tf.size(signs), tf.float32))
        self._observed.assign_add(1.0)
        due = tf.convert_to_tensor(self._observed) >= float(self.interval)
        seen = tf.convert_to_tensor(self._seen)
        r_t = tf.convert_to_tensor(self._sign_sum) / tf.maximum(seen, 1.0)
        moved = tf.clip_by_value(tf.convert_to_tensor(self.p) + tf.sign(r_t - self.target) * seen / self.speed,
                                 0.0, 1.0)
        self.p.assign(tf.where(due, moved, tf.convert_to_tensor(self.p)))
        self.overfitting.assign(tf.where(due, r_t, tf.convert_to_tensor(self.overfitting)))
        for variable in (self._sign_sum, self._seen, self._observed):
            variable.assign(tf.where(due, 0.0, tf.convert_to_tensor(variable)))
        return self.p

    def get_config(self):
        return {**super().get_config(), "target": self.target, "speed": self.speed, "interval": self.interval,
                "initial_p": self.initial_p}


class FlipAndShift(keras.layers.Layer):
    """Random horizontal flip and a small shift, for the real images of the input pipeline.

    Args:
        flip: mirror left-right with probability 1/2.
        max_shift: largest shift, a fraction of the size (default 1/16: 4 pixels at 64)
            or whole pixels when an int >= 1; 0 turns shifting off.
        fill: 'edge' (repeat the border, white stays white on sprites) or a number in [-1, 1].
        seed: seed of the layer's ``keras.random.SeedGenerator``.

    Works on a batch (B, H, W, C) or a single image (H, W, C).
    """

    def __init__(self, flip=True, max_shift=0.0625, fill="edge", seed=None, **kwargs):
        super().__init__(**kwargs)
        self.flip = bool(flip)
        if isinstance(max_shift, int) and not isinstance(max_shift, bool) and max_shift >= 1:
            self.max_shift = max_shift
        else:
            self.max_shift = check_range("max_shift", max_shift, 0.0, 0.5)
        if isinstance(fill, str):
            check_choice("fill", fill, ("edge",))
        else:
            check_range("fill", fill, -1.0, 1.0)
        self.fill = fill
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images):
        images = tf.convert_to_tensor(images)
        single = images.shape.rank == 3
        if single:
            images = images[None]
        if self.flip:
            images = random_flip(images, self.seed_generator)
        if self.max_shift:
            images = random_shift(images, self.max_shift, self.fill, self.seed_generator)
        return images[0] if single else images

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "flip": self.flip, "max_shift": self.max_shift,
                "fill": self.fill, "seed": self.seed}
