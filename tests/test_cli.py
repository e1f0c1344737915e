"""Tests of the command line (ganlib/cli.py): every error path, and train -> sample -> inpaint."""
import glob
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from cli_support import fails, images, write_images  # noqa: F401 (a fixture)
from ganlib import cli

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--image-size", "16", "--width", "4", "--latent-dim", "8", "--batch-size", "4", "--samples", "4"]


def run_cli(*args, timeout=300):
    """``python -m ganlib ARGS`` in a fresh process: (exit code, stdout, stderr)."""
    process = subprocess.run([sys.executable, "-m", "ganlib", *args], capture_output=True, text=True,
                             timeout=timeout, cwd=REPO, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    return process.returncode, process.stdout, process.stderr


@pytest.fixture(scope="module")
def trained_run(images, tmp_path_factory):
    """One tiny run: 8 images of 16x16, batch 4, 1 epoch, logged for TensorBoard."""
    out = str(tmp_path_factory.mktemp("runs") / "dcgan")
    tensorboard = str(tmp_path_factory.mktemp("tensorboard"))
    code = cli.main(["train", "--model", "dcgan", "--data", images, *TINY, "--epochs", "1", "--out", out,
                     "--tensorboard", tensorboard, "--quiet"])
    assert code == 0
    return out, tensorboard


# ------------------------------------------------------------------------------ help
def test_help_lists_every_subcommand_and_every_train_option():
    code, out, err = run_cli("--help")
    assert code == 0 and err == ""
    for command in ("train", "sample", "inpaint", "toy", "bench", "info"):
        assert re.search(rf"^\s+{command}\s+\w", out, re.M), command
    parser = cli.build_parser()
    subparsers = next(action for action in parser._actions if hasattr(action, "choices") and action.choices)
    for name, subparser in subparsers.choices.items():
        text = subparser.format_help()
        for action in subparser._actions:
            for option in action.option_strings:
                assert option in text, (name, option)
            if action.dest != "help":
                assert action.help, (name, action.dest)  # every option is explained


# ------------------------------------------------------------------------- usage errors
def test_usage_errors_are_one_line_in_a_real_process_without_traceback():
    code, out, err = run_cli("train", "--model", "stylegan", "--data", "faces", "--out", "x")
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0
    assert all(word in err for word in ("--model", "'stylegan'", "'dcgan', 'wgan-gp'"))
    code, out, err = run_cli()
    assert code == 2 and err.strip().count("\n") == 0 and "required: COMMAND" in err


def test_user_error_after_tensorflow_loaded_is_one_line_in_a_real_process(tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "notes.txt").write_text("no images here")
    (broken / "a.png").write_bytes(b"not a png at all")
    code, out, err = run_cli("train", "--model", "dcgan", "--data", str(broken), *TINY, "--out",
                             str(tmp_path / "run"), "--quiet")
    assert code == 2
    # TensorFlow's start-up messages and the skipped-file warning are not shown
    assert err.strip().count("\n") == 0, err
    assert err.startswith("error: ") and "--data" in err and "none of its 1 image files" in err
    assert "Traceback" not in err


NEW = ["train", "--model", "dcgan", "--data", "faces", "--out", "o"]


@pytest.mark.parametrize("argv, words", [
    (NEW + ["--image-size", "48"], ["--image-size", "48", "16, 32, 64 or 128"]),
    (NEW + ["--channels", "2"], ["--channels", "2", "1, 3 or 4"]),
    (NEW + ["--epochs", "0"], ["--epochs", "0", ">= 1"]),
    (NEW + ["--batch-size", "-4"], ["--batch-size", "-4", ">= 1"]),
    (NEW + ["--learning-rate", "0"], ["--learning-rate", "0", "positive"]),
    (["train", "--model", "wgan-gp", "--data", "faces", "--out", "o", "--gp-weight", "-1"],
     ["--gp-weight", "-1", ">= 0"]),
    (NEW + ["--n-critic", "3"], ["--n-critic", "wgan-gp"]),
    (NEW + ["--source", "pokemon"], ["--source", "pokemon", "auto, celeba, lfw"]),
    (["train", "--model", "dcgan", "--data", "sprites", "--out", "o", "--source", "celeba"],
     ["--source", "celeba", "auto, pokemon, procedural"]),
    (["train", "--data", "faces", "--out", "o"], ["--model", "required", "dcgan", "wgan-gp"]),
    (["train", "--model", "dcgan", "--out", "o"], ["--data", "required", "faces", "sprites"]),
    (NEW + ["--checkpoint-every", "0"], ["--checkpoint-every", "0", ">= 1"]),
    (NEW + ["--epochs", "two"], ["--epochs", "two", "int"]),
    (["sample", "m.keras", "--out", "g.png", "--n", "0"], ["--n", "0", ">= 1"]),
    (["inpaint", "x.png", "--model", "run", "--out", "o.png", "--steps", "0"], ["--steps", "0", ">= 1"]),
    (["toy", "--steps", "0"], ["--steps", "0", ">= 1"]),
    (["toy", "--mean", "four"], ["--mean", "four", "float"]),
    (["toy", "--d-steps", "0"], ["--d-steps", "0", ">= 1"]),
    (["toy", "--decay-to", "2"], ["--decay-to", "2", "[0, 1]"]),
    (NEW + ["--recipe", "stylegan"], ["--recipe", "stylegan", "dcgan-2015", "sn-hinge+diffaugment+ema"]),
    (NEW + ["--ema", "1.5"], ["--ema", "1.5", "[0, 1)"]),
    (NEW + ["--r1", "-1"], ["--r1", "-1", ">= 0"]),
    (NEW + ["--d-learning-rate", "0"], ["--d-learning-rate", "0", "positive"]),
    (["train", "--model", "wgan-gp", "--data", "faces", "--out", "o", "--ema", "0.9"], ["--ema", "dcgan"]),
    # issue 25: item 5 (an empty --data trained on the current folder), item 11 (rates that are 0
    # in float32), and the time budgets of issue 23
    (["train", "--model", "dcgan", "--data", "", "--out", "o"], ["--data", "empty", "faces", "folder"]),
    (["train", "--model", "dcgan", "--data", "  ", "--out", "o"], ["--data", "empty"]),
    (NEW + ["--learning-rate", "1e-50"], ["--learning-rate", "1e-50", "too small", ">= 1e-12"]),
    (NEW + ["--d-learning-rate", "1e-320"], ["--d-learning-rate", "too small"]),
    (NEW + ["--cpu-seconds", "0"], ["--cpu-seconds", "0", "> 0"]),
    (NEW + ["--cpu-seconds", "nan"], ["--cpu-seconds", "nan", "finite"]),
    (NEW + ["--minutes", "-5"], ["--minutes", "-5", "> 0"]),
    (NEW + ["--minutes", "1e300"], ["--minutes", "<= 5.256e+06"]),
    (NEW + ["--upsample", "bilinear"], ["--upsample", "bilinear", "transposed", "resize"]),
    # issue 25 item 26: a GIF named .txt, and a missing folder created
    (["toy", "--steps", "5", "--gif", "x.txt"], ["--gif", "x.txt", ".gif"]),
    (["toy", "--steps", "5", "--gif", "/nonexistent-ganlib/x.gif"], ["--gif", "does not exist"]),
])
def test_bad_option_values(capsys, monkeypatch, tmp_path, argv, words):
    monkeypatch.chdir(tmp_path)  # the relative --out o lands here, and the cwd is restored after
    fails(capsys, argv, *words)


def test_toy_bad_target(capsys):
    fails(capsys, ["toy", "--std", "-1", "--steps", "5"], "std", "-1")


# --------------------------------------------------------------------------- data errors
def test_missing_data_folder(capsys, tmp_path):
    missing = str(tmp_path / "nowhere")
    fails(capsys, ["train", "--model", "dcgan", "--data", missing, "--out", str(tmp_path / "o")],
          "--data", "nowhere", "'faces'", "'sprites'", "folder")


def test_data_that_is_a_file(capsys, tmp_path):
    picture = tmp_path / "one.png"
    Image.new("RGB", (8, 8)).save(picture)
    fails(capsys, ["train", "--model", "dcgan", "--data", str(picture), "--out", str(tmp_path / "o")],
          "--data", "one.png", "not a folder")


def test_source_with_a_folder(capsys, images, tmp_path):
    fails(capsys, ["train", "--model", "dcgan", "--data", images, "--source", "lfw", "--out", str(tmp_path / "o")],
          "--source", "lfw", "faces or sprites")


def test_folder_with_unreadable_images_only(capsys, tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"not a png at all")
    (folder / "b.jpg").write_bytes(b"\xff\xd8\xff truncated")
    fails(capsys, ["train", "--model", "dcgan", "--data", str(folder), *TINY, "--out", str(tmp_path / "o"),
                   "--quiet"], "--data", "none of its 2 image files could be read")


def test_unreadable_files_are_one_warning_line_each(capsys, images, tmp_path):
    import shutil

    folder = str(tmp_path / "mixed")
    shutil.copytree(images, folder)
    with open(os.path.join(folder, "broken.png"), "wb") as handle:
        handle.write(b"not a png")
    capsys.readouterr()
    loaded = cli._load_images({"image_size": 16, "channels": 3, "data": folder, "source": "auto", "limit": None},
                              verbose=False)
    assert len(loaded) == 8
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("warning: image folder ") and "broken.png" in err[0]


def test_batch_larger_than_the_data(capsys, images, tmp_path):
    fails(capsys, ["train", "--model", "dcgan", "--data", images, "--image-size", "16", "--batch-size", "32",
                   "--out", str(tmp_path / "o"), "--quiet"],
          "--batch-size", "32", "8 images", "--batch-size <= 8")


def test_out_is_a_file(capsys, tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("")
    fails(capsys, ["train", "--model", "dcgan", "--data", "faces", "--out", str(target)], "--out", "out.txt", "is a file")


# ------------------------------------------------------------------- run and resume errors
def test_resume_without_a_checkpoint(capsys, tmp_path):
    fails(capsys, ["train", "--out", str(tmp_path / "fresh"), "--resume"],
          "--resume", "fresh", "no checkpoint")


def test_resume_and_overwrite_together(capsys, trained_run):
    fails(capsys, ["train", "--out", trained_run[0], "--resume", "--overwrite"], "--resume", "--overwrite")


def test_existing_run_needs_resume_or_overwrite(capsys, images, trained_run):
    fails(capsys, ["train", "--model", "dcgan", "--data", images, "--out", trained_run[0]],
          "already holds a run", "--resume", "--overwrite")


def test_resume_refuses_different_settings(capsys, trained_run):
    fails(capsys, ["train", "--out", trained_run[0], "--resume", "--image-size", "32"],
          "--image-size", "32", "16")
    fails(capsys, ["train", "--out", trained_run[0], "--resume", "--model", "wgan-gp"],
          "--model", "wgan-gp", "dcgan")


def test_resume_of_a_folder_not_made_by_the_cli(capsys, tmp_path):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "ckpt-00000004.npz").write_bytes(b"")
    fails(capsys, ["train", "--out", str(tmp_path), "--resume"], "config.json")


def test_interrupted_training_says_how_to_resume(capsys, monkeypatch, images, tmp_path):
    from ganlib import train

    def interrupted(gan, dataset, epochs, out_dir, **kwargs):
        os.makedirs(os.path.join(out_dir, "checkpoints"))  # stopped after its first checkpoint
        open(os.path.join(out_dir, "checkpoints", "ckpt-00000002.npz"), "wb").close()
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "fit_gan", interrupted)
    out = str(tmp_path / "run")
    fails(capsys, ["train", "--model", "dcgan", "--data", images, *TINY, "--out", out, "--quiet"],
          "interrupted", f"python -m ganlib train --out {out} --resume", code=130)


def test_interrupted_before_anything_was_written_says_run_it_again(capsys, monkeypatch, images, tmp_path):
    """Issue 25 item 28: Ctrl-C while the data loaded (before the folder existed) advised
    --overwrite, which a new run into a folder that does not exist has no use for."""
    def interrupted(settings, verbose):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_load_images", interrupted)
    out = str(tmp_path / "run")
    line = fails(capsys, ["train", "--model", "dcgan", "--data", images, *TINY, "--out", out, "--quiet"],
                 "interrupted", "same command again", code=130)
    assert "--overwrite" not in line and not os.path.exists(out)


def test_out_of_memory_gives_advice(capsys, monkeypatch, images, tmp_path):
    import tensorflow as tf

    from ganlib import train

    def out_of_memory(*args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor with shape[128,512,8,8]")

    monkeypatch.setattr(train, "fit_gan", out_of_memory)
    fails(capsys, ["train", "--model", "dcgan", "--data", images, *TINY, "--out", str(tmp_path / "run"), "--quiet"],
          "out of memory", "--batch-size", "--image-size", "--width", code=1)


def test_a_bug_keeps_its_traceback(monkeypatch):
    def broken(args):
        raise RuntimeError("a bug in ganlib")

    monkeypatch.setattr(cli, "cmd_toy", broken)
    with pytest.raises(RuntimeError, match="a bug in ganlib"):
        cli.main(["toy"])


# ------------------------------------------------------------------- damaged checkpoints
def truncate(path):
    data = open(path, "rb").read()
    with open(path, "wb") as handle:
        handle.write(data[:len(data) // 2])


def flip_byte(path):
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF
    with open(path, "wb") as handle:
        handle.write(bytes(data))


def stray(path):
    with open(path, "wb") as handle:
        np.savez(handle, weights=np.zeros(3))


DAMAGE = {"truncated": (truncate, "truncated"), "flipped": (flip_byte, "CRC-32"),
          "stray": (stray, "not a checkpoint written by ganlib")}


def copy_run(trained_run, folder, keep_checkpoints=None, keras_files=True):
    """A copy of the trained run (checkpoints at steps 0 and 2), optionally without some."""
    import shutil

    shutil.copytree(trained_run[0], folder, ignore=None if keras_files else shutil.ignore_patterns("*.keras"))
    if keep_checkpoints is not None:
        for name in os.listdir(os.path.join(folder, "checkpoints")):
            if name not in keep_checkpoints:
                os.remove(os.path.join(folder, "checkpoints", name))
    return str(folder)


def folder_bytes(folder):
    return {name: open(os.path.join(folder, name), "rb").read() for name in sorted(os.listdir(folder))}


def one_warning(capsys, *words):
    """stderr holds exactly one warning line (besides progress bars), naming ``words``."""
    err = capsys.readouterr().err
    found = [line for line in err.replace("\r", "\n").splitlines() if line.startswith("warning:")]
    assert len(found) == 1 and found[0].startswith("warning: checkpoint "), err
    assert all(word in found[0] for word in words), found[0]
    assert "Traceback" not in err and "error:" not in err


@pytest.mark.parametrize("kind", ["truncated", "flipped"])
def test_train_resume_skips_a_damaged_newest_checkpoint(capsys, trained_run, tmp_path, kind):
    from tensorflow.core.util import event_pb2

    import tensorflow as tf

    out = copy_run(trained_run, tmp_path / "run")
    newest = os.path.join(out, "checkpoints", "ckpt-00000002.npz")
    damage, reason = DAMAGE[kind]
    damage(newest)
    damaged_bytes = open(newest, "rb").read()
    tensorboard = str(tmp_path / "tensorboard")
    capsys.readouterr()
    assert cli.main(["train", "--out", out, "--resume", "--epochs", "2", "--tensorboard", tensorboard,
                     "--quiet"]) == 0
    one_warning(capsys, newest, reason, "kept as ckpt-00000002.npz.damaged", "using ckpt-00000000.npz")
    assert open(newest + ".damaged", "rb").read() == damaged_bytes  # kept byte for byte
    with open(os.path.join(out, "history.json")) as handle:
        history = json.load(handle)
    with open(os.path.join(trained_run[0], "history.json")) as handle:
        first = json.load(handle)
    assert history["status"] == "completed" and history["step"] == [1, 2, 3, 4]
    # resumed from step 0: steps 1-2 trained again from the same state and data give the same losses
    np.testing.assert_allclose(history["d_loss"][:2], first["d_loss"], rtol=1e-4)
    steps = set()  # TensorBoard counts from the checkpoint actually used (step 0), not from the damaged one
    for path in glob.glob(os.path.join(tensorboard, "events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(path):
            event = event_pb2.Event.FromString(record.numpy())
            steps.update(event.step for value in event.summary.value if value.tag == "d_loss")
    assert sorted(steps) == [1, 2, 3, 4]


def test_train_resume_with_no_intact_checkpoint_is_one_line_in_a_real_process(trained_run, tmp_path):
    out = copy_run(trained_run, tmp_path / "run")
    truncate(os.path.join(out, "checkpoints", "ckpt-00000002.npz"))
    flip_byte(os.path.join(out, "checkpoints", "ckpt-00000000.npz"))
    before = folder_bytes(os.path.join(out, "checkpoints"))
    code, printed, err = run_cli("train", "--out", out, "--resume", "--epochs", "2")
    assert code == 2 and printed == "" and "Traceback" not in err
    assert err.strip().count("\n") == 0, err
    for word in ("--resume", "no intact checkpoint", "ckpt-00000002.npz (not a complete zip archive",
                 "ckpt-00000000.npz (member", "CRC-32", "--overwrite"):
        assert word in err, (word, err)
    assert folder_bytes(os.path.join(out, "checkpoints")) == before  # nothing renamed, nothing deleted


def sample_grid(capsys, run, path):
    assert cli.main(["sample", run, "--out", path, "--n", "4", "--seed", "2"]) == 0
    return np.asarray(Image.open(path))


@pytest.mark.parametrize("kind, damaged, used", [("truncated", "ckpt-00000002.npz", "ckpt-00000000.npz"),
                                                 ("flipped", "ckpt-00000002.npz", "ckpt-00000000.npz"),
                                                 ("stray", "ckpt-00000003.npz", "ckpt-00000002.npz")])
def test_sample_skips_a_damaged_checkpoint_and_leaves_it_alone(capsys, trained_run, tmp_path, kind, damaged,
                                                               used):
    run = copy_run(trained_run, tmp_path / "run", keras_files=False)  # unfinished: read its checkpoints
    damage, reason = DAMAGE[kind]
    damage(os.path.join(run, "checkpoints", damaged))
    before = folder_bytes(os.path.join(run, "checkpoints"))
    capsys.readouterr()
    grid = sample_grid(capsys, run, str(tmp_path / "grid.png"))
    one_warning(capsys, os.path.join(run, "checkpoints", damaged), reason, f"using {used}")
    assert folder_bytes(os.path.join(run, "checkpoints")) == before  # sample only reads
    reference = copy_run(trained_run, tmp_path / "reference", keep_checkpoints=[used], keras_files=False)
    np.testing.assert_array_equal(grid, sample_grid(capsys, reference, str(tmp_path / "reference.png")))


def test_sample_and_inpaint_with_no_intact_checkpoint(capsys, trained_run, tmp_path):
    run = copy_run(trained_run, tmp_path / "run", keras_files=False)
    truncate(os.path.join(run, "checkpoints", "ckpt-00000002.npz"))
    stray(os.path.join(run, "checkpoints", "ckpt-00000000.npz"))
    before = folder_bytes(os.path.join(run, "checkpoints"))
    words = ("no intact checkpoint", "ckpt-00000002.npz (not a complete zip archive",
             "ckpt-00000000.npz (no 'meta' array")
    fails(capsys, ["sample", run, "--out", str(tmp_path / "g.png")], *words)
    picture = tmp_path / "face.png"
    Image.new("RGB", (16, 16), (200, 100, 50)).save(picture)
    fails(capsys, ["inpaint", str(picture), "--model", run, "--out", str(tmp_path / "done.png")], *words)
    assert folder_bytes(os.path.join(run, "checkpoints")) == before
    assert not os.path.exists(tmp_path / "g.png") and not os.path.exists(tmp_path / "done.png")


def test_inpaint_skips_a_damaged_newest_checkpoint(capsys, trained_run, images, tmp_path):
    run = copy_run(trained_run, tmp_path / "run", keras_files=False)
    newest = os.path.join(run, "checkpoints", "ckpt-00000002.npz")
    flip_byte(newest)
    capsys.readouterr()
    out = str(tmp_path / "done.png")
    assert cli.main(["inpaint", os.path.join(images, "03.png"), "--model", run, "--out", out, "--steps", "2",
                     "--candidates", "1", "--no-blend"]) == 0
    one_warning(capsys, newest, "CRC-32", "using ckpt-00000000.npz")
    assert np.asarray(Image.open(out)).shape == (16, 16, 3) and os.path.exists(newest)


# --------------------------------------------------------------------- sample errors
def test_sample_missing_model(capsys, tmp_path):
    fails(capsys, ["sample", str(tmp_path / "none.keras"), "--out", str(tmp_path / "g.png")],
          "MODEL", "none.keras", "does not exist")


def test_sample_corrupt_keras_file(capsys, tmp_path):
    corrupt = tmp_path / "generator.keras"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip")
    fails(capsys, ["sample", str(corrupt), "--out", str(tmp_path / "g.png")],
          "MODEL", "generator.keras", "could not be loaded")


def test_sample_from_a_discriminator(capsys, trained_run, tmp_path):
    fails(capsys, ["sample", os.path.join(trained_run[0], "discriminator.keras"), "--out", str(tmp_path / "g.png")],
          "not a generator", "(None, 16, 16, 3)")


def test_sample_from_an_empty_run_folder(capsys, tmp_path):
    fails(capsys, ["sample", str(tmp_path), "--out", str(tmp_path / "g.png")],
          "generator.keras", "no checkpoint")


# -------------------------------------------------------------------- inpaint errors
def test_inpaint_errors(capsys, trained_run, tmp_path):
    run = trained_run[0]
    picture = tmp_path / "face.png"
    Image.new("RGB", (16, 16), (200, 100, 50)).save(picture)
    out = str(tmp_path / "done.png")
    fails(capsys, ["inpaint", str(tmp_path / "none.png"), "--model", run, "--out", out],
          "IMAGE", "none.png", "not a file")
    fails(capsys, ["inpaint", str(picture), "--model", run, "--out", out, "--mask", "circle"],
          "--mask", "circle", "center, random, left_half, grid", "PNG")
    fails(capsys, ["inpaint", str(picture), "--model", os.path.join(run, "generator.keras"), "--out", out],
          "--model", "generator.keras", "run folder")
    white = tmp_path / "white.png"
    Image.new("L", (16, 16), 255).save(white)
    fails(capsys, ["inpaint", str(picture), "--model", run, "--out", out, "--mask", str(white)],
          "--mask", "white.png", "no pixel")
    text = tmp_path / "text.png"
    text.write_text("hello")
    fails(capsys, ["inpaint", str(text), "--model", run, "--out", out], "IMAGE", "text.png", "could not be read")


# ------------------------------------------------------------------- end to end
def test_train_writes_grids_gif_networks_history_config_and_tensorboard(trained_run):
    from tensorflow.core.util import event_pb2

    import tensorflow as tf

    out, tensorboard = trained_run
    for name in ("generator.keras", "discriminator.keras", "samples.gif", "samples/epoch_0001.png",
                 "history.json", "config.json"):
        assert os.path.exists(os.path.join(out, name)), name
    assert glob.glob(os.path.join(out, "checkpoints", "ckpt-00000002.npz"))
    with open(os.path.join(out, "history.json")) as handle:
        history = json.load(handle)
    assert history["status"] == "completed" and history["step"] == [1, 2]  # 8 images, batch 4
    with open(os.path.join(out, "config.json")) as handle:
        config = json.load(handle)
    assert config["model"] == "dcgan" and config["image_size"] == 16 and config["learning_rate"] == 2e-4
    grid = Image.open(os.path.join(out, "samples", "epoch_0001.png"))
    assert grid.size == (2 * (16 + 2) + 2,) * 2  # 4 samples as a 2x2 grid, 2-pixel padding
    # TensorBoard: each step's losses, equal to the run's per-step history; one sample grid
    scalars, images = {}, []
    for path in glob.glob(os.path.join(tensorboard, "events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(path):
            event = event_pb2.Event.FromString(record.numpy())
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "scalars":
                    scalars.setdefault(value.tag, {})[event.step] = float(tf.make_ndarray(value.tensor))
                elif value.tag == "samples":
                    images.append((event.step, tf.make_ndarray(value.tensor)))
    for name in ("d_loss", "g_loss", "d_real", "d_fake"):
        assert sorted(scalars[name]) == [1, 2]
        np.testing.assert_allclose([scalars[name][1], scalars[name][2]], history[name], rtol=1e-5)
    assert len(images) == 1 and images[0][0] == 2
    width, height, png = images[0][1]
    assert (int(width), int(height)) == grid.size
    np.testing.assert_array_equal(tf.io.decode_png(png).numpy()[..., :3], np.asarray(grid.convert("RGB")))


def test_resume_extends_a_finished_run(capsys, trained_run, tmp_path):
    import shutil

    out = str(tmp_path / "copy")
    shutil.copytree(trained_run[0], out)
    assert cli.main(["train", "--out", out, "--resume", "--epochs", "2"]) == 0
    printed = capsys.readouterr().out
    assert "Resumed from checkpoint" in printed and "at step 2" in printed
    with open(os.path.join(out, "history.json")) as handle:
        history = json.load(handle)
    assert history["step"] == [1, 2, 3, 4] and history["epoch"] == [1, 1, 2, 2]
    assert os.path.exists(os.path.join(out, "samples", "epoch_0002.png"))


def test_sample_from_the_run_and_from_its_checkpoint_give_the_same_grid(trained_run, tmp_path):
    import shutil

    from_model = str(tmp_path / "from_model.png")
    assert cli.main(["sample", trained_run[0], "--out", from_model, "--n", "6", "--seed", "3"]) == 0
    grid = np.asarray(Image.open(from_model))
    assert grid.shape == (2 * 18 + 2, 3 * 18 + 2, 3)  # 6 images: 3 per row, 2 rows
    interrupted = str(tmp_path / "interrupted")  # a run without .keras files: only checkpoints
    shutil.copytree(trained_run[0], interrupted, ignore=shutil.ignore_patterns("*.keras"))
    from_checkpoint = str(tmp_path / "from_checkpoint.png")
    assert cli.main(["sample", interrupted, "--out", from_checkpoint, "--n", "6", "--seed", "3"]) == 0
    # the same weights in a rebuilt network: equal up to float32 rounding, which may flip a
    # pixel's uint8 rounding by one (oneDNN picks kernels per model and CPU)
    assert np.abs(np.asarray(Image.open(from_checkpoint)).astype(int) - grid).max() <= 1
    other_seed = str(tmp_path / "other.png")
    assert cli.main(["sample", trained_run[0], "--out", other_seed, "--n", "6", "--seed", "4"]) == 0
    assert np.abs(np.asarray(Image.open(other_seed)).astype(int) - grid).max() > 0


def test_an_unfinished_run_samples_from_its_averaged_generator(trained_run, tmp_path):
    """Issues 23 and 25 (item 4): a run without generator.keras yet (interrupted) was rebuilt
    from its checkpoint with the raw generator, not the running average it samples from."""
    import shutil

    import keras

    from ganlib.callbacks import restore_newest_checkpoint

    interrupted = str(tmp_path / "interrupted")
    shutil.copytree(trained_run[0], interrupted, ignore=shutil.ignore_patterns("*.keras"))
    settings = cli._read_config(interrupted)
    assert settings["ema"] == 0.999  # the CPU recipe averages G
    rebuilt, _ = cli.load_run_networks(interrupted)
    saved = keras.models.load_model(os.path.join(trained_run[0], "generator.keras"), compile=False)
    raw = cli._build_gan(settings, jit_compile=False)
    restore_newest_checkpoint(raw, os.path.join(interrupted, "checkpoints"))
    z = np.random.default_rng(0).standard_normal((8, settings["latent_dim"])).astype(np.float32)
    averaged, from_file, from_raw = (np.asarray(g(z, training=False)) for g in (rebuilt, saved, raw.generator))
    assert np.abs(averaged - from_file).max() <= 1e-6
    assert np.abs(from_raw - from_file).max() > 1e-5


def test_inpaint_keeps_the_known_pixels_and_fills_the_hole(trained_run, images, tmp_path):
    from ganlib.data import load_image, to_uint8
    from ganlib.inpaint import center_mask

    source = os.path.join(images, "03.png")
    out, panel = str(tmp_path / "done.png"), str(tmp_path / "panel.png")
    code = cli.main(["inpaint", source, "--model", trained_run[0], "--out", out, "--panel", panel,
                     "--steps", "5", "--candidates", "2", "--no-blend"])
    assert code == 0
    completed = np.asarray(Image.open(out))
    original = to_uint8(load_image(source, image_size=16, channels=3))
    known = center_mask(16)[..., 0] == 1
    assert completed.shape == (16, 16, 3)
    np.testing.assert_array_equal(completed[known], original[known])
    assert np.abs(completed[~known].astype(int) - original[~known]).mean() > 5  # the hole was redrawn
    assert Image.open(panel).size == (3 * 18 + 2, 18 + 2)


def test_toy_prints_the_w1_of_the_library_run(capsys):
    from ganlib import toy

    assert cli.main(["toy", "--steps", "40", "--seed", "1"]) == 0
    printed = capsys.readouterr().out
    final = float(re.search(r"^W1 (\d+\.\d+) \(a perfect generator would show about (\d+\.\d+)", printed,
                            re.M).group(1))
    history = toy.train_toy_gan(toy.gaussian_1d(4.0, 0.5), 40, d_steps=5, seed=1, decay_to=0.0, record_every=4)
    assert final == pytest.approx(history["w1"][-1], abs=1e-4)
    assert len(re.findall(r"^  step ", printed, re.M)) == len(history["step"])


def test_mixed_precision_run_restores_the_policy_and_samples_from_its_checkpoint(images, tmp_path):
    import shutil

    import keras

    out = str(tmp_path / "mixed")
    assert cli.main(["train", "--model", "dcgan", "--data", images, *TINY, "--epochs", "1", "--out", out,
                     "--mixed-precision", "--quiet"]) == 0
    assert keras.mixed_precision.global_policy().name == "float32"  # the CLI put it back
    with open(os.path.join(out, "config.json")) as handle:
        assert json.load(handle)["mixed_precision"] is True
    with open(os.path.join(out, "history.json")) as handle:
        history = json.load(handle)
    assert history["status"] == "completed" and np.isfinite(history["d_loss"]).all()
    # the checkpoint holds the loss scale's variables: sampling rebuilds the networks in mixed precision
    interrupted = str(tmp_path / "interrupted")
    shutil.copytree(out, interrupted, ignore=shutil.ignore_patterns("*.keras"))
    grids = []
    for source in (out, interrupted):
        path = str(tmp_path / f"{os.path.basename(source)}.png")
        assert cli.main(["sample", source, "--out", path, "--n", "4"]) == 0
        grids.append(np.asarray(Image.open(path)))
    np.testing.assert_array_equal(grids[0], grids[1])
    assert keras.mixed_precision.global_policy().name == "float32"


def test_a_recipe_run_keeps_its_options_and_its_averaged_generator(capsys, images, tmp_path):
    out = str(tmp_path / "recipe")
    assert cli.main(["train", "--model", "dcgan", "--data", images, *TINY, "--epochs", "1", "--out", out,
                     "--recipe", "+sn-hinge", "--r1", "0.5", "--quiet"]) == 0  # its earlier name
    config = json.loads(open(os.path.join(out, "config.json")).read())
    assert config["recipe"] == "sn-hinge+diffaugment+ema" and config["loss"] == "hinge" and config["spectral_norm"]
    assert config["ema"] == 0.999 and config["r1"] == 0.5 and config["diffaugment"]  # --r1 wins
    assert config["d_learning_rate"] == 4e-4 and config["g_learning_rate"] == 1e-4
    checkpoint = sorted(glob.glob(os.path.join(out, "checkpoints", "*.npz")))[-1]
    with np.load(checkpoint) as archive:
        assert any(key.startswith("ema_generator/") for key in archive.files)
    fails(capsys, ["train", "--out", out, "--resume", "--ema", "0.5"], "--ema", "0.5", "0.999")
    # sample from the checkpoint alone: the networks are rebuilt from config.json, average included
    os.remove(os.path.join(out, "generator.keras"))
    assert cli.main(["sample", out, "--n", "4", "--out", str(tmp_path / "grid.png")]) == 0
    assert os.path.getsize(tmp_path / "grid.png") > 0


def test_a_mirror_run_samples_symmetric_images_from_its_saved_generator_and_its_checkpoint(capsys, images, tmp_path):
    out = str(tmp_path / "mirror")
    assert cli.main(["train", "--model", "dcgan", "--data", images, *TINY, "--epochs", "1", "--out", out,
                     "--recipe", "dcgan+ema+mirror", "--quiet"]) == 0
    config = json.loads(open(os.path.join(out, "config.json")).read())
    assert config["mirror"] is True and config["ema"] == 0.999
    warning = capsys.readouterr().err  # the fixture's images are noise, not symmetric: the CLI says so
    assert "--mirror" in warning and "mirror image" in warning and "90%" in warning
    fails(capsys, ["train", "--out", out, "--resume", "--no-mirror"], "--mirror", "False", "True")
    import keras

    from ganlib import models
    saved = keras.models.load_model(os.path.join(out, "generator.keras"), compile=False)  # a registered layer
    assert any(isinstance(layer, models.MirrorSymmetric) for layer in saved.layers)
    rebuilt = cli._build_gan(config, jit_compile=False)  # what sample/inpaint/--resume build from config.json
    assert all(any(isinstance(layer, models.MirrorSymmetric) for layer in network.layers)
               for network in (rebuilt.generator, rebuilt.ema_generator))
    for label in ("saved", "checkpoint"):  # from generator.keras, then from the checkpoint alone
        if label == "checkpoint":
            os.remove(os.path.join(out, "generator.keras"))
        assert cli.main(["sample", out, "--n", "1", "--out", str(tmp_path / f"{label}.png")]) == 0


def test_mirror_warns_only_for_images_that_are_not_symmetric(capsys, tmp_path):
    folder = tmp_path / "symmetric"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for index in range(8):
        half = rng.integers(0, 256, (16, 8, 3), dtype=np.uint8)
        Image.fromarray(np.concatenate([half, half[:, ::-1]], axis=1)).save(folder / f"{index}.png")
    assert cli.main(["train", "--model", "dcgan", "--data", str(folder), *TINY, "--epochs", "1",
                     "--out", str(tmp_path / "run"), "--mirror", "--quiet"]) == 0
    assert "--mirror" not in capsys.readouterr().err
    fails(capsys, ["train", "--model", "cgan", "--data", str(folder), "--out", str(tmp_path / "c"), "--mirror"],
          "--mirror", "dcgan")


# ------------------------------------------- nothing lost, nothing silently wrong (issue 16)
def test_a_new_run_deletes_no_file_it_did_not_write(capsys, monkeypatch, tmp_path):
    # item 1: a new run used to delete samples/ and checkpoints/ whole, the user's files too,
    # also the training images with --data ./samples --out .
    out = tmp_path / "project"
    write_images(out / "samples")
    (out / "samples" / "a.txt").write_text("mine")
    (out / "checkpoints").mkdir()
    (out / "checkpoints" / "notes.txt").write_text("mine")
    monkeypatch.chdir(out)
    assert cli.main(["train", "--model", "dcgan", "--data", "./samples", *TINY, "--epochs", "1",
                     "--out", ".", "--quiet"]) == 0
    assert (out / "samples" / "a.txt").read_text() == "mine"
    assert (out / "checkpoints" / "notes.txt").read_text() == "mine"
    assert sorted(glob.glob(str(out / "samples" / "0*.png"))) == [str(out / "samples" / f"{i:02d}.png")
                                                                 for i in range(8)]
    assert (out / "samples" / "epoch_0001.png").exists() and (out / "generator.keras").exists()


def test_a_finished_run_without_checkpoints_is_still_a_run(capsys, images, trained_run, tmp_path):
    # item 2: its generator.keras, history.json, config.json were replaced without --overwrite
    import shutil

    out = copy_run(trained_run, tmp_path / "run")
    shutil.rmtree(os.path.join(out, "checkpoints"))
    before = open(os.path.join(out, "generator.keras"), "rb").read()
    fails(capsys, ["train", "--model", "dcgan", "--data", images, *TINY, "--out", out],
          "already holds a run", "--resume", "--overwrite")
    assert open(os.path.join(out, "generator.keras"), "rb").read() == before


def test_overwrite_then_killed_leaves_no_stale_networks(capsys, monkeypatch, images, trained_run, tmp_path):
    # item 3: the old 16x16 generator.keras stayed and sample used it for a 32x32 run
    from ganlib import train

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    out = copy_run(trained_run, tmp_path / "run")
    open(os.path.join(out, "notes.txt"), "w").write("mine")
    monkeypatch.setattr(train, "fit_gan", killed)
    fails(capsys, ["train", "--model", "dcgan", "--data", images, *TINY[2:], "--image-size", "32", "--epochs",
                   "1", "--out", out, "--overwrite", "--quiet"], "interrupted", "--overwrite", code=130)
    assert sorted(os.listdir(out)) == [".ganlib.lock", "config.json", "notes.txt"]
    assert json.load(open(os.path.join(out, "config.json")))["image_size"] == 32
    fails(capsys, ["sample", out, "--out", str(tmp_path / "g.png")], "no generator.keras", "no checkpoint")


def test_sample_uses_a_checkpoint_newer_than_generator_keras(capsys, trained_run, tmp_path):
    # item 3: a run resumed and killed keeps the generator.keras of its earlier end
    out = copy_run(trained_run, tmp_path / "run")
    history = json.load(open(os.path.join(out, "history.json")))
    json.dump({**history, "step": history["step"][:1]}, open(os.path.join(out, "history.json"), "w"))
    open(os.path.join(out, "generator.keras"), "wb").write(b"stale")  # would fail to load if used
    assert cli.main(["sample", out, "--out", str(tmp_path / "g.png"), "--n", "4"]) == 0
    assert Image.open(tmp_path / "g.png").size == (2 * 18 + 2, 2 * 18 + 2)


def test_empty_out_is_refused(capsys, monkeypatch, tmp_path):
    # item 5: --out "" wrote into the current folder
    monkeypatch.chdir(tmp_path)
    fails(capsys, ["train", "--model", "dcgan", "--data", "faces", "--out", ""], "--out", "empty")
    fails(capsys, ["train", "--model", "dcgan", "--data", "faces", "--out", " "], "--out", "empty")
    assert os.listdir(tmp_path) == []


def test_an_empty_config_is_one_line(capsys, trained_run, tmp_path):
    # item 6: {} as config.json was a KeyError traceback
    out = copy_run(trained_run, tmp_path / "run", keras_files=False)
    open(os.path.join(out, "config.json"), "w").write("{}")
    fails(capsys, ["train", "--out", out, "--resume"], "config.json", "lacks", "model", "--overwrite")
    fails(capsys, ["sample", out, "--out", str(tmp_path / "g.png")], "config.json", "lacks", "model")
    json.dump({**json.load(open(os.path.join(trained_run[0], "config.json"))), "model": "stylegan"},
              open(os.path.join(out, "config.json"), "w"))
    fails(capsys, ["train", "--out", out, "--resume"], "config.json", "stylegan", "dcgan")


def test_tensorboard_at_a_file_is_one_line(capsys, images, tmp_path):
    (tmp_path / "logs").write_text("")
    fails(capsys, ["train", "--model", "dcgan", "--data", images, *TINY, "--out", str(tmp_path / "run"),
                   "--tensorboard", str(tmp_path / "logs")], "--tensorboard", "is a file")
    assert not (tmp_path / "run").exists()


def test_a_decompression_bomb_image_or_mask_is_one_line(capsys, monkeypatch, trained_run, images, tmp_path):
    from PIL import Image as PILImage

    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 100)  # the 20x20 images now count as bombs (> 2 x 100)
    image = os.path.join(images, "01.png")
    fails(capsys, ["inpaint", image, "--model", trained_run[0], "--out", str(tmp_path / "o.png")],
          "IMAGE", "01.png", "could not be read")
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 500)  # the 20x20 image is fine, the 40x40 mask a bomb
    mask = tmp_path / "mask.png"
    PILImage.new("L", (40, 40), 255).save(mask)
    fails(capsys, ["inpaint", image, "--model", trained_run[0], "--mask", str(mask), "--out", str(tmp_path / "o.png")],
          "--mask", "mask.png", "could not be read")


@pytest.mark.parametrize("argv, words", [
    (["train", "--model", "wgan-gp", "--data", "faces", "--out", "o", "--n-critic", "99999999999999999999"],
     ["--n-critic", "99999999999999999999", "1000"]),
    (NEW + ["--latent-dim", "10000000"], ["--latent-dim", "10000000", "4096"]),
    (NEW + ["--width", "1000000"], ["--width", "1000000", "1024"]),
    (NEW + ["--batch-size", "100000000"], ["--batch-size", "100000000", "65536"]),
    (NEW + ["--seed", str(2 ** 40)], ["--seed", str(2 ** 40), str(2 ** 32 - 1)]),
    (NEW + ["--learning-rate", "1e39"], ["--learning-rate", "1e+39", "<= 1"]),
    (NEW + ["--epochs", "10000000000"], ["--epochs", "10000000000", "1000000"]),
    (["toy", "--batch-size", "100000000"], ["--batch-size", "100000000", "100000"]),
    (["sample", "m.keras", "--out", "g.png", "--scale", "100000"], ["--scale", "100000", "64"]),
    (["sample", "m.keras", "--out", "grid"], ["--out", "grid", ".png"]),
    (["inpaint", "x.png", "--model", "run", "--out", "done.pdf"], ["--out", "done.pdf", ".png"]),
])
def test_absurd_option_values_are_one_line(capsys, monkeypatch, tmp_path, argv, words):
    # items 6, 7 and 9: these crashed in train_step, natively, or grew memory without bound
    monkeypatch.chdir(tmp_path)
    fails(capsys, argv, *words)


def test_sample_refuses_a_grid_too_large(capsys, trained_run, tmp_path):
    fails(capsys, ["sample", trained_run[0], "--out", str(tmp_path / "g.png"), "--n", "4096", "--scale", "9"],
          "--scale", "--n", "pixels")
    assert not (tmp_path / "g.png").exists()


def test_interrupted_before_any_checkpoint_does_not_suggest_resume(capsys, monkeypatch, images, tmp_path):
    # item 9: Ctrl-C and out-of-memory suggested --resume when there was nothing to resume
    import tensorflow as tf

    from ganlib import train

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "fit_gan", interrupted)
    out = str(tmp_path / "run")
    line = fails(capsys, ["train", "--model", "dcgan", "--data", images, *TINY, "--out", out, "--quiet"],
                 "interrupted", "no checkpoint", "--overwrite", code=130)
    assert "--resume" not in line

    def out_of_memory(*args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")

    monkeypatch.setattr(train, "fit_gan", out_of_memory)
    line = fails(capsys, ["train", "--model", "dcgan", "--data", images, *TINY, "--out", out, "--overwrite",
                          "--quiet"], "out of memory", "--batch-size", code=1)
    assert "--resume" not in line


def test_disk_full_is_one_clear_line_with_status_1(capsys, monkeypatch, images, tmp_path):
    # item 9: a bare "[Errno 28]" with the bad-option status 2
    import errno

    from ganlib import train

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", "/run/checkpoints/.ckpt.partial")

    monkeypatch.setattr(train, "fit_gan", disk_full)
    fails(capsys, ["train", "--model", "dcgan", "--data", images, *TINY, "--out", str(tmp_path / "run"),
                   "--quiet"], "disk is full", "free some space", "--overwrite", code=1)


def test_inpaint_with_a_run_without_discriminator(capsys, trained_run, images, tmp_path):
    # item 9: said "no generator.keras" of a folder that holds one
    import shutil

    out = copy_run(trained_run, tmp_path / "run")
    shutil.rmtree(os.path.join(out, "checkpoints"))
    os.remove(os.path.join(out, "discriminator.keras"))
    fails(capsys, ["inpaint", os.path.join(images, "01.png"), "--model", out, "--out", str(tmp_path / "o.png")],
          "--model", "no discriminator.keras")


def test_resume_with_fewer_epochs_keeps_the_config(capsys, trained_run, tmp_path):
    # item 9: --resume --epochs 1 on a 2-epoch run rewrote config.json
    out = copy_run(trained_run, tmp_path / "run")
    config = json.load(open(os.path.join(out, "config.json")))
    json.dump({**config, "epochs": 2}, open(os.path.join(out, "config.json"), "w"))
    history = json.load(open(os.path.join(out, "history.json")))
    assert cli.main(["train", "--out", out, "--resume", "--epochs", "1", "--quiet"]) == 0
    assert json.load(open(os.path.join(out, "config.json")))["epochs"] == 2
    assert json.load(open(os.path.join(out, "history.json")))["step"] == history["step"]


def test_two_trainings_on_one_out_are_prevented(capsys, images, tmp_path):
    # item 9: a second training mixed its files with the first's
    from ganlib.runfolder import RunFolder

    out = str(tmp_path / "run")
    held = RunFolder(out).lock()  # as a first training does
    try:
        fails(capsys, ["train", "--model", "dcgan", "--data", images, *TINY, "--epochs", "1", "--out", out,
                       "--quiet"], "in use by another training", str(os.getpid()), "another --out")
        assert sorted(os.listdir(out)) == [".ganlib.lock"]
    finally:
        held.close()
    assert cli.main(["train", "--model", "dcgan", "--data", images, *TINY, "--epochs", "1", "--out", out,
                     "--quiet"]) == 0


def test_a_resumed_run_removes_the_partial_files_of_a_killed_write(capsys, trained_run, tmp_path):
    # item 9: hidden .partial files stayed after a kill during a model save
    out = copy_run(trained_run, tmp_path / "run")
    leftovers = [".123-partial-generator.keras", ".history.json.123.partial",
                 "checkpoints/.ckpt-00000004.npz.123.partial", "samples/.epoch_0002.png.123.partial"]
    for name in leftovers:
        open(os.path.join(out, name), "wb").write(b"partial")
    open(os.path.join(out, ".notes.partial"), "w").write("mine")
    assert cli.main(["train", "--out", out, "--resume", "--quiet"]) == 0
    assert [name for name in leftovers if os.path.exists(os.path.join(out, name))] == []
    assert open(os.path.join(out, ".notes.partial")).read() == "mine"


@pytest.mark.parametrize("preset", ["cpu", "gpu"])
def test_new_run_defaults_follow_the_device(preset, monkeypatch, tmp_path):
    """Issue 23: on a CPU the defaults were GPU-sized (64x64, width 64, batch 128, 5 epochs)."""
    from ganlib.recipes import CPU_RECIPE, RECIPES

    monkeypatch.setenv("GANLIB_PRESET", preset)
    args = cli.build_parser().parse_args(["train", "--model", "dcgan", "--data", "faces", "--out", str(tmp_path / "r")])
    settings = cli._run_settings(args, str(tmp_path / "r"), False)
    if preset == "cpu":
        assert (settings["image_size"], settings["width"], settings["batch_size"]) == (32, 32, 64)
        assert settings["cpu_seconds"] == 600 and settings["epochs"] is None
        assert settings["recipe"] == CPU_RECIPE and settings["ema"] == RECIPES[CPU_RECIPE].ema_decay
    else:
        assert (settings["image_size"], settings["width"], settings["batch_size"]) == (64, 64, 128)
        assert settings["epochs"] == 5 and settings["cpu_seconds"] is None and settings["recipe"] is None
    # an explicit budget replaces the default one; explicit sizes and rates win over the recipe
    args = cli.build_parser().parse_args(["train", "--model", "dcgan", "--data", "faces", "--out", "o", "--epochs", "3",
                                          "--width", "8", "--recipe", "+higher-lr", "--learning-rate", "1e-4"])
    settings = cli._run_settings(args, str(tmp_path / "o"), False)
    assert settings["epochs"] == 3 and settings["cpu_seconds"] is None and settings["width"] == 8
    # issue 25 item 9: the recipe's own 5e-4 no longer beats an explicit --learning-rate
    assert settings["learning_rate"] == 1e-4 and settings["d_learning_rate"] is None and settings["g_learning_rate"] is None


def test_header_names_the_recipe_and_the_budget():
    settings = {"model": "dcgan", "learning_rate": 2e-4, "d_learning_rate": 2e-4, "g_learning_rate": 2e-4,
                "upsample": "transposed", "spectral_norm": False, "loss": "bce", "diffaugment": False,
                "ema": 0.999, "r1": 0.0, "mirror": False, "recipe": "dcgan+ema", "cpu_seconds": 600.0,
                "wall_seconds": None, "epochs": None}
    assert cli._recipe_line(settings) == ("recipe dcgan+ema: G transposed convolution, D batch norm, bce loss, "
                                          "averaged G (0.999), Adam 0.0002")
    assert cli._budget_line(settings, "CPU") == "budget 600 CPU s (CPU-sized defaults: no GPU)"
    settings.update(epochs=10, wall_seconds=300.0)
    assert cli._budget_line(settings, "GPU") == "budget 600 CPU s or 5 min or 10 epochs, whichever comes first"


def test_a_cpu_budget_run_says_what_it_does_and_resumes_to_a_larger_budget(tmp_path, capsys):
    """Issue 23: train had no time budget, did not echo its recipe, wrote a grid for every one of
    hundreds of epochs, and put transparency on white without a word."""
    folder = tmp_path / "icons"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for index in range(12):
        pixels = np.zeros((20, 20, 4), np.uint8)
        pixels[4:16, 4:16] = [*rng.integers(0, 255, 3), 255]  # an opaque square on a transparent canvas
        Image.fromarray(pixels).save(folder / f"{index:02d}.png")
    out = str(tmp_path / "run")
    assert cli.main(["train", "--model", "dcgan", "--data", str(folder), "--out", out, *TINY,
                     "--cpu-seconds", "4", "--recipe", "dcgan+ema"]) == 0
    printed = capsys.readouterr().out
    assert "note: 12 of 12 images have transparent pixels; they are put on a white background" in printed
    assert "recipe dcgan+ema: G transposed convolution" in printed and "budget 4 CPU s" in printed
    config = json.load(open(os.path.join(out, "config.json")))
    assert config["cpu_seconds"] == 4 and config["epochs"] is None
    history = json.load(open(os.path.join(out, "history.json")))
    steps, spent = len(history["step"]), history["cpu_seconds"]
    assert max(spent[:-1], default=0) < 4 <= spent[-1]
    epochs = -(-steps // 3)  # 12 images, batch 4
    grids = sorted(os.listdir(os.path.join(out, "samples")))
    assert len(grids) <= 8 + 4 * max(0, np.log2(max(epochs, 8) / 8)) + 2 and grids[-1] == f"epoch_{epochs:04d}.png"
    # resumed with a larger budget: it trains on and config.json keeps the new budget
    assert cli.main(["train", "--out", out, "--resume", "--cpu-seconds", "6", "--quiet"]) == 0
    assert json.load(open(os.path.join(out, "config.json")))["cpu_seconds"] == 6
    history = json.load(open(os.path.join(out, "history.json")))
    assert len(history["step"]) > steps and history["cpu_seconds"][-1] >= 6


def test_the_discriminator_verdict_speaks_only_when_d_has_won():
    won = {"d_real": [0.5] * 100 + [0.97] * 200, "d_fake": [0.5] * 100 + [0.01] * 200}
    assert "the discriminator has won" in cli.discriminator_verdict(won)
    assert "D(G(z)) = 0.010" in cli.discriminator_verdict(won)
    assert cli.discriminator_verdict({"d_real": [0.8] * 300, "d_fake": [0.2] * 300}) is None
    assert cli.discriminator_verdict({"d_real": [0.97] * 50, "d_fake": [0.01] * 50}) is None  # too short to tell
    assert cli.discriminator_verdict({"wasserstein": [1.0] * 300}) is None


def test_inpaint_with_a_mask_that_hides_everything_says_so(trained_run, images, tmp_path, capsys):
    """Issue 25 item 20: an all-black mask gave "masks[0] has no known pixel" (a parameter name)."""
    mask = tmp_path / "black.png"
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(mask)
    fails(capsys, ["inpaint", os.path.join(images, "03.png"), "--model", trained_run[0], "--mask", str(mask),
                   "--out", str(tmp_path / "o.png"), "--steps", "1"], "--mask", "every pixel as missing")
    assert not (tmp_path / "o.png").exists()


# ------------------------------------------------ issue 25 items 10, 15, 29: what defines a run
def edit_config(folder, **changes):
    path = os.path.join(folder, "config.json")
    config = json.load(open(path))
    config.update(changes)
    json.dump(config, open(path, "w"))


@pytest.mark.parametrize("changes, words", [
    ({"batch_size": True}, ["batch_size true", "not a whole number"]),   # trained with batch 1 before
    ({"width": "8"}, ["width \"8\"", "whole number"]),
    ({"learning_rate": "2e-4"}, ["learning_rate \"2e-4\"", "a number"]),
    ({"batch_size": None}, ["batch_size null"]),
    ({"data": None}, ["data null"]),
    ({"mirror": "yes"}, ["mirror \"yes\"", "true or false"]),
])
def test_a_config_with_wrong_types_is_one_line(capsys, trained_run, tmp_path, changes, words):
    """Item 15: Python tracebacks on --resume, library messages in sample."""
    out = copy_run(trained_run, tmp_path / "run", keras_files=False)  # sample rebuilds G from config.json
    edit_config(out, **changes)
    fails(capsys, ["train", "--out", out, "--resume", "--epochs", "2", "--quiet"], "config.json", *words)
    fails(capsys, ["sample", out, "--out", str(tmp_path / "g.png")], "config.json", *words)


@pytest.mark.parametrize("changes, words", [
    ({"batch_size": 2}, ["batch_size 2 (trained with 4)"]),
    ({"seed": 7}, ["seed 7 (trained with 42)"]),
    ({"learning_rate": 0.001}, ["learning_rate 0.001 (trained with 0.0002)"]),
    ({"loss": "hinge"}, ["loss \"hinge\" (trained with \"bce\")"]),
])
def test_resume_refuses_a_config_edited_by_hand(capsys, trained_run, tmp_path, changes, words):
    """Item 10: --resume trained on with whatever config.json said; the checkpoint now keeps
    the settings the run was trained with, and a resume names each one that differs."""
    out = copy_run(trained_run, tmp_path / "run")
    before = folder_bytes(os.path.join(out, "checkpoints"))
    edit_config(out, **changes)
    fails(capsys, ["train", "--out", out, "--resume", "--epochs", "2", "--quiet"], "--resume", "config.json", *words)
    assert folder_bytes(os.path.join(out, "checkpoints")) == before


def test_resume_refuses_changed_images_and_keeps_checkpoint_every(capsys, images, tmp_path):
    """Item 10 (the data) and item 29 (--checkpoint-every was not kept on --resume)."""
    import shutil

    data = shutil.copytree(images, tmp_path / "data")
    out = str(tmp_path / "run")
    assert cli.main(["train", "--model", "dcgan", "--data", str(data), *TINY, "--epochs", "1",
                     "--checkpoint-every", "1", "--out", out, "--quiet"]) == 0
    assert json.load(open(os.path.join(out, "config.json")))["checkpoint_every"] == 1
    assert cli.main(["train", "--out", out, "--resume", "--epochs", "2", "--quiet"]) == 0
    steps = sorted(int(name[5:13]) for name in os.listdir(os.path.join(out, "checkpoints")))
    assert steps == [3, 4], steps  # every step (the 2 newest kept), not only the end
    # the data folder moved: the same images, so the run resumes (config.json edited to say where)
    moved = shutil.move(str(data), tmp_path / "moved")
    edit_config(out, data=str(moved))
    assert cli.main(["train", "--out", out, "--resume", "--epochs", "3", "--quiet"]) == 0
    os.remove(sorted(glob.glob(os.path.join(moved, "*.png")))[0])
    fails(capsys, ["train", "--out", out, "--resume", "--epochs", "4", "--quiet"],
          "--resume", "images", "changed", "8 images then, 7 now")


def test_a_truncated_generator_keras_falls_back_to_the_checkpoints(capsys, trained_run, tmp_path):
    """Issue 25 item 23: a truncated generator.keras in a finished run said "File not found"
    although it exists, and the intact checkpoints were not used as they are for --resume."""
    out = copy_run(trained_run, tmp_path / "run")
    reference = tmp_path / "reference.png"
    assert cli.main(["sample", trained_run[0], "--out", str(reference), "--n", "4", "--quiet"]) == 0
    generator = os.path.join(out, "generator.keras")
    data = open(generator, "rb").read()
    open(generator, "wb").write(data[: len(data) // 2])
    capsys.readouterr()
    assert cli.main(["sample", out, "--out", str(tmp_path / "g.png"), "--n", "4", "--quiet"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "generator.keras" in err[0] and "damaged" in err[0] and "checkpoint" in err[0], err
    assert "File not found" not in err[0]
    # the checkpoint's averaged generator draws what generator.keras drew (one uint8 level)
    a = np.asarray(Image.open(reference), np.int16)
    b = np.asarray(Image.open(tmp_path / "g.png"), np.int16)
    assert np.abs(a - b).max() <= 1
    # a lone damaged .keras file (no run folder to fall back on) is one line naming it
    lone = tmp_path / "lone.keras"
    lone.write_bytes(data[: len(data) // 2])
    fails(capsys, ["sample", str(lone), "--out", str(tmp_path / "h.png")], "lone.keras", "damaged")


def test_a_full_disk_while_writing_the_panel_leaves_no_empty_file(capsys, monkeypatch, trained_run, images, tmp_path):
    """Issue 25 item 19: inpaint --out --panel on a full disk said the partial file was removed
    but left a 0-byte panel.png: the panel is now written through a temporary file too."""
    import errno

    from PIL import Image as PILImage

    real_save = PILImage.Image.save

    def full_disk(self, fp, *args, **kwargs):
        if "panel" in os.path.basename(str(fp)):
            open(fp, "wb").close()  # the file was opened, then the disk filled up
            raise OSError(errno.ENOSPC, "No space left on device", str(fp))
        return real_save(self, fp, *args, **kwargs)

    monkeypatch.setattr(PILImage.Image, "save", full_disk)
    photo = os.path.join(images, sorted(os.listdir(images))[0])
    code = cli.main(["inpaint", photo, "--model", trained_run[0], "--out", str(tmp_path / "out.png"),
                     "--panel", str(tmp_path / "panel.png"), "--steps", "2"])
    err = capsys.readouterr().err
    assert code == 1 and "disk is full" in err, err
    assert sorted(os.listdir(tmp_path)) == ["out.png"]  # no panel.png, empty or not, no hidden partial


def test_a_run_written_under_an_earlier_recipe_name_resumes(capsys, monkeypatch, images, tmp_path):
    """Issue 24 item 4 renamed '+ema' to 'dcgan+diffaugment+ema': a run folder whose config.json
    and checkpoint record say '+ema' still resumes, also with --recipe +ema given again."""
    from ganlib import recipes

    with monkeypatch.context() as before_the_rename:
        before_the_rename.setattr(recipes, "RENAMED", {})
        before_the_rename.setitem(recipes.RECIPES, "+ema", recipes.RECIPES["dcgan+diffaugment+ema"])
        out = str(tmp_path / "old")
        assert cli.main(["train", "--model", "dcgan", "--data", images, *TINY, "--epochs", "1", "--out", out,
                         "--recipe", "+ema", "--quiet"]) == 0
        assert json.loads(open(os.path.join(out, "config.json")).read())["recipe"] == "+ema"
    assert "+ema" not in recipes.RECIPES
    assert cli.main(["train", "--out", out, "--resume", "--recipe", "+ema", "--epochs", "2", "--quiet"]) == 0
    config = json.loads(open(os.path.join(out, "config.json")).read())
    assert config["recipe"] == "dcgan+diffaugment+ema" and config["diffaugment"] and config["ema"] == 0.999
