"""Multi-device and mixed-precision training (ganlib.train's shared base class).

The two-replica checks run in a subprocess that splits the CPU into two logical devices
before TensorFlow starts, and train under tf.distribute.MirroredStrategy there.
"""
import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from ganlib import models
from ganlib.train import GAN, WGANGP, updates_done

TWO_REPLICAS = textwrap.dedent(r'''
    import json, os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    import ganlib
    tf = ganlib._import_tensorflow()
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    import numpy as np
    from ganlib import models, train
    from ganlib.train import GAN, WGANGP

    results = {}
    from ganlib.cli import _strategy, main
    strategy = _strategy(True)  # the CLI's --distribute strategy: one per process
    results["replicas"] = strategy.num_replicas_in_sync

    # One GAN step with SGD. The generator's kernel is zero, so its output (its bias) does
    # not depend on z: D's gradient is then the same whatever noise each replica draws.
    rng = np.random.default_rng(0)
    LATENT, DIM, PER_REPLICA = 3, 4, 4
    real = rng.normal(size=(2 * PER_REPLICA, DIM)).astype(np.float32)
    g_bias = rng.normal(size=DIM).astype(np.float32)
    d_weights = [rng.normal(size=(DIM, 5)).astype(np.float32), rng.normal(size=5).astype(np.float32),
                 rng.normal(size=(5, 1)).astype(np.float32), np.zeros(1, np.float32)]

    def build():
        generator = keras.Sequential([keras.Input((LATENT,)), keras.layers.Dense(DIM, kernel_initializer="zeros")])
        generator.layers[0].bias.assign(g_bias)
        discriminator = keras.Sequential([keras.Input((DIM,)), keras.layers.Dense(5, activation="tanh"),
                                          keras.layers.Dense(1)])
        discriminator.set_weights(d_weights)
        gan = GAN(generator, discriminator, LATENT, seed=1)
        gan.compile(d_optimizer=keras.optimizers.SGD(0.5), g_optimizer=keras.optimizers.SGD(0.5))
        return gan

    def one_step(gan):
        gan.fit(tf.data.Dataset.from_tensor_slices(real).batch(2 * PER_REPLICA), epochs=1, verbose=0)
        return ([np.asarray(w) for w in gan.discriminator.get_weights()],
                np.asarray(gan.generator.layers[0].bias.numpy()))

    single_d, single_g = one_step(build())            # one device, batch 2B
    with strategy.scope():
        two = build()
    two_d, two_g = one_step(two)                       # two replicas, B each
    results["d_update_single"] = max(float(np.abs(a - w).max()) for a, w in zip(single_d, d_weights))
    results["d_two_vs_single"] = max(float(np.abs(a - b).max()) for a, b in zip(two_d, single_d))
    results["g_bias_update_single"] = float(np.abs(single_g - g_bias).max())
    results["g_bias_two_vs_single"] = float(np.abs(two_g - single_g).max())

    # The same step without the division by the replica count (what Keras' summing
    # all-reduce gives a per-replica mean loss): the update comes out twice as large.
    def unscaled(self, optimizer, tape, loss, weights):
        optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))
    scaled = train._AdversarialModel.apply_loss_gradients
    train._AdversarialModel.apply_loss_gradients = unscaled
    with strategy.scope():
        naive = build()
    naive_d, _ = one_step(naive)
    train._AdversarialModel.apply_loss_gradients = scaled
    results["naive_ratio"] = float(np.abs(naive_d[0] - d_weights[0]).sum() / np.abs(single_d[0] - d_weights[0]).sum())

    # Each replica draws its own noise.
    noise = strategy.experimental_local_results(
        tf.function(lambda: strategy.run(lambda: two.sample_noise(4)))())
    results["noise_replica_difference"] = float(np.abs(noise[0].numpy() - noise[1].numpy()).max())
    results["noise_std"] = float(np.std(np.concatenate([n.numpy() for n in noise])))

    # WGAN-GP: the generator's conditional update (every n_critic critic updates) under
    # the strategy, on images, with Adam.
    images = np.random.default_rng(1).uniform(-1, 1, (16, 16, 16, 1)).astype(np.float32)
    with strategy.scope():
        wgan = WGANGP(models.dcgan_generator(8, 16, 1, width=4), models.wgan_critic(16, 1, width=4), 8,
                      n_critic=2, seed=0)
        wgan.compile()
    logs = wgan.fit(tf.data.Dataset.from_tensor_slices(images).batch(4), epochs=1, verbose=0).history
    results["wgan_critic_updates"] = int(wgan.d_optimizer.iterations.numpy())
    results["wgan_generator_updates"] = int(wgan.g_optimizer.iterations.numpy())
    results["wgan_finite"] = bool(all(np.isfinite(values).all() for values in logs.values()))

    # The running average of the generator (ema_decay) and R1 on two replicas: the same
    # step as on one device with twice the batch.
    def averaged_step(scope):
        with scope:
            gan = GAN(keras.Sequential([keras.Input((LATENT,)), keras.layers.Dense(DIM, kernel_initializer="zeros")]),
                      keras.Sequential([keras.Input((DIM,)), keras.layers.Dense(5, activation="tanh"),
                                        keras.layers.Dense(1)]), LATENT, seed=1, ema_decay=0.5, r1_weight=1.0)
            gan.generator.layers[0].bias.assign(g_bias)
            gan.ema_generator.layers[0].bias.assign(g_bias)
            gan.discriminator.set_weights(d_weights)
            gan.compile(d_optimizer=keras.optimizers.SGD(0.5), g_optimizer=keras.optimizers.SGD(0.5))
        gan.fit(tf.data.Dataset.from_tensor_slices(real).batch(2 * PER_REPLICA), epochs=1, verbose=0)
        return np.asarray(gan.ema_generator.layers[0].bias.numpy()), np.asarray(gan.generator.layers[0].bias.numpy())

    import contextlib
    single_average, single_bias = averaged_step(contextlib.nullcontext())
    two_average, _ = averaged_step(strategy.scope())
    results["ema_moved"] = float(np.abs(single_average - g_bias).max())
    # after one generator update the decay is min(0.5, 2/11): average = d * start + (1 - d) * new
    decay = min(0.5, 2 / 11)
    results["ema_vs_formula"] = float(np.abs(single_average - (decay * g_bias + (1 - decay) * single_bias)).max())
    results["ema_two_vs_single"] = float(np.abs(two_average - single_average).max())

    # The command line: --distribute spreads each step over both devices.
    code = main(["train", "--model", "dcgan", "--data", sys.argv[1], "--image-size", "16", "--width", "4",
                 "--latent-dim", "8", "--batch-size", "2", "--epochs", "1", "--samples", "4",
                 "--out", sys.argv[2], "--distribute", "--quiet"])
    results["cli_code"] = code
    with open(os.path.join(sys.argv[2], "history.json")) as handle:
        results["cli_steps"] = json.load(handle)["step"]
    print("RESULTS" + json.dumps(results))
''')


@pytest.fixture(scope="module")
def two_replicas(tmp_path_factory):
    from train_support import noise_pngs

    folder = noise_pngs(tmp_path_factory.mktemp("images"), count=8)
    out = tmp_path_factory.mktemp("run")
    script = tmp_path_factory.mktemp("script") / "two_replicas.py"
    script.write_text(TWO_REPLICAS)
    process = subprocess.run([sys.executable, str(script), str(folder), str(out / "run")],
                             capture_output=True, text=True, timeout=600,
                             env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    lines = [line for line in process.stdout.splitlines() if line.startswith("RESULTS")]
    assert process.returncode == 0 and lines, process.stderr[-3000:]
    return json.loads(lines[-1][len("RESULTS"):])


def test_two_replicas_make_the_same_discriminator_step_as_one_device_with_twice_the_batch(two_replicas):
    assert two_replicas["replicas"] == 2
    assert two_replicas["d_update_single"] > 0.05  # the step moved the weights
    assert two_replicas["d_two_vs_single"] < 1e-6
    # G's bias gradient does not depend on z either (its output ignores z): same step too
    assert two_replicas["g_bias_update_single"] > 0.05
    assert two_replicas["g_bias_two_vs_single"] < 1e-6


def test_without_dividing_by_the_replica_count_the_step_is_twice_too_large(two_replicas):
    assert two_replicas["naive_ratio"] == pytest.approx(2.0, rel=1e-4)


def test_each_replica_draws_its_own_noise(two_replicas):
    assert two_replicas["noise_replica_difference"] > 0.1
    assert 0.5 < two_replicas["noise_std"] < 1.5


def test_wgan_gp_updates_the_generator_every_n_critic_steps_on_two_replicas(two_replicas):
    assert two_replicas["wgan_critic_updates"] == 4  # 16 images, global batch 4
    assert two_replicas["wgan_generator_updates"] == 2  # n_critic = 2
    assert two_replicas["wgan_finite"]


def test_generator_average_and_r1_on_two_replicas_match_one_device(two_replicas):
    assert two_replicas["ema_moved"] > 0.01
    assert two_replicas["ema_vs_formula"] < 1e-6
    assert two_replicas["ema_two_vs_single"] < 1e-5


def test_cli_distribute_scales_the_global_batch_by_the_replicas(two_replicas):
    # 8 images, 2 per device on 2 devices: 4 per step, 2 steps in the epoch
    assert two_replicas["cli_code"] == 0
    assert two_replicas["cli_steps"] == [1, 2]


# ------------------------------------------------------------------- mixed precision
@pytest.fixture
def mixed_float16():
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def _images(count=8, size=16):
    images = np.random.default_rng(0).uniform(-1, 1, (count, size, size, 1)).astype(np.float32)
    return tf.data.Dataset.from_tensor_slices(images).batch(4)


def test_mixed_precision_gan_step_scales_the_loss_and_stays_finite(mixed_float16):
    keras.utils.set_random_seed(0)
    gan = GAN(models.dcgan_generator(8, 16, 1, width=4), models.dcgan_discriminator(16, 1, width=4), 8, seed=0)
    gan.compile()
    assert gan.loss_scaling
    assert isinstance(gan.d_optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(gan.g_optimizer, keras.optimizers.LossScaleOptimizer)
    assert gan.discriminator.layers[1].compute_dtype == "float16"
    before = [np.array(w) for w in gan.discriminator.get_weights()]
    logs = gan.fit(_images(), epochs=1, verbose=0).history
    assert all(np.isfinite(values).all() for values in logs.values())
    assert 0.0 < logs["d_real"][0] < 1.0 and logs["d_loss"][0] > 0.0
    # Dynamic loss scaling: a step whose scaled gradients overflow float16 is skipped and
    # halves the scale (Keras starts at 2**15); the others are applied.
    applied = int(updates_done(gan.d_optimizer).numpy())  # Keras <= 3.8: the outer counter stays 0
    assert applied >= 1
    assert float(gan.d_optimizer.dynamic_scale.numpy()) == 2.0 ** (15 - (2 - applied))
    after = gan.discriminator.get_weights()
    assert all(np.asarray(w).dtype == np.float32 for w in after)  # weights stay float32
    assert max(float(np.abs(a - b).max()) for a, b in zip(after, before)) > 1e-5


def test_mixed_precision_wgan_gp_steps_are_finite(mixed_float16):
    keras.utils.set_random_seed(0)
    wgan = WGANGP(models.dcgan_generator(8, 16, 1, width=4), models.wgan_critic(16, 1, width=4), 8,
                  n_critic=1, seed=0)
    wgan.compile()
    logs = wgan.fit(_images(16), epochs=1, verbose=0).history
    assert all(np.isfinite(values).all() for values in logs.values())
    assert logs["gp"][0] > 0.0
    # steps whose scaled gradients overflow float16 are skipped, each halving the scale
    applied = int(updates_done(wgan.d_optimizer).numpy())
    assert float(wgan.d_optimizer.dynamic_scale.numpy()) == 2.0 ** (15 - (4 - applied))


def test_mixed_precision_needs_a_float32_discriminator_output(mixed_float16):
    generator = models.dcgan_generator(8, 16, 1, width=4)
    discriminator = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Flatten(), keras.layers.Dense(1)],
                                     name="half_d")
    with pytest.raises(ValueError, match=r"discriminator='half_d' outputs float16 .*dtype='float32'"):
        GAN(generator, discriminator, 8)


def test_float32_models_use_plain_optimizers():
    gan = GAN(models.dcgan_generator(8, 16, 1, width=4), models.dcgan_discriminator(16, 1, width=4), 8)
    gan.compile()
    assert not gan.loss_scaling
    assert type(gan.d_optimizer) is keras.optimizers.Adam
    assert gan.d_optimizer.built and gan.g_optimizer.built  # built at compile, in the strategy scope
