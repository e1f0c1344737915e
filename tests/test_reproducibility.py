"""ganlib.setup(deterministic=True): two runs give identical losses (issue 7)."""
import keras
import numpy as np
import tensorflow as tf

import ganlib
from ganlib.train import GAN


class RecordEveryStep(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.losses = []

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append((float(logs["d_loss"]), float(logs["g_loss"])))


def _mlp(inputs, outputs):
    x = keras.Input((inputs,))
    hidden = keras.layers.Dense(32, activation="relu")(x)
    return keras.Model(x, keras.layers.Dense(outputs)(hidden))


def _twenty_steps():
    ganlib.setup(seed=123, deterministic=True, verbose=False)
    gan = GAN(_mlp(8, 2), _mlp(2, 1), latent_dim=8)
    gan.compile()
    data = np.random.default_rng(0).normal(size=(20 * 32, 2)).astype("float32")
    recorder = RecordEveryStep()
    gan.fit(tf.data.Dataset.from_tensor_slices(data).batch(32), epochs=1, verbose=0,
            callbacks=[recorder])
    return recorder.losses


def test_deterministic_runs_give_identical_losses_for_20_steps():
    first = _twenty_steps()
    second = _twenty_steps()
    assert len(first) == 20
    assert first == second  # bit-for-bit, not approximately
    assert len(set(first)) > 1  # the losses do change along the run
