"""Tests of the streamed data pipeline (issue 15): a streamed ImageSet keeps its length and the
pipeline its number of batches (so fit_gan reads no file to count them), each file is decoded
once and kept (in memory or in a .npy cache file written atomically), the JPEG shortcut gives
the same pixels as the general decoder, and ``bench --data`` measures it all. Speed itself is
reported by the benchmark (benchmarks/README.md), not asserted here.
"""
import json
import os
import warnings

import keras
import numpy as np
import pytest
from PIL import Image

import ganlib.data as gd
from ganlib import _bench, models
from ganlib.data.files import _Decoder
from ganlib.data.imageset import ImageSet, _FastDecoder
from ganlib.data.store import DecodedStore
from ganlib.train import GAN, fit_gan


def _numbered_jpegs(folder, count, size=(20, 24)):
    """JPEGs whose top-left pixel (after a 12x12 crop resized to 6x6) tells their number."""
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        pixels = np.full((size[1], size[0], 3), index * 3 % 256, np.uint8)
        Image.fromarray(pixels).save(folder / f"{index:04d}.jpg", quality=100)
    return folder


class CountingDecoder:
    """A decoder that counts the files it decodes (thread-safe enough for a counter)."""

    def __init__(self, decoder):
        self.decoder, self.calls = decoder, 0

    def __repr__(self):  # the disk cache's fingerprint includes the decoder's settings
        return repr(self.decoder)

    def __call__(self, path):
        self.calls += 1
        return self.decoder(path)


def _streamed(folder, image_size=6, crop=12):
    images = gd.load_folder(folder, image_size, crop=crop, in_memory=False, verbose=False)
    counter = CountingDecoder(images._decoder)
    return ImageSet("folder", "counted", images.image_size, images.channels, files=images.files,
                    decoder=counter, root=folder), counter


def _values(batch):
    return np.rint((np.asarray(batch)[:, 0, 0, 0] + 1) * 127.5).astype(int)


def test_streamed_set_keeps_its_length_and_the_pipeline_its_batch_count(tmp_path):
    folder = _numbered_jpegs(tmp_path / "faces", 40)
    images, counter = _streamed(folder)
    assert len(images) == 40 and not images.in_memory
    batches = images.pipeline(batch_size=8, seed=0)
    assert int(batches.cardinality()) == 5  # known without reading a file
    assert int(images.pipeline(batch_size=8, drop_remainder=False, cache=False).cardinality()) == 5
    assert int(images.pipeline(batch_size=6, drop_remainder=False, cache=False).cardinality()) == 7
    # image_folder's data set (streamed) through training_pipeline gets the same path
    dataset = gd.image_folder(folder, 6, crop=12, in_memory=False, verbose=False)
    assert int(gd.training_pipeline(dataset, batch_size=8).cardinality()) == 5
    assert counter.calls == 0  # building pipelines decodes nothing


class FirstStep(keras.callbacks.Callback):
    def __init__(self, counter):
        super().__init__()
        self.counter, self.decoded_before_first_step = counter, None

    def on_train_batch_begin(self, batch, logs=None):
        if self.decoded_before_first_step is None:
            self.decoded_before_first_step = self.counter.calls


def test_fit_gan_does_not_read_the_whole_set_to_count_batches(tmp_path):
    folder = _numbered_jpegs(tmp_path / "faces", 256)
    images, counter = _streamed(folder, image_size=16, crop=16)
    keras.utils.set_random_seed(0)
    gan = GAN(models.dcgan_generator(8, 16, 3, width=4), models.dcgan_discriminator(16, 3, width=4), 8, seed=0)
    first = FirstStep(counter)
    history = fit_gan(gan, images.pipeline(batch_size=4, seed=0), 1, tmp_path / "run", checkpoint_every=None,
                      n_samples=4, save_models=False, callbacks=[first], verbose=0)
    assert history.status == "completed" and len(history["step"]) == 64  # 256 // 4 steps, one epoch
    # before: the unknown cardinality made fit_gan decode all 256 files before the first step;
    # now only the batches the check and the prefetch asked for
    assert first.decoded_before_first_step is not None and first.decoded_before_first_step <= 64
    assert counter.calls == 256  # and each file exactly once for the whole epoch


@pytest.mark.parametrize("cache", [True, "auto"])
def test_each_file_is_decoded_once_and_every_epoch_reshuffled(tmp_path, cache):
    folder = _numbered_jpegs(tmp_path / "faces", 24)
    images, counter = _streamed(folder)
    batches = images.pipeline(batch_size=4, seed=0, cache=cache)
    epochs = [np.concatenate([_values(b) for b in batches.as_numpy_iterator()]) for _ in range(3)]
    expected = sorted(index * 3 % 256 for index in range(24))
    assert all(sorted(epoch.tolist()) == expected for epoch in epochs)   # each image once an epoch
    assert len({tuple(epoch) for epoch in epochs}) == 3                  # a new order every epoch
    assert counter.calls == 24 and images.decoded_store(cache).complete  # decoded once, kept
    again = images.pipeline(batch_size=4, seed=0, cache=cache)           # the same store again
    np.testing.assert_array_equal(np.concatenate([_values(b) for b in again.as_numpy_iterator()]), epochs[0])
    assert counter.calls == 24
    uncached = images.pipeline(batch_size=4, seed=0, cache=False)
    for _ in range(2):
        list(uncached.as_numpy_iterator())
    assert counter.calls == 24 + 48  # cache=False decodes every epoch


def test_pipeline_pixels_equal_the_in_memory_set(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for index in range(6):
        Image.fromarray(rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)).save(folder / f"{index}.jpg")
    in_memory = gd.load_folder(folder, 64, crop=108, in_memory=True, verbose=False)
    streamed = gd.load_folder(folder, 64, crop=108, in_memory=False, verbose=False)
    batch = next(iter(streamed.pipeline(batch_size=6, shuffle=False)))
    np.testing.assert_array_equal(np.asarray(batch), in_memory.numpy())
    assert np.asarray(batch).dtype == np.float32


@pytest.mark.parametrize("crop, image_size, mode, rotated", [
    ((108, 108), (64, 64), "RGB", False),   # CelebA at 64: the shortcut
    ((108, 108), (128, 128), "RGB", False),  # upsampled: the shortcut
    ("square", (32, 48), "RGB", False),
    (None, (40, 30), "RGB", False),
    ((108, 108), (16, 16), "RGB", False),   # JPEG draft mode: the general way
    ("square", (64, 64), "L", False),        # grey JPEG read as RGB: the general way
    ((108, 108), (64, 64), "RGB", True),    # EXIF rotation: the general way
])
def test_fast_jpeg_decoder_gives_the_general_decoders_pixels(tmp_path, crop, image_size, mode, rotated):
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)
    image = Image.fromarray(pixels).convert(mode)
    path = tmp_path / "photo.jpg"
    if rotated:
        exif = Image.Exif()
        exif[0x0112] = 6
        image.save(path, quality=95, exif=exif.tobytes())
    else:
        image.save(path, quality=95)
    general = _Decoder(image_size, 3, crop, "bicubic")(str(path))
    fast = _FastDecoder(image_size, 3, crop, "bicubic")(str(path))
    assert fast.shape == (*image_size, 3)
    np.testing.assert_array_equal(fast, general)


def test_disk_store_is_written_atomically_and_reused_by_the_next_run(tmp_path):
    folder = _numbered_jpegs(tmp_path / "faces", 20)
    cache_file = tmp_path / "cache" / "faces.npy"
    images, counter = _streamed(folder)
    batches = images.pipeline(batch_size=4, seed=0, cache=cache_file)
    iterator = batches.as_numpy_iterator()
    next(iterator)
    assert not cache_file.exists()  # only a hidden .partial file until every file is decoded
    assert any(name.endswith(".partial") for name in os.listdir(cache_file.parent))
    first_epoch = np.concatenate([_values(b) for b in batches.as_numpy_iterator()])
    assert cache_file.exists() and (cache_file.parent / "faces.npy.json").exists()
    assert not any(name.endswith(".partial") for name in os.listdir(cache_file.parent))
    stored = np.load(cache_file)
    assert stored.shape == (20, 6, 6, 3) and stored.dtype == np.uint8
    assert json.loads((cache_file.parent / "faces.npy.json").read_text())["files"] == 20
    # a new set (the next run) maps the finished file and decodes nothing
    next_run, next_counter = _streamed(folder)
    replay = np.concatenate([_values(b) for b in next_run.pipeline(batch_size=4, seed=0, cache=cache_file)])
    assert next_counter.calls == 0
    assert sorted(replay.tolist()) == sorted(first_epoch.tolist())
    # a changed file makes the cache stale: built again
    Image.fromarray(np.zeros((24, 20, 3), np.uint8)).save(folder / "0003.jpg", quality=100)
    os.utime(folder / "0003.jpg", ns=(1, 1))
    changed, changed_counter = _streamed(folder)
    list(changed.pipeline(batch_size=4, seed=0, cache=cache_file).as_numpy_iterator())
    assert changed_counter.calls == 20


def test_default_disk_cache_goes_to_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("GANLIB_DATA", str(tmp_path / "data"))
    monkeypatch.setattr("ganlib.data.imageset._memory_budget", lambda: 100)  # too big for memory
    folder = _numbered_jpegs(tmp_path / "faces", 12)
    images, _ = _streamed(folder)
    store = images.decoded_store("auto")
    assert store.where == "disk" and store.path.parent == tmp_path / "data" / "decoded"
    list(images.pipeline(batch_size=4, cache="auto").as_numpy_iterator())
    assert store.complete and store.path.exists()


def test_unreadable_file_found_while_training_is_reported_and_replaced(tmp_path):
    folder = _numbered_jpegs(tmp_path / "faces", 12)
    good = (folder / "0005.jpg").read_bytes()
    (folder / "0005.jpg").write_bytes(good[:40])  # a JPEG header, then nothing: passes the listing
    images = gd.load_folder(folder, 6, crop=12, in_memory=False, verbose=False)
    assert len(images) == 12
    with pytest.warns(gd.SkippedImageWarning, match="0005.jpg"):
        epoch = [b for b in images.pipeline(batch_size=4, shuffle=False).as_numpy_iterator()]
    assert [len(b) for b in epoch] == [4, 4, 4]  # the batch keeps its size
    values = np.concatenate([_values(b) for b in epoch])
    assert 15 not in values.tolist()            # image 5 (value 15) was replaced by another
    assert [item.name for item in images.skipped] == ["0005.jpg"] and len(images) == 11


def test_store_and_pipeline_bad_arguments(tmp_path):
    folder = _numbered_jpegs(tmp_path / "faces", 8)
    images, _ = _streamed(folder)
    with pytest.raises(ValueError, match="cache=3.*'auto', True, False"):
        images.pipeline(batch_size=2, cache=3)
    with pytest.raises(ValueError, match="batch_size=16.*8 images"):
        images.pipeline(batch_size=16)
    with pytest.raises(ValueError, match="augment='flip'"):
        images.pipeline(batch_size=2, augment="flip")
    with pytest.raises(ValueError, match="where='cloud'.*'memory', 'disk' or 'none'"):
        DecodedStore(images.files, images._decoder, images.shape, where="cloud")
    in_memory = gd.load_folder(folder, 6, crop=12, in_memory=True, verbose=False)
    with pytest.raises(ValueError, match="streamed"):
        in_memory.decoded_store()


def test_data_benchmark_prints_each_row_and_the_limit(tmp_path, capsys):
    rows = _bench.data_pipeline(count=48, image_size=16, crop=108, batch_size=16, epochs=2,
                                json_path=str(tmp_path / "data.json"))
    names = {row["row"] for row in rows}
    assert {"limit: NumPy gather of uint8 batches", "memory: decode once, uint8 in memory",
            "disk, next run: the finished .npy file"} <= names
    assert all(row["images"] == 48 and row["per_s"] > 0 for row in rows if not row["row"].startswith("limit"))
    out = capsys.readouterr().out
    assert "| pipeline | epoch | images/s (wall) | x NumPy uint8 limit" in out
    assert json.loads((tmp_path / "data.json").read_text())["settings"]["count"] == 48
    # uint8 batches (dtype='uint8'): per epoch as the other rows, and as one stream as fit_gan reads
    uint8_rows = [row for row in rows if "uint8 batches" in row["row"] and not row["row"].startswith("limit")]
    assert {row["row"] for row in uint8_rows} == {
        "memory, uint8 batches (dtype='uint8'), new iterator per epoch",
        "memory, uint8 batches, one stream as fit_gan reads",
        "disk, next run, uint8 batches, one stream", "in memory from the start, uint8 batches, one stream"}
    assert all(row["images"] == 48 and row["of_limit"] > 0 for row in uint8_rows)
    assert {row["epoch"] for row in uint8_rows} == {"epoch 1", "epochs 2+", "epochs 1+"}
    assert len([row for row in uint8_rows if row["row"].startswith("in memory")]) == 11
    assert len([row for row in rows if row["row"] == "limit: NumPy gather of uint8 batches"]) == 4 * 5  # before each uint8 row
    assert "load average" in out


@pytest.mark.parametrize("argv, words", [
    (["bench", "--data", "--data-count", "0"], ("--data-count=0", "positive")),
    (["bench", "--data", "--data-count", "10"], ("--data-count=10", "--data-batch-size=128")),
    (["bench", "--data", "--data-epochs", "-1"], ("--data-epochs=-1", "positive")),
])
def test_bench_data_arguments_are_checked(argv, words, capsys):
    from ganlib import cli

    assert cli.main(argv) != 0
    err = capsys.readouterr().err
    assert all(word in err for word in words), err


def test_memory_store_is_gathered_through_shared_memory_and_resolve_stops_once_complete(tmp_path):
    """The pipeline is made before any file is decoded: its tf.gather must see the pixels the
    store decodes later (shared memory, not a copy), and once every file is decoded the Python
    call per batch (resolve) is skipped."""
    folder = _numbered_jpegs(tmp_path / "faces", 24)
    images, counter = _streamed(folder)
    store = images.decoded_store(True)
    assert store.tensor() is not None and int(store.ready_flag()[0]) == 0
    calls = []
    resolve = store.resolve
    store.resolve = lambda indices: calls.append(len(indices)) or resolve(indices)
    batches = images.pipeline(batch_size=4, seed=0, cache=True, dtype="uint8")
    epochs = []
    for _ in range(3):
        epochs.append(np.concatenate([b[:, 0, 0, 0] for b in batches.as_numpy_iterator()]).astype(int))
        if len(epochs) == 1:
            assert calls == [4] * 6 and store.complete and int(store.ready_flag()[0]) == 1
    assert calls == [4] * 6                               # epochs 2 and 3: no Python call per batch
    expected = sorted(index * 3 % 256 for index in range(24))
    assert all(sorted(epoch.tolist()) == expected for epoch in epochs) and counter.calls == 24
    # the same batches, in the same order, as the NumPy gather through tf.numpy_function
    from ganlib.data.imageset import _index_batches
    numpy_path = _index_batches(24, 4, store.gather, store.shape, True, 0, True, False, 24)
    np.testing.assert_array_equal(np.concatenate([b[:, 0, 0, 0] for b in numpy_path.as_numpy_iterator()]),
                                  epochs[0])


def test_unreadable_file_keeps_resolve_on_and_is_replaced_as_gather_replaces_it(tmp_path):
    folder = _numbered_jpegs(tmp_path / "faces", 12)
    (folder / "0005.jpg").write_bytes((folder / "0005.jpg").read_bytes()[:40])
    images = gd.load_folder(folder, 6, crop=12, in_memory=False, verbose=False)
    store = images.decoded_store(True)
    with pytest.warns(gd.SkippedImageWarning, match="0005.jpg"):
        first = [b for b in images.pipeline(batch_size=4, shuffle=False, cache=True, dtype="uint8")
                 .as_numpy_iterator()]
    assert store.complete and int(store.ready_flag()[0]) == 0  # an unreadable file: keep resolving
    again = [b for b in images.pipeline(batch_size=4, shuffle=False, cache=True, dtype="uint8")
             .as_numpy_iterator()]
    for batches in (first, again):
        assert [len(b) for b in batches] == [4, 4, 4] and 15 not in np.concatenate(batches)[:, 0, 0, 0]
    for number, batch in enumerate(again):
        np.testing.assert_array_equal(batch, store.gather(np.arange(4 * number, 4 * number + 4)))
    np.testing.assert_array_equal(store.resolve([4, 5, 6, 7]), [4, 4, 6, 7])


def test_pixels_are_aligned_once_and_shared_with_tensorflow_without_a_copy():
    from ganlib.data.store import _ALIGNMENT, _aligned_uint8, _shared_tensor

    raw = np.zeros(4 * 8 * 8 * 3 + 1, np.uint8)
    unaligned = raw[1:].reshape(4, 8, 8, 3) if raw[1:].ctypes.data % _ALIGNMENT else raw[2:-1].reshape(4, 8, 8, 3)
    unaligned[:] = np.arange(4)[:, None, None, None]
    aligned = _aligned_uint8(unaligned)
    assert aligned.ctypes.data % _ALIGNMENT == 0 and not np.shares_memory(aligned, unaligned)
    np.testing.assert_array_equal(aligned, unaligned)
    assert _aligned_uint8(aligned) is aligned                       # no second copy
    converted = _aligned_uint8(np.full((2, 2), 7.9))                # as np.ascontiguousarray(dtype=uint8)
    np.testing.assert_array_equal(converted, np.ascontiguousarray(np.full((2, 2), 7.9), dtype=np.uint8))
    assert _shared_tensor(unaligned) is None                        # TensorFlow would have to copy
    tensor = _shared_tensor(aligned, writable=True)
    aligned[3, 7, 7, 2] = 200
    assert int(tensor[3, 7, 7, 2]) == 200                           # one memory, seen by both
    images = ImageSet("test", "aligned", (8, 8), 3, pixels=unaligned)
    assert images._pixels.ctypes.data % _ALIGNMENT == 0
    batch = next(iter(images.pipeline(batch_size=4, shuffle=False, dtype="uint8")))
    np.testing.assert_array_equal(np.asarray(batch), unaligned)
