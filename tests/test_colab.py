"""Tests of ganlib.colab and of the archives it keeps on Google Drive, with Colab stubbed:
``google.colab`` and ``google.colab.drive`` put in sys.modules, ``drive.mount`` making a
``MyDrive`` folder under a temporary mount point (or refusing, as a declined prompt does).
Each "session" below is what a new Colab runtime sees: the same Drive, a wiped local disk.
"""
import dataclasses
import hashlib
import http.server
import io
import os
import sys
import threading
import types
import zipfile
from pathlib import Path

import pytest

import ganlib
import ganlib.data as gd
from ganlib import colab
from ganlib.data import faces as faces_module
import test_celeba_sources
from test_celeba_sources import COUNT, _jpeg_bytes, fake_kagglehub

#: test_celeba_sources' fixture: an empty data folder, 6 images as CelebA's count, every
#: network source a stand-in (the publisher a dead port, kagglehub and huggingface_hub missing).
sources = test_celeba_sources.sources


def _no_archives_folder(monkeypatch):
    """GANLIB_ARCHIVES unset now and restored after the test (colab_storage sets it: set first,
    so that monkeypatch records the value to put back, unset included)."""
    monkeypatch.setenv("GANLIB_ARCHIVES", "")
    monkeypatch.delenv("GANLIB_ARCHIVES")
    monkeypatch.setattr(colab, "_set_here", None)


@pytest.fixture
def outside(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    _no_archives_folder(monkeypatch)


@pytest.fixture
def in_colab(monkeypatch, tmp_path):
    """A stubbed Colab whose Drive mounts at tmp_path/drive; ``.refuse`` makes mount raise."""
    state = types.SimpleNamespace(mounts=[], refuse=None, mount_point=str(tmp_path / "drive"))

    def mount(mount_point, **options):
        state.mounts.append(mount_point)
        if state.refuse is not None:
            raise state.refuse
        (Path(mount_point) / "MyDrive").mkdir(parents=True, exist_ok=True)
        print(f"Mounted at {mount_point}")  # as Colab does

    drive = types.ModuleType("google.colab.drive")
    drive.mount = mount
    package = types.ModuleType("google.colab")
    package.drive = drive
    monkeypatch.setitem(sys.modules, "google.colab", package)
    monkeypatch.setitem(sys.modules, "google.colab.drive", drive)
    _no_archives_folder(monkeypatch)
    monkeypatch.setattr(colab, "MOUNT_POINT", state.mount_point)
    state.base = Path(state.mount_point, "MyDrive", "ganlib")
    return state


def test_outside_colab_runs_stay_in_runs_and_no_drive_code_runs(outside, capsys):
    assert ganlib.colab_storage() == Path("runs") == colab.colab_storage(drive=False)
    assert capsys.readouterr().out == ""
    assert "GANLIB_ARCHIVES" not in os.environ and "google.colab" not in sys.modules
    assert gd.archive_dir() == gd.data_dir()  # archives beside the data, as before


def test_in_colab_drive_is_mounted_once_and_runs_and_archives_go_there(in_colab, capsys):
    runs = ganlib.colab_storage()
    assert runs == in_colab.base / "runs" and runs.is_dir()
    assert os.environ["GANLIB_ARCHIVES"] == str(in_colab.base / "data") == str(gd.archive_dir())
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Mounted at") and len(lines) == 2
    assert all(words in lines[1] for words in (f"runs in {runs}/", "checkpoint", "CelebA", f"{in_colab.base}/data/"))
    assert ganlib.colab_storage() == runs and in_colab.mounts == [in_colab.mount_point]  # mounted: not again


def test_a_declined_mount_keeps_everything_on_this_machine_in_one_line(in_colab, capsys):
    in_colab.refuse = ValueError("mount failed\nmore detail")
    assert ganlib.colab_storage() == Path("runs")
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and "not mounted (ValueError: mount failed)" in out[0] and "runs/" in out[0]
    assert "GANLIB_ARCHIVES" not in os.environ


def test_drive_false_mounts_nothing_and_takes_back_only_its_own_archive_folder(in_colab, capsys, monkeypatch):
    ganlib.colab_storage(drive=True)
    assert ganlib.colab_storage(drive=False) == Path("runs")
    assert in_colab.mounts == [in_colab.mount_point] and "GANLIB_ARCHIVES" not in os.environ
    assert "Google Drive not used (drive=False)" in capsys.readouterr().out.splitlines()[-1]
    monkeypatch.setenv("GANLIB_ARCHIVES", "/somewhere/mine")  # the user's own choice stays
    ganlib.colab_storage(drive=False)
    assert os.environ["GANLIB_ARCHIVES"] == "/somewhere/mine"


def _serve(payload):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/img_align_celeba.zip"


def _new_session(env, name):
    """A new Colab runtime: an empty local data folder, the same Drive."""
    env.monkeypatch.setenv("GANLIB_DATA", str(env.tmp / name))


def test_the_publishers_archive_is_downloaded_to_drive_once_and_unpacked_locally_each_session(
        in_colab, sources, capsys):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for index in range(COUNT):
            bundle.writestr(f"img_align_celeba/{index + 1:06d}.jpg", _jpeg_bytes(index))
    payload = buffer.getvalue()
    server, url = _serve(payload)
    try:
        sources.monkeypatch.setitem(gd.REGISTRY, "celeba", dataclasses.replace(
            gd.REGISTRY["celeba"], mirrors=(url,), checksum="md5:" + hashlib.md5(payload).hexdigest()))
        ganlib.colab_storage()
        folder, used = faces_module.fetch_celeba(progress=False)
    finally:
        server.shutdown()
    drive_data = in_colab.base / "data"
    assert used == "publisher" and sorted(p.name for p in drive_data.iterdir()) == ["img_align_celeba.zip"]
    assert folder == sources.data / "celeba" and len(list(folder.glob("**/*.jpg"))) == COUNT

    _new_session(sources, "session2")
    sources.monkeypatch.setenv("GANLIB_OFFLINE", "1")  # no network: only Drive can give it
    faces = gd.load_faces(image_size=16, source="celeba")
    assert faces.source == "celeba" and len(faces) == COUNT
    assert f"from: the archive kept in {drive_data}" in capsys.readouterr().out
    assert len(list((sources.tmp / "session2" / "celeba").glob("**/*.jpg"))) == COUNT
    assert sorted(p.name for p in drive_data.iterdir()) == ["img_align_celeba.zip"]  # no images on Drive


def test_a_kaggle_copy_is_kept_on_drive_as_one_archive_the_next_session_unpacks(in_colab, sources, capsys):
    ganlib.colab_storage()
    fake_kagglehub(sources)
    folder, used = faces_module.fetch_celeba(progress=True)
    packed = in_colab.base / "data" / "img_align_celeba.kaggle.zip"
    assert used == "kaggle" and "keeping the kaggle copy as one archive" in capsys.readouterr().out
    with zipfile.ZipFile(packed) as bundle:
        names = sorted(bundle.namelist())
        assert names == [f"img_align_celeba/{index + 1:06d}.jpg" for index in range(COUNT)]
        assert all(info.compress_type == zipfile.ZIP_STORED for info in bundle.infolist())
        assert bundle.read(names[2]) == (folder / "000003.jpg").read_bytes()
    assert [p.name for p in packed.parent.iterdir()] == [packed.name]  # no .partial left

    _new_session(sources, "session2")  # the kaggle cache and the link to it are gone
    sources.monkeypatch.setitem(sys.modules, "kagglehub", None)
    again, used = faces_module.fetch_celeba(progress=False)
    assert used == f"the archive kept in {packed.parent}" and len(sources.calls) == 1  # Kaggle not asked
    assert again == sources.tmp / "session2" / "celeba" and len(list(again.glob("img_align_celeba/*.jpg"))) == COUNT


def test_lesson_05s_check_never_downloads_and_fails_in_one_line(in_colab, sources):
    ganlib.colab_storage()
    fake_kagglehub(sources)
    with pytest.raises(faces_module.CelebAUnavailable) as caught:
        faces_module.fetch_celeba(sources=(), progress=True)
    assert sources.calls == [] and caught.value.attempts == []
    summary = caught.value.summary
    assert "\n" not in summary and "no archive of it in" in summary and "no download tried" in summary
    with pytest.raises(faces_module.CelebAUnavailable) as caught:  # every source failing: one line too
        faces_module.fetch_celeba(sources=("publisher",), progress=False)
    assert "\n" not in caught.value.summary and caught.value.summary.startswith("publisher: download failed")


def test_a_damaged_kept_archive_is_reported_and_the_sources_are_tried_next(in_colab, sources):
    ganlib.colab_storage()
    packed = in_colab.base / "data" / "img_align_celeba.kaggle.zip"
    with zipfile.ZipFile(packed, "w") as bundle:  # one image short of "CelebA"
        for index in range(COUNT - 1):
            bundle.writestr(f"img_align_celeba/{index + 1:06d}.jpg", _jpeg_bytes(index))
    with pytest.raises(faces_module.CelebAUnavailable) as caught:
        faces_module.fetch_celeba(progress=False)
    name, reason = caught.value.attempts[0]
    assert name == "kept archive" and "5 images" in reason and f"delete {packed}" in reason
    assert [name for name, _ in caught.value.attempts[1:]] == ["publisher", "kaggle", "huggingface"]
    assert not (sources.data / "celeba").exists()


def test_a_run_on_drive_resumes_after_a_disconnect_and_lesson_05_finds_it_there(in_colab, tmp_path,
                                                                                 monkeypatch):
    import keras
    import numpy as np
    import tensorflow as tf

    from ganlib import models
    from ganlib.train import GAN, fit_gan
    from train_support import KillAt

    def tiny_gan():
        keras.utils.set_random_seed(0)
        gan = GAN(models.dcgan_generator(8, 16, 1, width=4), models.dcgan_discriminator(16, 1, width=4), 8)
        gan.compile()
        return gan

    images = np.random.default_rng(0).uniform(-1, 1, (24, 16, 16, 1)).astype(np.float32)
    batches = tf.data.Dataset.from_tensor_slices(images).batch(8)  # 3 steps per epoch
    monkeypatch.chdir(tmp_path)  # the notebook's folder: nothing may land in its runs/
    run_dir = f"{ganlib.colab_storage(verbose=False)}/02_dcgan_faces"  # lesson 02's RUN_DIR
    with pytest.raises(KeyboardInterrupt):  # Colab disconnects at step 5 of 9
        fit_gan(tiny_gan(), batches, 3, run_dir, resume=False, checkpoint_every=2, callbacks=[KillAt(5)], verbose=0)
    # a new runtime: lesson 02 again with RESUME = True
    resumed = fit_gan(tiny_gan(), batches, 3, f"{ganlib.colab_storage(verbose=False)}/02_dcgan_faces",
                      resume=True, checkpoint_every=2, verbose=0)
    assert resumed.resumed_from_step == 4 and resumed["step"][-1] == 9  # lost: the step after the checkpoint
    # another runtime: lesson 05's RUN_02 is the same folder on Drive
    run_02 = Path(f"{ganlib.colab_storage(verbose=False)}/02_dcgan_faces")
    assert (run_02 / "generator.keras").exists() and (run_02 / "discriminator.keras").exists()
    assert run_02.parent == in_colab.base / "runs" and not (tmp_path / "runs").exists()
