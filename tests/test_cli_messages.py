"""CLI error messages name the command-line option as the user typed it (issue 16, item 9):
never a Python parameter (``path=``, ``std=``, ``perceptual_weight=``, ``out_dir``,
``resume=False``), always one line with the option, the value and what is allowed."""
import json
import os
import re
import shutil

import pytest

from cli_support import TINY, images, run  # noqa: F401 (fixtures)
from cli_support import fails as one_error_line
from ganlib import cli


#: a Python-style parameter: a lower-case name and "=" not preceded by "--" (--n=0 and
#: MODEL='x' are the CLI's own spellings)
PYTHON_PARAMETER = re.compile(r"(?<![-\w])[a-z][a-z0-9_]*=")


def fails(capsys, argv, *words, code=2):
    """One error line holding every word (cli_support.fails), naming no Python parameter."""
    line = one_error_line(capsys, argv, *words, code=code)
    assert not PYTHON_PARAMETER.search(line), line
    return line


# ------------------------------------------------------------- before TensorFlow loads
@pytest.mark.parametrize("argv, words", [
    (["toy", "--std", "0"], ["--std", "0", "> 0"]),            # was "std=0.0 must be ..."
    (["toy", "--std", "nan"], ["--std", "nan"]),
    (["toy", "--mean", "inf"], ["--mean", "inf", "finite"]),   # was "mean=inf ..."
    # was two "overflow encountered in cast" warnings and "b contains NaN or inf"
    (["toy", "--std", "1e300"], ["--std", "1e+300", "1e+06"]),
    (["toy", "--mean", "1e300"], ["--mean", "1e+300", "1e+06"]),
    (["inpaint", "x.png", "--model", "run", "--out", "o.png", "--perceptual-weight", "-1"],
     ["--perceptual-weight", "-1", ">= 0"]),                     # was "perceptual_weight=-1.0 ..."
    (["inpaint", "x.png", "--model", "run", "--out", "o.png", "--perceptual-weight", "inf"],
     ["--perceptual-weight", "inf"]),
    # accepted and trained with an infinite penalty (NaN from the first step)
    (["train", "--model", "wgan-gp", "--data", "faces", "--out", "o", "--gp-weight", "inf"],
     ["--gp-weight", "inf", "finite"]),
    (["train", "--model", "dcgan", "--data", "faces", "--out", "o", "--r1", "inf"], ["--r1", "inf", "finite"]),
    (["bench", "--shapes", "8x8"], ["--shapes", "8x8", "32x32x1", "64x64x3"]),  # was "shape='8x8' ..."
    (["bench", "--variants", "pytorch"], ["--variants", "pytorch", "keras-io", "ganlib+xla"]),
    (["bench", "--quality", "--recipes", "stylegan"], ["--recipes", "stylegan", "dcgan-2015"]),
    # was "real has images of 17x17; expected square images ..." after generating the sprites
    (["bench", "--quality", "--image-size", "17"], ["--image-size", "17", "16, 32, 64 or 128"]),
    # was accepted and silently ignored
    (["bench", "--quality", "--cpu-seconds", "10", "--milestones", "-1"], ["--milestones", "-1", "10"]),
    (["bench", "--quality", "--cpu-seconds", "10", "--milestones", "20"], ["--milestones", "20", "10"]),
    # issue 25 item 21: checked only after the whole run, or not at all
    (["bench", "--quality", "--plot", "x.txt"], ["--plot", "x.txt", ".png"]),
    (["bench", "--quality", "--json", "/missing/dir/x.json"], ["--json", "/missing/dir", "does not exist"]),
    (["bench", "--quality", "--json", "x.txt"], ["--json", "x.txt", ".json"]),
    (["bench", "--data", "--json", "/missing/dir/x.json"], ["--json", "does not exist"]),
    (["bench", "--quality", "--width", "99999999"], ["--width", "99999999", "1024"]),
    (["bench", "--quality", "--cpu-seconds", "1e300"], ["--cpu-seconds", "1e+300"]),
    (["bench", "--quality", "--batch-size", "10000000"], ["--batch-size", "10000000"]),
    (["bench", "--width", "99999999"], ["--width", "99999999"]),
    (["bench", "--steps", "99999999999"], ["--steps", "99999999999"]),
])
def test_option_errors_name_the_option(capsys, monkeypatch, tmp_path, argv, words):
    monkeypatch.chdir(tmp_path)
    fails(capsys, argv, *words)


# ---------------------------------------------------------------- after loading data/models
def test_data_folder_errors_name_data_not_path(capsys, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images")
    line = fails(capsys, ["train", "--model", "dcgan", "--data", str(empty), *TINY, "--out", str(tmp_path / "o"),
                          "--quiet"], "--data", "empty", "no image files")
    assert "path" not in line


def test_cgan_data_without_class_folders_names_data(capsys, images, tmp_path):
    line = fails(capsys, ["train", "--model", "cgan", "--data", images, *TINY, "--out", str(tmp_path / "o"),
                          "--quiet"], "--data", "subfolder")
    assert "path" not in line


def test_unreadable_mask_names_mask(capsys, run, images, tmp_path):
    mask = tmp_path / "mask.png"
    mask.write_bytes(b"not a png")
    line = fails(capsys, ["inpaint", os.path.join(images, "00.png"), "--model", run, "--mask", str(mask),
                          "--out", str(tmp_path / "o.png"), "--quiet"], "--mask", "mask.png")
    assert "path" not in line


def test_sample_from_a_file_that_is_not_keras(capsys, images, tmp_path):
    # was Keras' own "File format not supported: filepath=..."
    fails(capsys, ["sample", os.path.join(images, "00.png"), "--out", str(tmp_path / "g.png")],
          "MODEL", "00.png", ".keras")


def test_resume_with_a_config_that_does_not_fit_the_checkpoint(capsys, run, tmp_path):
    # was "... saved from a different model. Use another out_dir, or resume=False to start
    # this one afresh." (fit_gan's advice to Python callers)
    copy = str(tmp_path / "run")
    shutil.copytree(run, copy)
    config_path = os.path.join(copy, "config.json")
    with open(config_path) as handle:
        config = json.load(handle)
    config.update(width=16, epochs=3)
    with open(config_path, "w") as handle:
        json.dump(config, handle)
    line = fails(capsys, ["train", "--out", copy, "--resume", "--quiet"], "config.json", "--overwrite", "--out")
    assert "out_dir" not in line and "resume=False" not in line


@pytest.mark.parametrize("layout", ["data is out/samples", "data is out"])
def test_data_folder_that_receives_the_grids(capsys, monkeypatch, images, tmp_path, layout):
    # --data ./samples --out . wrote samples/epoch_0001.png among the images, silently: a
    # resumed run then trained on 9 images, its own grid one of them (another data order)
    monkeypatch.chdir(tmp_path)
    shutil.copytree(images, "samples")
    data = "./samples" if layout == "data is out/samples" else "."
    capsys.readouterr()
    assert cli.main(["train", "--model", "dcgan", "--data", data, *TINY, "--epochs", "1", "--checkpoint-every", "1",
                     "--out", ".", "--quiet"]) == 0  # a new run may (tests/test_cli.py item 1), with a warning
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: ") and "--resume" in lines[0], lines
    fails(capsys, ["train", "--out", ".", "--resume", "--epochs", "2", "--quiet"], "--data", "--out", "samples")


def test_resume_without_any_checkpoint_names_overwrite(tmp_path, capsys):
    """Issue 25 item 16: a run whose checkpoints/ was removed: --resume said "start a new run
    without --resume", and without it "add --resume": neither named --overwrite."""
    from ganlib import cli

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text('{"model": "dcgan", "data": "faces", "image_size": 16}')
    (run / "history.json").write_text('{"status": "completed", "step": [1]}')
    assert cli.main(["train", "--out", str(run), "--resume"]) == 2
    err = capsys.readouterr().err
    assert "no checkpoint" in err and "--overwrite" in err and err.count("\n") == 1


def test_overwrite_never_replaces_files_that_only_share_ganlib_names(tmp_path, capsys, images):
    """Issue 25 item 1: a project folder with its own config.json, history.json,
    samples/epoch_0001.png and notes.txt: --overwrite replaced the first three, after a refusal
    that said it "deletes only the files ganlib wrote there"."""
    project = tmp_path / "proj"
    (project / "samples").mkdir(parents=True)
    mine = {"config.json": '{"lr": 0.1}', "history.json": '{"runs": 3}', "samples/epoch_0001.png": "my plot",
            "notes.txt": "notes"}
    for name, text in mine.items():
        (project / name).write_text(text)
    for extra in ([], ["--overwrite"]):
        fails(capsys, ["train", "--model", "dcgan", "--data", str(images), *TINY, "--epochs", "1",
                       "--out", str(project), "--quiet", *extra], "--out", "not written by ganlib", "config.json")
    for name, text in mine.items():
        assert (project / name).read_text() == text, name
    # the refusal named the files and left the folder as it was: no run was started
    assert sorted(p.name for p in project.iterdir()) == ["config.json", "history.json", "notes.txt", "samples"]


def test_outputs_never_replace_an_input_or_an_existing_file_silently(tmp_path, capsys):
    """Issue 25 item 2: inpaint --out photo.png overwrote the photo; --out p.png --panel p.png kept
    only the panel; sample --out imgs/img000.png replaced a training image."""
    from PIL import Image

    from ganlib import cli

    photo = tmp_path / "photo.png"
    Image.new("RGB", (16, 16), (10, 20, 30)).save(photo)
    before = photo.read_bytes()
    run = str(tmp_path / "no-run")  # never reached: the outputs are checked first
    cases = [
        (["inpaint", str(photo), "--model", run, "--out", str(photo)], ["--out", "the IMAGE it reads"]),
        (["inpaint", str(photo), "--model", run, "--out", str(photo), "--overwrite"], ["the IMAGE it reads"]),
        (["inpaint", str(photo), "--model", run, "--out", str(tmp_path / "p.png"), "--panel", str(tmp_path / "p.png")],
         ["--out and --panel are the same file"]),
        (["sample", run, "--out", str(photo)], ["--out", "exists", "--overwrite"]),
    ]
    for argv, words in cases:
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and all(word in err for word in words), (argv, err)
    assert photo.read_bytes() == before
    # with --overwrite an existing output may go (the run is then looked for, and is missing)
    assert cli.main(["sample", run, "--out", str(photo), "--overwrite"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_place_nobody_can_write_is_one_line_before_any_work(capsys, run, images, tmp_path):
    """Issue 25 item 17: a read-only --out gave "[Errno 30] ..." after TensorFlow and the data
    loaded; --resume named .ganlib.lock and sample a hidden .partial file. /sys is such a place
    for every user, root included (it takes no new files), as a read-only disk is."""
    if not os.path.isdir("/sys"):
        pytest.skip("no /sys on this system")
    fails(capsys, ["train", "--model", "dcgan", "--data", images, *TINY, "--epochs", "1", "--out", "/sys/run",
                   "--quiet"], "--out", "/sys/run", "cannot write", "read-only")
    fails(capsys, ["sample", run, "--out", "/sys/grid.png"], "--out", "/sys/grid.png", "cannot write")
    photo = os.path.join(images, sorted(os.listdir(images))[0])
    fails(capsys, ["inpaint", photo, "--model", run, "--out", str(tmp_path / "ok.png"), "--panel", "/sys/p.png"],
          "--panel", "cannot write")
    assert not (tmp_path / "ok.png").exists()
    # --tensorboard checked permission bits only, which say "writable" to root in /sys: a traceback
    # from TensorFlow's event writer followed
    fails(capsys, ["train", "--model", "dcgan", "--data", images, *TINY, "--epochs", "1", "--out",
                   str(tmp_path / "tb-run"), "--tensorboard", "/sys", "--quiet"], "--tensorboard", "cannot write")
