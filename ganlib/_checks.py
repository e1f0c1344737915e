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
