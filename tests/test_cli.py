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

from ganlib import cli

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--image-size", "16", "--width", "4", "--latent-dim", "8", "--batch-size", "4", "--samples", "4"]


def run_cli(*args, timeout=300):
    """``python -m ganlib ARGS`` in a fresh process: (exit code, stdout, stderr)."""
    process = subprocess.run([sys.executable, "-m", "ganlib", *args], capture_output=True, text=True,
                             timeout=timeout, cwd=REPO, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    return process.returncode, process.stdout, process.stderr


def fails(capsys, argv, pattern, code=2):
    """main(argv) exits with ``code`` and exactly one stderr line matching ``pattern``."""
    capsys.readouterr()
    try:
        result = cli.main(argv)
    except SystemExit as exit_:  # argparse's own errors
        result = exit_.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert result == code, err
    assert len(lines) == 1, err
    assert re.search(pattern, lines[0]), lines[0]
    assert "Traceback" not in err
    return lines[0]


def write_images(folder, count=8, size=20, seed=0):
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    for index in range(count):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(
            os.path.join(folder, f"{index:02d}.png"))
    return str(folder)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    return write_images(tmp_path_factory.mktemp("images"))


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
    assert "--model: invalid choice: 'stylegan'" in err and "'dcgan', 'wgan-gp'" in err
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
    assert err.startswith("error: --data ") and "none of its 1 image files could be read" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv, pattern", [
    (["train", "--model", "dcgan", "--data", "faces", "--out", "o", "--image-size", "48"],
     r"--image-size=48 is not supported; use 16, 32, 64 or 128"),
    (["train", "--model", "dcgan", "--data", "faces", "--out", "o", "--channels", "2"],
     r"--channels=2 is not supported; use 1, 3 or 4"),
    (["train", "--model", "dcgan", "--data", "faces", "--out", "o", "--epochs", "0"],
     r"--epochs=0 must be an integer >= 1"),
    (["train", "--model", "dcgan", "--data", "faces", "--out", "o", "--batch-size", "-4"],
     r"--batch-size=-4 must be an integer >= 1"),
    (["train", "--model", "dcgan", "--data", "faces", "--out", "o", "--learning-rate", "0"],
     r"--learning-rate=0.0 must be a positive number"),
    (["train", "--model", "wgan-gp", "--data", "faces", "--out", "o", "--gp-weight", "-1"],
     r"--gp-weight=-1.0 must be a number >= 0"),
    (["train", "--model", "dcgan", "--data", "faces", "--out", "o", "--n-critic", "3"],
     r"--n-critic applies to --model wgan-gp only"),
    (["train", "--model", "dcgan", "--data", "faces", "--out", "o", "--source", "pokemon"],
     r"--source=pokemon is not allowed with --data faces; use one of auto, celeba, lfw"),
    (["train", "--model", "dcgan", "--data", "sprites", "--out", "o", "--source", "celeba"],
     r"--source=celeba is not allowed with --data sprites; use one of auto, pokemon, procedural"),
    (["train", "--data", "faces", "--out", "o"], r"--model is required for a new run"),
    (["train", "--model", "dcgan", "--out", "o"], r"--data is required for a new run"),
    (["train", "--model", "dcgan", "--data", "faces", "--out", "o", "--checkpoint-every", "0"],
     r"--checkpoint-every=0 must be an integer >= 1"),
    (["train", "--model", "dcgan", "--data", "faces", "--out", "o", "--epochs", "two"],
     r"argument --epochs: invalid int value: 'two'"),
    (["sample", "m.keras", "--out", "g.png", "--n", "0"], r"--n=0 must be an integer >= 1"),
    (["inpaint", "x.png", "--model", "run", "--out", "o.png", "--steps", "0"], r"--steps=0 must be an integer"),
    (["toy", "--steps", "0"], r"--steps=0 must be an integer >= 1"),
    (["toy", "--mean", "four"], r"argument --mean: invalid float value: 'four'"),
    (["toy", "--d-steps", "0"], r"--d-steps=0 must be an integer >= 1"),
    (["toy", "--decay-to", "2"], r"--decay-to=2.0 is outside \[0, 1\]"),
])
def test_bad_option_values(capsys, tmp_path, argv, pattern):
    os.chdir(tmp_path)
    fails(capsys, argv, pattern)


def test_toy_bad_target(capsys):
    fails(capsys, ["toy", "--std", "-1", "--steps", "5"], r"std")


# --------------------------------------------------------------------------- data errors
def test_missing_data_folder(capsys, tmp_path):
    missing = str(tmp_path / "nowhere")
    fails(capsys, ["train", "--model", "dcgan", "--data", missing, "--out", str(tmp_path / "o")],
          r"--data='.*nowhere' is neither 'faces', 'sprites' nor an existing folder")


def test_data_that_is_a_file(capsys, tmp_path):
    picture = tmp_path / "one.png"
    Image.new("RGB", (8, 8)).save(picture)
    fails(capsys, ["train", "--model", "dcgan", "--data", str(picture), "--out", str(tmp_path / "o")],
          r"--data='.*one.png' is a file, not a folder")


def test_source_with_a_folder(capsys, images, tmp_path):
    fails(capsys, ["train", "--model", "dcgan", "--data", images, "--source", "lfw", "--out", str(tmp_path / "o")],
          r"--source=lfw applies to --data faces or sprites only")


def test_folder_with_unreadable_images_only(capsys, tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"not a png at all")
    (folder / "b.jpg").write_bytes(b"\xff\xd8\xff truncated")
    fails(capsys, ["train", "--model", "dcgan", "--data", str(folder), *TINY, "--out", str(tmp_path / "o"),
                   "--quiet"], r"--data .*none of its 2 image files could be read")


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
          r"--batch-size=32 x 1 device\(s\) = 32 is more than the 8 images of the data set; use --batch-size <= 8")


def test_out_is_a_file(capsys, tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("")
    fails(capsys, ["train", "--model", "dcgan", "--data", "faces", "--out", str(target)], r"--out .* is a file")


# ------------------------------------------------------------------- run and resume errors
def test_resume_without_a_checkpoint(capsys, tmp_path):
    fails(capsys, ["train", "--out", str(tmp_path / "fresh"), "--resume"],
          r"--resume: '.*fresh' holds no checkpoint to resume")


def test_resume_and_overwrite_together(capsys, trained_run):
    fails(capsys, ["train", "--out", trained_run[0], "--resume", "--overwrite"], r"contradict each other")


def test_existing_run_needs_resume_or_overwrite(capsys, images, trained_run):
    fails(capsys, ["train", "--model", "dcgan", "--data", images, "--out", trained_run[0]],
          r"already holds a run; add --resume to continue it, --overwrite to start it afresh")


def test_resume_refuses_different_settings(capsys, trained_run):
    fails(capsys, ["train", "--out", trained_run[0], "--resume", "--image-size", "32"],
          r"--image-size=32 but the run in .* was trained with 16; leave --image-size out when resuming")
    fails(capsys, ["train", "--out", trained_run[0], "--resume", "--model", "wgan-gp"],
          r"--model=wgan-gp but the run .* was trained with dcgan")


def test_resume_of_a_folder_not_made_by_the_cli(capsys, tmp_path):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "ckpt-00000004.npz").write_bytes(b"")
    fails(capsys, ["train", "--out", str(tmp_path), "--resume"], r"holds checkpoints but no config.json")


def test_interrupted_training_says_how_to_resume(capsys, monkeypatch, images, tmp_path):
    from ganlib import train

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "fit_gan", interrupted)
    out = str(tmp_path / "run")
    fails(capsys, ["train", "--model", "dcgan", "--data", images, *TINY, "--out", out, "--quiet"],
          rf"^error: interrupted; .* python -m ganlib train --out {re.escape(out)} --resume$", code=130)


def test_out_of_memory_gives_advice(capsys, monkeypatch, images, tmp_path):
    import tensorflow as tf

    from ganlib import train

    def out_of_memory(*args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor with shape[128,512,8,8]")

    monkeypatch.setattr(train, "fit_gan", out_of_memory)
    fails(capsys, ["train", "--model", "dcgan", "--data", images, *TINY, "--out", str(tmp_path / "run"), "--quiet"],
          r"^error: out of memory \(OOM when allocating.*\); lower --batch-size, --image-size or --width", code=1)


def test_a_bug_keeps_its_traceback(monkeypatch):
    def broken(args):
        raise RuntimeError("a bug in ganlib")

    monkeypatch.setattr(cli, "cmd_toy", broken)
    with pytest.raises(RuntimeError, match="a bug in ganlib"):
        cli.main(["toy"])


# --------------------------------------------------------------------- sample errors
def test_sample_missing_model(capsys, tmp_path):
    fails(capsys, ["sample", str(tmp_path / "none.keras"), "--out", str(tmp_path / "g.png")],
          r"MODEL='.*none.keras' does not exist")


def test_sample_corrupt_keras_file(capsys, tmp_path):
    corrupt = tmp_path / "generator.keras"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip")
    fails(capsys, ["sample", str(corrupt), "--out", str(tmp_path / "g.png")],
          r"MODEL '.*generator.keras' could not be loaded as a Keras model")


def test_sample_from_a_discriminator(capsys, trained_run, tmp_path):
    fails(capsys, ["sample", os.path.join(trained_run[0], "discriminator.keras"), "--out", str(tmp_path / "g.png")],
          r"is not a generator: it takes inputs of shape \(None, 16, 16, 3\)")


def test_sample_from_an_empty_run_folder(capsys, tmp_path):
    fails(capsys, ["sample", str(tmp_path), "--out", str(tmp_path / "g.png")],
          r"holds no generator.keras and no checkpoint")


# -------------------------------------------------------------------- inpaint errors
def test_inpaint_errors(capsys, trained_run, tmp_path):
    run = trained_run[0]
    picture = tmp_path / "face.png"
    Image.new("RGB", (16, 16), (200, 100, 50)).save(picture)
    out = str(tmp_path / "done.png")
    fails(capsys, ["inpaint", str(tmp_path / "none.png"), "--model", run, "--out", out],
          r"IMAGE='.*none.png' is not a file")
    fails(capsys, ["inpaint", str(picture), "--model", run, "--out", out, "--mask", "circle"],
          r"--mask='circle' is neither a mask kind \(center, random, left_half, grid\) nor a PNG file")
    fails(capsys, ["inpaint", str(picture), "--model", os.path.join(run, "generator.keras"), "--out", out],
          r"is a file; inpainting needs a run folder")
    white = tmp_path / "white.png"
    Image.new("L", (16, 16), 255).save(white)
    fails(capsys, ["inpaint", str(picture), "--model", run, "--out", out, "--mask", str(white)],
          r"marks no pixel as missing")
    text = tmp_path / "text.png"
    text.write_text("hello")
    fails(capsys, ["inpaint", str(text), "--model", run, "--out", out], r"IMAGE='.*text.png' could not be read")


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
    np.testing.assert_array_equal(np.asarray(Image.open(from_checkpoint)), grid)
    other_seed = str(tmp_path / "other.png")
    assert cli.main(["sample", trained_run[0], "--out", other_seed, "--n", "6", "--seed", "4"]) == 0
    assert np.abs(np.asarray(Image.open(other_seed)).astype(int) - grid).max() > 0


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
