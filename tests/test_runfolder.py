"""Tests of ganlib.runfolder: layout, checkpoint names, damaged checkpoints, JSON files.

Everything here runs without TensorFlow: the checkpoints are fake ones written with NumPy in
the same format (a .npz holding a JSON 'meta' array); test_callbacks.py and test_cli.py damage
real ones.
"""
import errno
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from ganlib import runfolder
from ganlib.runfolder import DamagedCheckpointError, RunFolder


def fake_checkpoint(path, step, meta_changes=None):
    """A small checkpoint in ganlib's format: two arrays and the metadata."""
    meta = {"format": runfolder.CHECKPOINT_FORMAT, "step": step, "epoch": 1,
            "history": {"step": list(range(1, step + 1)), "d_loss": [0.5] * step}}
    meta.update(meta_changes or {})
    arrays = {"generator/0000": np.arange(64, dtype=np.float32).reshape(8, 8),
              "fixed_noise": np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4),
              "meta": np.array(json.dumps(meta))}
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
    return str(path)


def arrays_of(path):
    with np.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def test_imports_without_tensorflow():
    code = ("import sys; sys.modules['tensorflow'] = None; sys.modules['keras'] = None\n"
            "import ganlib.runfolder as r\n"
            "print(r.checkpoint_name(7), 'tensorflow' in sys.modules and sys.modules['tensorflow'] is not None)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["ckpt-00000007.npz", "False"]


def test_layout_of_a_run_folder(tmp_path):
    run = RunFolder(tmp_path / "run")
    base = str(tmp_path / "run")
    assert run.path == base
    assert run.checkpoints == os.path.join(base, "checkpoints")
    assert run.samples == os.path.join(base, "samples")
    assert run.samples_gif == os.path.join(base, "samples.gif")
    assert run.generator == os.path.join(base, "generator.keras")
    assert run.discriminator == os.path.join(base, "discriminator.keras")
    assert run.history == os.path.join(base, "history.json")
    assert run.config == os.path.join(base, "config.json")
    assert run.checkpoint_path(12) == os.path.join(base, "checkpoints", "ckpt-00000012.npz")
    assert not os.path.exists(base)  # paths only: nothing created
    assert not run.has_checkpoint()


@pytest.mark.parametrize("name, step", [
    ("ckpt-00000012.npz", 12), ("ckpt-00000000.npz", 0), ("ckpt-123456789.npz", 123456789),
    ("ckpt-12.npz", None), ("ckpt-0000001a.npz", None), ("ckpt-00000012.npz.damaged", None),
    (".ckpt-00000012.npz.4242.partial", None), ("xckpt-00000012.npz", None), ("ckpt-00000012.npy", None),
])
def test_checkpoint_step_is_read_from_the_name(name, step):
    assert runfolder.checkpoint_step(name) == step
    assert runfolder.checkpoint_step(os.path.join("some", "dir", name)) == step


def test_checkpoint_names_round_trip_and_bad_steps():
    for step in (0, 7, 99_999_999, 100_000_000, np.int64(5)):
        assert runfolder.checkpoint_step(runfolder.checkpoint_name(step)) == step
    for bad in (-1, 1.5, True, "3"):
        with pytest.raises(ValueError) as info:
            runfolder.checkpoint_name(bad)
        assert "step=" in str(info.value) and ">= 0" in str(info.value)


def test_checkpoint_files_are_sorted_by_step_and_ignore_other_files(tmp_path):
    for name in ("ckpt-100000000.npz", "ckpt-99999999.npz", "ckpt-00000002.npz", "ckpt-00000003.npz.damaged",
                 ".ckpt-00000004.npz.1.partial", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "ckpt-00000005.npz").mkdir()  # a folder with a checkpoint's name is not one
    assert [step for step, _ in runfolder.checkpoint_files(tmp_path)] == [2, 99_999_999, 100_000_000]
    assert runfolder.latest_checkpoint(tmp_path) == str(tmp_path / "ckpt-100000000.npz")
    assert runfolder.checkpoint_files(tmp_path / "missing") == []
    assert runfolder.latest_checkpoint(tmp_path / "missing") is None
    assert RunFolder(tmp_path.parent).has_checkpoint() is False  # looks in <run>/checkpoints only


# ------------------------------------------------------------------------- damaged checkpoints
def test_an_intact_checkpoint_gives_its_metadata(tmp_path):
    path = fake_checkpoint(tmp_path / "ckpt-00000004.npz", 4)
    meta = runfolder.check_checkpoint(path)
    assert meta["step"] == 4 and meta["format"] == 1 and meta["history"]["d_loss"] == [0.5] * 4


def reason_of(path):
    with pytest.raises(DamagedCheckpointError) as info:
        runfolder.check_checkpoint(path)
    error = info.value
    assert isinstance(error, ValueError)
    assert error.path == str(path) and str(path) in str(error) and error.reason in str(error)
    assert "\n" not in str(error)
    return error.reason


@pytest.mark.parametrize("keep", [0, 1, 22, 0.5, -1])
def test_a_truncated_checkpoint_is_damaged(tmp_path, keep):
    path = fake_checkpoint(tmp_path / "ckpt-00000004.npz", 4)
    data = open(path, "rb").read()
    cut = int(len(data) * keep) if isinstance(keep, float) else (len(data) + keep if keep < 0 else keep)
    with open(path, "wb") as handle:
        handle.write(data[:cut])
    reason = reason_of(path)
    assert ("empty file" in reason) if cut == 0 else ("truncated" in reason or "CRC" in reason), reason


def member_data_ranges(path):
    """The byte ranges of each member's content (.npy header and values) in a .npz file."""
    import struct
    import zipfile

    data = open(path, "rb").read()
    ranges = []
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
            start = info.header_offset + 30 + name_length + extra_length
            ranges.append(range(start, start + info.compress_size))
    return ranges


def test_every_single_flipped_byte_is_detected_or_harmless(tmp_path):
    """Flip each byte of a checkpoint in turn: either the check reports it, or every array
    reads back exactly as written (a flip in a field nobody reads, such as a file time)."""
    path = fake_checkpoint(tmp_path / "ckpt-00000004.npz", 4)
    original = open(path, "rb").read()
    wanted = arrays_of(path)
    contents = member_data_ranges(path)
    assert sum(map(len, contents)) > 0.5 * len(original)
    undetected = []
    flipped = tmp_path / "flipped" / "ckpt-00000004.npz"
    flipped.parent.mkdir()
    for offset in range(len(original)):
        data = bytearray(original)
        data[offset] ^= 0xFF
        flipped.write_bytes(bytes(data))
        try:
            runfolder.check_checkpoint(flipped)
        except DamagedCheckpointError:
            continue
        undetected.append(offset)
        arrays = arrays_of(flipped)
        assert arrays.keys() == wanted.keys(), offset
        for key, value in wanted.items():
            np.testing.assert_array_equal(arrays[key], value, err_msg=f"offset {offset}")
    # every byte of every array (.npy header and values) is covered by its CRC-32
    assert not [offset for offset in undetected if any(offset in content for content in contents)]
    assert len(undetected) < 0.2 * len(original), (len(undetected), len(original))


def test_flipped_bytes_in_the_values_name_the_member(tmp_path):
    path = fake_checkpoint(tmp_path / "ckpt-00000004.npz", 4)
    data = bytearray(open(path, "rb").read())
    offset = bytes(data).index(np.arange(64, dtype=np.float32).tobytes()[40:48])  # inside generator/0000
    data[offset] ^= 0x01
    open(path, "wb").write(bytes(data))
    reason = reason_of(path)
    assert "generator/0000.npy" in reason and "CRC" in reason


def test_a_stray_npz_without_metadata_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "ckpt-00000009.npz"
    np.savez(path, weights=np.zeros(3))
    assert "no 'meta' array" in reason_of(path) and "not a checkpoint written by ganlib" in reason_of(path)


@pytest.mark.parametrize("changes, words", [
    ({"format": 2}, ["format 2", "format 1"]),
    ({"step": 5}, ["step 5", "step 4"]),
    ({"history": [1, 2]}, ["history"]),
])
def test_metadata_that_does_not_fit(tmp_path, changes, words):
    path = fake_checkpoint(tmp_path / "ckpt-00000004.npz", 4, changes)
    reason = reason_of(path)
    assert all(word in reason for word in words), reason


def test_metadata_that_is_not_json(tmp_path):
    path = tmp_path / "ckpt-00000004.npz"
    np.savez(path, meta=np.array("{not json"))
    assert "JSONDecodeError" in reason_of(path)


def test_newest_intact_checkpoint_skips_damaged_ones_and_touches_nothing(tmp_path):
    for step in (2, 4, 6):
        fake_checkpoint(tmp_path / runfolder.checkpoint_name(step), step)
    (tmp_path / "ckpt-00000006.npz").write_bytes(open(tmp_path / "ckpt-00000006.npz", "rb").read()[:100])
    np.savez(tmp_path / "ckpt-00000008.npz", stray=np.ones(2))
    before = {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)}
    path, meta, damaged = runfolder.newest_intact_checkpoint(tmp_path)
    assert path == str(tmp_path / "ckpt-00000004.npz") and meta["step"] == 4
    assert [os.path.basename(error.path) for error in damaged] == ["ckpt-00000008.npz", "ckpt-00000006.npz"]
    line = runfolder.describe_damaged(damaged)
    assert line.startswith("ckpt-00000008.npz (no 'meta' array") and "; ckpt-00000006.npz (" in line
    assert {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)} == before


def test_no_intact_checkpoint(tmp_path):
    (tmp_path / "ckpt-00000002.npz").write_bytes(b"")
    path, meta, damaged = runfolder.newest_intact_checkpoint(tmp_path)
    assert path is None and meta is None and len(damaged) == 1
    assert runfolder.newest_intact_checkpoint(tmp_path / "missing") == (None, None, [])


def test_set_aside_keeps_the_bytes_and_never_overwrites(tmp_path):
    first = tmp_path / "ckpt-00000006.npz"
    first.write_bytes(b"first damaged")
    assert runfolder.set_aside(first) == str(first) + ".damaged"
    first.write_bytes(b"second damaged")
    assert runfolder.set_aside(first) == str(first) + ".damaged-2"
    assert (tmp_path / "ckpt-00000006.npz.damaged").read_bytes() == b"first damaged"
    assert (tmp_path / "ckpt-00000006.npz.damaged-2").read_bytes() == b"second damaged"
    assert not first.exists() and runfolder.checkpoint_files(tmp_path) == []


def test_report_damaged_is_one_warning_line(tmp_path):
    bad = tmp_path / "ckpt-00000006.npz"
    bad.write_bytes(b"")
    error = DamagedCheckpointError("checkpoint X is damaged (empty file)", path=str(bad), reason="empty file")
    with pytest.warns(runfolder.DamagedCheckpointWarning) as caught:
        where = runfolder.report_damaged(error, used=str(tmp_path / "ckpt-00000004.npz"), set_aside_file=True)
    message = str(caught[0].message)
    assert "\n" not in message and "empty file" in message
    assert "kept as ckpt-00000006.npz.damaged" in message and "using ckpt-00000004.npz" in message
    assert where == str(bad) + ".damaged" and os.path.exists(where)


# ------------------------------------------------------------------------------- JSON files
def test_json_is_written_atomically_as_strict_json_with_null_for_nan(tmp_path):
    path = tmp_path / "sub" / "history.json"
    content = {"status": "completed", "d_loss": [0.5, float("nan"), float("inf"), np.float32(0.25)],
               "nested": {"x": -math.inf, "n": np.int64(3)}}
    runfolder.write_json(path, content)
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"status": "completed", "d_loss": [0.5, None, None, 0.25],
                                "nested": {"x": None, "n": 3}}
    assert os.listdir(tmp_path / "sub") == ["history.json"]  # no temporary file left


def test_a_crash_while_writing_json_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "config.json"
    runfolder.write_json(path, {"model": "dcgan"})

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runfolder.json, "dump", crash)
    with pytest.raises(KeyboardInterrupt):
        runfolder.write_json(path, {"model": "wgan-gp"})
    monkeypatch.undo()
    assert json.loads(path.read_text()) == {"model": "dcgan"}
    assert os.listdir(tmp_path) == ["config.json"]


@pytest.mark.parametrize("content, words", [
    (None, ["does not exist"]),
    ("{broken", ["could not be read"]),
    ("[1, 2]", ["list", "not an object"]),
    (b"\xff\xfe\x00", ["could not be read"]),
])
def test_read_json_errors_name_the_file(tmp_path, content, words):
    path = tmp_path / "config.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(ValueError) as info:
        runfolder.read_json(path)
    message = str(info.value)
    assert str(path) in message and all(word in message for word in words) and "\n" not in message


def test_config_and_history_round_trip(tmp_path):
    run = RunFolder(tmp_path)
    run.write_config({"model": "dcgan", "learning_rate": 2e-4, "n_critic": None})
    assert run.read_config() == {"model": "dcgan", "learning_rate": 2e-4, "n_critic": None}
    run.write_history({"step": [1, 2], "d_loss": [0.7, float("nan")]}, "stopped at step 2")
    history = run.read_history()
    assert history["status"] == "stopped at step 2" and history["step"] == [1, 2]
    assert history["d_loss"][0] == 0.7 and math.isnan(history["d_loss"][1])
    assert json.loads(open(run.history).read())["d_loss"] == [0.7, None]


# ------------------------------------------------------- ganlib's own files (issue 16, item 1)
def test_ganlib_files_lists_only_what_ganlib_writes_and_removal_keeps_the_rest(tmp_path):
    run = RunFolder(tmp_path)
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "samples").mkdir()
    ours = [fake_checkpoint(tmp_path / "checkpoints" / "ckpt-00000004.npz", 4)]
    for name in ("samples/epoch_0001.png", "samples.gif", "generator.keras", "discriminator.keras",
                 "checkpoints/.ckpt-00000006.npz.123.partial",
                 ".history.json.77.partial", ".77-partial-generator.keras", "samples/.epoch_0002.png.9.partial"):
        (tmp_path / name).write_bytes(b"x")
        ours.append(str(tmp_path / name))
    run.write_history({"step": [1]}, "completed")
    run.write_config({"model": "dcgan", "data": "faces", "image_size": 16})
    ours += [run.history, run.config]
    theirs = ["samples/a.txt", "samples/photo.png", "samples/epoch_1.png", "checkpoints/notes.txt",
              "checkpoints/ckpt-00000002.npz.damaged", "train.png", "model.keras", "history.json.bak"]
    for name in theirs:
        (tmp_path / name).write_bytes(b"mine")
    assert sorted(run.ganlib_files()) == sorted(ours)
    assert str(tmp_path / "config.json") not in run.ganlib_files(include_config=False)
    assert sorted(run.remove_ganlib_files()) == sorted(ours)
    for name in theirs:  # untouched, and so are their folders
        assert (tmp_path / name).read_bytes() == b"mine", name
    assert run.ganlib_files() == []


def test_files_that_only_share_ganlib_names_are_foreign(tmp_path):
    """Issue 25 item 1: recognised by content: a folder without a checkpoint, a ganlib
    config.json or history.json holds no ganlib run, so its files named like ganlib's are not
    ganlib's."""
    run = RunFolder(tmp_path)
    (tmp_path / "samples").mkdir()
    for name, text in (("config.json", '{"lr": 1}'), ("history.json", "[1, 2]"), ("samples/epoch_0001.png", "x"),
                       ("generator.keras", "x"), (".history.json.77.partial", "x")):
        (tmp_path / name).write_text(text)
    assert not run.is_ganlib_run()
    assert run.ganlib_files() == [str(tmp_path / ".history.json.77.partial")]  # a killed write's leftover
    assert sorted(run.foreign_files()) == sorted(str(tmp_path / name) for name in (
        "config.json", "history.json", "samples/epoch_0001.png", "generator.keras"))
    run.remove_ganlib_files()
    assert sorted(os.listdir(tmp_path)) == ["config.json", "generator.keras", "history.json", "samples"]
    run.write_history({"step": [1]}, "completed")  # now a run: its files are ganlib's
    assert run.is_ganlib_run() and run.foreign_files() == []
    assert run.config in run.ganlib_files() and run.history in run.ganlib_files()


def test_remove_ganlib_files_removes_folders_left_empty_only(tmp_path):
    run = RunFolder(tmp_path)
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "samples").mkdir()
    fake_checkpoint(tmp_path / "checkpoints" / "ckpt-00000004.npz", 4)
    (tmp_path / "samples" / "epoch_0001.png").write_bytes(b"x")
    (tmp_path / "samples" / "a.txt").write_bytes(b"x")
    run.remove_ganlib_files()
    assert not (tmp_path / "checkpoints").exists()
    assert os.listdir(tmp_path / "samples") == ["a.txt"]


def test_a_checkpoint_holding_nan_weights_is_damaged(tmp_path):
    # issue 16, item 9: it was "restored" as good
    path = fake_checkpoint(tmp_path / "ckpt-00000004.npz", 4)
    with np.load(path) as stored:
        arrays = dict(stored)
    arrays["generator/0000"][2, 3] = np.nan
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
    with pytest.raises(DamagedCheckpointError, match="NaN or inf") as caught:
        runfolder.check_checkpoint(path)
    assert "generator/0000" in caught.value.reason
    good = fake_checkpoint(tmp_path / "ckpt-00000002.npz", 2)
    used, meta, damaged = runfolder.newest_intact_checkpoint(tmp_path)
    assert used == good and [error.path for error in damaged] == [path]


def test_the_lock_never_writes_through_a_link_or_into_a_folder(tmp_path):
    """Issue 25 item 3: a symlinked .ganlib.lock made train write its PID into the link's target;
    item 17: a lock that is a directory gave "[Errno 21]"."""
    from ganlib.runfolder import RunFolder, RunFolderInUseError

    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    run = tmp_path / "run"
    run.mkdir()
    (run / ".ganlib.lock").symlink_to(precious)
    with pytest.raises(RunFolderInUseError, match="symbolic link"):
        RunFolder(str(run)).lock()
    assert precious.read_text() == "keep me"
    other = tmp_path / "other"
    (other / ".ganlib.lock").mkdir(parents=True)
    with pytest.raises(RunFolderInUseError, match="not a file"):
        RunFolder(str(other)).lock()
    fine = RunFolder(str(tmp_path / "fine")).lock()
    assert (tmp_path / "fine" / ".ganlib.lock").read_text() == str(os.getpid())
    fine.close()


@pytest.mark.parametrize("text, kind", [("null", "null"), ("[1, 2]", "list"), ('"x"', "string"), ("3", "number")])
def test_a_json_file_that_is_not_an_object_is_named_in_json_words(text, kind, tmp_path):
    """Issue 25 item 31: "holds a JSON NoneType" (a Python type name)."""
    from ganlib.runfolder import read_json

    path = tmp_path / "config.json"
    path.write_text(text)
    with pytest.raises(ValueError) as caught:
        read_json(path)
    message = str(caught.value)
    assert f"holds a JSON {kind}, not an object" in message and "NoneType" not in message and "--overwrite" in message


@pytest.mark.parametrize("code, locked", [(errno.ENOLCK, False), (errno.EOPNOTSUPP, False), (errno.EWOULDBLOCK, True)])
def test_a_file_system_without_locks_is_not_a_run_in_use(code, locked, tmp_path, monkeypatch):
    """Some FUSE and network mounts (Google Drive's in Colab among the candidates) cannot
    flock: training there goes on unlocked; only "held by another process" is in use."""
    import fcntl

    from ganlib.runfolder import RunFolder, RunFolderInUseError

    def flock(fd, operation):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(fcntl, "flock", flock)
    if locked:
        with pytest.raises(RunFolderInUseError, match="in use by another training"):
            RunFolder(str(tmp_path)).lock()
    else:
        RunFolder(str(tmp_path)).lock().close()
