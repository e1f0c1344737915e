"""Tests of the gpu smoke run's stand-in data (scripts/gpu_smoke.py) and of GANLIB_SOURCES, which
points the loaders at them: each stand-in, served from 127.0.0.1, is downloaded, checked against
its own checksum and read by the loader of the real data set; a wrong checksum is refused."""
import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ganlib.data as gd
from ganlib.data import downloads, faces as faces_module

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("gpu_smoke", ROOT / "scripts" / "gpu_smoke.py")
gpu_smoke = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gpu_smoke)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Small stand-ins, their sources.json and the server: (folder, entries by name)."""
    folder = tmp_path_factory.mktemp("served")
    server, base_url = gpu_smoke.serve(folder)
    paths = {"celeba": gpu_smoke.make_celeba(folder, count=24), "pokemon": gpu_smoke.make_pokemon(folder, 6, 4),
             "mnist": gpu_smoke.make_mnist(folder, train=60, test=20)}
    table = {name: {"mirrors": [f"{base_url}/{path.name}"], "checksum": gpu_smoke._digest(path, algorithm)}
             for (name, path), algorithm in zip(paths.items(), ("md5", "sha1", "sha256"))}
    sources = folder / "sources.json"
    sources.write_text(json.dumps(table))
    yield sources, downloads.read_sources_file(sources)
    server.shutdown()


@pytest.fixture
def use(monkeypatch, tmp_path):
    """Put entries into the registry (and MNIST) for one test, with empty data and Keras folders."""
    monkeypatch.setenv("GANLIB_DATA", str(tmp_path / "data"))
    (tmp_path / "keras").mkdir()  # Keras uses /tmp/.keras when KERAS_HOME is not a writable folder
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    for name in ("GANLIB_ARCHIVES", "GANLIB_OFFLINE"):
        monkeypatch.delenv(name, raising=False)

    def put(entries):
        for name, entry in entries.items():
            if name == "mnist":
                monkeypatch.setattr(downloads, "MNIST", entry)
            else:
                monkeypatch.setitem(downloads.REGISTRY, name, entry)
    return put


def wrong_checksum(entry):
    algorithm, digest = entry.checksum.split(":")
    return dataclasses.replace(entry, checksum=f"{algorithm}:{'0' * len(digest)}")


def test_the_stand_ins_have_the_real_layouts(served):
    import zipfile

    from PIL import Image

    folder = Path(served[0]).parent
    with zipfile.ZipFile(folder / "img_align_celeba.zip") as bundle:
        names = bundle.namelist()
        assert names[0] == "img_align_celeba/000001.jpg" and len(names) == 24
        with bundle.open(names[-1]) as handle:
            assert Image.open(handle).size == faces_module.CELEBA_SIZE
    with zipfile.ZipFile(folder / "pokemon.zip") as bundle:
        assert {name.split("/")[0] for name in bundle.namelist()} == {"pokemon"}
        assert len({name.split("/")[1] for name in bundle.namelist()}) == 6
    with np.load(folder / "mnist.npz") as arrays:
        assert arrays["x_train"].shape == (60, 28, 28) and arrays["x_test"].dtype == np.uint8
        assert set(arrays["y_train"]) <= set(range(10))


def test_sources_file_replaces_mirrors_and_checksums_and_refuses_mistakes(served, tmp_path):
    sources, entries = served
    assert set(entries) == {"celeba", "pokemon", "mnist"}
    assert entries["celeba"].mirrors[0].startswith("http://127.0.0.1:") and entries["celeba"].crop == (108, 108)
    bad = tmp_path / "bad.json"
    for text, words in [('{"celebA": {"mirrors": ["x"], "checksum": "md5:0"}}', "'celeba'"),
                        ('{"pokemon": {"mirrors": ["x"]}}', "'mirrors' and 'checksum'"),
                        ('{"pokemon": {"mirrors": [], "checksum": "sha1:00"}}', "list of URLs"),
                        ('{"mnist": {"mirrors": ["x"], "checksum": "sha256:abc"}}', "64 hex digits"),
                        ("not json", "not JSON")]:
        bad.write_text(text)
        with pytest.raises(ValueError, match=words):
            downloads.read_sources_file(bad)


def test_the_environment_variable_is_read_when_ganlib_is_imported(served):
    sources, entries = served
    code = ("from ganlib.data import downloads as d; "
            "print(d.REGISTRY['pokemon'].checksum, d.MNIST.mirrors[0], d.REGISTRY['celeba'].archive)")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "GANLIB_SOURCES": str(sources)},
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout.split()
    assert out == [entries["pokemon"].checksum, entries["mnist"].mirrors[0], "img_align_celeba.zip"]


def test_celeba_stand_in_comes_through_the_publishers_path(served, use, capsys):
    use(served[1])
    faces = gd.load_faces(image_size=16, source="auto")
    assert faces.source == "celeba" and len(faces) == 24
    assert gpu_smoke.EXPECTED["02"] in capsys.readouterr().out


def test_pokemon_stand_in_is_downloaded_checked_and_cleaned(served, use, capsys):
    use(served[1])
    sprites = gd.load_sprites(image_size=16, source="auto", channels=4)
    assert sprites.source == "pokemon" and 18 <= len(sprites) <= 24  # exact copies dropped
    assert gpu_smoke.EXPECTED["03"] in capsys.readouterr().out


def test_mnist_stand_in_goes_into_keras_cache(served, use, tmp_path, capsys):
    use(served[1])
    digits = gd.load_mnist(image_size=32)
    assert digits.source == "mnist" and len(digits) == 80 and digits.shape == (32, 32, 1)
    assert gpu_smoke.EXPECTED["06"] in capsys.readouterr().out
    assert (tmp_path / "keras" / "datasets" / "mnist.npz").exists()


def test_a_wrong_checksum_is_refused_by_every_loader(served, use):
    use({name: wrong_checksum(entry) for name, entry in served[1].items()})
    with pytest.raises(faces_module.CelebAUnavailable, match="checksum mismatch"):
        faces_module.fetch_celeba(sources=("publisher",), progress=False)
    with pytest.raises(gd.DownloadError, match="checksum mismatch"):
        gd.load_sprites(image_size=16, source="pokemon", verbose=False)
    with pytest.raises(ValueError, match="Incomplete or corrupted"):
        gd.load_mnist(fallback=False, verbose=False)


def test_the_counts_cut_are_the_lessons_parameters():
    import nbformat

    for lesson, counts in gpu_smoke.LESSON_COUNTS.items():
        path, = (ROOT / "notebooks").glob(f"{lesson}_*.ipynb")
        notebook = gpu_smoke.cut_counts(nbformat.read(path, as_version=4), counts)
        index = next(i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", []))
        injected = notebook.cells[index + 1]
        assert injected.metadata["tags"] == ["injected-parameters"]
        for name, most in counts.items():
            if isinstance(most, (list, tuple)):  # a list the lesson loops over: only these items kept
                assert f"{name} = [item for item in {name} if item in {list(most)!r}]" in injected.source
                line = next(line for line in injected.source.splitlines() if line.startswith(f"{name} = ["))
                namespace = {name: ["other", *most]}
                exec(line, namespace)  # noqa: S102 - the line the smoke run injects
                assert namespace[name] == list(most)
            else:
                assert f"{name} = ganlib.smoke.cap({name}, {most})" in injected.source
    with pytest.raises(ValueError, match="sets no NOT_A_PARAMETER"):
        gpu_smoke.cut_counts(nbformat.read(path, as_version=4), {"NOT_A_PARAMETER": 1})


def test_the_kernels_get_the_gpu_preset_the_switch_and_no_internet(monkeypatch, tmp_path):
    import urllib.request

    monkeypatch.setenv("GANLIB_ARCHIVES", "/drive/archives")
    monkeypatch.setenv("GANLIB_QUICK", "1")
    environment = gpu_smoke._environment(tmp_path / "sources.json", tmp_path / "data", tmp_path / "keras")
    assert environment["GANLIB_PRESET"] == "gpu" and environment["GANLIB_SMOKE"] == "1"
    assert "GANLIB_ARCHIVES" not in environment and "GANLIB_QUICK" not in environment
    assert environment["PYTHONPATH"].split(os.pathsep)[0] == str(ROOT)
    assert "127.0.0.1" in environment["NO_PROXY"].split(",")
    monkeypatch.setenv("HTTPS_PROXY", environment["HTTPS_PROXY"])
    with pytest.raises(OSError, match="refused"):  # the proxy of every other address refuses at once
        # a fresh opener reads the proxy now (urlopen's shared one keeps what it read at first use)
        urllib.request.build_opener().open("https://example.org/", timeout=5)


def test_make_test_runs_the_gpu_smoke_run():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "test-gpu-smoke" in recipe and "scripts/gpu_smoke.py" in makefile
