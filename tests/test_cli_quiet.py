"""``--quiet`` (issue 16, item 9): a quiet command prints nothing on success, in every
subcommand that prints while it works, also what TensorFlow's C++ side and ganlib's own
callbacks print; warnings and errors still reach stderr."""
import os
import subprocess
import sys

from cli_support import TINY, images, run, write_images  # noqa: F401 (fixtures)
from ganlib import cli

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def quiet(capsys, argv, code=0):
    capsys.readouterr()
    assert cli.main(argv) == code
    return capsys.readouterr()


def test_train_quiet_prints_nothing_in_a_real_process_even_with_mixed_precision(images, tmp_path):
    # On a CPU without AVX-512 TensorFlow's C++ side logged "E0000 ... oneDNN supports DT_HALF
    # only on platforms with AVX-512" while training, under --quiet too.
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as a user's shell: nothing set
    process = subprocess.run(
        [sys.executable, "-m", "ganlib", "train", "--model", "dcgan", "--data", images, *TINY, "--epochs", "1",
         "--out", str(tmp_path / "run"), "--mixed-precision", "--quiet"],
        capture_output=True, text=True, timeout=300, cwd=REPO, env=env)
    assert process.returncode == 0, process.stderr
    assert process.stdout == ""
    assert process.stderr == ""
    assert os.path.exists(tmp_path / "run" / "generator.keras")


def test_train_quiet_stopped_by_nan_prints_only_the_error_line(capsys, images, tmp_path):
    # NaNGuard printed "NaNGuard: training stopped ..." on stdout whatever --quiet said
    captured = quiet(capsys, ["train", "--model", "dcgan", "--data", images, *TINY, "--epochs", "3",
                              "--learning-rate", "1", "--r1", "1e30", "--r1-every", "1",
                              "--out", str(tmp_path / "run"), "--quiet"], code=1)
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: training stopped") and "NaN" in lines[0]


def test_train_without_quiet_still_reports(capsys, images, tmp_path):
    captured = quiet(capsys, ["train", "--model", "dcgan", "--data", images, *TINY, "--epochs", "1",
                              "--out", str(tmp_path / "run")])
    assert "Run completed" in captured.out


def test_sample_inpaint_and_toy_take_quiet(capsys, run, images, tmp_path):
    # sample, inpaint and toy had no --quiet: 'unrecognized arguments', and inpaint's progress
    # bar could not be switched off
    grid = tmp_path / "grid.png"
    captured = quiet(capsys, ["sample", run, "--out", str(grid), "--n", "4", "--quiet"])
    assert (captured.out, captured.err) == ("", "") and grid.exists()
    done = tmp_path / "done.png"
    captured = quiet(capsys, ["inpaint", os.path.join(images, "01.png"), "--model", run, "--out", str(done),
                              "--steps", "2", "--candidates", "1", "--no-blend", "--quiet"])
    assert (captured.out, captured.err) == ("", "") and done.exists()
    captured = quiet(capsys, ["toy", "--steps", "4", "--d-steps", "1", "--quiet"])
    assert (captured.out, captured.err) == ("", "")


def test_quiet_keeps_errors_and_warnings(capsys, images, tmp_path):
    folder = tmp_path / "mixed"
    write_images(folder)
    (folder / "broken.png").write_bytes(b"not a png")
    captured = quiet(capsys, ["train", "--model", "dcgan", "--data", str(folder), *TINY, "--epochs", "1",
                              "--out", str(tmp_path / "run"), "--quiet"])
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: ") and "broken.png" in lines[0]
    captured = quiet(capsys, ["sample", str(tmp_path / "nowhere"), "--out", str(tmp_path / "g.png"), "--quiet"],
                     code=2)
    assert captured.out == "" and captured.err.startswith("error: ") and "nowhere" in captured.err
