"""Sprites for lesson 03: ``load_sprites`` (the Pokemon sprites when present or downloadable,
else procedural ones, cleaned either way) and ``procedural_sprites``, the generator of the
offline stand-in: made-up pixel creatures, messy on purpose like a scraped folder.
"""
from __future__ import annotations

import os

import numpy as np

from .._checks import check_choice, check_positive, check_range, check_seed
from .cleaning import ImageList, _clean_steps, _cleaning_log, _first_of_each, _print_log, clean_sprites
from .downloads import _short_reason, fetch
from .files import IMAGE_EXTENSIONS, _check_channels, _check_image_size, _check_resample, _raw_rgba, \
    from_uint8, to_uint8
from .folders import DataFolderError, SkippedFile, _check_folder, _decode_all, _list_files, _warn_skipped
from .imageset import ImageSet

def _hsv(hue, saturation, value):
    import colorsys

    return np.array(colorsys.hsv_to_rgb(hue % 1.0, saturation, value)) * 255.0


def _one_sprite(rng: np.random.Generator) -> np.ndarray:
    """One RGBA uint8 creature: symmetric, outlined, a few colours, on a random canvas."""
    from scipy import ndimage

    half_width = int(rng.integers(4, 8))
    centre_column = bool(rng.random() < 0.5)
    height = int(rng.integers(8, 14))

    def mirror(half, centre):
        """Columns [half reversed | centre? | half]: symmetric about the vertical axis."""
        parts = [half[:, ::-1], centre, half] if centre_column else [half[:, ::-1], half]
        return np.concatenate(parts, axis=1)

    rows = np.linspace(-1.0, 1.0, height)[:, None]
    columns = (np.arange(half_width)[None, :] + 0.5) / half_width
    probability = 0.85 - 0.55 * columns ** 1.5 - 0.25 * np.abs(rows) ** 3
    spine = slice(height // 4, max(height // 4 + 2, (3 * height) // 4))
    while True:
        half = rng.random((height, half_width)) < probability
        half[spine, 0] = True  # a spine next to the axis joins the two halves
        full = mirror(half, half[:, :1])
        labels, _ = ndimage.label(full)
        body = labels == labels[height // 2, half_width]  # the part holding the spine
        body = ndimage.binary_fill_holes(body)
        if body.sum() >= 0.3 * body.size:
            break
    width = body.shape[1]
    # colours: drawn for one half (column 0 = the axis) and mirrored, so they stay symmetric
    hue = rng.random()
    saturation = rng.uniform(0.45, 0.9)
    palette = np.stack([
        _hsv(hue, saturation * 0.55, 0.97),            # 0 light
        _hsv(hue, saturation, 0.82),                   # 1 mid
        _hsv(hue + 0.03, saturation, 0.58),            # 2 dark
        _hsv(hue + 0.5 + rng.uniform(-0.12, 0.12), rng.uniform(0.5, 0.9), 0.9),  # 3 accent
        np.array([250.0, 250.0, 250.0]),               # 4 eye white
        _hsv(hue, saturation * 0.6, 0.16),             # 5 outline (very dark)
    ])
    shade = np.linspace(0.0, 1.0, height)[:, None] + rng.normal(0, 0.18, (height, half_width + 1))
    half_index = np.where(shade < 0.36, 0, np.where(shade < 0.7, 1, 2))
    half_index = np.where(rng.random(half_index.shape) < 0.12, 3, half_index)
    index = np.where(body, mirror(half_index[:, 1:], half_index[:, :1]), -1)
    # eyes: a symmetric pair in the upper half, a white cell over a dark pupil
    eye_rows = [r for r in range(1, max(2, height // 2)) if body[r].sum() >= 4]
    if eye_rows:
        row = int(rng.choice(eye_rows))
        first_right = half_width + 1 if centre_column else half_width
        right = int(rng.integers(first_right, max(first_right + 1, width - 1)))
        left = width - 1 - right
        if body[row, left] and body[row, right]:
            index[row, left] = index[row, right] = 4
            if row + 1 < height and body[row + 1, left]:
                index[row + 1, left] = index[row + 1, right] = 5
    # outline: background cells touching the body (8-neighbourhood) become the dark colour
    padded_body = np.pad(body, 1)
    index = np.pad(index, 1, constant_values=-1)
    ring = ndimage.binary_dilation(padded_body, structure=np.ones((3, 3), bool)) & ~padded_body
    index[ring] = 5
    # pixels: each cell becomes a block of `scale` x `scale` pixels
    scale = int(rng.integers(2, 5))
    cells = index.repeat(scale, axis=0).repeat(scale, axis=1)
    visible = cells >= 0
    sprite = np.zeros((*cells.shape, 4), np.uint8)
    sprite[..., :3] = np.rint(palette[np.clip(cells, 0, None)]).astype(np.uint8)
    sprite[..., 3] = np.where(visible, 255, 0)
    sprite[~visible] = 0
    # canvas: random size and position (so trimming has work to do); mostly transparent
    # backgrounds with black under them (as many sprite files have), some opaque white
    sprite_height, sprite_width = sprite.shape[:2]
    side = max(sprite_height, sprite_width) + int(rng.integers(4, 28))
    canvas = np.zeros((side, side, 4), np.uint8)
    if rng.random() < 0.2:
        canvas[...] = 255
        sprite[~visible] = 255
    top = int(rng.integers(0, side - sprite_height + 1))
    left = int(rng.integers(0, side - sprite_width + 1))
    canvas[top: top + sprite_height, left: left + sprite_width] = sprite
    return canvas


def procedural_sprites(count=1000, seed=0, duplicate_fraction=0.02) -> ImageList:
    """Made-up pixel creatures: the offline stand-in for the Pokemon sprites (not files).

    Each sprite is a left-right symmetric blob on a small grid (4 to 15 cells wide), with a
    dark outline, a palette of a few shades of one hue plus an accent colour, a pair of
    eyes, drawn with 2 to 4 pixels per cell. Like a scraped sprite folder they are messy on
    purpose: RGBA with transparent (black underneath) or white backgrounds, canvases of
    different sizes with the creature off-centre, and ``duplicate_fraction`` of them exact
    copies of earlier ones, so every cleaning step has something to do.

    Args:
        count: how many sprites (a few hundred to a few thousand; 1000 take about a second).
        seed: the same seed gives the same sprites.
        duplicate_fraction: share of exact copies, in [0, 0.5).

    Returns:
        An :class:`ImageList` of RGBA float32 [-1, 1] images of different sizes.
    """
    count = check_positive("count", count, integer=True)
    duplicate_fraction = check_range("duplicate_fraction", duplicate_fraction, 0.0, 0.5, high_open=True)
    seed = check_seed("seed", seed)
    rng = np.random.default_rng(seed)
    sprites = [_one_sprite(rng) for _ in range(count)]
    copies = int(round(duplicate_fraction * count)) if count > 1 else 0
    names = [f"procedural_{i:05d}" for i in range(count)]
    if copies:
        targets = rng.choice(np.arange(1, count), size=copies, replace=False)
        for target in np.sort(targets):
            source_index = int(rng.integers(0, target))
            sprites[target] = sprites[source_index].copy()
            names[target] = f"procedural_{target:05d} (copy of {source_index:05d})"
    return ImageList([from_uint8(s) for s in sprites], paths=names)


def load_sprites(image_size=64, source="auto", path=None, channels=3, count=1000, seed=0,
                 resample="bicubic", timeout=5.0, verbose=True) -> ImageSet:
    """Sprites for lesson 03: the Pokemon sprites when present or downloadable, else procedural.

    Either way the same cleaning steps run (printing the count after each):
    composite on white, trim empty borders (blank images dropped), resize, drop exact
    duplicates. See :func:`clean_sprites` and the step functions to show them one by one.

    Args:
        image_size: output size; 64 in d2l's Pokemon DCGAN (the classic Keras model uses 28).
        source: 'auto' (Pokemon if in the data folder or downloadable, else procedural),
            'pokemon' (or an error that says where to put pokemon.zip), 'procedural'.
        path: your own folder of sprites (any subfolders), used instead of the download.
        channels: 3 (RGB on white) or 4 (RGBA, for the classic 28x28x4 model); 1 for grey.
        count, seed: size and seed of the procedural set.
        resample: the resizing filter (see :func:`load_image`).
        timeout: seconds per download mirror before giving up ('auto' falls back quickly).
        verbose: print which source was used and the counts.

    Returns:
        An in-memory :class:`ImageSet`; ``.log`` holds the (step, count) pairs.
    """
    size = _check_image_size(image_size)
    channels = _check_channels(channels)
    check_choice("source", source, ("auto", "pokemon", "procedural"))
    _check_resample(resample)
    if source == "procedural" and path is not None:
        raise ValueError(f"path={str(path)!r} cannot be used with source='procedural'; use source='auto' "
                         "or 'pokemon' to read your own sprites.")
    folder, note = None, None
    if path is not None:
        folder = _check_folder(path)
    elif source in ("auto", "pokemon"):
        try:
            folder = fetch("pokemon", timeout=timeout, progress=verbose)
        except (OSError, ValueError) as error:
            if source == "pokemon":
                raise
            note = _short_reason(error)
    if folder is None:
        if verbose:
            print((f"load_sprites: the Pokemon sprites are not available ({note}).\n" if note else "")
                  + f"load_sprites: using {count} procedural sprites (seed {seed}), cleaned:")
        raw = procedural_sprites(count, seed=seed)
        array, log = clean_sprites(raw, size, channels=channels, resample=resample, verbose=verbose)
        return ImageSet("procedural", f"{len(array)} procedural sprites (seed {seed}) at {size[0]}x{size[1]}",
                        size, channels, pixels=to_uint8(array), log=log,
                        note=None if note is None else f"Pokemon sprites not available: {note}")
    label = "pokemon" if path is None else "folder"
    if verbose:
        print(f"load_sprites: reading sprites from {folder}, cleaned:")
    candidates, others = _list_files(folder, recursive=True)
    skipped = [SkippedFile(p, f"not an image file (extension {os.path.splitext(p)[1] or 'none'})") for p in others]
    if not candidates:
        raise DataFolderError(f"path={str(folder)!r} holds no image files (looked for {', '.join(IMAGE_EXTENSIONS)}).")
    chunks, paths, read, counts = [], [], 0, np.zeros(3, int)
    starts = range(0, len(candidates), 1024)  # in chunks: full-size sprites are never all in memory
    if verbose and len(candidates) > 2048:
        from .._progress import progress_bar

        starts = progress_bar(starts, desc="cleaning sprites", unit="chunk")
    for start in starts:
        arrays, kept, bad = _decode_all(candidates[start: start + 1024], _raw_rgba, False, label)
        skipped.extend(bad)
        read += len(arrays)
        pixels, chunk_paths, chunk_counts = _clean_steps(
            ImageList([from_uint8(a) for a in arrays], paths=kept), size, channels, resample)
        chunks.append(pixels)
        paths.extend(chunk_paths)
        counts += chunk_counts
    _warn_skipped(f"load_sprites {folder}", skipped, len(candidates) + len(others))
    pixels = np.concatenate(chunks)
    if not len(pixels):
        raise DataFolderError(f"path={str(folder)!r}: no sprite could be read, or all were blank.")
    unique = _first_of_each(pixels)
    log = _cleaning_log(read, counts.tolist(), len(unique), size)
    if verbose:
        _print_log(log)
        if skipped:
            print(f"  ({len(skipped)} unreadable or non-image files skipped: see .skipped)")
    return ImageSet(label, f"{len(unique)} sprites from {folder} at {size[0]}x{size[1]}", size, channels,
                    pixels=pixels[unique], skipped=skipped, log=log, root=folder,
                    paths=[paths[i] for i in unique])
