"""A list of concurrency levels from a flag: ``--load-levels 1,4,8``."""

from __future__ import annotations

from calib_async.errors import CalibError
from calib_async.inputs.values import INT32_MAX, Err, describe

MAX_LEVELS = 32


def concurrency_levels(text: str, where: str, *, error: Err = CalibError) -> tuple[int, ...]:
    """Comma-separated positive integers as distinct levels, ascending (``"8,1,4"`` -> 1, 4, 8)."""
    parts = [p.strip() for p in str(text).split(",")]
    if not text.strip() or any(not p for p in parts):
        raise error(
            f"{where} must be comma-separated integers >= 1, e.g. 1,4,8; not {describe(text)}"
        )
    levels: set[int] = set()
    for part in parts:
        if not part.isascii() or not part.isdigit() or len(part) > 10:
            raise error(f"{where}: {describe(part)} is not an integer >= 1; write e.g. 1,4,8")
        value = int(part)
        if not 1 <= value <= INT32_MAX:
            raise error(f"{where}: level {value} is out of range; levels are integers >= 1")
        levels.add(value)
    if len(levels) > MAX_LEVELS:
        raise error(f"{where}: {len(levels)} levels; give at most {MAX_LEVELS}")
    return tuple(sorted(levels))
