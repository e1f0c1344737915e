"""Pictures for the lessons: image grids, training curves, nearest neighbours, GIFs.

Images come in ganlib's convention: float arrays in [-1, 1], shape (N, H, W, C) with
C = 1 (grey), 3 (RGB) or 4 (RGBA). RGBA is shown composited on a white background, the
way a sprite with a transparent background looks on a page.
"""
from __future__ import annotations

import math
import os
import warnings

import numpy as np

from ._checks import check_positive

__all__ = [
    "display_uint8",
    "image_grid",
    "save_image_grid",
    "show_images",
    "plot_history",
    "nearest_neighbours",
    "plot_nearest_neighbours",
    "save_gif",
]


def _as_images(images, name="images"):
    """(N, H, W, C) float array with C in 1/3/4; a single (H, W, C) image becomes N=1."""
    if hasattr(images, "numpy"):
        images = images.numpy()
    array = np.asarray(images, dtype=np.float32)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[-1] not in (1, 3, 4) or array.shape[0] == 0:
        raise ValueError(
            f"{name} has shape {array.shape}; expected (N, H, W, C) or (H, W, C) with N >= 1 "
            "and C = 1, 3 or 4 (channels last)."
        )
    return array


def display_uint8(images):
    """[-1, 1] images as 8-bit pictures to show: RGB or grey, RGBA composited on white.

    Returns (N, H, W, 3) for colour and RGBA input, (N, H, W) for grey input. The pixel
    mapping is ``ganlib.data.to_uint8`` (the one [-1, 1] -> [0, 255] conversion, which clips
    values outside [-1, 1]); this function only chooses how to show the channels.
    """
    from .data.files import to_uint8 as pixels_uint8

    images = _as_images(images)
    if images.shape[-1] == 4:
        unit = (np.clip(images, -1.0, 1.0) + 1.0) / 2.0
        alpha = unit[..., 3:4]
        images = (unit[..., :3] * alpha + (1.0 - alpha)) * 2.0 - 1.0  # "over" a white background
    elif images.shape[-1] == 1:
        images = images[..., 0]
    return pixels_uint8(images)



def image_grid(images, ncols: int | None = None, padding: int = 2, pad_value: int = 255):
    """Tile images into one uint8 picture, ``ncols`` per row (default: a near square).

    Returns an (H', W', 3) array for colour/RGBA input or (H', W') for grey input, with
    ``padding`` pixels of ``pad_value`` (white) between and around the tiles.
    """
    tiles = display_uint8(images)
    count, height, width = tiles.shape[:3]
    if ncols is None:
        ncols = int(math.ceil(math.sqrt(count)))
    ncols = check_positive("ncols", ncols, integer=True)
    if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
        raise ValueError(f"padding={padding!r} must be an integer >= 0.")
    ncols = min(ncols, count)
    nrows = int(math.ceil(count / ncols))
    shape = (nrows * (height + padding) + padding, ncols * (width + padding) + padding) + tiles.shape[3:]
    grid = np.full(shape, pad_value, dtype=np.uint8)
    for index, tile in enumerate(tiles):
        row, col = divmod(index, ncols)
        top, left = padding + row * (height + padding), padding + col * (width + padding)
        grid[top:top + height, left:left + width] = tile
    return grid


def save_image_grid(images, path, ncols: int | None = None, padding: int = 2, scale: int = 1):
    """Save ``image_grid(images)`` as a PNG at ``path`` (enlarged ``scale`` times)."""
    from PIL import Image

    grid = image_grid(images, ncols=ncols, padding=padding)
    picture = Image.fromarray(grid)
    if scale != 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    _atomic_save(picture, path)
    return path


def _atomic_save(picture, path, **options):
    """``picture.save(path)`` through a hidden temporary file in the same folder renamed over
    ``path`` at the end: a kill leaves the old file or the new one, never a 0-byte or cut
    PNG (which stopped a resumed run's ``save_gif``)."""
    from .runfolder import atomic_file

    extension = os.path.splitext(os.fspath(path))[1].lower()
    if "format" not in options:  # the temporary name hides the extension from PIL
        from PIL import Image

        Image.init()
        if extension not in Image.EXTENSION:
            raise ValueError(f"path={path!r} has no image extension PIL knows; use e.g. .png.")
        options["format"] = Image.EXTENSION[extension]
    with atomic_file(path) as temporary:
        picture.save(temporary, **options)


def show_images(images, ncols: int | None = None, title: str | None = None, ax=None,
                figsize=(6, 6)):
    """Draw an image grid with matplotlib and return the figure."""
    import matplotlib.pyplot as plt

    grid = image_grid(images, ncols=ncols)
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, dpi=80)
    else:
        fig = ax.figure
    ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0, vmax=255,
              interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return fig


def _smooth(values, window):
    values = np.asarray(values, dtype=np.float64)
    if window <= 1 or len(values) < window:
        return values
    kernel = np.ones(window) / window
    padded = np.concatenate([np.full(window - 1, values[0]), values])
    return np.convolve(padded, kernel, mode="valid")


def plot_history(history, smooth: int = 1, figsize=(11, 3.5)):
    """Training curves from a history dict: losses left, D(x) and D(G(z)) right.

    ``history`` maps names to lists: ``d_loss`` and ``g_loss`` (and for a GAN ``d_real`` =
    mean D(x), ``d_fake`` = mean D(G(z)), and with adaptive augmentation ``augment_p``, drawn
    beside them); an optional ``step`` list gives the x axis
    (``fit_gan``'s history), else the index is used (Keras' per-epoch ``History.history``).
    A WGAN-GP history (``wasserstein``, ``gp``) is drawn in the right panel instead.
    ``smooth`` is a moving-average window in points. Returns the figure.
    """
    import matplotlib.pyplot as plt

    if hasattr(history, "history"):  # a keras.callbacks.History
        history = history.history
    if not isinstance(history, dict) or "d_loss" not in history or "g_loss" not in history:
        raise ValueError("history must be a dict with at least 'd_loss' and 'g_loss' lists.")
    if isinstance(smooth, bool) or not isinstance(smooth, int) or smooth < 1:
        raise ValueError(f"smooth={smooth!r} must be a positive integer (1 = no smoothing).")
    length = len(history["d_loss"])
    steps = history.get("step", list(range(1, length + 1)))
    xlabel = "step" if "step" in history else "epoch"
    fig, (left, right) = plt.subplots(1, 2, figsize=figsize, dpi=80)
    for key, label in (("d_loss", "D loss"), ("g_loss", "G loss")):
        left.plot(steps, _smooth(history[key], smooth), label=label)
    left.set_xlabel(xlabel)
    left.set_title("losses")
    left.legend()
    if "d_real" in history:
        right.plot(steps, _smooth(history["d_real"], smooth), label="D(x), real")
        right.plot(steps, _smooth(history["d_fake"], smooth), label="D(G(z)), generated")
        if "augment_p" in history:  # adaptive augmentation's probability, on the same 0-1 scale
            right.plot(steps, history["augment_p"], color="black", lw=1.2, ls=":", label="augmentation p")
        right.axhline(0.5, color="grey", lw=0.8, ls="--")
        right.set_ylim(-0.02, 1.02)
        right.set_title("discriminator outputs")
    else:
        for key in ("wasserstein", "gp"):
            if key in history:
                right.plot(steps, _smooth(history[key], smooth), label=key)
        right.set_title("critic")
    right.set_xlabel(xlabel)
    right.legend()
    fig.tight_layout()
    return fig


def nearest_neighbours(samples, training_images, batch_size: int = 256):
    """For each sample, the index of and the L2 pixel distance to its nearest training image.

    Distances are root mean squared differences per pixel in [-1, 1] units, so 0 means an
    exact copy and about 0.5 or more means clearly different images.

    Returns:
        (indices, distances): int array (N,) and float array (N,).
    """
    samples = _as_images(samples, "samples")
    training = _as_images(training_images, "training_images")
    if samples.shape[1:] != training.shape[1:]:
        raise ValueError(
            f"samples have images of shape {samples.shape[1:]} but training_images have "
            f"{training.shape[1:]}; give images of the same shape."
        )
    flat_samples = samples.reshape(len(samples), -1).astype(np.float64)
    flat_training = training.reshape(len(training), -1).astype(np.float64)
    training_norms = (flat_training ** 2).sum(axis=1)
    indices = np.empty(len(samples), dtype=np.int64)
    squared = np.empty(len(samples), dtype=np.float64)
    for start in range(0, len(samples), batch_size):
        block = flat_samples[start:start + batch_size]
        distances = (block ** 2).sum(axis=1)[:, None] - 2 * block @ flat_training.T + training_norms
        indices[start:start + len(block)] = distances.argmin(axis=1)
        squared[start:start + len(block)] = distances.min(axis=1)
    rms = np.sqrt(np.maximum(squared, 0.0) / flat_samples.shape[1])
    return indices, rms


def plot_nearest_neighbours(samples, training_images, n: int = 8, figsize=None):
    """Each of the first ``n`` samples (top row) above its nearest training image (bottom
    row), with the RMS pixel distance: a near-zero distance means the generator copied a
    training image (memorisation). Returns the figure.
    """
    import matplotlib.pyplot as plt

    samples = _as_images(samples, "samples")[:n]
    training = _as_images(training_images, "training_images")
    indices, distances = nearest_neighbours(samples, training)
    count = len(samples)
    fig, axes = plt.subplots(2, count, figsize=figsize or (1.4 * count, 3.2), dpi=80, squeeze=False)
    for column in range(count):
        for row, image in enumerate((samples[column], training[indices[column]])):
            tile = display_uint8(image)[0]
            axes[row, column].imshow(tile, cmap="gray" if tile.ndim == 2 else None, vmin=0, vmax=255)
            axes[row, column].set_xticks([])
            axes[row, column].set_yticks([])
        axes[1, column].set_xlabel(f"d={distances[column]:.2f}")
    axes[0, 0].set_ylabel("sample")
    axes[1, 0].set_ylabel("nearest\ntraining")
    fig.tight_layout()
    return fig


def _gif_frames(pictures, side):
    """Resize RGB pictures to at most ``side`` pixels and quantise them to 128 colours."""
    from PIL import Image

    frames = []
    for picture in pictures:
        if max(picture.size) > side:
            ratio = side / max(picture.size)
            picture = picture.resize((max(1, round(picture.width * ratio)), max(1, round(picture.height * ratio))),
                                     Image.LANCZOS)
        # No dithering: dither noise compresses badly and GAN samples are noisy enough.
        frames.append(picture.quantize(colors=128, method=Image.MEDIANCUT, dither=Image.Dither.NONE))
    return frames


def _write_gif(frames, path, duration):
    durations = [int(duration * 1000)] * (len(frames) - 1) + [int(duration * 3000)]
    frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:],
                   duration=durations if len(frames) > 1 else durations[0], loop=0, optimize=True)
    return os.path.getsize(path)


def _evenly(items, count):
    if len(items) <= count:
        return list(items)
    keep = np.unique(np.linspace(0, len(items) - 1, count).round().astype(int))
    return [items[i] for i in keep]


def save_gif(frames, path, duration: float = 0.3, max_frames: int = 60, max_side: int = 512,
             max_bytes: int | None = 1_000_000):
    """Write frames (PNG paths or uint8 arrays) as a looping GIF; returns ``path``.

    At most ``max_frames`` frames are kept (evenly spaced, the first and last always) and
    each is shrunk to at most ``max_side`` pixels. When the file would exceed
    ``max_bytes`` (default 1 MB, the series' limit for animations), fewer frames (down to
    12) and then smaller ones are used until it fits (None: no limit). The last frame is
    shown three times as long, so the final result is easy to look at.
    """
    from PIL import Image

    frames = list(frames)
    if not frames:
        raise ValueError("frames is empty; give at least one PNG path or image array.")
    for name, value in (("max_frames", max_frames), ("max_side", max_side)):
        check_positive(name, value, integer=True)
    readable = []
    for frame in frames:  # an unreadable PNG (e.g. a 0-byte file of a killed run) is skipped
        if isinstance(frame, (str, os.PathLike)):
            try:
                with Image.open(frame) as picture:
                    picture.load()
            except (OSError, ValueError, Image.DecompressionBombError) as error:
                warnings.warn(f"save_gif: skipped frame {os.fspath(frame)!r}, it cannot be read as an "
                              f"image ({' '.join(str(error).split())[:120]}).", UserWarning, stacklevel=2)
                continue
        readable.append(frame)
    if not readable:
        raise ValueError(f"none of the {len(frames)} frames could be read as an image; nothing to "
                         f"write to {os.fspath(path)!r}.")
    originals = []
    for frame in _evenly(readable, max_frames):
        if isinstance(frame, (str, os.PathLike)):
            with Image.open(frame) as picture:
                originals.append(picture.convert("RGB"))
        else:
            originals.append(Image.fromarray(np.asarray(frame)).convert("RGB"))
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.partial")
    try:
        _fit_gif(originals, temporary, duration, max_side, max_bytes)
        os.replace(temporary, path)
    except BaseException:  # disk full, Ctrl-C: no partial GIF left behind
        try:
            os.remove(temporary)
        except OSError:
            pass
        raise
    return path


def _fit_gif(originals, temporary, duration, max_side, max_bytes):
    """Write ``originals`` as a GIF to ``temporary``, with fewer or smaller frames until it
    fits in ``max_bytes`` (see ``save_gif``)."""
    count, side = len(originals), max_side
    for attempt in range(6):
        chosen = _evenly(originals, count)
        if max_bytes is not None and len(chosen) > 4 and attempt < 3:
            # Estimate from 4 of the frames before encoding them all (encoding is slow).
            sample = _write_gif(_gif_frames(_evenly(chosen, 4), side), temporary, duration)
            estimate = sample * len(chosen) / 4
        else:
            estimate = _write_gif(_gif_frames(chosen, side), temporary, duration)
            if max_bytes is None or estimate <= max_bytes:
                break
        if max_bytes is None or estimate <= 0.95 * max_bytes:
            estimate = _write_gif(_gif_frames(chosen, side), temporary, duration)
            if max_bytes is None or estimate <= max_bytes:
                break
        # The size grows about like frames x side^2: fewer frames first (down to 12),
        # then a smaller side, aiming 10% under the limit.
        factor = 0.9 * max_bytes / estimate
        if len(chosen) > 12:
            count = max(12, int(len(chosen) * factor))
            factor *= len(chosen) / count
        if factor < 1:
            current = max(_gif_frames(chosen[:1], side)[0].size)
            side = max(48, int(current * min(0.9, factor ** 0.5)))


def source_text(function, start: str | None = None, end: str | None = None) -> str:
    """The source of ``function`` (or class) without its docstring, for a lesson to print.

    With ``start`` and ``end``, only the lines from the first that starts with ``start`` to
    the next that starts with ``end`` (both stripped of indentation), dedented and followed by
    a note saying which lines of how many they are: the core of a long function, whose
    remaining lines are checks and bookkeeping. The docstring is in the API reference.
    """
    import ast
    import inspect
    import textwrap

    lines = textwrap.dedent(inspect.getsource(function)).splitlines()
    if start is None and end is None:
        node = ast.parse("\n".join(lines)).body[0]
        body = getattr(node, "body", [])
        if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):  # a docstring: lines first..last (1-based)
            lines = lines[:body[0].lineno - 1] + lines[body[0].end_lineno:]
        return "\n".join(lines)
    if start is None or end is None:
        raise ValueError("give both start and end (the first and last line to show), or neither.")
    stripped = [line.strip() for line in lines]
    name = f"{function.__module__}.{function.__qualname__}"
    try:
        begin = next(i for i, line in enumerate(stripped) if line.startswith(start))
    except StopIteration:
        raise ValueError(f"no line of {name} starts with {start!r}.") from None
    try:
        stop = next(i for i in range(begin, len(lines)) if stripped[i].startswith(end))
    except StopIteration:
        raise ValueError(f"no line of {name} after {start!r} starts with {end!r}.") from None
    shown = textwrap.dedent("\n".join(lines[begin:stop + 1]))
    return f"{shown}\n[lines {begin + 1}-{stop + 1} of the {len(lines)} of {name}]"


def show_source(function, start: str | None = None, end: str | None = None) -> None:
    """Print ``source_text(function, start, end)`` followed by an empty line."""
    print(source_text(function, start, end) + "\n")
