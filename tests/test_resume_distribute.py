"""``train`` killed in the middle of an epoch and resumed through the command line (issue 16,
item 4), on one device and with ``--distribute`` on two replicas: the resumed run must read the
same batches in the same order and make the same losses as the run that was never stopped.

Keras makes iterators of the data that it does not train from: each reads ahead, and under a
tf.distribute strategy every ``fit`` call first takes one batch from an iterator it then drops
(to build the model; Keras 3's ``_maybe_symbolic_build``). Each new iterator of a seeded
reshuffling pipeline draws the next shuffle order, and one of a shared stream takes batches from
it. Measured with two replicas before fit_gan fed every iterator by step (``train._StepFeed``):
the uninterrupted run trained from the pipeline's second shuffle order (the dropped iterator drew
the first); the resumed run, reading one iterator from the first order, trained step 4 on the
uninterrupted run's step-1 batch and steps 5-8 on its steps 6-9 (batches lost to the iterators
Keras dropped). On one device the first fit's read-ahead batch was lost, until an islice fix.

Both runs set ``setup(deterministic=True)``: the networks and optimizers of their last checkpoints
are compared bit for bit. The per-step losses are compared to rtol 1e-6, not exactly: fit_gan
records them as differences of Keras' float32 running totals over the epoch, and the first step
of a mid-epoch resume is no difference (measured on one device: 2.4e-7 apart at step 4, every
other step equal). The two-replica
run is a subprocess that splits the CPU into two logical devices before TensorFlow starts (as
tests/test_distribute.py), so --distribute has two replicas.
"""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from train_support import noise_pngs

SCRIPT = textwrap.dedent(r'''
    import json, os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    import ganlib
    tf = ganlib._import_tensorflow()
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from ganlib import cli, train
    sys.path.insert(0, sys.argv[3])  # the tests folder
    from train_support import KillAt

    setup = ganlib.setup  # cli calls setup(seed=...): with op determinism, the losses repeat exactly
    ganlib.setup = lambda *args, **kwargs: setup(*args, **{**kwargs, "deterministic": True})
    data, root = sys.argv[1], sys.argv[2]
    # 16 images, 2 per device on 2 devices: 4 steps per epoch, 8 in the run
    common = ["--image-size", "16", "--width", "4", "--latent-dim", "8", "--batch-size", "2",
              "--samples", "4", "--checkpoint-every", "3", "--distribute", "--quiet"]
    new = ["train", "--model", "dcgan", "--data", data, "--epochs", "2", *common]

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
def runs(tmp_path_factory, images):
    root = tmp_path_factory.mktemp("runs")
    script = root / "resume_distribute.py"
    script.write_text(SCRIPT)
    tests = os.path.dirname(os.path.abspath(__file__))
    process = subprocess.run([sys.executable, str(script), images, str(root), tests], capture_output=True,
                             text=True, timeout=600, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    lines = [line for line in process.stdout.splitlines() if line.startswith("RESULTS")]
    assert process.returncode == 0 and lines, process.stderr[-3000:]
    return {**json.loads(lines[-1][len("RESULTS"):]), "root": root}


def assert_same_training(straight, resumed, folders):
    """The same losses (to the rounding of the running totals, see above) and the same final
    networks and optimizers, bit for bit (every array of the last checkpoint but its metadata)."""
    assert resumed["step"] == straight["step"] == list(range(1, 9))
    for name in ("d_loss", "g_loss", "d_real", "d_fake"):
        np.testing.assert_allclose(resumed[name], straight[name], rtol=1e-6, atol=0, err_msg=name)
    last = [np.load(folder / "checkpoints" / "ckpt-00000008.npz", allow_pickle=False) for folder in folders]
    arrays = [name for name in last[0].files if name != "meta"]
    assert sorted(arrays) == sorted(name for name in last[1].files if name != "meta") and len(arrays) > 20
    for name in arrays:
        np.testing.assert_array_equal(last[1][name], last[0][name], err_msg=name)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    return noise_pngs(tmp_path_factory.mktemp("images16"), count=16)


@pytest.fixture
def deterministic(monkeypatch):
    """cli's ``ganlib.setup(seed=...)`` with op determinism on, turned off after the test (it is
    global; TF's private switch, as tests/test_callbacks.py)."""
    import ganlib
    from tensorflow.python.framework import config as tf_config

    setup = ganlib.setup
    monkeypatch.setattr(ganlib, "setup", lambda *args, **kwargs: setup(*args, **{**kwargs, "deterministic": True}))
    yield
    getattr(tf_config, "disable_op_determinism", lambda: None)()


def test_step_feed_gives_a_new_iterator_the_batches_from_the_step_reached():
    import tensorflow as tf

    from ganlib.train import _StepFeed

    def pipeline():  # a new order per iterator, as a seeded reshuffling pipeline
        return tf.data.Dataset.range(6).shuffle(6, seed=1, reshuffle_each_iteration=True).repeat()

    order = [int(value) for value in pipeline().take(18)]
    assert order[:6] != order[6:12]  # each pass its own order
    state = {"step": 0}
    feed = _StepFeed(pipeline(), 0, lambda: state["step"])
    batches = tf.data.Dataset.from_generator(feed.batches, output_signature=tf.TensorSpec((), tf.int64))
    dropped = iter(batches)
    assert [int(next(dropped)) for _ in range(3)] == order[:3]  # read ahead by an iterator then dropped
    kept = iter(batches)  # starts at step 0 all the same
    assert [int(next(kept)) for _ in range(2)] == order[:2]
    state["step"] = 2
    assert [int(next(kept)) for _ in range(5)] == order[2:7]  # read ahead: 7
    state["step"] = 4
    assert [int(value) for value in batches.take(9)] == order[4:13]  # a new fit: from step 4
    state["step"] = 13  # training passed every batch read so far
    rest = [int(value) for value in dropped]  # behind training: it ends (the list is finite), after
    assert rest == order[3:3 + len(rest)]  # the batches from_generator had read ahead for it
    assert feed._kept == {}  # and the batches of trained steps are let go
    feed.close()  # as fit_gan does when training ends
    assert feed._iterator is None


def test_resumed_mid_epoch_reproduces_the_uninterrupted_run_on_one_device(monkeypatch, deterministic, images,
                                                                           tmp_path):
    from ganlib import cli, train
    from train_support import KillAt

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
    assert_same_training(straight, resumed, [tmp_path / "straight", tmp_path / "killed"])


def test_distribute_resumed_mid_epoch_reproduces_the_uninterrupted_run(runs):
    assert runs["replicas"] == 2
    assert runs["straight_code"] == 0 and runs["killed_code"] == 130 and runs["resumed_code"] == 0
    assert runs["checkpoints"] == ["ckpt-00000000.npz", "ckpt-00000003.npz"]
    straight, resumed = runs["straight"], runs["killed"]
    assert straight["status"] == resumed["status"] == "completed"
    assert_same_training(straight, resumed, [runs["root"] / "straight", runs["root"] / "killed"])
