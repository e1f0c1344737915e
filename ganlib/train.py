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

import os
import threading

import keras
import tensorflow as tf

from . import smoke
from ._checks import check_choice, check_image_range, check_non_negative, check_positive, check_range
from .defaults import (DCGAN_BETAS, DCGAN_LEARNING_RATE, WGAN_GP_BETAS, WGAN_GP_LEARNING_RATE,
                       WGAN_LEARNING_RATE)

GENERATOR_LOSSES = ("non-saturating", "saturating")  # and "hinge", set by GAN(loss="hinge")


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


def _static_shape(model, attribute):
    """``model.input_shape[1:]`` (or output_shape) as a tuple, None when unknown."""
    try:
        shape = getattr(model, attribute)
    except (AttributeError, ValueError, RuntimeError):
        return None
    if isinstance(shape, list) or shape is None:  # several inputs/outputs: not checked
        return None
    return tuple(shape[1:])


def _check_networks_fit(generator, discriminator, latent_dim):
    """The generator must take ``latent_dim`` numbers and make what D takes as input."""
    z_shape = _static_shape(generator, "input_shape")
    if z_shape is not None and z_shape != (latent_dim,):
        raise ValueError(
            f"latent_dim={latent_dim} but the generator takes inputs of shape {z_shape}; "
            f"give latent_dim={z_shape[0] if len(z_shape) == 1 else z_shape}."
        )
    produced = _static_shape(generator, "output_shape")
    expected = _static_shape(discriminator, "input_shape")
    if produced is not None and expected is not None and produced != expected:
        raise ValueError(
            f"generator makes examples of shape {produced} but the discriminator takes "
            f"{expected}; build both for the same image size and channels."
        )


def _first_batch(data):
    """The first batch of a tf.data.Dataset / array / (x, y) tuple, as a NumPy array."""
    import numpy as np

    if isinstance(data, (tuple, list)) and data:
        data = data[0]
    if isinstance(data, tf.data.Dataset):
        spec = data.element_spec
        if isinstance(spec, (tuple, list)):
            spec = spec[0]
        for element in data.take(1):
            if isinstance(element, (tuple, list)):
                element = element[0]
            return np.asarray(element), spec
        raise ValueError("the data set is empty; it yields no batch to train on.")
    if isinstance(data, dict) or data is None:
        return None, None
    array = np.asarray(data)
    return array[:256], None  # an in-memory array: fit batches it itself


def _uint8_table():
    """float32 [-1, 1] of each uint8 value, ``x / 127.5 - 1`` computed by NumPy
    (``ganlib.data.from_uint8``), the values a float32 pipeline hands over."""
    import numpy as np

    return np.arange(256, dtype=np.float32) / np.float32(127.5) - np.float32(1.0)


def images_to_float(images):
    """uint8 pixels [0, 255] -> float32 [-1, 1] (``x / 127.5 - 1``), inside a train step;
    any other tensor is returned unchanged.

    The values are exactly those of ``ganlib.data.from_uint8`` and of a float32 pipeline, on
    every device: they are looked up in a table of the 256 values, because a traced
    ``x / 127.5`` is rewritten as ``x * (1 / 127.5)`` (Grappler and XLA), which rounds 43% of
    the values one unit in the last place differently. The images stay float32; a network
    computing in float16 casts its input itself, as it does a float32 batch.
    """
    images = tf.convert_to_tensor(images)
    if images.dtype != tf.uint8:
        return images
    return tf.gather(tf.constant(_uint8_table()), tf.cast(images, tf.int32))


def check_training_data(data, expected_shape):
    """Raise ValueError unless ``data`` yields batches of examples of ``expected_shape``.

    For images (examples of rank 3) the pixel values of the first batch must also be
    finite and within [-1, 1], the range of the generator's tanh output (Radford et al.
    2015): images in [0, 255] or [0, 1] are the usual mistake. uint8 batches (pixels in
    [0, 255], e.g. ``ImageSet.pipeline(dtype='uint8')``) are accepted too: the train step
    converts them (:func:`images_to_float`). Returns the first batch.
    """
    import numpy as np

    batch, spec = _first_batch(data)
    if batch is None or expected_shape is None:
        return batch
    if spec is not None and spec.shape.rank == len(expected_shape):
        raise ValueError(
            f"the data set yields single examples of shape {tuple(spec.shape)}, not batches; "
            "batch it first, e.g. dataset.batch(64)."
        )
    found = tuple(batch.shape[1:])
    if found != tuple(expected_shape):
        raise ValueError(
            f"the data has examples of shape {found} but the discriminator expects "
            f"{tuple(expected_shape)}; load the data at that size (image_size, channels) or "
            "build the networks for the data's shape."
        )
    if len(expected_shape) == 3:
        if batch.dtype == np.uint8:
            return batch  # pixels in [0, 255]; the train step converts them to [-1, 1]
        if not np.issubdtype(batch.dtype, np.floating):
            raise ValueError(
                f"the images have dtype {batch.dtype}; expected float32 values in [-1, 1] or "
                "uint8 pixels in [0, 255] (converted in the train step); for other integer "
                "pixels use x / 127.5 - 1 (0-255) or cast them to uint8."
            )
        finite = batch[np.isfinite(batch)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
        hint = "the generator's tanh makes images in [-1, 1]" + (
            "; they look like [0, 255]: use x / 127.5 - 1" if high > 2 else "")
        check_image_range("the first batch of images", batch, hint=hint)
        if low >= 0.0 and batch.size > 1000:
            import warnings

            warnings.warn(
                f"the first batch of images has values in [{low:.3g}, {high:.3g}], none "
                "negative: images scaled to [0, 1] instead of [-1, 1]? (use 2 * x - 1)",
                stacklevel=3,
            )
    return batch


def generator_loss(fake_logits, kind: str = "non-saturating"):
    """The generator's loss.

    * ``'saturating'``: minimise ``log(1 - D(G(z)))`` = ``-softplus(l)``, the minimax game
      as written; its gradient vanishes when D confidently rejects the fakes.
    * ``'non-saturating'``: minimise ``-log D(G(z))`` = ``softplus(-l)``, the variant
      Goodfellow et al. 2014 recommend in practice (same fixed point, strong gradients
      early in training).
    * ``'hinge'``: minimise ``-mean D(G(z))``, the generator's side of the hinge loss
      (Lim & Ye 2017; Miyato et al. 2018, eq. 17).
    """
    if kind == "non-saturating":
        return tf.reduce_mean(tf.nn.softplus(-fake_logits))
    if kind == "hinge":
        return -tf.reduce_mean(fake_logits)
    return -tf.reduce_mean(tf.nn.softplus(fake_logits))


def hinge_discriminator_loss(real_scores, fake_scores):
    """The hinge loss of D (Lim & Ye 2017, "Geometric GAN"; Miyato et al. 2018, eq. 16):
    ``mean max(0, 1 - D(x)) + mean max(0, 1 + D(G(z)))``.

    D is only pushed until real scores exceed +1 and fake scores fall below -1; past that
    margin it gets no gradient, which keeps it from growing ever more confident.
    """
    return tf.reduce_mean(tf.nn.relu(1.0 - real_scores)) + tf.reduce_mean(tf.nn.relu(1.0 + fake_scores))


def r1_penalty(discriminator, real, augment=None):
    """The R1 penalty (Mescheder et al. 2018, eq. 9): ``mean ||grad_x D(x)||^2`` on real data.

    The gradient is taken per example with respect to the real images (through ``augment``
    when D sees augmented images, as Zhao et al. 2020 do). The loss term is
    ``gamma / 2 * r1_penalty``; ``GAN`` adds it with ``r1_weight`` = gamma. Call it inside the
    ``tf.GradientTape`` that differentiates D's loss: the penalty depends on D's weights
    through its input gradient.
    """
    real = tf.convert_to_tensor(real)
    with tf.GradientTape() as tape:
        tape.watch(real)
        inputs = augment(real) if augment is not None else real
        total = tf.reduce_sum(tf.cast(discriminator(inputs, training=True), tf.float32))
    gradients = tf.cast(tape.gradient(total, real), tf.float32)
    axes = tf.range(1, tf.rank(gradients))
    return tf.reduce_mean(tf.reduce_sum(tf.square(gradients), axis=axes))


def updates_done(optimizer):
    """How many updates ``optimizer`` has applied. Under mixed precision the optimizer is a
    ``LossScaleOptimizer``; Keras <= 3.8 never advanced its own counter, so the inner
    optimizer's is read."""
    return getattr(optimizer, "inner_optimizer", optimizer).iterations


class _ReplicaSeedGenerator(keras.random.SeedGenerator):
    """A ``keras.random.SeedGenerator`` that gives each replica its own random numbers.

    Under ``tf.distribute.MirroredStrategy`` the generator's state is a mirrored variable,
    so every replica would draw the *same* noise (and the same interpolation alphas):
    two replicas would train on one batch of noise twice. With more than one replica in
    sync, the replica's id is folded into the seed (``tf.random.experimental.
    stateless_fold_in``); on one device the seeds, and so the runs, are unchanged.
    """

    def next(self, ordered=True):
        seed = super().next(ordered=ordered)
        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            return seed
        # int64 both: Keras <= 3.4 keeps the seed state as uint32, which fold_in refuses
        replica = tf.cast(context.replica_id_in_sync_group, tf.int64)
        return tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), replica)


def _computes_in_float16(model) -> bool:
    """True when a layer of ``model`` (nested models included) computes in float16."""
    stack = [model]
    while stack:
        layer = stack.pop()
        if getattr(layer, "compute_dtype", None) == "float16":
            return True
        stack.extend(getattr(layer, "layers", []))
    return False


def _output_dtype(model):
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):
        return None
    if not outputs or len(outputs) != 1:
        return None
    return keras.backend.standardize_dtype(outputs[0].dtype)


def _average_copy(generator):
    """A frozen copy of ``generator`` with the same weights: the start of its running average."""
    try:
        copy = keras.models.clone_model(generator)
    except Exception as error:  # subclassed models cannot always be cloned
        raise ValueError(
            f"ema_decay needs a copy of generator={getattr(generator, 'name', generator)!r}, and "
            f"keras.models.clone_model failed ({type(error).__name__}: {error}); build the "
            "generator with the functional API (as ganlib.models does) or give ema_decay=None."
        ) from None
    copy.set_weights(generator.get_weights())
    copy.trainable = False
    return copy


class _AdversarialModel(keras.Model):
    """What every GAN here shares: the two networks, the noise, the schedule of updates,
    the running average of the generator, the metric trackers.

    ``train_step`` is Algorithm 1 of Goodfellow et al. 2014 (and of Gulrajani et al. 2017):
    one discriminator update on the real batch that ``fit`` hands over, and after every
    ``d_steps``-th discriminator update one generator update. Each discriminator update
    so sees a fresh real minibatch, and ``fit`` over N batches makes N discriminator and
    ``N // d_steps`` generator updates (the count carries over from one ``fit`` to the next).
    Subclasses write the two updates, ``discriminator_step`` and ``generator_step``.

    Plumbing kept out of those steps, so that they read as the algorithm:

    * ``apply_loss_gradients`` divides each loss by the number of replicas in sync before
      taking gradients (Keras' optimizer *sums* the replicas' gradients, as its own
      ``compute_loss`` accounts for) and, when a network computes in float16, scales the
      loss for ``keras.optimizers.LossScaleOptimizer`` (Micikevicius et al. 2018);
    * ``every`` runs an update every n-th step on one device and on several (an optimizer
      update cannot sit inside a ``tf.cond`` taken in each replica);
    * the noise generator folds the replica id into its seed (``_ReplicaSeedGenerator``);
    * ``update_average`` keeps the running average of the generator's weights.
    """

    #: The metrics every step reports; a subclass names its own.
    base_metric_names: tuple = ()

    def __init__(self, generator, discriminator, latent_dim, d_steps: int = 1, seed=None,
                 ema_decay=None, extra_metrics=(), **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = check_positive("latent_dim", latent_dim, integer=True)
        self.d_steps = check_positive("d_steps", d_steps, integer=True)
        self.seed_generator = _ReplicaSeedGenerator(seed)
        self.metric_names = (*self.base_metric_names, *extra_metrics)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.metric_names}
        self.loss_scaling = _computes_in_float16(generator) or _computes_in_float16(discriminator)
        if self.loss_scaling and _output_dtype(discriminator) not in (None, "float32"):
            raise ValueError(
                f"discriminator={discriminator.name!r} outputs {_output_dtype(discriminator)} under "
                "mixed precision; its losses need float32 scores: give its last layer "
                "dtype='float32' (as ganlib.models does), e.g. layers.Activation('linear', "
                "dtype='float32')."
            )
        if ema_decay is not None:
            ema_decay = check_range("ema_decay", ema_decay, 0.0, 1.0, high_open=True)
        self.ema_decay = ema_decay
        self.ema_generator = _average_copy(generator) if ema_decay is not None else None
        self._d_optimizer = None
        self._g_optimizer = None

    # --- the algorithm ---------------------------------------------------------------
    def train_step(self, data):
        """One iteration of Algorithm 1: a discriminator update on this real batch, and
        after every ``d_steps``-th one a generator update."""
        real = self._real_batch(data)
        d_metrics = self.discriminator_step(real)
        self.every(self.d_steps, lambda: self.update_generator(tf.shape(real)[0]))
        return self._result(d_metrics)

    def update_generator(self, batch_size):
        """One generator update, then the running average of its weights follows it."""
        g_loss = self.generator_step(batch_size)
        self.trackers["g_loss"].update_state(g_loss)
        self.update_average()

    def discriminator_step(self, real):
        """One discriminator (critic) update; returns a dict of metrics."""
        raise NotImplementedError

    def generator_step(self, batch_size):
        """One generator update on fresh noise; returns the generator's loss."""
        raise NotImplementedError

    # --- sampling ----------------------------------------------------------------------
    #: Give the averaged generator's batch norm layers statistics of its own before it is
    #: sampled ("standing statistics", Brock et al. 2019, sec. 3.1 and appendix C.1). False: the
    #: live generator's running statistics, which the average copies every step, are used.
    standing_statistics = True
    #: Latent vectors (in batches of 256) over which the standing statistics are averaged.
    standing_samples = 2048

    @property
    def sampling_generator(self):
        """The generator to sample from, the running average of the generator's weights
        when ``ema_decay`` was given (Karras et al. 2018; Yazici et al. 2019), else the
        generator itself. Sample grids, evaluation and the saved ``generator.keras`` use it.

        The average's weights are not those of any generator that was trained, so the batch
        statistics its layers would see differ from the live generator's running ones; when
        ``standing_statistics`` is True, reading this property (eagerly) first sets them to
        the average's own (``recalibrate_average``), once per generator update."""
        if self.ema_generator is None:
            return self.generator
        if self.standing_statistics and tf.executing_eagerly():
            self.recalibrate_average()
        return self.ema_generator

    def _standing_inputs(self, count, rng):
        """The inputs of the averaged generator for ``recalibrate_average``: noise alone."""
        return rng.standard_normal((count, self.latent_dim)).astype("float32")

    def recalibrate_average(self, samples=None, batch_size: int = 256, force: bool = False):
        """Set the batch norm statistics of the averaged generator to the mean and variance its
        own layers see over ``samples`` latent vectors (default ``standing_samples``), the
        "standing statistics" of BigGAN (Brock et al. 2019): each batch is run in training
        mode and the statistics are the mean over the batches. The noise has a fixed seed
        of its own (the training's random numbers are not drawn), so the result depends on the
        weights alone. Does nothing without an average or batch norm, or when the weights have
        not changed since the last call (unless ``force``). Returns whether it ran."""
        import numpy as np

        if self.ema_generator is None:
            return False
        norms = [layer for layer in self.ema_generator._flatten_layers()
                 if isinstance(layer, keras.layers.BatchNormalization)]
        if not norms:
            return False
        steps = (int(keras.ops.convert_to_numpy(tf.convert_to_tensor(updates_done(self.g_optimizer))))
                 if getattr(self, "g_optimizer", None) is not None else -1)  # a MirroredVariable too
        key = (steps, float(np.sum(keras.ops.convert_to_numpy(self.ema_generator.weights[0]))))  # a restore too
        if not force and getattr(self, "_standing_key", None) == key:
            return False
        samples = int(samples or self.standing_samples)
        rng = np.random.default_rng(20190101)
        saved = [(layer, layer.trainable, layer.momentum) for layer in norms]
        try:
            for layer in norms:
                layer.trainable = True
            for number, start in enumerate(range(0, samples, batch_size)):
                for layer in norms:  # a running mean of the batches' statistics: batch k weighs 1/(k+1)
                    layer.momentum = number / (number + 1.0)
                self.ema_generator(self._standing_inputs(min(batch_size, samples - start), rng), training=True)
        finally:
            for layer, trainable, momentum in saved:
                layer.trainable = trainable
                layer.momentum = momentum
        self._standing_key = key
        return True

    def call(self, z, training=False):
        """A GAN called on noise returns images: ``gan(z) == gan.sampling_generator(z)``."""
        return self.sampling_generator(z, training=training)

    def sample_noise(self, batch_size):
        """A batch of noise z ~ N(0, I), shape (batch_size, latent_dim), from this model's seed."""
        return keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)

    def update_average(self):
        """Move the averaged generator towards the generator:
        ``average <- decay * average + (1 - decay) * weights``.

        The decay ramps up as ``min(ema_decay, (1 + t) / (10 + t))`` after t generator
        updates (the rule of ``tf.train.ExponentialMovingAverage`` with ``num_updates``), so
        the average does not cling to the random initial weights of a short run. Weights
        that are not trained (batch norm's running statistics) are copied.
        """
        if self.ema_generator is None:
            return
        steps = tf.cast(updates_done(self.g_optimizer), tf.float32)
        decay = tf.minimum(self.ema_decay, (1.0 + steps) / (10.0 + steps))
        trainable = {id(weight) for weight in self.generator.trainable_weights}
        pairs = []
        for average, weight in zip(self.ema_generator.weights, self.generator.weights):
            value = tf.convert_to_tensor(weight)
            if id(weight) in trainable:
                value = decay * tf.convert_to_tensor(average) + (1.0 - decay) * value
            pairs.append((average, value))
        _assign_on_every_replica(pairs)

    # --- plumbing ----------------------------------------------------------------------
    def _prepare_optimizer(self, optimizer, network):
        """``optimizer`` ready for ``network``: wrapped in a LossScaleOptimizer when a network
        computes in float16, and built now, under the model's distribution strategy.

        Building here rather than inside the first train step matters on several devices:
        variables created while a ``MirroredStrategy`` step is being traced (Adam's moments)
        make the step fail, and a checkpoint restored before ``fit`` needs them to exist.
        """
        if optimizer is None:
            return None
        if self.loss_scaling and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        if not optimizer.built and network.built:
            with self.distribute_strategy.scope():
                optimizer.build(network.trainable_variables)
        return optimizer

    @property
    def d_optimizer(self):
        """The discriminator's (critic's) optimizer, set by ``compile``."""
        return self._d_optimizer

    @d_optimizer.setter
    def d_optimizer(self, optimizer):
        self._d_optimizer = self._prepare_optimizer(optimizer, self.discriminator)

    @property
    def g_optimizer(self):
        """The generator's optimizer, set by ``compile``."""
        return self._g_optimizer

    @g_optimizer.setter
    def g_optimizer(self, optimizer):
        self._g_optimizer = self._prepare_optimizer(optimizer, self.generator)

    def every(self, n, function):
        """Run ``function()`` after every ``n``-th discriminator update (always when n is 1).

        The count is the discriminator optimizer's. On one device this is a ``tf.cond``. On
        several replicas an optimizer update cannot sit inside a ``tf.cond`` taken in each
        replica (its gradient all-reduce is a ``merge_call``), so the branch is taken once
        in cross-replica context and then runs ``function`` on each replica, as Keras'
        LossScaleOptimizer does.
        """
        if n == 1:
            function()
            return
        # The generator's optimizer variables cannot be created inside a branch: build now.
        if not self.g_optimizer.built:
            self.g_optimizer.build(self.generator.trainable_variables)
        condition = tf.equal(updates_done(self.d_optimizer) % n, 0)

        def taken():
            function()
            return tf.constant(True)

        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            tf.cond(condition, taken, lambda: tf.constant(False))
            return

        def cross_replica(strategy, condition):
            first = strategy.experimental_local_results(condition)[0]

            def taken_on_each_replica():
                strategy.extended.call_for_each_replica(function)
                return tf.constant(True)

            tf.cond(first, taken_on_each_replica, lambda: tf.constant(False))

        context.merge_call(cross_replica, args=(condition,))

    def run_if(self, condition, function):
        """Kept for code written against ganlib 0.1: ``function()`` when ``condition``."""
        def taken():
            function()
            return tf.constant(True)

        tf.cond(condition, taken, lambda: tf.constant(False))

    def apply_loss_gradients(self, optimizer, tape, loss, weights):
        """One update of ``weights`` by ``optimizer`` down the gradient of ``loss``.

        ``loss`` is this replica's mean over its share of the batch. The gradient is taken
        of ``optimizer.scale_loss(loss / replicas)``: the division makes the sum that Keras'
        optimizer forms across replicas the gradient of the mean over the global batch, and
        ``scale_loss`` multiplies by the loss scale under mixed precision (the optimizer
        divides it out again). Both are applied as the tape's upstream gradient, so the
        loss value itself (and the metrics) stay unscaled.
        """
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        upstream = optimizer.scale_loss(tf.constant(1.0 / replicas, tf.float32))
        upstream = tf.cast(upstream, loss.dtype)
        gradients = tape.gradient(loss, weights, output_gradients=upstream)
        optimizer.apply_gradients(zip(gradients, weights))

    @property
    def data_shape(self):
        """The shape of one real example the discriminator expects, e.g. (64, 64, 3)."""
        return _static_shape(self.discriminator, "input_shape")

    def fit(self, x=None, *args, check_data: bool = True, **kwargs):
        """``keras.Model.fit`` after checking that the data matches the networks.

        With ``check_data`` (default) the first batch is inspected: its examples must have
        the discriminator's input shape and, for images, values in [-1, 1] (the range of
        the generator's tanh); the generator must take ``latent_dim`` numbers and make
        examples of that shape. Otherwise a ValueError says what was found and how to fix
        it, before any training. Everything else is passed on to ``keras.Model.fit``.
        With ``GANLIB_SMOKE=1`` (``ganlib.smoke``) every call stops after ``smoke.STEPS`` steps.
        """
        _check_networks_fit(self.generator, self.discriminator, self.latent_dim)
        if smoke.active():
            from .callbacks import TrainingBudget

            kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), TrainingBudget(max_steps=smoke.STEPS)]
        if check_data:
            check_training_data(x, self.data_shape)
        if isinstance(x, tf.data.Dataset) and not args:
            kwargs.setdefault("shuffle", False)  # a Dataset shuffles itself; Keras would warn
        if not self.built and self.generator.built and self.discriminator.built:
            # Under a tf.distribute strategy Keras builds an unbuilt model by calling it on
            # a data batch, but this model is called on noise: its networks are built.
            self.built = True
        return super().fit(x, *args, **kwargs)

    @property
    def metrics(self):
        return list(self.trackers.values())

    def _real_batch(self, data):
        # fit() may hand us (x,) or (x, y) from datasets with labels; only x is used.
        if isinstance(data, (tuple, list)):
            data = data[0]
        return images_to_float(data)  # uint8 batches cross to the device as uint8

    def _result(self, values):
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}


def _assign_on_every_replica(pairs):
    """``variable.assign(value)`` for each pair, also on several replicas, where a mirrored
    variable can only be assigned in cross-replica context (every replica computed the same
    value, since the weights it came from are kept in sync)."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        for variable, value in pairs:
            variable.assign(value)
        return

    def cross_replica(strategy, values):
        for (variable, _), value in zip(pairs, values):
            target = getattr(variable, "value", variable)
            strategy.extended.update(target, lambda v, x: v.assign(x), args=(value,))

    context.merge_call(cross_replica, args=([value for _, value in pairs],))


DISCRIMINATOR_LOSSES = ("bce", "hinge")


class GAN(_AdversarialModel):
    """The GAN of Goodfellow et al. 2014, trained with the non-saturating loss by default,
    with the pieces that made GANs reliable after 2017 as options.

    ``train_step`` is their Algorithm 1: each step is one update of the discriminator on the
    real batch ``fit`` hands over and a fresh batch of noise; after every ``d_steps`` (k)
    such updates the generator makes one update on fresh noise. With k > 1 every
    discriminator update sees its own real minibatch, as in the paper.

    Args:
        generator: keras.Model z (latent_dim,) -> x.
        discriminator: keras.Model x -> one logit (score) per example.
        latent_dim: size of z, drawn from N(0, I).
        d_steps: k, discriminator updates per generator update (Goodfellow et al. use 1).
        label_smoothing: one-sided label smoothing of the real target, in [0, 0.5)
            (Salimans et al. 2016); 'bce' only.
        generator_loss: 'non-saturating' (default) or 'saturating'; 'bce' only.
        loss: 'bce', the cross-entropy of Goodfellow et al. 2014, or 'hinge' (Lim & Ye 2017,
            used with spectral normalisation by Miyato et al. 2018).
        r1_weight: gamma of the R1 penalty on real data, ``gamma / 2 * E ||grad D(x)||^2``
            (Mescheder et al. 2018); 0 (default) adds none.
        r1_every: compute R1 on every n-th discriminator update only, multiplied by n
            ("lazy regularisation", Karras et al. 2020, StyleGAN2, who use 16).
        ema_decay: None, or the decay of a running average of the generator's weights,
            used for sampling (Karras et al. 2018 use 0.999; Yazici et al. 2019).
        seed: seed of the noise generator (None: from Keras' global seed).
        augment: None, or a callable images -> images (e.g. ``ganlib.augment.DiffAugment``)
            applied to real *and* generated images every time D sees them, in the
            discriminator and the generator steps (Zhao et al. 2020), so gradients reach G
            through it. It must work on symbolic tensors inside ``tf.function``. One with an
            ``observe`` method (``ganlib.augment.AdaptiveAugment``) is shown D's logits on
            every real batch, and its probability is reported as ``augment_p``.

    Metrics: ``d_loss``, ``g_loss``, ``d_real`` = mean sigmoid(D(x)) and ``d_fake`` = mean
    sigmoid(D(G(z))) (for 'bce' the probabilities D gives; for 'hinge' a squashed score), and
    ``r1`` (the unweighted penalty) when ``r1_weight`` > 0, ``augment_p`` (adaptive augmentation's
    probability) with an ``AdaptiveAugment``.
    """

    #: The metrics every step reports (``fit``'s history, the progress bar).
    base_metric_names = ("d_loss", "g_loss", "d_real", "d_fake")

    def __init__(
        self,
        generator,
        discriminator,
        latent_dim,
        d_steps: int = 1,
        label_smoothing: float = 0.0,
        generator_loss: str = "non-saturating",
        seed=None,
        augment=None,
        loss: str = "bce",
        r1_weight: float = 0.0,
        r1_every: int = 1,
        ema_decay=None,
        **kwargs,
    ):
        if augment is not None and not callable(augment):
            raise ValueError(
                f"augment={augment!r} is not callable; give None or a function/layer that maps "
                "a batch of images to a batch of the same shape (e.g. ganlib.augment.DiffAugment())."
            )
        loss = check_choice("loss", loss, DISCRIMINATOR_LOSSES)
        r1_weight = check_non_negative("r1_weight", r1_weight)
        adaptive = callable(getattr(augment, "observe", None))
        super().__init__(generator, discriminator, latent_dim, d_steps=d_steps, seed=seed, ema_decay=ema_decay,
                         extra_metrics=(("r1",) if r1_weight else ()) + (("augment_p",) if adaptive else ()),
                         **kwargs)
        self.augment = augment
        self.adaptive_augment = adaptive
        self.loss_kind = loss
        self.label_smoothing = check_range("label_smoothing", label_smoothing, 0.0, 0.5, high_open=True)
        self.generator_loss_kind = check_choice("generator_loss", generator_loss, GENERATOR_LOSSES)
        if loss == "hinge":
            if generator_loss != "non-saturating" or label_smoothing:
                raise ValueError(
                    f"loss='hinge' has its own generator loss and no labels; generator_loss="
                    f"{generator_loss!r} and label_smoothing={label_smoothing!r} apply to loss='bce' only."
                )
            self.generator_loss_kind = "hinge"
        self.r1_weight = r1_weight
        self.r1_every = check_positive("r1_every", r1_every, integer=True)

    def compile(self, d_optimizer=None, g_optimizer=None, jit_compile="auto", **kwargs):
        """Defaults: Adam(2e-4, beta_1=0.5) for both networks (Radford et al. 2015).

        Two learning rates (TTUR, Heusel et al. 2017): give each network its own optimizer,
        e.g. ``d_optimizer=dcgan_adam(4e-4), g_optimizer=dcgan_adam(1e-4)``.

        ``jit_compile`` is passed to Keras: 'auto' compiles the train step with XLA on a
        GPU and not on a CPU (Keras' rule), True or False forces it. On a 2-core CPU
        (``python -m ganlib bench``, benchmarks/README.md) XLA beat TensorFlow's default
        kernels but not the oneDNN kernels that ``import ganlib`` switches on: with those,
        the paper-size DCGAN took 1.06-1.33x *more* CPU time per step under XLA, while a
        narrow one with DiffAugment (lesson 03) took 13% less. Measure before forcing it
        on a CPU. Keras' own single ``optimizer`` is not used (each network has its own),
        so none is created.
        """
        kwargs.setdefault("optimizer", None)
        super().compile(jit_compile=jit_compile, **kwargs)
        self.d_optimizer = d_optimizer or dcgan_adam()
        self.g_optimizer = g_optimizer or dcgan_adam()

    def discriminate(self, images):
        """D's logits for a batch, after ``augment`` when one was given."""
        if self.augment is not None:
            images = self.augment(images)
        return self.discriminator(images, training=True)

    def discriminator_loss(self, real_logits, fake_logits):
        """The discriminator's loss on a batch: cross-entropy (with ``label_smoothing``), or the hinge loss."""
        if self.loss_kind == "hinge":
            return hinge_discriminator_loss(real_logits, fake_logits)
        return discriminator_loss(real_logits, fake_logits, self.label_smoothing)

    def discriminator_step(self, real):
        fake = self.generator(self.sample_noise(tf.shape(real)[0]), training=True)
        with tf.GradientTape() as tape:
            real_logits = self.discriminate(real)
            fake_logits = self.discriminate(fake)
            d_loss = self.discriminator_loss(real_logits, fake_logits)
            if self.r1_weight:
                r1 = self.lazy_r1(real)
                d_loss += self.r1_weight / 2.0 * self.r1_every * r1
        self.apply_loss_gradients(self.d_optimizer, tape, d_loss, self.discriminator.trainable_weights)
        metrics = {"d_loss": d_loss,
                   "d_real": tf.reduce_mean(tf.sigmoid(real_logits)),
                   "d_fake": tf.reduce_mean(tf.sigmoid(fake_logits))}
        if self.r1_weight:
            metrics["r1"] = r1
        if self.adaptive_augment:  # ADA: D's sureness on these real images moves p
            metrics["augment_p"] = self.augment.observe(real_logits)
        return metrics

    def generator_step(self, batch_size):
        z = self.sample_noise(batch_size)
        with tf.GradientTape() as tape:
            fake_logits = self.discriminate(self.generator(z, training=True))
            g_loss = generator_loss(fake_logits, self.generator_loss_kind)
        self.apply_loss_gradients(self.g_optimizer, tape, g_loss, self.generator.trainable_weights)
        return g_loss

    def lazy_r1(self, real):
        """R1 on this update when it is the ``r1_every``-th, else 0 (Karras et al. 2020)."""
        if self.r1_every == 1:
            return r1_penalty(self.discriminator, real, self.augment)
        due = tf.equal(updates_done(self.d_optimizer) % self.r1_every, 0)
        return tf.cond(due, lambda: r1_penalty(self.discriminator, real, self.augment),
                       lambda: tf.constant(0.0))


def dcgan_adam(learning_rate: float = DCGAN_LEARNING_RATE):
    """Adam(learning_rate, beta_1=0.5): Radford et al. 2015, section 4 (2e-4, beta_1 0.5)."""
    return keras.optimizers.Adam(learning_rate, beta_1=DCGAN_BETAS[0], beta_2=DCGAN_BETAS[1])


def wgan_gp_adam(learning_rate: float = WGAN_GP_LEARNING_RATE):
    """Adam(learning_rate, beta_1=0, beta_2=0.9): Gulrajani et al. 2017, Algorithm 1."""
    return keras.optimizers.Adam(learning_rate, beta_1=WGAN_GP_BETAS[0], beta_2=WGAN_GP_BETAS[1])


def wgan_rmsprop(learning_rate: float = WGAN_LEARNING_RATE):
    """RMSprop(5e-5): Arjovsky et al. 2017, Algorithm 1."""
    return keras.optimizers.RMSprop(learning_rate)


def random_interpolates(real, fake, seed=None):
    """Points on straight lines between real and generated examples.

    ``x_hat = alpha * real + (1 - alpha) * fake`` with one ``alpha ~ U[0, 1]`` per example,
    shared by all of that example's pixels (Gulrajani et al. 2017, Algorithm 1, lines 4-6).
    alpha's shape is ``(batch_size, 1, ..., 1)``, taken from the batch at run time, so any
    batch size works (1, odd, or a short last batch).

    Returns:
        ``(interpolated, alpha)``.
    """
    real = tf.convert_to_tensor(real)
    fake = tf.cast(tf.convert_to_tensor(fake), real.dtype)
    batch_size = tf.shape(real)[0]
    alpha_shape = tf.concat([[batch_size], tf.ones(tf.rank(real) - 1, dtype=tf.int32)], axis=0)
    alpha = keras.random.uniform(alpha_shape, 0.0, 1.0, seed=seed, dtype=real.dtype)
    return alpha * real + (1.0 - alpha) * fake, alpha


#: The gradient penalties ``gradient_penalty`` and ``WGANGP`` take.
PENALTIES = ("two-sided", "one-sided")


def gradient_penalty(critic, real, fake, epsilon: float = 1e-12, seed=None, one_sided: bool = False):
    """Gulrajani et al. 2017, Algorithm 1: the mean of ``(||grad_x f(x_hat)||_2 - 1)^2``.

    ``one_sided=True``: the mean of ``max(0, ||grad_x f(x_hat)||_2 - 1)^2`` instead, the
    Lipschitz penalty of Petzka et al. 2018 ("On the regularization of Wasserstein GANs",
    WGAN-LP): it penalises only slopes steeper than 1, as the 1-Lipschitz constraint asks,
    and, unlike the two-sided penalty, puts no barrier at gradient norm 0 (in 1-D the
    two-sided one has minima at slope +1 and -1 and a critic must pay lambda to reverse).

    ``x_hat`` comes from ``random_interpolates`` (alpha ~ U[0, 1] per example). The norm
    is taken per example over all its pixels and channels. ``epsilon`` sits inside the
    square root, ``sqrt(sum(g^2) + epsilon)``: without it the derivative of the square
    root at 0 is infinite and a critic whose gradient is exactly zero gets NaN weights
    (0 * inf). The paper has no epsilon; 1e-12 changes the norm by at most 1e-6.

    Returns the penalty *without* its weight lambda (``WGANGP`` multiplies by gp_weight).
    Call it inside the ``tf.GradientTape`` that differentiates the critic's loss: the
    penalty depends on the critic's weights through its input gradient.
    """
    epsilon = check_non_negative("epsilon", epsilon)
    interpolated, _ = random_interpolates(real, fake, seed=seed)
    with tf.GradientTape() as tape:
        tape.watch(interpolated)
        scores = critic(interpolated, training=True)
    gradients = tape.gradient(scores, interpolated)
    axes = tf.range(1, tf.rank(gradients))
    norm = tf.sqrt(tf.reduce_sum(tf.square(gradients), axis=axes) + epsilon)
    excess = tf.nn.relu(norm - 1.0) if one_sided else norm - 1.0
    return tf.reduce_mean(tf.square(excess))


def _batch_norm_layers(model):
    """Names of the BatchNormalization layers in ``model``, nested models included."""
    found, stack = [], list(getattr(model, "layers", []))
    while stack:
        layer = stack.pop(0)
        if isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer.name)
        stack.extend(getattr(layer, "layers", []))
    return found


class _WassersteinModel(_AdversarialModel):
    """The updates shared by WGAN and WGAN-GP (Algorithm 1 of both papers).

    ``train_step`` (from ``_AdversarialModel``) is one critic iteration: one critic update
    on the batch that ``fit`` hands over and a fresh batch of noise; after every
    ``n_critic``-th critic update the generator makes one update on fresh noise. So, as in
    the papers, each critic update sees its own batch of real data, and ``fit`` over N
    batches makes N critic updates and ``N // n_critic`` generator updates.

    The critic outputs an unbounded score f(x), not a logit. The generator minimises
    ``-mean f(G(z))``; the metric ``wasserstein`` = mean f(x) - mean f(G(z)) is the
    critic's estimate of the Wasserstein-1 distance (up to the critic's Lipschitz
    constant), which falls as the samples improve.
    """

    #: The metrics every step reports; ``wasserstein`` is the critic's estimate of W1,
    #: mean f(x) - mean f(G(z)).
    base_metric_names = ("d_loss", "g_loss", "wasserstein")

    def __init__(self, generator, critic, latent_dim, n_critic: int = 5, seed=None, ema_decay=None,
                 **kwargs):
        n_critic = check_positive("n_critic", n_critic, integer=True)
        super().__init__(generator, critic, latent_dim, d_steps=n_critic, seed=seed,
                         ema_decay=ema_decay, **kwargs)

    @property
    def n_critic(self):
        """Critic updates per generator update (``d_steps`` under its papers' name)."""
        return self.d_steps

    @property
    def critic(self):
        """The critic f (the ``discriminator`` argument under its WGAN name)."""
        return self.discriminator

    def critic_loss(self, real, fake):
        """The critic's loss and its parts, as a (loss, dict of scalars) pair."""
        raise NotImplementedError

    def after_critic_update(self):
        """Hook run after each critic update (weight clipping in WGAN); nothing here."""
        return None

    def discriminator_step(self, real):
        fake = self.generator(self.sample_noise(tf.shape(real)[0]), training=True)
        with tf.GradientTape() as tape:
            d_loss, parts = self.critic_loss(real, fake)
        self.apply_loss_gradients(self.d_optimizer, tape, d_loss, self.critic.trainable_weights)
        self.after_critic_update()
        return {"d_loss": d_loss, **parts}

    critic_step = discriminator_step

    def generator_step(self, batch_size):
        z = self.sample_noise(batch_size)
        with tf.GradientTape() as tape:
            g_loss = -tf.reduce_mean(self.critic(self.generator(z, training=True), training=True))
        weights = self.generator.trainable_weights
        if weights:  # a frozen generator (trainable=False): only the critic learns
            self.apply_loss_gradients(self.g_optimizer, tape, g_loss, weights)
        return g_loss


class WGAN(_WassersteinModel):
    """The Wasserstein GAN with weight clipping (Arjovsky et al. 2017, Algorithm 1).

    The critic maximises mean f(x) - mean f(G(z)); after every critic update each of its
    trainable weights is clipped to ``[-clip_value, clip_value]``, a crude way to keep f
    K-Lipschitz. Kept for comparison with ``WGANGP``: clipping limits the critic's
    capacity (Gulrajani et al. 2017, section 3). Batch norm is allowed in this critic
    (Arjovsky et al. used it).

    Args:
        generator, critic, latent_dim: as for ``GAN``; the critic outputs a score.
        n_critic: critic updates per generator update (Arjovsky et al. 2017: 5).
        clip_value: c, the clipping bound (Arjovsky et al. 2017: 0.01).
        seed: seed of the noise generator.
        ema_decay: as for ``GAN``.

    Metrics: ``d_loss`` = -(mean f(x) - mean f(G(z))), ``g_loss`` and ``wasserstein``.
    Their reference code also trains the critic 100 times per generator step for the
    first 25 and every 500th generator step; that schedule is not part of Algorithm 1
    and is not done here.
    """

    def __init__(self, generator, critic, latent_dim, n_critic: int = 5, clip_value: float = 0.01,
                 seed=None, **kwargs):
        super().__init__(generator, critic, latent_dim, n_critic=n_critic, seed=seed, **kwargs)
        self.clip_value = check_positive("clip_value", clip_value)

    def compile(self, d_optimizer=None, g_optimizer=None, jit_compile="auto", **kwargs):
        """Defaults: RMSprop(5e-5) for both networks (Arjovsky et al. 2017, Algorithm 1)."""
        super().compile(jit_compile=jit_compile, **kwargs)
        self.d_optimizer = d_optimizer or wgan_rmsprop()
        self.g_optimizer = g_optimizer or wgan_rmsprop()

    def critic_loss(self, real, fake):
        wasserstein = tf.reduce_mean(self.critic(real, training=True)) - tf.reduce_mean(
            self.critic(fake, training=True)
        )
        return -wasserstein, {"wasserstein": wasserstein}

    def after_critic_update(self):
        for weight in self.critic.trainable_weights:
            weight.assign(tf.clip_by_value(weight, -self.clip_value, self.clip_value))


class WGANGP(_WassersteinModel):
    """WGAN with gradient penalty (Gulrajani et al. 2017, Algorithm 1).

    Critic loss: ``mean f(G(z)) - mean f(x) + gp_weight * gradient_penalty``, the
    penalty taken at random points between real and generated examples. The critic
    must not use batch normalisation: the penalty is per example and batch norm mixes
    the examples of a batch (section 4 of the paper), so a critic with a
    ``BatchNormalization`` layer is refused with a ValueError; use layer normalisation
    (``ganlib.models.wgan_critic``) or none.

    Args:
        generator, critic, latent_dim: as for ``GAN``; the critic outputs a score.
        n_critic: critic updates per generator update (Gulrajani et al. 2017: 5).
        gp_weight: lambda, the penalty's weight (Gulrajani et al. 2017: 10; their
            toy 8-Gaussians code used 0.1).
        penalty: 'two-sided' (default), ``(||grad f|| - 1)^2`` of Gulrajani et al. 2017; or
            'one-sided', ``max(0, ||grad f|| - 1)^2``, the Lipschitz penalty of Petzka et al.
            2018 (WGAN-LP), which only penalises norms above 1 (see ``gradient_penalty``).
        seed: seed of the noise and of alpha.
        ema_decay: as for ``GAN``.

    Metrics: ``d_loss`` (critic loss incl. penalty), ``g_loss``, ``gp`` (unweighted
    penalty) and ``wasserstein`` = mean f(x) - mean f(G(z)), the critic's W1 estimate.
    """

    #: The metrics every step reports; ``gp`` is the unweighted gradient penalty.
    base_metric_names = ("d_loss", "g_loss", "gp", "wasserstein")

    def __init__(self, generator, critic, latent_dim, n_critic: int = 5, gp_weight: float = 10.0,
                 seed=None, penalty: str = "two-sided", **kwargs):
        penalty = check_choice("penalty", penalty, PENALTIES)
        batch_norms = _batch_norm_layers(critic)
        if batch_norms:
            raise ValueError(
                f"critic={getattr(critic, 'name', critic)!r} has batch normalization "
                f"(layers {', '.join(batch_norms)}); the gradient penalty is per example and "
                "batch norm mixes the examples of a batch (Gulrajani et al. 2017, sec. 4). "
                "Use a critic with layer normalization or none, e.g. ganlib.models.wgan_critic()."
            )
        super().__init__(generator, critic, latent_dim, n_critic=n_critic, seed=seed, **kwargs)
        self.gp_weight = check_non_negative("gp_weight", gp_weight)
        self.penalty = penalty

    def compile(self, d_optimizer=None, g_optimizer=None, jit_compile="auto", **kwargs):
        """Defaults: Adam(1e-4, beta_1=0, beta_2=0.9) (Gulrajani et al. 2017, Algorithm 1).

        Their released code used beta_1=0.5 for the toy, MNIST and CIFAR-10 models and
        beta_1=0 for the 64x64 ones; pass your own optimizers to change them.
        """
        super().compile(jit_compile=jit_compile, **kwargs)
        self.d_optimizer = d_optimizer or wgan_gp_adam()
        self.g_optimizer = g_optimizer or wgan_gp_adam()

    def critic_loss(self, real, fake):
        wasserstein = tf.reduce_mean(self.critic(real, training=True)) - tf.reduce_mean(
            self.critic(fake, training=True)
        )
        gp = gradient_penalty(self.critic, real, fake, seed=self.seed_generator,
                              one_sided=self.penalty == "one-sided")
        return -wasserstein + self.gp_weight * gp, {"gp": gp, "wasserstein": wasserstein}


# --- fit_gan: one call that trains with sample grids, checkpoints, resume and a NaN guard ---


class TrainingHistory(dict):
    """``fit_gan``'s result: a dict of per-step lists (``step``, ``epoch``, ``d_loss``,
    ``g_loss``, ...) with three attributes: ``status`` ('completed' or why training
    stopped), ``run_dir`` and ``resumed_from_step`` (None for a fresh run)."""

    def __init__(self, history, status, run_dir, resumed_from_step=None):
        super().__init__(history)
        self.status = status
        self.run_dir = run_dir
        self.resumed_from_step = resumed_from_step


class _StepFeed:
    """The batches of one iterator of ``dataset``, numbered from ``first``, handed out by step:
    every iterator of ``from_generator(feed.batches)`` starts at the step training has reached
    (``step()``), so no batch is lost to an iterator that Keras makes and then drops.

    Keras makes more iterators than it trains from and each reads ahead: under a tf.distribute
    strategy every ``fit`` call first takes a batch from an iterator it throws away, to build
    the model (``_maybe_symbolic_build`` in keras/src/backend/tensorflow/trainer.py, Keras 3),
    and a mid-epoch resume makes two ``fit`` calls. Batches read but not yet trained on are
    kept for the next iterator; those of steps already trained are dropped.

    Call ``close()`` when training ends. TensorFlow keeps the generator function of every
    ``from_generator`` data set for the rest of the process (``tf.numpy_function`` ties it to
    the global default graph: ``_internal_py_func`` in tensorflow/python/ops/script_ops.py), so
    this object outlives training, and with it, until ``close``, the iterator it reads and that
    iterator's buffers (a shuffle buffer can hold a copy of every image; prefetched batches).
    After ``close`` every iterator of ``batches`` ends.
    """

    def __init__(self, dataset, first, step):
        self._iterator = iter(dataset)  # one iterator: a seeded reshuffling pipeline draws one order per pass
        self._next = first  # the number of the iterator's next batch
        self._kept = {}  # number -> batch read, not trained yet
        self._step = step
        self._lock = threading.Lock()  # tf.data calls generators from its own threads

    def batches(self):
        number = self._step()
        while True:
            with self._lock:
                if self._iterator is None:  # closed: training is over
                    return
                step = self._step()
                for old in [kept for kept in self._kept if kept < step]:
                    del self._kept[old]
                if number < step:  # a dropped iterator behind training: it ends
                    return
                while self._next <= number:
                    self._kept[self._next] = next(self._iterator)
                    self._next += 1
                batch = self._kept[number]
            yield batch
            number += 1

    def close(self):
        """Drop the source iterator and the batches kept (see the class docstring)."""
        with self._lock:
            self._iterator = None
            self._kept.clear()


def _steps_per_epoch(dataset, steps_per_epoch=None):
    if steps_per_epoch is not None:
        return check_positive("steps_per_epoch", steps_per_epoch, integer=True)
    cardinality = int(dataset.cardinality().numpy())
    if cardinality == tf.data.INFINITE_CARDINALITY:
        raise ValueError(
            "dataset is infinite (it repeats); give steps_per_epoch=... or remove .repeat()."
        )
    if cardinality == tf.data.UNKNOWN_CARDINALITY:  # e.g. after filter(): count once
        cardinality = int(dataset.reduce(0, lambda count, _: count + 1).numpy())
    if cardinality < 1:
        raise ValueError("dataset is empty; it yields no batch to train on.")
    return cardinality


def fit_gan(gan, dataset, epochs: int, out_dir, *, checkpoint_every: int | None = 500,
            resume: bool = True, n_samples: int = 64, sample_seed: int = 0, sample_every=1,
            nan_guard: bool = True, save_models: bool = True, steps_per_epoch: int | None = None,
            callbacks=None, verbose: int = 1, cpu_seconds: float | None = None,
            wall_seconds: float | None = None, run_info: dict | None = None):
    """Train ``gan`` for ``epochs`` epochs with everything a long run needs; return its history.

    * a grid of ``n_samples`` images from one fixed noise batch after each epoch
      (``out_dir/samples/epoch_NNNN.png``) and their GIF at the end (``out_dir/samples.gif``);
    * a checkpoint every ``checkpoint_every`` steps and at the end (``out_dir/checkpoints``,
      written atomically: both networks, both optimizers, step, history, fixed noise);
    * automatic resume: when ``out_dir`` holds a checkpoint (a run that was interrupted,
      killed or already finished), training continues from it instead of starting over,
      and stops at the same total of ``epochs * steps_per_epoch`` steps;
    * a guard that stops on NaN or inf, restores the last good checkpoint and says so;
    * one progress bar over the whole run with its ETA;
    * the final networks saved as ``out_dir/generator.keras`` (the running average of G when
      the GAN keeps one, ``ema_decay``: the grids and GIF show it too) and
      ``out_dir/discriminator.keras`` (load them with ``keras.models.load_model``) and the
      history as ``out_dir/history.json``.

    Args:
        gan: a ``GAN`` / ``WGANGP`` / ``WGAN``; compiled with its defaults if it was not.
        dataset: a finite ``tf.data.Dataset`` of image batches, float32 in [-1, 1] or uint8
            in [0, 255] (converted in the train step: ``pipeline(dtype='uint8')`` moves 4x
            fewer bytes), one pass = one epoch; checked against the networks before training.
        epochs: total epochs of the run (also when resuming); None: until the budget
            (``cpu_seconds`` or ``wall_seconds``) is used.
        out_dir: the run folder, e.g. ``notebooks/runs/02_dcgan``.
        checkpoint_every: steps between checkpoints (None: only at the end). A checkpoint
            of the 64x64 DCGAN is about 75 MB and takes about a second to write.
        resume: continue from ``out_dir``'s newest intact checkpoint if there is one (a
            damaged newer one, e.g. truncated or with changed bytes, is reported in one
            ``DamagedCheckpointWarning`` line and renamed to ``<name>.damaged``, never
            deleted; when all are damaged, ``DamagedCheckpointError``, a ValueError, is
            raised); False deletes the files an earlier run wrote into ``out_dir`` (its
            checkpoints, ``samples/epoch_NNNN.png`` grids, GIF, ``.keras`` files and
            ``history.json``; never any other file) and starts afresh. A resumed run reads
            the same batches in the same order as an uninterrupted one would (the dataset
            built again the same way, e.g. with the same seeds); under
            ``ganlib.setup(deterministic=True)`` its losses are the same.
        n_samples, sample_seed: size and seed of the fixed noise (restored on resume).
        sample_every: save a grid every this many epochs, or ``'spaced'``: every one of the
            first 8 epochs, then 4 per doubling (``callbacks.spaced_epoch``), a few dozen
            grids however long the run.
        nan_guard: stop and roll back on NaN/inf.
        save_models: write the two ``.keras`` files at the end.
        steps_per_epoch: steps per epoch; needed when the dataset is infinite (``.repeat()``).
            When given, every epoch is exactly this many steps (a finite dataset is repeated
            as needed); when None, one pass over the dataset is an epoch.
        callbacks: more Keras callbacks, called after ganlib's.
        verbose: 1 prints what happens and shows the progress bar, 0 is quiet.
        cpu_seconds, wall_seconds: a budget for the whole run (all its sessions: a resumed
            run continues the count, kept in the history as ``cpu_seconds`` and
            ``wall_seconds`` per step). Training stops at whichever comes first, the budget
            or ``epochs``; the progress bar then counts the budget, and the last (partial)
            epoch gets a grid too.
        run_info: a JSON-able dict saved in every checkpoint (``meta["run"]``), e.g. the
            settings that define the run and a fingerprint of its data, for a resume to
            compare (the command line's ``--resume`` does).

    Returns:
        ``TrainingHistory``: a dict of per-step lists (``step``, ``epoch`` and every metric,
        each the value of that step) with ``.status``, ``.run_dir`` and
        ``.resumed_from_step``.
    """
    import numpy as np

    from . import callbacks as cb
    from .runfolder import DamagedCheckpointError, RunFolder

    open_ended = epochs is None  # only a time budget ends the run
    if open_ended and cpu_seconds is None and wall_seconds is None:
        raise ValueError("epochs=None needs a budget: give cpu_seconds or wall_seconds (or a number of epochs).")
    epochs = 10**6 if open_ended else check_positive("epochs", epochs, integer=True)
    n_samples = check_positive("n_samples", n_samples, integer=True)
    if sample_every != "spaced":
        sample_every = check_positive("sample_every", sample_every, integer=True)
    for name, value in (("cpu_seconds", cpu_seconds), ("wall_seconds", wall_seconds)):
        if value is not None:
            check_positive(name, value)
    if not isinstance(dataset, tf.data.Dataset):
        raise ValueError(
            f"dataset is a {type(dataset).__name__}; fit_gan needs a tf.data.Dataset of image "
            "batches, e.g. tf.data.Dataset.from_tensor_slices(images).shuffle(1000).batch(64)."
        )
    if not getattr(gan, "compiled", False):
        gan.compile()
    _check_networks_fit(gan.generator, gan.discriminator, gan.latent_dim)
    check_training_data(dataset, gan.data_shape)
    steps_per_epoch = _steps_per_epoch(dataset, steps_per_epoch)
    total_steps = epochs * steps_per_epoch
    # Training reads one endless stream of batches (a finite dataset repeated), an epoch being
    # steps_per_epoch of them, so a resumed run continues exactly where the uninterrupted one
    # would be: it reads the stream from its start and skips the steps already done (which
    # costs producing those batches once, no training). Keras' own epochs would not do: it
    # takes new iterators of the dataset per epoch (and per fit call), and each new iterator
    # of a seeded reshuffling pipeline draws the next order, so a resumed run replayed the
    # first epoch's order.
    feed = dataset
    if int(dataset.cardinality().numpy()) != tf.data.INFINITE_CARDINALITY:
        feed = dataset.repeat()

    out_dir = str(out_dir)
    run = RunFolder(out_dir)
    checkpoint_dir, samples_dir = run.checkpoints, run.samples
    if not resume:  # only the files ganlib wrote, by name (a user's own files stay)
        run.remove_ganlib_files(include_config=False)  # config.json: the caller's (the CLI's)
    os.makedirs(out_dir, exist_ok=True)

    state = cb.TrainingState(run_info=run_info)
    checkpoint = cb.Checkpoint(checkpoint_dir, state, every_steps=checkpoint_every)
    resumed_from = None
    if resume and checkpoint.latest() is not None:
        try:
            checkpoint.restore(gan)  # the newest intact one; damaged ones are reported and kept
        except DamagedCheckpointError as error:
            raise DamagedCheckpointError(
                f"{error}. The files are kept: move them away, use another out_dir, or "
                f"resume=False to start afresh (it deletes {checkpoint_dir})."
            ) from None
        except ValueError as error:
            raise ValueError(
                f"{error} Use another out_dir, or resume=False to start this one afresh."
            ) from None
        resumed_from, path = state.step, checkpoint.restored_path
        if verbose:
            print(f"Resumed from checkpoint {path} at step {state.step} "
                  f"(epoch {state.step / steps_per_epoch:.2f}" + ("" if open_ended else f" of {epochs}") + ").")
    if state.fixed_noise is None:
        rng = np.random.default_rng(sample_seed)
        state.fixed_noise = rng.standard_normal((n_samples, gan.latent_dim)).astype(np.float32)

    grid = cb.SampleGrid(samples_dir, state, every_epochs=sample_every, make_gif=False)
    run_callbacks = [cb.HistoryRecorder(state)]
    if nan_guard:
        run_callbacks.append(cb.NaNGuard(state, checkpoint))
    budget = (cb.RunBudget(state, cpu_seconds, wall_seconds)
              if cpu_seconds is not None or wall_seconds is not None else None)
    if budget is not None:  # first: its totals join the step's history before the checkpoint
        run_callbacks.insert(0, budget)
    run_callbacks += [checkpoint, grid]
    if not verbose:
        progress = None
    elif budget is not None:
        progress = cb.BudgetProgressBar(state, budget)
    else:
        progress = cb.ProgressBar(state, total_steps)
    if progress is not None:
        run_callbacks.append(progress)
    run_callbacks += list(callbacks or [])

    nothing_to_train = state.step >= total_steps or (budget is not None and budget.exhausted())
    if nothing_to_train:
        state.status = "completed"
        if verbose:
            spent = "" if budget is None else " (its budget is used: {:.0f} CPU s, {:.0f} s of wall time)".format(
                *budget.spent())
            of = "" if open_ended else f" of {total_steps}"
            print(f"Nothing to train: {out_dir} already holds {state.step}{of} steps{spent}.")
    else:
        state.status = "running"
        # A finished run trained on: its final networks and "completed" history are stale
        # from the first new step, and if this session is interrupted nothing would say so
        # (keras.models.load_model would load the old network). They go; the checkpoints stay.
        if resumed_from is not None:
            for stale in (run.generator, run.discriminator):
                if os.path.exists(stale):
                    os.remove(stale)
            if os.path.exists(run.history):
                run.write_history(state.history, f"running: resumed at step {state.step}; "
                                                 "the newest state is in checkpoints/")
        first_epoch, done_in_epoch = divmod(state.step, steps_per_epoch)
        # Both fit calls (the rest of a cut epoch, then whole epochs) and every iterator Keras
        # makes of the data read one iterator of the stream, by step (_StepFeed): each new
        # iterator of the dataset would draw the next shuffle order, and under a tf.distribute
        # strategy fit drops one after taking a batch (so an uninterrupted run trained from
        # the second order, a resumed one lost batches).
        stream = _StepFeed(feed.skip(state.step) if state.step else feed, state.step, lambda: state.step)
        stepped = tf.data.Dataset.from_generator(stream.batches, output_signature=feed.element_spec)
        try:
            if done_in_epoch:  # finish the epoch the interrupted run was in
                gan.fit(stepped, epochs=first_epoch + 1, initial_epoch=first_epoch,
                        steps_per_epoch=steps_per_epoch - done_in_epoch, callbacks=run_callbacks,
                        verbose=0, shuffle=False, check_data=False)
                first_epoch += 1
            # the budget may have run out in the rest of the cut epoch: no further fit, whose
            # first step would come before any check
            budget_left = budget is None or not budget.exhausted()
            if state.status == "running" and first_epoch < epochs and budget_left:
                gan.fit(stepped, epochs=epochs,
                        initial_epoch=first_epoch, steps_per_epoch=steps_per_epoch,
                        callbacks=run_callbacks, verbose=0, shuffle=False, check_data=False)
        finally:
            stream.close()  # TensorFlow keeps stream.batches for good: it must not keep the data
            if progress is not None:
                progress.close()
        if state.status == "running":
            state.status = "completed"
            if budget is not None and state.step < total_steps:  # the budget stopped it: the last
                grid.save_last(-(-state.step // steps_per_epoch))  # (maybe partial) epoch's grid

    gif = grid.write_gif(run.samples_gif)
    # a finished run asked again: its networks are already saved (not written a second time)
    if save_models and not (nothing_to_train and os.path.exists(run.generator) and os.path.exists(run.discriminator)):
        cb.atomic_save_model(gan.sampling_generator, run.generator)  # the averaged G when there is one
        cb.atomic_save_model(gan.discriminator, run.discriminator)
    run.write_history(state.history, state.status)  # atomic; NaN and inf become null
    if verbose:
        print(f"Run {state.status}: {state.step} steps; samples in {samples_dir}"
              + (f", GIF {gif}" if gif else "") + (", networks saved as .keras" if save_models else "")
              + ".")
    return TrainingHistory(state.history, state.status, out_dir, resumed_from)
