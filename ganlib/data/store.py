"""The decoded store of a streamed ImageSet and the memory it shares with TensorFlow.

``DecodedStore`` keeps the decoded uint8 pixels of a list of image files, each decoded the first
time a batch asks for it, in memory or in a ``.npy`` file on disk (``ImageSet.decoded_store``
chooses). Its arrays are 64-byte aligned so that TensorFlow can read them in place through
DLPack (``_shared_tensor``): ``tf.gather`` on that tensor builds a batch without a copy of the
whole set. ``imageset.py`` holds the ``ImageSet`` that uses it.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import warnings
from pathlib import Path

import numpy as np

from .folders import DataFolderError, SkippedFile, _describe_decode_error


def _decoder_settings(decoder):
    fields = getattr(decoder, "__dataclass_fields__", None)
    if fields:
        return {name: repr(getattr(decoder, name)) for name in sorted(fields)}
    return repr(decoder)



class DecodedStore:
    """The decoded uint8 pixels of a list of image files, each file decoded the first time a
    batch asks for it (in parallel: Pillow releases the GIL while it decodes) and then kept.

    ``where`` is 'memory' (a NumPy array), 'disk' (a ``.npy`` file opened as a memory map:
    filled as ``.NAME.PID.partial`` beside ``path`` and renamed to it when every file is
    decoded, then a ``.json`` beside it records the files' names, sizes and times and the
    unreadable ones, so a later run maps the finished file and decodes nothing; a file that
    no longer matches is rebuilt) or 'none' (decode every time, keep nothing).

    Attributes:
        decoded: how many files this store has decoded (the tests count them).
        complete: every file decoded (or found unreadable).
    """

    def __init__(self, files, decoder, shape, where="memory", path=None, report=None, label="images"):
        if where not in ("memory", "disk", "none"):
            raise ValueError(f"where={where!r} is not allowed; use 'memory', 'disk' or 'none'.")
        self.files = list(files)
        self.decoder = decoder
        self.shape = tuple(shape)
        self.where = where
        self.path = None if path is None else Path(path).expanduser()
        self.label = label
        self.decoded = 0
        self._report = report
        self._lock = threading.Lock()
        self._pool = None
        count = len(self.files)
        self._done = np.zeros(count, bool)
        self._bad = np.zeros(count, bool)
        self._reasons = {}
        self._pixels = None
        self._partial = None
        self._complete = False
        # 1 once every file is decoded and none is unreadable: the pipeline then stops calling
        # resolve() (read by TensorFlow through a view of this array, see ready_flag())
        self._ready = _aligned_empty((1,))
        self._ready[0] = 0
        self._tensors = {}
        if where == "memory":
            self._pixels = _aligned_empty((count, *self.shape))
        elif where == "disk":
            if self.path is None:
                raise ValueError("where='disk' needs path= (the .npy file).")
            self._open_disk()
        if self._pixels is not None and not self._complete:
            # share the memory now, before any file is decoded into it: tensor() checks the
            # sharing by writing a byte, which must not race with a decoding thread
            self.tensor()

    # --- disk ------------------------------------------------------------------------------
    @property
    def _meta_path(self) -> Path:
        return self.path.with_name(self.path.name + ".json")

    def _fingerprint(self) -> str:
        listing = []
        for path in self.files:
            try:
                info = os.stat(path)
                listing.append([path, info.st_size, info.st_mtime_ns])
            except OSError:
                listing.append([path, None, None])
        text = json.dumps([_decoder_settings(self.decoder), list(self.shape), listing])
        return hashlib.sha256(text.encode()).hexdigest()

    def _open_disk(self):
        count = len(self.files)
        fingerprint = self._fingerprint()
        if self.path.exists() and self._meta_path.exists():
            try:
                meta = json.loads(self._meta_path.read_text(encoding="utf-8"))
                # copy-on-write map: TensorFlow can share it (DLPack refuses read-only arrays);
                # nothing is written back to the file
                pixels = np.load(self.path, mmap_mode="c")
                if meta.get("fingerprint") == fingerprint and pixels.shape == (count, *self.shape) \
                        and pixels.dtype == np.uint8:
                    self._pixels, self._complete = pixels, True
                    self._done[:] = True
                    for index, reason in meta.get("unreadable", []):
                        self._bad[int(index)] = True
                        self._reasons[int(index)] = reason
                    self._ready[0] = 0 if self._bad.any() else 1
                    self._fingerprint_value = fingerprint
                    return
            except (OSError, ValueError, KeyError, TypeError):
                pass  # unreadable or stale: built again below
        self._fingerprint_value = fingerprint
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        needed = count * int(np.prod(self.shape)) + 4096
        partial = folder / f".{self.path.name}.{os.getpid()}.partial"
        try:
            free = shutil.disk_usage(folder).free
            if free < needed + 256 * 2**20:
                raise OSError(f"{free / 2**30:.1f} GiB free in {folder}, {needed / 2**30:.1f} GiB needed")
            pixels = np.lib.format.open_memmap(partial, mode="w+", dtype=np.uint8, shape=(count, *self.shape))
            if hasattr(os, "posix_fallocate"):  # reserve the space now: a full disk under a
                with open(partial, "r+b") as handle:  # memory map would kill the process later
                    os.posix_fallocate(handle.fileno(), 0, os.path.getsize(partial))
        except OSError as error:
            try:
                os.remove(partial)
            except OSError:
                pass
            warnings.warn(f"{self.label}: no cache file for the decoded pixels ({error}); the images are "
                          "decoded again every epoch.", stacklevel=4)
            self.where = "none"
            return
        self._pixels, self._partial = pixels, partial

    def _finish_disk(self):
        """Every file decoded: flush, rename the partial file into place, then the .json."""
        from ..runfolder import write_json

        self._pixels.flush()
        try:
            os.replace(self._partial, self.path)
            unreadable = [[int(i), self._reasons.get(int(i), "")] for i in np.flatnonzero(self._bad)]
            write_json(self._meta_path, {"fingerprint": self._fingerprint_value, "files": len(self.files),
                                         "shape": list(self.shape), "unreadable": unreadable})
        except OSError as error:
            warnings.warn(f"{self.label}: could not keep the cache file {self.path} ({error}).", stacklevel=2)
        self._partial = None

    # --- decoding --------------------------------------------------------------------------
    @property
    def complete(self) -> bool:
        return self._complete

    def tensor(self):
        """The pixels as a ``tf.Tensor`` that shares this store's memory (so it sees the files
        decoded later), for a ``tf.gather`` per batch: about twice the images/s of a NumPy
        gather handed to TensorFlow through ``tf.numpy_function`` (benchmarks/README.md,
        ``bench --data`` run 4).
        A 'disk' store shares its memory-mapped ``.npy`` file (the operating system reads the
        pages a batch needs). None for a 'none' store, or where TensorFlow cannot share the
        memory (then the pipeline gathers in NumPy)."""
        if self.where == "none" or self._pixels is None:
            return None
        if "pixels" not in self._tensors:
            self._tensors["pixels"] = _shared_tensor(self._pixels, writable=not self._complete)
        return self._tensors["pixels"]

    def ready_flag(self):
        """A one-element uint8 ``tf.Tensor`` sharing memory with the store's flag: 1 once
        every file is decoded and none is unreadable (then ``resolve`` has nothing to do)."""
        if "ready" not in self._tensors:
            self._tensors["ready"] = _shared_tensor(self._ready, writable=True)
        return self._tensors["ready"]

    def resolve(self, indices) -> np.ndarray:
        """Decode the files at ``indices`` not decoded yet and return ``indices`` with each
        unreadable file's number replaced by that of a readable file of the same batch:
        ``pixels[resolve(indices)]`` equals ``gather(indices)`` ('memory' and 'disk' stores)."""
        indices = np.array(indices, dtype=np.int64).reshape(-1)
        if not self._complete:
            self._decode_missing(indices)
        return self._stand_in(indices, indices)

    def _stand_in(self, indices, values):
        """``values`` (one per file of the batch at ``indices``) with each unreadable file's
        value replaced by that of a readable file of the same batch, in turn."""
        bad = self._bad[indices]
        if bad.any():
            good = np.flatnonzero(~bad)
            if good.size == 0:
                raise DataFolderError(f"{self.label}: none of the files of a batch could be read "
                                      f"(e.g. {self.files[int(indices[0])]}).")
            values[bad] = values[good[np.arange(int(bad.sum())) % good.size]]
        return values

    def _decode_missing(self, indices):
        missing = np.unique(indices[~self._done[indices]])
        if missing.size:
            results = self._decode_many(missing)
            for index, pixels, _ in results:
                if pixels is not None:
                    self._pixels[index] = pixels
            with self._lock:
                self.decoded += len(results)
                self._note_bad(results)
                self._done[missing] = True
                if not self._complete and self._done.all():
                    self._complete = True
                    if self._partial is not None:
                        self._finish_disk()
                    self._ready[0] = 0 if self._bad.any() else 1

    def _decode(self, index):
        path = self.files[index]
        try:
            return index, self.decoder(path), None
        except Exception as error:  # reported and replaced, see gather()
            return index, None, _describe_decode_error(error, path)

    def _decode_many(self, indices):
        if len(indices) == 1:
            return [self._decode(int(indices[0]))]
        if self._pool is None:
            import concurrent.futures

            with self._lock:
                if self._pool is None:
                    self._pool = concurrent.futures.ThreadPoolExecutor(
                        max_workers=max(1, min(8, os.cpu_count() or 1)), thread_name_prefix="ganlib-decode")
        return list(self._pool.map(self._decode, [int(i) for i in indices]))

    def _note_bad(self, results):
        new = []
        for index, pixels, reason in results:
            if pixels is None and not self._bad[index]:
                self._bad[index] = True
                self._reasons[index] = reason
                new.append(SkippedFile(self.files[index], reason))
        if new and self._report is not None:
            self._report(new)

    def gather(self, indices) -> np.ndarray:
        """uint8 pixels ``(len(indices), H, W, C)`` of the files at ``indices``."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if self.where == "none":
            batch = np.empty((len(indices), *self.shape), np.uint8)
            results = self._decode_many(indices)
            with self._lock:
                self.decoded += len(results)
                self._note_bad(results)
            for position, (_, pixels, _) in enumerate(results):
                if pixels is not None:
                    batch[position] = pixels
        else:
            if not self._complete:
                self._decode_missing(indices)
            batch = self._pixels[indices]
        return self._stand_in(indices, batch)




_ALIGNMENT = 64


def _aligned_empty(shape, dtype=np.uint8) -> np.ndarray:
    """An uninitialised array of ``shape`` and ``dtype`` whose data start on a 64-byte boundary,
    so that TensorFlow can use its memory without a copy (see :func:`_shared_tensor`)."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape)) * dtype.itemsize
    raw = np.empty(size + _ALIGNMENT, np.uint8)
    offset = -raw.ctypes.data % _ALIGNMENT
    return raw[offset:offset + size].view(dtype).reshape(shape)


def _aligned(array, dtype) -> np.ndarray:
    """``array`` as a C-contiguous, 64-byte aligned, writable array of ``dtype`` (converted as
    ``np.ascontiguousarray(array, dtype=dtype)`` would); no copy when it already is one."""
    array = np.asarray(array)
    dtype = np.dtype(dtype)
    if (array.dtype == dtype and array.flags.c_contiguous and array.flags.writeable
            and array.ctypes.data % _ALIGNMENT == 0):
        return array
    out = _aligned_empty(array.shape, dtype)
    np.copyto(out, array, casting="unsafe")
    return out


def _aligned_uint8(pixels) -> np.ndarray:
    """``pixels`` as a C-contiguous, 64-byte aligned uint8 array (converted as
    ``np.ascontiguousarray(pixels, dtype=np.uint8)`` would); no copy when it already is one."""
    pixels = np.asarray(pixels)
    if pixels.dtype == np.uint8 and pixels.flags.c_contiguous and pixels.ctypes.data % _ALIGNMENT == 0:
        return pixels
    return _aligned(pixels, np.uint8)


def _shared_tensor(array, writable=False):
    """A ``tf.Tensor`` that uses ``array``'s memory (DLPack; no copy), or None where TensorFlow
    cannot (an unaligned or read-only array, an old NumPy). With ``writable`` the array is
    written after this call (a store that decodes while training), so the sharing is checked
    by writing a byte and reading it back through the tensor."""
    import tensorflow as tf

    try:
        if array.ctypes.data % _ALIGNMENT or not array.flags.c_contiguous or array.size == 0:
            return None
        tensor = tf.experimental.dlpack.from_dlpack(array.__dlpack__())
        if writable:
            first = array.reshape(-1)[:1]
            keep = int(first[0])
            shared = True
            for probe in (keep ^ 1, keep):
                first[0] = probe
                shared = shared and int(tf.reshape(tensor, [-1])[0]) == probe
            if not shared:
                return None
        return tensor
    except Exception:  # noqa: BLE001 - any failure to share: the caller copies or gathers in NumPy
        return None

