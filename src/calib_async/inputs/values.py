"""Numbers and text from flags, files and records: finite, in range, writable, no NUL."""

from __future__ import annotations

import math
import os
import re

from calib_async.errors import CalibError

INT64_MAX = 2**63 - 1  # time_t, off_t, rlim_t (as signed), Python's ssize_t
INT32_MAX = 2**31 - 1  # pid_t, int arguments of system calls
EXIT_STATUS_MAX = 255  # what waitpid reports of exit(n)

Err = type[CalibError]
"""The exception class a validator raises (``error=``): CalibError or a subclass."""


def describe(value: object, *, limit: int = 60) -> str:
    """A short one-line rendering of ``value`` for an error message (never raises)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of {value.bit_length()} bits"
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, str) and value.isprintable() and len(value) <= limit:
        return value
    text = repr(value)  # escapes newlines, NULs and surrogates: the message stays one line
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------------------------------------
# Numbers and text


def finite_float(
    value: object,
    where: str,
    *,
    min: float | None = None,
    max: float | None = None,
    min_exclusive: bool = False,
    max_exclusive: bool = False,
    error: Err = CalibError,
) -> float:
    """``value`` as a finite float within the bounds; ``bool``, NaN and ±inf are refused."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise error(f"{where} must be a number, not {describe(value)}")
    try:
        number = float(value)
    except OverflowError:
        raise error(f"{where} must be a finite number, not {describe(value)}") from None
    if not math.isfinite(number):
        raise error(f"{where} must be a finite number, not {number}")
    if min is not None and (number <= min if min_exclusive else number < min):
        raise error(f"{where} must be {'>' if min_exclusive else '>='} {min:g}, not {number!r}")
    if max is not None and (number >= max if max_exclusive else number > max):
        raise error(f"{where} must be {'<' if max_exclusive else '<='} {max:g}, not {number!r}")
    return number


def kernel_int(
    value: object, where: str, *, min: int, max: int = INT64_MAX, error: Err = CalibError
) -> int:
    """``value`` as an int in ``[min, max]``; ``max`` is the kernel type it must fit.

    Use :data:`INT64_MAX` (default) for counts, seeds and sizes, :data:`INT32_MAX` for pids and
    ``int`` syscall arguments, and a derived bound for values that are scaled later
    (``memory_limit_mb`` becomes bytes: ``max=INT64_MAX // 2**20``).
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise error(f"{where} must be an integer, not {describe(value)}")
    if not min <= value <= max:
        raise error(f"{where} must be an integer from {min} to {max}, not {describe(value)}")
    return value


def exit_status(value: object, where: str, *, error: Err = CalibError) -> int:
    """An exit status a checker can return (0..255): a rule's ``exit_code``."""
    return kernel_int(value, where, min=0, max=EXIT_STATUS_MAX, error=error)


def no_nul(text: str, where: str, *, error: Err = CalibError) -> str:
    """``text`` unchanged, or an error if it holds a NUL (argv, env and paths cannot)."""
    index = text.find("\0")
    if index >= 0:
        raise error(f"{where} contains a NUL character at position {index}; remove it")
    return text


def writable_text(text: str, where: str, *, error: Err = CalibError) -> str:
    """``text`` unchanged if it can be written as UTF-8 (no lone surrogates), else an error."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = ord(text[exc.start])
        raise error(
            f"{where} contains a lone surrogate U+{bad:04X} at position {exc.start}, which cannot "
            "be written as UTF-8; fix the text's encoding"
        ) from None
    return text


def safe_path_name(name: str | bytes, *, where: str = "file name", error: Err = CalibError) -> str:
    """A file name as text, refusing one that is not valid UTF-8 (see the module docstring).

    ``os.listdir`` of a ``str`` path gives undecodable bytes as lone surrogates (PEP 383);
    both that form and raw ``bytes`` are accepted and checked.
    """
    raw = name if isinstance(name, bytes) else os.fsencode(name)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise error(
            f"{where} {describe(raw)} is not valid UTF-8; rename the file "
            "(for example with convmv) so it can be recorded"
        ) from None
    return no_nul(text, where, error=error)


_PLACEHOLDER_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def check_placeholders(
    template: str, where: str, *, allowed: frozenset[str], error: Err = CalibError
) -> str:
    """``template`` unchanged if every ``{name}`` in it is one of ``allowed``.

    Only ``{identifier}`` is a placeholder, so ``{}`` and JSON such as ``{"a": 1}`` pass.
    """
    for match in _PLACEHOLDER_RE.finditer(template):
        if match.group(1) not in allowed:
            valid = ", ".join("{" + name + "}" for name in sorted(allowed))
            raise error(f"{where}: unknown placeholder {match.group(0)}; valid: {valid}")
    return template
