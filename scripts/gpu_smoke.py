"""The `gpu` preset's smoke run: every lesson at GANLIB_PRESET=gpu on this machine's CPU, with
GANLIB_SMOKE=1 (ganlib.smoke: a few steps of each training and search, nothing else changed) and
stand-in data in the real data sets' layouts, so that a change that breaks the Colab path fails CI.

The stand-ins are made in a temporary folder and served from 127.0.0.1, and GANLIB_SOURCES names
their addresses and checksums (ganlib.data.downloads.read_sources_file), so the loaders go the
Colab way: download, verify the checksum, unpack, read.

* CelebA: img_align_celeba.zip, img_align_celeba/000001.jpg ... (178x218 JPEGs), checked by md5;
* Pokemon: pokemon.zip, pokemon/<number>/<number>-<k>.png (RGBA sprites of different sizes on
  transparent or white canvases, one subfolder per Pokemon, as d2l packs them), checked by sha1;
* MNIST: mnist.npz as keras.datasets.mnist has it (x_train, y_train, x_test, y_test; 28x28 uint8
  digits), checked by sha256, downloaded into KERAS_HOME/datasets.

The notebooks are executed as copies in the temporary folder (notebooks/ is never written), in
order, so lesson 05 finds lesson 02's run as it does in Colab; a few of a lesson's own counts are
cut in its copy (LESSON_COUNTS). A notebook fails on any error, or
when a loader used its offline fallback instead of the stand-in (EXPECTED below).
Usage: python scripts/gpu_smoke.py [--jobs 2] [--keep DIR] [notebooks/03_*.ipynb ...]
"""
from __future__ import annotations

import argparse
import functools
import hashlib
import http.server
import io
import json
import os
import re
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's ganlib, here and (PYTHONPATH below) in the kernels

#: How many stand-in images: CelebA enough for lesson 02's CelebA path (at least 1,000 faces
#: to train on after its 20% held out), a few hundred sprites, MNIST 100 per class.
CELEBA_COUNT = 1250
POKEMON_COUNT = 60      # Pokemon (subfolders) ...
SPRITES_PER_POKEMON = 5  # ... of this many sprites each
MNIST_TRAIN, MNIST_TEST = 800, 200

#: The lessons' own counts of repeated work that cost minutes at `gpu` on a CPU, cut to at most
#: these by ``ganlib.smoke.cap`` in a cell put after the copy's parameters cell (where papermill
#: puts its injected parameters); a name missing from the parameters cell fails the run.
LESSON_COUNTS = {
    # hand-written (eager) iterations; D-only steps; seeds of the repeated comparisons (quick's 2)
    "01": {"HAND_STEPS": 10, "PRETRAIN_STEPS": 200, "SEEDS": 2},
    "02": {"N_EVAL": 200},                            # generated faces for the metrics
    # generated sprites per model for the metrics; two of the six trainings (three rows: the plain
    # DCGAN and DiffAugment's pair, which share one run): each costs ~20 s of tracing at 64x64
    "03": {"N_EVAL": 128, "RECIPE_ROWS": ("dcgan-2015", "dcgan+diffaugment", "dcgan+diffaugment+ema")},
    # toy seeds per (target, loss) and image seeds (20 and 6 runs at gpu); 20,000 sprites take 40 s to draw
    "04": {"TOY_SEEDS": 1, "IMAGE_SEEDS": 1, "N_SPRITES": 2000, "N_HELD_OUT": 200},
    # perceptual weights compared (quick's three); held-out faces per mask (quick's 4): the
    # searches, fills and blends work on every face of every mask (their four cells took 82 s of
    # the copy's 97 with gpu's 32 faces, beside another lesson; 25 s of 41 with 4, alone)
    "05": {"LAMBDAS": (0, 0.1, 10), "N_TEST": 4},
    "06": {"PER_CLASS": 20},                          # generated digits per class for the judge
}

#: A line each lesson prints when it used the stand-in (not its offline fallback).
EXPECTED = {
    "02": "load_faces: using CelebA",
    "03": "load_sprites: reading sprites from",
    "05": "Using the GAN trained in lesson 02",
    "06": "load_mnist: using MNIST",
}


def _digest(path, algorithm):
    hashed = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(2**20), b""):
            hashed.update(block)
    return f"{algorithm}:{hashed.hexdigest()}"


def make_celeba(folder, count=CELEBA_COUNT, seed=0) -> Path:
    """img_align_celeba.zip: ``count`` 178x218 JPEGs named as CelebA's (000001.jpg ...) in
    img_align_celeba/, each a face-like ellipse on a gradient (stored: JPEGs do not compress)."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    archive = Path(folder) / "img_align_celeba.zip"
    rows = np.linspace(0.0, 1.0, 218)[:, None, None]
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as bundle:
        for index in range(1, count + 1):
            top, bottom = rng.uniform(40, 220, 3), rng.uniform(40, 220, 3)
            pixels = np.broadcast_to(top + (bottom - top) * rows, (218, 178, 3)).astype(np.uint8)
            image = Image.fromarray(np.ascontiguousarray(pixels))
            draw = ImageDraw.Draw(image)
            width, height = rng.uniform(70, 110), rng.uniform(100, 140)
            centre = (89 + rng.uniform(-8, 8), 118 + rng.uniform(-8, 8))
            draw.ellipse([centre[0] - width / 2, centre[1] - height / 2, centre[0] + width / 2,
                          centre[1] + height / 2], fill=tuple(int(v) for v in rng.uniform(120, 240, 3)))
            for side in (-1, 1):  # eyes
                eye = (centre[0] + side * width / 5, centre[1] - height / 8)
                draw.ellipse([eye[0] - 6, eye[1] - 4, eye[0] + 6, eye[1] + 4], fill=(40, 30, 30))
            buffer = io.BytesIO()
            image.save(buffer, "JPEG", quality=90)
            bundle.writestr(f"img_align_celeba/{index:06d}.jpg", buffer.getvalue())
    return archive


def make_pokemon(folder, pokemon=POKEMON_COUNT, per_pokemon=SPRITES_PER_POKEMON, seed=0) -> Path:
    """pokemon.zip: pokemon/<number>/<number>-<k>.png, RGBA sprites (ganlib's procedural
    creatures: different canvas sizes, transparent or white backgrounds, a few duplicates)."""
    from PIL import Image

    from ganlib.data import procedural_sprites, to_uint8

    sprites = procedural_sprites(pokemon * per_pokemon, seed=seed)
    archive = Path(folder) / "pokemon.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for index, sprite in enumerate(sprites):
            number, k = divmod(index, per_pokemon)
            buffer = io.BytesIO()
            Image.fromarray(to_uint8(np.asarray(sprite)), "RGBA").save(buffer, "PNG")
            bundle.writestr(f"pokemon/{number + 1}/{number + 1}-{k}.png", buffer.getvalue())
    return archive


def make_mnist(folder, train=MNIST_TRAIN, test=MNIST_TEST, seed=0) -> Path:
    """mnist.npz in keras.datasets.mnist's layout: x_train (n, 28, 28) uint8, y_train (n,)
    uint8, x_test, y_test; the digits are scikit-learn's 8x8 ones, enlarged to 20x20 and
    centred in 28x28 as MNIST's are."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(digits.images), train + test, replace=False)
    images = np.zeros((train + test, 28, 28), np.uint8)
    for row, index in enumerate(chosen):
        small = Image.fromarray(np.uint8(digits.images[index] * 255 / 16))
        images[row, 4:24, 4:24] = np.asarray(small.resize((20, 20), Image.BILINEAR))
    labels = digits.target[chosen].astype(np.uint8)
    path = Path(folder) / "mnist.npz"
    np.savez_compressed(path, x_train=images[:train], y_train=labels[:train], x_test=images[train:],
                        y_test=labels[train:])
    return path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(folder):
    """An HTTP server for ``folder`` on a free port of 127.0.0.1, in a daemon thread; returns
    (server, base URL). ``server.shutdown()`` stops it."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def _refusing_address() -> str:
    """http://127.0.0.1:<a port nobody listens on>: a connection there is refused at once."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def stand_ins(folder, base_url) -> Path:
    """Make the three stand-ins in ``folder`` and write ``sources.json`` beside them: their
    addresses under ``base_url`` and their checksums, each in the algorithm of the real data
    set's published checksum. Returns the JSON file's path (for GANLIB_SOURCES)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = {"celeba": (make_celeba(folder), "md5"), "pokemon": (make_pokemon(folder), "sha1"),
             "mnist": (make_mnist(folder), "sha256")}
    table = {name: {"mirrors": [f"{base_url}/{path.name}"], "checksum": _digest(path, algorithm)}
             for name, (path, algorithm) in files.items()}
    sources = folder / "sources.json"
    sources.write_text(json.dumps(table, indent=1))
    return sources


def cut_counts(notebook, counts):
    """Put a cell after the notebook's ``parameters`` cell that caps each of ``counts``
    (name -> at most) with ``ganlib.smoke.cap``, or, for a list or tuple, keeps only the items it
    names; ValueError when a name is not set there."""
    import nbformat

    if not counts:
        return notebook
    tagged = [index for index, cell in enumerate(notebook.cells)
              if "parameters" in cell.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        raise ValueError(f"{len(tagged)} cells tagged 'parameters'; the smoke run needs one")
    source = notebook.cells[tagged[0]].source
    missing = [name for name in counts if f"{name} = " not in source]
    if missing:
        raise ValueError(f"the parameters cell sets no {', '.join(missing)}: update LESSON_COUNTS")
    lines = ["# gpu smoke run (scripts/gpu_smoke.py): the lesson's own counts, cut"]
    lines += [f"{name} = [item for item in {name} if item in {list(most)!r}]" if isinstance(most, (list, tuple))
              else f"{name} = ganlib.smoke.cap({name}, {most})" for name, most in counts.items()]
    cell = nbformat.v4.new_code_cell("\n".join(lines))
    cell.metadata["tags"] = ["injected-parameters"]
    notebook.cells.insert(tagged[0] + 1, cell)
    return notebook


def _outputs_text(notebook) -> str:
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                texts.append(output.get("text", ""))
            elif "data" in output:
                texts.append(output["data"].get("text/plain", ""))
    return "\n".join(texts)


def execute(copy) -> int:
    """Execute the notebook ``copy`` in place, in its folder (a child process of ``run``);
    print the failing cell's error and return 1 when a cell fails."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    copy = Path(copy)
    notebook = nbformat.read(copy, as_version=4)
    client = NotebookClient(notebook, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(copy.parent)}})
    try:
        client.execute()
    except CellExecutionError as error:
        print(str(error)[-3000:], flush=True)
        return 1
    finally:
        nbformat.write(notebook, copy)
    import resource  # the kernel has been shut down and waited for: its peak is the children's

    print(f"kernel peak memory: {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MiB", flush=True)
    return 0


def _environment(sources, data, keras_home) -> dict:
    """The kernels' environment: the gpu preset, the switch, the stand-ins, this checkout's
    ganlib, and every other address refused at once (as offline: lesson 02's KID weights)."""
    environment = dict(os.environ)
    for name in ("GANLIB_ARCHIVES", "GANLIB_OFFLINE", "GANLIB_QUICK"):
        environment.pop(name, None)
    environment.update({
        "GANLIB_PRESET": "gpu", "GANLIB_SMOKE": "1", "GANLIB_SOURCES": str(sources),
        "GANLIB_DATA": str(data), "KERAS_HOME": str(keras_home), "GANLIB_PROGRESS": "0",
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
    })
    local = ",".join(filter(None, ["127.0.0.1", "localhost", os.environ.get("NO_PROXY")]))
    refused = _refusing_address()
    environment.update({"NO_PROXY": local, "no_proxy": local, "HTTP_PROXY": refused, "HTTPS_PROXY": refused,
                        "http_proxy": refused, "https_proxy": refused})
    return environment


#: A lesson that reads another's run folder starts when that one has finished.
AFTER = {"05": "02"}
#: Lessons started before the others (then the rest in order): lesson 02 and the lesson 05 that
#: waits for it are the longest chain; started last, they set the run's length.
FIRST = ("02",)


def run(paths, workdir: Path, jobs: int = 2) -> int:
    """Execute copies of ``paths`` in ``workdir`` at the gpu preset with the smoke switch,
    ``jobs`` at a time (each in its own process and kernel, those of ``FIRST`` first, then in
    order; a lesson of ``AFTER`` waits for the one it reads); print each one's time as it ends;
    return how many failed."""
    import subprocess
    import nbformat
    from concurrent.futures import ThreadPoolExecutor, as_completed

    served, data, keras_home, lessons = (workdir / name for name in ("served", "data", "keras", "notebooks"))
    for folder in (served, data, keras_home, lessons):
        folder.mkdir(parents=True, exist_ok=True)
    server, base_url = serve(served)
    started = time.perf_counter()
    sources = stand_ins(served, base_url)
    print(f"stand-ins (CelebA {CELEBA_COUNT} faces, Pokemon {POKEMON_COUNT * SPRITES_PER_POKEMON} sprites, "
          f"MNIST {MNIST_TRAIN + MNIST_TEST} digits) made in {time.perf_counter() - started:.1f} s, "
          f"served at {base_url}; {jobs} notebook(s) at a time", flush=True)
    environment = _environment(sources, data, keras_home)
    finished = {Path(path).name[:2]: threading.Event() for path in paths}

    def one(path):
        lesson, copy = path.name[:2], lessons / path.name
        try:
            if AFTER.get(lesson) in finished:
                finished[AFTER[lesson]].wait()
            notebook = nbformat.read(path, as_version=4)
            try:
                cut_counts(notebook, LESSON_COUNTS.get(lesson, {}))
            except ValueError as error:  # the lesson's parameters changed
                return path.name, 0.0, str(error), ""
            nbformat.write(notebook, copy)
            start = time.perf_counter()
            child = subprocess.run([sys.executable, __file__, "--execute", str(copy)], env=environment,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            seconds = time.perf_counter() - start
            peak = re.search(r"kernel peak memory: (\d+) MiB", child.stdout)
            peaks[path.name] = int(peak.group(1)) if peak else None
            problem = None
            if child.returncode:
                lines = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in child.stdout.splitlines() if line.strip()]
                problem = (lines or ["no output"])[-1][:300]
            elif EXPECTED.get(lesson) and EXPECTED[lesson] not in _outputs_text(nbformat.read(copy, as_version=4)):
                problem = f"no line {EXPECTED[lesson]!r}: the stand-in data was not used"
            return path.name, seconds, problem, child.stdout if child.returncode else ""
        finally:
            finished[lesson].set()

    failures, total, peaks = [], time.perf_counter(), {}
    try:
        paths = [Path(path) for path in paths]
        started_first = sorted(paths, key=lambda path: path.name[:2] not in FIRST)  # stable: else in order
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            for future in as_completed([pool.submit(one, path) for path in started_first]):
                name, seconds, problem, log = future.result()
                if log:
                    print(log[-3000:], flush=True)
                memory = f", kernel peak {peaks[name]:,} MiB" if peaks.get(name) else ""
                print(f"{name}: {seconds:6.1f} s{memory}  {'ok' if problem is None else 'FAILED: ' + problem}",
                      flush=True)
                if problem is not None:
                    failures.append(name)
    finally:
        server.shutdown()
    print(f"gpu smoke run: {len(paths) - len(failures)} of {len(paths)} notebooks ran in "
          f"{time.perf_counter() - total:.0f} s" + (f"; failed: {', '.join(failures)}" if failures else ""))
    return len(failures)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="default: every notebooks/[0-9]*.ipynb, in order")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (executed copies, data)")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks at a time (default 2: much of "
                        "the run is TensorFlow tracing, one thread)")
    parser.add_argument("--execute", metavar="COPY", help=argparse.SUPPRESS)  # run()'s child process
    args = parser.parse_args(argv)
    if args.execute:
        return execute(args.execute)
    if args.jobs < 1:
        parser.error(f"--jobs {args.jobs}: give 1 or more")
    paths = args.notebooks or sorted(str(p) for p in (ROOT / "notebooks").glob("[0-9]*.ipynb"))
    if args.keep:
        workdir = Path(args.keep).resolve()
        if workdir.exists():
            parser.error(f"--keep {args.keep}: it exists already; give a new folder")
        return 1 if run(paths, workdir, args.jobs) else 0
    with tempfile.TemporaryDirectory(prefix="ganlib-gpu-smoke-") as folder:
        return 1 if run(paths, Path(folder), args.jobs) else 0


if __name__ == "__main__":
    sys.exit(main())
