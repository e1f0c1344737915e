"""Tests of ganlib.callbacks and ganlib.train.fit_gan: grids, checkpoints, resume, NaN guard."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from ganlib import callbacks, models
from ganlib.runfolder import DamagedCheckpointError, DamagedCheckpointWarning
from ganlib.train import GAN, fit_gan
from train_support import KillAt

LATENT_DIM = 8


def tiny_gan(seed=0):
    keras.utils.set_random_seed(seed)
    gan = GAN(models.dcgan_generator(LATENT_DIM, 16, 1, width=4), models.dcgan_discriminator(16, 1, width=4),
              LATENT_DIM, seed=seed)
    gan.compile()
    return gan


def dataset(count=24, batch_size=8):
    images = np.random.default_rng(0).uniform(-1, 1, (count, 16, 16, 1)).astype(np.float32)
    return tf.data.Dataset.from_tensor_slices(images).batch(batch_size)


def weights_of(gan):
    return {group: [keras.ops.convert_to_numpy(v) for v in variables]
            for group, variables in callbacks._variable_groups(gan).items()}


def stored_arrays(path):
    with np.load(path) as archive:
        return {key: archive[key] for key in archive.files}


class EpochLogs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.logs = []

    def on_epoch_end(self, epoch, logs=None):
        self.logs.append(dict(logs))


def test_fit_gan_writes_grids_gif_checkpoints_models_and_history(tmp_path):
    gan = tiny_gan()
    epoch_logs = EpochLogs()
    history = fit_gan(gan, dataset(), 2, tmp_path, checkpoint_every=2, n_samples=9, callbacks=[epoch_logs],
                      verbose=0)
    assert history.status == "completed" and history.resumed_from_step is None
    assert history["step"] == [1, 2, 3, 4, 5, 6] and history["epoch"] == [1, 1, 1, 2, 2, 2]
    # Per-step values average to the epoch means Keras reports.
    for epoch, logs in enumerate(epoch_logs.logs):
        for name in ("d_loss", "g_loss", "d_real", "d_fake"):
            assert np.mean(history[name][3 * epoch:3 * epoch + 3]) == pytest.approx(logs[name], rel=1e-4)
    # One 3x3 grid per epoch (16 px tiles, 2 px padding) and the GIF of both.
    assert sorted(os.listdir(tmp_path / "samples")) == ["epoch_0001.png", "epoch_0002.png"]
    with Image.open(tmp_path / "samples" / "epoch_0002.png") as grid:
        assert grid.size == (3 * 18 + 2, 3 * 18 + 2)
    with Image.open(tmp_path / "samples.gif") as gif:
        assert gif.n_frames == 2
    # Checkpoints at steps 4 and 6 kept (the 2 newest); the last holds the final state.
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["ckpt-00000004.npz", "ckpt-00000006.npz"]
    arrays = stored_arrays(tmp_path / "checkpoints" / "ckpt-00000006.npz")
    meta = json.loads(str(arrays["meta"]))
    assert meta["step"] == 6 and meta["epoch"] == 2 and meta["history"]["d_loss"] == history["d_loss"]
    assert arrays["fixed_noise"].shape == (9, LATENT_DIM)
    current = weights_of(gan)
    np.testing.assert_array_equal(arrays["generator/0000"], current["generator"][0])
    assert int(arrays["g_optimizer/0000"]) == 6  # Adam's iteration counter travels along
    # The final networks load with keras.models.load_model and compute the same thing.
    z = np.random.default_rng(1).standard_normal((4, LATENT_DIM)).astype(np.float32)
    loaded = keras.models.load_model(tmp_path / "generator.keras")
    np.testing.assert_allclose(loaded(z).numpy(), gan.generator(z).numpy(), atol=1e-6)
    assert keras.models.load_model(tmp_path / "discriminator.keras").output_shape == (None, 1)
    saved = json.loads((tmp_path / "history.json").read_text())
    assert saved["status"] == "completed" and saved["step"] == history["step"]


def test_resuming_gives_the_same_run_as_not_stopping(tmp_path):
    # 3 epochs in one go, against 1 epoch + (stop) + resume to 3 epochs in a new process-
    # like setting (fresh model objects). The noise generator's state is restored, the data
    # order is fixed, so the weights must agree.
    straight = fit_gan(tiny_gan(), dataset(), 3, tmp_path / "straight", checkpoint_every=None, verbose=0)
    fit_gan(tiny_gan(), dataset(), 1, tmp_path / "resumed", checkpoint_every=None, verbose=0)
    resumed_gan = tiny_gan(seed=5)  # different initial weights: everything must come from the file
    resumed = fit_gan(resumed_gan, dataset(), 3, tmp_path / "resumed", checkpoint_every=None, verbose=0)
    assert resumed.resumed_from_step == 3
    assert resumed["step"] == straight["step"] == list(range(1, 10))
    np.testing.assert_allclose(resumed["d_loss"], straight["d_loss"], rtol=1e-4)
    final_straight = stored_arrays(tmp_path / "straight" / "checkpoints" / "ckpt-00000009.npz")
    final_resumed = stored_arrays(tmp_path / "resumed" / "checkpoints" / "ckpt-00000009.npz")
    for key in final_straight:
        if key != "meta":
            np.testing.assert_allclose(final_resumed[key], final_straight[key], rtol=1e-4, atol=1e-6)
    # A finished run is not trained again; resume=False starts afresh.
    again = fit_gan(resumed_gan, dataset(), 3, tmp_path / "resumed", verbose=0)
    assert again.resumed_from_step == 9 and len(again["step"]) == 9
    fresh = fit_gan(tiny_gan(), dataset(), 1, tmp_path / "resumed", resume=False, verbose=0)
    assert fresh.resumed_from_step is None and fresh["step"] == [1, 2, 3]
    assert sorted(os.listdir(tmp_path / "resumed" / "samples")) == ["epoch_0001.png"]


def test_checkpoint_round_trip_and_wrong_model(tmp_path):
    gan = tiny_gan()
    gan.fit(dataset(), epochs=1, verbose=0)
    state = callbacks.TrainingState(fixed_noise=np.ones((4, LATENT_DIM)))
    state.step, state.epoch, state.history = 3, 1, {"step": [1, 2, 3], "epoch": [1, 1, 1], "d_loss": [1.0, 0.5, 0.25]}
    path = callbacks.save_checkpoint(gan, tmp_path / "ckpt-00000003.npz", state)
    assert os.listdir(tmp_path) == ["ckpt-00000003.npz"]  # no temporary file left behind
    expected = weights_of(gan)

    other = tiny_gan(seed=3)
    restored = callbacks.TrainingState()
    meta = callbacks.load_checkpoint(other, path, restored)
    assert meta["step"] == 3 and restored.step == 3 and restored.epoch == 1
    assert restored.history["d_loss"] == [1.0, 0.5, 0.25]
    np.testing.assert_array_equal(restored.fixed_noise, np.ones((4, LATENT_DIM)))
    for group, values in weights_of(other).items():
        for value, wanted in zip(values, expected[group]):
            np.testing.assert_array_equal(value, wanted)

    keras.utils.set_random_seed(0)
    wider = GAN(models.dcgan_generator(LATENT_DIM, 16, 1, width=8), models.dcgan_discriminator(16, 1, width=8),
                LATENT_DIM)
    wider.compile()
    before = weights_of(wider)
    raises_with(["has shape", "different model"], callbacks.load_checkpoint, wider, path)
    for group, values in weights_of(wider).items():  # untouched
        for value, wanted in zip(values, before[group]):
            np.testing.assert_array_equal(value, wanted)


def test_a_crash_while_writing_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    gan = tiny_gan()
    state = callbacks.TrainingState()
    first = callbacks.save_checkpoint(gan, tmp_path / "ckpt-00000001.npz", state)
    good = stored_arrays(first)

    def crash(handle, **arrays):
        handle.write(b"PK\x03\x04 half a zip file")
        raise KeyboardInterrupt("killed while writing")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        callbacks.save_checkpoint(gan, tmp_path / "ckpt-00000002.npz", state)
    monkeypatch.undo()
    assert not (tmp_path / "ckpt-00000002.npz").exists()
    assert callbacks.latest_checkpoint(tmp_path) == str(tmp_path / "ckpt-00000001.npz")
    for key, value in stored_arrays(first).items():
        np.testing.assert_array_equal(value, good[key])


class PoisonAtStep(keras.callbacks.Callback):
    """Puts a NaN into the discriminator after the given step (a run that blows up)."""

    def __init__(self, state_of, step):
        super().__init__()
        self.state_of, self.step = state_of, step

    def on_train_batch_end(self, batch, logs=None):
        if self.state_of() == self.step:
            kernel = self.model.discriminator.get_layer("logit").kernel
            kernel.assign(tf.fill(kernel.shape, float("nan")))


def test_nan_guard_stops_and_restores_the_last_good_checkpoint(tmp_path, capsys):
    gan = tiny_gan()
    history_holder = {}

    class StepReader(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            history_holder["step"] = int(self.model.g_optimizer.iterations.numpy())

    poison = PoisonAtStep(lambda: history_holder.get("step"), 5)
    history = fit_gan(gan, dataset(), 4, tmp_path, checkpoint_every=2, callbacks=[StepReader(), poison], verbose=0)
    # Step 6 sees the NaN; the newest good checkpoint is step 4 (step 5 was not a multiple of 2).
    assert history.status.startswith(
        "stopped at step 6: d_fake, d_loss, d_real, g_loss became NaN or inf; restored the last good checkpoint (step 4")
    assert "NaNGuard: training stopped at step 6" in capsys.readouterr().out
    assert history["step"] == [1, 2, 3, 4]
    assert np.all(np.isfinite(history["d_loss"]))
    good = stored_arrays(tmp_path / "checkpoints" / "ckpt-00000004.npz")
    np.testing.assert_array_equal(weights_of(gan)["discriminator"][-2], good[f"discriminator/{len(gan.discriminator.weights) - 2:04d}"])
    assert all(np.all(np.isfinite(w.numpy())) for w in gan.discriminator.weights)
    assert callbacks.latest_checkpoint(tmp_path / "checkpoints").endswith("ckpt-00000004.npz")
    assert json.loads((tmp_path / "history.json").read_text())["status"] == history.status


CHILD = textwrap.dedent(
    """
    import os, sys, time
    import keras, numpy as np, tensorflow as tf
    from ganlib import models
    from ganlib.callbacks import _variable_groups
    from ganlib.train import GAN, fit_gan

    out_dir, epochs, sample_seed, dump = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    keras.utils.set_random_seed(sample_seed)  # a different start on restart: all must come from the file
    gan = GAN(models.dcgan_generator(8, 16, 1, width=4), models.dcgan_discriminator(16, 1, width=4), 8, seed=0)
    gan.compile()
    images = np.random.default_rng(0).uniform(-1, 1, (16, 16, 16, 1)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices(images).batch(8)

    class Dump(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):  # after fit_gan restored the checkpoint
            if not os.path.exists(dump):
                arrays = {f"{group}/{i:04d}": keras.ops.convert_to_numpy(v)
                          for group, variables in _variable_groups(self.model).items()
                          for i, v in enumerate(variables)}
                np.savez(dump, **arrays)

    class Slow(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            time.sleep(0.05)

    history = fit_gan(gan, data, epochs, out_dir, checkpoint_every=2, sample_seed=sample_seed,
                      callbacks=[Dump(), Slow()], verbose=0)
    print("RESUMED_FROM", history.resumed_from_step, "STEPS", history["step"][0], history["step"][-1], len(history["step"]))
    """
)


def test_a_killed_run_resumes_from_its_last_checkpoint(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    out_dir = tmp_path / "run"
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONHASHSEED="0")
    first = subprocess.Popen([sys.executable, str(script), str(out_dir), "1000", "0", str(tmp_path / "first.npz")],
                             env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 300
        while time.time() < deadline and first.poll() is None:
            latest = callbacks.latest_checkpoint(out_dir / "checkpoints")
            if latest and int(os.path.basename(latest)[5:13]) >= 6:
                break
            time.sleep(0.1)
        assert first.poll() is None, first.communicate()[0].decode()[-3000:]
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == -signal.SIGKILL
    saved = callbacks.latest_checkpoint(out_dir / "checkpoints")
    saved_step = int(os.path.basename(saved)[5:13])
    assert saved_step >= 6 and saved_step % 2 == 0
    saved_arrays = stored_arrays(saved)

    total_epochs = saved_step // 2 + 2  # 2 steps per epoch: two more epochs to go
    second = subprocess.run(
        [sys.executable, str(script), str(out_dir), str(total_epochs), "1", str(tmp_path / "second.npz")],
        env=environment, capture_output=True, text=True, timeout=300,
    )
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-3000:]
    total_steps = 2 * total_epochs
    assert f"RESUMED_FROM {saved_step} STEPS 1 {total_steps} {total_steps}" in second.stdout
    # The restarted process began training with exactly the saved weights and optimizer state.
    restarted = stored_arrays(tmp_path / "second.npz")
    assert set(restarted) == {key for key in saved_arrays if key not in ("meta", "fixed_noise")}
    for key, value in restarted.items():
        np.testing.assert_array_equal(value, saved_arrays[key], err_msg=key)
    # ... and kept the first run's fixed noise (the restart asked for sample_seed=1).
    final = stored_arrays(callbacks.latest_checkpoint(out_dir / "checkpoints"))
    np.testing.assert_array_equal(final["fixed_noise"], saved_arrays["fixed_noise"])
    assert json.loads(str(final["meta"]))["step"] == total_steps
    assert not [name for name in os.listdir(out_dir / "checkpoints") if name.endswith(".partial")]


def raises_with(words, call, *args, **kwargs):
    """``call`` raises ValueError whose message holds each of ``words`` (the argument's name,
    the value given, what is allowed), worded however the library likes."""
    with pytest.raises(ValueError) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert all(word in message for word in words), message
    return message


def test_bad_input(tmp_path):
    gan = tiny_gan()
    images = np.zeros((8, 16, 16, 1), np.float32)
    raises_with(["dataset", "ndarray", "tf.data.Dataset"], fit_gan, gan, images, 1, tmp_path)
    raises_with(["epochs=0", "positive integer"], fit_gan, gan, dataset(), 0, tmp_path)
    raises_with(["dataset", "infinite", "steps_per_epoch"], fit_gan, gan, dataset().repeat(), 1, tmp_path)
    raises_with(["n_samples=0", "positive integer"], fit_gan, gan, dataset(), 1, tmp_path, n_samples=0)
    state = callbacks.TrainingState()
    raises_with(["every_steps=0", "positive integer", "None"], callbacks.Checkpoint, tmp_path, state, every_steps=0)
    raises_with(["keep=0", "positive integer"], callbacks.Checkpoint, tmp_path, state, keep=0)
    raises_with(["every_epochs=0", "positive integer"], callbacks.SampleGrid, tmp_path, state, every_epochs=0)
    raises_with(["every_steps=0", "positive integer"], callbacks.TensorBoardLogger, tmp_path / "tb",
                np.zeros((1, LATENT_DIM)), every_steps=0)
    raises_with(["missing.npz", "does not exist"], callbacks.load_checkpoint, gan, str(tmp_path / "missing.npz"))


# ------------------------------------------------------------------- damaged checkpoints
def truncate(path):
    """Half of the file, as a full disk or an interrupted copy leaves it."""
    data = open(path, "rb").read()
    with open(path, "wb") as handle:
        handle.write(data[:len(data) // 2])


def flip_byte(path):
    """One changed byte in the middle of the file (inside the weights), as a bad disk or sync gives."""
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF
    with open(path, "wb") as handle:
        handle.write(bytes(data))


def stray(path):
    """A .npz named like a checkpoint that ganlib did not write (no metadata)."""
    with open(path, "wb") as handle:
        np.savez(handle, weights=np.zeros(3))


@pytest.fixture(scope="module")
def two_epochs(tmp_path_factory):
    """A finished run of 2 epochs of 3 steps with checkpoints at steps 3 and 6 (copy it to damage it)."""
    folder = tmp_path_factory.mktemp("two_epochs")
    history = fit_gan(tiny_gan(), dataset(), 2, folder, checkpoint_every=3, verbose=0)
    assert sorted(os.listdir(folder / "checkpoints")) == ["ckpt-00000003.npz", "ckpt-00000006.npz"]
    return folder, history


def copy_of(run, tmp_path):
    import shutil

    return shutil.copytree(run, tmp_path / "run")


DAMAGE = {"truncated": (truncate, "truncated"), "flipped": (flip_byte, "CRC-32"),
          "stray": (stray, "not a checkpoint written by ganlib")}


def damage_warnings(caught):
    return [str(warning.message) for warning in caught if issubclass(warning.category, DamagedCheckpointWarning)]


@pytest.mark.parametrize("kind, name, resume_step", [("truncated", "ckpt-00000006.npz", 3),
                                                     ("flipped", "ckpt-00000006.npz", 3),
                                                     ("stray", "ckpt-00000007.npz", 6)])
def test_resume_skips_a_damaged_newest_checkpoint_and_keeps_it(two_epochs, tmp_path, kind, name, resume_step):
    run, first = copy_of(two_epochs[0], tmp_path), two_epochs[1]
    folder = run / "checkpoints"
    damage, reason = DAMAGE[kind]
    damage(folder / name)
    damaged_bytes = (folder / name).read_bytes()
    with pytest.warns(DamagedCheckpointWarning) as caught:
        resumed = fit_gan(tiny_gan(seed=5), dataset(), 3, run, checkpoint_every=3, verbose=0)
    [message] = damage_warnings(caught)  # one line: which file, why, what was used instead
    assert "\n" not in message and str(folder / name) in message and reason in message
    assert f"kept as {name}.damaged" in message and f"using ckpt-{resume_step:08d}.npz" in message
    assert resumed.status == "completed" and resumed.resumed_from_step == resume_step
    assert resumed["step"] == list(range(1, 10))
    assert resumed["d_loss"][:resume_step] == first["d_loss"][:resume_step]  # history from the checkpoint
    # steps 4-6 trained again from the step-3 state give the same losses as the first time
    np.testing.assert_allclose(resumed["d_loss"][resume_step:6], first["d_loss"][resume_step:6], rtol=1e-4)
    assert (folder / f"{name}.damaged").read_bytes() == damaged_bytes  # kept, byte for byte
    assert sorted(os.listdir(folder)) == sorted({f"{name}.damaged", "ckpt-00000006.npz", "ckpt-00000009.npz"})


def test_a_damaged_older_checkpoint_is_set_aside_not_pruned(two_epochs, tmp_path):
    run = copy_of(two_epochs[0], tmp_path)
    folder = run / "checkpoints"
    flip_byte(folder / "ckpt-00000003.npz")
    damaged_bytes = (folder / "ckpt-00000003.npz").read_bytes()
    with pytest.warns(DamagedCheckpointWarning) as caught:
        resumed = fit_gan(tiny_gan(), dataset(), 4, run, checkpoint_every=3, verbose=0)
    [message] = damage_warnings(caught)
    assert "ckpt-00000003.npz" in message and "using ckpt-00000006.npz" in message
    assert resumed.resumed_from_step == 6 and resumed["step"][-1] == 12
    # training on saved steps 9 and 12 and pruned the old checkpoints: the damaged file stays
    assert sorted(os.listdir(folder)) == ["ckpt-00000003.npz.damaged", "ckpt-00000009.npz", "ckpt-00000012.npz"]
    assert (folder / "ckpt-00000003.npz.damaged").read_bytes() == damaged_bytes


def test_resume_with_no_intact_checkpoint_is_one_error_and_changes_nothing(tmp_path):
    fit_gan(tiny_gan(), dataset(), 1, tmp_path, checkpoint_every=None, verbose=0)
    folder = tmp_path / "checkpoints"
    assert sorted(os.listdir(folder)) == ["ckpt-00000000.npz", "ckpt-00000003.npz"]
    truncate(folder / "ckpt-00000003.npz")
    flip_byte(folder / "ckpt-00000000.npz")
    before = {name: (folder / name).read_bytes() for name in os.listdir(folder)}
    gan = tiny_gan(seed=5)
    weights = weights_of(gan)
    with pytest.raises(DamagedCheckpointError) as info:
        fit_gan(gan, dataset(), 2, tmp_path, verbose=0)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert "\n" not in message and "no intact checkpoint" in message
    assert "ckpt-00000003.npz (not a complete zip archive, as when truncated" in message
    assert "ckpt-00000000.npz (member " in message and "CRC-32" in message
    assert "resume=False" in message
    assert {name: (folder / name).read_bytes() for name in os.listdir(folder)} == before  # nothing moved
    for group, values in weights_of(gan).items():  # the model is untouched
        for value, wanted in zip(values, weights[group]):
            np.testing.assert_array_equal(value, wanted)


def test_load_checkpoint_reports_damage_as_damage_not_as_another_model(tmp_path):
    gan = tiny_gan()
    path = callbacks.save_checkpoint(gan, tmp_path / "ckpt-00000000.npz", callbacks.TrainingState())
    flip_byte(path)
    with pytest.raises(DamagedCheckpointError) as info:
        callbacks.load_checkpoint(tiny_gan(seed=1), path)
    assert "different model" not in str(info.value) and "CRC-32" in str(info.value)
    assert info.value.path == str(path)


@pytest.mark.parametrize("repeat", [True, False], ids=["infinite", "finite"])
def test_fit_gan_with_steps_per_epoch_runs_exactly_that_many_steps(tmp_path, repeat):
    """An infinite dataset ends each epoch after steps_per_epoch steps (it used to train on forever);
    a finite one of 3 batches gives 5-step epochs without running out."""
    data = dataset().repeat() if repeat else dataset()
    history = fit_gan(tiny_gan(), data, 2, tmp_path, steps_per_epoch=5, checkpoint_every=None, verbose=0)
    assert history.status == "completed"
    assert history["step"] == list(range(1, 11)) and history["epoch"] == [1] * 5 + [2] * 5
    # Resuming the finished run to 3 epochs adds exactly one more epoch of 5 steps.
    more = fit_gan(tiny_gan(), data, 3, tmp_path, steps_per_epoch=5, checkpoint_every=None, verbose=0)
    assert more.resumed_from_step == 10 and more["step"][-1] == 15


def test_fit_gan_lets_go_of_the_data_when_it_returns(tmp_path):
    """Issue 26: TensorFlow keeps the generator of every from_generator data set for the rest of
    the process, and fit_gan's (train._StepFeed) held an iterator of the caller's pipeline, so its
    shuffle buffer and prefetched batches stayed in memory after every run. The feed drops them
    when training ends, also when it ends with an exception."""
    import gc

    from ganlib import train

    def live_feeds():
        gc.collect()
        return [feed for feed in gc.get_objects() if isinstance(feed, train._StepFeed)]

    before = live_feeds()  # other tests' feeds (one may still be open), held: their ids stay theirs
    fit_gan(tiny_gan(), dataset().shuffle(3, seed=0), 1, tmp_path / "run", checkpoint_every=None, verbose=0)
    with pytest.raises(KeyboardInterrupt):
        fit_gan(tiny_gan(), dataset(), 2, tmp_path / "killed", checkpoint_every=None, callbacks=[KillAt(2)],
                verbose=0)
    feeds = [feed for feed in live_feeds() if not any(feed is old for old in before)]  # the two fit_gan calls'
    assert len(feeds) == 2, "TensorFlow no longer keeps from_generator's generator: this test checks nothing"
    assert all(feed._iterator is None and not feed._kept for feed in feeds)


def averaged_gan(seed=0):
    keras.utils.set_random_seed(seed)
    gan = GAN(models.dcgan_generator(LATENT_DIM, 16, 1, width=4), models.dcgan_discriminator(16, 1, width=4),
              LATENT_DIM, seed=seed, ema_decay=0.9)
    gan.compile()
    return gan


def test_the_averaged_generator_is_checkpointed_resumed_sampled_and_saved(tmp_path):
    straight = averaged_gan()
    fit_gan(straight, dataset(), 3, tmp_path / "straight", checkpoint_every=None, verbose=0)
    fit_gan(averaged_gan(), dataset(), 1, tmp_path / "resumed", checkpoint_every=None, verbose=0)
    resumed = averaged_gan(seed=5)
    fit_gan(resumed, dataset(), 3, tmp_path / "resumed", checkpoint_every=None, verbose=0)
    arrays = stored_arrays(tmp_path / "straight" / "checkpoints" / "ckpt-00000009.npz")
    averaged = [keras.ops.convert_to_numpy(w) for w in straight.ema_generator.weights]
    assert sum(key.startswith("ema_generator/") for key in arrays) == len(averaged)
    np.testing.assert_array_equal(arrays["ema_generator/0000"], averaged[0])
    assert not np.allclose(arrays["ema_generator/0000"], arrays["generator/0000"])
    # resuming restores the average, so the two runs end with the same averaged generator
    for mine, theirs in zip(resumed.ema_generator.weights, straight.ema_generator.weights):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(mine), keras.ops.convert_to_numpy(theirs),
                                   rtol=1e-4, atol=1e-6)
    # the saved generator.keras and the last grid are the averaged generator's
    z = np.random.default_rng(1).standard_normal((4, LATENT_DIM)).astype(np.float32)
    loaded = keras.models.load_model(tmp_path / "straight" / "generator.keras")
    np.testing.assert_allclose(loaded(z).numpy(), straight.ema_generator(z).numpy(), atol=1e-6)
    grid = callbacks.SampleGrid(tmp_path / "g", callbacks.TrainingState(fixed_noise=z))
    grid.set_model(straight)
    np.testing.assert_allclose(grid.images(), straight.ema_generator(z).numpy(), atol=1e-6)
    # a checkpoint without the average does not load into a GAN that keeps one
    plain_dir = tmp_path / "plain"
    fit_gan(tiny_gan(), dataset(), 1, plain_dir, checkpoint_every=None, verbose=0)
    with pytest.raises(ValueError, match="ema_generator"):
        callbacks.load_checkpoint(averaged_gan(), next((plain_dir / "checkpoints").glob("*.npz")))


def test_fit_gan_afresh_deletes_only_ganlib_files(tmp_path):
    # issue 16, items 1 and 3: resume=False used to delete samples/ and checkpoints/ whole
    # (a user's files in them too) and left the old run's generator.keras and history.json.
    out = tmp_path / "run"
    fit_gan(tiny_gan(), dataset(), 1, out, verbose=0)
    (out / "samples" / "a.txt").write_text("mine")
    (out / "checkpoints" / "notes.txt").write_text("mine")
    (out / "config.json").write_text("{}")  # the command line's, written before fit_gan
    fresh = fit_gan(tiny_gan(), dataset(), 1, out, resume=False, save_models=False, verbose=0)
    assert fresh.resumed_from_step is None
    assert (out / "samples" / "a.txt").read_text() == "mine"
    assert (out / "checkpoints" / "notes.txt").read_text() == "mine"
    assert (out / "config.json").read_text() == "{}"
    assert not (out / "generator.keras").exists() and not (out / "discriminator.keras").exists()
    assert sorted(os.listdir(out / "checkpoints")) == ["ckpt-00000000.npz", "ckpt-00000003.npz", "notes.txt"]


def test_a_failed_checkpoint_or_model_write_leaves_no_partial_file(tmp_path, monkeypatch):
    # issue 16, item 9: a disk full during a write left a hidden temporary file filling the disk
    import errno

    gan = tiny_gan()
    state = callbacks.TrainingState()

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(OSError, match="No space"):
        callbacks.save_checkpoint(gan, tmp_path / "checkpoints" / "ckpt-00000000.npz", state)
    assert os.listdir(tmp_path / "checkpoints") == []
    monkeypatch.setattr(type(gan.generator), "save", disk_full)
    with pytest.raises(OSError, match="No space"):
        callbacks.atomic_save_model(gan.generator, tmp_path / "generator.keras")
    assert sorted(os.listdir(tmp_path)) == ["checkpoints"]


def shuffled_dataset():
    """A fresh pipeline that reshuffles every epoch, as a new process builds it on resume."""
    images = np.random.default_rng(0).uniform(-1, 1, (24, 16, 16, 1)).astype(np.float32)
    return tf.data.Dataset.from_tensor_slices(images).shuffle(24, seed=1).batch(8)


def test_resume_mid_epoch_reproduces_the_uninterrupted_run(tmp_path):
    # issue 16, item 4: the re-created pipeline replayed epoch 1's shuffle, so the resumed
    # run saw other batches (and a mid-epoch resume some images twice) from its first step
    import ganlib

    def new_process(gan):  # the same seeds as a new process of the same command would set
        ganlib.setup(seed=0, deterministic=True, verbose=False)
        return gan

    try:
        straight = fit_gan(new_process(tiny_gan()), shuffled_dataset(), 3, tmp_path / "straight",
                           checkpoint_every=None, verbose=0)
        with pytest.raises(KeyboardInterrupt):  # killed at step 4 of 9, in the middle of epoch 2
            fit_gan(new_process(tiny_gan()), shuffled_dataset(), 3, tmp_path / "killed", checkpoint_every=4,
                    callbacks=[KillAt(4)], verbose=0)
        # different initial weights: everything must come from the checkpoint
        resumed = fit_gan(new_process(tiny_gan(seed=5)), shuffled_dataset(), 3, tmp_path / "killed",
                          checkpoint_every=4, verbose=0)
    finally:  # op determinism is global: not for the tests after this one (TF's private switch)
        from tensorflow.python.framework import config as tf_config

        getattr(tf_config, "disable_op_determinism", lambda: None)()
    assert resumed.resumed_from_step == 4
    assert resumed["step"] == straight["step"] == list(range(1, 10))
    np.testing.assert_allclose(resumed["d_loss"], straight["d_loss"], rtol=1e-4)
    np.testing.assert_allclose(resumed["g_loss"], straight["g_loss"], rtol=1e-4)


def test_spaced_grids_are_every_early_epoch_then_four_per_doubling():
    due = [epoch for epoch in range(1, 41) if callbacks.spaced_epoch(epoch)]
    assert due == [1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40]
    assert not callbacks.spaced_epoch(0)
    assert sum(callbacks.spaced_epoch(epoch) for epoch in range(1, 401)) == 30  # + the last epoch's grid


def test_a_cpu_budget_stops_the_run_and_a_resume_continues_its_count(tmp_path, capsys):
    data = dataset(count=24, batch_size=8)  # 3 steps per epoch
    first = fit_gan(tiny_gan(), data, 1000, tmp_path, checkpoint_every=None, sample_every="spaced",
                    cpu_seconds=3.0, verbose=1)
    assert first.status == "completed"
    spent = first["cpu_seconds"]
    assert len(spent) == len(first["step"]) and spent == sorted(spent)
    assert max(spent[:-1], default=0.0) < 3.0 <= spent[-1]  # stopped at the first step past the budget
    assert len(first["step"]) < 3000  # far from the 1000 epochs
    assert "CPU s" in capsys.readouterr().err  # the bar counts the budget, not steps
    grids = sorted(os.listdir(tmp_path / "samples"))
    last_epoch = -(-len(first["step"]) // 3)
    assert grids[-1] == f"epoch_{last_epoch:04d}.png"  # the partial last epoch has its grid
    assert all(callbacks.spaced_epoch(int(name[6:10])) for name in grids[:-1])
    # resumed with a larger budget: the count goes on from the checkpoint's total, not from 0
    larger = spent[-1] + 2.0
    resumed = fit_gan(tiny_gan(), data, 1000, tmp_path, checkpoint_every=None, cpu_seconds=larger, verbose=0)
    assert resumed["step"][:len(first["step"])] == first["step"]
    more = resumed["cpu_seconds"][len(first["step"]):]
    assert more and more[0] >= spent[-1] and max(more[:-1], default=0.0) < larger <= more[-1]
    # the budget used up: nothing to train
    again = fit_gan(tiny_gan(), data, 1000, tmp_path, checkpoint_every=None, cpu_seconds=larger, verbose=1)
    assert len(again["step"]) == len(resumed["step"])
    assert "its budget is used" in capsys.readouterr().out


def test_a_budget_used_up_in_the_rest_of_a_cut_epoch_starts_no_further_epoch(tmp_path, monkeypatch):
    """A resumed run first finishes the epoch it was cut in, then trains whole epochs in a
    second fit call. When the budget ran out in the first, the second still took one step
    (CI failure of 2026-12-06: the test above, when the resume's first step crossed the
    budget). A clock where each reading is one CPU second later makes it deterministic."""
    clock = iter(range(10**6))
    monkeypatch.setattr(callbacks.time, "process_time", lambda: float(next(clock)))
    data = dataset(count=24, batch_size=8)  # 3 steps per epoch
    first = fit_gan(tiny_gan(), data, 1000, tmp_path, checkpoint_every=None, cpu_seconds=4.0, verbose=0)
    assert len(first["step"]) == 4  # one second per step: stopped in epoch 2, one step into it
    resumed = fit_gan(tiny_gan(), data, 1000, tmp_path, checkpoint_every=None, cpu_seconds=5.0, verbose=0)
    assert len(resumed["step"]) == 5, resumed["cpu_seconds"]  # the step that crossed 5 s, no more


def test_an_interrupted_resume_leaves_no_stale_final_networks(tmp_path):
    """Issue 23: after Ctrl-C of a resumed run the folder kept the older generator.keras and a
    history.json saying "completed" at the old step, so load_model loaded a stale network."""
    fit_gan(tiny_gan(), dataset(), 1, tmp_path, checkpoint_every=None, verbose=0)
    assert (tmp_path / "generator.keras").exists()
    assert json.loads((tmp_path / "history.json").read_text())["status"] == "completed"

    class Interrupt(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit_gan(tiny_gan(), dataset(), 3, tmp_path, checkpoint_every=None, callbacks=[Interrupt()], verbose=0)
    assert not (tmp_path / "generator.keras").exists() and not (tmp_path / "discriminator.keras").exists()
    status = json.loads((tmp_path / "history.json").read_text())["status"]
    assert status.startswith("running: resumed at step 3")
    assert (tmp_path / "checkpoints").exists() and os.listdir(tmp_path / "checkpoints")
    # the checkpoint is still there to finish from, and then the networks are written again
    done = fit_gan(tiny_gan(), dataset(), 3, tmp_path, checkpoint_every=None, verbose=0)
    assert done.status == "completed" and (tmp_path / "generator.keras").exists()


def test_nothing_to_train_leaves_the_saved_networks_alone(tmp_path):
    """Issue 25 item 30: "Nothing to train" still rewrote both .keras files."""
    fit_gan(tiny_gan(), dataset(), 1, tmp_path, checkpoint_every=None, verbose=0)
    before = {name: os.stat(tmp_path / name).st_mtime_ns for name in ("generator.keras", "discriminator.keras")}
    time.sleep(0.05)
    again = fit_gan(tiny_gan(), dataset(), 1, tmp_path, checkpoint_every=None, verbose=0)
    assert again.status == "completed"
    assert {name: os.stat(tmp_path / name).st_mtime_ns for name in before} == before


def test_the_averaged_generator_gets_standing_statistics_of_its_own(tmp_path):
    """Issue 23: the average copied the live generator's batch norm statistics, which do not
    match its averaged weights (on held-out emoji, 600 CPU s, seed 0: C2ST 0.909 with the copied
    statistics, 0.815 with its own). Sampling it now first sets them (Brock et al. 2019)."""
    gan = averaged_gan()
    gan.fit(dataset(), epochs=2, verbose=0)
    average = gan.ema_generator
    first = next(layer for layer in average.layers if isinstance(layer, keras.layers.BatchNormalization))
    copied = keras.ops.convert_to_numpy(first.moving_mean).copy()
    np.testing.assert_array_equal(copied, keras.ops.convert_to_numpy(
        gan.generator.get_layer(first.name).moving_mean))  # the live generator's, as update_average copies
    assert gan.sampling_generator is average
    standing = keras.ops.convert_to_numpy(first.moving_mean)
    # the mean of the layer's input over the standing noise (equal batches: the batches' mean)
    z = np.random.default_rng(20190101).standard_normal((gan.standing_samples, LATENT_DIM)).astype(np.float32)
    before = keras.Model(average.inputs[0], first.input)
    expected = np.asarray(before(z, training=False)).reshape(-1, first.moving_mean.shape[0]).mean(0)
    np.testing.assert_allclose(standing, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    assert not np.allclose(standing, copied)
    assert not gan.recalibrate_average()  # nothing changed since: not computed again
    assert gan.recalibrate_average(force=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(first.moving_mean), standing, rtol=1e-6)
    assert not first.trainable and first.momentum == 0.9  # the layer is left as it was


def test_standing_statistics_change_the_samples_not_the_training(tmp_path):
    histories, grids = [], []
    for standing in (True, False):
        gan = averaged_gan()
        gan.standing_statistics = standing
        histories.append(fit_gan(gan, dataset(), 2, tmp_path / str(standing), checkpoint_every=None, verbose=0))
        grids.append(np.asarray(Image.open(tmp_path / str(standing) / "samples" / "epoch_0002.png")))
    assert histories[0]["d_loss"] == histories[1]["d_loss"] and histories[0]["g_loss"] == histories[1]["g_loss"]
    assert not np.array_equal(grids[0], grids[1])


def test_no_progress_bar_fragments_where_outputs_are_kept(tmp_path, monkeypatch, capfd):
    """Issue 24: a notebook stored 244 fragments of fit_gan's bar (its last state "45%
    9001/20000 ... 10:42 left", an interrupted run to a reader). scripts/run_notebooks.py sets
    GANLIB_PROGRESS=0: no bar on stderr, and fit_gan's summary line says how the run ended."""
    monkeypatch.setenv("GANLIB_PROGRESS", "0")
    fit_gan(tiny_gan(), dataset(), 2, tmp_path / "run", verbose=1)
    fit_gan(tiny_gan(), dataset(), 1, tmp_path / "budget", verbose=1, cpu_seconds=60.0, resume=False)
    out, err = capfd.readouterr()
    assert "Run completed: 6 steps" in out and "%|" not in err and "step/s" not in err, (out, err)
    monkeypatch.setenv("GANLIB_PROGRESS", "1")
    fit_gan(tiny_gan(), dataset(), 1, tmp_path / "shown", verbose=1)
    assert "%|" in capfd.readouterr().err  # where a person watches, the bar is there


def adaptive_gan(seed=0):
    from ganlib.augment import AdaptiveAugment

    keras.utils.set_random_seed(seed)
    gan = GAN(models.dcgan_generator(LATENT_DIM, 16, 1, width=4), models.dcgan_discriminator(16, 1, width=4),
              LATENT_DIM, seed=seed, augment=AdaptiveAugment(speed=200, interval=2, initial_p=0.5, seed=seed))
    gan.compile()
    return gan


def test_adaptive_augmentation_reports_p_and_resumes_exactly(tmp_path):
    # p, the counts since its last move and the layer's random state are in the checkpoint:
    # three epochs straight and one + two resumed end with the same p and the same weights
    straight = adaptive_gan()
    history = fit_gan(straight, dataset(), 3, tmp_path / "straight", checkpoint_every=None, verbose=0)
    assert "augment_p" in history and len(set(history["augment_p"])) > 1  # p moved (from 0.5, either way)
    fit_gan(adaptive_gan(), dataset(), 1, tmp_path / "resumed", checkpoint_every=None, verbose=0)
    resumed = adaptive_gan(seed=5)
    fit_gan(resumed, dataset(), 3, tmp_path / "resumed", checkpoint_every=None, verbose=0)
    for mine, theirs in zip(resumed.augment.state_variables(), straight.augment.state_variables()):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(mine), keras.ops.convert_to_numpy(theirs), rtol=1e-6)
    for mine, theirs in zip(resumed.discriminator.weights, straight.discriminator.weights):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(mine), keras.ops.convert_to_numpy(theirs),
                                   rtol=1e-4, atol=1e-6)
