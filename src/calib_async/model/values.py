"""Checks that turn one value of a loaded export into a typed one, or raise CalibError.

Every message is one line that names the key's path (``noise_models.fast.timeout_rate_ci``)
and says what to do. Numbers keep their Python type (an int stays an int), so a document read
and written again is the same YAML, byte for byte.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypeVar

from calib_async.errors import CalibError

E = TypeVar("E", bound=StrEnum)

#: appended to every message: the usual cure for a foreign or hand-edited file
FIX = "fix the key or re-export the file with calibrate_noise"


def mapping(value: Any, where: str) -> Mapping[str, Any]:
    """``value`` as a mapping with string keys."""
    if not isinstance(value, Mapping):
        raise CalibError(f"{where}: expected a mapping, got {_shown(value)}; {FIX}")
    for key in value:
        if not isinstance(key, str):
            raise CalibError(f"{where}: key {key!r} is not a string; {FIX}")
    return value


def number(value: Any, where: str) -> float | None:
    """A finite number (int or float, kept as is) or None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CalibError(f"{where}: expected a finite number, got {_shown(value)}; {FIX}")
    return value


def probability(value: Any, where: str) -> float | None:
    """A number in [0, 1] or None."""
    p = number(value, where)
    if p is not None and not 0.0 <= p <= 1.0:
        raise CalibError(f"{where}: expected a probability in [0, 1], got {p}; {FIX}")
    return p


def count(value: Any, where: str) -> int | None:
    """An integer >= 0 or None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CalibError(f"{where}: expected a count (integer >= 0), got {_shown(value)}; {FIX}")
    return value


def text(value: Any, where: str) -> str | None:
    """A string or None."""
    if value is None or isinstance(value, str):
        return value
    raise CalibError(f"{where}: expected a string, got {_shown(value)}; {FIX}")


def flag(value: Any, where: str) -> bool | None:
    """A boolean or None."""
    if value is None or isinstance(value, bool):
        return value
    raise CalibError(f"{where}: expected true or false, got {_shown(value)}; {FIX}")


def interval(value: Any, where: str) -> tuple[float, float] | None:
    """``[low, high]`` of probabilities with low <= high, or None."""
    if value is None:
        return None
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise CalibError(f"{where}: expected [low, high], got {_shown(value)}; {FIX}")
    low, high = probability(value[0], where), probability(value[1], where)
    if low is None or high is None:
        raise CalibError(f"{where}: expected [low, high], got {_shown(value)}; {FIX}")
    if low > high:
        raise CalibError(f"{where}: low {low} is above high {high}; {FIX}")
    return (low, high)


def member(enum: type[E], value: Any, where: str) -> E | None:
    """A member of ``enum`` or None; an unknown status is refused, with the known ones."""
    if value is None:
        return None
    try:
        return enum(value)
    except ValueError:
        known = ", ".join(m.value for m in enum)
        raise CalibError(
            f"{where}: {_shown(value)} is not one of {known}; {FIX} (or upgrade calib-async)"
        ) from None


def ordered(out: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    """``out`` with the keys of ``order`` first, in that order (the order the file had), and
    the rest after them in their own order."""
    if not order:
        return out
    first = {k: out[k] for k in order if k in out}
    return first | {k: v for k, v in out.items() if k not in first}


def present(out: dict[str, Any], key: str, value: Any, order: tuple[str, ...]) -> None:
    """Write ``key`` when the file had it (even as null) or when it has a value."""
    if value is not None or key in order:
        out[key] = value


def rest(raw: Mapping[str, Any], known: frozenset[str]) -> dict[str, Any]:
    """The keys of ``raw`` the typed fields do not hold (kept, so nothing a file says is lost)."""
    return {k: v for k, v in raw.items() if k not in known}


def at(where: str, key: object) -> str:
    """The path of ``key`` inside ``where`` (the top level has an empty path)."""
    return f"{where}.{key}" if where else str(key)


def _shown(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."
