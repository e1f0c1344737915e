"""Tests for ganlib.data: folders, the training pipeline, downloads, faces and sprites.

Everything runs on small files written to a temporary folder; downloads go to an HTTP
server started on 127.0.0.1 by the tests (no internet needed or used).
"""
import contextlib
import dataclasses
import hashlib
import http.server
import io
import os
import socket
import threading
import time
import zipfile

import numpy as np
import pytest
from PIL import Image

import ganlib.data as gd

RED = (255, 0, 0, 255)
CLEAR = (0, 0, 0, 0)


@contextlib.contextmanager
def raises_naming(*words, error=ValueError):
    """Like pytest.raises, and the message must contain every word: the argument's name, the
    value given, the allowed values. Their order and the sentence around them are free."""
    with pytest.raises(error) as caught:
        yield caught
    message = str(caught.value)
    missing = [word for word in words if word not in message]
    assert not missing, f"the message {message!r} does not name {missing}"


# ----------------------------------------------------------------------------------------
# Fixtures: image folders
# ----------------------------------------------------------------------------------------
def _sprite_rgba(height, width):
    """Transparent canvas (black under it) with an opaque red square in the middle."""
    pixels = np.zeros((height, width, 4), np.uint8)
    pixels[height // 4: 3 * height // 4, width // 4: 3 * width // 4] = RED
    return pixels


@pytest.fixture
def messy_folder(tmp_path):
    """A sprite folder as scraped: mixed modes (P, LA, L, RGB, RGBA), odd sizes, 4 formats,
    a subfolder, and broken files (truncated, not an image, empty, wrong extension)."""
    folder = tmp_path / "sprites"
    (folder / "more").mkdir(parents=True)
    rgba = Image.fromarray(_sprite_rgba(40, 30), "RGBA")
    rgba.save(folder / "a_rgba.png")
    # palette image: index 0 (white) is transparent, index 1 is red
    p_image = Image.new("P", (33, 17))
    p_image.putpalette([255, 255, 255, 255, 0, 0] + [0] * 762)
    p_pixels = np.zeros((17, 33), np.uint8)
    p_pixels[4:13, 8:25] = 1
    p_image.putdata(p_pixels.reshape(-1).tolist())
    p_image.save(folder / "b_palette.png", transparency=0)
    rgba.convert("LA").save(folder / "c_grey_alpha.png")
    Image.fromarray(np.full((21, 50), 128, np.uint8), "L").save(folder / "d_grey.bmp")
    Image.fromarray(np.full((64, 48, 3), (0, 0, 255), np.uint8), "RGB").save(folder / "more" / "e_blue.jpg", quality=95)
    rgba.save(folder / "f_anim.gif")
    # broken ones
    good_bytes = (folder / "a_rgba.png").read_bytes()
    (folder / "g_truncated.png").write_bytes(good_bytes[: len(good_bytes) // 2])
    (folder / "h_text.png").write_text("this is not a picture")
    (folder / "i_empty.jpg").write_bytes(b"")
    (folder / "notes.txt").write_text("a note")
    (folder / ".hidden.png").write_text("ignored: hidden files are not data")
    return folder


GOOD = {"a_rgba.png", "b_palette.png", "c_grey_alpha.png", "d_grey.bmp", "e_blue.jpg", "f_anim.gif"}
BROKEN = {"g_truncated.png", "h_text.png", "i_empty.jpg", "notes.txt"}


def _as_array(dataset):
    return np.stack(list(dataset.as_numpy_iterator()))


# ----------------------------------------------------------------------------------------
# image_folder
# ----------------------------------------------------------------------------------------
def test_mixed_sprite_folder_loads_and_reports_broken_files(messy_folder):
    with pytest.warns(gd.SkippedImageWarning, match=r"skipped 4 of 10 files"):
        dataset = gd.image_folder(messy_folder, 16)
    images = _as_array(dataset)
    assert images.shape == (6, 16, 16, 3) and images.dtype == np.float32
    assert images.min() >= -1.0 and images.max() <= 1.0
    report = dataset.report
    assert len(report) == 6
    assert {item.name for item in report.skipped} == BROKEN
    reasons = {item.name: item.reason for item in report.skipped}
    assert "empty" in reasons["i_empty.jpg"]
    assert "not an image file" in reasons["notes.txt"]
    assert "truncated" in reasons["g_truncated.png"] or "corrupt" in reasons["g_truncated.png"]
    assert {os.path.basename(p) for p in report.files} == GOOD


def test_transparent_pixels_become_white_in_every_channel_mode(messy_folder):
    with pytest.warns(gd.SkippedImageWarning):
        rgb = _as_array(gd.image_folder(messy_folder, 16, channels=3, crop=None))
        grey = _as_array(gd.image_folder(messy_folder, 16, channels=1, crop=None))
        rgba = _as_array(gd.image_folder(messy_folder, 16, channels=4, crop=None))
    first = 0  # a_rgba.png (sorted order)
    np.testing.assert_allclose(rgb[first, 0, 0], [1, 1, 1])       # corner: transparent -> white
    np.testing.assert_allclose(rgb[first, 8, 8], [1, -1, -1])      # centre: opaque red
    np.testing.assert_allclose(rgba[first, 0, 0], [1, 1, 1, -1])   # white, alpha kept (transparent)
    np.testing.assert_allclose(rgba[first, 8, 8], [1, -1, -1, 1])
    red_luminance = round(0.299 * 255) / 127.5 - 1  # ITU-R 601, as Pillow's 'L'
    np.testing.assert_allclose(grey[first, 8, 8, 0], red_luminance, atol=1e-6)
    np.testing.assert_allclose(grey[first, 0, 0, 0], 1.0)
    # the palette image with a transparent index: white background, red inside
    palette = 1
    np.testing.assert_allclose(rgb[palette, 0, 0], [1, 1, 1])
    np.testing.assert_allclose(rgb[palette, 8, 8], [1, -1, -1])
    # grey+alpha file: grey red inside, white outside; grey BMP: 128 everywhere
    np.testing.assert_allclose(rgb[2, 0, 0], [1, 1, 1])
    np.testing.assert_allclose(rgb[2, 8, 8], [red_luminance] * 3, atol=1e-6)
    np.testing.assert_allclose(rgb[3], 128 / 127.5 - 1, atol=1e-6)


def test_streamed_and_in_memory_give_the_same_pixels(messy_folder):
    with pytest.warns(gd.SkippedImageWarning):
        in_memory = gd.image_folder(messy_folder, 12, in_memory=True)
        streamed = gd.image_folder(messy_folder, 12, in_memory=False)
    assert in_memory.report.in_memory and not streamed.report.in_memory
    with pytest.warns(gd.SkippedImageWarning, match="g_truncated.png"):
        streamed_images = _as_array(streamed)  # the truncated file is found while decoding
    np.testing.assert_array_equal(_as_array(in_memory), streamed_images)
    assert {item.name for item in streamed.report.skipped} == BROKEN
    assert len(streamed.report) == 6


def test_crop_modes(tmp_path):
    # 40 rows x 20 columns: top 10 rows red, the rest blue
    pixels = np.zeros((40, 20, 3), np.uint8)
    pixels[:10] = (255, 0, 0)
    pixels[10:] = (0, 0, 255)
    Image.fromarray(pixels).save(tmp_path / "tall.png")
    square = gd.load_image(tmp_path / "tall.png", 20, crop="square")   # rows 10..30: all blue
    np.testing.assert_allclose(square[..., 2], 1.0)
    np.testing.assert_allclose(square[..., 0], -1.0)
    whole = gd.load_image(tmp_path / "tall.png", 20, crop=None)         # squashed: a quarter red
    assert np.isclose((whole[..., 0] > 0).mean(), 0.25, atol=0.05)
    box = gd.load_image(tmp_path / "tall.png", None, crop=(4, 6))       # centred 4x6 box, no resize
    assert box.shape == (4, 6, 3)
    np.testing.assert_allclose(box[..., 2], 1.0)
    top_box = gd.load_image(tmp_path / "tall.png", None, crop=40)       # clipped to the image
    assert top_box.shape == (40, 20, 3)


def test_large_jpeg_fast_path_matches_full_decode(tmp_path):
    # smooth 400x300 photo-like image; DCT-domain downscaling must give nearly the same result
    rows, cols = np.mgrid[0:400, 0:300]
    pixels = np.stack([rows * 255 // 400, cols * 255 // 300, (rows + cols) * 255 // 700], -1).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "photo.jpg", quality=95)
    fast = gd.load_image(tmp_path / "photo.jpg", 32, crop="square")
    full = gd.load_image(tmp_path / "photo.jpg", None, crop="square")
    reference = gd.from_uint8(np.asarray(Image.fromarray(gd.to_uint8(full)).resize((32, 32), Image.BICUBIC)))
    assert np.abs(fast - reference).mean() < 0.02


def test_missing_empty_and_unreadable_folders_are_clear_errors(tmp_path):
    with raises_naming("path=", "nope", "exist", error=gd.DataFolderError) as error:
        gd.image_folder(tmp_path / "nope", 64)
    assert isinstance(error.value, ValueError) and isinstance(error.value, FileNotFoundError)
    (tmp_path / "empty").mkdir()
    with raises_naming("path=", "empty", ".png", ".jpg"):  # which files it looked for
        gd.image_folder(tmp_path / "empty", 64)
    (tmp_path / "file.png").write_bytes(b"x")
    with raises_naming("path=", "file.png", "folder"):
        gd.image_folder(tmp_path / "file.png", 64)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "a.png").write_text("not a png")
    with pytest.warns(gd.SkippedImageWarning), raises_naming("path=", "broken", "a.png"):
        gd.image_folder(tmp_path / "broken", 64)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(image_size=0), ("image_size", "0", "positive")),
        (dict(image_size=-8), ("image_size", "-8", "positive")),
        (dict(image_size=2.5), ("image_size", "2.5", "integer")),
        (dict(image_size=(64,)), ("image_size", "(64,)", "(height, width)")),
        (dict(image_size="64"), ("image_size", "'64'", "integer")),
        (dict(image_size=16, channels=2), ("channels", "2", "1, 3, 4")),
        (dict(image_size=16, crop="middle"), ("crop", "'middle'", "None", "'square'")),
        (dict(image_size=16, crop=0), ("crop", "0", "None", "'square'")),
        (dict(image_size=16, resample="cubic"), ("resample", "'cubic'", "'bicubic'", "'lanczos'", "'nearest'")),
        (dict(image_size=16, in_memory="yes"), ("in_memory", "'yes'", "'auto'", "True", "False")),
    ],
)
def test_image_folder_bad_arguments(messy_folder, kwargs, words):
    with raises_naming(*words):
        gd.image_folder(messy_folder, **kwargs)


# ----------------------------------------------------------------------------------------
# training_pipeline and ImageSet
# ----------------------------------------------------------------------------------------
def _numbered_images(count, size=4):
    """Image i is filled with a distinct value, so batches can be traced back to images."""
    values = np.linspace(-1, 1, count, dtype=np.float32)
    return np.broadcast_to(values[:, None, None, None], (count, size, size, 1)).copy()


def _ids(batch, count):
    return np.rint((batch[:, 0, 0, 0] + 1) / 2 * (count - 1)).astype(int)


def test_pipeline_batches_every_image_once_per_epoch_and_reshuffles():
    images = _numbered_images(50)
    batches = gd.training_pipeline(images, batch_size=8, seed=1)
    epochs = [[_ids(b, 50) for b in batches.as_numpy_iterator()] for _ in range(2)]
    for epoch in epochs:
        assert len(epoch) == 6 and all(len(ids) == 8 for ids in epoch)  # 50 // 8, remainder dropped
        seen = np.concatenate(epoch)
        assert len(set(seen)) == 48  # no image twice within an epoch
    assert not np.array_equal(np.concatenate(epochs[0]), np.concatenate(epochs[1]))
    again = gd.training_pipeline(images, batch_size=8, seed=1)
    np.testing.assert_array_equal(np.concatenate([_ids(b, 50) for b in again.as_numpy_iterator()]),
                                  np.concatenate(epochs[0]))
    kept = gd.training_pipeline(images, batch_size=8, shuffle=False, drop_remainder=False)
    sizes = [len(b) for b in kept.as_numpy_iterator()]
    assert sizes == [8] * 6 + [2]
    assert int(gd.training_pipeline(images, batch_size=8).cardinality()) == 6  # Keras can show an ETA


def _numbered_folder(folder, count):
    folder.mkdir()
    for index in range(count):
        Image.fromarray(np.full((6, 6), index * 10, np.uint8), "L").save(folder / f"{index:02d}.png")


@pytest.mark.parametrize("cache", ["auto", False])
def test_streamed_set_is_reshuffled_every_epoch(tmp_path, cache):
    _numbered_folder(tmp_path / "numbers", 12)
    images = gd.load_folder(tmp_path / "numbers", 6, channels=1, in_memory=False, verbose=False)
    batches = images.pipeline(batch_size=4, seed=0, cache=cache)
    epochs = []
    for _ in range(3):
        values = np.concatenate([b[:, 0, 0, 0] for b in batches.as_numpy_iterator()])
        epochs.append(np.rint((values + 1) * 127.5 / 10).astype(int).tolist())
    assert all(sorted(epoch) == list(range(12)) for epoch in epochs)  # each image once per epoch
    assert len({tuple(epoch) for epoch in epochs}) == 3                # a new order every epoch


def test_pipeline_applies_augment_per_batch():
    images = _numbered_images(16)
    flipped = gd.training_pipeline(images, batch_size=4, shuffle=False, augment=lambda batch: -batch)
    first = next(iter(flipped)).numpy()
    np.testing.assert_allclose(first, -images[:4])


@pytest.mark.parametrize(
    "make, kwargs, words",
    [
        (lambda: _numbered_images(10), dict(batch_size=0), ("batch_size", "0", "positive")),
        (lambda: _numbered_images(10), dict(batch_size=16), ("batch_size", "16", "10 images", "drop_remainder")),
        (lambda: _numbered_images(10) * 3, dict(batch_size=2), ("images", "[-3, 3]", "[-1, 1]", "from_uint8")),
        (lambda: _numbered_images(10) * np.nan, dict(batch_size=2), ("images", "NaN", "[-1, 1]")),
        (lambda: _numbered_images(10)[0], dict(batch_size=2), ("images", "(4, 4, 1)", "(n, H, W, C)")),
        (lambda: _numbered_images(10), dict(batch_size=2, cache=3), ("cache", "3", "'auto'", "True", "False")),
        (lambda: _numbered_images(10), dict(batch_size=2, augment="flip"), ("augment", "'flip'", "function")),
        (lambda: [1, 2, 3], dict(batch_size=2), ("images", "list", "tf.data.Dataset", "ImageSet", "NumPy")),
    ],
)
def test_pipeline_bad_arguments(make, kwargs, words):
    with raises_naming(*words):
        gd.training_pipeline(make(), **kwargs)


def test_pipeline_refuses_an_already_batched_dataset():
    import tensorflow as tf

    batched = tf.data.Dataset.from_tensor_slices(_numbered_images(8)).batch(4)
    with raises_naming("images", "(None, 4, 4, 1)", "(H, W, C)", "batched"):
        gd.training_pipeline(batched, batch_size=2)


def test_imageset_split_is_disjoint_reproducible_and_checked():
    faces = gd.load_faces(image_size=8, channels=1, source="lfw", verbose=False)
    train, held_out = faces.split(held_out=0.2, seed=3)
    assert (len(train), len(held_out)) == (80, 20)
    all_rows = {row.tobytes() for row in faces.numpy()}
    train_rows = {row.tobytes() for row in train.numpy()}
    held_rows = {row.tobytes() for row in held_out.numpy()}
    assert not train_rows & held_rows and train_rows | held_rows == all_rows
    again_train, _ = faces.split(held_out=0.2, seed=3)
    np.testing.assert_array_equal(again_train.numpy(), train.numpy())
    _, twenty_five = faces.split(held_out=25)
    assert len(twenty_five) == 25
    for bad in (0, 100, -1):
        with raises_naming("held_out", str(bad), "1", "99", "(0, 1)"):
            faces.split(held_out=bad)
    for bad in (0.0, 1.0, 1.5):
        with raises_naming("held_out", str(bad), "(0.0, 1.0)"):
            faces.split(held_out=bad)


def test_imageset_acts_like_a_dataset_of_single_images():
    faces = gd.load_faces(image_size=8, channels=3, source="lfw", verbose=False)
    first = next(iter(faces))
    assert tuple(first.shape) == (8, 8, 3)
    assert len(list(faces.take(5))) == 5  # forwarded to faces.dataset
    batches = faces.pipeline(batch_size=32, seed=0)
    assert [tuple(b.shape) for b in batches] == [(32, 8, 8, 3)] * 3


# ----------------------------------------------------------------------------------------
# Faces
# ----------------------------------------------------------------------------------------
def test_lfw_faces_are_the_first_100_images_of_the_subset(capsys):
    from skimage import data as skimage_data

    faces = gd.load_faces(image_size=25, channels=1, source="lfw")
    assert "LFW" in capsys.readouterr().out
    assert faces.source == "lfw" and len(faces) == 100 and faces.in_memory
    subset = np.asarray(skimage_data.lfw_subset(), dtype=np.float64)
    scale = 255.0 if subset.max() <= 1 else 1.0
    expected = np.rint(subset[:100] * scale) / 127.5 - 1
    np.testing.assert_allclose(faces.numpy()[..., 0], expected, atol=1e-6)
    colour = gd.load_faces(image_size=64, channels=3, source="lfw", verbose=False).numpy()
    assert colour.shape == (100, 64, 64, 3) and colour.min() >= -1 and colour.max() <= 1
    np.testing.assert_array_equal(colour[..., 0], colour[..., 2])  # grey repeated


def _dead_url():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now: connection refused at once
    return f"http://127.0.0.1:{port}/missing.zip"


@pytest.fixture
def offline_registry(monkeypatch, tmp_path):
    """Registry entries whose mirrors are dead local ports, and an empty data folder."""
    monkeypatch.setenv("GANLIB_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("GANLIB_OFFLINE", raising=False)
    for name in ("celeba", "pokemon"):
        entry = dataclasses.replace(gd.REGISTRY[name], mirrors=(_dead_url(), _dead_url()))
        monkeypatch.setitem(gd.REGISTRY, name, entry)
    return tmp_path / "data"


def test_auto_faces_fall_back_to_lfw_quickly_and_say_why(offline_registry, capsys):
    start = time.perf_counter()
    faces = gd.load_faces(image_size=16, source="auto")
    elapsed = time.perf_counter() - start
    out = capsys.readouterr().out
    assert faces.source == "lfw" and len(faces) == 100
    assert "CelebA is not available" in out and "LFW" in out
    assert faces.note.startswith("CelebA is not available: download failed from 2 mirror(s): cannot connect")
    assert elapsed < 10
    assert not list(offline_registry.glob("**/*.part"))  # no partial download left behind


def test_celeba_explicit_without_data_says_where_to_put_it(offline_registry):
    with pytest.raises(gd.DownloadError) as error:
        gd.load_faces(source="celeba", verbose=False)
    message = str(error.value)
    assert str(offline_registry / "img_align_celeba.zip") in message
    assert str(offline_registry / "celeba") in message
    assert "md5 00d2c5bc6d35e252742224ab0c1e8fcb" in message


def test_celeba_folder_in_data_dir_is_used_with_its_crop(offline_registry, capsys):
    folder = offline_registry / "celeba" / "img_align_celeba"
    folder.mkdir(parents=True)
    for index in range(5):
        pixels = np.zeros((218, 178, 3), np.uint8)  # CelebA's aligned size
        pixels[55:163, 35:143] = (0, 200, 0)        # the 108x108 centre box is green
        Image.fromarray(pixels).save(folder / f"{index:06d}.jpg", quality=95)
    faces = gd.load_faces(image_size=16, source="celeba")
    assert "using CelebA, 5 images" in capsys.readouterr().out
    images = faces.numpy()
    assert faces.source == "celeba" and images.shape == (5, 16, 16, 3)
    # the 108 crop keeps only the green box: no black border survives (JPEG blurs the edge a bit)
    assert images[..., 1].min() > 0.2
    np.testing.assert_allclose(images[:, 2:-2, 2:-2, 1], 200 / 127.5 - 1, atol=0.03)
    square = gd.load_folder(folder, 16, crop="square", verbose=False).numpy()
    assert square[:, 0, :, 1].max() < -0.9  # without the crop, black rows above the face box


def test_load_faces_bad_arguments():
    with raises_naming("source", "'imdb'", "'auto'", "'celeba'", "'lfw'"):
        gd.load_faces(source="imdb")
    with raises_naming("channels", "2", "1, 3, 4"):
        gd.load_faces(channels=2, source="lfw")
    with raises_naming("image_size", "0", "positive"):
        gd.load_faces(image_size=0, source="lfw")
    with raises_naming("path", "faces/", "source='lfw'", "'auto'", "'celeba'"):
        gd.load_faces(source="lfw", path="faces/")


# ----------------------------------------------------------------------------------------
# Downloads against a local HTTP server
# ----------------------------------------------------------------------------------------
class _Server:
    """An HTTP server on 127.0.0.1 in a thread; routes: path -> (mode, body)."""

    def __init__(self):
        routes, hits = {}, {}
        self.routes, self.hits = routes, hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                hits[self.path] = hits.get(self.path, 0) + 1
                mode, body = routes.get(self.path, ("missing", b""))
                if mode == "missing":
                    self.send_error(404)
                    return
                if mode == "error":
                    self.send_error(500)
                    return
                if mode == "stall":
                    time.sleep(3)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html" if mode == "html" else "application/zip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if mode == "truncate":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server():
    running = _Server()
    yield running
    running.close()


PAYLOAD = bytes(range(256)) * 4000  # 1 MB of known bytes
PAYLOAD_SHA256 = "sha256:" + hashlib.sha256(PAYLOAD).hexdigest()


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


def test_download_good(server, tmp_path):
    server.routes["/file.bin"] = ("ok", PAYLOAD)
    path = gd.download(server.url("/file.bin"), tmp_path / "file.bin", checksum=PAYLOAD_SHA256, progress=False)
    assert path.read_bytes() == PAYLOAD
    assert _leftovers(tmp_path) == ["file.bin"]


def test_download_dead_mirror_then_good_one(server, tmp_path):
    server.routes["/broken"] = ("error", b"")
    server.routes["/file.bin"] = ("ok", PAYLOAD)
    mirrors = [_dead_url(), server.url("/broken"), server.url("/file.bin")]
    path = gd.download(mirrors, tmp_path / "file.bin", checksum=PAYLOAD_SHA256, progress=False)
    assert path.read_bytes() == PAYLOAD
    assert server.hits == {"/broken": 1, "/file.bin": 1}
    assert _leftovers(tmp_path) == ["file.bin"]


def test_download_truncated_transfer_leaves_nothing(server, tmp_path):
    server.routes["/file.bin"] = ("truncate", PAYLOAD)
    with pytest.raises(gd.DownloadError, match="truncated|IncompleteRead|incomplete") as error:
        gd.download(server.url("/file.bin"), tmp_path / "file.bin", checksum=PAYLOAD_SHA256, progress=False)
    assert len(error.value.failures) == 1
    assert _leftovers(tmp_path) == []


def test_download_truncated_without_checksum_is_still_caught(server, tmp_path):
    server.routes["/file.bin"] = ("truncate", PAYLOAD)
    with pytest.raises(gd.DownloadError):
        gd.download(server.url("/file.bin"), tmp_path / "file.bin", progress=False)
    assert _leftovers(tmp_path) == []


def test_download_checksum_mismatch_leaves_nothing(server, tmp_path):
    server.routes["/file.bin"] = ("ok", PAYLOAD[:-1] + b"\x00")
    with pytest.raises(gd.DownloadError, match="checksum mismatch") as error:
        gd.download(server.url("/file.bin"), tmp_path / "file.bin", checksum=PAYLOAD_SHA256, progress=False)
    assert str(tmp_path / "file.bin") in str(error.value)  # where to put the file by hand
    assert _leftovers(tmp_path) == []


def test_download_gives_up_on_a_silent_server_quickly(server, tmp_path):
    server.routes["/slow"] = ("stall", b"")
    start = time.perf_counter()
    with pytest.raises(gd.DownloadError, match="timed out"):
        gd.download(server.url("/slow"), tmp_path / "file.bin", timeout=0.5, progress=False)
    assert time.perf_counter() - start < 2.5
    assert _leftovers(tmp_path) == []


def test_download_refuses_a_web_page(server, tmp_path):
    server.routes["/quota"] = ("html", b"<html>Quota exceeded</html>")
    with pytest.raises(gd.DownloadError, match="web page"):
        gd.download(server.url("/quota"), tmp_path / "file.zip", progress=False)
    assert _leftovers(tmp_path) == []


def test_download_refuses_a_web_page_sent_as_a_file_and_tries_the_next_mirror(server, tmp_path):
    # Google Drive's "cannot scan this file for viruses" page: status 200, HTML, any type
    server.routes["/drive"] = ("ok", b"\n<!DOCTYPE html><html><title>Google Drive</title></html>")
    server.routes["/empty"] = ("ok", b"")
    server.routes["/file.bin"] = ("ok", PAYLOAD)
    mirrors = [server.url("/drive"), server.url("/empty"), server.url("/file.bin")]
    path = gd.download(mirrors, tmp_path / "file.bin", progress=False)
    assert path.read_bytes() == PAYLOAD and _leftovers(tmp_path) == ["file.bin"]
    del server.routes["/file.bin"]
    with pytest.raises(gd.DownloadError) as error:
        gd.download(mirrors, tmp_path / "other.bin", progress=False)
    reasons = [reason for _, reason in error.value.failures]
    assert "web page" in reasons[0] and "empty" in reasons[1] and "HTTP 404" in reasons[2]
    assert _leftovers(tmp_path) == ["file.bin"]


def test_download_keeps_a_complete_file_and_replaces_a_wrong_one(server, tmp_path):
    server.routes["/file.bin"] = ("ok", PAYLOAD)
    (tmp_path / "file.bin").write_bytes(PAYLOAD)
    gd.download(server.url("/file.bin"), tmp_path / "file.bin", checksum=PAYLOAD_SHA256, progress=False)
    assert server.hits == {}  # the right checksum: nothing downloaded
    (tmp_path / "file.bin").write_bytes(b"an older, different file")
    gd.download(server.url("/file.bin"), tmp_path / "file.bin", checksum=PAYLOAD_SHA256, progress=False)
    assert server.hits == {"/file.bin": 1} and (tmp_path / "file.bin").read_bytes() == PAYLOAD
    assert _leftovers(tmp_path) == ["file.bin"]


@pytest.mark.parametrize(
    "checksum, words",
    [
        ("abc", ("checksum", "'abc'", "sha256:", "sha1:", "md5:")),
        ("crc32:00", ("checksum", "'crc32'", "'sha256'", "'sha1'", "'md5'")),
        ("sha256:1234", ("checksum", "sha256:1234", "64")),
    ],
)
def test_download_bad_checksum_argument(tmp_path, checksum, words):
    with raises_naming(*words):
        gd.download("http://127.0.0.1:9/x", tmp_path / "x", checksum=checksum)
    assert _leftovers(tmp_path) == []  # refused before any transfer


def test_download_bad_arguments(tmp_path):
    with raises_naming("urls", "URL"):
        gd.download([], tmp_path / "x")
    with raises_naming("timeout", "0", "positive"):
        gd.download("http://127.0.0.1:9/x", tmp_path / "x", timeout=0)


def _zip_of_sprites(count=3):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for index in range(count):
            png = io.BytesIO()
            Image.fromarray(_sprite_rgba(24, 24), "RGBA").save(png, format="PNG")
            bundle.writestr(f"sprites/{index}/sprite_{index}.png", png.getvalue())
    return buffer.getvalue()


def _source(server, body, mirrors=None):
    return gd.DataSource(
        name="toy", archive="toy.zip", folder="toy",
        mirrors=tuple(mirrors or [server.url("/toy.zip")]),
        checksum="sha1:" + hashlib.sha1(body).hexdigest(),
    )


def test_fetch_downloads_extracts_and_then_uses_the_cache(server, tmp_path):
    body = _zip_of_sprites()
    server.routes["/toy.zip"] = ("ok", body)
    source = _source(server, body, mirrors=[_dead_url(), server.url("/toy.zip")])
    folder = gd.fetch(source, root=tmp_path, progress=False)
    assert folder == tmp_path / "toy"
    assert len(list(folder.glob("**/*.png"))) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy", "toy.zip"]  # no temporary leftovers
    assert gd.fetch(source, root=tmp_path, progress=False) == folder
    assert server.hits == {"/toy.zip": 1}  # the second call did not download again


def test_fetch_uses_an_archive_put_there_by_hand(server, tmp_path):
    body = _zip_of_sprites(2)
    (tmp_path / "toy.zip").write_bytes(body)
    folder = gd.fetch(_source(server, body, mirrors=[_dead_url()]), root=tmp_path, progress=False)
    assert len(list(folder.glob("**/*.png"))) == 2


def test_fetch_rejects_a_local_archive_with_the_wrong_checksum(server, tmp_path):
    body = _zip_of_sprites(2)
    (tmp_path / "toy.zip").write_bytes(body + b"junk")
    with raises_naming(str(tmp_path / "toy.zip"), "sha1", hashlib.sha1(body).hexdigest(),
                       hashlib.sha1(body + b"junk").hexdigest(), error=OSError):
        gd.fetch(_source(server, body), root=tmp_path, progress=False)
    assert server.hits == {}  # a file put there by hand is never replaced behind the user's back


def test_fetch_when_every_mirror_fails_says_where_to_put_the_archive(server, tmp_path):
    body = _zip_of_sprites(1)
    source = _source(server, body, mirrors=[_dead_url(), server.url("/gone.zip")])
    with pytest.raises(gd.DownloadError) as error:
        gd.fetch(source, root=tmp_path, progress=False)
    message = str(error.value)
    assert "HTTP 404" in message and "cannot connect" in message
    assert str(tmp_path / "toy.zip") in message and str(tmp_path / "toy") in message
    assert _leftovers(tmp_path) == []


def test_fetch_offline_never_touches_the_network(server, tmp_path, monkeypatch):
    monkeypatch.setenv("GANLIB_OFFLINE", "1")
    body = _zip_of_sprites(1)
    server.routes["/toy.zip"] = ("ok", body)
    with pytest.raises(gd.DownloadError, match="GANLIB_OFFLINE"):
        gd.fetch(_source(server, body), root=tmp_path, progress=False)
    assert server.hits == {}


def test_fetch_keeps_the_archive_in_archive_dir_and_unpacks_into_each_data_folder(server, tmp_path, monkeypatch):
    # GANLIB_ARCHIVES (Google Drive in Colab): one file kept there, images unpacked locally
    kept = tmp_path / "drive" / "data"
    monkeypatch.setenv("GANLIB_ARCHIVES", str(kept))
    assert gd.archive_dir(tmp_path / "local") == kept
    body = _zip_of_sprites(2)
    server.routes["/toy.zip"] = ("ok", body)
    source = _source(server, body)
    folder = gd.fetch(source, root=tmp_path / "local", progress=False)
    assert folder == tmp_path / "local" / "toy" and len(list(folder.glob("**/*.png"))) == 2
    assert [p.name for p in kept.iterdir()] == ["toy.zip"] and not (tmp_path / "local" / "toy.zip").exists()
    again = gd.fetch(source, root=tmp_path / "next_session", progress=False)  # a wiped local disk
    assert len(list(again.glob("**/*.png"))) == 2 and server.hits == {"/toy.zip": 1}
    monkeypatch.setenv("GANLIB_OFFLINE", "1")
    with pytest.raises(gd.DownloadError) as error:  # nothing kept, nothing local: both named
        gd.fetch(dataclasses.replace(source, archive="other.zip", folder="other"), root=tmp_path / "local",
                 progress=False)
    assert f"nor in {kept}" in str(error.value) and str(kept / "other.zip") in str(error.value)


def test_fetch_bad_source():
    with raises_naming("source", "'mnist'", "'celeba'", "'pokemon'"):
        gd.fetch("mnist")


@pytest.mark.parametrize("member", ["../../outside.txt", "inner/../../outside.txt", "/outside.txt"])
def test_extract_refuses_a_zip_member_outside_the_folder(tmp_path, member):
    # zipfile alone would not fail here: it quietly rewrites such names to land inside the
    # folder; ganlib refuses the whole archive instead, names the member, and writes nothing.
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("good.txt", "fine")
        bundle.writestr(zipfile.ZipInfo(member), "x")
    with raises_naming("unsafe path", repr(member), error=OSError):
        gd.extract(archive, tmp_path / "out", progress=False)
    assert _leftovers(tmp_path) == ["evil.zip"]  # no folder, not even good.txt, no temporary
    assert not list(tmp_path.parent.rglob("outside.txt"))


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink"])
def test_extract_refuses_a_tar_member_outside_the_folder(tmp_path, kind):
    import tarfile

    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as bundle:
        good = tarfile.TarInfo("good.txt")
        good.size = 4
        bundle.addfile(good, io.BytesIO(b"fine"))
        if kind == "symlink":  # a link out of the folder, to be written through later
            evil = tarfile.TarInfo("link")
            evil.type, evil.linkname = tarfile.SYMTYPE, str(tmp_path.parent / "outside.txt")
            bundle.addfile(evil)
        else:
            evil = tarfile.TarInfo("../outside.txt" if kind == "dotdot" else str(tmp_path.parent / "outside.txt"))
            evil.size = 1
            bundle.addfile(evil, io.BytesIO(b"x"))
    with raises_naming("unsafe path", "outside.txt" if kind != "symlink" else "link", error=OSError):
        gd.extract(archive, tmp_path / "out", progress=False)
    assert _leftovers(tmp_path) == ["evil.tar.gz"]
    assert not (tmp_path.parent / "outside.txt").exists()


def test_extract_tar_gz_all_or_nothing(tmp_path):
    import tarfile

    source = tmp_path / "src"
    (source / "inner").mkdir(parents=True)
    (source / "inner" / "a.txt").write_text("a")
    archive = tmp_path / "bundle.tar.gz"
    with tarfile.open(archive, "w:gz") as bundle:
        bundle.add(source / "inner", arcname="inner")
    out = gd.extract(archive, tmp_path / "out", progress=False)
    assert (out / "inner" / "a.txt").read_text() == "a"
    (tmp_path / "junk.zip").write_bytes(b"neither zip nor tar")
    with pytest.raises(OSError, match="neither a zip nor a tar"):
        gd.extract(tmp_path / "junk.zip", tmp_path / "junk", progress=False)
    assert not (tmp_path / "junk").exists() and not list(tmp_path.glob(".junk.*"))


def test_registry_entries_are_complete():
    pokemon, celeba = gd.REGISTRY["pokemon"], gd.REGISTRY["celeba"]
    assert pokemon.checksum == "sha1:c065c0e2593b8b161a2d7873e42418bf6a21106c"  # d2l's published sha1
    assert celeba.checksum.startswith("md5:") and celeba.crop == (108, 108)
    for entry in (pokemon, celeba):
        assert len(entry.mirrors) >= 2 and all(url.startswith("http") for url in entry.mirrors)
        assert entry.licence and entry.description and entry.homepage


def test_data_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GANLIB_DATA", str(tmp_path / "elsewhere"))
    assert gd.data_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("GANLIB_DATA")
    assert gd.data_dir().name == "data"


# ----------------------------------------------------------------------------------------
# Sprites
# ----------------------------------------------------------------------------------------
def test_procedural_sprites_are_reproducible_varied_and_symmetric():
    first = gd.procedural_sprites(60, seed=7)
    again = gd.procedural_sprites(60, seed=7)
    other = gd.procedural_sprites(60, seed=8)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(first, other))
    assert all(image.shape[-1] == 4 and image.dtype == np.float32 for image in first)
    assert len({image.shape for image in first}) > 5  # canvases of different sizes
    assert sum("copy of" in name for name in first.paths) == 1  # 2% of 60
    transparent = [np.all(image[0, 0] == [-1, -1, -1, -1]) for image in first]
    white = [np.all(image[0, 0] == [1, 1, 1, 1]) for image in first]
    assert all(t or w for t, w in zip(transparent, white)) and any(transparent) and any(white)
    for image in gd.trim_borders(gd.composite_on_white(first), margin=0, square=False):
        np.testing.assert_array_equal(image, image[:, ::-1])  # left-right symmetric
        colours = {tuple(pixel) for pixel in gd.to_uint8(image).reshape(-1, 3)}
        assert len(colours) <= 8  # white + a small palette
        edge = gd.to_uint8(image)[:, 0]  # the first content column is outline
        dark = edge[edge.sum(axis=-1) < 3 * 255 - 10]
        assert dark.size and dark.mean() < 80


def test_cleaning_steps_one_by_one():
    sprites = gd.ImageList(
        [gd.from_uint8(_sprite_rgba(40, 30)), gd.from_uint8(np.zeros((10, 10, 4), np.uint8)),
         gd.from_uint8(_sprite_rgba(40, 30))],
        paths=["red", "blank", "red again"],
    )
    on_white = gd.composite_on_white(sprites)
    assert [image.shape for image in on_white] == [(40, 30, 3), (10, 10, 3), (40, 30, 3)]
    np.testing.assert_allclose(on_white[1], 1.0)  # fully transparent -> white
    with_alpha = gd.composite_on_white(sprites, keep_alpha=True)
    assert with_alpha[0].shape == (40, 30, 4)
    trimmed = gd.trim_borders(on_white, margin=0)
    assert len(trimmed) == 2 and trimmed.paths == ["red", "red again"]
    assert trimmed.dropped == [("blank", "blank (no content)")]
    assert trimmed[0].shape == (20, 20, 3)  # the 20x15 red box padded to a square
    np.testing.assert_allclose(trimmed[0][:, 2:17], np.broadcast_to([1, -1, -1], (20, 15, 3)))
    np.testing.assert_allclose(trimmed[0][:, [0, 1, 17, 18, 19]], 1.0)  # white padding
    resized = gd.resize_images(trimmed, 8)
    assert resized.shape == (2, 8, 8, 3)
    unique, kept = gd.drop_duplicates(resized, return_index=True)
    assert len(unique) == 1 and kept.tolist() == [0]
    array, log = gd.clean_sprites(sprites, 8, verbose=False)
    assert array.shape == (1, 8, 8, 3)
    assert [count for _, count in log] == [3, 3, 2, 2, 1]


def test_load_procedural_sprites(capsys):
    sprites = gd.load_sprites(image_size=32, source="procedural", count=100, seed=1)
    out = capsys.readouterr().out
    assert "procedural" in out and "exact duplicates dropped" in out
    images = sprites.numpy()
    assert sprites.source == "procedural" and images.shape == (98, 32, 32, 3)  # 2 copies dropped
    assert [count for _, count in sprites.log] == [100, 100, 100, 100, 98]
    np.testing.assert_allclose(images[:, 0, 0], 1.0)  # white background
    rgba = gd.load_sprites(image_size=28, source="procedural", channels=4, count=20, verbose=False)
    assert rgba.numpy().shape[1:] == (28, 28, 4)


def test_load_sprites_from_a_messy_folder_reports_broken_files(messy_folder, capsys):
    with pytest.warns(gd.SkippedImageWarning, match="skipped 4 of 10"):
        sprites = gd.load_sprites(image_size=16, path=messy_folder)
    assert "unreadable or non-image files skipped" in capsys.readouterr().out
    assert {item.name for item in sprites.skipped} == BROKEN
    images = sprites.numpy()
    # 6 readable files: a_rgba and f_anim are the same sprite, the grey BMP is uniform grey
    assert dict(sprites.log)["read"] == 6
    assert images.shape[1:] == (16, 16, 3) and len(images) == dict(sprites.log)["exact duplicates dropped"]
    assert len(images) == 5


def test_auto_sprites_fall_back_to_procedural_quickly(offline_registry, capsys):
    start = time.perf_counter()
    sprites = gd.load_sprites(image_size=16, count=50)
    assert time.perf_counter() - start < 15
    assert sprites.source == "procedural"
    assert "Pokemon sprites are not available" in capsys.readouterr().out


def test_pokemon_folder_in_data_dir_is_used(offline_registry, capsys):
    folder = offline_registry / "pokemon" / "pokemon" / "25"
    folder.mkdir(parents=True)
    for index in range(3):
        sprite = _sprite_rgba(96, 96)
        sprite[40:50, 40 + index * 3: 44 + index * 3] = (0, 0, 255, 255)  # three different sprites
        Image.fromarray(sprite, "RGBA").save(folder / f"{index}.png")
    sprites = gd.load_sprites(image_size=16, source="pokemon")
    assert sprites.source == "pokemon" and len(sprites) == 3
    assert "reading sprites from" in capsys.readouterr().out


def test_load_sprites_bad_arguments(messy_folder):
    with raises_naming("source", "'digimon'", "'auto'", "'pokemon'", "'procedural'"):
        gd.load_sprites(source="digimon")
    with raises_naming("channels", "2", "1, 3, 4"):
        gd.load_sprites(source="procedural", channels=2)
    with raises_naming("path", "source='procedural'", "'auto'", "'pokemon'"):
        gd.load_sprites(source="procedural", path=messy_folder)
    with raises_naming("count", "0", "positive"):
        gd.procedural_sprites(0)
    with raises_naming("duplicate_fraction", "0.6", "[0.0, 0.5)"):
        gd.procedural_sprites(10, duplicate_fraction=0.6)
    with raises_naming("seed", "-1", ">= 0"):
        gd.procedural_sprites(10, seed=-1)
    with raises_naming("tolerance", "3", "[0.0, 2.0]"):
        gd.trim_borders([np.zeros((4, 4, 3), np.float32)], tolerance=3)
    with raises_naming("images", "(4, 4, 3)", "(n, H, W, C)"):
        gd.drop_duplicates(np.zeros((4, 4, 3), np.float32))
    with raises_naming("image_size", "-1", "positive"):
        gd.resize_images([np.zeros((4, 4, 3), np.float32)], -1)


def test_a_huge_image_is_decoded_at_reduced_size(tmp_path):
    # issue 16, item 8: a 97 KB 9000x9000 PNG cost 3.2 GB of float32 for one 16x16 image
    import tracemalloc

    from ganlib.data import load_image

    pixels = np.zeros((6000, 6000), np.uint8)
    pixels[:, 3000:] = 255  # left half black, right half white
    Image.fromarray(pixels).save(tmp_path / "huge.png")
    del pixels
    tracemalloc.start()
    image = load_image(tmp_path / "huge.png", image_size=16, channels=3)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50e6, peak  # NumPy's arrays; the float32 copy of the full image alone is 432 MB
    assert image.shape == (16, 16, 3)
    np.testing.assert_allclose(image[:, :7], -1.0, atol=0.02)
    np.testing.assert_allclose(image[:, 9:], 1.0, atol=0.02)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # Pillow's, before ganlib's error
def test_an_absurdly_large_image_is_refused_with_a_reason(tmp_path):
    from ganlib.data import load_image

    Image.new("1", (10000, 9000)).save(tmp_path / "bomb.png")  # 90 million pixels, a few KB
    with pytest.raises(OSError, match="10000x9000 pixels"):
        load_image(tmp_path / "bomb.png", image_size=16)


@pytest.mark.parametrize("size", [(1, 500), (500, 1), (1, 1), (3, 2)])
def test_a_thin_image_keeps_its_colour(size, tmp_path):
    """Issue 25 item 8: a 1x500 image decoded as all black (its centred square crop box,
    (249.5, 0, 250.5, 1), rounded to an empty box)."""
    from PIL import Image

    from ganlib.data import load_image

    path = tmp_path / "thin.png"
    Image.new("RGB", size, (200, 40, 10)).save(path)
    pixels = load_image(path, image_size=16)
    np.testing.assert_allclose(pixels.reshape(-1, 3).mean(0), np.array([200, 40, 10]) / 127.5 - 1, atol=0.01)


def test_an_image_over_the_pixel_limit_is_skipped_by_name_without_pillows_nameless_warning(tmp_path, monkeypatch):
    """Issue 25 item 27: between Pillow's pixel limit and twice it, Pillow only warns "Image size
    (... pixels) exceeds limit ..." without naming the file; the file was then refused anyway."""
    import warnings

    from PIL import Image

    from ganlib import data

    for name, side in (("small.png", 10), ("large.png", 20)):
        Image.new("RGB", (side, side), (200, 10, 10)).save(tmp_path / name)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 300)  # 20x20 = 400: Pillow's warning zone
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        images = data.load_folder(tmp_path, image_size=8, channels=3)
    assert len(images) == 1
    messages = [str(w.message) for w in caught]
    assert not [m for m in messages if m.startswith("Image size")], messages  # Pillow's nameless one
    assert [m for m in messages if "large.png" in m and "decompression-bomb" in m], messages
