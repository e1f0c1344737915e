"""``train`` killed in the middle of an epoch and resumed through the command line (issue 16,
item 4), on one device and with ``--distribute`` on two replicas: the resumed run must read the
same batches in the same order and make the same losses as the run that was never stopped.

On one device this holds since fit_gan gives the first of its two ``fit`` calls exactly the
batches left in the cut epoch (``itertools.islice`` of the shared stream): before, that call's
iterator took one batch more than it trained on, so every later epoch was one batch ahead
(measured: a 16-image run, kill at step 5, resumed from step 3: steps 5-8 equal the
uninterrupted run's steps 6-9). With two replicas the first resumed step still differs
(xfail, strict: it flips to XPASS when fixed); the cause is not found yet.

The two-replica run is a subprocess that splits the CPU into two logical devices before
TensorFlow starts (as tests/test_distribute.py), so --distribute has two replicas.
"""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

SCRIPT = textwrap.dedent(r'''
    import json, os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    import ganlib
    tf = ganlib._import_tensorflow()
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from ganlib import cli, train

    data, root = sys.argv[1], sys.argv[2]
    # 16 images, 2 per device on 2 devices: 4 steps per epoch, 8 in the run
    common = ["--image-size", "16", "--width", "4", "--latent-dim", "8", "--batch-size", "2",
              "--samples", "4", "--checkpoint-every", "3", "--distribute", "--quiet"]
    new = ["train", "--model", "dcgan", "--data", data, "--epochs", "2", *common]

    class KillAt(keras.callbacks.Callback):
        """Stops at a step, as kill -9 would, after that step's checkpoint (if any)."""
        def __init__(self, step):
            super().__init__()
            self.step, self.seen = step, 0
        def on_train_batch_end(self, batch, logs=None):
            self.seen += 1
            if self.seen == self.step:
                raise KeyboardInterrupt

    results = {"replicas": cli._strategy(True).num_replicas_in_sync}
    results["straight_code"] = cli.main(new + ["--out", os.path.join(root, "straight")])

    fit_gan = train.fit_gan
    def killed_at_step_5(*args, **kwargs):  # in the middle of epoch 1; the newest checkpoint is step 3
        kwargs["callbacks"] = [*kwargs.get("callbacks", []), KillAt(5)]
        return fit_gan(*args, **kwargs)
    train.fit_gan = killed_at_step_5
    results["killed_code"] = cli.main(new + ["--out", os.path.join(root, "killed")])
    train.fit_gan = fit_gan
    results["checkpoints"] = sorted(os.listdir(os.path.join(root, "killed", "checkpoints")))
    results["resumed_code"] = cli.main(["train", "--out", os.path.join(root, "killed"), "--resume", *common[-4:]])
    for name in ("straight", "killed"):
        with open(os.path.join(root, name, "history.json")) as handle:
            results[name] = json.load(handle)
    print("RESULTS" + json.dumps(results))
''')


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for index in range(16):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(folder / f"{index:02d}.png")
    root = tmp_path_factory.mktemp("runs")
    script = root / "resume_distribute.py"
    script.write_text(SCRIPT)
    process = subprocess.run([sys.executable, str(script), str(folder), str(root)], capture_output=True,
                             text=True, timeout=600, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    lines = [line for line in process.stdout.splitlines() if line.startswith("RESULTS")]
    assert process.returncode == 0 and lines, process.stderr[-3000:]
    return json.loads(lines[-1][len("RESULTS"):])


#: The edit of ganlib/train.py (fit_gan, where a mid-epoch resume builds ``resumed_feed``) that
#: makes the one-device test pass (measured: losses equal to the last bit): the first fit call
#: reads a dataset that ends after the rest of the epoch, so it cannot take a batch more:
#:     stream = iter(resumed_feed)
#:     rest_of_epoch = tf.data.Dataset.from_generator(
#:         lambda: itertools.islice(stream, steps_per_epoch - done_in_epoch),
#:         output_signature=feed.element_spec)
#:     resumed_feed = tf.data.Dataset.from_generator(lambda: stream, output_signature=feed.element_spec)
#:     ... gan.fit(rest_of_epoch, epochs=first_epoch + 1, ...)   # the first of the two calls
#: With two replicas that edit is not enough (the first resumed step then differs): not found yet.
ONE_BATCH_LOST = pytest.mark.xfail(strict=True, reason="fit_gan: the first fit of a mid-epoch resume takes one "
                                                       "batch more from the shared stream (see ONE_BATCH_LOST)")


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images16")
    rng = np.random.default_rng(0)
    for index in range(16):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(folder / f"{index:02d}.png")
    return str(folder)


def test_resumed_mid_epoch_reproduces_the_uninterrupted_run_on_one_device(monkeypatch, images, tmp_path):
    import keras

    from ganlib import cli, train

    class KillAt(keras.callbacks.Callback):
        def __init__(self, step):
            super().__init__()
            self.step, self.seen = step, 0

        def on_train_batch_end(self, batch, logs=None):
            self.seen += 1
            if self.seen == self.step:
                raise KeyboardInterrupt

    common = ["--image-size", "16", "--width", "4", "--latent-dim", "8", "--batch-size", "4", "--samples", "4",
              "--checkpoint-every", "3", "--quiet"]
    new = ["train", "--model", "dcgan", "--data", images, "--epochs", "2", *common]
    assert cli.main(new + ["--out", str(tmp_path / "straight")]) == 0
    fit_gan = train.fit_gan

    def killed_at_step_5(*args, **kwargs):
        return fit_gan(*args, **{**kwargs, "callbacks": [*kwargs.get("callbacks", []), KillAt(5)]})

    monkeypatch.setattr(train, "fit_gan", killed_at_step_5)
    assert cli.main(new + ["--out", str(tmp_path / "killed")]) == 130
    monkeypatch.setattr(train, "fit_gan", fit_gan)
    assert sorted(os.listdir(tmp_path / "killed" / "checkpoints")) == ["ckpt-00000000.npz", "ckpt-00000003.npz"]
    assert cli.main(["train", "--out", str(tmp_path / "killed"), "--resume", "--quiet"]) == 0
    straight, resumed = (json.loads((tmp_path / name / "history.json").read_text()) for name in ("straight", "killed"))
    assert resumed["step"] == straight["step"] == list(range(1, 9))
    for name in ("d_loss", "g_loss", "d_real", "d_fake"):
        np.testing.assert_allclose(resumed[name], straight[name], rtol=1e-4, err_msg=name)


@ONE_BATCH_LOST
def test_distribute_resumed_mid_epoch_reproduces_the_uninterrupted_run(runs):
    assert runs["replicas"] == 2
    assert runs["straight_code"] == 0 and runs["killed_code"] == 130 and runs["resumed_code"] == 0
    assert runs["checkpoints"] == ["ckpt-00000000.npz", "ckpt-00000003.npz"]
    straight, resumed = runs["straight"], runs["killed"]
    assert straight["status"] == resumed["status"] == "completed"
    assert resumed["step"] == straight["step"] == list(range(1, 9))
    for name in ("d_loss", "g_loss", "d_real", "d_fake"):
        np.testing.assert_allclose(resumed[name], straight[name], rtol=1e-4, err_msg=name)
