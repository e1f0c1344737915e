"""Argument checks shared by every ganlib module.

Each check raises ``ValueError`` naming the argument, what was given and what is
allowed, so a user can fix the call without reading ganlib's source.
"""
from __future__ import annotations

import math
import numbers
from typing import Iterable, Sequence


def check_choice(name: str, value, allowed: Iterable):
    """Return ``value`` if it is one of ``allowed``, else raise ValueError."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(
            f"{name}={value!r} is not allowed; use one of {', '.join(repr(a) for a in allowed)}."
        )
    return value


def check_positive(name: str, value, integer: bool = False):
    """Return ``value`` if it is a finite number > 0 (an int when ``integer``)."""
    given = value
    if integer:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ValueError(f"{name}={value!r} must be a positive integer.")
        value = int(value)
    else:
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name}={value!r} must be a positive number.") from None
    if not (value > 0) or (not integer and not math.isfinite(value)):
        kind = "integer" if integer else "number"
        raise ValueError(f"{name}={given!r} must be a positive {kind} (> 0).")
    return value


def check_non_negative(name: str, value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} must be a number >= 0.") from None
    if not (value >= 0) or not math.isfinite(value):
        raise ValueError(f"{name}={value!r} must be a finite number >= 0.")
    return value


def check_range(name: str, value, low: float, high: float, low_open=False, high_open=False):
    """Return float(value) if it lies in the interval; the message states the interval."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} must be a number.") from None
    ok_low = value > low if low_open else value >= low
    ok_high = value < high if high_open else value <= high
    if not (ok_low and ok_high):
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"{name}={value!r} is outside the allowed range {interval}.")
    return value


def check_same_length(**sequences: Sequence):
    """All keyword sequences must have the same length; the message lists each length."""
    lengths = {name: len(seq) for name, seq in sequences.items()}
    if len(set(lengths.values())) > 1:
        given = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"Lengths differ ({given}); give the same number of each.")
    return next(iter(lengths.values()), 0)


# --- images: one range rule, one seed rule, one size rule per kind of use ---------------

# Images are float32 in [-1, 1] everywhere in ganlib. A pixel may exceed the range by this
# much and still be accepted: float32 round-off of ``x / 127.5 - 1``, of a tanh output and
# of resampling stays far below it, while images in [0, 255] or [0, 1] are caught.
IMAGE_RANGE_TOLERANCE = 1e-3


def check_image_range(name: str, images, low: float = -1.0, high: float = 1.0,
                      hint: str = "scale 8-bit images with x / 127.5 - 1"):
    """Return ``images`` as a float32 array if every value is finite and within [low, high]
    (up to ``IMAGE_RANGE_TOLERANCE``), else raise ValueError naming ``name`` and the range."""
    import numpy as np

    array = np.asarray(images, dtype=np.float32)
    if array.size == 0:
        return array
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or inf; every pixel must be a finite number in [{low:g}, {high:g}].")
    found_low, found_high = float(array.min()), float(array.max())
    if found_low < low - IMAGE_RANGE_TOLERANCE or found_high > high + IMAGE_RANGE_TOLERANCE:
        suffix = f" ({hint})" if hint else ""
        raise ValueError(f"{name} has values in [{found_low:.3g}, {found_high:.3g}]; expected values "
                         f"in [{low:g}, {high:g}]{suffix}.")
    return array


def check_seed(name: str, seed):
    """Return ``seed`` as an int if it is an integer >= 0 (not a bool), else raise ValueError."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"{name}={seed!r} must be an integer >= 0.")
    return int(seed)


def check_image_size(name: str, value, *, allowed: Sequence[int] | None = None, multiple_of: int = 1,
                     minimum: int = 1, pair: bool = False, reason: str = ""):
    """The one image-size check; each kind of use states its rule through the arguments.

    * loading images (``ganlib.data``): any positive size, or a (height, width) pair
      (``pair=True``); returns (height, width) then;
    * the DCGAN networks (``ganlib.models``): one of ``allowed`` (powers of two);
    * the classic 2017 model: ``multiple_of=4, minimum=8``.

    Returns the int (or the pair); raises ValueError naming ``name``, the value and the rule.
    """
    def is_int(part):
        return not isinstance(part, bool) and isinstance(part, numbers.Integral)

    if allowed is not None:
        rule = f"one of {', '.join(str(size) for size in allowed)}"
    elif multiple_of > 1:
        rule = f"a multiple of {multiple_of}, at least {minimum}"
    else:
        rule = "a positive integer" + (" or a pair (height, width) of positive integers" if pair else "")
    rule += f" ({reason})" if reason else ""
    parts = tuple(value) if pair and isinstance(value, (tuple, list)) and len(value) == 2 else (value,)
    ok = all(is_int(part) and part >= max(minimum, 1) and part % multiple_of == 0
             and (allowed is None or part in allowed) for part in parts)
    if not ok:
        raise ValueError(f"{name}={value!r} is not supported; use {rule}.")
    if pair:
        return (int(parts[0]), int(parts[-1]))
    return int(value)
