"""CelebA from several sources (issue 15): the publisher's archive (md5), then Kaggle through
kagglehub, then Hugging Face's parquet copy through huggingface_hub + pyarrow, each checked,
each tested against a local stand-in: an HTTP server on 127.0.0.1 for the publisher, modules
put in sys.modules for the others (no network, and the real packages are never imported).
"""
import dataclasses
import hashlib
import http.server
import io
import json
import sys
import threading
import types
import zipfile

import numpy as np
import pytest
from PIL import Image

import ganlib.data as gd
from ganlib.data import faces as faces_module

COUNT = 6  # the stand-ins hold 6 "CelebA" images; CELEBA_COUNT is set to that


def _jpeg_bytes(index, size=(178, 218)):
    buffer = io.BytesIO()
    Image.fromarray(np.full((size[1], size[0], 3), 20 * index, np.uint8)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _write_copy(folder, count=COUNT, size=(178, 218)):
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        (folder / f"{index + 1:06d}.jpg").write_bytes(_jpeg_bytes(index, size))
    return folder


class Calls(list):
    """The sources' stand-ins append their name here when called: the order they were tried."""


@pytest.fixture
def sources(monkeypatch, tmp_path):
    """An empty data folder, 6 images as CelebA's count, every network source a stand-in:
    the publisher's mirror a dead local port, kagglehub and huggingface_hub not installed."""
    monkeypatch.setenv("GANLIB_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("GANLIB_OFFLINE", raising=False)
    monkeypatch.setattr(faces_module, "CELEBA_COUNT", COUNT)
    monkeypatch.setattr(faces_module, "SIZE_SAMPLE", 3)
    import socket

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    dead = f"http://127.0.0.1:{probe.getsockname()[1]}/img_align_celeba.zip"
    probe.close()
    monkeypatch.setitem(gd.REGISTRY, "celeba", dataclasses.replace(gd.REGISTRY["celeba"], mirrors=(dead,)))
    for name in ("kagglehub", "huggingface_hub", "pyarrow", "pyarrow.parquet"):
        monkeypatch.setitem(sys.modules, name, None)  # import raises ImportError
    calls = Calls()
    return types.SimpleNamespace(data=tmp_path / "data", tmp=tmp_path, calls=calls, monkeypatch=monkeypatch)


def fake_kagglehub(env, count=COUNT, size=(178, 218)):
    def dataset_download(handle):
        env.calls.append(("kaggle", handle))
        root = env.tmp / "kagglehub" / "datasets" / handle
        _write_copy(root / "img_align_celeba" / "img_align_celeba", count, size)
        (root / "list_attr_celeba.csv").write_text("image_id\n")
        return str(root)

    env.monkeypatch.setitem(sys.modules, "kagglehub", types.SimpleNamespace(dataset_download=dataset_download))


def fake_huggingface(env, rows):
    """huggingface_hub.snapshot_download writes the rows (path, bytes) as a stand-in parquet
    file (JSON here); pyarrow.parquet.ParquetFile reads it back in batches."""

    def snapshot_download(repo_id, repo_type=None, allow_patterns=None):
        env.calls.append(("huggingface", repo_id, repo_type, tuple(allow_patterns)))
        local = env.tmp / "hf" / repo_id
        (local / "data").mkdir(parents=True, exist_ok=True)
        half = len(rows) // 2
        for part, chunk in enumerate((rows[:half], rows[half:])):
            content = [{"path": path, "bytes": data.hex() if data else None} for path, data in chunk]
            (local / "data" / f"train-{part:05d}-of-00002.parquet").write_text(json.dumps(content))
        return str(local)

    class Column:
        def __init__(self, cells):
            self.cells = cells

        def to_pylist(self):
            return self.cells

    class Batch:
        def __init__(self, cells):
            self._column = Column(cells)

        def column(self, index):
            assert index == 0
            return self._column

    class ParquetFile:
        def __init__(self, path):
            self.rows = json.loads(open(path).read())

        def iter_batches(self, columns, batch_size):
            assert columns == ["image"]
            cells = [{"path": row["path"], "bytes": bytes.fromhex(row["bytes"]) if row["bytes"] else None}
                     for row in self.rows]
            for start in range(0, len(cells), 2):
                yield Batch(cells[start:start + 2])

    parquet = types.SimpleNamespace(ParquetFile=ParquetFile)
    env.monkeypatch.setitem(sys.modules, "huggingface_hub", types.SimpleNamespace(snapshot_download=snapshot_download))
    env.monkeypatch.setitem(sys.modules, "pyarrow", types.SimpleNamespace(parquet=parquet))
    env.monkeypatch.setitem(sys.modules, "pyarrow.parquet", parquet)


def _rows(count=COUNT):
    return [(f"{index + 1:06d}.jpg", _jpeg_bytes(index)) for index in range(count)]


def test_publisher_first_when_its_archive_arrives_with_the_published_checksum(sources):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        for index in range(COUNT):
            bundle.writestr(f"img_align_celeba/{index + 1:06d}.jpg", _jpeg_bytes(index))
    payload = archive.getvalue()

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
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/img_align_celeba.zip"
        entry = dataclasses.replace(gd.REGISTRY["celeba"], mirrors=(url,),
                                    checksum="md5:" + hashlib.md5(payload).hexdigest())
        sources.monkeypatch.setitem(gd.REGISTRY, "celeba", entry)
        fake_kagglehub(sources)
        folder, used = faces_module.fetch_celeba(progress=False)
    finally:
        server.shutdown()
    assert used == "publisher" and sources.calls == []  # Kaggle never asked
    assert len(list(folder.glob("**/*.jpg"))) == COUNT


def test_kaggle_after_the_publisher_fails_and_the_next_run_finds_it_in_the_data_folder(sources, capsys):
    fake_kagglehub(sources)
    folder, used = faces_module.fetch_celeba(progress=False)
    assert used == "kaggle" and sources.calls == [("kaggle", "jessicali9530/celeba-dataset")]
    assert folder.name == "img_align_celeba" and len(list(folder.glob("*.jpg"))) == COUNT
    assert (sources.data / "celeba").resolve() == folder.resolve()  # linked into the data folder
    again, used_again = faces_module.fetch_celeba(progress=False)
    assert used_again == "the data folder" and len(sources.calls) == 1
    faces = gd.load_faces(image_size=16, source="celeba")
    assert faces.source == "celeba" and len(faces) == COUNT
    assert "using CelebA, 6 images" in capsys.readouterr().out


@pytest.mark.parametrize("count, size, words", [
    (COUNT - 1, (178, 218), ("kaggle", "5 images", "CelebA has 6")),
    (COUNT, (128, 128), ("kaggle", "128x128", "178x218")),
])
def test_a_kaggle_copy_that_is_not_celeba_is_refused_then_hugging_face_is_tried(sources, count, size, words,
                                                                                capsys):
    fake_kagglehub(sources, count=count, size=size)
    fake_huggingface(sources, _rows())
    folder, used = faces_module.fetch_celeba(progress=True)
    assert used == "huggingface"
    out = capsys.readouterr().out
    assert "publisher failed" in out and "trying kaggle" in out and "trying huggingface" in out
    kaggle_line = next(line for line in out.splitlines() if line.startswith("CelebA: kaggle failed"))
    assert all(word in kaggle_line for word in words), kaggle_line
    assert [call[0] for call in sources.calls] == ["kaggle", "huggingface"]
    assert sources.calls[1][1:] == ("nielsr/CelebA-faces", "dataset", ("data/*.parquet",))


def test_hugging_face_parquet_is_unpacked_into_the_data_folder_all_or_nothing(sources):
    fake_huggingface(sources, _rows())
    folder, used = faces_module.fetch_celeba(progress=False)
    assert used == "huggingface" and folder == sources.data / "celeba"
    files = sorted(p.name for p in folder.glob("img_align_celeba/*.jpg"))
    assert files == [f"{index + 1:06d}.jpg" for index in range(COUNT)]
    assert (folder / "img_align_celeba" / "000003.jpg").read_bytes() == _jpeg_bytes(2)  # bytes kept as sent
    assert not [p for p in sources.data.iterdir() if p.name.endswith(".partial")]


@pytest.mark.parametrize("rows, words", [
    (_rows()[:-1], ("huggingface", "5 images", "CelebA has 6")),
    (_rows()[:3] + [("000004.jpg", b"GIF89a....")] + _rows()[4:], ("huggingface", "row 4", "not a JPEG")),
])
def test_a_bad_hugging_face_copy_is_refused_and_leaves_nothing(sources, rows, words):
    fake_huggingface(sources, rows)
    with pytest.raises(faces_module.CelebAUnavailable) as caught:
        faces_module.fetch_celeba(progress=False)
    message = str(caught.value)
    assert all(word in message for word in words), message
    assert not (sources.data / "celeba").exists()
    assert not [p for p in sources.data.iterdir() if p.name.endswith(".partial")]


def test_the_error_lists_every_source_tried_in_order(sources):
    with pytest.raises(gd.DownloadError) as caught:  # CelebAUnavailable is a DownloadError
        gd.load_faces(source="celeba", verbose=False)
    error = caught.value
    assert [name for name, _ in error.attempts] == ["publisher", "kaggle", "huggingface"]
    message = str(error)
    assert "1. publisher: download failed from 1 mirror(s): cannot connect" in message
    assert "2. kaggle: kagglehub is not installed" in message
    assert "3. huggingface:" in message and "not installed" in message
    assert "md5 00d2c5bc6d35e252742224ab0c1e8fcb" in message  # where to put it by hand
    with pytest.raises(ValueError, match="source='flickr'.*publisher"):
        faces_module.fetch_celeba(sources=["flickr"])


def test_offline_skips_the_packages_without_calling_them(sources):
    sources.monkeypatch.setenv("GANLIB_OFFLINE", "1")
    fake_kagglehub(sources)
    fake_huggingface(sources, _rows())
    with pytest.raises(faces_module.CelebAUnavailable) as caught:
        faces_module.fetch_celeba(progress=False)
    assert sources.calls == []
    reasons = dict(caught.value.attempts)
    assert reasons["kaggle"] == reasons["huggingface"] == "not tried: GANLIB_OFFLINE is set"


def test_fallback_to_lfw_is_a_visible_box_that_lists_what_was_tried(sources, capsys):
    faces = gd.load_faces(image_size=16, source="auto")
    out = capsys.readouterr().out
    assert faces.source == "lfw" and len(faces) == 100
    lines = out.strip().splitlines()
    lines = lines[lines.index("#" * 78):]  # after one line per failed source, as it happened
    assert len(lines) >= 8 and lines[0] == lines[-1] == "#" * 78
    assert all(line.startswith("# ") and line.endswith(" #") and len(line) == 78 for line in lines[1:-1])
    for words in ("CelebA is not available", "LFW", "1. publisher", "2. kaggle", "3. huggingface",
                  "not comparable", "img_align_celeba.zip"):
        assert words in out, words
    assert faces.note.startswith("CelebA is not available: download failed from 1 mirror(s)")
    assert "kaggle: kagglehub is not installed" in faces.note
